"""Metrics per period: is the model as good on every as-of date (month, quarter, year) as on all of them?

Why: data with several scoring dates hides drift in one pooled AUC; a lender reads discrimination and bad
rate per vintage. A period with one outcome class gets its counts but no AUC, KS or Gini.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.evaluation.metrics import auc, ks

PERIODS = ("as_of", "month", "quarter", "year")
_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


def period_labels(as_of: pd.Series | np.ndarray, period: str = "as_of") -> pd.Series:
    """The period of each as-of date: '2024-03-31' (as_of), '2024-03', '2024Q1' or '2024'."""
    if period not in PERIODS:
        raise ValueError(f"--period: {period!r} is not one of {', '.join(PERIODS)}")
    dates = pd.to_datetime(pd.Series(np.asarray(as_of)))
    if period == "as_of":
        return dates.dt.strftime("%Y-%m-%d")
    return dates.dt.to_period(_FREQ[period]).astype(str)


def period_metrics(as_of: pd.Series | np.ndarray, y: np.ndarray, pd_: np.ndarray,
                   period: str = "as_of") -> list[dict] | None:
    """One row per period (in time order): period, n, bads, bad_rate, mean_pd, auc, gini, ks; None when
    every row falls in one period (the pooled metrics already say it all)."""
    labels = period_labels(as_of, period)
    if labels.nunique() < 2:
        return None
    y, pd_ = np.asarray(y, dtype=np.int64), np.asarray(pd_, dtype=np.float64)
    rows = []
    for label, idx in labels.groupby(labels, sort=True).indices.items():
        yy, pp = y[idx], pd_[idx]
        both = 0 < yy.sum() < len(yy)
        a = auc(yy, pp) if both else None
        rows.append({"period": label, "n": len(idx), "bads": int(yy.sum()), "bad_rate": float(yy.mean()),
                     "mean_pd": float(pp.mean()), "auc": a, "gini": None if a is None else 2 * a - 1,
                     "ks": ks(yy, pp) if both else None})
    return rows
