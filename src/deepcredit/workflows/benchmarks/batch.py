"""Batch scoring at population sizes past the full benchmark's plan (1,000,000 and 5,000,000 people), and the
service's latencies, with one given stack, recorded into docs/results/benchmark.json.

    python scripts/bench_batch.py --model MODEL --sizes 1000000,5000000 --stages score,report \
        --workdir WORK [--service] [--record]

Why a separate run: `deepcredit benchmark`'s full plan also trains the stack at 100,000 people and builds
every feature of each world at once (the feature-engine speed stage), which at 5,000,000 people does not
fit this machine's memory; the batch path scores in chunks and does. Each stage runs in a fresh child
process (child.run_child), so its peak memory is its own. Worlds are simulated with the benchmark's
seed when missing, or built by other code (child.speed_world). What was measured is merged under speed.<stage>.<n> (and service.*), and `runs` says
which run produced it. The run is run(BatchRun); the command above parses its options in cli/bench_scripts.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepcredit.data.io import atomic_write_json
from deepcredit.workflows.benchmarks import features as bench_features
from deepcredit.workflows.benchmarks import service as bench_service
from deepcredit.workflows.benchmarks.child import model_stage, run_child, speed_world

STAGES = ("features", "score", "report")
"""features: every feature of the world at once (the feature engine's speed stage, bench_features); score and
report: batch scoring in chunks, features included (child.model_stage)."""


def measure(model: Path, sizes: list[int], stages: list[str], workdir: Path, service_people: int | None = None,
            trained_on: int | None = None, seed: int = 42, log: Callable[[str], None] = print) -> dict:
    """{'speed': {stage: {n: result}}, 'service': {...}} for the given sizes and stages; `trained_on` (the
    rows the stack was trained on, as the caller knows it) is recorded beside each result."""
    rows = trained_on
    speed: dict = {s: {} for s in stages}
    for n in sizes:
        data = workdir / f"world-{n}" / "data"
        log(f"simulate {n:,} people (or reuse the world this code built)")
        made = speed_world(data, n, seed)
        if "error" in made:
            speed.setdefault("simulate", {})[str(n)] = made
            continue
        for stage in stages:
            log(f"{stage}: {n:,} people")
            if stage == "features":
                speed[stage][str(n)] = run_child(bench_features.__name__, "_child", "engine_all",
                                                 {"out": str(data), "people": n, "seed": seed})
            else:
                speed[stage][str(n)] = {**model_stage(stage, {"data": str(data), "model": str(model)}),
                                        "model_trained_on": rows}
            log(f"  {speed[stage][str(n)]}")
    out: dict = {"speed": speed}
    if service_people:
        data = workdir / f"world-{service_people}" / "data"
        made = speed_world(data, service_people, seed)
        if "error" in made:
            return {"speed": speed, "service": made}
        log(f"service latencies on {service_people:,} people")
        out["service"] = {**run_child(bench_service.__name__, "_child", "service",
                                      {"data": str(data), "model": str(model), "workdir": str(workdir / "service")}),
                          "model_trained_on": rows}
        log(f"  {out['service']}")
    return out


def record(path: Path, measured: dict, started_at: str, seconds: float) -> dict:
    """Merge into the recorded results: the measured stages and sizes replace the recorded ones."""
    recorded = json.loads(path.read_text())
    speed = recorded.setdefault("speed", {})
    keys = []
    for stage, sizes in measured["speed"].items():
        speed.setdefault(stage, {}).update({n: {**r, "measured_at": started_at} for n, r in sizes.items()})
        keys += [f"speed.{stage}.{n}" for n in sizes]
    if "service" in measured:
        recorded["service"] = {**measured["service"], "measured_at": started_at}
        keys.append("service")
    recorded.setdefault("runs", []).append({"started_at": started_at, "mode": "batch", "seconds": round(seconds, 1),
                                            "measured": keys})
    atomic_write_json(path, recorded)
    return recorded


@dataclass(frozen=True)
class BatchRun:
    """One batch run: the saved stack (deepcredit train's output), the work directory, the population sizes
    and STAGES to measure, the world size of the service's latencies (None: not measured), the rows the stack
    was trained on (recorded beside each result) and the results file to merge into (None: batch.json only)."""

    model: Path
    workdir: Path
    sizes: tuple[int, ...] = (1_000_000, 5_000_000)
    stages: tuple[str, ...] = ("score", "report")
    service_people: int | None = None
    trained_on: int | None = None
    record: Path | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        unknown = set(self.stages) - set(STAGES)
        if unknown:
            raise ValueError(f"--stages: unknown {sorted(unknown)} (choose from {', '.join(STAGES)})")


def run(opts: BatchRun, log: Callable[[str], None] = print) -> dict:
    """measure() the sizes and stages, write them to workdir/batch.json and, with `record`, merge them into
    that results file (record()); the measured results."""
    started, t0 = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.perf_counter()
    measured = measure(opts.model, list(opts.sizes), list(opts.stages), opts.workdir, opts.service_people,
                       opts.trained_on, opts.seed, log)
    opts.workdir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(opts.workdir / "batch.json", measured)
    if opts.record:
        record(opts.record, measured, started, time.perf_counter() - t0)
    return measured
