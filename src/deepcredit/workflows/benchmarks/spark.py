"""Spark against the in-process path: parity of the model input, and time and peak memory of batch scoring.

    .venv/bin/python scripts/bench_spark.py --people 1000000 --master 'local[2]' --json runs/bench/spark.json
    .venv/bin/python scripts/bench_spark.py --parity --people 10000     # parity only (and seconds per engine)

Parity (feature_differences) is the criterion the tests and this benchmark share: every feature equal
(exactly where DuckDB's values are integers, categories and dates; otherwise to a relative RTOL = 1e-8,
one step of the 9-significant-digit rounding both engines apply, relative to at least a 1e-8 share of the
column's largest magnitude; least-squares slopes included, which the plan computes from centred sums, see
features/slopes.py), event sequences and graph edges equal. Speed:
simulate N people, fit a small stack without a graph member (what the recorded numbers measured) on a
5,000-person world (each world reused only when this code built it as that world: `world`), then score all
N people, features included, once in process (score_batch) and once on Spark (score_batch_spark), each in
a fresh child process. Peak memory is the largest sum of resident memory over the child and its
descendants (Spark's JVM and Python workers), sampled twice a second, so both paths are charged for
everything they start. The two are parity_run() and run(); the commands above parse their options in
cli/bench_scripts.py.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from deepcredit.config import RunConfig, ScoringConfig
from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_text
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import SIGNIFICANT_DIGITS
from deepcredit.features.spark_engine import spark_session
from deepcredit.features.spec import Kind
from deepcredit.models.base import save_model
from deepcredit.models.stack import StackModel
from deepcredit.workflows.benchmarks.child import run_child, speed_world
from deepcredit.workflows.spark_score import score_job

RTOL = 10.0 ** (1 - SIGNIFICANT_DIGITS)
"""For every non-integer feature, slopes included (features/slopes.py makes them engine-stable): one step of
the rounding both engines apply (engine.round_significant). Before it the engines agree to ~1e-16, so after
it they agree exactly unless a value straddles a rounding boundary."""
MEMBERS = ("scorecard", "gbdt", "sequence")
PARAMS = {"gbdt": {"n_estimators": 50}, "sequence": {"max_epochs": 1}}
MODEL_PEOPLE = 5_000


def relative_difference(x: np.ndarray, y: np.ndarray) -> float:
    """The largest relative difference of two columns' present values: relative to each value, and at least
    to an RTOL share of the column's largest magnitude (a slope of a flat history is 0 up to cancellation
    noise, whose relative difference means nothing). Missing in different rows: infinite."""
    nan = np.isnan(x)
    if not np.array_equal(nan, np.isnan(y)):
        return float("inf")
    xs, ys = x[~nan], y[~nan]
    floor = np.max(np.abs(xs), initial=0.0)
    scale = np.maximum(np.maximum(np.abs(xs), np.abs(ys)), floor * RTOL)
    return float(np.max(np.abs(xs - ys) / np.where(scale > 0, scale, 1.0), initial=0.0))


def feature_differences(a: ModelInput, b: ModelInput) -> list[str]:
    """What differs between two model inputs of the same spine (empty: the same within the parity rule)."""
    fa, fb = a.tabular.frame, b.tabular.frame
    out = [] if list(fa.columns) == list(fb.columns) and len(fa) == len(fb) else ["columns or rows"]
    if out:
        return out
    numeric = {d.name for d in a.definitions if d.kind is Kind.NUMERIC}
    for col in fa.columns:
        if col in numeric:
            x, y = fa[col].to_numpy(float), fb[col].to_numpy(float)
            nan = np.isnan(x)
            if not np.array_equal(nan, np.isnan(y)):
                out.append(f"{col}: missing in different rows")
            elif np.all(np.mod(x[~nan], 1) == 0):  # counts and other integers: exact
                if not np.array_equal(x[~nan], y[~nan]):
                    out.append(f"{col}: integers differ")
            elif (worst := relative_difference(x, y)) > RTOL:
                out.append(f"{col}: max relative difference {worst:.3g}")
        else:
            x, y = fa[col].astype(object), fb[col].astype(object)
            if x.where(x.notna(), None).tolist() != y.where(y.notna(), None).tolist():
                out.append(f"{col}: values differ")
    for view in ("sequences", "graph"):
        va, vb = getattr(a, view), getattr(b, view)
        if (va is None) != (vb is None):
            out.append(f"{view}: built by one engine only")
        elif va is not None:
            for name, x in vars(va).items():
                y = getattr(vb, name)
                if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f") if isinstance(x, np.ndarray) else x != y:
                    out.append(f"{view}.{name} differs")
    return out


def largest_differences(a: ModelInput, b: ModelInput) -> dict[str, float]:
    """Each non-integer numeric feature's largest relative difference (relative_difference): what the
    parity rule allows up to RTOL, reported as measured."""
    out = {}
    for d in (d for d in a.definitions if d.kind is Kind.NUMERIC):
        x, y = a.tabular.frame[d.name].to_numpy(float), b.tabular.frame[d.name].to_numpy(float)
        if not np.all(np.mod(x[~np.isnan(x)], 1) == 0):
            out[d.name] = relative_difference(x, y)
    return out


def parity(dataset: Dataset, master: str = "local[2]") -> dict:
    """DuckDB's and Spark's model input of the data set: what differs (feature_differences), each
    non-integer feature's largest relative difference, and the seconds each engine took."""
    t0 = time.perf_counter()
    duck = build_model_input(dataset)
    t1 = time.perf_counter()
    spark = build_model_input(dataset, engine="spark", master=master)
    t2 = time.perf_counter()
    return {"differences": feature_differences(duck, spark), "rows": len(duck.tabular.frame),
            "max_relative_difference": largest_differences(duck, spark),
            "seconds": {"duckdb": round(t1 - t0, 1), "spark": round(t2 - t1, 1)}}


class PeakTree:
    """Samples the resident memory of this process and its descendants; `peak_mb` is the largest sum."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s, self.peak = every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakTree:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> int:
        return round(self.peak / 2**20)


def _score_child(engine: str, args: dict, q) -> None:
    """Child entry point: score every row of the data set with the model, features included. With
    `event_log` (Spark only), Spark writes its event log there, which stage_summary reads."""
    with PeakTree() as peak:
        t0 = time.perf_counter()
        if engine == "spark" and args.get("event_log"):  # the job's getOrCreate reuses this session
            spark_session(args["master"], conf={
                "spark.eventLog.enabled": "true", "spark.eventLog.dir": Path(args["event_log"]).resolve().as_uri(),
                "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false"})
        cfg = RunConfig(scoring=ScoringConfig(explain=False, chunk_size=args["chunk_size"]))
        job = score_job(Path(args["model"]), Dataset(args["data"]), Path(args["out"]), cfg, engine=engine,
                        master=args["master"])
        seconds = time.perf_counter() - t0
    q.put({"seconds": round(seconds, 2), "peak_mb": peak.peak_mb, "rows": job["rows"], "parts": len(job["parts"])})


def _events(event_log: Path) -> Iterator[dict]:
    """The events of every log file under `event_log` (one JSON object per line). A log still being written
    (a job in progress) may end in half a line: that line is left out."""
    for path in sorted(p for p in Path(event_log).rglob("*") if p.is_file() and not p.name.startswith(".")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                if i < len(lines) - 1:
                    raise


def _plan_metrics(plan: dict, into: dict[int, tuple[str, str, str]]) -> None:
    """accumulator id -> (plan node, metric name, metric type) over a SQL plan tree (sparkPlanInfo)."""
    for m in plan.get("metrics", []):
        into[m["accumulatorId"]] = (plan["nodeName"], m["name"], m.get("metricType", ""))
    for child in plan.get("children", []):
        _plan_metrics(child, into)


def _stage_nodes(accumulables: list[dict], metrics: dict[int, tuple[str, str, str]]) -> dict[str, Any]:
    """What a stage's plan nodes did: output rows per node, and each node's timing metrics in seconds."""
    rows: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for a in accumulables:
        known = metrics.get(a.get("ID", -1))
        if known is None or a.get("Value") in (None, ""):
            continue
        node, name, kind = known
        value = float(a["Value"])
        if name == "number of output rows":
            rows[node] = rows.get(node, 0) + value
        elif kind in ("timing", "nsTiming") and not node.startswith("WholeStageCodegen"):
            key = f"{node}: {name}"
            seconds[key] = seconds.get(key, 0) + value / (1e9 if kind == "nsTiming" else 1e3)
    return {"rows": {k: int(v) for k, v in sorted(rows.items(), key=lambda kv: -kv[1])},
            "seconds": {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1]) if v >= 0.05}}


def stage_summary(event_log: Path, top: int = 8) -> dict:
    """Where a Spark job's time went, from its event log (spark.eventLog.dir): per stage, the wall seconds
    from submission to completion, the summed task run and CPU seconds, tasks, shuffle read and write,
    the plan operators the stage ran (from its RDDs' scopes) and what its plan nodes did (output rows per
    node, their own timing metrics: aggregation build, sort, Python workers...). The `top` stages by task
    seconds, and the job's totals, split into the stages that run the model in Python workers
    (MapInPandas: model input and scores) and the rest (Spark SQL: features, sequences, balls, shuffles)."""
    metrics: dict[int, tuple[str, str, str]] = {}
    stages: dict[int, dict[str, Any]] = {}

    def stage(stage_id: int) -> dict[str, Any]:
        return stages.setdefault(stage_id, {"task_s": 0.0, "cpu_s": 0.0, "shuffle_read_mb": 0.0,
                                            "shuffle_write_mb": 0.0})

    for ev in _events(event_log):
        kind = ev.get("Event", "")
        if kind.endswith(("SQLExecutionStart", "SQLAdaptiveExecutionUpdate")) and ev.get("sparkPlanInfo"):
            _plan_metrics(ev["sparkPlanInfo"], metrics)
        elif kind == "SparkListenerStageCompleted":
            info = ev["Stage Info"]
            ops = sorted({json.loads(r["Scope"])["name"] for r in info.get("RDD Info", []) if r.get("Scope")})
            stage(info["Stage ID"]).update(
                stage=info["Stage ID"], tasks=info["Number of Tasks"], operators=ops,
                wall_s=round((info.get("Completion Time", 0) - info.get("Submission Time", 0)) / 1000, 1),
                nodes=info.get("Accumulables", []))  # resolved below: a plan may be logged after its stage
        elif kind == "SparkListenerTaskEnd" and ev.get("Task Metrics"):
            m, st = ev["Task Metrics"], stage(ev["Stage ID"])
            st["task_s"] += m.get("Executor Run Time", 0) / 1000
            st["cpu_s"] += m.get("Executor CPU Time", 0) / 1e9
            read = m.get("Shuffle Read Metrics", {})
            st["shuffle_read_mb"] += (read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0)) / 2**20
            st["shuffle_write_mb"] += m.get("Shuffle Write Metrics", {}).get("Shuffle Bytes Written", 0) / 2**20
    for st in stages.values():
        st["nodes"] = _stage_nodes(st.get("nodes", []), metrics)
    rows: list[dict[str, Any]] = [{k: round(v, 1) if isinstance(v, float) else v for k, v in st.items()}
                                  for st in stages.values()]
    rows.sort(key=lambda r: -r["task_s"])
    python = [r for r in rows if "MapInPandas" in r.get("operators", [])]
    return {"stages": len(rows), "task_s": round(sum(r["task_s"] for r in rows), 1),
            "wall_s": round(sum(r.get("wall_s", 0) for r in rows), 1),
            "python_task_s": round(sum(r["task_s"] for r in python), 1),
            "python_wall_s": round(sum(r.get("wall_s", 0) for r in python), 1),
            "sql_task_s": round(sum(r["task_s"] for r in rows if r not in python), 1), "top": rows[:top]}


def world(data: Path, people: int, seed: int) -> tuple[Dataset, bool]:
    """The world of `people` at `data`, and whether it was reused: reused only when this code built it as
    this world, else simulated again (child.speed_world), so no figure is measured on older code's world."""
    made = speed_world(data, people, seed)
    if "error" in made:
        raise RuntimeError(f"simulating {people:,} people at {data} failed: {made['error']}")
    return Dataset(data), bool(made.get("cached"))


def fit_model(workdir: Path, seed: int = 0) -> Path:
    """The scoring model: a small stack without a graph member, fitted on a MODEL_PEOPLE world; reused only
    while its world is (a world rebuilt for this code means the model was fitted by other code)."""
    path = workdir / "model"
    ds, reused = world(workdir / "model-world", MODEL_PEOPLE, seed)
    if reused and (path / "manifest.json").exists():
        return path
    inp = build_model_input(ds, views=("tabular", "temporal"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = StackModel(members=MEMBERS, member_params=PARAMS, n_folds=2, seed=seed).fit(inp)
    return save_model(model, path, inp)


def run(people: int, workdir: Path, master: str = "local[2]", chunk_size: int = 100_000, seed: int = 0,
        engines: tuple[str, ...] = ("duckdb", "spark"), event_log: bool = False, out: Path | None = None) -> dict:
    """speed.spark_score.<people> = {seconds, peak_mb} on Spark at `master`, with the in-process path's
    seconds and peak_mb beside them (when `engines` has both), and whether both wrote the same parts.
    event_log: Spark keeps its event log under the workdir and `stages` says where its time went. Written to
    `out` (JSON) when given."""
    ds, _ = world(workdir / f"world-{people}", people, seed)
    model = fit_model(workdir, seed)
    results = {}
    log_dir = workdir / f"spark-events-{people}"
    for engine in engines:
        scores = workdir / f"scores-{engine}-{people}"
        args = {"model": str(model), "data": str(ds.root), "out": str(scores), "master": master,
                "chunk_size": chunk_size}
        if engine == "spark" and event_log:
            shutil.rmtree(log_dir, ignore_errors=True)
            log_dir.mkdir(parents=True)
            args["event_log"] = str(log_dir)
        results[engine] = run_child(__name__, "_score_child", engine, args)
    spark, local = results.get("spark", {}), results.get("duckdb")
    both = local is not None and "error" not in local and "error" not in spark
    same = both and json.loads((workdir / f"scores-duckdb-{people}" / "_job.json").read_text())["parts"] == \
        json.loads((workdir / f"scores-spark-{people}" / "_job.json").read_text())["parts"]
    beside = {} if local is None else {"in_process_seconds": local.get("seconds"),
                                       "in_process_peak_mb": local.get("peak_mb"), "same_parts": same,
                                       **({"in_process_error": local["error"]} if "error" in local else {})}
    if spark and "seconds" in spark and spark.get("rows"):
        spark["ms_per_person"] = round(spark["seconds"] * 1000 / people, 3)
    stages = {"stages": stage_summary(log_dir)} if event_log and log_dir.exists() else {}
    result = {"speed": {"spark_score": {str(people): {
        **spark, "master": master, **beside, "chunk_size": chunk_size,
        "when": pd.Timestamp.now("UTC").isoformat(timespec="seconds"), **stages}}}}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2))
    return result


def parity_run(people: int, workdir: Path, master: str = "local[2]", out: Path | None = None) -> dict:
    """parity() on the world of `people` under workdir (reused only when this code built it: world), with the
    people and master beside it; written to `out` (JSON) when given."""
    ds, _ = world(workdir / f"world-{people}", people, seed=0)
    result = {"people": people, "master": master, **parity(ds, master)}
    if out:
        atomic_write_text(out, json.dumps(result, indent=2))
    return result
