import numpy as np
import pytest

from deepcredit.models.scale import DEFAULT_BANDS, ScoreScale, split_total


def test_defaults_anchor_base_odds_and_pdo():
    s = ScoreScale()
    assert s.score(1 / 6) == 600  # 5:1 good:bad odds
    assert s.score(1 / 11) == 650  # odds doubled: + PDO
    assert s.score(1 / 21) == 700
    assert s.lo == 350 and s.hi == 950


def test_score_and_pd_are_inverse_and_monotone():
    s = ScoreScale()
    pd_ = np.linspace(0.002, 0.85, 200)
    raw = s.raw_score(pd_)
    assert np.all(np.diff(raw) < 0)  # riskier -> lower score
    np.testing.assert_allclose(s.pd(raw), pd_, rtol=1e-9)


def test_scores_are_whole_points_clipped_to_range():
    s = ScoreScale()
    out = s.score(np.array([1e-9, 0.5, 1 - 1e-9]))
    assert out.dtype == np.int64
    assert out[0] == 950 and out[2] == 350 and out[1] == round(float(s.raw_score(0.5)))


def test_bands_default_edges():
    s = ScoreScale()
    got = s.band(np.array([350, 549, 550, 599, 600, 649, 650, 699, 700, 950, 10, 2000]))
    assert list(got) == ["poor", "poor", "fair", "fair", "good", "good", "very good", "very good",
                         "excellent", "excellent", "poor", "excellent"]
    assert s.bands == DEFAULT_BANDS


def test_configurable_scale_and_bands_roundtrip():
    s = ScoreScale(base_score=500, base_odds=20, pdo=40, lo=300, hi=850, bands=(("low", 300), ("high", 600)))
    assert s.score(1 / 21) == 500
    assert ScoreScale.from_dict(s.to_dict()) == s
    assert list(s.band([599, 600])) == ["low", "high"]


@pytest.mark.parametrize("bands", [(("a", 360), ("b", 600)), (("a", 350), ("b", 350)), (("a", 350), ("b", 990))])
def test_invalid_bands_are_refused(bands):
    with pytest.raises(ValueError, match="band"):
        ScoreScale(bands=bands)


def test_split_total_adds_up_exactly_also_when_clipped():
    rng = np.random.default_rng(0)
    s = ScoreScale()
    dim = rng.integers(-250, 250, size=(5000, 5))
    dim[:, 4] = 0  # a dimension without characteristics
    base = 587
    raw = base + dim.sum(axis=1)
    total, sub = split_total(raw, dim, base, s)
    assert (sub.sum(axis=1) == total).all()
    assert ((total >= 350) & (total <= 950)).all()
    assert ((raw < 350) | (raw > 950)).any()  # the test really exercises clipping
    shares = np.array([118, 118, 117, 117, 117])  # 587 = 5 * 117 + 2: the first two get one more
    unclipped = (raw >= 350) & (raw <= 950)
    np.testing.assert_array_equal(sub[unclipped], dim[unclipped] + shares)
    # clipping only takes back points from the dimensions that pushed past the bound
    high, low = raw > 950, raw < 350
    assert (sub[high] <= (dim[high] + shares)).all() and (sub[high] >= np.minimum(shares, dim[high] + shares)).all()
    assert (sub[low] >= (dim[low] + shares)).all() and (sub[low] <= np.maximum(shares, dim[low] + shares)).all()
    assert (sub[:, 4][unclipped] == shares[4]).all()  # no characteristics: the neutral share


@pytest.mark.parametrize("bad", [np.nan, -0.1, 1.5])
def test_a_pd_that_is_not_a_probability_is_refused_not_scored(bad):
    s = ScoreScale()
    with pytest.raises(ValueError, match=r"a PD must be a probability in \[0, 1\]: 1 value\(s\) are not \(the first at row 1"):
        s.score(np.array([0.1, bad, 0.2]))
    assert s.score(np.array([0.0, 1.0])).tolist() == [950, 350]  # the ends are probabilities


def test_a_sub_score_can_be_negative_and_the_docs_say_what_it_means():
    """audit: a GBDT on 2,000 people gave 11 negative sub-scores (one -13); they still add up. Sub-scores are
    points (a share of the base points plus what the features earned), not a rating out of a maximum, and
    docs/scoring.md says so where sub-scores are explained."""
    from pathlib import Path

    s = ScoreScale()
    dim = np.array([[-133, 10, 5, 0, 0]])  # one dimension far riskier than the population average
    base = 600
    total, sub = split_total(base + dim.sum(axis=1), dim, base, s)
    assert sub[0, 0] == 120 - 133 == -13 and sub.sum() == total[0] == 482
    doc = (Path(__file__).parents[2] / "docs" / "scoring.md").read_text()
    explained = doc[doc.index("## Sub-scores"):doc.index("## Reason codes")]
    assert "A sub-score can be negative" in explained
