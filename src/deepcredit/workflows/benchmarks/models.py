"""Benchmark: every member, the stack and LightGBM defaults on UCI, OTC and a simulated world.

    .venv/bin/python scripts/bench_models.py --json docs/results/models.json            # everything
    .venv/bin/python scripts/bench_models.py --parts uci-split,uci-cv --json out.json   # some parts

`deepcredit benchmark` calls the parts (uci, otc, sim) with a ModelsRun; run() runs the parts the command
above names (its options are parsed in cli/bench_scripts.py).

Parts (all reproducible: fixed seeds, held-out rows the models never saw):

- uci-split: UCI credit cards, one stratified 70/30 split (random_state=42). AUC and KS on the 30% of
  LightGBM with its defaults (`LGBMClassifier()` on the same features), every member alone, and the stack.
  The stack's members are refitted on the whole 70%, exactly as each member alone would be, so the
  members' numbers come from the stack's own members.
- uci-cv: the same on stratified 5-fold cross-validation (seed 42): mean and standard deviation.
- otc: Bitcoin OTC, train on the earlier as-of quarters, test on the last 4; the stack with its graph
  inputs (the social_connections features in the tabular frame, and members that read the graph) vs
  without them: the AUC difference.
- otc-rolling: Bitcoin OTC rolling origin (evaluation/rolling.py): each of the last 6 quarters predicted
  by members, the stack, the stack without its temporal members (TEMPORAL_MEMBERS) and LightGBM
  defaults, all fitted on every earlier quarter; AUC over the pooled predictions (several hundred
  defaults instead of 128).
- sim: a simulated world of --people people (--temporal: with the simulator's temporal-structure
  option), 70/30 split: the stack's AUC against the world's Bayes limit (AUC of the true PD on the same
  test rows) and its observable limit (data/observable.py: the PD given what is observable before as-of), an ablation (tabular only / + temporal / + graph /
  full), fit time per member, and batch scoring time (PD, score, sub-scores, reasons) for all people.

Protected attributes are never model inputs (no feature in the catalogue reads them). Only the member
kinds implemented in deepcredit.models run; the others are reported as missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from deepcredit.data.io import atomic_write_json, atomic_write_text
from deepcredit.data.observable import observable_pd
from deepcredit.data.schema import Dimension
from deepcredit.evaluation.limits import bayes_auc
from deepcredit.evaluation.metrics import auc, fold_sd, ks
from deepcredit.evaluation.rolling import pooled_metrics, rolling_origin
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import Kind
from deepcredit.models.calibration import expected_calibration_error
from deepcredit.models.splits import time_split
from deepcredit.models.stack import (
    ALL_MEMBERS,
    TEMPORAL_MEMBERS,
    StackModel,
    available_kinds,
    default_members,
    member_views,
)
from deepcredit.workflows.benchmarks import code_provenance

PARTS = ("uci-split", "uci-cv", "otc", "otc-rolling", "sim")
SOCIAL = Dimension.SOCIAL_CONNECTIONS


@dataclass(frozen=True)
class ModelsRun:
    """What the parts run: where the data sets live, which members with which parameters, how many folds."""

    workdir: Path
    members: list[str]
    member_params: dict | None = None
    folds: int = 5
    otc_test_quarters: int = 4
    otc_rolling_periods: int = 6
    ablation: bool = True
    people: int = 100_000
    temporal_path: bool = False
    """Fit the stacks with the temporal path on (pretraining, hybrid member); stack_without_temporal beside."""
    temporal: float = 0.0
    """sim: the weight of the simulator's temporal-structure option (0: the default world)."""


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    return {"auc": round(auc(y, p), 4), "ks": round(ks(y, p), 4),
            "ece": round(expected_calibration_error(y, p), 4), "rows": int(len(y)), "bads": int(y.sum())}


def without_dimension(inp: ModelInput, dim: Dimension) -> ModelInput:
    """The same bundle with one dimension's features removed from the tabular view."""
    defs = [d for d in inp.definitions if d.dimension is not dim]
    return ModelInput(FeatureFrame(inp.tabular.frame, defs, inp.tabular.meta), inp.sequences, inp.graph, inp.rows,
                      inp.known_at)


def lgbm_defaults(inp: ModelInput, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    import lightgbm as lgb

    X = inp.X.copy()
    for d in inp.definitions:
        if d.kind is Kind.CATEGORICAL:
            X[d.name] = X[d.name].astype("category")
    y = inp.y
    clf = lgb.LGBMClassifier(verbose=-1).fit(X.iloc[train], y[train])
    return np.asarray(clf.predict_proba(X.iloc[test]))[:, 1]


def fit_stack(inp: ModelInput, train: np.ndarray, members: list[str], args: ModelsRun, log_name: str,
              log: Callable[[str], None] = lambda line: print(line, flush=True)) -> StackModel:
    t0 = time.perf_counter()
    stack = StackModel(members=members, member_params=args.member_params, n_folds=args.folds, seed=0,
                       temporal=args.temporal_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack.fit(inp.take(train), on_progress=lambda k, i, n: log(f"  [{log_name}] {k} {i}/{n} "
                                                                   f"({time.perf_counter() - t0:.0f} s)"))
    return stack


def fit_plain_stack(stack: StackModel, train: ModelInput) -> StackModel | None:
    """With pretraining (the stack has an encoder), the same stack fitted on `train` with temporal=False:
    its other members read the embeddings too, so dropping the temporal members is not enough. None
    without an encoder (stack_pds then drops the temporal members instead)."""
    if getattr(stack, "encoder_", None) is None:
        return None
    plain = StackModel(**{**stack.get_params(deep=False), "temporal": False})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plain.fit(train)


def stack_pds(stack: StackModel, held: ModelInput, plain: StackModel | None = None) -> dict[str, np.ndarray]:
    """PD of every member, the stack and the stack without the temporal path on `held`: `plain` (see
    fit_plain_stack) when given, else stack.without(TEMPORAL_MEMBERS) (the same members, the combiner
    chosen again) when the stack has temporal and other members and no encoder. A pretrained stack without
    `plain` (an ablation arm) reports no stack_without_temporal: its other members were fitted on the
    embeddings, so dropping the temporal members keeps half the path, and only a refit leaves it all out."""
    logits = stack.member_logits(held)
    out = {kind: 1 / (1 + np.exp(-logits[kind].to_numpy())) for kind in logits}
    out["stack"] = stack.predict_proba(held)[:, 1]
    temporal = [k for k in logits if k in TEMPORAL_MEMBERS]
    if plain is not None:
        out["stack_without_temporal"] = plain.predict_proba(held)[:, 1]
    elif temporal and len(temporal) < logits.shape[1] and getattr(stack, "encoder_", None) is None:
        out["stack_without_temporal"] = stack.without(temporal).predict_proba(held)[:, 1]
    return out


def evaluate_stack(stack: StackModel, inp: ModelInput, test: np.ndarray, plain: StackModel | None = None) -> dict:
    held = inp.take(test)
    return {name: metrics(held.y, p) for name, p in stack_pds(stack, held, plain).items()}


def views_of(kind: str, args: ModelsRun) -> set[str]:
    return set(member_views(kind, (args.member_params or {}).get(kind)))


def members_for(views: set[str], args: ModelsRun) -> list[str]:
    """The members that read only these views (with their parameters)."""
    return [k for k in args.members if views_of(k, args) <= views]


BUILT_BY = ".built_by.json"
"""Beside a work data set (<root>.built_by.json): the code that built it, what it was built as, its fingerprint."""

_reads: dict[str, dict] | None = None


@contextlib.contextmanager
def data_read() -> Iterator[dict[str, dict]]:
    """Collects every work data set opened through reuse_or_build inside the block (its directory name ->
    fingerprint, the code that built it, whether it was reused): the data a benchmark figure was measured on."""
    global _reads
    outer, _reads = _reads, {}
    try:
        yield _reads
    finally:
        _reads = outer


def built_by(root: Path) -> dict | None:
    """The stamp reuse_or_build wrote beside `root` (None: built before stamps, or by something else)."""
    path = root.with_name(root.name + BUILT_BY)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def reuse_or_build(root: Path, what: dict, build: Callable[[], Any], same_what: bool = True):
    """The work data set at `root`, reused only when this code built it (and, with `same_what`, built it as
    `what`); otherwise it is removed and built again, and the build is stamped (built_by).

    Why rebuild rather than refuse: a data set or world built by older code made an OTC figure move that
    could not be traced; building again costs seconds to minutes against a benchmark's hours, and a refusal
    would only make the operator delete the directory by hand. The code is compared by its source
    fingerprint, so any change rebuilds: stricter than needed, never silently stale."""
    from deepcredit.data.dataset import Dataset

    stamp = built_by(root)
    why = _stale(root, stamp, what if same_what else None)
    if why is None:
        ds = Dataset(root)
    else:
        if root.exists():
            print(f"rebuilding the work data set {root.name}: {why}", flush=True)
            shutil.rmtree(root)
        ds = build()
        stamp = {"code": code_provenance(), "what": what, "fingerprint": ds.fingerprint(),
                 "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        atomic_write_json(root.with_name(root.name + BUILT_BY), stamp)
    assert stamp is not None
    fp = ds.fingerprint()
    if _reads is not None:  # by directory name; by parent/name where two differ by it (a sample and its source)
        key = root.name if _reads.get(root.name, {}).get("fingerprint") in (None, fp) else \
            f"{root.parent.name}/{root.name}"
        _reads.setdefault(key, {"fingerprint": fp, "what": stamp["what"], "built_by": stamp["code"],
                             "built_at": stamp["built_at"], "reused": why is None})
    return ds


def _stale(root: Path, stamp: dict | None, what: dict | None) -> str | None:
    """Why the work data set at `root` cannot be reused (None: it can)."""
    if not (root / "manifest.json").exists():
        return "absent"
    if stamp is None:
        return "no record of the code that built it"
    was = stamp.get("code") or {}
    if was.get("fingerprint") != code_provenance()["fingerprint"]:
        return (f"built by other code (commit {was.get('commit') or 'unknown'}, fingerprint "
                f"{str(was.get('fingerprint'))[:12]})")
    if what is not None and stamp.get("what") != what:
        return f"built as {stamp.get('what')}, not {what}"
    return None


def bundled(name: str, workdir: Path):
    """A bundled data set (data/datasets), written to workdir/<name> once per code (reuse_or_build). Its
    `what` is not compared: a run may have put a seeded sample there (benchmark.run_uci checks that)."""
    from deepcredit.data.datasets import load_bundled

    root = workdir / name
    return reuse_or_build(root, {"bundled": name}, lambda: load_bundled(name, root), same_what=False)


def simulated(workdir: Path, people: int, temporal: float = 0.0):
    """The benchmark's simulated world (seed 42; with the temporal option when `temporal`), reused from
    workdir when this code built it (reuse_or_build)."""
    from deepcredit.data.simulate import simulate_world

    root = workdir / (f"sim-{people}" + (f"-temporal{temporal:g}" if temporal else ""))
    return reuse_or_build(root, {"simulated": people, "seed": 42, "temporal": temporal},
                          lambda: simulate_world(root, people=people, seed=42, temporal=temporal))


def sim_split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The simulated world's 70/30 stratified split (random_state=42), positions sorted."""
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=42)
    return np.sort(train), np.sort(test)


# -- parts ------------------------------------------------------------------------------------------

def uci(args: ModelsRun, cv: bool) -> dict:
    ds = bundled("uci", args.workdir)
    members = members_for({"tabular", "temporal"}, args)  # UCI has no relations: no graph view
    views = sorted({"tabular", *(v for k in members for v in views_of(k, args))},
                   key=["tabular", "temporal", "structural"].index)
    inp = build_model_input(ds, views=views)
    y = inp.y
    if not cv:
        train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=42)
        splits = [(np.sort(train), np.sort(test))]
    else:
        skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
        splits = [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]
    runs = []
    for i, (train, test) in enumerate(splits):
        t0 = time.perf_counter()
        res: dict[str, Any] = {"lightgbm_defaults": metrics(y[test], lgbm_defaults(inp, train, test))}
        stack = fit_stack(inp, train, members, args, f"uci {'cv' if cv else 'split'} {i}")
        res.update(evaluate_stack(stack, inp, test, fit_plain_stack(stack, inp.take(train))))
        res["meta_weights"] = stack.metrics_["meta_weights"]
        res["fit_seconds"] = stack.fit_seconds_
        res["seconds"] = round(time.perf_counter() - t0, 1)
        runs.append(res)
        print(json.dumps({k: v.get("auc") if isinstance(v, dict) and "auc" in v else v for k, v in res.items()}),
              flush=True)
    if not cv:
        return {"members": members, **runs[0]}
    names = [k for k in runs[0] if isinstance(runs[0][k], dict) and "auc" in runs[0][k]]
    summary = {n: {m: {"mean": round(float(np.mean([r[n][m] for r in runs])), 4),
                       "std": round(fold_sd([r[n][m] for r in runs]), 4)} for m in ("auc", "ks")}
               for n in names}
    return {"members": members, "folds": runs, "summary": summary}


def last_quarters_split(inp: ModelInput, quarters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(as-of dates, train rows, test rows): the last `quarters` as-of dates held out, trained on the earlier
    rows whose outcome is known by the first of them (models.splits.time_split), as a model fitted that day
    would. On OTC the performance windows end when the next quarter starts, so every earlier row trains; a
    network loaded with longer windows leaves the rows still maturing out rather than learning from the future."""
    dates = np.sort(inp.keys["as_of"].unique())
    fold = time_split(inp.label_keys, dates[-quarters])
    return dates, fold.train, fold.predict


def otc(args: ModelsRun) -> dict:
    ds = bundled("otc", args.workdir)
    inp = build_model_input(ds, views=("tabular", "temporal", "structural"))
    dates, train, test = last_quarters_split(inp, args.otc_test_quarters)
    test_dates = dates[-args.otc_test_quarters:]
    graph_members = [k for k in args.members if "structural" in views_of(k, args)]
    without = [k for k in args.members if k not in graph_members]
    res: dict[str, Any] = {"train_dates": [str(pd.Timestamp(d).date()) for d in dates[:-args.otc_test_quarters]],
           "test_dates": [str(pd.Timestamp(d).date()) for d in test_dates],
           "graph_members": graph_members}
    arms = {"without_graph": (without_dimension(inp, SOCIAL), without),
            "with_graph": (inp, args.members)}
    for name, (arm_inp, members) in arms.items():
        t0 = time.perf_counter()
        stack = fit_stack(arm_inp, train, members, args, f"otc {name}")
        res[name] = {"members": [k for k, _ in stack.members_], **evaluate_stack(stack, arm_inp, test),
                     "meta_weights": stack.metrics_["meta_weights"], "fit_seconds": stack.fit_seconds_,
                     "seconds": round(time.perf_counter() - t0, 1)}
        print(name, res[name]["stack"], flush=True)
    res["auc_difference"] = round(res["with_graph"]["stack"]["auc"] - res["without_graph"]["stack"]["auc"], 4)
    return res


def otc_rolling(args: ModelsRun) -> dict:
    """OTC rolling origin: each of the last `otc_rolling_periods` quarters predicted by a stack (and LightGBM
    defaults) fitted on every quarter before it; AUC over the pooled predictions (evaluation/rolling.py)."""
    ds = bundled("otc", args.workdir)
    inp = build_model_input(ds, views=("tabular", "temporal", "structural"))
    weights: dict[str, dict] = {}
    t0 = time.perf_counter()

    def fit_predict(train: ModelInput, test: ModelInput) -> dict[str, np.ndarray]:
        period = str(test.keys["as_of"].min().date())
        stack = StackModel(members=args.members, member_params=args.member_params, n_folds=args.folds, seed=0,
                           temporal=args.temporal_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack.fit(train)
        weights[period] = {"meta_weights": stack.metrics_["meta_weights"],
                           "chosen": stack.metrics_["combiner"]["chosen"],
                           "member_own_pd": stack.metrics_["combiner"]["member_own_pd"]}
        both = replace(train, rows=np.concatenate([train.index, test.index]))
        lgbm = lgbm_defaults(both, np.arange(len(train)), len(train) + np.arange(len(test)))
        print(f"  [otc rolling] {period} fitted ({time.perf_counter() - t0:.0f} s)", flush=True)
        return {**stack_pds(stack, test, fit_plain_stack(stack, train)), "lightgbm_defaults": lgbm}

    pooled = rolling_origin(inp, fit_predict, args.otc_rolling_periods)
    return {"test_periods": sorted(pooled["period"].unique().tolist()), "members": list(args.members),
            "temporal_members": [k for k in args.members if k in TEMPORAL_MEMBERS],
            "models": pooled_metrics(pooled), "combiner": weights, "seconds": round(time.perf_counter() - t0, 1)}


def sim(args: ModelsRun) -> dict:
    from deepcredit.scoring.scorer import Scorer

    t0 = time.perf_counter()
    ds = simulated(args.workdir, args.people, args.temporal)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    inp = build_model_input(ds, views=("tabular", "temporal", "structural"))
    t_features = time.perf_counter() - t0
    truth, people = ds.read("truth"), inp.keys["person_id"].to_numpy()
    y = inp.y
    train, test = sim_split(y)
    limits = {rows: bayes_auc(truth, people[at], y[at]) for rows, at in (("test", test), ("all", slice(None)))}
    res: dict[str, Any] = {"people": args.people, "simulate_seconds": round(t_sim, 1), "features_seconds": round(t_features, 1),
           **{f"bayes_auc_{rows}": None if a is None else round(a, 4) for rows, a in limits.items()},
           "temporal": args.temporal}
    t0 = time.perf_counter()
    gauge = observable_pd(ds, temporal=args.temporal).set_index("person_id")["observable_pd"]
    res["observable_auc_test"] = round(auc(y[test], gauge.reindex(inp.keys["person_id"]).to_numpy()[test]), 4)
    res["observable_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    res["lightgbm_defaults"] = metrics(y[test], lgbm_defaults(inp, train, test))
    res["lightgbm_defaults"]["seconds"] = round(time.perf_counter() - t0, 1)
    arms = {
        "tabular_only": (without_dimension(inp, SOCIAL), members_for({"tabular"}, args)),
        "plus_temporal": (without_dimension(inp, SOCIAL), members_for({"tabular", "temporal"}, args)),
        "plus_graph": (inp, members_for({"tabular", "structural"}, args)),
        "full": (inp, args.members),
    }
    if not args.ablation:
        arms = {"full": arms["full"]}
    res["ablation"] = {}
    seen: dict[tuple, str] = {}
    fitted: dict[str, StackModel] = {}
    for name, (arm_inp, members) in arms.items():
        key = (tuple(members), len(arm_inp.definitions))
        if key in seen:  # e.g. no temporal member implemented: the same stack as another arm
            res["ablation"][name] = {"same_as": seen[key], "members": members}
            continue
        seen[key] = name
        t0 = time.perf_counter()
        stack = fit_stack(arm_inp, train, members, args, f"sim {name}")
        fit_s = time.perf_counter() - t0
        plain = fit_plain_stack(stack, arm_inp.take(train)) if name == "full" else None
        ev = evaluate_stack(stack, arm_inp, test, plain)
        res["ablation"][name] = {"members": [k for k, _ in stack.members_], "features": len(arm_inp.definitions),
                                 **ev, "meta_weights": stack.metrics_["meta_weights"],
                                 "gap_to_bayes": round(res["bayes_auc_test"] - ev["stack"]["auc"], 4),
                                 "gap_to_observable": round(res["observable_auc_test"] - ev["stack"]["auc"], 4),
                                 "fit_seconds": stack.fit_seconds_, "train_seconds": round(fit_s, 1)}
        print(name, ev["stack"], flush=True)
        fitted[name] = stack
    full_stack = fitted[res["ablation"]["full"].get("same_as", "full")]  # the full arm may repeat another
    t0 = time.perf_counter()
    card = Scorer(full_stack).report(inp)
    res["batch_scoring"] = {"rows": len(card), "seconds": round(time.perf_counter() - t0, 1),
                            "subscores_add_up": bool((card[[d.value for d in Dimension]].sum(axis=1)
                                                      == card["score"]).all())}
    return res


# -- report -----------------------------------------------------------------------------------------

def markdown(results: dict) -> str:
    lines = []
    if "uci-split" in results:
        r = results["uci-split"]
        lines += ["## UCI, stratified 70/30 split (random_state=42)", "", "| model | AUC | KS | ECE |",
                  "|---|---:|---:|---:|"]
        for name in ["lightgbm_defaults", *r["members"], "stack"]:
            if name in r:
                lines.append(f"| {name} | {r[name]['auc']:.4f} | {r[name]['ks']:.4f} | {r[name]['ece']:.4f} |")
        lines.append("")
    if "uci-cv" in results:
        s = results["uci-cv"]["summary"]
        lines += ["## UCI, stratified 5-fold CV (seed 42)", "", "| model | AUC mean ± sd | KS mean ± sd |",
                  "|---|---:|---:|"]
        for name, v in s.items():
            lines.append(f"| {name} | {v['auc']['mean']:.4f} ± {v['auc']['std']:.4f} | "
                         f"{v['ks']['mean']:.4f} ± {v['ks']['std']:.4f} |")
        lines.append("")
    if "otc" in results:
        r = results["otc"]
        lines += [f"## OTC: train {r['train_dates'][0]}..{r['train_dates'][-1]}, test {', '.join(r['test_dates'])}",
                  "", "| stack | members | AUC | KS |", "|---|---|---:|---:|"]
        for arm in ("without_graph", "with_graph"):
            a = r[arm]
            lines.append(f"| {arm} | {', '.join(a['members'])} | {a['stack']['auc']:.4f} | {a['stack']['ks']:.4f} |")
        lines += ["", f"AUC difference (with - without): {r['auc_difference']:+.4f}", ""]
    if "sim" in results:
        r = results["sim"]
        lines += [f"## Simulated world, {r['people']:,} people, 70/30 split", "",
                  f"Bayes limit on the test rows: AUC {r['bayes_auc_test']:.4f}; LightGBM defaults "
                  f"{r['lightgbm_defaults']['auc']:.4f}", "",
                  "| stack | members | AUC | gap to Bayes | KS | ECE | train s |", "|---|---|---:|---:|---:|---:|---:|"]
        for name, a in r["ablation"].items():
            if "same_as" in a:
                lines.append(f"| {name} | {', '.join(a['members'])} | = {a['same_as']} | | | | |")
                continue
            s = a["stack"]
            lines.append(f"| {name} | {', '.join(a['members'])} | {s['auc']:.4f} | {a['gap_to_bayes']:+.4f} | "
                         f"{s['ks']:.4f} | {s['ece']:.4f} | {a['train_seconds']:.0f} |")
        full = r["ablation"].get("full", {})
        if "fit_seconds" in full:
            lines += ["", "Fit seconds of the full stack: " + ", ".join(f"{k} {v}" for k, v in full["fit_seconds"].items())]
        b = r["batch_scoring"]
        lines += [f"Batch scoring (PD, score, sub-scores, reasons) of {b['rows']:,} rows: {b['seconds']} s "
                  f"(features: {r['features_seconds']} s)", ""]
    return "\n".join(lines)


def check_parts(parts: Sequence[str]) -> None:
    """A clear error naming the parts that are not PARTS."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown part(s) {sorted(unknown)}")


def run(args: ModelsRun, parts: Sequence[str] = PARTS, out: Path = Path("runs/bench/models.json"),
        log: Callable[[str], None] = lambda line: print(line, flush=True)) -> dict:
    """Run the named PARTS in order; every number, written to `out` (JSON) after every part, so that a run
    killed midway keeps the parts before."""
    check_parts(parts)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"members_implemented": list(default_members()),
                     "members_missing": [k for k in ALL_MEMBERS if k not in available_kinds()],
                     "members": args.members, "folds": args.folds, "cpu_count": os.cpu_count()}
    t0 = time.perf_counter()
    for part in parts:
        log(f"== {part}")
        results[part] = {"uci-split": lambda: uci(args, cv=False), "uci-cv": lambda: uci(args, cv=True),
                         "otc": lambda: otc(args), "otc-rolling": lambda: otc_rolling(args),
                         "sim": lambda: sim(args)}[part]()
        results["seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_text(out, json.dumps(results, indent=2, default=str) + "\n")
    return results
