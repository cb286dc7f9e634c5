"""Gradient-boosted trees (LightGBM): the strongest single member on tabular features.

Inputs are the tabular view as one float matrix: numeric features as they are (NaN = missing, which
LightGBM routes to the better side of each split), categorical features as integer codes of the
categories seen in training (fixed at fit and saved; an unseen or missing category is NaN). Using codes
rather than pandas categories keeps prediction independent of pandas' category handling, so the saved
text model plus the category lists reproduce predict_proba bit for bit.

Fitting is deterministic (fixed seed, deterministic=True, column-wise histograms). With
early_stopping_rounds, a stratified, seeded share of the training rows picks the number of trees, and
the model is then refitted on all training rows with that many trees (refit=True), so no row is wasted.

Explanation: LightGBM's TreeSHAP (predict(pred_contrib=True)): per-feature contributions in log-odds
plus the expected value, which add up to the raw score exactly (up to float rounding).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models.base import CreditModel, Explanation, fit_labels, read_meta
from deepcredit.models.parallel import usable_cores


def numeric_values(col: pd.Series) -> np.ndarray:
    """A column as a new float64 array, anything that is not a number as NaN (numeric columns, which is
    what feature frames hold, without pd.to_numeric's parsing pass)."""
    if pd.api.types.is_numeric_dtype(col.dtype):
        return np.array(col.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64, copy=True)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def design_matrix(X: pd.DataFrame, names: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    """The float64 matrix LightGBM sees: numeric columns as they are, categorical ones as codes."""
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise ValueError(f"feature column(s) the model uses are missing from the input: {', '.join(missing)}")
    out = np.empty((len(X), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        col = X[name]
        if name in categories:
            codes = pd.Categorical(col.astype("string").astype(object), categories=categories[name]).codes
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = numeric_values(col)
    return out


def model_features(definitions: list[FeatureDef], columns, features: list[str] | None,
                   allow_protected: bool) -> list[FeatureDef]:
    """The definitions a tabular member uses: all (or the named ones), protected attributes excluded."""
    by_name = {d.name: d for d in definitions}
    if features is not None:
        unknown = [n for n in features if n not in by_name or n not in columns]
        if unknown:
            raise ValueError(f"unknown feature(s): {', '.join(unknown)}")
        defs = [by_name[n] for n in features]
    else:
        defs = [d for d in definitions if d.name in columns]
    if not allow_protected:
        defs = [d for d in defs if not d.is_protected()]
    if not defs:
        raise ValueError("no feature columns to fit on")
    return defs


SINGLE_THREAD_ROWS = 20_000
"""Training rows below which LightGBM runs on one thread when `n_jobs` is None; prediction likewise for
fewer rows than this (a service re-scores a handful of people: starting OpenMP threads for them cost more
than the trees, and added up to 16 ms to some requests). The numbers do not depend on the threads."""


class GBDTModel(CreditModel):
    """LightGBM binary classifier over the tabular view; see the module docstring.

    Parameters follow LightGBM's scikit-learn names; `features` restricts the inputs (default: every
    non-protected feature), `n_jobs` fixes the threads (results do not depend on it); None: one thread
    below SINGLE_THREAD_ROWS training rows, where OpenMP's start-up and spin-waits cost more than the work
    (German credit, 700 rows, on a busy 2-core machine: 30-60 s per fit with 2 threads, 1.5 s with one),
    else every core this process may use (models.parallel.usable_cores: a stack's worker gets its share).
    """

    kind = "gbdt"
    views = ("tabular",)
    reads_embeddings = True
    definitions_: list[FeatureDef]  # once fitted (CreditModel declares them None before)
    categories_: dict[str, list[str]]

    def __init__(self, n_estimators: int = 2000, learning_rate: float = 0.03, num_leaves: int = 15,
                 max_depth: int = -1, min_child_samples: int = 100, subsample: float = 0.8, colsample_bytree: float = 0.7,
                 reg_lambda: float = 5.0, min_split_gain: float = 0.0, max_bin: int = 255,
                 early_stopping_rounds: int | None = 100, validation_fraction: float = 0.15, refit: bool = True,
                 features: list[str] | None = None, allow_protected: bool = False, n_jobs: int | None = None,
                 seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.min_split_gain = min_split_gain
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.features = features
        self.allow_protected = allow_protected
        self.n_jobs = n_jobs
        self.seed = seed

    def _classifier(self, n_estimators: int, rows: int):
        import lightgbm as lgb

        n_jobs = self.n_jobs or (1 if rows < SINGLE_THREAD_ROWS else usable_cores())
        return lgb.LGBMClassifier(
            n_estimators=n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            max_depth=self.max_depth, min_child_samples=self.min_child_samples, subsample=self.subsample,
            subsample_freq=1,
            colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda,
            min_split_gain=self.min_split_gain, max_bin=self.max_bin, n_jobs=n_jobs,
            random_state=self.seed, deterministic=True, force_col_wise=True, verbose=-1)

    def fit(self, inp: ModelInput, y: np.ndarray | None = None) -> GBDTModel:
        import lightgbm as lgb
        from sklearn.model_selection import train_test_split

        y = fit_labels(inp, y, self.kind)
        X = inp.X
        defs = model_features(inp.definitions, X.columns, self.features, self.allow_protected)
        self.feature_names_ = [d.name for d in defs]
        self.categories_ = {d.name: sorted(X[d.name].dropna().astype(str).unique().tolist())
                            for d in defs if d.kind is Kind.CATEGORICAL}
        self.definitions_ = defs
        A = design_matrix(X, self.feature_names_, self.categories_)
        cat_idx = [j for j, n in enumerate(self.feature_names_) if n in self.categories_] or "auto"
        n_trees = self.n_estimators
        rounds = self.early_stopping_rounds if np.bincount(y).min() >= 2 else None  # else no class splits in two
        stopped = bool(rounds)
        if rounds:
            tr, va = train_test_split(np.arange(len(y)), test_size=self.validation_fraction, stratify=y,
                                      random_state=self.seed)
            clf = self._classifier(self.n_estimators, len(y))
            clf.fit(A[tr], y[tr], eval_X=(A[va],), eval_y=(y[va],), eval_metric="binary_logloss",
                    categorical_feature=cat_idx,
                    callbacks=[lgb.early_stopping(rounds, verbose=False)])
            n_trees = max(int(clf.best_iteration_ or self.n_estimators), 1)
            self.best_iteration_ = n_trees
            if not self.refit:
                self.booster_ = clf.booster_
        else:
            self.__dict__.pop("best_iteration_", None)  # every tree counts (none from an earlier fit)
        if not stopped or self.refit:
            clf = self._classifier(n_trees, len(y))
            clf.fit(A, y, categorical_feature=cat_idx)
            self.booster_ = clf.booster_
        return self

    # -- scoring ----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise RuntimeError("gbdt: call fit (or load a fitted model) first")

    def _num_iteration(self) -> int | None:
        return getattr(self, "best_iteration_", None) if not self.refit else None

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        """Raw score = logit of default, per row."""
        return self._raw(self._design(inp))

    def _design(self, inp: ModelInput) -> np.ndarray:
        self._check_fitted()
        return design_matrix(inp.X, self.feature_names_, self.categories_)

    def _predict(self, A: np.ndarray, **kind: bool) -> np.ndarray:
        if not len(A):  # LightGBM divides by the row count; no rows: no scores, no contributions
            return np.zeros((0, A.shape[1] + 1) if kind.get("pred_contrib") else 0)
        threads = {"num_threads": 1} if len(A) < SINGLE_THREAD_ROWS else {}
        return self.booster_.predict(A, num_iteration=self._num_iteration(), **kind, **threads)

    def _raw(self, A: np.ndarray) -> np.ndarray:
        return self._predict(A, raw_score=True).astype(np.float64)

    def explain(self, inp: ModelInput) -> Explanation:
        """TreeSHAP contributions per feature (log-odds); base = the expected value column."""
        A = self._design(inp)
        contrib = self._predict(A, pred_contrib=True)
        by_feature = pd.DataFrame(contrib[:, :-1], columns=self.feature_names_)
        return Explanation.from_features(contrib[:, -1], by_feature, self.definitions_, decision=self._raw(A))

    @property
    def feature_importances_(self) -> pd.Series:
        """Total gain per feature (0: never used in a split)."""
        self._check_fitted()
        gain = self.booster_.feature_importance(importance_type="gain",
                                                iteration=self._num_iteration())
        return pd.Series(gain, index=self.feature_names_, dtype=float)

    @property
    def used_features_(self) -> list[str]:
        """Features some split uses: the only ones that can be reasons."""
        imp = self.feature_importances_
        return [n for n in self.feature_names_ if imp[n] > 0]

    # -- artifacts --------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        self._check_fitted()
        meta = {"format": 1, "features": [d.to_dict() for d in self.definitions_],
                "categories": self.categories_, "best_iteration": getattr(self, "best_iteration_", None)}
        # the thread count is how it ran, not what it learnt: one fit gives one artifact whatever n_jobs was
        text = re.sub(r"\[num_threads: -?\d+\]", "[num_threads: 0]", self.booster_.model_to_string())
        return {"gbdt_model.txt": text.encode("utf-8"),
                "gbdt_meta.json": json.dumps(meta, indent=1, sort_keys=True).encode("utf-8")}

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> GBDTModel:
        import lightgbm as lgb

        model = cls(**params)
        meta = read_meta(files, "gbdt_meta.json", 1, "gbdt")
        model.definitions_ = [FeatureDef.from_dict(d) for d in meta["features"]]
        model.feature_names_ = [d.name for d in model.definitions_]
        model.categories_ = {k: list(v) for k, v in meta["categories"].items()}
        if meta.get("best_iteration") is not None:
            model.best_iteration_ = int(meta["best_iteration"])
        model.booster_ = lgb.Booster(model_str=files["gbdt_model.txt"].decode("utf-8"))
        return model
