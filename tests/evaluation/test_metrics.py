"""Metrics agree with scikit-learn and SciPy on known inputs; every result is plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

from deepcredit.evaluation.metrics import (
    auc,
    band_table,
    brier,
    calibration_table,
    cutoff_summary,
    evaluate,
    expected_calibration_error,
    gains_table,
    gini,
    ks,
    ks_curve,
    to_jsonable,
)
from deepcredit.models.scale import ScoreScale


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    z = rng.normal(size=4000)
    p = 1 / (1 + np.exp(-(-1.5 + z)))
    y = (rng.random(z.size) < p).astype(int)
    return y, p


def test_discrimination_agrees_with_sklearn_and_scipy(sample):
    y, p = sample
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert gini(y, p) == pytest.approx(2 * roc_auc_score(y, p) - 1, abs=1e-12)
    assert ks(y, p) == pytest.approx(ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_known_small_example():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert auc(y, p) == pytest.approx(0.75)
    assert ks(y, p) == pytest.approx(0.5)
    assert brier(y, p) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_reliability_curve_is_sklearns(sample, strategy):
    y, p = sample
    table = calibration_table(y, p, n_bins=10, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(table["bad_rate"], prob_true)
    np.testing.assert_allclose(table["mean_pd"], prob_pred)
    assert table["count"].sum() == y.size


def test_ece_by_hand():
    # two equal-count bins: mean PD 0.15 vs bad rate 0.5, and 0.75 vs 0.5 -> 0.5*0.35 + 0.5*0.25 = 0.30
    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.7, 0.8])
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.30)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0]), n_bins=2) == pytest.approx(0.0)


def test_one_ece_for_the_report_the_stack_and_the_benchmark_even_with_tied_pds():
    """Two copies binned tied PDs (a scorecard's) on different sides of an edge: 0.063 against 0.046 on 200
    rows. There is one now, whose bins are sklearn's calibration_curve's."""
    from sklearn.calibration import calibration_curve

    from deepcredit.models import calibration

    rng = np.random.default_rng(3)
    p = np.round(rng.beta(2, 8, 200), 2)  # many ties, as a scorecard's PDs
    y = (rng.random(200) < p).astype(int)
    assert calibration.expected_calibration_error is expected_calibration_error
    true, pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    t = calibration_table(y, p, n_bins=10)
    assert np.allclose(t["bad_rate"], true) and np.allclose(t["mean_pd"], pred)
    want = float(np.sum(t["count"] / 200 * np.abs(true - pred)))
    assert expected_calibration_error(y, p) == pytest.approx(want, abs=1e-12)


def test_gains_and_lift(sample):
    y, p = sample
    rows = gains_table(y, p)
    assert len(rows) == 10 and sum(r["n"] for r in rows) == y.size
    assert rows[-1]["cum_bads_captured"] == pytest.approx(1.0)
    assert rows[-1]["cum_lift"] == pytest.approx(1.0)
    assert rows[0]["lift"] > 1 > rows[-1]["lift"]  # riskiest decile first
    assert np.average([r["lift"] for r in rows], weights=[r["n"] for r in rows]) == pytest.approx(1.0)


def test_bands_ks_curve_and_cutoff(sample):
    y, p = sample
    scale = ScoreScale()
    s = scale.score(p)
    bands = band_table(y, p, s, scale)
    assert [b["band"] for b in bands] == [n for n, _ in scale.bands]
    assert sum(b["n"] for b in bands) == y.size and sum(b["bads"] for b in bands) == y.sum()
    rates = [b["bad_rate"] for b in bands if b["n"] > 50]
    assert rates == sorted(rates, reverse=True)  # safer bands default less
    curve = ks_curve(y, s)
    assert curve["ks"] == pytest.approx(ks_2samp(s[y == 1], s[y == 0]).statistic, abs=1e-9)
    c = cutoff_summary(y, s, 600)
    assert c["approval_rate"] == pytest.approx((s >= 600).mean())
    assert c["bad_rate_approved"] < y.mean() < c["bad_rate_declined"]


def test_evaluate_is_json_and_complete(sample):
    y, p = sample
    noisy = np.clip(p + np.random.default_rng(1).normal(0, 0.1, p.size), 0.001, 0.999)
    ev = evaluate(y, p, ablation={"noisy": noisy, "full": p}, n_boot=50)
    text = json.dumps(ev, allow_nan=False)  # no NaN, no numpy types
    assert json.loads(text) == ev
    m = ev["metrics"]
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    lo, hi = m["auc_ci"]
    assert lo < m["auc"] < hi
    assert [r["model"] for r in ev["ablation"]] == ["noisy", "full"]
    assert ev["ablation"][1]["auc"] == pytest.approx(m["auc"]) and ev["ablation"][0]["auc"] < m["auc"]
    assert ev == evaluate(y, p, ablation={"noisy": noisy, "full": p}, n_boot=50)  # fixed seeds


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="0 \\(good\\) or 1 \\(bad\\)"):
        auc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="differ in length"):
        auc(np.array([0, 1]), np.array([0.1]))
    with pytest.raises(ValueError, match="both good and bad"):
        evaluate(np.zeros(10, dtype=int), np.full(10, 0.1))
    assert np.isnan(auc(np.zeros(3, dtype=int), np.array([0.1, 0.2, 0.3])))


def test_to_jsonable():
    out = to_jsonable({"a": np.float32(0.5), "b": np.int64(3), "c": [np.nan, np.inf], "d": np.array([True])})
    assert out == {"a": 0.5, "b": 3, "c": [None, None], "d": [True]}


def test_auc_interval_resamples_people_when_rows_carry_person_ids():
    """A panel: each person's rows share one risk, so resampling rows as if independent is too narrow."""
    from deepcredit.evaluation.metrics import _weighted_auc, auc_interval, ci_words

    rng = np.random.default_rng(3)
    people = np.repeat(np.arange(400), 8)  # 400 people, 8 quarters each
    risk = rng.normal(size=400)[people]
    y = (rng.random(people.size) < 1 / (1 + np.exp(-(2 * risk - 1.5)))).astype(int)
    p = np.round(1 / (1 + np.exp(-(risk + 0.3 * rng.normal(size=people.size) - 1.5))), 2)  # ties on purpose
    # the count-weighted AUC is exactly the AUC of the resampled rows
    idx = rng.integers(0, y.size, y.size)
    w = np.bincount(idx, minlength=y.size).astype(float)[None, :]
    assert _weighted_auc(w, np.unique(p, return_inverse=True)[1].ravel(), y.astype(float))[0] == \
        pytest.approx(roc_auc_score(y[idx], p[idx]), abs=1e-12)
    rows = auc_interval(y, p, n_boot=300)
    ppl = auc_interval(y, p, n_boot=300, groups=people.astype(str))
    assert rows and ppl
    assert (ppl[1] - ppl[0]) > 1.3 * (rows[1] - rows[0])
    assert ppl == auc_interval(y, p, n_boot=300, groups=people.astype(str))  # deterministic for a seed
    ev = evaluate(y, p, n_boot=50, groups=people)
    assert ev["metrics"]["auc_ci_bootstrap"] == {"resampled": "people", "n_resampled": 400, "n_boot": 50}
    assert "resampling 400 people" in ci_words(ev["metrics"])
    assert "resampling 3,200 rows (no person ids)" in ci_words(evaluate(y, p, n_boot=50)["metrics"])


def test_a_spread_over_folds_is_the_sample_standard_deviation():
    """Audit P7: the benchmark's "± sd" used the population formula, 11 % narrower for 5 folds."""
    import statistics

    from deepcredit.evaluation.metrics import fold_sd

    values = [0.78, 0.80, 0.77, 0.81, 0.79]
    assert fold_sd(values) == pytest.approx(statistics.stdev(values))
    assert fold_sd([0.7]) == 0.0


def test_the_ece_is_shown_beside_what_a_perfectly_calibrated_pd_shows_on_the_same_rows():
    """audit: on 600 rows a perfectly calibrated PD shows an ECE of about 0.03, as large as a model's, and the
    ECE was reported alone. The floor is the ECE against labels drawn from the PDs themselves (seeded)."""
    rng = np.random.default_rng(3)
    p = rng.beta(1, 6, 600)
    y = (rng.random(600) < p).astype(int)
    ev = evaluate(y, p, n_boot=0)
    floor = ev["metrics"]["ece_if_calibrated"]
    assert floor["draws"] == 200 and floor["seed"] == 0
    assert 0.02 < floor["median"] < floor["p95"] < 0.06  # a perfect PD is not 0 on 600 rows
    assert "95th percentile" in ev["metrics"]["ece_note"]
    assert evaluate(y, p, n_boot=0)["metrics"]["ece_if_calibrated"] == floor  # seeded: the same every run
    draws = np.random.default_rng(0).random((200, 600)) < p  # the same draws, each ECE the package's own
    eces = [expected_calibration_error(d.astype(int), p) for d in draws]
    assert floor["median"] == pytest.approx(np.median(eces)) and floor["p95"] == pytest.approx(np.quantile(eces, 0.95))
    big = evaluate(*(lambda q: ((rng.random(q.size) < q).astype(int), q))(rng.beta(1, 6, 20000)), n_boot=0)
    assert big["metrics"]["ece_if_calibrated"]["median"] < floor["median"] / 3  # the floor falls with the rows


def test_the_end_bands_pd_ranges_are_open_as_clipped_pds_land_there(sample):
    """audit: poor said [0.289, 0.865] and excellent [0.00156, 0.048], yet a PD of 0.99 scores 350 (poor) and
    one of 1e-6 scores 950 (excellent): the end bands run to 1 and to 0."""
    y, p = sample
    scale = ScoreScale()
    q = np.r_[p[:-2], 1 - 1e-6, 1e-6]
    rows = band_table(y, q, scale.score(q), scale)
    poor, fair, excellent = rows[0], rows[1], rows[-1]
    assert poor["pd_range"][0] == pytest.approx(0.289, abs=1e-3) and poor["pd_range"][1] == 1.0
    assert excellent["pd_range"] == [0.0, pytest.approx(0.048, abs=1e-3)]
    assert fair["pd_range"][1] == pytest.approx(float(scale.pd(550)))  # a middle band keeps both ends
    for pd_, band in ((1 - 1e-6, poor), (1e-6, excellent)):
        assert band["pd_range"][0] <= pd_ <= band["pd_range"][1]
    from deepcredit.evaluation.metrics import pd_range_words
    assert pd_range_words(poor["pd_range"]) == "above 28.9%" and pd_range_words(excellent["pd_range"]) == "below 4.8%"
