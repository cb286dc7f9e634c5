"""Dimensions as a person reads them: 0-100 against the dimension's range; the exact points stay in the JSON."""

from __future__ import annotations

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
