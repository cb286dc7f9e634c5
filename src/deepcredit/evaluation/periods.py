"""Metrics per period: is the model as good on every as-of date (month, quarter, year) as on all of them?

Why: data with several scoring dates hides drift in one pooled AUC; a lender reads discrimination and bad
rate per vintage. A period with one outcome class gets its counts but no AUC, KS or Gini.

With `use` (what each row was to the model's training: FITTED, HELD_OUT, UNUSED), each period says how many of
its rows were which: under `--all-rows` on a time-split model the early periods are in-sample and only the
late ones out of time, and the gap between them is not drift (audit I, F8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.data.period_words import CALENDAR, PERIODS
from deepcredit.evaluation.metrics import auc, gini_of, ks

_FREQ = CALENDAR
FITTED, HELD_OUT, UNUSED = "fitted on", "held out", "not used (unmatured or outside the split)"
NOT_FITTED = "not fitted on"


def period_labels(as_of: pd.Series | np.ndarray, period: str = "as_of") -> pd.Series:
    """The period of each as-of date: '2024-03-31' (as_of), '2024-03', '2024Q1' or '2024'."""
    if period not in PERIODS:
        raise ValueError(f"--period: {period!r} is not one of {', '.join(PERIODS)}")
    dates = pd.to_datetime(pd.Series(np.asarray(as_of)))
    if period == "as_of":
        return dates.dt.strftime("%Y-%m-%d")
    return dates.dt.to_period(_FREQ[period]).astype(str)


def period_metrics(as_of: pd.Series | np.ndarray, y: np.ndarray, pd_: np.ndarray,
                   period: str = "as_of", use: np.ndarray | None = None) -> list[dict] | None:
    """One row per period (in time order): period, n, bads, bad_rate, mean_pd, auc, gini, ks, and with `use`
    (one word per row, e.g. FITTED / HELD_OUT / UNUSED) `use`: {word: rows} and `used_as`: the one word of all its
    rows, or "mixed"; None when every row falls in one period (the pooled metrics already say it all)."""
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
                     "mean_pd": float(pp.mean()), "auc": a, "gini": None if a is None else gini_of(a),
                     "ks": ks(yy, pp) if both else None})
        if use is not None:
            counts = pd.Series(np.asarray(use, dtype=object)[idx]).value_counts(sort=False)
            rows[-1]["use"] = {str(k): int(v) for k, v in counts.items()}
            rows[-1]["used_as"] = str(counts.index[0]) if len(counts) == 1 else "mixed"
    return rows


def period_use_words(rows: list[dict] | None) -> str | None:
    """'Over time: 1991, 1992 fitted on; 1993 not used (...); 1994 held out.' of period rows with `use`, or
    None when there is nothing to tell apart (no `use`, or every period the same)."""
    if not rows or "used_as" not in rows[0] or len({r["used_as"] for r in rows}) < 2:
        return None
    groups: dict[str, list[str]] = {}
    for r in rows:
        what = r["used_as"] if r["used_as"] != "mixed" else \
            "mixed (" + ", ".join(f"{n:,} {k}" for k, n in r["use"].items()) + ")"
        groups.setdefault(what, []).append(r["period"])
    return "Over time, the periods were: " + "; ".join(f"{', '.join(ps)} {what}" for what, ps in groups.items()) + \
        ". Differences between fitted and held-out periods are the in-sample gap, not drift."
