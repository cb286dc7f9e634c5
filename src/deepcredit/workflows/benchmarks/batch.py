"""Batch scoring at population sizes past the full benchmark's plan (1,000,000 and 5,000,000 people), and the
service's latencies, with one given stack, recorded into docs/results/benchmark.json.

    python scripts/bench_batch.py --model MODEL --sizes 1000000,5000000 --stages score,report \
        --workdir WORK [--service] [--record]

Why a separate run: `deepcredit benchmark`'s full plan also trains the stack at 100,000 people and builds
every feature of each world at once (the feature-engine speed stage), which at 5,000,000 people does not
fit this machine's memory; the batch path scores in chunks and does. Each stage runs in a fresh child
process (child.run_child), so its peak memory is its own. Worlds are simulated with the benchmark's
seed when missing, or built by other code (child.speed_world). What was measured is merged under speed.<stage>.<n> (and service.*), and `runs` says
which run produced it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from deepcredit.data.io import atomic_write_json
from deepcredit.workflows.benchmarks import features as bench_features
from deepcredit.workflows.benchmarks import service as bench_service
from deepcredit.workflows.benchmarks.child import model_stage, run_child, speed_world

STAGES = ("features", "score", "report")
"""features: every feature of the world at once (the feature engine's speed stage, bench_features); score and
report: batch scoring in chunks, features included (child.model_stage)."""


def measure(model: Path, sizes: list[int], stages: list[str], workdir: Path, service_people: int | None = None,
            trained_on: int | None = None, seed: int = 42, log=print) -> dict:
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="A saved stack (deepcredit train's output).")
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--stages", default="score,report")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--service", type=int, default=0, help="Also measure service.* on a world of this size.")
    ap.add_argument("--trained-on", type=int, default=None, help="Rows the stack was trained on (recorded).")
    ap.add_argument("--record", type=Path, default=None, help="Merge into this results file (benchmark.json).")
    a = ap.parse_args(argv)
    stages = [s for s in a.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"--stages: unknown {sorted(unknown)} (choose from {', '.join(STAGES)})")
    started, t0 = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.perf_counter()
    measured = measure(a.model, [int(n) for n in a.sizes.split(",") if n], stages, a.workdir, a.service or None,
                       a.trained_on)
    a.workdir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(a.workdir / "batch.json", measured)
    if a.record:
        record(a.record, measured, started, time.perf_counter() - t0)
