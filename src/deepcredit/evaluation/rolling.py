"""Rolling-origin evaluation of dated data: each of the last K periods is a test set, trained on all before it.

Why: one time split of dated data tests on a few late periods only (OTC's last 4 quarters hold 128
defaults, a standard error of about 0.01 AUC), so lifts of a few thousandths cannot be told from noise.
Rolling the origin forward tests on every one of the last K periods, each with models fitted on the
periods strictly before it (deployment order), and pools the held-out predictions, so the AUC runs over
every default of those K periods. A model is refitted once per period; the caller's `fit_predict` does
the fitting and returns PDs, so any model or set of models (a stack and its ablations) is evaluated on
identical folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepcredit.evaluation.metrics import auc, ks
from deepcredit.evaluation.periods import period_labels
from deepcredit.features.bundle import ModelInput
from deepcredit.models.splits import Fold, as_dates, known_by

FitPredict = Callable[[ModelInput, ModelInput], dict[str, np.ndarray]]
"""fit_predict(train, test) -> {model name: PD of every test row}."""


@dataclass(frozen=True)
class OriginFold(Fold):
    period: str = ""  # the test period's label


def rolling_origin_folds(as_of: pd.Series | np.ndarray, periods: int, period: str = "as_of",
                         known_at: pd.Series | np.ndarray | None = None) -> list[OriginFold]:
    """One fold per each of the last `periods` periods (oldest first): train on every row of an earlier
    period whose outcome is known by the test period's first date (`known_at`; None: every such row), test
    on the period's rows. `period`: as_of (each distinct date), month, quarter or year."""
    labels = period_labels(as_of, period).to_numpy()
    dates = as_dates(as_of)
    known = None if known_at is None else as_dates(known_at)
    order = np.unique(labels)  # period labels sort in time order
    if periods < 1 or len(order) < periods + 1:
        raise ValueError(f"rolling origin: {periods} test period(s) need at least {periods + 1} periods, "
                         f"the data has {len(order)}")
    folds = []
    for p in order[-periods:]:
        test = labels == p
        train = (labels < p) & known_by(dates, known, dates[test].min())
        if not train.any():
            raise ValueError(f"rolling origin: no row before {p} has an outcome known by its first day (each is "
                             "known when its performance window ends): test fewer periods, or later ones")
        folds.append(OriginFold(np.flatnonzero(train), np.flatnonzero(test), str(p)))
    return folds


def rolling_origin(inp: ModelInput, fit_predict: FitPredict, periods: int, period: str = "as_of") -> pd.DataFrame:
    """Pooled held-out predictions of every fold: person_id, as_of, period, label and one PD column per model
    (the models fit_predict returned for every fold)."""
    parts = []
    keys = inp.label_keys
    for fold in rolling_origin_folds(keys["as_of"], periods, period, keys["known_at"]):
        test = inp.take(fold.predict)
        pds = fit_predict(inp.take(fold.train), test)
        parts.append(test.keys.assign(period=fold.period, label=test.y,
                                      **{k: np.asarray(v, dtype=np.float64) for k, v in pds.items()}))
    pooled = pd.concat(parts, ignore_index=True)
    missing = pooled.columns[pooled.isna().any()].tolist()
    if missing:
        raise ValueError(f"rolling origin: model(s) {missing} did not predict in every period")
    return pooled


def pooled_metrics(pooled: pd.DataFrame) -> dict[str, dict]:
    """AUC and KS of each model over all pooled rows, and its AUC per test period (None without both outcomes)."""
    y = pooled["label"].to_numpy()
    names = [c for c in pooled.columns if c not in ("person_id", "as_of", "period", "label")]
    out = {}
    for name in names:
        p = pooled[name].to_numpy()
        per = {str(k): (auc(y[i], p[i]) if 0 < y[i].sum() < len(i) else None)
               for k, i in pooled.groupby("period", sort=True).indices.items()}
        out[name] = {"auc": round(auc(y, p), 4), "ks": round(ks(y, p), 4), "rows": len(y), "bads": int(y.sum()),
                     "auc_by_period": {k: None if v is None else round(v, 4) for k, v in per.items()}}
    return out
