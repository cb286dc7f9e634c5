"""When a reason's advice does not fit the person's own value: they already hold the best category, or their
value is on the side its declared risk direction calls safe.

Why (audit I): a categorical attribute's advice is written for its worst categories ("Ask a guarantor or a
co-applicant to back the loan."), and was given to everyone whose category cost points, whatever that
category was (F3); a feature declared safer when higher was named with "use your account more" where the
person's value already was well above typical (F9). The rule: advice on an attribute is given only where
another value of it is associated with lower risk than the person's own; else the reason is kept, with
ALREADY_BEST instead of the advice.

For a categorical or ordinal attribute, "lower risk" is the training bad rate of each category, whichever of
these the model carries: `category_risk_` (per feature, per category: the training bad rate), else the
bins of a scorecard (the model or a member of a combination: each bin's training defaults over its count).
A model with neither keeps every advice.

Where a spec declares the categories its advice moves a person towards (`improve_towards`: a guarantor text,
["guarantor", "co-applicant"]), the declaration decides first (towards_met): a person already in one of them
is not told to get there (ALREADY_TOWARDS), and one whose own category's training bad rate is no higher than
that of any of them (of those the model has a rate for) is not told to move where the model sees no less
risk (AGAINST_ADVICE). Why: the one text was written for the worst categories, and "ask for a co-applicant"
to someone who has one is wrong whatever the rates say. For a numeric feature with a declared risk direction, the person's
value lies on the safe side of the training median (CreditModel.reference_) by more than SAFE_SPREADS
standard deviations (spread_): moving it further that way is what the advice says, and it is not what costs
them points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models.base import CreditModel

ALREADY_BEST = "Yours is already the value with the least risk here: the other reasons are where you can improve."
ALREADY_TOWARDS = ("Yours is already one of the values this advice points to: the other reasons are where you "
                   "can improve.")
SAFE_SPREADS = 0.5
"""How far on the safe side of typical (in standard deviations) a value lies before advice to move it further
that way is withheld: a value near typical may still be on the risky side of what the model weighs."""


def _scorecard_tables(model: CreditModel) -> dict:
    """Each characteristic's FeatureTable, from the model's scorecard or its members' (the first that has it)."""
    tables: dict = {}
    for m in [model, *(m.model for m in model.fitted_members())]:
        card = getattr(m, "card_", None)
        for table in getattr(card, "features", None) or []:
            tables.setdefault(table.name, table)
    return tables


def _best_by_rates(values: pd.Series, rates: dict[str, float]) -> np.ndarray:
    """True where the value's category has the lowest of the bad rates (a category without one: False)."""
    if not rates:
        return np.zeros(len(values), dtype=bool)
    return _rates_by_name(values, rates) <= min(rates.values()) + 1e-12  # NaN compares False


def _best_by_table(values: pd.Series, table) -> np.ndarray:
    """True where the value falls in the value bin of the lowest training bad rate (special, missing and
    unseen values: False)."""
    rate = _bin_rates(table)
    if not np.isfinite(rate).any():
        return np.zeros(len(values), dtype=bool)
    return _rates_by_table(values, table) <= np.nanmin(rate) + 1e-12  # NaN compares False


def already_best(model: CreditModel, X: pd.DataFrame, cols: list[str], defs: dict[str, FeatureDef]) -> np.ndarray:
    """(rows, cols): True where a categorical or ordinal feature's value is already its lowest-risk one."""
    out = np.zeros((len(X), len(cols)), dtype=bool)
    rates: dict = getattr(model, "category_risk_", None) or {}
    tables = _scorecard_tables(model) if not rates else {}
    for j, name in enumerate(cols):
        d = defs[name]
        if d.kind is not Kind.CATEGORICAL and not d.levels:
            continue
        if name in rates:  # an ordinal's rates are by its levels' names, its values their ranks
            values = X[name].map(d.label) if d.levels else X[name]
            out[:, j] = _best_by_rates(values, rates[name])
        elif name in tables:
            out[:, j] = _best_by_table(X[name], tables[name])
    return out


def _rates_by_name(values: pd.Series, rates: dict[str, float]) -> np.ndarray:
    """The training bad rate of each value's category (NaN where the model has none)."""
    return values.astype(object).map(lambda v: rates.get(str(v), np.nan)).to_numpy(dtype=float)


def _bin_rates(table) -> np.ndarray:
    """Each value bin's training bad rate (NaN for a bin no training row fell in)."""
    nb = table.n_value_bins
    count, event = np.asarray(table.count[:nb], dtype=float), np.asarray(table.event[:nb], dtype=float)
    return np.where(count > 0, event / np.maximum(count, 1), np.nan)


def _rates_by_table(values: pd.Series, table) -> np.ndarray:
    """The training bad rate of each value's value bin (NaN for special, missing and unseen values, and for a
    bin no training row fell in)."""
    nb = table.n_value_bins
    rate = _bin_rates(table)
    bins = np.asarray(table.bin_index(values), dtype=np.int64)
    return np.where(bins < nb, rate[np.minimum(bins, nb - 1)], np.nan) if nb else np.full(len(values), np.nan)


def towards_met(model: CreditModel, X: pd.DataFrame, cols: list[str], defs: dict[str, FeatureDef]
                ) -> tuple[np.ndarray, np.ndarray]:
    """(met, no_gain), each (rows, cols), for the features that declare `improve_towards`: met where the
    person's value is one of those categories (an ordinal's: levels); no_gain where, by the training bad
    rates the model carries (as already_best reads them), their own category is at least as low-risk as
    every one of them the model has a rate for (none with a rate: the advice is kept)."""
    met = np.zeros((len(X), len(cols)), dtype=bool)
    no_gain = np.zeros_like(met)
    rates: dict = getattr(model, "category_risk_", None) or {}
    tables = _scorecard_tables(model) if not rates else {}
    for j, name in enumerate(cols):
        d = defs[name]
        if not d.improve_towards:
            continue
        labels = X[name].map(d.label) if d.levels else X[name]
        met[:, j] = labels.astype(object).isin(d.improve_towards).to_numpy(dtype=bool)
        if name in rates:
            own = _rates_by_name(labels, rates[name])
            there = _rates_by_name(pd.Series(d.improve_towards), rates[name])
        elif name in tables:
            towards = [float(d.levels.index(t)) for t in d.improve_towards if t in d.levels] if d.levels \
                else list(d.improve_towards)
            own = _rates_by_table(X[name], tables[name])
            there = _rates_by_table(pd.Series(towards, dtype=float if d.levels else object), tables[name])
        else:
            continue
        if np.isfinite(there).any():
            no_gain[:, j] = own <= np.nanmin(there) + 1e-12  # NaN (no rate of their own) compares False
    return met, no_gain


def safe_side(X: pd.DataFrame, cols: list[str], defs: dict[str, FeatureDef], reference: dict[str, float],
              spread: dict[str, float]) -> np.ndarray:
    """(rows, cols): True where a numeric feature with a declared risk direction has a value more than
    SAFE_SPREADS standard deviations on its safe side of the training median."""
    out = np.zeros((len(X), len(cols)), dtype=bool)
    for j, name in enumerate(cols):
        d = defs[name]
        if d.risk_direction == 0 or d.kind is Kind.CATEGORICAL or d.levels or name not in reference \
                or spread.get(name, 0.0) <= 0:
            continue
        value = pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float)
        out[:, j] = (reference[name] - value) * np.sign(d.risk_direction) / spread[name] > SAFE_SPREADS
    return out
