"""Dimensions as a person reads them: 0-100 against the dimension's range, beside the points that add up to the score."""

from __future__ import annotations

from datetime import datetime

from deepcredit.service.report import radar
from deepcredit.service.schemas import Dimension, dimension_rating


def test_rating_is_points_against_the_range_clipped_to_0_100():
    assert dimension_rating(70, 70, 190) == 0 and dimension_rating(190, 70, 190) == 100
    assert dimension_rating(130, 70, 190) == 50
    assert dimension_rating(-77, -229, 337) == 27  # signed points read as a share of the range
    assert dimension_rating(-500, 70, 190) == 0 and dimension_rating(400, 70, 190) == 100
    assert dimension_rating(None, 70, 190) is None and dimension_rating(5, 3, 3) == 50


def test_dimension_json_keeps_points_and_adds_rating():
    d = Dimension(name="credit_history", points=-77, lo=-229, hi=337)
    out = d.model_dump()
    assert out["points"] == -77 and out["rating"] == 27
    assert Dimension(name="social_connections", points=None, lo=0, hi=1).rating is None
    axes = radar([d, Dimension(name="identity", points=None, lo=0, hi=10)])["axes"]
    assert [a["pct"] for a in axes] == [27, "no data"]


def _report(score, points):
    from deepcredit.service.schemas import PersonReport

    dims = [Dimension(name=f"d{i}", points=p, lo=70, hi=190) for i, p in enumerate(points)]
    return PersonReport(scored=True, score=score, band="good", scored_at=None, dimensions=dims, reasons=[], history=[],
                        next_recalculation=None, accesses=[], data_categories=[], events=[], profile=[], consents=[],
                        disputes=[], alerts=[], bands=[("poor", 350)], generated_at=datetime(2026, 6, 30))


def test_the_page_says_the_points_make_up_the_score_only_when_they_do():
    from deepcredit.service.report import dimension_sum

    audit = dimension_sum(_report(672, [110, 105, 173, 142, 142]))  # the audit's person: 33/29/86/60/60 rated
    assert audit == {"terms": ["110", "105", "173", "142", "142"], "adds_up": True, "no_data": False, "range": (70, 190)}
    partial = dimension_sum(_report(400, [450, -50, None]))
    assert partial["terms"] == ["450", "(\u221250)"] and partial["adds_up"] and partial["no_data"]
    assert not dimension_sum(_report(500, [110, 105]))["adds_up"]


def test_a_dimension_on_no_record_says_so_to_the_person_and_a_stored_score_without_the_flag_reads_false():
    from deepcredit.service.schemas import Factors, PersonDimension

    stored = {"name": "credit_history", "points": 120, "lo": 70, "hi": 190}  # a score stored before the flag
    assert PersonDimension(**stored).no_record is False
    flagged = PersonDimension(**stored, no_record=True).model_dump()
    assert flagged["no_record"] is True and flagged["points"] == 120 and flagged["rating"] == 42
    # a merchant's `factors` view reads the same stored dimensions without the flag
    assert "no_record" not in Factors(dimensions=[{**stored, "no_record": True}], reasons=[]).model_dump()["dimensions"][0]


def test_points_beyond_the_rating_scale_say_the_rating_is_clipped():
    """lo..hi is the rating's scale, not the points' range: 194 and 301 both rate 100, and the answer and the page
    say that the rating stops there (the study found 12-18% of stored sub-scores outside 70..190)."""
    from deepcredit.service.report import render_html

    above, top, below = (Dimension(name="fulfilment_capacity", points=p, lo=70, hi=190) for p in (301, 190, -61))
    assert (above.rating, above.clipped) == (100, True) and (top.rating, top.clipped) == (100, False)
    assert (below.rating, below.clipped) == (0, True)
    assert Dimension(name="identity", points=None, lo=70, hi=190).clipped is False
    report = _report(194 + 430, [194, 130, 100, 100, 100]).model_copy(update={"scored_at": datetime(2026, 6, 30)})
    html = " ".join(render_html(report).split())
    dims = html[html.index('<section id="dimensions"'):html.index('<section id="reasons"')]
    assert dims.count('class="clipped') == 1 and "Above the top of the scale (190 points): rated 100" in dims
    assert "Points can lie beyond either end of the scale" in dims and "on its range" not in dims
