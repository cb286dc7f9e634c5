"""The figure behind a dimension read as a whole: the person's value furthest from typical on its risky side.

A reason `<dimension>_as_a_whole` carries what a model explains per dimension only (a recurrent tower over
the events, a graph, a deep part). It has no one value of its own, so on its own it names nothing a person
can check ("your record of keeping commitments read as a whole"), even when their record holds two items
never returned. Beside it the person reads the figure of that dimension where they are most unusual on the
risky side: among the numeric features of the dimension whose risk direction is declared (more late
payments are riskier), the one whose value lies furthest beyond the typical value of the people the model
was fitted on, in standard deviations (CreditModel.reference_, spread_), if at least TELLING_SPREADS. It is
a fact about the record, not a claim of how the model weighed it; a model saved without spreads shows none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.features.spec import FeatureDef, Kind

TELLING_SPREADS = 1.0
"""How far beyond typical, in standard deviations, a figure must lie to be told: a person at their
population's usual value has no figure worth naming."""


def candidates(defs: dict[str, FeatureDef], dimension: str, X: pd.DataFrame, reference: dict[str, float],
               spread: dict[str, float]) -> list[FeatureDef]:
    """The dimension's numeric features with a declared risk direction, a typical value and a spread."""
    return [d for d in defs.values()
            if d.dimension.value == dimension and d.risk_direction != 0 and d.kind is not Kind.CATEGORICAL
            and not d.is_protected() and d.name in X and d.name in reference and spread.get(d.name, 0.0) > 0]


def telling_figures(X: pd.DataFrame, rows: np.ndarray, dimension: str, defs: dict[str, FeatureDef],
                    reference: dict[str, float] | None, spread: dict[str, float] | None,
                    named: tuple[np.ndarray, np.ndarray] | None = None) -> list[str | None]:
    """For each of `rows` (positions in X): the feature (name) of `dimension` where that row's value lies
    furthest beyond typical on its risky side, at least TELLING_SPREADS, among those that are not already a
    reason of its own on that row (`named`: the reason table's rows and features); None where no figure does."""
    cands = candidates(defs, dimension, X, reference or {}, spread or {})
    if not cands or not len(rows):
        return [None] * len(rows)
    names = [d.name for d in cands]
    values = X[names].iloc[rows].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    typical = np.array([(reference or {})[n] for n in names])
    sd = np.array([(spread or {})[n] for n in names])
    way = np.array([d.risk_direction for d in cands], dtype=float)
    beyond = np.nan_to_num((values - typical) * way / sd, nan=-np.inf)
    if named is not None:  # a figure already told as a reason of its own is not told twice
        reason_rows, reason_names = named
        for j, n in enumerate(names):  # one vectorised lookup per candidate, never per reason
            beyond[np.isin(rows, reason_rows[reason_names == n]), j] = -np.inf
    best = beyond.argmax(axis=1)  # ties: the first in catalogue order
    told = beyond[np.arange(len(rows)), best] >= TELLING_SPREADS
    return [names[b] if t else None for b, t in zip(best, told, strict=True)]


def figure_text(d: FeatureDef, value: object) -> str:
    """How a telling figure reads beside its reason: the feature's words and the person's value."""
    shown = d.label(value)
    return f"{d.description}: {shown:,.4g}" if isinstance(shown, float) else f"{d.description}: {shown}"
