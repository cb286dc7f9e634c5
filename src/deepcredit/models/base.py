"""The CreditModel contract every member of the stack follows, and how models become artifacts.

A model receives a ModelInput bundle (never files or SQL), follows scikit-learn conventions (the
constructor stores parameters only; fit learns attributes ending in `_`), and explains itself in one
language: contributions in log-odds of default, per feature where it can and per dimension always,
which add up with a base value to the model's own logit. scoring/ turns those into the 350–950 score,
five sub-scores and reason codes, whichever model produced them.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models.artifacts import load_artifact, save_artifact

DIMENSIONS = [d.value for d in Dimension]


@dataclass
class Explanation:
    """logit(PD) = base + by_dimension.sum(axis=1) for every row (up to float error)."""

    base: np.ndarray  # [n]
    by_dimension: pd.DataFrame  # n × the five dimensions, log-odds of default (positive = riskier)
    by_feature: pd.DataFrame | None = None  # n × features, log-odds, where the model can say
    decision: np.ndarray | None = None
    """The model's decision_function on the same rows, bit for bit, when the explaining pass has it: callers
    (the stack, report cards) then need not run the model a second time to get the exact score."""

    @classmethod
    def from_features(cls, base: np.ndarray, by_feature: pd.DataFrame, definitions: list[FeatureDef],
                      extra: dict[str, np.ndarray] | None = None, decision: np.ndarray | None = None
                      ) -> Explanation:
        """Sum per-feature contributions into dimensions; `extra` adds non-feature towers by dimension."""
        dim_of = {f.name: f.dimension.value for f in definitions}
        # one matrix product (features x dimensions indicator) instead of a pandas update per feature
        member = np.zeros((by_feature.shape[1], len(DIMENSIONS)))
        member[np.arange(by_feature.shape[1]), [DIMENSIONS.index(dim_of[c]) for c in by_feature.columns]] = 1.0
        sums = by_feature.to_numpy(dtype=np.float64) @ member if by_feature.shape[1] else \
            np.zeros((len(by_feature), len(DIMENSIONS)))
        by_dim = pd.DataFrame(sums, index=by_feature.index, columns=DIMENSIONS)
        for dim, values in (extra or {}).items():
            by_dim[dim] += values
        return cls(np.asarray(base, dtype=float), by_dim, by_feature, decision)

    def logit(self) -> np.ndarray:
        return self.base + self.by_dimension.to_numpy().sum(axis=1)


class MemberCannotFit(ValueError):
    """This model cannot be fitted on this data (no characteristic passes IV, no events, no edges, ...).

    The stack leaves such a member out with the message as its recorded reason and goes on; any other
    error still stops the run.
    """


def proba_columns(logit: np.ndarray) -> np.ndarray:
    """[n, 2] (P(good), P(default)) of logits: the one place a logit becomes a probability."""
    p = expit(np.asarray(logit, dtype=np.float64))
    return np.column_stack([1.0 - p, p])


def read_meta(files: dict[str, bytes], name: str, fmt: int, who: str) -> dict:
    """The JSON file `name` of a model's artifact files, refused unless it is format `fmt` (one check for all)."""
    meta = json.loads(files[name])
    if meta.get("format") != fmt:
        raise ValueError(f"{who}: unsupported artifact format {meta.get('format')!r} (this version reads {fmt})")
    return meta


def fit_labels(inp: ModelInput, y: object, who: str) -> np.ndarray:
    """The 0/1 labels a fit learns from: the bundle's own (y None) or `y`, one per row, none missing, both
    outcomes present. One check for every model, so no member fits on a label that is not one (a missing
    label cast to an integer is -2**63)."""
    values = pd.to_numeric(pd.Series(inp.y if y is None else np.asarray(y, dtype=object).ravel()), errors="coerce")
    if len(values) != len(inp):
        raise ValueError(f"{who}: {len(values)} labels for {len(inp)} rows: need one label per row")
    bad = values.isna() | ~values.isin([0, 1])
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{who}: the label must be 0 (good) or 1 (bad); {int(bad.sum())} of {len(values)} "
                         f"labels are missing or other values (first at row {first})")
    out = values.to_numpy(dtype=np.int64)
    if len(np.unique(out)) < 2:
        raise ValueError(f"{who}: the training rows need both outcomes (0 and 1)")
    return out


def _expects_model_input(method):
    """`method` refusing anything but a ModelInput in one line (a DataFrame, the scikit-learn habit, would
    otherwise fail deep inside pandas)."""
    @functools.wraps(method)
    def checked(self, inp, *args, **kwargs):
        if not isinstance(inp, ModelInput):
            raise TypeError(f"{self.kind}.{method.__name__}: expected a ModelInput (build one from a data set with "
                            f"deepcredit.features.bundle.build_model_input(dataset)), got {type(inp).__name__}")
        return method(self, inp, *args, **kwargs)
    return checked


class Member(NamedTuple):
    """One fitted model of a combination (CreditModel.fitted_members)."""

    kind: str
    model: CreditModel
    weight: float
    """Its weight in the combination's logit (never negative): 0 where it is fitted and saved but does not
    move the scores, so its features give no reasons and its dimensions no sub-scores."""


_CLASSES = np.array([0, 1])
_CLASSES.flags.writeable = False


class CreditModel(ClassifierMixin, BaseEstimator, ABC):
    """fit / predict_proba / explain over a ModelInput; to_files / from_files for artifacts."""

    kind: ClassVar[str]
    classes_: np.ndarray = _CLASSES
    """The labels, 0 (good) and 1 (default), in predict_proba's column order: the same for every model."""
    views: tuple[str, ...] = ("tabular",)
    """The ModelInput views this model reads."""
    reads_embeddings: ClassVar[bool] = False
    """In a stack whose temporal path is on, this member's tabular view also holds the pretrained event
    embeddings (models.pretrain) as features."""
    reference_: dict[str, float] | None = None
    """Typical feature values, set once the model is saved or loaded (save_model, REFERENCE); None before."""
    spread_: dict[str, float] | None = None
    """Each numeric feature's standard deviation over the same rows (set with reference_): how far from
    typical a person's value is (scoring.scorer.telling_figures)."""
    category_risk_: dict[str, dict[str, float]] | None = None
    """Each categorical feature's training bad rate per category of at least RATED_ROWS labelled rows
    (reference.json `bad_rate`): where the person's category is already the least risky, reasons give no
    advice to change it (scoring.advice)."""
    definitions_: list[FeatureDef] | None = None
    """The feature definitions the fitted model reads, where it keeps its own (its artifact stores them);
    None: it reads the input's."""
    categories_: dict[str, list[str]] | None = None
    """Each categorical feature's training categories, where the model keeps them itself (scoring.input_check
    reads them for artifacts whose reference.json has none); None: it keeps none."""

    def __init_subclass__(cls, **kwargs) -> None:
        """Every model's own fit / decision_function / explain refuses an input that is not a ModelInput."""
        super().__init_subclass__(**kwargs)
        for name in ("fit", "decision_function", "explain"):
            if name in cls.__dict__ and not getattr(cls.__dict__[name], "__isabstractmethod__", False):
                setattr(cls, name, _expects_model_input(cls.__dict__[name]))

    @abstractmethod
    def fit(self, inp: ModelInput, y: np.ndarray | None = None) -> CreditModel: ...

    @abstractmethod
    def decision_function(self, inp: ModelInput) -> np.ndarray:
        """The logit of default per row (float64)."""

    def predict_proba(self, inp: ModelInput) -> np.ndarray:
        """[n, 2]: P(good), P(default) = the logistic function of decision_function, for every model."""
        return proba_columns(self.decision_function(inp))

    def predict(self, inp: ModelInput) -> np.ndarray:
        """1 (default) where P(default) >= 0.5, else 0: what scikit-learn's classifier tools call."""
        return (self.predict_proba(inp)[:, 1] >= 0.5).astype(np.int64)

    @abstractmethod
    def explain(self, inp: ModelInput) -> Explanation: ...

    def settled_params(self, y: np.ndarray) -> dict[str, Any]:
        """The parameters whose automatic value this member chooses from its training labels, set to what it
        would choose on all of `y`. Why: the stack fits its fold members with them, so the fits whose
        out-of-fold PDs choose the combiner are the model that scores, not one that switched on fewer rows.
        None by default."""
        return {}

    @property
    def used_features_(self) -> list[str] | None:
        """The features the fitted model's scores depend on (only those can be reasons); None where it does
        not say, and every feature with a contribution counts."""
        return None

    def fitted_members(self) -> list[Member]:
        """The fitted models this one combines (a stack's members, in its order), each with its weight; none
        for a single model or one not fitted yet.

        Why one method: scoring, evaluation and batch sizing read a combination through its members (their
        dimensions, features, categories, graph hops, notes); each asking for `members_` by name decided
        again how to recurse and whether a member of weight 0 counts."""
        return []

    def member_logits(self, inp: ModelInput) -> pd.DataFrame:
        """Each fitted member's logit per row of `inp` as this model reads it (columns: the members' kinds, in
        fitted_members' order); no columns for a single model.

        Why on the contract: the evaluation report shows each member's own PD beside the combination's, and
        only the combination knows the input each member was fitted on (a stack's event encoder's
        embeddings), so the report asks every model and needs no test of what kind it is."""
        return pd.DataFrame(index=pd.RangeIndex(len(inp)))

    def fit_notes(self) -> list[str]:
        """What the fit chose from the data that a modeller should know of (a setting it switched by
        itself); `train` prints them and keeps them in the artifact's metrics. None by default."""
        return []

    @abstractmethod
    def to_files(self) -> dict[str, bytes]:
        """Everything needed to predict again, as named byte strings (model.json is added by save)."""

    @classmethod
    @abstractmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> CreditModel: ...


def _registry() -> dict[str, type[CreditModel]]:
    """Every model kind, by its artifact `kind` (imported lazily: torch is only loaded when needed)."""
    import importlib
    import pkgutil

    import deepcredit.models as pkg

    kinds: dict[str, type[CreditModel]] = {}
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name == "base" or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"deepcredit.models.{mod.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, CreditModel) and getattr(obj, "kind", None):
                kinds[obj.kind] = obj
    return kinds


REFERENCE = "reference.json"
"""An artifact's typical feature values (medians over the rows it was saved with), beside the model's own
files: reasons read them to tell which way a value is risky for the model (scoring.scorer.against_advice)."""


def typical_values(inp: ModelInput) -> dict[str, float]:
    """The median of each numeric feature over `inp`'s rows (features all missing are left out)."""
    numeric = [d.name for d in inp.definitions if d.kind is not Kind.CATEGORICAL and d.name in inp.X]
    medians = inp.X[numeric].apply(pd.to_numeric, errors="coerce").median() if numeric else pd.Series(dtype=float)
    return {name: float(v) for name, v in medians.items() if pd.notna(v)}


def typical_spreads(inp: ModelInput) -> dict[str, float]:
    """The standard deviation of each numeric feature over `inp`'s rows (constant or all-missing ones left out)."""
    numeric = [d.name for d in inp.definitions if d.kind is not Kind.CATEGORICAL and d.name in inp.X]
    spreads = inp.X[numeric].apply(pd.to_numeric, errors="coerce").std() if numeric else pd.Series(dtype=float)
    return {name: float(v) for name, v in spreads.items() if pd.notna(v) and v > 0}


ROBUST_MIN_VALUES = 20
"""Fewer values than this give no robust spread: a quartile of a handful says nothing of a feature's scale."""


def robust_spread(values: np.ndarray) -> float | None:
    """A spread a change of unit scales and a heavy tail does not: the interquartile range of the finite
    `values` off their median. None: too few of them, or no spread.

    Why not the standard deviation: over a heavy-tailed feature a few extreme rows make it, so a sample
    without them read as a tenfold change of unit. Why off the median: a feature mostly at one value (a
    trend of days late, 0 for most people) has an interquartile range that is 0, or, where that value
    holds about half the rows, a sliver next to it that a few points of share move tenfold; off that value
    the spread is the rest's, stable. On a continuous feature it is the interquartile range."""
    values = values[np.isfinite(values)]
    off = values[values != np.median(values)] if len(values) else values
    if len(off) < ROBUST_MIN_VALUES:
        return None
    q25, q75 = np.quantile(off, [0.25, 0.75])
    return float(q75 - q25) if q75 > q25 else None


def robust_spreads(inp: ModelInput) -> dict[str, float]:
    """robust_spread of each numeric feature over `inp`'s rows (reference.json's `robust_spread`, which
    scoring.input_check reads; artifacts saved before it have none)."""
    out: dict[str, float] = {}
    for d in inp.definitions:
        if d.kind is Kind.CATEGORICAL or d.name not in inp.X:
            continue
        found = robust_spread(pd.to_numeric(inp.X[d.name], errors="coerce").to_numpy(dtype=float))
        if found is not None:
            out[d.name] = found
    return out


DECILES = np.linspace(0.1, 0.9, 9)
RATED_ROWS = 20
"""A category's training bad rate is kept only over this many labelled rows: fewer say little, and one or two
rows would let the artifact tell a person's outcome."""


def training_profile(inp: ModelInput) -> dict:
    """What scoring compares a batch with and advises from (scoring.input_check, scoring.advice): each
    feature's missing share; each categorical's categories and bad rate per category (RATED_ROWS); each
    numeric feature's decile edges with the share of training values in each right-closed bin (a PSI's
    reference)."""
    X = inp.X
    labels = np.full(len(X), np.nan) if inp.y is None else np.asarray(inp.y, dtype=float)
    missing: dict[str, float] = {}
    categories: dict[str, list[str]] = {}
    bad_rate: dict[str, dict[str, float]] = {}
    bins: dict[str, dict[str, list[float]]] = {}
    for d in inp.definitions:
        if d.name not in X:
            continue
        col = X[d.name]
        missing[d.name] = round(float(col.isna().mean()), 6)
        if d.kind is Kind.CATEGORICAL:
            text = col.astype("string")
            categories[d.name] = sorted(text.dropna().unique().tolist())
            known = ~np.isnan(labels) & text.notna().to_numpy(dtype=bool)
            if known.any():
                grouped = pd.Series(labels[known]).groupby(text[known].to_numpy()).agg(["mean", "size"])
                rated = grouped[grouped["size"] >= RATED_ROWS]["mean"]
                bad_rate[d.name] = {str(k): round(float(v), 6) for k, v in rated.items()}
        else:
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if len(values):
                edges = np.unique(np.quantile(values, DECILES))
                counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
                bins[d.name] = {"edges": edges.tolist(), "shares": (counts / len(values)).round(6).tolist()}
    return {"missing": missing, "categories": categories, "bad_rate": bad_rate, "bins": bins}


EXECUTION_PARAMS = ("n_jobs",)
"""Constructor parameters that say how a fit ran, not what it fits (the fitted model is the same whatever
they are): kept in the artifact's run facts, out of model.json and so out of the model's identity."""


def model_params(model: BaseEstimator) -> dict:
    """A model's constructor parameters as plain JSON, less the EXECUTION_PARAMS (a stack's member_params' too)."""
    params = json.loads(json.dumps(model.get_params(deep=False), default=str))
    if isinstance(params.get("member_params"), dict):
        params["member_params"] = {kind: {k: v for k, v in p.items() if k not in EXECUTION_PARAMS}
                                   if isinstance(p, dict) else p for kind, p in params["member_params"].items()}
    return {k: v for k, v in params.items() if k not in EXECUTION_PARAMS}


def torch_device(model: object) -> str | None:
    """The device a model's torch network (`net_`) is on ('cpu', 'cuda:0'), None for a model without one: a
    run fact of every torch model, alone or a stack's member (a fit on CUDA need not give a CPU fit's bits)."""
    net = getattr(model, "net_", None)
    if net is None:
        return None
    from deepcredit.models._torch import device_of  # torch is loaded already where a model has a network

    return device_of(net)


def fit_run_facts(model: CreditModel) -> dict:
    """What a fit's run was like, beside the model: its execution parameters, the device of its torch network
    where it has one, the model's own `run_facts()` where it has them (a stack's fit seconds, processes and
    members' devices), and the machine."""
    params = model.get_params(deep=False)
    own: dict = getattr(model, "run_facts", dict)()
    device = torch_device(model)
    return {**{k: params[k] for k in EXECUTION_PARAMS if k in params}, **({"device": device} if device else {}),
            **own, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}}


def save_model(model: CreditModel, out: Path, inp: ModelInput, metrics: dict | None = None,
               config: dict | None = None, beside: Mapping[str, bytes] | None = None) -> Path:
    """A hashed artifact directory: files, parameters, feature list, data fingerprint, metrics, versions, and
    the typical feature values of `inp` (the rows the model was fitted on), which the model keeps as
    `reference_` from then on, as a loaded one does. `inp`'s keys are recorded (keyed hashes, outside the
    identity: models.artifacts) so that an evaluation can leave those rows out whatever the data set is called.
    beside: records written with it and hash-checked, outside its identity (the run record, config.json)."""
    model.reference_, model.spread_ = typical_values(inp), typical_spreads(inp)
    profile = training_profile(inp)
    model.category_risk_ = profile["bad_rate"]
    reference = json.dumps({"median": model.reference_, "spread": model.spread_,
                            "robust_spread": robust_spreads(inp), **profile}, indent=1,
                           sort_keys=True).encode("utf-8")
    return save_artifact(out, {"kind": model.kind, "params": model_params(model)}, kind=model.kind,
                         config=config or {}, features=[f.to_dict() for f in inp.definitions],
                         data_fingerprint=inp.tabular.meta.get("data_fingerprint", ""),
                         metrics=metrics or {}, extra_files={**model.to_files(), REFERENCE: reference},
                         run_facts=fit_run_facts(model), fitted_keys=inp.keys,
                         fitted_bads=None if inp.y is None else int(np.nansum(inp.y)), beside=beside)


def load_model(path: Path) -> CreditModel:
    """Load any model artifact, verifying every file's hash first."""
    art = load_artifact(Path(path))
    cls = _registry().get(art.kind)
    if cls is None:
        raise ValueError(f"{path}: unknown model kind {art.kind!r}")
    files = {name: art.path(name).read_bytes() for name in art.manifest["files"] if name != "model.json"}
    model = cls.from_files(files, art.payload["params"])
    facts = art.run_facts
    if "fit_seconds" in facts:  # since 2026-12-06 outside the model's files; older stacks read theirs
        setattr(model, "fit_seconds_", facts["fit_seconds"])  # noqa: B010 - only stacks have it
    if REFERENCE in files:  # artifacts saved before 2026-12-06 have none: their reasons keep every advice
        reference = json.loads(files[REFERENCE])
        model.reference_, model.spread_ = reference["median"], reference.get("spread")  # spread: since fe3f191 (2026-12-06)
        model.category_risk_ = reference.get("bad_rate")  # since 2026-12-06 evening: before, scorecard bins or none
    return model
