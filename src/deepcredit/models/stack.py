"""The stack: every member's out-of-fold logit -> a combiner chosen on training data -> calibration.

Fitting (all on the training rows given):

0. The temporal path (`temporal`, off by default: config.StackConfig.temporal says why): an event encoder is pretrained without labels on the
   rows' histories plus any `histories` given (models.pretrain); its embeddings are features of the members
   with `reads_embeddings`, and it warm-starts those with `warm_start`. It is part of the artifact. When the
   folds run over time (several as-of dates, step 1), that encoder has read histories that reach into the
   performance windows of earlier rows, so the folds do not use it: each first date the folds predict gets
   an encoder of its own, with the same settings and seed, pretrained on the histories of the rows known by
   that date (_pretrain_folds), and those folds' members read its embeddings and warm-start from it. Person
   folds of one as-of date read the one encoder: every history ends before the date they predict. Person
   folds across several dates (no outcome known by a later one) get an encoder each, pretrained on the rows
   the fold trains on, so no held-out person's later events reach the encoder of their earlier rows.
1. Folds from splits.stacking_folds: grouped by person when there is one as-of date; with several,
   expanding windows over the dates that train on *all* earlier rows whose outcome is known by then
   (deployment order: a member never predicts a row from a fit on a date at or after it, nor on an
   outcome that came later; where no outcome is known by a later date, person folds). `time_groups` > 1 also splits people, which
   starves data-hungry members (OTC: out-of-fold GBDT 0.810 vs 0.897 refitted), so it is off by default.
2. Each member is fitted on each fold's training rows and predicts its held-out rows: one out-of-fold
   logit per member and row (rows of the earliest dates have none when folds are time-aware). These fits
   and the refits of step 5 are independent of each other, so they run side by side on `n_jobs`
   processes (models.parallel).
3. The combiner is chosen on those out-of-fold rows only, never on rows a member or the meta-model was
   fitted on. Candidates: the *blend* (logistic regression on the members' logits, weights >= 0 and L2
   regularised by `meta_C`: a member adds evidence or is ignored, never read backwards, so explanations
   keep their sign) and *each member alone* (a one-weight logistic map of its logit). The blend is
   cross-fitted over the out-of-fold rows (expanding time blocks when dated: always fitted on earlier
   blocks, so it is judged on a later period; person folds otherwise) and kept only when its AUC there
   beats the best member's on the same rows by more than `min_gain` (and, when `min_gain_se` > 0, by more
   than that many standard errors of the difference, from a seeded paired bootstrap over the validation
   rows; off by default: on German credit's 25 CV folds one standard error lowered the stack's mean AUC from
   0.7909 to 0.7856, the blend being right more often than the test said); otherwise the stack falls back to
   that best member. metrics_["combiner"] records the candidates' validation AUCs, the choice and why.
4. Calibration (models/calibration.py) of the chosen combiner's logit, fitted on *cross-fitted*
   predictions (the combiner predicting rows it was not fitted on). A stack that fell back to one member
   gives that member's own PD instead (meta map and calibrator the identity: the stack *is* the member)
   unless a cross-fitted calibrator lowers the member's out-of-fold log loss (_pass_through; judged in
   deployment order when dated: fitted on earlier periods, scored on later ones).
5. Every member is refitted on all training rows; those are the members that score (a member with
   weight 0 is kept so its own logit can still be read, but it costs nothing in explanations). A member
   that stops early (networks: epochs; GBDT: trees) is refitted for the median length its fold fits chose,
   without early stopping of its own (trained_length, refit_length): the out-of-fold PDs the combiner and
   calibration judged came from fits of that length. metrics_["pd_spread"] sets the refit's PDs on its
   training rows beside the out-of-fold ones.

Scoring: logit = g(b + sum_m w_m z_m), g the calibrator, z_m member m's logit.

Explanation. The meta logit is linear in the members' logits, and each member explains its logit as
base_m + sum_d c_md, so before calibration the stack explains itself exactly with
base = b + sum_m w_m base_m and c_d = sum_m w_m c_md (per feature likewise, for members that give
per-feature contributions). Calibration is a monotone map g of that logit, so the contributions are
rescaled by the secant slope of g between the base and the row's meta logit:

    s = (g(z) - g(base)) / (z - base),   c'_d = s * c_d,   base' = g(base)

which keeps each contribution's sign and share and makes base' + sum_d c'_d = g(z), the calibrated
logit, exactly. (When z is within 1e-9 of base, s is g's slope there.)
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, get_type_hints

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError
from scipy.special import expit
from sklearn.metrics import log_loss

from deepcredit.features.bundle import VIEWS, ModelInput
from deepcredit.features.sequences import Histories
from deepcredit.models.base import (
    DIMENSIONS,
    CreditModel,
    Explanation,
    Member,
    MemberCannotFit,
    _registry,
    fit_labels,
    model_params,
    read_meta,
    torch_device,
)
from deepcredit.models.calibration import Calibrator, expected_calibration_error
from deepcredit.models.discrimination import auc
from deepcredit.models.parallel import processes_for, run_tasks
from deepcredit.models.splits import Fold, as_dates, folds_over_time, known_by, person_folds, stacking_folds

if TYPE_CHECKING:
    from deepcredit.features.spec import FeatureDef
    from deepcredit.models.pretrain import EventEncoder

ALL_MEMBERS = ("scorecard", "gbdt", "sequence", "wide_deep", "graph", "hybrid")
"""Every member kind the stack knows of, in the order they are fitted."""
TEMPORAL_MEMBERS = ("hybrid",)
"""Member kinds of the temporal path: left out, with the pretraining, when the stack's `temporal` is off
(the benchmark's `stack_without_temporal` arm is the stack fitted with temporal=False)."""

LOGIT_CLIP = 30.0
SEP = "__"
"""Member files are stored in the artifact as '<index>__<kind>__<file>'."""
ENCODER = "pretrain" + SEP
"""The pretrained event encoder's files are stored as 'pretrain__<file>'."""

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
"""on_progress(member kind, steps done, steps in all) after each fit of a member."""


class MemberUnavailable(ValueError):
    """A requested member kind has no implementation in deepcredit.models."""


def available_kinds() -> dict[str, type[CreditModel]]:
    """Member kinds that exist now (every CreditModel kind except the stack itself)."""
    return {k: v for k, v in _registry().items() if k != StackModel.kind}


def default_members(temporal: bool = True) -> tuple[str, ...]:
    """ALL_MEMBERS restricted to the kinds that are implemented; without the TEMPORAL_MEMBERS unless
    `temporal` (the members a stack with that temporal switch fits when it is not told which)."""
    have = available_kinds()
    return tuple(k for k in ALL_MEMBERS if k in have and (temporal or k not in TEMPORAL_MEMBERS))


TOWER_VIEWS = {"use_sequence_tower": "temporal", "use_graph_tower": "structural"}
"""Switches of optional towers: a member whose class `views` lists every view it *may* read (wide & deep)
reads a tower's view only when the switch is on."""


def instance_views(model: CreditModel) -> tuple[str, ...]:
    """The views this member, with its parameters, reads: its `views`, less switched-off optional towers."""
    params = model.get_params(deep=False)
    off = {view for switch, view in TOWER_VIEWS.items() if params.get(switch) is False}
    return tuple(v for v in model.views if v not in off)


def model_views(model: CreditModel) -> list[str]:
    """The views to build for a model (a stack: its members' together), in VIEWS order; tabular always
    (the keys and the label travel in it)."""
    needed = {"tabular", *instance_views(model)}
    return [v for v in VIEWS if v in needed]


HOP_PARAMS = ("graph_layers", "layers")
"""Parameters that say how many hops a member reading the structural view looks (wide & deep's graph
tower, the graph model); a member that reads the graph without either is given DEFAULT_HOPS."""
DEFAULT_HOPS = 2


def graph_hops(model: CreditModel) -> int:
    """How many relation hops a model's scores depend on: the deepest graph tower of it or its members (0:
    it does not read the structural view). Batch chunks and the service's re-scores both size the
    neighbourhood they read by it."""
    if members := model.fitted_members():
        return max(graph_hops(m.model) for m in members)
    if "structural" not in instance_views(model):
        return 0
    params = model.get_params(deep=False)
    return next((int(params[p]) for p in HOP_PARAMS if p in params), DEFAULT_HOPS)


def layer_wise_members(model: CreditModel) -> dict[str, CreditModel] | None:
    """The members (by kind) of a model, or the model itself, that read the graph, where every one of them
    can be scored a layer at a time (`layer_states`: the graph model and wide & deep's graph tower can);
    None where none reads it or one cannot: batch chunks then take the neighbours within its hops."""
    members = model.fitted_members() or [Member(model.kind, model, 1.0)]
    readers = {m.kind: m.model for m in members if graph_hops(m.model)}
    return readers if readers and all(hasattr(m, "layer_states") for m in readers.values()) else None


def missing_views(model: CreditModel, inp: ModelInput) -> list[str]:
    """The views a member reads that this input lacks (a graph without edges counts as missing)."""
    views = instance_views(model)
    out = []
    if "temporal" in views and inp.sequences is None:
        out.append("temporal")
    if "structural" in views and (inp.graph is None or inp.graph.edge_index.shape[1] == 0):
        out.append("structural (no relations)" if inp.graph is not None else "structural")
    return out


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _shown_value(value: Any) -> str:
    return f"the text {value!r}" if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def param_type_problem(cls: type, name: str, value: Any) -> str | None:
    """The type a member's constructor parameter `name` takes where `value` is not of it (else None): read from
    the constructor's annotation, or, where it has none, from its default's type (a number, a flag, a text).

    A value passes what pydantic would read as the type; a text or true/false must be of the type exactly,
    so "abc" or "0.1" is no number and 1 no flag (a quoted number in a config file is a mistake to name)."""
    init = cls.__init__  # type: ignore[misc]
    try:
        hint = get_type_hints(init).get(name)
    except Exception:  # an annotation naming a type imported only for type checking
        hint = None
    if hint is None:
        default = inspect.signature(init).parameters[name].default if name in inspect.signature(init).parameters \
            else None
        hint = type(default) if isinstance(default, bool | int | float | str) else None
    if hint is None:
        return None
    try:
        adapter = TypeAdapter(hint)
    except Exception:  # a type pydantic cannot check (a fitted object): the member checks it itself
        return None
    try:
        adapter.validate_python(value, strict=isinstance(value, str | bool))
    except ValidationError:
        return _type_name(hint)
    return None


def check_member_params(member_params: dict | None) -> None:
    """Refuse parameters given for a member kind that does not exist (a misspelled `gbdts`), naming the known
    kinds: ignored, they would still be recorded in the run's config as though they had taken effect."""
    have = available_kinds()
    unknown = sorted(set(member_params or {}) - set(have))
    if unknown:
        raise ValueError(f"member_params: unknown member kind(s) {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(sorted(have))})")


def make_member(kind: str, params: dict | None = None, seed: int | None = None) -> CreditModel:
    """A new member of `kind` with `params`; `seed` is its seed unless params set one; an unknown name is an error."""
    cls = available_kinds()[kind]
    names = set(cls._get_param_names())
    unknown = sorted(set(params or {}) - names)
    if unknown:
        raise ValueError(f"member {kind!r} has no parameter(s) {', '.join(unknown)} "
                         f"(it takes: {', '.join(sorted(names))})")
    for name, value in (params or {}).items():
        if (expected := param_type_problem(cls, name, value)) is not None:
            raise ValueError(f"member {kind!r}, parameter {name!r}: expected {expected}, got {_shown_value(value)}")
    own = dict(params or {})
    if seed is not None and "seed" in names and "seed" not in own:
        own["seed"] = seed
    return cls(**own)


def member_views(kind: str, params: dict | None = None) -> tuple[str, ...]:
    """The views a member of this kind, with these parameters, reads."""
    return instance_views(make_member(kind, params))


def member_logit(model: CreditModel, inp: ModelInput, decision: np.ndarray | None = None) -> np.ndarray:
    """A member's logit of default per row, clipped for the meta-model (`decision`: its decision_function
    on these rows when already at hand, e.g. from its explanation)."""
    z = model.decision_function(inp) if decision is None else decision
    return np.clip(np.asarray(z, dtype=np.float64), -LOGIT_CLIP, LOGIT_CLIP)


def input_for(model: CreditModel | type[CreditModel], inp: ModelInput, embedded: ModelInput) -> ModelInput:
    """The input a member reads: with the encoder's embeddings when it reads them."""
    return embedded if model.reads_embeddings else inp


FINAL = -1
"""The fold number of a member's refit on all training rows."""


def trained_length(member: CreditModel) -> dict[str, Any]:
    """The training length a fitted member's early stopping chose, as the parameters that train that long
    without stopping early: epochs of a network (max_epochs, no validation share), trees of the GBDT
    (n_estimators, no early stopping); {} for a member without early stopping."""
    params = member.get_params(deep=False)
    epochs, trees = getattr(member, "best_epoch_", None), getattr(member, "best_iteration_", None)
    if "max_epochs" in params and "val_fraction" in params and epochs:
        return {"max_epochs": int(epochs), "val_fraction": 0.0}
    if "n_estimators" in params and "early_stopping_rounds" in params and trees:
        return {"n_estimators": int(trees), "early_stopping_rounds": None}
    return {}


def refit_length(lengths: list[dict[str, Any]]) -> dict[str, Any]:
    """The folds' training lengths as one: the median (rounded up) of each count, the other settings as
    they are; {} unless every fold stopped early."""
    if not lengths or not all(lengths) or len({tuple(sorted(d)) for d in lengths}) > 1:
        return {}
    return {k: int(math.ceil(np.median([d[k] for d in lengths]))) if isinstance(v, int) else v
            for k, v in lengths[0].items()}


FoldEmbeddings = tuple[np.ndarray, list["FeatureDef"]]
"""One fold encoder's embeddings: values for the rows of the tabular frame its folds read, and its features."""


def _fit_member(inputs: tuple[ModelInput, ModelInput, list[FoldEmbeddings]], kind: str, fold: int,
                member: CreditModel, train: np.ndarray | None, predict: np.ndarray | None,
                encoder: int | None = None) -> tuple[str, int, Any, float]:
    """One fit of the stack (run by models.parallel, perhaps in a worker): `member` fitted on rows `train`
    of its input (inputs: without and with the encoder's embeddings, and the fold encoders' embeddings;
    `encoder`: which of those this fold reads, None: the stack's own) and (its logits of rows `predict`, its
    trained_length), or the fitted member itself when `predict` is None (None `train`: every row). A
    MemberCannotFit is returned, not raised, so the stack can leave the member out. Returns (kind, fold,
    result, seconds)."""
    t0 = time.perf_counter()
    inp, embedded, fold_embeddings = inputs
    if encoder is not None and member.reads_embeddings:
        from deepcredit.models.pretrain import with_embedding_values

        src = with_embedding_values(inp, *fold_embeddings[encoder])
    else:
        src = input_for(member, inp, embedded)
    try:
        member.fit(src if train is None else src.take(train))
        result: Any = member if predict is None else (member_logit(member, src.take(predict)),
                                                      trained_length(member))
    except MemberCannotFit as exc:
        result = exc
    return kind, fold, result, time.perf_counter() - t0


def _pretrain_fold(inp: ModelInput, i: int, rows: np.ndarray, params: dict | None, seed: int
                   ) -> tuple[int, EventEncoder | MemberCannotFit]:
    """A fold date's encoder (StackModel._pretrain_folds; run by models.parallel, perhaps in a worker):
    pretrained on the histories of rows `rows` of `inp`, or the MemberCannotFit that says why it cannot be."""
    from deepcredit.models.pretrain import histories_of, pretrain

    try:
        return i, pretrain(histories_of(inp.take(rows)), params, seed)
    except MemberCannotFit as exc:
        return i, exc


def _spread(pd_: np.ndarray) -> dict[str, float]:
    """Mean, 90th and 99th percentile and maximum of PDs: whether the refitted stack's PDs reach as far as
    the out-of-fold PDs its calibration was judged on."""
    return {k: round(float(v), 4) for k, v in
            (("mean", np.mean(pd_)), ("p90", np.quantile(pd_, 0.9)), ("p99", np.quantile(pd_, 0.99)),
             ("max", np.max(pd_)))}


def _combiner_why(blend: float, best: str, best_auc: float, bar: float, bar_rule: str) -> str:
    """The combiner's choice in words a modeller reads in the training summary."""
    gain = blend - best_auc
    versus = f"the blend's validation AUC ({blend:.4f}) against the best member's ({best}, {best_auc:.4f})"
    needed = f" (it must gain more than {bar:.4f}: {bar_rule})" if bar > 0 else ""
    if gain > bar:
        return f"{versus}: {gain:+.4f}{needed}; the stack blends its members"
    return f"{versus}: {gain:+.4f}{needed}; the stack falls back to {best}"


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """The AUC, None (not NaN: the stack's record is JSON) where the rows hold one class."""
    a = auc(y, p)
    return None if math.isnan(a) else a


BOOTSTRAP_ROUNDS = 100


def _paired_auc_se(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int, people: np.ndarray) -> float:
    """Bootstrap standard error of AUC(a) - AUC(b) over the same resampled people (seeded): a person's rows
    at several as-of dates go in or out together, since they are not independent draws."""
    from sklearn.metrics import roc_auc_score

    codes, _ = pd.factorize(pd.Series(people))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(codes.max() + 2))
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(BOOTSTRAP_ROUNDS):
        drawn = rng.integers(0, len(bounds) - 1, len(bounds) - 1)
        start, size = bounds[drawn], bounds[drawn + 1] - bounds[drawn]
        i = order[np.arange(size.sum()) - np.repeat(np.cumsum(size) - size - start, size)]  # drawn people's rows
        if 0 < y[i].sum() < len(i):
            diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    return float(np.std(diffs)) if len(diffs) > 1 else 0.0


class StackModel(CreditModel):
    """Members by kind, stacked on out-of-fold logits and calibrated; see the module docstring.

    members: kinds to stack (None: every implemented kind of ALL_MEMBERS); member_params: constructor
    arguments per kind (kinds not in the stack are ignored; a kind that does not exist is an error); n_folds: out-of-fold folds (time blocks when
    there are several as-of dates); time_groups: person groups crossed with the time blocks (1: every
    earlier row trains each block); calibration: "isotonic", "platt" or "none"; meta_C: inverse L2
    strength of the blend; min_gain_se: that gain must also exceed this many bootstrap standard errors of the
    paired AUC difference (0: off); min_gain: the validation AUC the blend must gain over the best member to be
    kept; seed: folds, and each member's `seed` unless given; n_jobs: processes the member fits run on
    (models.parallel.processes_for; None: every core from PARALLEL_ROWS training rows; a script's work must sit
    under `if __name__ == "__main__":` for that, else it fits in one process with a warning: models.parallel).
    The fitted stack should not depend on it (tests/models/test_parallel.py checks every member kind on small data).

    temporal: the one switch of the temporal path (off by default). On: before the folds, an event encoder is
    pretrained without labels on every history the fit is given (models.pretrain; `pretrain` holds its
    settings, see PretrainSettings; folds over time get point-in-time encoders of their own, module
    docstring step 0); its embeddings become features of the members that read them
    (`reads_embeddings`: GBDT, Wide & Deep), it initialises the recurrent members (`warm_start`: sequence,
    hybrid), and it is saved in the artifact so scoring reproduces the embeddings. Off: no pretraining and
    the TEMPORAL_MEMBERS are left out (the `stack_without_temporal` of the benchmark).
    """

    kind = "stack"
    views: tuple[str, ...] = ("tabular",)
    """Overwritten per instance once the members are known (the union of their views)."""

    def __init__(self, members: Sequence[str] | None = None, member_params: dict | None = None, n_folds: int = 5,
                 calibration: str = "isotonic", meta_C: float = 1.0, time_groups: int = 1, min_gain: float = 0.0,
                 min_gain_se: float = 0.0,
                 seed: int = 0, temporal: bool = False, pretrain: dict | None = None,
                 n_jobs: int | None = None) -> None:
        self.members = members
        self.member_params = member_params
        self.n_folds = n_folds
        self.calibration = calibration
        self.meta_C = meta_C
        self.time_groups = time_groups
        self.min_gain = min_gain
        self.min_gain_se = min_gain_se
        self.seed = seed
        self.temporal = temporal
        self.pretrain = pretrain
        self.n_jobs = n_jobs

    # -- members ----------------------------------------------------------------------------------
    def _member_classes(self, inp: ModelInput | None) -> list[str]:
        """The requested kinds whose views this input has (the others are left out with a reason)."""
        have = available_kinds()
        check_member_params(self.member_params)
        requested = list(self.members) if self.members is not None else list(default_members(self.temporal))
        unknown = [k for k in requested if k not in have]
        if unknown:
            raise MemberUnavailable(
                f"stack: member kind(s) {', '.join(map(repr, unknown))} not implemented in deepcredit.models "
                f"(available: {', '.join(sorted(have)) or 'none'})")
        if len(set(requested)) != len(requested):
            raise ValueError(f"stack: a member is listed twice in {requested}")
        self.skipped_: dict[str, str] = {}
        kept = []
        for k in requested:
            lacking = missing_views(self._new_member(k), inp) if inp is not None else []
            if k in TEMPORAL_MEMBERS and not self.temporal:
                self._skip(k, "the temporal path is off (temporal=False)")
            elif lacking:
                self._skip(k, f"input lacks the {', '.join(lacking)} view")
            else:
                kept.append(k)
        if not kept:
            raise ValueError(f"stack: no member can be fitted on this input ({self.skipped_})")
        return kept

    def _new_member(self, kind: str, encoder: EventEncoder | None = None) -> CreditModel:
        """A new member of `kind`, warm-started from `encoder` (None: the stack's own) where it can be."""
        member = make_member(kind, (self.member_params or {}).get(kind), self.seed)
        encoder = encoder if encoder is not None else getattr(self, "encoder_", None)
        if encoder is not None and hasattr(member, "warm_start"):
            member.warm_start(encoder)
        return member

    # -- the temporal path ----------------------------------------------------------------------------
    def _pretrain(self, inp: ModelInput, histories: Histories | None) -> None:
        """Fit the event encoder on the input's histories plus `histories` (labelled or not), when on."""
        self.encoder_: EventEncoder | None = None
        if not self.temporal or inp.sequences is None:
            return
        from deepcredit.models.pretrain import histories_of, pretrain  # torch: loaded only when needed

        try:
            self.encoder_ = pretrain(histories_of(inp, histories), self.pretrain, self.seed)
        except MemberCannotFit as exc:
            self._skip("pretrain", str(exc))

    def _pretrain_folds(self, inp: ModelInput, keys: pd.DataFrame, folds: list[Fold]
                        ) -> tuple[list[EventEncoder], list[FoldEmbeddings], list[int] | None]:
        """Point-in-time encoders for folds over time (module docstring, step 0): one per distinct first
        predicted date d, pretrained as the stack's own (same settings and seed) on the histories of the rows
        whose outcome is known by d (those dated before it: the rows an expanding-window fold from d trains
        on, every person group of `time_groups` included: the encoder reads no label, so the groups share it).
        Person folds across several as-of dates (no outcome known by a later date) get one encoder per fold,
        pretrained on the histories of the rows that fold trains on: the stack's own read every training row's
        history, so a held-out person's later row would show it that person's events after the row it predicts.
        Returns the encoders, their embeddings of the rows their folds read, and each fold's encoder; None
        for the last when the folds are person folds of one as-of date, which all read the stack's own encoder.
        The pretrainings are independent of each other, so they run side by side on `n_jobs` processes.

        A date whose rows cannot be pretrained on leaves the temporal path out of the stack, the stack's own
        encoder too (its embeddings would be columns no fold was judged with), with the reason recorded."""
        if getattr(self, "encoder_", None) is None:
            return [], [], None
        as_of = as_dates(keys["as_of"])
        if folds_over_time(keys, self.n_folds):
            known = as_dates(keys["known_at"])
            starts = [as_of[f.predict].min() for f in folds]
            dates = sorted(set(starts))
            learn = [np.flatnonzero(known_by(as_of, known, d)) for d in dates]
            names = [f"the folds over time pretrain an encoder each on the rows known by the first date they "
                     f"predict, and the one for {pd.Timestamp(d).date()}" for d in dates]
            view_of = [dates.index(d) for d in starts]
        elif len(np.unique(as_of)) > 1:  # person folds across dates: the one encoder read their later events
            learn = [f.train for f in folds]
            names = [f"the person folds across as-of dates pretrain an encoder each on the rows they train on, "
                     f"and the one of fold {i + 1}" for i in range(len(folds))]
            view_of = list(range(len(folds)))
        else:
            return [], [], None
        tasks = [(i, rows, self.pretrain, self.seed) for i, rows in enumerate(learn)]
        fitted = dict(run_tasks(_pretrain_fold, inp, tasks, processes_for(self.n_jobs, len(inp), len(tasks))))
        encoders = []
        for i, name in enumerate(names):
            encoder = fitted[i]
            if isinstance(encoder, MemberCannotFit):
                self.encoder_ = None
                self._skip("pretrain", f"{name} could not be: {encoder}")
                return [], [], None
            encoders.append(encoder)
        embeddings: list[FoldEmbeddings] = []
        for i, encoder in enumerate(encoders):
            rows = np.unique(np.concatenate([np.concatenate([f.train, f.predict])
                                             for f, v in zip(folds, view_of, strict=True) if v == i]))
            values = np.full((len(inp.tabular.frame), encoder.dim), np.nan)
            values[inp.index[rows]] = encoder.embed(inp.take(rows))
            embeddings.append((values, encoder.definitions()))
        return encoders, embeddings, view_of

    def _embedded(self, inp: ModelInput) -> ModelInput:
        """The input with the encoder's embedding features (the input itself without an encoder)."""
        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            return inp
        from deepcredit.models.pretrain import with_embeddings

        return with_embeddings(inp, encoder)

    def _skip(self, kind: str, why: str) -> None:
        """Leave a member out with its reason: logged, warned, and recorded in metrics_['skipped']."""
        self.skipped_[kind] = why
        log.warning("stack: skipping member %r: %s", kind, why)
        warnings.warn(f"stack: skipping member {kind!r}: {why}", stacklevel=3)

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, inp: ModelInput, y: np.ndarray | None = None, *, on_progress: ProgressFn | None = None,
            histories: Histories | None = None) -> StackModel:
        """histories: more event histories for the pretraining (e.g. every person, labelled or not,
        features.bundle.build_histories), cut before dates no later than the training rows'."""
        t_start = time.perf_counter()
        if y is not None and not np.array_equal(np.asarray(y), inp.y):
            raise ValueError("stack: fits on the bundle's own labels (pass y=None)")
        y = fit_labels(inp, None, "stack")
        self.encoder_ = None
        kinds = self._member_classes(inp)
        t0 = time.perf_counter()
        self._pretrain(inp, histories)
        pretrained = round(time.perf_counter() - t0, 2)
        keys = inp.label_keys
        folds = stacking_folds(keys, y, self.n_folds, self.seed, self.time_groups)
        if not folds:
            raise ValueError("stack: no out-of-fold split possible on these rows")
        t0 = time.perf_counter()
        fold_encoders, fold_embeddings, encoder_of = self._pretrain_folds(inp, keys, folds)
        self.fit_seconds_: dict[str, float] = {"pretrain": pretrained} if self.encoder_ is not None else {}
        if fold_encoders:
            self.fit_seconds_["pretrain_folds"] = round(time.perf_counter() - t0, 2)
        embedded = self._embedded(inp)
        columns, finals = self._fit_members(kinds, folds, inp, embedded, on_progress,
                                            (fold_encoders, fold_embeddings, encoder_of))
        kinds = self._fitted_kinds(kinds, columns)
        oof = np.column_stack([columns[k] for k in kinds])
        self.oof_ = pd.concat([keys, pd.DataFrame(oof, columns=kinds)], axis=1).assign(label=y)
        self._combine(kinds, len(folds))
        self.metrics_["refit_length"] = dict(self.refit_length_)
        self.metrics_["temporal"] = bool(self.temporal)
        self.metrics_["pretrain"] = None if self.encoder_ is None else {**self.encoder_.info, "folds": (
            "the person folds read this encoder (every history ends before the rows they predict)"
            if not fold_encoders else
            f"{len(fold_encoders)} encoders of their own, one per first date the folds over time predict, each "
            "pretrained on the histories of the rows known by that date" if folds_over_time(keys, self.n_folds) else
            f"{len(fold_encoders)} encoders of their own, one per person fold across the as-of dates, each "
            "pretrained on the histories of the rows that fold trains on (never those of the people it predicts)")}
        self.members_: list[tuple[str, CreditModel]] = []
        for kind in kinds:
            if isinstance(finals.get(kind), MemberCannotFit):  # fitted on every fold but not on all rows
                raise ValueError(f"stack: member {kind!r} was fitted on every fold but not on all training "
                                 f"rows ({finals[kind]})") from finals[kind]
            self.members_.append((kind, finals[kind]))
        self._set_views()
        self.metrics_["pd_spread"] = {"out_of_fold": self.metrics_.pop("oof_pd_spread"),
                                      "refit_in_sample": _spread(self.predict_proba(inp)[:, 1])}
        self.fit_seconds_["total"] = round(time.perf_counter() - t_start, 2)
        return self

    def fit_notes(self) -> list[str]:
        """The stack's own (how far its out-of-fold rows can be trusted) and the members' (those fitted on
        all training rows)."""
        return [*self._fold_notes(), *(note for m in self.fitted_members() for note in m.model.fit_notes())]

    def _fold_notes(self) -> list[str]:
        """Where the out-of-fold rows are not point in time: several as-of dates, but no outcome known by a
        later one (performance windows longer than the dates span), so stacking_folds fell back to person
        folds, which also train on rows dated after the ones they predict. The combiner and the calibrator
        are chosen on those rows; the user is told, not refused (there is no earlier outcome to fold on)."""
        oof = getattr(self, "oof_", None)
        if oof is None or oof["as_of"].nunique() < 2 or folds_over_time(oof, self.n_folds):
            return []
        return [f"stack: the out-of-fold predictions that chose the combiner and fitted the calibration come from "
                f"person folds across {oof['as_of'].nunique()} as-of dates, which also train on later dates: no "
                "outcome is known by a later as-of date (the performance windows are longer than the dates span), "
                "so these rows cannot be folded over time; the combiner's validation may be optimistic"]

    def _fit_members(self, kinds: list[str], folds: list[Fold], inp: ModelInput, embedded: ModelInput,
                     on_progress: ProgressFn | None,
                     fold_encoders: tuple[list[EventEncoder], list[FoldEmbeddings], list[int] | None] = ([], [], None)
                     ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Every member on every fold (its out-of-fold logits) and on all rows (the member that scores), on
        `n_jobs` processes (models.parallel). `fold_encoders` (_pretrain_folds): the folds' own encoders, their
        embeddings (shared with the workers as arrays) and each fold's; a fold's members read and warm-start
        from its encoder. A member that cannot fit on a fold is left out with its reason
        and its remaining fits are not started; one that fits on the folds but not on all rows comes back as
        its MemberCannotFit. fit_seconds_ gets each step's seconds (summed over its fits when they ran side
        by side, so the steps can add up to more than the wall time in 'total')."""
        n, steps = len(inp), len(folds) + 1
        columns = {kind: np.full(n, np.nan) for kind in kinds}
        finals: dict[str, Any] = {}
        lengths: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        done = dict.fromkeys(kinds, 0)
        seconds: dict[str, float] = {}

        # a member's automatic choices made once, on every training row (CreditModel.settled_params): the fold
        # fits are then the model that scores (a fold's fewer rows once made a small-data card the refit was not)
        settled = {kind: self._new_member(kind).settled_params(inp.y) for kind in kinds}
        encoders, embeddings, encoder_of = fold_encoders

        def fold_tasks() -> Iterator[tuple]:
            for kind in kinds:
                if on_progress:
                    on_progress(kind, 0, steps)
                for k in range(len(folds)):
                    if kind in self.skipped_:
                        break
                    own = None if encoder_of is None else encoder_of[k]
                    member = self._new_member(kind, None if own is None else encoders[own])
                    yield kind, k, member.set_params(**settled[kind]), folds[k].train, folds[k].predict, own

        def final_tasks() -> Iterator[tuple]:
            # the member that scores trains as long as the fold fits whose out-of-fold PDs the combiner and
            # calibration judged: its own early stopping on 15% of the rows once stopped a sequence net at
            # epoch 4 of the folds' ~8, and its PDs reached 0.13 where the folds' reached 0.42 (audit F6)
            for kind in kinds:
                if kind not in self.skipped_:
                    member = self._new_member(kind)
                    self.refit_length_[kind] = refit_length(lengths[kind])
                    yield kind, FINAL, member.set_params(**self.refit_length_[kind]), None, None

        self.refit_length_: dict[str, dict[str, Any]] = {}
        fits = len(kinds) * steps
        self.processes_ = processes_for(self.n_jobs, n, fits)
        for tasks in (fold_tasks, final_tasks):
            for kind, k, result, took in run_tasks(_fit_member, (inp, embedded, embeddings), tasks(),
                                                   self.processes_):
                step = f"{kind}_final" if k == FINAL else f"{kind}_folds"
                seconds[step] = seconds.get(step, 0.0) + took
                if k == FINAL:
                    finals[kind] = result
                elif isinstance(result, MemberCannotFit):
                    if kind not in self.skipped_:
                        self._skip(kind, str(result))
                    continue
                else:
                    columns[kind][folds[k].predict], length = result
                    lengths[kind].append(length)
                done[kind] += 1
                if on_progress:
                    on_progress(kind, done[kind], steps)
        self.fit_seconds_.update({step: round(s, 2) for step, s in sorted(seconds.items())
                                  if step.rsplit("_", 1)[0] not in self.skipped_})
        return {k: c for k, c in columns.items() if k not in self.skipped_}, finals

    def _fitted_kinds(self, kinds: list[str], columns: dict[str, np.ndarray]) -> list[str]:
        """The members that fitted on every fold; one clear error when none did."""
        kept = [k for k in kinds if k in columns]
        if not kept:
            reasons = "; ".join(f"{k}: {why}" for k, why in self.skipped_.items())
            raise ValueError(f"stack: no member could be fitted on this data ({reasons})")
        return kept

    def _fit_meta(self, Z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        from deepcredit.models.scorecard import bounded_logistic

        b, w = bounded_logistic(Z, y.astype(float), self.meta_C, [(0.0, None)] * Z.shape[1])
        return float(b), np.asarray(w, dtype=np.float64)

    def _cross_fit(self, Z: np.ndarray, y: np.ndarray, folds: list[Fold]) -> np.ndarray:
        """Meta logits of each fold's predicted rows from a meta-model fitted on its training rows (NaN elsewhere)."""
        z = np.full(len(y), np.nan)
        for f in folds:
            if len(np.unique(y[f.train])) < 2:
                continue
            b, w = self._fit_meta(Z[f.train], y[f.train])
            z[f.predict] = b + Z[f.predict] @ w
        return z

    def _pass_through(self, z_member: np.ndarray, z_meta: np.ndarray, y: np.ndarray, folds: list[Fold]) -> str:
        """Whether a stack that falls back to one member should give that member's own PD ("yes") rather
        than a recalibrated one ("no: ..."): yes unless recalibrating lowers its out-of-fold log loss.

        Both candidates are judged by log loss on the out-of-fold rows, each out of sample: the member's own
        PD there comes from fits that never saw the row, and the calibrator is cross-fitted over the folds the
        blend was judged on: with several as-of dates, expanding windows (the meta map and the calibrator fitted
        on earlier periods, judged on a later one, as they will be used), else person folds. Log loss, a proper score, not the ECE: the ECE's bins reward a step
        calibrator for matching their own rates (in a scratch check, not recorded, on ten of the small worlds
        of tests/models/test_stack_combiner.py, seeds 0-4 with one and four as-of dates, whose member is a
        correctly specified logistic regression, the ECE preferred recalibrating it in 7 and log loss in
        none; that test checks the log-loss half on those worlds). Keeping the member's own PD keeps the
        stack's ranking identical to the member's across refits (a recalibration fitted anew at each refit
        moves PDs of different periods against each other, which lowers AUC over pooled periods: OTC
        rolling origin, docs/benchmarks.md)."""
        p = np.full(len(y), np.nan)
        for f in folds:
            train = f.train[~np.isnan(z_meta[f.train])]  # dated: the earliest block has no cross-fitted logit
            if len(np.unique(y[train])) == 2:
                p[f.predict] = Calibrator(self.calibration).fit(z_meta[train], y[train]).predict(z_meta[f.predict])
        p[np.isnan(z_meta)] = np.nan
        have = ~np.isnan(p)
        if not have.any():
            return "no: too few rows to judge the member's own calibration"
        own = log_loss(y[have], expit(z_member[have]), labels=[0, 1])
        recal = log_loss(y[have], p[have], labels=[0, 1])
        return ("yes" if own <= recal else
                f"no: calibrating lowers its out-of-fold log loss from {own:.4f} to {recal:.4f}")

    def _combine(self, kinds: list[str], n_folds: int) -> None:
        """Choose the combiner on the out-of-fold rows (module docstring, step 3), calibrate it, record why."""
        oof = self.oof_[kinds].to_numpy()
        have = ~np.isnan(oof).any(axis=1)
        Z, yy = oof[have], self.oof_["label"].to_numpy()[have]
        if len(np.unique(yy)) < 2:
            raise ValueError("stack: the out-of-fold rows hold only one outcome")
        keys = self.oof_.loc[have, [c for c in ("person_id", "as_of", "known_at") if c in self.oof_]]\
            .reset_index(drop=True)
        person = keys["person_id"].to_numpy()
        n_inner = min(5, int(yy.sum()), len(yy) - int(yy.sum()), len(np.unique(person)))
        dated = folds_over_time(keys, n_inner)
        # the blend judged on a later period (dated) or on people it was not fitted on
        z_val = self._cross_fit(Z, yy, stacking_folds(keys, yy, n_inner, self.seed + 1, time_groups=1)
                                if dated else person_folds(person, yy, n_inner, self.seed + 1))
        val = ~np.isnan(z_val)
        if len(np.unique(yy[val])) < 2:  # too few dated blocks to validate on: judge on people instead
            z_val = self._cross_fit(Z, yy, person_folds(person, yy, n_inner, self.seed + 1))
            val, dated = ~np.isnan(z_val), False
        scores = {"blend": _auc(yy[val], z_val[val]),
                  **{k: _auc(yy[val], Z[val, j]) for j, k in enumerate(kinds)}}
        known = {k: -1.0 if v is None else v for k, v in scores.items()}
        best = max(kinds, key=known.__getitem__)
        gain = known["blend"] - known[best]
        se = _paired_auc_se(yy[val], z_val[val], Z[val, kinds.index(best)], self.seed, person[val]) \
            if len(kinds) > 1 and self.min_gain_se > 0 else 0.0
        bar = max(self.min_gain, self.min_gain_se * se) if self.min_gain_se > 0 else self.min_gain
        use_blend = len(kinds) > 1 and gain > bar
        cols = list(range(len(kinds))) if use_blend else [kinds.index(best)]
        b, w = self._fit_meta(Z[:, cols], yy)
        self.meta_intercept_, self.meta_weights_ = b, np.zeros(len(kinds))
        self.meta_weights_[cols] = w
        # calibration on cross-fitted logits of the chosen combiner (people it was not fitted on)
        calibration_folds = person_folds(person, yy, n_inner, self.seed + 1)
        z_meta = self._cross_fit(Z[:, cols], yy, calibration_folds)
        self.calibrator_ = Calibrator(self.calibration).fit(z_meta, yy)
        p_cal = self.calibrator_.predict(z_meta)
        own = "no"
        if not use_blend:  # judged as the blend was: on later periods when dated (deployment order)
            judge = stacking_folds(keys, yy, n_inner, self.seed + 1, time_groups=1) if dated else calibration_folds
            own = self._pass_through(Z[:, cols[0]], self._cross_fit(Z[:, cols], yy, judge) if dated else z_meta,
                                     yy, judge)
        if own == "yes":  # the member's own PD: meta map and calibrator are the identity
            self.meta_intercept_, self.meta_weights_[cols] = 0.0, 1.0
            self.calibrator_ = Calibrator("none")
            z_meta = Z[:, cols[0]]
            p_cal = expit(z_meta)
        why = "a single member" if len(kinds) == 1 else _combiner_why(
            known["blend"], best, known[best], bar, f"min_gain {self.min_gain:g}, {self.min_gain_se:g} x the "
            f"standard error {se:.4f}")
        if not use_blend:
            why += (", with its own PD" if own == "yes" else f", recalibrated ({own.removeprefix('no: ')})")
        self.metrics_: dict[str, Any] = {
            "oof_rows": int(have.sum()), "folds": n_folds,
            "oof_auc": {**{k: _auc(yy, Z[:, j]) for j, k in enumerate(kinds)}, "stack": _auc(yy, z_meta)},
            "oof_ece_before_calibration": expected_calibration_error(yy, expit(z_meta)),
            "oof_ece_after_calibration": expected_calibration_error(yy, p_cal),
            "oof_pd_spread": _spread(p_cal),
            "meta_weights": dict(zip(kinds, map(float, self.meta_weights_), strict=True)),
            "meta_intercept": float(self.meta_intercept_), "skipped": dict(self.skipped_),
            "combiner": {
                "member_folds": ("expanding windows over as-of dates, all earlier rows whose outcome is known"
                                 if self.time_groups <= 1 else
                                 f"expanding windows over as-of dates x {self.time_groups} person groups")
                if folds_over_time(self.oof_, self.n_folds) else f"{n_folds} person folds" + (
                    " (no outcome is known by a later as-of date: performance windows longer than the dates "
                    "span)" if self.oof_["as_of"].nunique() > 1 else ""),
                "validation": ("blend fitted on earlier out-of-fold dates, judged on later ones" if dated else
                               "blend cross-fitted over person folds of the out-of-fold rows"),
                "validation_rows": int(val.sum()), "validation_positives": int(yy[val].sum()),
                "validation_auc": scores, "gain_standard_error": round(se, 5),
                "chosen": "blend" if use_blend else best, "why": why, "member_own_pd": own},
        }

    def without(self, kinds: Sequence[str]) -> StackModel:
        """This fitted stack less the members `kinds`: the same fitted members and out-of-fold logits, the
        combiner chosen and calibrated again. Equal to fitting a stack without them (members are
        deterministic for a seed) at the cost of the combiner only; valid while leaving a member out does not
        change the other members' input."""
        self._check_fitted()
        if not hasattr(self, "oof_"):
            raise ValueError("stack: without() re-chooses the combiner on the fit's out-of-fold logits, which an "
                             "artifact does not keep: call it on the stack StackModel.fit returned (before "
                             "saving), or fit a stack without those members")
        keep = [k for k, _ in self.members_ if k not in set(kinds)]
        if not keep:
            raise ValueError(f"stack: leaving out {list(kinds)} leaves no member")
        other = type(self)(**self.get_params(deep=False))
        other.encoder_ = getattr(self, "encoder_", None)  # the kept members may read its embeddings
        other.skipped_ = dict(self.skipped_)
        other.oof_ = self.oof_.drop(columns=[k for k, _ in self.members_ if k not in keep], errors="ignore")
        other._combine(keep, int(self.metrics_.get("folds", 0)))
        other.members_ = [(k, m) for k, m in self.members_ if k in keep]
        other.fit_seconds_ = dict(self.fit_seconds_)
        other._set_views()
        return other

    def _set_views(self) -> None:
        views = {"tabular"} | ({"temporal"} if getattr(self, "encoder_", None) is not None else set())
        for _, model in self.members_:
            views |= set(instance_views(model))
        self.views = tuple(v for v in ("tabular", "temporal", "structural") if v in views)

    def fitted_members(self) -> list[Member]:
        """The members with their meta weights (none before fit)."""
        if not hasattr(self, "members_"):
            return []
        return [Member(kind, model, float(w)) for (kind, model), w in zip(self.members_, self.meta_weights_,
                                                                          strict=True)]

    # -- scoring ----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise RuntimeError("stack: call fit (or load a fitted model) first")

    def member_logits(self, inp: ModelInput) -> pd.DataFrame:
        """Each member's logit per row (columns: member kinds), each member on the input it was fitted on
        (CreditModel.member_logits)."""
        self._check_fitted()
        embedded = self._embedded(inp)
        return pd.DataFrame({k: member_logit(model, input_for(model, inp, embedded))
                             for k, model in self.members_})

    def _meta_logit(self, Z: np.ndarray) -> np.ndarray:
        """Z: member logits as columns, C-ordered (the same memory layout everywhere, so the same bits)."""
        return self.meta_intercept_ + np.ascontiguousarray(Z, dtype=np.float64) @ self.meta_weights_

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        """The calibrated logit of default per row."""
        self._check_fitted()
        return self.calibrator_.transform(self._meta_logit(self.member_logits(inp).to_numpy()))

    def explain(self, inp: ModelInput) -> Explanation:
        """Meta weights x members' explanations, rescaled through the calibrator (module docstring)."""
        self._check_fitted()
        n = len(inp)
        base = np.full(n, self.meta_intercept_)
        dims = np.zeros((n, len(DIMENSIONS)))
        feats: dict[str, np.ndarray] = {}  # summed in numpy: pandas alignment per member costs milliseconds
        z_parts = []
        embedded = self._embedded(inp)
        for (_, model), w in zip(self.members_, self.meta_weights_, strict=True):
            own = input_for(model, inp, embedded)
            if w == 0.0:
                z_parts.append(member_logit(model, own))
                continue
            e = model.explain(own)
            z_parts.append(member_logit(model, own, e.decision))
            base += w * e.base
            dims += w * e.by_dimension[DIMENSIONS].to_numpy()
            if e.by_feature is not None:
                weighted = w * e.by_feature.to_numpy(dtype=np.float64)
                for j, c in enumerate(e.by_feature.columns):
                    feats[c] = feats.get(c, 0.0) + weighted[:, j]
        z = self._meta_logit(np.column_stack(z_parts))
        zc = self.calibrator_.transform(z)
        gb = self.calibrator_.transform(base)
        d_sum = dims.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            secant = (zc - gb) / d_sum
        h = 1e-4
        slope = (self.calibrator_.transform(base + h) - self.calibrator_.transform(base - h)) / (2 * h)
        s = np.where(np.abs(d_sum) > 1e-9, secant, slope)
        index = pd.RangeIndex(n)
        by_dim = pd.DataFrame(dims * s[:, None], index=index, columns=DIMENSIONS)
        by_feature = None
        if feats:
            order = [c for c in _feature_order(self) if c in feats]
            known = set(order)
            names = order + sorted(c for c in feats if c not in known)
            by_feature = pd.DataFrame(np.column_stack([feats[c] for c in names]) * s[:, None], index=index,
                                      columns=names)
        return Explanation(gb, by_dim, by_feature, zc)

    @property
    def used_features_(self) -> list[str]:
        """Features some member with a non-zero weight uses (those can be reasons)."""
        self._check_fitted()
        used: set[str] = set()
        for m in self.fitted_members():
            if m.weight > 0:
                used |= set(m.model.used_features_ or [])
        return [c for c in _feature_order(self) if c in used]

    # -- artifacts --------------------------------------------------------------------------------
    def run_facts(self) -> dict:
        """Fit seconds per step, the processes the fits ran on, the device each torch member was fitted on and
        the pretraining's seconds and device: facts of the run, saved beside the model (the artifact's run
        facts), not in its files, so that they do not change its identity."""
        encoder = getattr(self, "encoder_", None)
        devices = {m.kind: device for m in self.fitted_members() if (device := torch_device(m.model)) is not None}
        return {"fit_seconds": dict(getattr(self, "fit_seconds_", {})),
                "processes": getattr(self, "processes_", None), "devices": devices,
                **({"pretrain": dict(encoder.timing)} if encoder is not None and encoder.timing else {})}

    def to_files(self) -> dict[str, bytes]:
        self._check_fitted()
        files: dict[str, bytes] = {}
        members = []
        for i, (kind, model) in enumerate(self.members_):
            prefix = f"{i}{SEP}{kind}{SEP}"
            for name, data in model.to_files().items():
                files[prefix + name] = data
            params = model_params(model)  # less n_jobs: how it ran is a run fact (models.base.fit_run_facts)
            members.append({"kind": kind, "params": params})
        meta = {"format": 1, "members": members, "meta_intercept": float(self.meta_intercept_),
                "meta_weights": [float(w) for w in self.meta_weights_], "calibrator": self.calibrator_.to_dict(),
                "metrics": self.metrics_, "skipped": self.skipped_,
                "pretrained": self.encoder_ is not None}
        if self.encoder_ is not None:
            files.update({ENCODER + name: data for name, data in self.encoder_.to_files().items()})
        files["stack.json"] = json.dumps(meta, indent=1, sort_keys=True).encode("utf-8")
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> StackModel:
        model = cls(**params)
        meta = read_meta(files, "stack.json", 1, "stack")
        have = available_kinds()
        model.members_ = []
        for i, spec in enumerate(meta["members"]):
            kind = spec["kind"]
            if kind not in have:
                raise MemberUnavailable(f"stack: member kind {kind!r} of this artifact is not implemented here")
            prefix = f"{i}{SEP}{kind}{SEP}"
            own = {name[len(prefix):]: data for name, data in files.items() if name.startswith(prefix)}
            model.members_.append((kind, have[kind].from_files(own, spec["params"])))
        model.meta_intercept_ = float(meta["meta_intercept"])
        model.meta_weights_ = np.asarray(meta["meta_weights"], dtype=np.float64)
        model.calibrator_ = Calibrator.from_dict(meta["calibrator"])
        model.metrics_, model.skipped_ = meta["metrics"], meta["skipped"]
        model.fit_seconds_ = meta.get("fit_seconds", {})  # artifacts before 2026-12-06; since: run facts
        model.encoder_ = None
        if meta.get("pretrained"):
            from deepcredit.models.pretrain import EventEncoder

            model.encoder_ = EventEncoder.from_files({name[len(ENCODER):]: data for name, data in files.items()
                                                      if name.startswith(ENCODER)})
        model._set_views()
        return model


def _feature_order(stack: StackModel) -> list[str]:
    """Feature names in the members' definition order (first member that knows a feature wins)."""
    seen: dict[str, None] = {}
    for _, model in stack.members_:
        for d in model.definitions_ or []:
            seen.setdefault(d.name, None)
    return list(seen)
