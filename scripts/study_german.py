"""Study: what DeepCredit's models reach on German credit when its 17 attributes get in, and which general,
training-rows-only mechanisms make the scorecard and the stack hold against optbinning and LightGBM.

    nice -n 10 .venv/bin/python scripts/study_german.py [--only NAME ...] [--protocol split|cv|all]
        [--uci] [--list]

Data: ../shared/data/german_credit.csv (1,000 applicants, 300 bad). personal_status_and_sex, age_in_years and
foreign_worker are protected and never inputs; the other 17 attributes are, each as one feature (numeric
columns float64, text columns pandas category), wrapped in the product's own FeatureFrame / ModelInput.

Protocols (both over all 1,000 rows, label 1 = bad):
    split  sklearn train_test_split(test_size=0.3, stratify=y, random_state=42): fit on 700, AUC on 300
    cv     RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=42): 25 fits, AUC mean and sd
Every choice a variant makes (C, fit_points, stack weights) is made inside its fit, from the fold's training
rows only (inner CV); the held-out rows are only ever scored.

This study was run against the scorecard as it was before it became a CreditModel (commit 3c89131:
models/scorecard.py WoEScorecard, models/scorecard_member.py); it imports those names, so reproduce it on
that commit (`git worktree add /tmp/study 3c89131`, copy this script there). The recommended mechanism
(docs/results/german-study.md) is to be ported into models/binning.py + models/scorecard.py.

Results are cached per (variant, protocol, fold) in docs/results/german-study.json (written atomically after
every variant), so an interrupted run resumes; --force recomputes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "german_credit.csv"
OUT = Path(os.environ.get("GERMAN_STUDY_OUT", ROOT / "docs" / "results" / "german-study.json"))
SEED = 42
LABEL = "creditability"
PROTECTED = ("personal_status_and_sex", "age_in_years", "foreign_worker")

warnings.filterwarnings("ignore")
os.environ.setdefault("OMP_NUM_THREADS", "1")


# -- data --------------------------------------------------------------------------------------------

def dimension_of(name: str):
    from deepcredit.data.schema import Dimension

    groups = {
        Dimension.CREDIT_HISTORY: ("credit_history", "number_of_existing_credits_at_this_bank",
                                   "other_installment_plans", "status_of_existing_checking_account"),
        Dimension.FULFILMENT_CAPACITY: ("credit_amount", "duration_in_month", "savings_account_and_bonds",
                                        "installment_rate_in_percentage_of_disposable_income", "property",
                                        "present_employment_since", "job"),
        Dimension.BEHAVIOUR_PREFERENCES: ("purpose",),
        Dimension.SOCIAL_CONNECTIONS: ("other_debtors_or_guarantors",
                                       "number_of_people_being_liable_to_provide_maintenance_for"),
    }
    for dim, names in groups.items():
        if name in names:
            return dim
    return Dimension.IDENTITY  # housing, residence, telephone and the protected attributes


def load_german(ordinal: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """The raw 20 attributes (numeric float64, text category) and y (1 = bad). `ordinal`: the ordered text
    columns become their rank (float64), as a spec that declares them ordinal with an order would give."""
    raw = pd.read_csv(DATA)
    y = (raw[LABEL] == "bad").to_numpy().astype(np.int64)
    X = raw.drop(columns=[LABEL])
    for c in X.columns:
        X[c] = X[c].astype("float64") if pd.api.types.is_numeric_dtype(X[c]) else X[c].astype("category")
    if ordinal:
        for c, order in ORDINAL.items():
            rank = {v: float(i) for i, v in enumerate(order)}
            X[c] = X[c].astype(str).map(rank).astype("float64")  # "no account" / "unknown": missing
    return X, y


ORDINAL = {  # the orders a user would declare; values outside the order ("no account", "unknown") are missing
    "status_of_existing_checking_account": ["... < 0 DM", "0 <= ... < 200 DM",
                                            "... >= 200 DM / salary assignments for at least 1 year"],
    "savings_account_and_bonds": ["... < 100 DM", "100 <= ... < 500 DM",
                                  "500 <= ... < 1000 DM", "... >= 1000 DM"],
    "present_employment_since": ["unemployed", "... < 1 year", "1 <= ... < 4 years", "4 <= ... < 7 years",
                                 "... >= 7 years"],
}


def model_input(X: pd.DataFrame, y: np.ndarray):
    """The product's own bundle: FeatureFrame(frame, definitions, meta) inside ModelInput(tabular=...)."""
    from deepcredit.features.bundle import ModelInput
    from deepcredit.features.engine import FeatureFrame
    from deepcredit.features.spec import FeatureDef, Kind, Source

    defs = []
    for c in X.columns:
        kind = Kind.CATEGORICAL if isinstance(X[c].dtype, pd.CategoricalDtype) else Kind.NUMERIC
        defs.append(FeatureDef(name=c, dimension=dimension_of(c), source=Source.PROFILE, sql=c,
                               description=c.replace("_", " "), improve=f"Improve your {c.replace('_', ' ')}.",
                               risk_direction=0, kind=kind, protected=c in PROTECTED, actionable=False))
    frame = X.copy()
    frame.insert(0, "person_id", [f"german-{i:04d}" for i in range(len(X))])
    frame.insert(1, "as_of", pd.Timestamp("2000-01-01"))
    frame["label"] = y
    return ModelInput(tabular=FeatureFrame(frame, defs, {"data_fingerprint": "german-study"}))


def plans(y: np.ndarray) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.3, stratify=y, random_state=SEED)
    cv = list(RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=SEED).split(idx, y))
    return {"split": [(tr, te)], "cv": cv}


def inputs_of(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if c not in PROTECTED]


# -- variants: name -> fit(train rows) -> scores of test rows (higher = riskier) ------------------------

Fitter = Callable[[np.ndarray, np.ndarray], np.ndarray]
VARIANTS: dict[str, Callable[[dict], Fitter]] = {}
DESCRIPTIONS: dict[str, str] = {}


def variant(name: str, description: str):
    def deco(fn):
        VARIANTS[name] = fn
        DESCRIPTIONS[name] = description
        return fn
    return deco


def _member(make) -> Callable[[dict], Fitter]:
    """A CreditModel fitted on inp.take(train), its decision_function on inp.take(test)."""
    def build(ctx: dict) -> Fitter:
        inp = ctx["inp"]

        def fit(tr, te):
            return make().fit(inp.take(tr)).decision_function(inp.take(te))
        return fit
    return build


def _raw(make_fit) -> Callable[[dict], Fitter]:
    def build(ctx: dict) -> Fitter:
        X, y = ctx["X"][inputs_of(ctx["X"])], ctx["y"]

        def fit(tr, te):
            return make_fit(X.iloc[tr].reset_index(drop=True), y[tr], X.iloc[te].reset_index(drop=True))
        return fit
    return build


def peer_optbinning(Xtr, ytr, Xte):
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    def text_as_object(Z):  # optbinning detects categorical columns by object dtype
        return Z.astype({c: object for c in Z.columns if isinstance(Z[c].dtype, pd.CategoricalDtype)})

    card = Scorecard(binning_process=BinningProcess(list(Xtr.columns)), estimator=LogisticRegression())
    card.fit(text_as_object(Xtr), ytr)
    return card.predict_proba(text_as_object(Xte))[:, 1]


def peer_lightgbm(Xtr, ytr, Xte):
    import lightgbm as lgb

    clf = lgb.LGBMClassifier(verbose=-1, n_jobs=1)  # defaults; n_jobs does not change the result
    clf.fit(Xtr, ytr)
    return clf.predict_proba(Xte)[:, 1]


variant("peer:optbinning", "optbinning Scorecard, BinningProcess over the 17 inputs + LogisticRegression()")(
    _raw(peer_optbinning))
variant("peer:lightgbm", "LGBMClassifier() defaults, categoricals as pandas category")(_raw(peer_lightgbm))


def scorecard(**params):
    from deepcredit.models.scorecard_member import ScorecardModel

    return lambda: ScorecardModel(params=params)


variant("scorecard", "ScorecardModel() today's defaults (fit_points='bins', C=1, iv_min=0.02)")(
    _member(scorecard()))
variant("scorecard:woe", "ScorecardModel fit_points='woe'")(_member(scorecard(fit_points="woe")))


def gbdt(**params):
    from deepcredit.models.gbdt import GBDTModel

    return lambda: GBDTModel(**{"n_jobs": 1, **params})


def wide_deep(**params):
    from deepcredit.models.wide_deep import WideDeepModel

    return lambda: WideDeepModel(**params)


def stack(**params):
    from deepcredit.models.stack import StackModel

    return lambda: StackModel(**{"members": ["scorecard", "gbdt", "wide_deep"],
                                 "member_params": {"gbdt": {"n_jobs": 1}}, **params})


variant("gbdt", "GBDTModel() today's defaults")(_member(gbdt()))
variant("wide_deep", "WideDeepModel() today's defaults")(_member(wide_deep()))
variant("stack", "StackModel(members=[scorecard, gbdt, wide_deep]) today's defaults")(_member(stack()))


# -- mechanisms under study (training rows only) -------------------------------------------------------

def min_bin_size_for(y: np.ndarray, min_bin_size: float, min_bin_events: float | None) -> float:
    """A minimum bin share large enough that a bin expects `min_bin_events` of the rarer outcome.

    With n_min rows of the rarer class, a bin of share s expects s * n_min of them, so s >= k / n_min. On
    large data the configured floor wins (UCI: 4,645 bads -> 10 / 4,645 = 0.002 < 0.01, nothing changes); on
    700 German rows (210 bads) bins must hold >= 4.8 % of rows.
    """
    if not min_bin_events:
        return min_bin_size
    n_min = int(min(y.sum(), len(y) - y.sum()))
    return float(min(max(min_bin_size or 0.0, min_bin_events / max(n_min, 1)), 0.5))


def frozen_card_class():
    """A WoEScorecard whose bin edges / category groups are fixed in advance (`frozen_`: name -> table);
    fit only recounts the rows in each bin, then WoE, selection and the regression as usual."""
    from deepcredit.models.scorecard import FeatureTable, WoEScorecard

    class FrozenBinsScorecard(WoEScorecard):
        frozen_: dict = {}
        shrink_C: float | None = None
        """Set (with fit_points='bins'): the WoE card first, then per-bin step corrections on top of it with
        their own L2 strength shrink_C (0: the WoE card exactly; large: the joint per-bin fit)."""

        def _fit_bins(self, kept, bins, y, factor):
            if self.shrink_C is None:
                return super()._fit_bins(kept, bins, y, factor)
            return shrunk_fit(self, kept, bins, y, factor)

        def _bin_one(self, d, x, y):
            t0 = self.frozen_[d.name]
            nb = t0.n_value_bins
            b = t0.bin_index(x)
            count = np.bincount(b, minlength=nb + 3)
            event = np.bincount(b, weights=y, minlength=nb + 3).astype(np.int64)
            return FeatureTable(name=t0.name, kind=t0.kind, dimension=t0.dimension, description=t0.description,
                                improve=t0.improve, risk_direction=t0.risk_direction, direction=0,
                                splits=t0.splits, categories=t0.categories, special_codes=t0.special_codes,
                                count=[int(c) for c in count[:nb + 2]] + [0],
                                event=[int(e) for e in event[:nb + 2]] + [0], woe=[])

    return FrozenBinsScorecard


def shrunk_fit(card, kept, bins, y, factor):
    """WoE card (coef_f * WoE_f per bin), then monotone per-bin corrections d fitted on top of it:
    minimise shrink_C * logloss(offset + b + S d) + |d|^2 / 2, the total steps (WoE step + d) kept within the
    card's direction. The shrinkage is toward the WoE card, not toward zero."""
    from scipy.optimize import minimize
    from scipy.special import expit

    from deepcredit.models.scorecard import _step_design

    woe = {t.name: np.asarray(t.woe)[bins[t.name]] for t in kept}
    active = list(kept)
    intercept = card._fit_woe(active, woe, y, {}, factor)  # may drop wrong-signed characteristics
    for t in kept:
        if t not in active:
            t.set_logit([0.0] * len(t.count), factor)  # fit() then records "no effect" for it
    kept = active
    if card.shrink_C <= 0:
        return intercept
    offset = intercept + sum(np.asarray(t.logit)[bins[t.name]] for t in kept)
    designs = [_step_design(t, bins[t.name]) for t in kept]
    S = np.column_stack([d[0] for d in designs])
    bounds = []
    for t, (_, bnds, _) in zip(kept, designs, strict=True):
        nb = t.n_value_bins
        w = np.diff(np.asarray(t.logit[:nb]))  # the WoE card's own steps
        for j, (lo, hi) in enumerate(bnds):
            if j < nb - 1:
                bounds.append((None if lo is None else lo - w[j], None if hi is None else hi - w[j]))
            else:
                bounds.append((lo, hi))
    C, s = card.shrink_C, 2.0 * y - 1.0

    def objective(theta):
        m = s * (offset + theta[0] + S @ theta[1:])
        g = -s * expit(-m)
        grad = np.concatenate([[C * g.sum()], C * (S.T @ g) + theta[1:]])
        return C * float(np.sum(np.logaddexp(0.0, -m))) + 0.5 * float(theta[1:] @ theta[1:]), grad

    res = minimize(objective, np.zeros(S.shape[1] + 1), jac=True, method="L-BFGS-B",
                   bounds=[(None, None), *bounds], options={"maxiter": 10_000})
    intercept += float(res.x[0])
    start = 0
    for t, (cols, _, to_logit) in zip(kept, designs, strict=True):
        d_logit, centre = to_logit(res.x[1 + start:1 + start + cols.shape[1]])
        start += cols.shape[1]
        intercept += centre
        t.set_logit(np.asarray(t.logit) + d_logit, factor)
    return intercept


class InnerCVScorecard:
    """Bins once on the training rows, then picks the regression settings (`grid`: list of dicts over C,
    fit_points, iv_min, ...) by stratified inner K-fold CV on those rows (WoE, selection and the regression
    refitted on each inner-train part; mean inner AUC; ties go to the earlier grid entry), then fits the
    chosen settings on all training rows. Returns the fitted WoEScorecard (with `inner_cv_` attached)."""

    def __init__(self, grid: list[dict], inner_folds: int = 5, seed: int = 0, min_bin_events: float | None = None,
                 **params) -> None:
        self.grid, self.inner_folds, self.seed, self.params = grid, inner_folds, seed, params
        self.min_bin_events = min_bin_events

    def fit(self, X: pd.DataFrame, y: np.ndarray, definitions=None):
        from sklearn.model_selection import StratifiedKFold

        from deepcredit.models.scorecard import WoEScorecard

        y = np.asarray(y).astype(int)
        params = dict(self.params)
        params["min_bin_size"] = min_bin_size_for(y, params.get("min_bin_size", 0.01), self.min_bin_events)
        base = WoEScorecard(**params)
        defs = base._candidates(X, definitions)
        frozen = {d.name: base._bin_one(d, X[d.name], y) for d in defs}
        cls = frozen_card_class()

        def card(cfg):
            m = cls(**{**params, **cfg})
            m.frozen_ = frozen
            return m

        folds = list(StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed).split(X, y))
        results = []
        for cfg in self.grid:
            aucs = []
            for a, b in folds:
                try:
                    m = card(cfg).fit(X.iloc[a], y[a], definitions=defs)
                    aucs.append(auc(y[b], m.predict_proba(X.iloc[b])[:, 1]))
                except ValueError:  # e.g. no characteristic passes IV on this part
                    aucs.append(0.5)
            results.append(float(np.mean(aucs)))
        best = int(np.argmax(results))
        final = card(self.grid[best]).fit(X, y, definitions=defs)
        final.inner_cv_ = {"chosen": self.grid[best], "inner_auc": results[best],
                           "min_bin_size": params["min_bin_size"]}
        return final


class InnerCVBinningScorecard:
    """Chooses binning settings AND regression settings by stratified inner K-fold CV on the training rows.

    For each inner fold and each binning config (`binnings`: dicts of max_n_prebins, min_prebin_size,
    min_bin_size, unknown_trend, ...), the characteristics are binned on the inner-train part only (so a
    finer binning gets no credit for having seen the inner-validation labels); with those bins frozen, each
    regression config (`grid`: dicts of fit_points, C, iv_min, ...) is fitted on the inner-train part and
    scored on the inner-validation part. The (binning, regression) pair with the best mean inner AUC
    (ties: the earlier one) is then fitted on all training rows. Returns that fitted WoEScorecard, with
    `inner_cv_` attached."""

    def __init__(self, binnings: list[dict], grid: list[dict], inner_folds: int = 5, seed: int = 0,
                 **params) -> None:
        self.binnings, self.grid, self.inner_folds, self.seed, self.params = binnings, grid, inner_folds, seed, params

    def fit(self, X: pd.DataFrame, y: np.ndarray, definitions=None):
        from sklearn.model_selection import StratifiedKFold

        from deepcredit.models.scorecard import WoEScorecard

        y = np.asarray(y).astype(int)
        defs = WoEScorecard(**self.params)._candidates(X, definitions)
        cls = frozen_card_class()

        def card(frozen, bcfg, rcfg):
            rcfg = dict(rcfg)
            shrink = rcfg.pop("shrink_C", None)
            m = cls(**{**self.params, **bcfg, **rcfg})
            m.frozen_, m.shrink_C = frozen, shrink
            return m

        def binned(bcfg, Xp, yp):
            b = WoEScorecard(**{**self.params, **bcfg})
            return {d.name: b._bin_one(d, Xp[d.name], yp) for d in defs}

        folds = list(StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed).split(X, y))
        scores = np.zeros((len(self.binnings), len(self.grid), len(folds)))
        for k, (a, b) in enumerate(folds):
            Xa, Xb = X.iloc[a], X.iloc[b]
            for i, bcfg in enumerate(self.binnings):
                frozen = binned(bcfg, Xa, y[a])
                for j, rcfg in enumerate(self.grid):
                    try:
                        m = card(frozen, bcfg, rcfg).fit(Xa, y[a], definitions=defs)
                        scores[i, j, k] = auc(y[b], m.predict_proba(Xb)[:, 1])
                    except ValueError:
                        scores[i, j, k] = 0.5
        mean = scores.mean(axis=2)
        i, j = np.unravel_index(int(np.argmax(mean)), mean.shape)
        final = card(binned(self.binnings[i], X, y), self.binnings[i], self.grid[j]).fit(X, y, definitions=defs)
        final.inner_cv_ = {"binning": self.binnings[i], "chosen": self.grid[j], "inner_auc": float(mean[i, j]),
                           "inner_auc_default": float(mean[0, 0])}
        return final


def scorecard_member_class():
    from deepcredit.models.scorecard_member import ScorecardModel

    class StudyScorecard(ScorecardModel):
        """ScorecardModel whose card comes from InnerCVScorecard (params: its keyword arguments)."""

        def _scorecard(self):
            p = dict(self.params or {})
            grid = p.pop("grid", None)
            binnings = p.pop("binnings", None)
            if binnings is not None:
                return InnerCVBinningScorecard(binnings, grid, **p, allow_protected=self.allow_protected)
            if grid is None:
                from deepcredit.models.scorecard import WoEScorecard

                k = p.pop("min_bin_events", None)
                kp = p.pop("min_prebin_events", None)

                class Adaptive:
                    def fit(_, X, y, definitions=None):
                        y = np.asarray(y)
                        q = {**p, "min_bin_size": min_bin_size_for(y, p.get("min_bin_size", 0.01), k),
                             "min_prebin_size": min_bin_size_for(y, p.get("min_prebin_size", 0.01), kp)}
                        return WoEScorecard(**q, allow_protected=self.allow_protected).fit(X, y, definitions)
                return Adaptive()
            return InnerCVScorecard(grid, **p, allow_protected=self.allow_protected)

    return StudyScorecard


def study_scorecard(**params):
    cls = scorecard_member_class()
    return lambda: cls(params=params)


C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
GRID_C = [{"C": c} for c in C_GRID]
GRID_C_FP = [{"fit_points": fp, "C": c} for fp in ("woe", "bins") for c in C_GRID]
GRID_C_FP_IV = [{**g, "iv_min": iv} for iv in (0.02, 0.0) for g in GRID_C_FP]

for _k in (5, 10, 20):
    variant(f"scorecard:minev{_k}", f"min_bin_size = max(0.01, {_k} / n_rarer_class) (data-size-aware bins)")(
        _member(study_scorecard(min_bin_events=_k)))
variant("scorecard:iv0", "iv_min=0 (keep every characteristic, as optbinning's default does)")(
    _member(scorecard(iv_min=0.0)))
variant("scorecard:prebin20", "optbinning's prebinning defaults: max_n_prebins=20, min_prebin_size=0.05")(
    _member(scorecard(max_n_prebins=20, min_prebin_size=0.05)))
variant("scorecard:C0.1", "C=0.1 fixed")(_member(scorecard(C=0.1)))
variant("scorecard:cvC", "C chosen by inner 5-fold CV on the training rows (fit_points='bins')")(
    _member(study_scorecard(grid=GRID_C)))
variant("scorecard:cvCfp", "C x fit_points chosen by inner 5-fold CV")(_member(study_scorecard(grid=GRID_C_FP)))
variant("scorecard:cvCfpiv", "C x fit_points x iv_min{0.02,0} chosen by inner 5-fold CV")(
    _member(study_scorecard(grid=GRID_C_FP_IV)))
BIN_TODAY = {}
BIN_COARSE = {"max_n_prebins": 20, "min_prebin_size": 0.05, "min_bin_size": None}
BIN_COARSE_AUTO = {**BIN_COARSE, "unknown_trend": "auto"}
GRID_R = [{"fit_points": fp, "C": c, "iv_min": iv} for fp in ("bins", "woe") for iv in (0.02, 0.0)
          for c in (1.0, 0.3, 0.1, 0.03)]
"""Regression settings; today's default (bins, C=1, iv 0.02) first, so it wins ties."""
variant("scorecard:cvBR", "binning {today, coarse, coarse+trend auto} x (fit_points x C x iv_min) by inner CV")(
    _member(study_scorecard(binnings=[BIN_TODAY, BIN_COARSE, BIN_COARSE_AUTO], grid=GRID_R)))
variant("scorecard:cvR-coarse-auto", "binning coarse+trend auto fixed; fit_points x C x iv_min by inner CV")(
    _member(study_scorecard(binnings=[BIN_COARSE_AUTO], grid=GRID_R)))
GRID_SHRINK = [{"fit_points": "bins", "C": 1.0, "iv_min": 0.0, "shrink_C": c} for c in (0.0, 0.01, 0.03, 0.1, 0.3)]
"""shrink_C 0 first: the WoE card with optbinning's defaults (optb-like) wins ties."""
variant("scorecard:shrink", "coarse+auto binning; WoE card + per-bin corrections shrunk toward it, shrink_C by "
        "inner CV")(_member(study_scorecard(binnings=[BIN_COARSE_AUTO], grid=GRID_SHRINK)))
variant("scorecard:cvB-shrink", "binning {today, coarse+auto} x shrink_C by inner CV")(_member(study_scorecard(
    binnings=[BIN_COARSE_AUTO, BIN_TODAY], grid=GRID_SHRINK)))
variant("scorecard:cvCfp+minev10", "inner-CV C x fit_points, and min_bin_size = max(0.01, 10 / n_rarer)")(
    _member(study_scorecard(grid=GRID_C_FP, min_bin_events=10)))


OPTB_LIKE = {"fit_points": "woe", "iv_min": 0.0, "max_n_prebins": 20, "min_prebin_size": 0.05,
             "min_bin_size": None, "unknown_trend": "auto"}
"""WoEScorecard set as close to optbinning's defaults as its parameters allow (ablation towards the peer)."""
variant("scorecard:trend-auto", "unknown_trend='auto' (optbinning's heuristic: peaks and valleys allowed)")(
    _member(scorecard(unknown_trend="auto")))
variant("scorecard:trend-none", "unknown_trend=None (no monotone constraint where no direction is declared)")(
    _member(scorecard(unknown_trend=None)))
variant("scorecard:optb-like", f"WoEScorecard({OPTB_LIKE})")(_member(scorecard(**OPTB_LIKE)))
variant("scorecard:optb-like-asc-desc", "as optb-like, unknown_trend='auto_asc_desc' (today's)")(
    _member(scorecard(**{**OPTB_LIKE, "unknown_trend": "auto_asc_desc"})))
variant("scorecard:optb-like-iv02", "as optb-like, iv_min=0.02 (today's)")(
    _member(scorecard(**{**OPTB_LIKE, "iv_min": 0.02})))
variant("scorecard:optb-like-fineprebins", "as optb-like, max_n_prebins=50, min_prebin_size=0.01, "
        "min_bin_size=0.01 (today's binning)")(
    _member(scorecard(**{**OPTB_LIKE, "max_n_prebins": 50, "min_prebin_size": 0.01, "min_bin_size": 0.01})))
variant("scorecard:optb-like-prebin-minev10", "as optb-like, but min_prebin_size = max(0.01, 10 / n_rarer) "
        "(max_n_prebins 50)")(_member(study_scorecard(**{**OPTB_LIKE, "max_n_prebins": 50, "min_prebin_size": 0.01,
                                                      "min_prebin_events": 10})))
variant("scorecard:optb-like-bins", "as optb-like, fit_points='bins'")(
    _member(scorecard(**{**OPTB_LIKE, "fit_points": "bins"})))


PROFILES = [{}, OPTB_LIKE]
"""Two whole configurations: today's defaults ('fine': validated on UCI) and optbinning's defaults ('coarse')."""
variant("scorecard:cv-profile", "profile {today's defaults, optbinning's defaults} chosen by inner 5-fold CV "
        "(each binned on the inner-train part; ties: today's)")(_member(study_scorecard(binnings=PROFILES, grid=[{}])))


def gbdt_member_class():
    """GBDTModel that picks its number of trees by stratified inner K-fold CV (lightgbm.cv) on the training
    rows instead of one 15 % hold-out (on 700 rows that hold-out is 105 rows, 31 bads: a noisy stopping
    point), then fits all rows with that many trees."""
    from deepcredit.models.gbdt import GBDTModel, design_matrix, model_features

    class CVTreesGBDT(GBDTModel):
        def fit(self, inp, y=None):
            import lightgbm as lgb

            from deepcredit.features.spec import Kind

            y = inp.y if y is None else np.asarray(y, dtype=np.int64)
            X = inp.X
            defs = model_features(inp.definitions, X.columns, self.features, self.allow_protected)
            names = [d.name for d in defs]
            cats = {d.name: sorted(X[d.name].dropna().astype(str).unique().tolist())
                    for d in defs if d.kind is Kind.CATEGORICAL}
            A = design_matrix(X, names, cats)
            clf = self._classifier(self.n_estimators)
            params = {**clf.get_params(), "objective": "binary", "metric": "binary_logloss"}
            for k in ("n_estimators", "silent", "importance_type", "class_weight"):
                params.pop(k, None)
            ds = lgb.Dataset(A, y, categorical_feature=[j for j, n in enumerate(names) if n in cats] or "auto",
                             free_raw_data=False)
            res = lgb.cv(params, ds, num_boost_round=self.n_estimators, nfold=5, stratified=True, seed=self.seed,
                         callbacks=[lgb.early_stopping(self.early_stopping_rounds or 100, verbose=False)])
            n_trees = max(len(next(iter(res.values()))), 1)
            plain = GBDTModel(**{**self.get_params(), "n_estimators": n_trees, "early_stopping_rounds": None})
            plain.fit(inp, y)
            self.__dict__.update({k: v for k, v in plain.__dict__.items() if k.endswith("_")})
            self.cv_trees_ = n_trees
            return self

    return CVTreesGBDT


def study_gbdt(**params):
    cls = gbdt_member_class()
    return lambda: cls(**{"n_jobs": 1, **params})


variant("gbdt:mcs20", "GBDTModel(min_child_samples=20)")(_member(gbdt(min_child_samples=20)))
variant("gbdt:cvtrees", "GBDTModel, trees by inner 5-fold CV")(_member(study_gbdt()))
variant("gbdt:cvtrees+mcs20", "GBDTModel(min_child_samples=20), trees by inner 5-fold CV")(
    _member(study_gbdt(min_child_samples=20)))


def study_stack(members: dict, **params):
    """StackModel whose members are built by the given factories (kind -> zero-argument callable)."""
    from deepcredit.models.stack import StackModel

    class StudyStack(StackModel):
        def _new_member(self, kind):
            return members[kind]() if kind in members else super()._new_member(kind)

    return lambda: StudyStack(**{"members": list(members), **params})


SC_BEST = {"binnings": [BIN_COARSE_AUTO], "grid": GRID_R}
variant("stack:sc-optb", "stack [scorecard with optbinning's defaults (optb-like), gbdt, wide_deep]")(
    _member(study_stack({"scorecard": scorecard(**OPTB_LIKE), "gbdt": gbdt(), "wide_deep": wide_deep()})))
variant("stack:sc-cvR", "stack [scorecard:cvR-coarse-auto, gbdt, wide_deep]")(_member(study_stack(
    {"scorecard": study_scorecard(**SC_BEST), "gbdt": gbdt(), "wide_deep": wide_deep()})))
variant("stack:sc-cvR+gbdt-cv", "stack [scorecard:cvR-coarse-auto, gbdt:cvtrees, wide_deep]")(_member(study_stack(
    {"scorecard": study_scorecard(**SC_BEST), "gbdt": study_gbdt(), "wide_deep": wide_deep()})))
variant("stack:sc-cvR+gbdt-cv-nowd", "stack [scorecard:cvR-coarse-auto, gbdt:cvtrees]")(_member(study_stack(
    {"scorecard": study_scorecard(**SC_BEST), "gbdt": study_gbdt()})))


# -- running ------------------------------------------------------------------------------------------

def auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def summary(rec: dict) -> dict:
    out = {}
    if "split" in rec:
        out["auc"] = round(rec["split"][0], 4)
    if len(rec.get("cv", [])) > 1:
        a = np.asarray(rec["cv"])
        out["cv_auc"] = round(float(a.mean()), 4)
        out["cv_sd"] = round(float(a.std(ddof=1)), 4)
        out["cv_folds"] = len(a)  # 25 = the full protocol; fewer = the first repeat(s) only
    return out


def load_results() -> dict:
    if OUT.exists():
        return json.loads(OUT.read_text())
    return {}


def save_results(res: dict, name: str) -> None:
    """Merge this run's record of `name` into the file as it is now (another run may have added others)."""
    now = load_results()
    now.update({k: v for k, v in res.items() if k != "variants"})
    now.setdefault("variants", {})[name] = res["variants"][name]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(now, indent=1, sort_keys=True))
    os.replace(tmp, OUT)


def run(names: list[str], protocols: list[str], force: bool, max_folds: int = 0) -> dict:
    res = load_results()
    res.setdefault("protocol", {
        "data": "german_credit.csv, 1000 rows, 300 bad; inputs: the 17 non-protected attributes",
        "split": "train_test_split(test_size=0.3, stratify=y, random_state=42)",
        "cv": "RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=42)",
        "metric": "ROC AUC on held-out rows; choices made inside fit on training rows only"})
    variants = res.setdefault("variants", {})
    cache: dict = {}
    for name in names:
        ordinal = name.endswith("+ord")
        if ordinal not in cache:
            X, y = load_german(ordinal)
            cache[ordinal] = {"X": X, "y": y, "inp": model_input(X, y), "plans": plans(y)}
        ctx = cache[ordinal]
        fit = VARIANTS[name.removesuffix("+ord")](ctx)
        rec = variants.setdefault(name, {})
        rec["description"] = DESCRIPTIONS[name.removesuffix("+ord")] + (" (ordered text columns as ranks)"
                                                                         if ordinal else "")
        for proto in protocols:
            folds = ctx["plans"][proto][:max_folds or None]
            aucs = [] if force else list(rec.get(proto, []))  # resume a partial run fold by fold
            t0 = time.perf_counter() - rec.get(f"{proto}_seconds", 0.0) * (len(aucs) > 0)
            for tr, te in folds[len(aucs):]:
                score = np.asarray(fit(tr, te), dtype=float)
                aucs.append(auc(ctx["y"][te], score))
                rec[proto] = aucs
                if proto == "split":
                    rec["split_scores"] = [round(float(v), 6) for v in score]  # for paired (DeLong) tests
                rec[f"{proto}_seconds"] = round(time.perf_counter() - t0, 1)
                rec["summary"] = summary(rec)
                save_results(res, name)
        rec["summary"] = summary(rec)
        save_results(res, name)
        print(f"{name:40s} {rec['summary']}", flush=True)
    return res


UCI_SCORECARDS = {
    "scorecard": {},
    "scorecard:cvCfp": {"grid": GRID_C_FP},
    "scorecard:cvR-coarse-auto": {"binnings": [BIN_COARSE_AUTO], "grid": GRID_R},
    "scorecard:cvBR": {"binnings": [BIN_TODAY, BIN_COARSE, BIN_COARSE_AUTO], "grid": GRID_R},
    "scorecard:optb-like": OPTB_LIKE,
    "scorecard:cv-profile": {"binnings": PROFILES, "grid": [{}]},
    "scorecard:cvB-shrink": {"binnings": [BIN_COARSE_AUTO, BIN_TODAY], "grid": GRID_SHRINK},
}
"""The scorecard variants checked on UCI (same parameters as the German variants of the same name)."""


def uci_frame():
    """The engine's UCI features (as scripts/bench_scorecard.py builds them), cached under /tmp."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.data.datasets import load_bundled
    from deepcredit.features.engine import FeatureFrame, build_features

    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "german-study-uci"
    path = cache / "features.parquet"
    if path.exists():
        return FeatureFrame.load(path)
    d = cache / "data"
    ds = Dataset(d) if (d / "manifest.json").exists() else load_bundled("uci", d)
    ff = build_features(ds)
    ff.save(path)
    return ff


def run_uci(names: list[str], rows: int) -> None:
    """UCI check of scorecard variants: the 70/30 split of scripts/bench_scorecard.py (stratified,
    random_state=42) over all 30,000 rows, or over a stratified sample of `rows` rows (random_state=42)."""
    from sklearn.model_selection import train_test_split

    from deepcredit.features.bundle import ModelInput

    ff = uci_frame()
    frame = ff.frame.sort_values("person_id").reset_index(drop=True)  # bench order: ID ascending
    y = frame["label"].to_numpy().astype(np.int64)
    idx = np.arange(len(y))
    if rows and rows < len(y):
        idx, _ = train_test_split(idx, train_size=rows, stratify=y, random_state=SEED)
        idx = np.sort(idx)
    tr, te = train_test_split(np.arange(len(idx)), test_size=0.3, stratify=y[idx], random_state=SEED)
    sub = type(ff)(frame.iloc[idx].reset_index(drop=True), ff.definitions, ff.meta)
    inp = ModelInput(tabular=sub)
    res = load_results()
    key = f"uci_{rows or len(y)}"
    out = res.setdefault(key, {})
    cls = scorecard_member_class()
    for name in names:
        if name in out:
            print(f"uci {rows or len(y)} {name:32s} {out[name]}", flush=True)
            continue
        t0 = time.perf_counter()
        m = cls(params=UCI_SCORECARDS[name]).fit(inp.take(tr))
        a = auc(y[idx][te], m.decision_function(inp.take(te)))
        out[name] = {"auc": round(a, 4), "fit_s": round(time.perf_counter() - t0, 1),
                     "chosen": getattr(m.card_model_, "inner_cv_", None), "n_features": len(m.used_features_)}
        now = load_results()
        now.setdefault(key, {})[name] = out[name]
        res = now
        OUT.parent.mkdir(parents=True, exist_ok=True)
        tmp = OUT.with_suffix(f".json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(now, indent=1, sort_keys=True))
        os.replace(tmp, OUT)
        print(f"uci {rows or len(y)} {name:32s} {out[name]}", flush=True)


# -- report -------------------------------------------------------------------------------------------

def delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """AUC of a, of b, and the standard error of AUC(a) - AUC(b) on the same rows (DeLong et al., 1988)."""
    pos, neg = y == 1, y == 0

    def components(s):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)

    A, va, wa = components(a)
    B, vb, wb = components(b)
    s10 = np.cov(np.vstack([va, vb]))
    s01 = np.cov(np.vstack([wa, wb]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum() + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum()
    return float(A), float(B), float(np.sqrt(max(var, 0.0)))


def hanley_mcneil_se(a: float, n_pos: int, n_neg: int) -> float:
    """Standard error of one AUC estimate on n_pos + n_neg rows (Hanley & McNeil, 1982)."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return math.sqrt((a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg))


def report(ref: str = "peer:optbinning") -> str:
    """Markdown table: split AUC, CV mean +- sd, and the paired difference to `ref` on both protocols
    (split: DeLong SE; CV: mean of the 25 per-fold differences and their sd / sqrt(25), which understates the
    true uncertainty because repeated-CV folds overlap)."""
    res = load_results()
    X, y = load_german()
    te = plans(y)["split"][0][1]
    yt = y[te]
    v = res.get("variants", {})
    lines = ["| model | split AUC | CV AUC mean ± sd | split − optbinning (± DeLong SE) | CV − optbinning (± SE) |",
             "|---|---|---|---|---|"]
    r = v.get(ref, {})
    for name, rec in v.items():
        sm = rec.get("summary", {})
        d_split = d_cv = ""
        if "split_scores" in rec and "split_scores" in r:
            a, b, se = delong(yt, np.asarray(rec["split_scores"]), np.asarray(r["split_scores"]))
            d_split = f"{a - b:+.4f} ± {se:.4f}"
        k = min(len(rec.get("cv", [])), len(r.get("cv", [])))
        if k > 1:  # paired over the folds both have (the first k of the same protocol)
            d = np.asarray(rec["cv"][:k]) - np.asarray(r["cv"][:k])
            d_cv = f"{d.mean():+.4f} ± {d.std(ddof=1) / math.sqrt(k):.4f}" + (f" ({k} folds)" if k < 25 else "")
        cv = f"{sm['cv_auc']:.4f} ± {sm['cv_sd']:.4f}" if "cv_auc" in sm else ""
        if sm.get("cv_folds", 25) < 25:
            cv += f" ({sm['cv_folds']} folds)"
        lines.append(f"| {name} | {sm.get('auc', float('nan')):.4f} | {cv} | {d_split} | {d_cv} |")
    se1 = hanley_mcneil_se(0.80, int(yt.sum()), int(len(yt) - yt.sum()))
    lines.append(f"\nOne AUC of 0.80 on the 300 test rows ({int(yt.sum())} bad) has a standard error of {se1:.4f} "
                 "(Hanley & McNeil).")
    return "\n".join(lines)


def merge(paths: list[str]) -> None:
    """Merge the variants (and UCI checks) of other result files, e.g. from runs with GERMAN_STUDY_OUT."""
    res = load_results()
    for p in paths:
        other = json.loads(Path(p).read_text())
        for k, val in other.items():
            if k == "variants":
                for name, rec in val.items():
                    mine = res.setdefault(k, {}).setdefault(name, {})
                    mine.update(rec)
                    mine["summary"] = summary(mine)
            elif isinstance(val, dict) and k.startswith("uci_"):
                res.setdefault(k, {}).update(val)
            else:
                res.setdefault(k, val)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(res, indent=1, sort_keys=True))
    os.replace(tmp, OUT)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="variants to run (default: all)")
    ap.add_argument("--protocol", choices=["split", "cv", "all"], default="all")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--max-folds", type=int, default=0, help="only the first N folds of each protocol (0: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--uci", nargs="*", help=f"UCI check of these scorecard variants ({', '.join(UCI_SCORECARDS)})")
    ap.add_argument("--uci-rows", type=int, default=10_000, help="stratified sample size for --uci (0: all)")
    ap.add_argument("--merge", nargs="+", help="merge these result files into the study's JSON, then stop")
    ap.add_argument("--report", action="store_true", help="print the markdown table, then stop")
    args = ap.parse_args(argv)
    if args.merge:
        merge(args.merge)
        return
    if args.report:
        print(report())
        return
    if args.uci is not None:
        run_uci(args.uci or list(UCI_SCORECARDS), args.uci_rows)
        return
    if args.list:
        for k, v in DESCRIPTIONS.items():
            print(f"{k:40s} {v}")
        return
    names = args.only or list(VARIANTS)
    unknown = [n for n in names if n.removesuffix("+ord") not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s): {unknown}; see --list")
    protocols = ["split", "cv"] if args.protocol == "all" else [args.protocol]
    run(names, protocols, args.force, args.max_folds)


if __name__ == "__main__":
    main()
