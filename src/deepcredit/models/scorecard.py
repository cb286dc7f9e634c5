"""The interpretable scorecard as a CreditModel: WoE binning (models/binning.py), a logistic fit, whole points.

Fitting bins each characteristic (`WoEBinning`, optbinning underneath), selects characteristics by
information value and WoE correlation, fits a logistic regression and turns each bin's logit share into
whole points. The fitted card is nothing but lookup tables (`FeatureTable`), so scoring is one vectorised
lookup per characteristic, and the card can be printed on a page (`scorecard_table`, `scorecard_html`,
both written into the artifact):

    points_f(bin) = round(-factor * fitted logit_f(bin)),   base_points = round(offset - factor * intercept)
    logit(PD)     = (offset - (base_points + sum_f points_f(bin))) / factor

The card's logit is the one its printed whole points stand for, so the 350-950 score that scoring.Scorer
derives from the PD equals base points + the points of the person's bins exactly (clipped to the scale),
and the printed card stays the truth. Rounding costs nothing measurable (UCI: docs/benchmarks.md).

Two ways to get logit_f(bin) (`fit_points`):

- "woe": the classic card, logit_f(bin) = coef_f * WoE_f(bin) from scikit-learn's LogisticRegression on
  the WoE values. Every bin of a characteristic moves by one shared coefficient, so its points keep the
  shape of the characteristic's *marginal* WoE.
- "bins" (default): each bin's contribution is fitted jointly with all other characteristics, as steps
  between neighbouring bins that are bounded to the characteristic's monotone direction (a logistic
  regression on "value is at least in bin j" indicators, solved by scipy's bounded L-BFGS-B). Points then
  reflect each bin's effect *given* the other characteristics, still monotone, still one table lookup.

optbinning's WoE is ln(share of goods / share of bads): a safer bin has a higher WoE, so in "woe" mode every
coefficient must be negative; characteristics that would only get a wrong-signed weight are removed by a
sign-bounded fit first.

Explanation: each characteristic contributes -points/factor log-odds (points are centred on the training
population, so a positive contribution is a bin below average), the base is (offset - base_points)/factor.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models.base import CreditModel, Explanation, MemberCannotFit, read_meta
from deepcredit.models.binning import MIN_EVENTS, MISSING, FeatureTable, WoEBinning, _as_float
from deepcredit.models.gbdt import model_features
from deepcredit.models.scale import ScoreScale

CARD_FORMAT = 2
SMALL = 8
"""Frames of at most this many rows are scored with plain-Python lookups (lower latency than numpy)."""
PARALLEL_ROWS = 100_000
"""Batches of at least twice this many rows are scored in row slices on several cores."""
BLOCK_ROWS = 131_072
"""Rows scored per block, every characteristic in turn: a block's values (1 MB of float64), bins and totals
stay in a core's L2 cache, so each column is read from memory once. On the UCI card (26 characteristics,
159 edges, 1M rows, 2 cores): 0.028 s, against 0.036 s with whole-column passes; 65,536-row blocks: 0.035 s."""
SMALL_DATA: dict[str, object] = {"max_n_prebins": 20, "min_prebin_size": 0.05, "min_bin_size": None,
                                 "iv_min": 0.0, "fit_points": "woe", "C": 0.1}
"""Parameters for small training sets: fewer and steadier ones. Coarse prebins, no IV filter and one
coefficient per characteristic, as optbinning's defaults (docs/results/german-study.md: German credit, 210
training bads, +0.012 CV AUC over the defaults; a 10,000-row UCI sample +0.009; all of UCI -0.005); a
ten times stronger L2 penalty (C 0.1), and characteristics without a declared direction kept monotone one way
or the other (the default "auto_asc_desc", not optbinning's "auto", which also lets them peak or dip).
The last two were measured on 1,000-row subsamples of two development sets (UCI, 177 training bads:
+0.02 AUC; the simulator's profiles, 94 bads: within noise, lower log loss on both;
docs/results/scorecard-levers-study-2026-12-07.md): a few hundred bads cannot pay for an unpenalised
coefficient per characteristic or for a bend in a characteristic's points."""
SMALL_DATA_MAX_RARER = 2_000
"""Training rows of the rarer outcome up to which `small_data="auto"` fits with SMALL_DATA. Choosing between
the two by inner CV was measured too and is worse on small data: five inner folds of a few hundred rows
cannot tell apart two configurations about 0.01 AUC apart."""
SMALL_DATA_MODES = ("auto", "never", "always")


@dataclass
class Card:
    """A fitted scorecard: the scale, the base points, and one table per characteristic.

    `intercept` is the fitted regression's (for the record); the card's logit is the one its whole points
    stand for: logit = (offset - (base_points + sum of points)) / factor.
    """

    scale: ScoreScale
    intercept: float
    base_points: int
    features: list[FeatureTable]

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

    def logit(self, X: pd.DataFrame) -> np.ndarray:
        """The logit the card's whole points stand for (float64): its score is exactly base + points."""
        return (self.scale.offset - self.total_points(X)) / self.scale.factor

    def logit_of_points(self, points: np.ndarray | float) -> np.ndarray:
        return (self.scale.offset - np.asarray(points, dtype=np.float64)) / self.scale.factor

    def total_points(self, X: pd.DataFrame) -> np.ndarray:
        """Unclipped base + points per row (int64). Columns are read once; rows are then summed in
        cache-sized blocks, and large batches in row slices on every core (numpy releases the GIL)."""
        if len(X) <= SMALL:
            total = np.full(len(X), self.base_points, dtype=np.int64)
            for _, pts in self._lookup(X, "points"):
                total += pts
            return total
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
        return total.astype(np.int64)

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

    def to_dict(self) -> dict:
        return {"format": CARD_FORMAT, "scale": self.scale.to_dict(), "intercept": self.intercept,
                "base_points": self.base_points,
                "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, d: dict) -> Card:
        if d.get("format") != CARD_FORMAT:
            raise ValueError(f"unsupported scorecard format {d.get('format')!r} (this version reads {CARD_FORMAT})")
        return cls(scale=ScoreScale.from_dict(d["scale"]), intercept=float(d["intercept"]),
                   base_points=int(d["base_points"]), features=[FeatureTable.from_dict(f) for f in d["features"]])



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

    def to_logit(coef: np.ndarray) -> tuple[np.ndarray, float]:
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


class ScorecardModel(CreditModel):
    """The WoE scorecard over the tabular view; the constructor only stores parameters (clone-safe).

    max_n_bins, min_bin_size, max_n_prebins, min_prebin_size, monotonic, unknown_trend, special_codes,
        time_limit: the binning's (models.binning.WoEBinning).
    iv_min: drop characteristics whose information value is below this (0.02: "not predictive").
    corr_max: of two characteristics whose WoE correlate above this, keep the one with the higher IV.
    C: inverse L2 strength of the logistic regression (as in scikit-learn).
    fit_points: "bins" (default) or "woe"; see the module docstring.
    scale: the ScoreScale whose factor and offset turn logits into points (default ScoreScale()).
    features: restrict the candidate characteristics (default: every feature of the input).
    allow_protected: protected attributes are never inputs unless this is True.
    random_state: recorded for reproducibility; the fit itself is deterministic (no sampling) wherever the
        binning solver reaches its optimum within time_limit (fit_notes names any characteristic where it did not).
    small_data: "auto" (default): when the rarer outcome has at most SMALL_DATA_MAX_RARER training rows, fit
        with SMALL_DATA in place of the parameters at their default values (another value you set is kept;
        one equal to the default is not, as parameters are compared by value: use "never" for it); "never":
        always the given parameters; "always": always SMALL_DATA.
        `small_data_` records whether SMALL_DATA was used (also in the artifact).
    """

    kind = "scorecard"
    views = ("tabular",)
    definitions_: list[FeatureDef]  # once fitted (CreditModel declares them None before)

    def __init__(self, max_n_bins: int | None = None, min_bin_size: float | None = 0.01,
                 max_n_prebins: int = 50, min_prebin_size: float = 0.01, iv_min: float = 0.02,
                 corr_max: float = 0.95, C: float = 1.0, fit_points: str = "bins", monotonic: bool = True,
                 unknown_trend: str | None = "auto_asc_desc", special_codes: Sequence[float] | None = None,
                 scale: ScoreScale | None = None, features: list[str] | None = None,
                 allow_protected: bool = False, time_limit: float = 10.0, random_state: int = 42,
                 small_data: str = "auto") -> None:
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
        self.features = features
        self.allow_protected = allow_protected
        self.time_limit = time_limit
        self.random_state = random_state
        self.small_data = small_data

    # -- fitting -----------------------------------------------------------------------------------
    def _binning(self) -> WoEBinning:
        return WoEBinning(max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size,
                          max_n_prebins=self.max_n_prebins, min_prebin_size=self.min_prebin_size,
                          monotonic=self.monotonic, unknown_trend=self.unknown_trend,
                          special_codes=self.special_codes, time_limit=self.time_limit)

    def fit(self, inp: ModelInput, y: np.ndarray | None = None,
            on_progress: Callable[[int, int, str], None] | None = None) -> ScorecardModel:
        """Bin every candidate characteristic, select by IV and correlation, fit the LR, assign points."""
        if self.fit_points not in ("bins", "woe"):
            raise ValueError(f"fit_points must be 'bins' or 'woe', not {self.fit_points!r}")
        if self.small_data not in SMALL_DATA_MODES:
            raise ValueError(f"small_data must be one of {SMALL_DATA_MODES}, not {self.small_data!r}")
        y = inp.y if y is None else np.asarray(y)
        self.small_data_ = self._uses_small_data(np.asarray(y))
        swap = self._small_data_params() if self.small_data_ else {}
        if swap:
            small = type(self)(**{**self.get_params(deep=False), **swap, "small_data": "never"})
            small.fit(inp, y, on_progress)
            self.__dict__.update({k: v for k, v in vars(small).items() if k.endswith("_") and k != "small_data_"})
            return self
        X = inp.X
        candidates = model_features(inp.definitions, X.columns, self.features, allow_protected=True)
        self.excluded_protected_ = [] if self.allow_protected else [d.name for d in candidates if d.is_protected()]
        defs = [d for d in candidates if d.name not in self.excluded_protected_]
        if not defs:
            raise MemberCannotFit("scorecard: every candidate characteristic is a protected attribute")
        scale = self.scale or ScoreScale()
        binning = self._binning().fit(X, y, defs, on_progress=on_progress)
        self.pooled_categories_ = dict(binning.pooled_)
        self.unsettled_binning_ = dict(binning.unsettled_)
        y = np.asarray(y).astype(int)
        tables = list(binning.tables_.values())
        binning_bins = binning.bins(X)
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
            best = max(tables, key=lambda t: t.iv, default=None)
            raise MemberCannotFit(
                f"scorecard: no characteristic reaches IV {self.iv_min} (best: "
                + (f"{best.name} at {best.iv:.4f})" if best else "none)") + ": nothing to build a card from")
        bins = {t.name: binning_bins[t.name] for t in kept}
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
        self.definitions_ = defs
        self.classes_ = np.array([0, 1])
        return self

    def _uses_small_data(self, y: np.ndarray) -> bool:
        """Whether this fit uses SMALL_DATA: always, never, or (auto) when the rarer outcome is rare enough."""
        if self.small_data != "auto":
            return self.small_data == "always"
        bads = int(np.sum(y == 1))
        self.n_rarer_ = min(bads, len(y) - bads)
        return self.n_rarer_ <= SMALL_DATA_MAX_RARER

    def settled_params(self, y: np.ndarray) -> dict[str, Any]:
        """small_data="auto" settled on all of `y` ("always" or "never"): a fold of a stack, with fewer rows
        of the rarer outcome, must not switch to the small-data card while the refit does not (or back)."""
        if self.small_data != "auto":
            return {}
        bads = int(np.sum(np.asarray(y) == 1))
        return {"small_data": "always" if min(bads, len(y) - bads) <= SMALL_DATA_MAX_RARER else "never"}

    def fit_notes(self) -> list[str]:
        return self._pooled_note() + self._unsettled_note() + self._small_data_note()

    def _unsettled_note(self) -> list[str]:
        """Characteristics whose binning the solver left short of optimal at time_limit (seconds): their bins
        depend on how fast the machine was then, so the same configuration may not reproduce the card."""
        unsettled = getattr(self, "unsettled_binning_", {})
        if not unsettled:
            return []
        listed = ", ".join(f"{n} ({s.lower()})" for n, s in unsettled.items())
        return [f"scorecard: the binning solver stopped at its time limit of {self.time_limit:g} s before the "
                f"optimum for {listed}: these bins may differ on another run or machine; raise "
                "--member-param scorecard.time_limit=SECONDS for a reproducible card"]

    def _pooled_note(self) -> list[str]:
        """Which characteristics had rare categories pooled before binning (a high-cardinality code such as
        a postcode is then mostly one group, not a bin per handful of people)."""
        pooled = getattr(self, "pooled_categories_", {})
        if not pooled:
            return []
        listed = "; ".join(f"{n}: {k:,} of {t:,} categories" for n, (k, t) in pooled.items())
        return [f"scorecard: categories too rare to expect {MIN_EVENTS} of each outcome were pooled into one group "
                f"before binning ({listed}), so no bin rests on a rare category's own bad rate; a category not "
                "seen in training is scored with that group"]

    def _small_data_note(self) -> list[str]:
        if not getattr(self, "small_data_", False):
            return []
        rarer = getattr(self, "n_rarer_", None)
        why = f"{rarer:,} training rows of the rarer outcome" if rarer is not None else "asked for"
        return [f"scorecard: small-data settings ({why}, at most {SMALL_DATA_MAX_RARER:,}): coarse "
                "prebins, no information-value floor, one coefficient per characteristic and a stronger L2 "
                f"penalty (C {SMALL_DATA['C']:g}); "
                "these replace every parameter at its default value, one written out equal to it included; "
                "--member-param scorecard.small_data=never keeps the documented defaults and any value as given "
                "(docs/scoring.md)"]

    def _small_data_params(self) -> dict[str, object]:
        """SMALL_DATA for the parameters at their default values (by value: scikit-learn's clone passes every
        parameter, so one written out equal to its default cannot be told apart): another value is kept."""
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
        return {k: v for k, v in SMALL_DATA.items() if getattr(self, k) == defaults[k] and defaults[k] != v}

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
            raise RuntimeError("scorecard: call fit (or load a fitted model) first")
        return card

    @property
    def scale_(self) -> ScoreScale:
        """The scale the card's points are on (the Scorer reads scores on it)."""
        return self._card().scale

    @property
    def used_features_(self) -> list[str]:
        """The characteristics on the card (selection dropped the others): the only possible reasons."""
        return self._card().names

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return self._card().logit(inp.X)

    def explain(self, inp: ModelInput) -> Explanation:
        """base = (offset - base points)/factor; each characteristic -points/factor; their sum is the logit."""
        card = self._card()
        X = inp.X
        names = [d.name for d in self.definitions_]
        columns = {n: np.zeros(len(X)) for n in names}
        total = np.full(len(X), card.base_points, dtype=np.int64)
        for f, pts in card._lookup(X, "points"):
            columns[f.name] = -pts / card.scale.factor
            total += pts
        by_feature = pd.DataFrame(columns, index=pd.RangeIndex(len(X)), columns=names)  # one frame, not k inserts
        base = np.full(len(X), (card.scale.offset - card.base_points) / card.scale.factor)
        return Explanation.from_features(base, by_feature, self.definitions_, decision=card.logit_of_points(total))

    # -- the printed card and the artifact ---------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        card = self._card()
        meta = {"format": CARD_FORMAT, "card": card.to_dict(), "features": [d.to_dict() for d in self.definitions_],
                "selection": json.loads(self.selection_.to_json(orient="records"))
                if getattr(self, "selection_", None) is not None else [],
                "small_data": bool(getattr(self, "small_data_", False))}
        return {"scorecard_card.json": json.dumps(meta, indent=1, sort_keys=True).encode("utf-8"),
                "scorecard.csv": scorecard_table(self).to_csv(index=False).encode("utf-8"),
                "scorecard.html": scorecard_html(self).encode("utf-8")}

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> ScorecardModel:
        meta = read_meta(files, "scorecard_card.json", CARD_FORMAT, "scorecard")
        card = Card.from_dict(meta["card"])
        valid = cls._get_param_names()
        model = cls(**{k: v for k, v in params.items() if k in valid and k != "scale"})
        if params.get("scale") is not None:
            model.scale = card.scale
        model.card_ = card
        model.definitions_ = [FeatureDef.from_dict(d) for d in meta["features"]]
        model.selection_ = pd.DataFrame(meta.get("selection", []))
        model.small_data_ = bool(meta.get("small_data", False))
        model.classes_ = np.array([0, 1])
        return model


def scorecard_table(model: ScorecardModel) -> pd.DataFrame:
    """The printed card: points per bin, one row per (characteristic, bin), with the base points first."""
    card = model._card()
    rows: list[dict[str, object]] = [{"dimension": "", "feature": "(base points)", "description": "every score starts here",
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


def scorecard_html(model: ScorecardModel, title: str = "DeepCredit scorecard") -> str:
    """A self-contained HTML page of the card: how the score is read, then points per bin."""
    c = model._card()
    s = c.scale
    bands = ", ".join(f"{n} from {b}" for n, b in s.bands)
    intro = (f"<p>Score = base points + the points of each characteristic's bin, clipped to [{s.lo}, {s.hi}]. "
             f"Scale: {s.base_score:g} points at {s.base_odds:g}:1 good:bad odds, {s.pdo:g} points to double "
             f"the odds. Bands: {html.escape(bands)}.</p>")
    table = scorecard_table(model).to_html(index=False, na_rep="", border=0, classes="scorecard", escape=True)
    style = ("body{font-family:sans-serif;margin:2em}table.scorecard{border-collapse:collapse}"
             "table.scorecard td,table.scorecard th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{intro}\n{table}\n</body></html>\n")
