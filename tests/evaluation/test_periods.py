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
