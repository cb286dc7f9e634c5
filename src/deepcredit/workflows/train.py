"""Train a model as a RunConfig says: members, features and dimensions left out, member parameters, and a
hold-out or time split whose metrics are stored in the artifact.

Why the split lives here: the modeller steers training from one place (command line or config file), and
the numbers that come back are measured on rows no member was fitted on (hold-out metrics) next to the
stack's own out-of-fold ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepcredit.config import OTHER_DATA, RunConfig, check_recorded_data, record_differences, run_record_file
from deepcredit.data.dataset import Dataset
from deepcredit.data.io import writes_out
from deepcredit.data.schema import Dimension
from deepcredit.evaluation.metrics import auc, gini_of, ks
from deepcredit.features.bundle import VIEWS, ModelInput, build_histories, build_model_input
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.spark_engine import DEFAULT_MASTER
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.features.templates import features_for
from deepcredit.models.artifacts import check_artifact_out
from deepcredit.models.base import CreditModel, save_model
from deepcredit.models.splits import Fold, configured_split, unmatured_rows
from deepcredit.models.stack import (
    StackModel,
    available_kinds,
    check_member_params,
    default_members,
    make_member,
    member_views,
)
from deepcredit.workflows.common import MessageFn, _quiet

ProgressFn = Callable[[str, int, int], None]


@dataclass
class Trained:
    model: CreditModel
    path: Path
    metrics: dict
    """The model's own metrics (out-of-fold for a stack) plus 'holdout' when the config held rows out."""
    views: list[str]
    rows: int


def select_definitions(cfg: RunConfig, definitions: Sequence[FeatureDef] = ALL_FEATURES) -> list[FeatureDef]:
    """The definitions less the excluded dimensions and features, and less every derived feature computed
    from one of those (leaving a feature out means the model never sees its information)."""
    dims = {d.value for d in Dimension}
    bad_dims = [d for d in cfg.exclude_dimensions if d not in dims]
    if bad_dims:
        raise ValueError(f"exclude_dimensions: unknown dimension(s) {', '.join(bad_dims)} "
                         f"(known: {', '.join(sorted(dims))})")
    names = {f.name for f in definitions}
    bad = [f for f in cfg.exclude_features if f not in names]
    if bad:
        raise ValueError(f"exclude_features: unknown feature(s) {', '.join(bad)}")
    out = {f.name for f in definitions if f.dimension.value in cfg.exclude_dimensions} | set(cfg.exclude_features)
    changed = True
    while changed:  # derived features read other features by name, possibly through other derived ones
        changed = False
        for f in definitions:
            if f.source is Source.DERIVED and f.name not in out and any(
                    re.search(rf"\b{re.escape(n)}\b", f.sql) for n in out):
                out.add(f.name)
                changed = True
    kept = [f for f in definitions if f.name not in out]
    if not kept:
        raise ValueError("every feature is left out: nothing to train on")
    return kept


def recreation_data(cfg: RunConfig, recorded: dict | None, given: str | None) -> str | None:
    """The data a run trains on: `given` (--data) where given; else, re-creating from a run record, the
    absolute path it recorded where that still exists (a relative path or bundled name as typed resolves
    against the working directory, which may be another); else the config's `data`."""
    if given is not None:
        return given
    path = (recorded or {}).get("data_path")
    return path if path and Path(path).exists() else cfg.data


def member_kinds(cfg: RunConfig) -> list[str]:
    """The stack's members (or the one model's kind) after exclusions; unknown kinds are an error."""
    have = available_kinds()
    # the default members are the stack's own (an explicit list may name a temporal member with the path off;
    # the stack then records why it left it out)
    kinds = [cfg.model] if cfg.model != "stack" else list(cfg.members or default_members(cfg.stack.temporal))
    unknown = [k for k in [*kinds, *cfg.exclude_members] if k not in have]
    if unknown:
        raise ValueError(f"member kind(s) {', '.join(unknown)} not implemented "
                         f"(available: stack, {', '.join(sorted(have))})")
    kinds = [k for k in kinds if k not in cfg.exclude_members]
    if not kinds:
        raise ValueError("every member is left out: nothing to train")
    return kinds


def make_estimator(cfg: RunConfig, kinds: list[str]) -> CreditModel:
    check_member_params(cfg.member_params)
    if cfg.model != "stack":
        return make_member(cfg.model, cfg.member_params.get(cfg.model), cfg.seed)
    params = {k: v for k, v in cfg.member_params.items() if k in kinds}
    return StackModel(members=kinds, member_params=params or None, n_folds=cfg.stack.folds,
                      calibration=cfg.stack.calibration, time_groups=cfg.stack.time_groups,
                      min_gain=cfg.stack.min_gain, min_gain_se=cfg.stack.min_gain_se, seed=cfg.seed,
                      temporal=cfg.stack.temporal,
                      pretrain=cfg.stack.pretrain or None, n_jobs=cfg.stack.n_jobs)


def views_for(cfg: RunConfig, kinds: list[str]) -> list[str]:
    needed = {"tabular", *(v for k in kinds for v in member_views(k, cfg.member_params.get(k)))}
    if cfg.model == "stack" and cfg.stack.temporal:
        needed.add("temporal")  # the pretraining reads the histories
    return [v for v in VIEWS if v in needed]


def split_rows(cfg: RunConfig, inp: ModelInput) -> Fold | None:
    """Fold(train, held out) as the config's split says, or None (train on every row)."""
    return configured_split(cfg.split, cfg.seed, inp.label_keys, inp.y)


def pretraining_leaves_out(inp: ModelInput, fold: Fold | None, cut: pd.Timestamp) -> set[str]:
    """The held-out people whose histories before `cut` the pretraining must not read: those with a held-out
    row dated before it, whose performance window (its label's events) may lie in those histories. A held-out
    row dated at or after the cut (a time split) has its window after it, and its person's earlier events
    are what any unlabelled history is: the pretraining may read them."""
    if fold is None:
        return set()
    keys = inp.label_keys.iloc[fold.predict]
    return set(keys.loc[pd.to_datetime(keys["as_of"]) < cut, "person_id"].astype(str))


def holdout_metrics(model: CreditModel, inp: ModelInput, fold: Fold, cfg: RunConfig) -> dict:
    """AUC, KS and Gini of the fitted model on the held-out rows (none of them were fitted on)."""
    held = inp.take(fold.predict)
    y = held.y
    p = model.predict_proba(held)[:, 1]
    a = auc(y, p)
    return {"split": cfg.split.model_dump(mode="json"), "rows": int(len(y)), "bads": int(y.sum()),
            "train_rows": int(len(fold.train)), "unmatured_rows": unmatured_rows(inp.keys, fold),
            "auc": a, "gini": gini_of(a), "ks": ks(y, p)}


def check_both_outcomes(counts: dict[int, int], dataset: Dataset, rows: str = "labels") -> None:
    """A model learns to tell bad from good: refused, saying what was found, where the labels (`counts`:
    label → rows) hold one outcome only or none."""
    n = sum(counts.values())
    if n and len([k for k, c in counts.items() if c]) > 1:
        return
    found = f"there are no {rows} (are their outcomes not known yet?)" if not n else \
        f"all {n:,} {rows} are {(k := next(k for k, c in counts.items() if c))} ({'bad' if k else 'good'})"
    raise ValueError(f"{found}: a model learns from both good (0) and bad (1) labels; these come from "
                     f"{dataset.spec.outcomes.said()}: check the spec's good and bad values under [outcomes] "
                     "against the file")


@writes_out  # the artifact's lock from the check to the write: a second run into `out` is refused at once
def train_model(cfg: RunConfig, dataset: Dataset, out: Path, on_progress: ProgressFn | None = None,
                on_message: MessageFn = _quiet, engine: str = "duckdb", master: str = DEFAULT_MASTER,
                recorded: dict | None = None, allow_other_data: bool = False) -> Trained:
    """Fit the configured model on the training rows, measure the held-out rows, save a hashed artifact
    (config and hold-out metrics in its manifest, config.json beside it). The model input is built by
    `engine` (duckdb, or spark at `master`): the same arrays either way. An `out` that is not absent, empty
    or an earlier artifact is refused first, before any fitting (check_artifact_out). `recorded`: the data
    fingerprint, data path and library versions of the run the config was read from (config.recorded_run):
    data with another fingerprint are refused (config.OtherDataError) unless allow_other_data, and then the
    artifact records the config's data under OTHER_DATA; other differences are said (a note, not a refusal).
    The config stored keeps `data` as typed beside the data set's absolute path, and the stack's members
    resolved (the defaults of this version, less the excluded ones)."""
    check_artifact_out(out)
    kinds = member_kinds(cfg)
    est = make_estimator(cfg, kinds)
    views = views_for(cfg, kinds)
    fingerprint = dataset.checked_fingerprint()  # before the work: the files are the ones the manifest records
    labels = dataset.connect().execute("SELECT label, COUNT(*) FROM outcomes GROUP BY label").fetchall()
    check_both_outcomes({int(k): int(c) for k, c in labels if k is not None}, dataset)  # before the work
    known = dataset.fingerprints()  # `fingerprint` first; a record of the byte one names these data too
    other_data = check_recorded_data(recorded or {}, known, allow_other_data)
    for note in record_differences(recorded or {}, known):
        on_message(note)
    on_message(f"building the {', '.join(views)} view(s) of {dataset.name}")
    inp = build_model_input(dataset, views=views,
                            definitions=select_definitions(cfg, features_for(dataset.spec)), engine=engine,
                            master=master)
    fold = split_rows(cfg, inp)
    train_inp = inp if fold is None else inp.take(fold.train)
    if fold is not None:
        held = np.unique(np.asarray(train_inp.y, dtype=np.int64), return_counts=True)
        check_both_outcomes({int(k): int(c) for k, c in zip(*held, strict=True)}, dataset,
                            f"labels of the {len(fold.train):,} training rows")
    if fold is not None:
        on_message(f"{cfg.split.kind}: training on {len(fold.train):,} rows, holding out {len(fold.predict):,}")
    if fold is not None and (unmatured := unmatured_rows(inp.keys, fold)):
        on_message(f"{unmatured:,} earlier rows are left out of training: their outcomes are known only after "
                   f"{cfg.split.test_from}, when their performance windows end")
    progress = on_progress or (lambda *_: None)
    if isinstance(est, StackModel):
        histories = None
        if est.temporal and inp.sequences is not None:
            cut = train_inp.keys["as_of"].max()
            kept_back = pretraining_leaves_out(inp, fold, cut)
            on_message(f"reading every person's events before {cut:%Y-%m-%d} for the pretraining"
                       + (f", leaving out the {len(kept_back):,} held-out people whose outcomes may fall before "
                          "it" if kept_back else ""))
            histories = build_histories(dataset, cut, max_len=inp.sequences.kind.shape[1], leave_out=kept_back)
        est.fit(train_inp, on_progress=progress, histories=histories)
    else:
        progress(cfg.model, 0, 1)
        est.fit(train_inp)
        progress(cfg.model, 1, 1)
    metrics = dict(getattr(est, "metrics_", {}))
    if notes := est.fit_notes():
        metrics["notes"] = notes
    if fold is not None:
        metrics["holdout"] = holdout_metrics(est, inp, fold, cfg)
    stored = cfg if cfg.model != "stack" else cfg.model_copy(update={"members": kinds})
    data_path = str(Path(dataset.root).resolve())
    config = {"data": dataset.name, "data_path": data_path, "views": views, "rows": len(train_inp),
              "kind": est.kind, "feature_engine": engine, "run": stored.to_dict(), **({OTHER_DATA: other_data} if other_data else {})}
    path = save_model(est, out, train_inp, metrics=metrics, config=config,
                      beside=run_record_file(stored, fingerprint, data_path, other_data))
    return Trained(est, path, metrics, views, len(train_inp))

