"""Metrics per period: one row per as-of date, month, quarter or year; none when there is one period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.evaluation.metrics import evaluate
from deepcredit.evaluation.periods import period_labels, period_metrics
from deepcredit.evaluation.report import render_html
from deepcredit.models.scale import ScoreScale


def test_metrics_per_period_and_in_the_report():
    rng = np.random.default_rng(0)
    as_of = np.repeat(pd.to_datetime(["2024-01-31", "2024-02-29", "2024-04-30"]), 400)
    y = (rng.random(1200) < 0.2).astype(int)
    p = np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.1, 1200), 0.01, 0.99)
    rows = period_metrics(as_of, y, p)
    assert [r["period"] for r in rows] == ["2024-01-31", "2024-02-29", "2024-04-30"]
    assert all(r["n"] == 400 and 0.5 < r["auc"] <= 1 and r["gini"] == pytest.approx(2 * r["auc"] - 1) for r in rows)
    quarters = period_metrics(as_of, y, p, "quarter")
    assert [(r["period"], r["n"]) for r in quarters] == [("2024Q1", 800), ("2024Q2", 400)]
    assert period_metrics(as_of, y, p, "year") is None  # one period: nothing to add to the pooled metrics
    assert list(period_labels(as_of[:1], "month")) == ["2024-01"]
    one_class = period_metrics(as_of, np.r_[np.zeros(400, int), y[400:]], p)
    assert one_class[0]["auc"] is None and one_class[0]["bads"] == 0
    scale = ScoreScale()
    ev = {**evaluate(y, p, scale.score(p), scale=scale, n_boot=0), "periods": rows}
    html = render_html({}, ev, None, None, None, "t", "s")
    assert "Metrics per period" in html and "2024-02-29" in html
    with pytest.raises(ValueError, match="week"):
        period_labels(as_of, "week")


def test_each_period_says_whether_its_rows_were_fitted_on_held_out_or_unused():
    """audit I, F8: under --all-rows a time-split model's early periods are in-sample, not 'drift'."""
    from deepcredit.evaluation.periods import FITTED, HELD_OUT, UNUSED, period_use_words

    rng = np.random.default_rng(1)
    as_of = np.repeat(pd.to_datetime(["2022-06-30", "2023-06-30", "2024-06-30"]), 200)
    y = (rng.random(600) < 0.3).astype(int)
    p = np.clip(0.3 + 0.2 * (y - 0.3) + rng.normal(0, 0.1, 600), 0.01, 0.99)
    use = np.repeat(np.array([FITTED, UNUSED, HELD_OUT], dtype=object), 200)
    use[:10] = HELD_OUT
    rows = period_metrics(as_of, y, p, "year", use)
    assert [r["used_as"] for r in rows] == ["mixed", UNUSED, HELD_OUT]
    assert rows[0]["use"] == {HELD_OUT: 10, FITTED: 190} or rows[0]["use"] == {FITTED: 190, HELD_OUT: 10}
    words = period_use_words(rows)
    assert "2023 not used" in words and "2024 held out" in words and "190 fitted on" in words
    assert period_use_words(period_metrics(as_of, y, p, "year")) is None  # nothing known: nothing said
    assert period_use_words(period_metrics(as_of, y, p, "year", np.full(600, FITTED, dtype=object))) is None
