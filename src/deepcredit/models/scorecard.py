"""The interpretable scorecard: optimal monotone binning (optbinning), a logistic regression, points per bin.

Fitting bins each characteristic with optbinning's OptimalBinning (monotone in the direction its definition
declares; missing and special values in bins of their own), selects characteristics by information value
and WoE correlation, and fits a logistic regression. The fitted card is then nothing but lookup tables
(`FeatureTable`: bin edges or categories -> logit contribution and whole points), so scoring is one
vectorised table lookup per characteristic, the same code serves a fresh fit and a loaded artifact, and the
card can be printed on a page:

    logit(PD) = intercept + sum_f logit_f(bin)                    (predict_proba: the exact model)
    score     = clip(base_points + sum_f points_f(bin), lo, hi)   (score: whole points, as printed)
    points_f(bin) = round(-factor * logit_f(bin)),  base_points = round(offset - factor * intercept)

Two ways to get logit_f(bin) (`fit_points`):

- "woe": the classic card, logit_f(bin) = coef_f * WoE_f(bin) from scikit-learn's LogisticRegression on
  the WoE values. Every bin of a characteristic moves by one shared coefficient, so its points keep the
  shape of the characteristic's *marginal* WoE.
- "bins" (default): each bin's contribution is fitted jointly with all other characteristics, as steps
  between neighbouring bins that are bounded to the characteristic's monotone direction (a logistic
  regression on "value is at least in bin j" indicators, solved by scipy's bounded L-BFGS-B). Points then
  reflect each bin's effect *given* the other characteristics (the marginal WoE double counts what
  correlated characteristics share), still monotone, still one table lookup. On UCI this is worth about
  +0.005 AUC (see docs/benchmarks.md).

optbinning's WoE is ln(share of goods / share of bads): a safer bin has a higher WoE, so in "woe" mode every
coefficient must be negative; characteristics that would only get a wrong-signed weight (a collinearity
artefact: their points would run against their own bins) are removed by a sign-bounded fit first.
"""

from __future__ import annotations

import bisect
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from deepcredit.data.schema import Dimension
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.scoring.explain import reason_codes
from deepcredit.scoring.scale import ScoreScale, split_total

DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)
NON_FEATURE_COLUMNS = ("person_id", "as_of", "label")
SPECIAL, MISSING, UNKNOWN = "special", "missing", "other"
"""The three extra bins every characteristic has after its value bins, in this order."""
CARD_FORMAT = 1
SMALL = 8
"""Frames of at most this many rows are scored with plain-Python lookups (lower latency than numpy)."""
PARALLEL_ROWS = 100_000
"""Batches of at least twice this many rows are scored in row slices on several cores."""
BLOCK_ROWS = 131_072
"""Rows scored per block, every characteristic in turn: a block's values (1 MB of float64), bins and totals
stay in a core's L2 cache, so each column is read from memory once. On the UCI card (26 characteristics,
159 edges, 1M rows, 2 cores): 0.028 s, against 0.036 s with whole-column passes; 65,536-row blocks: 0.035 s."""


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


@dataclass
class FeatureTable:
    """One characteristic of the card: how values map to bins, and each bin's logit share and points.

    Bins are the value bins (numeric: [edge_i, edge_i+1) with -inf/+inf at the ends, as optbinning cuts;
    categorical: groups of categories, ordered from lowest to highest bad rate), then `special`, `missing`
    and `other` (a category never seen in training; numeric values never land there). An extra bin that
    held nobody in training is neutral: logit 0 and 0 points, the population average.
    """

    name: str
    kind: str
    dimension: str
    description: str
    improve: str
    risk_direction: int
    direction: int
    """The card's monotone direction over the value bins: +1 points rise bin by bin, -1 fall, 0 free."""
    splits: list[float] | None  # numeric
    categories: list[list[str]] | None  # categorical, one list per value bin
    special_codes: list[float]
    count: list[int]
    event: list[int]
    woe: list[float]
    logit: list[float] = field(default_factory=list)
    points: list[int] = field(default_factory=list)
    iv: float = 0.0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # -- shape ------------------------------------------------------------------------------------
    @property
    def n_value_bins(self) -> int:
        return len(self.splits) + 1 if self.kind == Kind.NUMERIC else len(self.categories or [])

    @property
    def labels(self) -> list[str]:
        if self.kind == Kind.NUMERIC:
            s = self.splits or []
            if not s:
                vals = ["any value"]
            else:
                vals = [f"< {_fmt(s[0])}"] + [f"{_fmt(a)} to < {_fmt(b)}" for a, b in zip(s, s[1:], strict=False)] \
                    + [f">= {_fmt(s[-1])}"]
        else:
            vals = [", ".join(c) if len(c) <= 6 else ", ".join(c[:6]) + f" (+{len(c) - 6})"
                    for c in (self.categories or [])]
        return [*vals, SPECIAL, MISSING, UNKNOWN]

    @property
    def best_points(self) -> int:
        """The most points attainable: the best value bin that held anyone in training."""
        nb = self.n_value_bins
        held = [p for p, c in zip(self.points[:nb], self.count[:nb], strict=True) if c > 0]
        return max(held) if held else 0

    # -- lookup -----------------------------------------------------------------------------------
    def _arrays(self) -> dict:
        if not self._cache:
            c = self._cache
            c["splits"] = np.asarray(self.splits or [], dtype=float)
            c["logit"] = np.asarray(self.logit, dtype=float)
            c["points"] = np.asarray(self.points, dtype=np.int32)  # half the memory traffic of int64
            c["special"] = np.asarray(self.special_codes, dtype=float)
            c["cat_map"] = {cat: i for i, cats in enumerate(self.categories or []) for cat in cats}
            c["splits_list"] = list(self.splits or [])
            c["special_set"] = set(self.special_codes)
        return self._cache

    def bin_index(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Bin of every value (int64), vectorised: searchsorted on the edges or a hash map of categories."""
        a = self._arrays()
        nb = self.n_value_bins
        if self.kind == Kind.NUMERIC:
            return self.numeric_bins(_as_float(values, self.name))
        s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes, uniques = s.cat.codes.to_numpy(), s.cat.categories
        else:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)  # hashing once beats str() per row
        # one entry per distinct value, then the missing sentinel (code -1 -> the last entry)
        table = np.array([a["cat_map"].get(str(u), nb + 2) for u in uniques] + [nb + 1], dtype=np.int64)
        return table[codes]

    def numeric_bins(self, x: np.ndarray) -> np.ndarray:
        """Bins of float values (uint8 for the few edges a card has, else intp)."""
        a = self._arrays()
        nb = self.n_value_bins
        splits = a["splits"]
        if len(splits) < 250:
            # count of edges <= x, i.e. np.digitize(x, splits, right=False); one vectorised compare per
            # edge beats a binary search (searchsorted) by ~20x for the few edges a card has
            idx = np.zeros(x.shape, dtype=np.uint8)
            hit = np.empty(x.shape, dtype=bool)  # one buffer for every edge: no allocation per pass
            for edge in splits:
                np.greater_equal(x, edge, out=hit)
                np.add(idx, hit.view(np.uint8), out=idx)
        else:
            idx = np.searchsorted(splits, x, side="right")
        if a["special"].size:
            idx[np.isin(x, a["special"])] = nb
        nan = np.isnan(x)
        if nan.any():
            idx[nan] = nb + 1
        return idx

    def bin_of(self, value: object) -> int:
        """Bin of one value, without numpy: the fast path for scoring a single record."""
        a = self._arrays()
        nb = self.n_value_bins
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return nb + 1
        if self.kind == Kind.NUMERIC:
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"column {self.name!r} must be numeric for the scorecard, got {value!r}") from None
            if v != v:
                return nb + 1
            if v in a["special_set"]:
                return nb
            return bisect.bisect_right(a["splits_list"], v)
        return a["cat_map"].get(str(value), nb + 2)

    def set_logit(self, logit: Sequence[float], factor: float) -> None:
        self.logit = [float(v) for v in logit]
        self.points = [int(round(-factor * v)) for v in self.logit]
        self._cache.clear()

    # -- serialisation -----------------------------------------------------------------------------
    FIELDS = ("name", "kind", "dimension", "description", "improve", "risk_direction", "direction", "splits",
              "categories", "special_codes", "count", "event", "woe", "logit", "points", "iv")

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureTable:
        return cls(**{k: d[k] for k in cls.FIELDS})


def _as_float(values: pd.Series | np.ndarray, name: str) -> np.ndarray:
    try:
        if isinstance(values, pd.Series):
            if values.dtype == np.float64:
                return values.to_numpy()  # no copy
            return values.to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"column {name!r} must be numeric for the scorecard") from None


@dataclass
class Card:
    """A fitted scorecard: the scale, the intercept and base points, and one table per characteristic."""

    scale: ScoreScale
    intercept: float
    base_points: int
    features: list[FeatureTable]
    dimensions: tuple[str, ...] = tuple(str(d) for d in DIMENSIONS)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def _column(self, X: pd.DataFrame, name: str) -> pd.Series:
        if name not in X.columns:
            raise ValueError(f"column {name!r}, which the scorecard uses, is missing from the input")
        return X[name]

    def bins(self, X: pd.DataFrame) -> np.ndarray:
        """(n, k) bin index of every row for every characteristic."""
        if len(X) <= SMALL:
            return self._bins_small(X)
        out = np.empty((len(X), len(self.features)), dtype=np.int64)
        for j, f in enumerate(self.features):
            out[:, j] = f.bin_index(self._column(X, f.name))
        return out

    def _bins_small(self, X: pd.DataFrame) -> np.ndarray:
        """A few rows: plain-Python lookups, as per-call numpy overhead would dominate (serving latency)."""
        cols = X.columns.get_indexer(self.names)
        for name, c in zip(self.names, cols, strict=True):
            if c < 0:
                self._column(X, name)  # raises the clear error
        values = X.to_numpy()
        return np.array([[f.bin_of(row[c]) for f, c in zip(self.features, cols, strict=True)] for row in values],
                        dtype=np.int64).reshape(len(X), len(self.features))

    def _lookup(self, X: pd.DataFrame, what: str):
        """Yield (characteristic, its `what` table looked up for every row): the one loop all scoring shares."""
        if len(X) <= SMALL:
            b = self._bins_small(X)
            for j, f in enumerate(self.features):
                yield f, f._arrays()[what][b[:, j]]
        else:
            for f in self.features:
                yield f, f._arrays()[what][f.bin_index(self._column(X, f.name))]

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """(n, k) whole points per characteristic."""
        b = self.bins(X)
        cols = [f._arrays()["points"][b[:, j]] for j, f in enumerate(self.features)]
        return np.column_stack(cols) if cols else np.zeros((len(X), 0), dtype=np.int64)

    def dimension_points(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 5) points summed per dimension, accumulated characteristic by characteristic."""
        out = np.zeros((len(X), len(self.dimensions)), dtype=np.int64)
        col = {d: i for i, d in enumerate(self.dimensions)}
        for f, pts in self._lookup(X, "points"):
            out[:, col[f.dimension]] += pts
        return out

    def logit(self, X: pd.DataFrame) -> np.ndarray:
        z = np.full(len(X), self.intercept, dtype=float)
        for _, v in self._lookup(X, "logit"):
            z += v
        return z

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Whole-point scores. Columns are read once; rows are then scored in cache-sized blocks, and large
        batches in row slices on every core (numpy releases the GIL)."""
        if len(X) <= SMALL:
            total = np.full(len(X), self.base_points, dtype=np.int64)
            for _, pts in self._lookup(X, "points"):
                total += pts
            return self.scale.clip(total)
        # numeric characteristics: float arrays, binned block by block; categorical: bins, once
        cols = [_as_float(self._column(X, f.name), f.name) if f.kind == Kind.NUMERIC
                else f.bin_index(self._column(X, f.name)) for f in self.features]
        total = np.full(len(X), self.base_points, dtype=np.int32)  # int32: half the memory traffic
        workers = min(os.cpu_count() or 1, len(X) // PARALLEL_ROWS)
        bounds = np.linspace(0, len(X), max(workers, 1) + 1).astype(int)
        slices = list(zip(bounds, bounds[1:], strict=False))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda ab: self._add_points(cols, total, *ab), slices))
        else:
            self._add_points(cols, total, 0, len(X))
        return self.scale.clip(total.astype(np.int64))

    def _add_points(self, cols: list[np.ndarray], total: np.ndarray, start: int, stop: int) -> None:
        """total[start:stop] += every characteristic's points, BLOCK_ROWS rows at a time."""
        scratch = np.empty(min(BLOCK_ROWS, stop - start), dtype=np.int32)
        for a in range(start, stop, BLOCK_ROWS):
            b = min(a + BLOCK_ROWS, stop)
            t, pts = total[a:b], scratch[: b - a]
            for f, col in zip(self.features, cols, strict=True):
                idx = f.numeric_bins(col[a:b]) if f.kind == Kind.NUMERIC else col[a:b]
                np.take(f._arrays()["points"], idx, out=pts)
                t += pts

    def score_record(self, record: Mapping[str, object]) -> int:
        """Score one record (feature name -> value) in plain Python: the low-latency serving path."""
        total = self.base_points
        for f in self.features:
            total += f.points[f.bin_of(record.get(f.name))]
        return int(min(max(total, self.scale.lo), self.scale.hi))

    def to_dict(self) -> dict:
        return {"format": CARD_FORMAT, "scale": self.scale.to_dict(), "intercept": self.intercept,
                "base_points": self.base_points, "dimensions": list(self.dimensions),
                "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, d: dict) -> Card:
        if d.get("format") != CARD_FORMAT:
            raise ValueError(f"unsupported scorecard format {d.get('format')!r} (this version reads {CARD_FORMAT})")
        return cls(scale=ScoreScale.from_dict(d["scale"]), intercept=float(d["intercept"]),
                   base_points=int(d["base_points"]), features=[FeatureTable.from_dict(f) for f in d["features"]],
                   dimensions=tuple(d["dimensions"]))


# -- fitting helpers --------------------------------------------------------------------------------

def bounded_logistic(X: np.ndarray, y: np.ndarray, C: float, bounds: Sequence[tuple[float | None, float | None]]
                     ) -> tuple[float, np.ndarray]:
    """L2 logistic regression with box bounds on the coefficients (the intercept is free).

    Same objective as scikit-learn's LogisticRegression (C * sum of log-losses + |w|^2 / 2), which has no
    bounds, solved with scipy's L-BFGS-B, which does. Returns (intercept, coefficients).
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    n, k = X.shape
    s = 2.0 * y - 1.0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        m = s * (theta[0] + X @ theta[1:])
        g = -s * expit(-m)
        grad = np.concatenate([[C * g.sum()], C * (X.T @ g) + theta[1:]])
        return C * float(np.sum(np.logaddexp(0.0, -m))) + 0.5 * float(theta[1:] @ theta[1:]), grad

    theta0 = np.zeros(k + 1)
    p = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    theta0[0] = math.log(p / (1 - p))
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=[(None, None), *bounds],
                   options={"maxiter": 10_000, "maxfun": 20_000})
    return float(res.x[0]), res.x[1:]


def _step_design(t: FeatureTable, b: np.ndarray) -> tuple[np.ndarray, list[tuple], Callable]:
    """Columns for fitting one characteristic bin by bin, their bounds, and a map back to per-bin logits.

    Value bins get "at least bin j" step indicators (j = 1..nb-1), bounded to the card's direction, so the
    fitted contributions are monotone by construction. Rows in special/missing bins take the steps' mean
    values plus a free indicator of their own, so with little data they shrink towards the average.
    """
    nb = t.n_value_bins
    value = b < nb
    pos = np.where(value, b, 0)
    steps = [(pos >= j).astype(float) for j in range(1, nb)]
    means = [float(c[value].mean()) if value.any() else 0.0 for c in steps]
    for c, m in zip(steps, means, strict=True):
        c[~value] = m
    bound = {1: (0.0, None), -1: (None, 0.0)}.get(-t.direction, (None, None))  # logit runs against points
    extras = [e for e in (nb, nb + 1) if t.count[e] > 0]
    cols = steps + [(b == e).astype(float) for e in extras]
    bounds = [bound] * len(steps) + [(None, None)] * len(extras)

    def to_logit(coef: np.ndarray) -> np.ndarray:
        delta = coef[:len(steps)]
        logit = np.zeros(nb + 3)
        logit[:nb] = np.concatenate([[0.0], np.cumsum(delta)])
        base = float(np.dot(delta, means))
        for e, g in zip(extras, coef[len(steps):], strict=True):
            logit[e] = base + g
        # centre on the training mean so that an empty extra bin (logit 0) is the population average
        counts = np.asarray(t.count, dtype=float)
        centre = float(np.dot(counts, logit) / counts.sum()) if counts.sum() else 0.0
        logit[:nb] -= centre
        for e in extras:
            logit[e] -= centre
        return logit, centre

    return np.column_stack(cols) if cols else np.zeros((len(b), 0)), bounds, to_logit


def _default_def(name: str, column: pd.Series) -> FeatureDef:
    """Metadata for a column fitted without a definition: it counts towards credit history; text and
    category columns are categorical, everything else numeric."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return FeatureDef(name, Dimension.CREDIT_HISTORY, Source.DERIVED, name, f"your value of {name}",
                      f"Improve your {name}.", kind=Kind.NUMERIC if numeric else Kind.CATEGORICAL)


class WoEScorecard(BaseEstimator):
    """Scikit-learn style WoE scorecard. The constructor only stores parameters (clone-safe).

    Parameters
    ----------
    max_n_bins, min_bin_size, max_n_prebins, min_prebin_size: passed to optbinning's OptimalBinning.
    iv_min: drop characteristics whose information value is below this (0.02: "not predictive").
    corr_max: of two characteristics whose WoE correlate above this, keep the one with the higher IV.
    C: inverse L2 strength of the logistic regression (as in scikit-learn).
    fit_points: "bins" (default) or "woe"; see the module docstring.
    monotonic: constrain each characteristic's bad rate (and points) to be monotone in the direction its
        definition declares (risk_direction +1: riskier when higher, -1: safer); `unknown_trend` is
        optbinning's monotonic_trend when the direction is 0 ("auto_asc_desc": monotone, either way).
    special_codes: numeric values that mean something special (e.g. -1 for "not applicable"): own bin.
    scale: the ScoreScale (default ScoreScale()).
    allow_protected: protected attributes (sex, age, marital status) are never inputs unless this is True.
    time_limit: seconds optbinning's solver may spend per characteristic.
    random_state: recorded for reproducibility; the fit itself is deterministic (no sampling).
    """

    def __init__(self, max_n_bins: int | None = None, min_bin_size: float | None = 0.01,
                 max_n_prebins: int = 50, min_prebin_size: float = 0.01, iv_min: float = 0.02,
                 corr_max: float = 0.95, C: float = 1.0, fit_points: str = "bins", monotonic: bool = True,
                 unknown_trend: str | None = "auto_asc_desc", special_codes: Sequence[float] | None = None,
                 scale: ScoreScale | None = None, allow_protected: bool = False, time_limit: float = 10.0,
                 random_state: int = 42):
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.max_n_prebins = max_n_prebins
        self.min_prebin_size = min_prebin_size
        self.iv_min = iv_min
        self.corr_max = corr_max
        self.C = C
        self.fit_points = fit_points
        self.monotonic = monotonic
        self.unknown_trend = unknown_trend
        self.special_codes = special_codes
        self.scale = scale
        self.allow_protected = allow_protected
        self.time_limit = time_limit
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------------
    def _candidates(self, X: pd.DataFrame, definitions: Sequence[FeatureDef] | None) -> list[FeatureDef]:
        if definitions is None:
            defs = [_default_def(str(c), X[c]) for c in X.columns if c not in NON_FEATURE_COLUMNS]
        else:
            defs = list(definitions)
            missing = [d.name for d in defs if d.name not in X.columns]
            if missing:
                raise ValueError(f"feature column(s) missing from the training data: {', '.join(missing)}")
        self.excluded_protected_ = [] if self.allow_protected else \
            [d.name for d in defs if d.is_protected()]
        defs = [d for d in defs if d.name not in self.excluded_protected_]
        if not defs:
            raise ValueError("no feature columns to fit the scorecard on")
        return defs

    def _trend(self, d: FeatureDef) -> str | None:
        if d.kind == Kind.CATEGORICAL or not self.monotonic:
            return None  # categories are ordered by bad rate, monotone by construction
        return {1: "ascending", -1: "descending"}.get(d.risk_direction, self.unknown_trend)

    def _bin_one(self, d: FeatureDef, x: pd.Series, y: np.ndarray) -> FeatureTable:
        from optbinning import OptimalBinning

        special = [float(s) for s in self.special_codes] if self.special_codes else []
        trend = self._trend(d)
        categorical = d.kind == Kind.CATEGORICAL
        if categorical:
            values = np.where(x.isna(), np.nan, x.astype(str).to_numpy(dtype=object)).astype(object)
            special = []
        else:
            values = _as_float(x, d.name)
        missing = pd.isna(values)
        special_mask = np.isin(values, special) if special else np.zeros(len(y), dtype=bool)
        clean = ~missing & ~special_mask
        if pd.Series(values[clean]).nunique() < 2:
            # nothing to cut (constant or empty): one value bin, plus special and missing
            masks = [clean, special_mask, missing]
            count = [int(m.sum()) for m in masks]
            event = [int(y[m].sum()) for m in masks]
            cats = [sorted({str(v) for v in values[clean]})] if categorical else None
            splits = None if categorical else []
        else:
            optb = OptimalBinning(name=d.name, dtype="categorical" if categorical else "numerical",
                                  max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size,
                                  max_n_prebins=self.max_n_prebins, min_prebin_size=self.min_prebin_size,
                                  monotonic_trend=trend, special_codes=special or None, time_limit=self.time_limit)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optb.fit(values, y)
            body = optb.binning_table.build().iloc[:-1]  # drop the Totals row
            count = [int(c) for c in body["Count"]]
            event = [int(e) for e in body["Event"]]
            cats = [sorted(str(c) for c in group) for group in optb.splits] if categorical else None
            splits = None if categorical else [float(s) for s in optb.splits]
        nb = len(cats) if categorical else len(splits) + 1
        # value bins, then special, missing (optbinning's order); `other` never holds anyone in training
        count, event = count[:nb + 2] + [0], event[:nb + 2] + [0]
        return FeatureTable(name=d.name, kind=str(d.kind), dimension=str(d.dimension), description=d.description,
                            improve=d.improve, risk_direction=d.risk_direction, direction=0, splits=splits,
                            categories=cats, special_codes=special, count=count, event=event, woe=[])

    def _woe(self, t: FeatureTable, n_event: int, n_nonevent: int) -> None:
        """WoE and IV from the training counts (optbinning's formula); sets the card's monotone direction.

        Special and missing bins smaller than min_bin_size stay neutral (WoE 0): too few to trust.
        """
        min_count = (self.min_bin_size or 0.0) * (n_event + n_nonevent)
        woe, iv = [], 0.0
        for i, (c, e) in enumerate(zip(t.count, t.event, strict=True)):
            ne = c - e
            if e > 0 and ne > 0 and (i < t.n_value_bins or c >= min_count):
                good, bad = ne / n_nonevent, e / n_event
                w = math.log(good / bad)
                iv += (good - bad) * w
            else:
                w = 0.0
            woe.append(w)
        t.woe, t.iv = woe, iv
        nb = t.n_value_bins
        w = np.asarray(woe[:nb])
        if not self.monotonic or nb < 2:
            t.direction = 0
        elif t.kind == Kind.CATEGORICAL:
            t.direction = int(np.sign(w[-1] - w[0]))  # optbinning orders category groups by bad rate
        elif t.risk_direction:
            t.direction = -t.risk_direction  # riskier when higher: points fall as the value rises
        elif self.unknown_trend in ("auto_asc_desc", "ascending", "descending"):
            t.direction = int(np.sign(w[-1] - w[0]))
        else:
            t.direction = 0  # peaks, valleys or no constraint: the card does not force a direction

    def fit(self, X: pd.DataFrame, y: Sequence[int] | pd.Series | np.ndarray,
            definitions: Sequence[FeatureDef] | None = None,
            on_progress: Callable[[int, int, str], None] | None = None) -> WoEScorecard:
        """Bin every candidate characteristic, select by IV and correlation, fit the LR, assign points."""
        if self.fit_points not in ("bins", "woe"):
            raise ValueError(f"fit_points must be 'bins' or 'woe', not {self.fit_points!r}")
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if pd.isna(y).any() or not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
            raise ValueError("the label must be 0 (good) or 1 (bad), with both present and none missing")
        y = y.astype(int)
        scale = self.scale or ScoreScale()
        defs = self._candidates(X, definitions)
        n_event, n_nonevent = int(y.sum()), int(len(y) - y.sum())
        tables: list[FeatureTable] = []
        for i, d in enumerate(defs):
            t = self._bin_one(d, X[d.name], y)
            self._woe(t, n_event, n_nonevent)
            tables.append(t)
            if on_progress:
                on_progress(i + 1, len(defs), d.name)
        status: dict[str, str] = {n: "protected attribute: excluded (allow_protected=False)"
                                  for n in self.excluded_protected_}

        # 1. information value
        kept = []
        for t in tables:
            if t.iv < self.iv_min:
                status[t.name] = f"IV {t.iv:.4f} below {self.iv_min}"
            else:
                kept.append(t)
        if not kept:
            raise ValueError(f"no characteristic reaches IV {self.iv_min}: nothing to build a card from")
        bins = {t.name: t.bin_index(X[t.name]) for t in kept}
        woe = {t.name: np.asarray(t.woe)[bins[t.name]] for t in kept}
        # 2. correlation: strongest first; skip near copies of a characteristic already kept
        kept.sort(key=lambda t: (-t.iv, t.name))
        if len(kept) > 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = np.nan_to_num(np.corrcoef(np.column_stack([woe[t.name] for t in kept]), rowvar=False))
        chosen: list[int] = []
        for j, t in enumerate(kept):
            clash = [i for i in chosen if abs(corr[i, j]) > self.corr_max] if len(kept) > 1 else []
            if clash:
                status[t.name] = f"WoE correlation {corr[clash[0], j]:.2f} with {kept[clash[0]].name} (higher IV)"
            else:
                chosen.append(j)
        kept = [kept[j] for j in chosen]
        # 3. the regression
        if self.fit_points == "woe":
            intercept = self._fit_woe(kept, woe, y, status, scale.factor)
        else:
            intercept = self._fit_bins(kept, bins, y, scale.factor)
        # 4. characteristics whose points do not vary add nothing and cannot be a reason: leave them out
        used = []
        for t in kept:
            nb = t.n_value_bins
            if len(set(t.points[:nb + 2])) > 1:
                used.append(t)
            else:
                status[t.name] = "no effect once the other characteristics are in"
                intercept += float(np.dot(t.count, t.logit) / max(sum(t.count), 1))
        order = {d.name: i for i, d in enumerate(defs)}
        used.sort(key=lambda t: order[t.name])  # the definitions' order: a stable, readable card
        for t in used:
            status[t.name] = "used"
        self.card_ = Card(scale=scale, intercept=intercept,
                          base_points=int(round(scale.offset - scale.factor * intercept)), features=used)
        self.selection_ = pd.DataFrame(
            [{"feature": t.name, "dimension": t.dimension, "iv": round(t.iv, 6), "status": status[t.name]}
             for t in sorted(tables, key=lambda t: order[t.name])]
            + [{"feature": n, "dimension": "", "iv": float("nan"), "status": status[n]}
               for n in self.excluded_protected_])
        self.information_value_ = {t.name: t.iv for t in tables}
        self.feature_names_in_ = np.array([d.name for d in defs], dtype=object)
        self.classes_ = np.array([0, 1])
        self.definitions_ = defs
        return self

    def _fit_woe(self, kept: list[FeatureTable], woe: dict, y: np.ndarray, status: dict, factor: float) -> float:
        """Classic card: LogisticRegression on WoE, after a sign-bounded fit removes wrong-signed ones."""
        if len(kept) > 1:
            _, coef = bounded_logistic(np.column_stack([woe[t.name] for t in kept]), y, self.C,
                                       [(None, 0.0)] * len(kept))
            for t, c in zip(kept, coef, strict=True):
                if c > -1e-6:
                    status[t.name] = "no effect of its own once stronger characteristics are in"
            kept[:] = [t for t, c in zip(kept, coef, strict=True) if c <= -1e-6] or kept[:1]
        while True:  # the bounded fit makes this a no-op; kept as a guard against solver tolerance
            lr = LogisticRegression(C=self.C, max_iter=5000)
            lr.fit(np.column_stack([woe[t.name] for t in kept]), y)
            coef = lr.coef_[0]
            worst = int(np.argmax(coef))
            if coef[worst] < 0 or len(kept) == 1:
                break
            status[kept[worst].name] = f"coefficient sign against its bins ({coef[worst]:+.3f})"
            kept.pop(worst)
        for t, c in zip(kept, coef, strict=True):
            t.set_logit([float(c) * w for w in t.woe], factor)
        return float(lr.intercept_[0])

    def _fit_bins(self, kept: list[FeatureTable], bins: dict, y: np.ndarray, factor: float) -> float:
        """Per-bin contributions fitted jointly, monotone steps between neighbouring value bins."""
        designs = [_step_design(t, bins[t.name]) for t in kept]
        X = np.column_stack([d[0] for d in designs])
        bounds = [b for d in designs for b in d[1]]
        intercept, coef = bounded_logistic(X, y, self.C, bounds)
        start = 0
        for t, (cols, _, to_logit) in zip(kept, designs, strict=True):
            logit, centre = to_logit(coef[start:start + cols.shape[1]])
            start += cols.shape[1]
            intercept += centre
            t.set_logit(logit, factor)
        return intercept

    # -- using a fitted card -----------------------------------------------------------------------
    def _card(self) -> Card:
        card = getattr(self, "card_", None)
        if card is None:
            raise ValueError("this WoEScorecard is not fitted yet: call fit() or load one")
        return card

    @property
    def features_(self) -> list[str]:
        """The characteristics the card uses, in card order."""
        return self._card().names

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2) [P(good), P(bad)] from the fitted logistic model (unrounded contributions)."""
        p = 1.0 / (1.0 + np.exp(-self._card().logit(X)))
        return np.column_stack([1 - p, p])

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Whole-point scores, clipped to the scale's range (int64)."""
        return self._card().score(X)

    def score_record(self, record: Mapping[str, object]) -> int:
        return self._card().score_record(record)

    def band(self, X: pd.DataFrame) -> np.ndarray:
        card = self._card()
        return card.scale.band(card.score(X))

    def subscores(self, X: pd.DataFrame) -> pd.DataFrame:
        """The five dimension sub-scores per row, plus `score`; the five add up exactly to the score.

        Each dimension starts from an equal share of the base points (a neutral sub-score) and adds the
        points of its characteristics; see scoring.scale.split_total for how clipping is shared out.
        """
        card = self._card()
        dim = card.dimension_points(X)
        total, sub = split_total(card.base_points + dim.sum(axis=1), dim, card.base_points, card.scale)
        out = pd.DataFrame(sub, columns=list(card.dimensions), index=X.index)
        out["score"] = total
        return out

    def explain(self, X: pd.DataFrame, top: int = 4) -> pd.DataFrame:
        """Up to `top` reason codes per row: characteristics whose points fall furthest below their best.

        One row per (input row, rank), see scoring.explain.reason_codes; ties break by card order.
        """
        card = self._card()
        return reason_codes(card.bins(X), card.features, top=top, index=X.index)

    def to_table(self) -> pd.DataFrame:
        """Points per bin, one row per (characteristic, bin), with the base points first."""
        card = self._card()
        rows = [{"dimension": "", "feature": "(base points)", "description": "every score starts here",
                 "bin": "all", "count": None, "event_rate": None, "woe": None, "points": card.base_points}]
        for f in card.features:
            for i, label in enumerate(f.labels):
                if i >= f.n_value_bins and f.count[i] == 0 and label != MISSING:
                    continue
                rows.append({"dimension": f.dimension, "feature": f.name, "description": f.description,
                             "bin": label, "count": f.count[i],
                             "event_rate": round(f.event[i] / f.count[i], 4) if f.count[i] else None,
                             "woe": round(f.woe[i], 4), "points": f.points[i]})
        return pd.DataFrame(rows)

    # -- persistence -------------------------------------------------------------------------------
    def save(self, out: Path, data_fingerprint: str = "", metrics: dict | None = None,
             definitions: Sequence[FeatureDef] | None = None) -> Path:
        """Write the card as a versioned, hashed artifact directory (see scoring.artifacts)."""
        from deepcredit.scoring.artifacts import save_scorecard

        return save_scorecard(self, out, data_fingerprint=data_fingerprint, metrics=metrics or {},
                              definitions=definitions)

    @classmethod
    def load(cls, path: Path) -> WoEScorecard:
        """Load a card artifact; its hashes are checked first (ArtifactError on any mismatch)."""
        from deepcredit.scoring.artifacts import load_scorecard

        return load_scorecard(path)
