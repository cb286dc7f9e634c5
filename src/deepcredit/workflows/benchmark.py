"""`deepcredit benchmark`: every model, the peers and the speed stages in one run -> results.json + docs.

The comparisons themselves live in workflows/benchmarks/ (models: stack members, stack, LightGBM
defaults on UCI / OTC (a time split, and rolling origin: otc_rolling) / a simulated world and one with
the simulator's temporal-structure option (simulated_temporal), each with its Bayes and observable
limits; scorecards: the peer scorecards on UCI; features: simulation and feature building in child
processes). Every data set reports `stack_without_temporal` (the stack less TEMPORAL_MEMBERS) where the
stack has a temporal member. This module only decides
*what* runs (the plan: quick or full), runs it in one process so every model of a data set sees the same
split, measures the speed stages in child processes (so each peak memory is that stage's alone), and turns
the numbers into one results.json with a fixed shape and the generated block of docs/benchmarks.md.

Same folds: benchmarks.models and benchmarks.scorecards both split UCI with a stratified 70/30 split
(random_state=42) and stratified 5-fold CV (shuffle, random_state=42) over the same rows in the same
order (person uci-00001 first), so the peers and our models are scored on identical held-out rows.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deepcredit.config import RunConfig, StackConfig, write_run_record
from deepcredit.data.dataset import sample_dataset
from deepcredit.data.io import atomic_write_json, atomic_write_text, library_versions
from deepcredit.features.bundle import build_model_input
from deepcredit.models.stack import (
    ALL_MEMBERS,
    available_kinds,
    default_members,
)
from deepcredit.workflows.benchmarks import code_provenance
from deepcredit.workflows.benchmarks import declared as bench_declared
from deepcredit.workflows.benchmarks import features as bench_features
from deepcredit.workflows.benchmarks import models as bench_models
from deepcredit.workflows.benchmarks import scorecards as bench_scorecards
from deepcredit.workflows.benchmarks import service as bench_service
from deepcredit.workflows.benchmarks.child import model_stage, run_child, speed_world

SCHEMA_VERSION = 1
BEGIN, END = "<!-- benchmark:begin -->", "<!-- benchmark:end -->"
PEERS = ("optbinning", "toad", "scorecardpy")
SPEED_STAGES = ("simulate", "features", "train", "score", "report")
"""score: PD, score and band of every person; report: the full report card (plus sub-scores and reasons)."""

StepFn = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """What one benchmark run does. `quick` is a smoke run for CI; the full plan is the one recorded."""

    mode: str
    sim_people: int
    speed_sizes: tuple[int, ...]
    train_sizes: tuple[int, ...]
    stack_folds: int
    cv: bool
    ablation: bool
    member_params: dict | None = None
    otc_test_quarters: int = 4
    otc_rolling_periods: int = 6
    """OTC rolling origin: each of the last this many quarters is a test set (trained on those before it)."""
    temporal_weight: float = 1.0
    """simulated_temporal: the weight of the simulator's temporal-structure option."""
    temporal_people: int | None = None
    """simulated_temporal: its size (None: sim_people)."""
    uci_people: int | None = None
    """Draw this many UCI people (seeded) instead of all 30,000: quick mode's smaller slice."""
    peers: tuple[str, ...] = PEERS
    peers_python: str | None = None
    seed: int = 42
    service_people: int = 20_000
    """The world the service latencies (service.*) are measured on, scored by the stack of `model_size`."""
    notes: list[str] = field(default_factory=list)
    datasets: tuple[str, ...] = ("uci", "otc", "otc_rolling", "simulated", "simulated_temporal", "german")
    """The data sets this run measures (a subset with `--datasets`); see DATASETS."""
    speed: bool = True
    """Whether the speed stages run."""
    temporal_path: bool = True
    """Stacks with the temporal path (off in the product by default), with stack_without_temporal beside."""

    @property
    def model_size(self) -> int:
        """The training size whose stack scores every speed size."""
        return max(self.train_sizes)


QUICK = Plan(mode="quick", sim_people=3_000, speed_sizes=(3_000,), train_sizes=(3_000,), stack_folds=2,
             cv=False, ablation=False, uci_people=6_000, otc_rolling_periods=1, temporal_people=1_500,
             temporal_path=False, service_people=3_000,
             member_params={"sequence": {"max_epochs": 1}, "wide_deep": {"max_epochs": 1}, "graph": {"max_epochs": 2},
                            "gbdt": {"n_estimators": 300}},
             notes=["quick mode: smoke run (6,000 of UCI's 30,000 people, 2 stacking folds, neural members "
                    "capped at 1-2 epochs, 300 boosting rounds, no CV, no ablation, OTC rolling origin over "
                    "1 quarter, 3,000 simulated people (1,500 with temporal structure), "
                    "speed and service at 3,000 only); not for the record"])
FULL = Plan(mode="full", sim_people=100_000, speed_sizes=(10_000, 100_000, 1_000_000),
            train_sizes=(10_000, 100_000), stack_folds=5, cv=True, ablation=True)


def plan_for(quick: bool) -> Plan:
    return QUICK if quick else FULL


# -- the comparisons ---------------------------------------------------------------------------------------

def _models_args(plan: Plan, workdir: Path, people: int | None = None, temporal: float = 0.0,
                 ablation: bool | None = None) -> bench_models.ModelsRun:
    members = list(default_members(plan.temporal_path))
    return bench_models.ModelsRun(workdir=workdir, members=members, member_params=plan.member_params,
                                  folds=plan.stack_folds, otc_test_quarters=plan.otc_test_quarters,
                                  otc_rolling_periods=plan.otc_rolling_periods,
                                  ablation=plan.ablation if ablation is None else ablation,
                                  people=people or plan.sim_people, temporal=temporal,
                                  temporal_path=plan.temporal_path)


def _am(m: dict) -> dict:
    """auc, ks (and ece when present) of one bench_models metrics dict."""
    return {k: m[k] for k in ("auc", "ks", "ece") if k in m}


STACK_ARMS = ("stack", "stack_without_temporal")
"""The stack and its ablations that every data set's results carry where they apply."""


def _pick_models(part: dict, members: list[str]) -> dict:
    out = {k: _am(part[k]) for k in [*members, *STACK_ARMS] if k in part}
    if "lightgbm_defaults" in part:
        out["peer:lightgbm"] = _am(part["lightgbm_defaults"])
    return out


# -- data sets --------------------------------------------------------------------------------------------

def run_uci(plan: Plan, workdir: Path, step: StepFn) -> dict:
    bm = bench_models
    args = _models_args(plan, workdir)
    root = workdir / "uci"  # a seeded sample (quick mode) or all of it; rebuilt when the other was there
    if plan.uci_people:
        n = plan.uci_people
        bm.reuse_or_build(root, {"sample_of": "uci", "people": n, "seed": plan.seed},
                          lambda: sample_dataset(bm.bundled("uci", workdir / "full"), root, n, plan.seed))
    else:
        from deepcredit.data.datasets import load_bundled

        bm.reuse_or_build(root, {"bundled": "uci"}, lambda: load_bundled("uci", root))
    step("uci: members, stack, LightGBM defaults (70/30 split)")
    split = bm.uci(args, cv=False)
    res: dict = {"split": "stratified 70/30, random_state=42"
                          + (f" of {plan.uci_people:,} people drawn with seed {plan.seed}" if plan.uci_people else ""),
                 "members": split["members"],
                 "models": _pick_models(split, split["members"]), "skipped": {}}
    if plan.cv:
        step("uci: members, stack, LightGBM defaults (5-fold CV)")
        cv = bm.uci(args, cv=True)
        res["cv"] = {("peer:lightgbm" if k == "lightgbm_defaults" else k):
                     {f"{m}_{s}": v[m][s] for m in ("auc", "ks") for s in ("mean", "std")}
                     for k, v in cv["summary"].items()}
    step("uci: our scorecard alone and the peer scorecards")
    sc = _uci_scorecards(plan, workdir, res["skipped"])
    res["models"].update(sc.pop("models"))
    cv = sc.pop("cv")
    if cv:
        res.setdefault("cv", {}).update(cv)
    return {**res, **sc}


def _uci_scorecards(plan: Plan, workdir: Path, skipped: dict) -> dict:
    """benchmarks.scorecards' run (our scorecard alone, the peers) on the same split and CV folds."""
    bs = bench_scorecards
    peers = [p for p in plan.peers if plan.peers_python or bs._importable(p)]
    for p in plan.peers:
        if p not in peers:
            skipped[f"peer:{p}"] = "not importable here (pip install -e .[bench], or --peers-python)"
    got = bs.run(bs.ScorecardsRun(data=workdir / "uci", rows=0, folds=5 if plan.cv else 0, peers=tuple(peers),
                                  peers_python=plan.peers_python))
    print(got["_table"])  # into the run's log, as the comparison's own command prints it
    models, cv = {}, {}
    names = {"deepcredit scorecard": "scorecard_standalone", **{p: f"peer:{p}" for p in peers}}
    for src, dst in names.items():
        r = got.get(src)
        if r is None:
            continue
        if "error" in r:  # a peer that could not run is reported as skipped, with why
            skipped[dst] = r["error"]
            continue
        models[dst] = {"auc": round(r["split"]["auc"], 4), "ks": round(r["split"]["ks"], 4),
                       "fit_seconds": round(r["fit_s"], 1)}
        if r.get("cv"):
            cv[dst] = {f"{m}_{s}": round(float(fn([f[m] for f in r["cv"]])), 4)
                       for m in ("auc", "ks") for s, fn in (("mean", _mean), ("std", _std))}
    meta = got.get("_meta", {})
    return {"models": models, "cv": cv, "rows": meta.get("rows"),
            "bad_rate": round(meta.get("bad_rate", float("nan")), 4),
            "peer_versions": got.get("_peer_versions", meta.get("versions", {})),
            "peer_inputs": "raw UCI columns minus ID, SEX, AGE, MARRIAGE (as the peers' tutorials do); "
                           "scorecard_standalone: our card alone on the engine's features"}


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def _std(v: list[float]) -> float:
    from deepcredit.evaluation.metrics import fold_sd

    return fold_sd(v)


def run_otc(plan: Plan, workdir: Path, step: StepFn) -> dict:
    bm = bench_models
    step("otc: stack with and without graph inputs, LightGBM defaults (time split)")
    r = bm.otc(_models_args(plan, workdir))
    full = r["with_graph"]
    models = _pick_models(full, full["members"])
    models["stack_without_graph"] = _am(r["without_graph"]["stack"])
    models["peer:lightgbm"] = _otc_lightgbm(plan, workdir)
    return {"split": f"train on as-of {r['train_dates'][0]}..{r['train_dates'][-1]}, "
                     f"test on {', '.join(r['test_dates'])}",
            "members": full["members"], "models": models, "graph_auc_difference": r["auc_difference"],
            "skipped": {f"peer:{p}": "peer scorecards run on UCI's raw columns only" for p in plan.peers}}


def _otc_lightgbm(plan: Plan, workdir: Path) -> dict:
    """LightGBM defaults on OTC's tabular features and the same time split as benchmarks.models.otc."""
    bm = bench_models
    inp = build_model_input(bm.bundled("otc", workdir), views=("tabular",))
    _, train, test = bm.last_quarters_split(inp, plan.otc_test_quarters)
    return _am(bm.metrics(inp.y[test], bm.lgbm_defaults(inp, train, test)))


def run_otc_rolling(plan: Plan, workdir: Path, step: StepFn) -> dict:
    step(f"otc: rolling origin over the last {plan.otc_rolling_periods} quarters (stack, without temporal, LightGBM)")
    r = bench_models.otc_rolling(_models_args(plan, workdir))
    models = {("peer:lightgbm" if k == "lightgbm_defaults" else k): v for k, v in r["models"].items()}
    stack, best = models.get("stack", {}), max((models[k]["auc"] for k in r["members"] if k in models), default=None)
    return {"split": f"rolling origin: each of {', '.join(r['test_periods'])} predicted by models fitted on every "
                     "earlier quarter; AUC over the pooled predictions",
            "members": r["members"], "temporal_members": r["temporal_members"], "models": models,
            "stack_minus_best_member": None if best is None or "auc" not in stack else round(stack["auc"] - best, 4),
            "combiner": r["combiner"],
            "skipped": {f"peer:{p}": "peer scorecards run on UCI's raw columns only" for p in plan.peers}}


def run_simulated(plan: Plan, workdir: Path, step: StepFn, temporal: float = 0.0) -> dict:
    bm = bench_models
    what = " with temporal structure" if temporal else ""
    people = (plan.temporal_people or plan.sim_people) if temporal else plan.sim_people
    step(f"simulated world{what} ({people:,} people): stack vs the Bayes and observable limits")
    r = bm.sim(_models_args(plan, workdir, people=people, temporal=temporal, ablation=plan.ablation and not temporal))
    full = r["ablation"]["full"]
    ablation = {}
    for arm, a in r["ablation"].items():
        ablation[arm] = ({"same_as": a["same_as"], "members": a["members"]} if "same_as" in a else
                         {"members": a["members"], **_am(a["stack"]), "gap_to_bayes": a["gap_to_bayes"]})
    out = {"people": r["people"], "split": "stratified 70/30, random_state=42",
           "bayes_auc": r["bayes_auc_test"], "bayes_auc_all_rows": r["bayes_auc_all"],
           "observable_auc": r["observable_auc_test"],
           "observable_conditions_on": "own non-protected profile, own events and relation kinds before as-of, "
                                       "the neighbours' own-data posterior means" +
                                       (", the order of event kinds" if temporal else "") + " (data/observable.py)",
           "members": full["members"], "models": _pick_models({**full, **r}, full["members"]),
           "gap_to_bayes": full["gap_to_bayes"], "gap_to_observable": full["gap_to_observable"], "ablation": ablation,
           "skipped": {f"peer:{p}": "peer scorecards run on UCI's raw columns only" for p in plan.peers}}
    if temporal:
        out["temporal_weight"] = temporal
        models = out["models"]
        if "stack_without_temporal" in models:  # share of the gap to the observable limit the temporal path recovers
            gap = r["observable_auc_test"] - models["stack_without_temporal"]["auc"]
            lift = models["stack"]["auc"] - models["stack_without_temporal"]["auc"]
            out["temporal_gap_recovered"] = round(lift / gap, 3) if gap > 0 else None
    return out


def run_simulated_temporal(plan: Plan, workdir: Path, step: StepFn) -> dict:
    return run_simulated(plan, workdir, step, temporal=plan.temporal_weight)


def run_german(plan: Plan, workdir: Path, step: StepFn) -> dict:
    """German credit through its declared spec: our scorecard and stack against optbinning and LightGBM."""
    return bench_declared.run(bench_models.bundled("german", workdir), _models_args(plan, workdir), plan.cv, step)


DATASETS: dict[str, Callable[[Plan, Path, StepFn], dict]] = {
    "uci": run_uci, "otc": run_otc, "otc_rolling": run_otc_rolling, "simulated": run_simulated,
    "simulated_temporal": run_simulated_temporal, "german": run_german}
"""Every data set the benchmark knows, in the order a run measures them."""


# -- speed (child processes) --------------------------------------------------------------------------------

def run_speed(plan: Plan, workdir: Path, step: StepFn) -> tuple[dict, list[dict]]:
    """speed.<stage>.<size> = {seconds, peak_mb, ...}; and what was skipped, with why."""
    speed: dict = {s: {} for s in SPEED_STAGES}
    skipped: list[dict] = []
    worlds = {n: workdir / "speed" / f"world-{n}" / "data" for n in plan.speed_sizes}
    models = {n: workdir / "speed" / f"model-{n}" for n in plan.train_sizes}
    for n, data in worlds.items():
        args = {"out": str(data), "people": n, "seed": plan.seed}
        step(f"speed: simulate {n:,} people")
        speed["simulate"][str(n)] = speed_world(data, n, plan.seed)
        step(f"speed: build all features for {n:,} people")
        speed["features"][str(n)] = run_child(bench_features.__name__, "_child", "engine_all", args)
    for n in plan.speed_sizes:
        if n not in plan.train_sizes:
            skipped.append({"what": f"train at {n:,}", "why": "training the full stack at this size does not fit "
                            "the benchmark's time budget; larger sizes are scored with the "
                            f"{plan.model_size:,}-person model"})
            continue
        step(f"speed: train the stack on {n:,} people")
        speed["train"][str(n)] = model_stage("train", {"data": str(worlds[n]), "model": str(models[n]),
                                                      "member_params": plan.member_params, "folds": plan.stack_folds})
    model = models[plan.model_size]
    trained = "error" not in speed["train"].get(str(plan.model_size), {})
    for n in plan.speed_sizes:
        for stage, what in (("score", "scores"), ("report", "report cards")):
            if not trained:
                skipped.append({"what": f"{stage} at {n:,}", "why": "training the scoring model failed"})
                continue
            step(f"speed: batch-score {n:,} people ({what})")
            speed[stage][str(n)] = {**model_stage(stage, {"data": str(worlds[n]), "model": str(model)}),
                                    "model_trained_on": plan.model_size}
    return speed, skipped


def run_service(plan: Plan, workdir: Path, step: StepFn) -> dict:
    """service.admittance_p99_ms and service.stack_rescore_p99_ms (benchmarks/service.py), in a child process,
    on a world of `plan.service_people` served with the stack trained for the speed stages."""
    n = plan.service_people
    model = workdir / "speed" / f"model-{plan.model_size}"
    if not (model / "manifest.json").exists():
        return {"error": "the speed stages' stack was not trained"}
    data = workdir / "speed" / f"world-{n}" / "data"
    step(f"service: simulate {n:,} people (or reuse the speed stages' world)")
    made = speed_world(data, n, plan.seed)
    if "error" in made:
        return made
    step(f"service: admittance decisions and stack re-scores on {n:,} people")
    with tempfile.TemporaryDirectory() as tmp:
        return run_child(bench_service.__name__, "_child", "service",
                         {"data": str(data), "model": str(model), "workdir": tmp})


# -- the whole run -------------------------------------------------------------------------------------------

def count_steps(plan: Plan) -> int:
    per_dataset = {"uci": 3 + plan.cv, "otc": 1, "simulated": 1, "german": 1 + plan.cv}
    speed = 2 * len(plan.speed_sizes) + len(plan.train_sizes) + 2 * len(plan.speed_sizes)
    speed += 1 + (plan.service_people not in plan.speed_sizes)  # the served world and its latencies
    return sum(per_dataset.get(d, 1) for d in plan.datasets) + (speed if plan.speed else 0)


def check_datasets(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names, validated against DATASETS (a clear error names the unknown ones)."""
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        raise ValueError(f"unknown data set(s) {', '.join(unknown) or '(none given)'}: "
                         f"choose from {', '.join(DATASETS)}")
    return names


def run_benchmark(out: Path, plan: Plan, workdir: Path | None = None, step: StepFn | None = None,
                  log: Path | None = None) -> dict:
    """Run the plan; write out/results.json (atomically, after every data set) and return the results."""
    out = Path(out)
    workdir = Path(workdir) if workdir else out / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    step = step or (lambda s: None)
    t_start = time.perf_counter()
    results: dict = {
        "schema_version": SCHEMA_VERSION, "mode": plan.mode, "plan": _plan_dict(plan),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "versions": library_versions()},
        "members_implemented": list(default_members()),
        "members_missing": [k for k in ALL_MEMBERS if k not in available_kinds()],
        "datasets": {}, "speed": {}, "skipped": [],
    }
    write_run_record(out, RunConfig(member_params=plan.member_params or {}, stack=StackConfig(folds=plan.stack_folds),
                                    seed=plan.seed))  # several data sets: no one fingerprint
    log_fh = open(log or out / "benchmark.log", "a", buffering=1)  # noqa: SIM115 - closed below
    try:
        for name in check_datasets(plan.datasets):
            t0, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
            with contextlib.redirect_stdout(log_fh), bench_models.data_read() as read:
                ds = results["datasets"][name] = DATASETS[name](plan, workdir, step)
            seconds = round(time.perf_counter() - t0, 1)
            ds["measured"] = {"started_at": results["started_at"], "mode": plan.mode, "seconds": seconds}
            ds["provenance"] = provenance(plan, name, ds, read, started, seconds)
            _save(out, results, t_start, atomic_write_json)
        if plan.speed:
            with contextlib.redirect_stdout(log_fh):
                results["speed"], results["skipped"] = run_speed(plan, workdir, step)
                _save(out, results, t_start, atomic_write_json)
                results["service"] = run_service(plan, workdir, step)
    finally:
        log_fh.close()
    return _save(out, results, t_start, atomic_write_json)


COMMON_OPTIONS = ("mode", "seed", "stack_folds", "cv", "ablation", "member_params", "temporal_path")
"""The plan's options every data set's figures depend on."""
DATASET_OPTIONS: dict[str, tuple[str, ...]] = {
    "uci": ("uci_people", "peers", "peers_python"), "otc": ("otc_test_quarters",),
    "otc_rolling": ("otc_rolling_periods",), "simulated": ("sim_people",),
    "simulated_temporal": ("sim_people", "temporal_people", "temporal_weight"), "german": ()}
"""The plan's options that concern one data set only (beside COMMON_OPTIONS)."""


def provenance(plan: Plan, name: str, ds: dict, data: dict, started_at: str, seconds: float) -> dict:
    """What produced one data set's figures (`datasets.<name>.provenance`): the code (commit, dirty tree,
    source fingerprint), library versions, the machine, the plan's options for it, when and how long, and the
    fingerprint of every work data set it read (with the code that built it).

    Why per data set: a record is merged from many runs (merge_into_record), so one top-level machine or plan
    cannot say what made a figure measured by another run."""
    options = {k: getattr(plan, k) for k in (*COMMON_OPTIONS, *DATASET_OPTIONS.get(name, ()))}
    protocol = {k: ds[k] for k in ("split", "cv_protocol") if k in ds}
    return {"code": code_provenance(), "versions": library_versions(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},
            "plan": {**options, "members": list(default_members(plan.temporal_path)), "protocol": protocol},
            "started_at": started_at, "seconds": seconds, "data": data}


def merge_into_record(recorded: dict, results: dict, plan: Plan) -> dict:
    """A partial run (some data sets, or no speed stages) recorded over an earlier full record: the data sets
    and stages it measured replace the recorded ones, each with its own provenance (run_benchmark stamps
    `datasets.<name>.provenance`); the rest keep theirs as recorded, and `runs` lists every run that
    contributed. The top-level `machine` and `plan` become the last run's (`last_run`
    says so): no data set's figure should be read from them."""
    merged = {**recorded, "datasets": {**recorded.get("datasets", {}), **results["datasets"]}}
    if plan.speed:
        merged["speed"], merged["skipped"] = results["speed"], results["skipped"]
        merged["service"] = results.get("service", {})
    merged["machine"], merged["plan"] = results["machine"], results["plan"]
    merged["last_run"] = (f"machine and plan are those of the last run merged in ({results['started_at']}); "
                          "each data set's own are under datasets.<name>.provenance")
    runs = list(recorded.get("runs", [{"started_at": recorded.get("started_at"), "mode": recorded.get("mode"),
                                       "seconds": recorded.get("seconds"), "measured": "everything"}]))
    runs.append({"started_at": results["started_at"], "mode": results["mode"], "seconds": results["seconds"],
                 "measured": [*results["datasets"], *(["speed"] if plan.speed else [])]})
    merged["runs"] = runs
    return merged


def _save(out: Path, results: dict, t_start: float, write) -> dict:
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    write(out / "results.json", results)
    return results


def _plan_dict(plan: Plan) -> dict:
    d = asdict(plan)
    d["model_size"] = plan.model_size
    return d


# -- markdown --------------------------------------------------------------------------------------------------

def _f(v, digits: int = 4) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "n/a"


def _model_order(ds: dict) -> list[str]:
    models = ds["models"]
    ours = [m for m in [*ds.get("members", []), *STACK_ARMS, "stack_without_graph", "scorecard_standalone"]
            if m in models]
    return ours + sorted(m for m in models if m not in ours)


def render_markdown(results: dict) -> str:
    """The generated block of docs/benchmarks.md (without the markers)."""
    mode = results.get("mode", "?")
    runs = results.get("runs", [])
    if len(runs) > 1:  # a record merged from partial runs: say so, and that each part carries its own date
        started = sorted(str(r.get("started_at")) for r in runs)
        when = (f"assembled from {len(runs)} runs, {started[0][:10]} to {started[-1][:10]}; a data set or speed "
                "row measured after the first run says when")
    else:
        when = (f"{mode} mode, {results.get('started_at', '?')}, {results.get('seconds', 0):,.0f} s on "
                f"{results.get('machine', {}).get('cpus', '?')} CPUs")
    lines = [f"_Generated by `deepcredit benchmark{' --quick' if mode == 'quick' else ''}` ({when}); do not edit "
             "by hand: the command rewrites everything between the markers._", ""]
    for note in results.get("plan", {}).get("notes", []):
        lines += [f"> {note}", ""]
    titles = {"uci": "UCI credit cards", "otc": "Bitcoin OTC", "otc_rolling": "Bitcoin OTC, rolling origin",
              "simulated": "Simulated world", "simulated_temporal": "Simulated world with temporal structure",
              "german": "German credit (declared through its spec)"}
    datasets = results.get("datasets", {})  # results.json sorts keys: render in a fixed order
    for name in sorted(datasets, key=lambda n: (list(titles).index(n) if n in titles else len(titles), n)):
        ds = datasets[name]
        title = titles.get(name, name)
        if "people" in ds:
            title += f", {ds['people']:,} people"
        lines += [f"### {title}", "", f"Held-out rows: {ds.get('split', '?')}."
                  + (f" CV: {ds['cv_protocol']}." if "cv_protocol" in ds else "")
                  + (f" Measured {ds['measured']['started_at']} ({ds['measured']['seconds']:,.0f} s)."
                     if "measured" in ds else "")]
        if "bayes_auc" in ds:
            lines += ["", f"Bayes limit (AUC of the true default probability on the same test rows): "
                          f"**{_f(ds['bayes_auc'])}**; the stack's gap to it: {_f(ds.get('gap_to_bayes'))}."]
        if "observable_auc" in ds:
            lines += ["", f"Observable limit (AUC of the PD given what is observable before as-of: "
                          f"{ds.get('observable_conditions_on', '?')}): **{_f(ds['observable_auc'])}**; the stack's gap "
                          f"to it: {_f(ds.get('gap_to_observable'))}."]
        if ds.get("temporal_gap_recovered") is not None:
            lines += ["", f"Share of the gap between the stack without its temporal members and the observable "
                          f"limit that the temporal members recover: {ds['temporal_gap_recovered']:.2f}."]
        if ds.get("stack_minus_best_member") is not None:
            lines += ["", f"Stack AUC minus its best member's: {ds['stack_minus_best_member']:+.4f}."]
        if "graph_auc_difference" in ds:
            lines += ["", f"Graph inputs: stack AUC with - without = {ds['graph_auc_difference']:+.4f}."]
        cv = ds.get("cv", {})
        head = "| model | AUC | KS |" + (" CV AUC | CV KS |" if cv else "")
        lines += ["", head, "|---|---:|---:|" + ("---:|---:|" if cv else "")]
        for m in _model_order(ds):
            r = ds["models"][m]
            row = f"| {m} | {_f(r.get('auc'))} | {_f(r.get('ks'))} |"
            if cv:
                c = cv.get(m)
                row += (f" {_f(c['auc_mean'])} ± {_f(c['auc_std'])} | {_f(c['ks_mean'])} ± {_f(c['ks_std'])} |"
                        if c else " | |")
            lines.append(row)
        for m, why in ds.get("skipped", {}).items():
            lines.append(f"| {m} | skipped: {why} | |" + (" | |" if cv else ""))
        abl = ds.get("ablation", {})
        if len(abl) > 1:
            lines += ["", "| ablation | members | AUC | gap to Bayes |", "|---|---|---:|---:|"]
            arms = ["tabular_only", "plus_temporal", "plus_graph", "full"]  # the record's JSON sorts its keys
            for arm, a in sorted(abl.items(), key=lambda kv: (arms.index(kv[0]) if kv[0] in arms else len(arms),
                                                              kv[0])):
                lines.append(f"| {arm} | {', '.join(a['members'])} | "
                             + (f"= {a['same_as']} | |" if "same_as" in a else
                                f"{_f(a.get('auc'))} | {_f(a.get('gap_to_bayes'))} |"))
        lines.append("")
    speed = results.get("speed", {})
    if any(speed.values()):
        lines += ["### Speed (each stage in its own process; peak = that process's max RSS)", "",
                  "| stage | people | seconds | peak MB | notes |", "|---|---:|---:|---:|---|"]
        for stage, sizes in speed.items():
            for size, r in sorted(sizes.items(), key=lambda kv: int(kv[0])):
                lines.append(f"| {stage} | {int(size):,} | {_f(r.get('seconds'), 2)} | "
                             f"{r.get('peak_mb', 'n/a')} | {_speed_note(stage, r)} |")
        lines.append("")
    service = results.get("service", {})
    if service:
        lines += ["### Service (in process, one request at a time)", ""]
        if "error" in service:
            lines.append(f"- failed: {service['error']}")
        else:
            lines += [f"On {service['people']:,} people: admittance decision p99 **{service['admittance_p99_ms']} ms** "
                      f"(p50 {service['admittance']['p50_ms']} ms, {service['admittance']['requests']:,} decisions); "
                      f"re-score after a reported event with the stack p99 **{service['stack_rescore_p99_ms']} ms** "
                      f"(p50 {service['stack_rescore']['p50_ms']} ms, {service['stack_rescore']['requests']} events)"
                      + (f"; stack trained on {service['model_trained_on']:,}" if service.get("model_trained_on") else "")
                      + (f"; measured {service['measured_at'][:10]}" if "measured_at" in service else "")
                      + (f"; machine check {check['before']} ms before, {check['after']} ms after (a fixed Python "
                         "loop: how fast the machine ran)" if (check := service.get("machine_check_ms")) else "")
                      + "."]
        lines.append("")
    for s in results.get("skipped", []):
        lines.append(f"- skipped: {s['what']}: {s['why']}")
    return "\n".join(lines).rstrip() + "\n"


def _speed_note(stage: str, r: dict) -> str:
    if "error" in r:
        return f"failed: {r['error']}"
    if r.get("cached"):
        return r["note"]
    parts = []
    if "events" in r:
        parts.append(f"{r['events']:,} events, {r['relations']:,} relations")
    if "features" in r:
        parts.append(f"{r['features']} features")
    if "model_input_seconds" in r:
        parts.append(f"+ {r['model_input_seconds']:.1f} s building the model input")
    if "chunk_size" in r:
        parts.append(f"features included, in chunks of {r['chunk_size']:,} people")
    if "master" in r:  # a Spark run, with the in-process path on the same people beside it where it ran
        parts.append(f"Spark {r['master']}" + (f", {r['ms_per_person']} ms per person" if "ms_per_person" in r else ""))
        if "in_process_seconds" in r:
            parts.append(f"in process {r['in_process_seconds']:.1f} s, {r.get('in_process_peak_mb', '?')} MB; "
                         f"same parts: {r.get('same_parts')}")
    if stage in ("score", "report"):
        what = "PD, score, band" if stage == "score" else "PD, score, band, five sub-scores, four reasons"
        parts.append(f"{what}; stack trained on {r.get('model_trained_on', 0):,}")
    if "measured_at" in r:  # recorded by another run than the record's own (workflows/benchmarks/batch.py)
        parts.append(f"measured {r['measured_at'][:10]}")
    if "conditions" in r and "beside" in r["conditions"]:  # a time taken beside other work bounds it from above
        parts.append("beside other work: the time is an upper bound")
    return "; ".join(parts)


def markdown_path(out: Path, record: bool) -> Path:
    """Where a run writes its markdown: the project's docs/benchmarks.md only when it is recorded (its block
    then shows the record, merged); any other run (quick, partial or full) writes beside its results, so a
    run of one data set never replaces the block of every data set with its own."""
    return Path("docs/benchmarks.md") if record else Path(out) / "benchmarks.md"


def update_doc(doc: Path, block: str) -> None:
    """Replace the text between the markers in `doc` (append a section with them when absent)."""
    doc = Path(doc)
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    generated = f"{BEGIN}\n{block}{END}"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: generated, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n## Models, peers and speed (`deepcredit benchmark`)\n\n" + generated + "\n"
    atomic_write_text(doc, text)


def missing_keys(results: dict) -> list[str]:
    """The required keys results.json lacks (empty when it has the promised shape): every model's auc and ks,
    the simulated world's Bayes limit, and seconds and peak_mb of every speed stage that ran."""
    missing = []
    datasets = results.get("datasets", {})
    for name, ds in datasets.items():
        if not ds.get("models"):
            missing.append(f"datasets.{name}.models")
        for model, r in ds.get("models", {}).items():
            missing += [f"datasets.{name}.models.{model}.{k}" for k in ("auc", "ks") if k not in r]
    for name in ("simulated", "simulated_temporal"):
        missing += [f"datasets.{name}.{k}" for k in ("bayes_auc", "observable_auc")
                    if name in datasets and k not in datasets[name]]
    for stage, sizes in results.get("speed", {}).items():
        for size, r in sizes.items():
            if "error" not in r and not r.get("cached"):
                missing += [f"speed.{stage}.{size}.{k}" for k in ("seconds", "peak_mb") if k not in r]
    service = results.get("service")
    if service is not None and "error" not in service:
        missing += [f"service.{k}" for k in ("admittance_p99_ms", "stack_rescore_p99_ms") if k not in service]
    return missing
