"""Benchmark stages in child processes (the stack's train, score and report: model_stage), and the speed worlds
they run on.

Why a child per stage: a spawned process's peak resident memory (peak_rss_mb) is its stage's alone. Why
here and not in workflows/benchmark.py: the standalone benchmarks (features, batch, spark) share it, and
they may not import the module that imports them (an import-linter contract, pyproject.toml). This module imports little at the top, so a spawned
child loads only what its stage needs.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import queue as queue_mod
import time
from pathlib import Path
from typing import Any

from deepcredit.workflows.benchmarks import peak_rss_mb


def _guarded(module: str, fn: str, stage: str, args: dict, q) -> None:
    """Child entry point: run module.fn(stage, args, q); on failure put the error, so the parent never hangs."""
    try:
        getattr(importlib.import_module(module), fn)(stage, args, q)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which records it
        q.put({"error": f"{type(exc).__name__}: {exc}"})


def run_child(module: str, fn: str, stage: str, args: dict, timeout_s: float | None = None) -> dict:
    """Run one stage in a fresh spawned process; its max RSS is the stage's peak memory."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_guarded, args=(module, fn, stage, args, q))
    t0 = time.perf_counter()
    proc.start()
    try:
        while True:
            try:
                result = q.get(timeout=2)
                break
            except queue_mod.Empty:
                if not proc.is_alive():
                    return {"error": f"child process exited with code {proc.exitcode} (killed for memory?)"}
                if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                    proc.kill()
                    return {"error": f"stopped after {timeout_s:.0f} s"}
    finally:
        proc.join(timeout=60)
    return result


def _simulate(stage: str, args: dict, q) -> None:
    """run_child entry point (stage 'simulate'): simulate args['people'] people at args['out']."""
    from deepcredit.data.simulate import simulate_world

    t0 = time.perf_counter()
    ds = simulate_world(Path(args["out"]), people=args["people"], seed=args["seed"])
    q.put({"seconds": round(time.perf_counter() - t0, 2), "peak_mb": peak_rss_mb(),
           "events": ds.manifest.tables["events"]["rows"], "relations": ds.manifest.tables["relations"]["rows"]})


STACK_VIEWS = ("tabular", "temporal", "structural")
"""The views the speed stages' stack is trained on."""


def model_stage(stage: str, args: dict) -> dict:
    """Run one model stage in a child process (run_child): 'train' fits the stack on args['data'] and saves
    it at args['model'] (args 'member_params', 'folds'); 'score' and 'report' batch-score every row with it."""
    return run_child(__name__, "_model", stage, args)


def _model(stage: str, args: dict, q) -> None:
    """run_child entry point of model_stage. train: build the model input and fit the stack; score / report:
    batch-score every row with that stack in chunks, features included (report: with the explanation,
    sub-scores and reason codes)."""
    import tempfile
    import warnings

    from deepcredit.config import RunConfig, ScoringConfig
    from deepcredit.data.dataset import Dataset
    from deepcredit.features.bundle import build_model_input
    from deepcredit.models.base import save_model
    from deepcredit.models.stack import StackModel
    from deepcredit.workflows.score import score_batch

    ds = Dataset(args["data"])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if stage == "train":
            inp = build_model_input(ds, views=STACK_VIEWS)
            t_inp = time.perf_counter() - t0
            t0 = time.perf_counter()
            stack = StackModel(member_params=args["member_params"], n_folds=args["folds"], seed=0).fit(inp)
            seconds = time.perf_counter() - t0
            save_model(stack, Path(args["model"]), inp)
            q.put({"seconds": round(seconds, 2), "model_input_seconds": round(t_inp, 2), "rows": len(inp),
                   "peak_mb": peak_rss_mb()})
            return
        with tempfile.TemporaryDirectory() as tmp:
            cfg = RunConfig(scoring=ScoringConfig(explain=stage == "report"))
            job = score_batch(Path(args["model"]), ds, Path(tmp) / "scores", cfg)
    q.put({"seconds": round(time.perf_counter() - t0, 2), "rows": job["rows"], "cards": job["rows"],
           "chunk_size": job["chunk_size"], "peak_mb": peak_rss_mb()})


class _NotSimulated(Exception):
    """The simulating child failed (its result says why): nothing to stamp."""


def speed_world(data: Path, people: int, seed: int) -> dict[str, Any]:
    """The world of `people` at `data`, reused only when this code built it as this world (the check every
    work data set goes through, benchmarks.models.reuse_or_build), else simulated again in a child process,
    so that its seconds and peak memory are its own: the simulate stage's result, or a note that it was
    reused. Every benchmark that times a world gets it here, so none times one older code left behind."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.workflows.benchmarks.models import reuse_or_build

    made: dict = {}

    def simulate() -> Dataset:
        made.update(run_child(__name__, "_simulate", "simulate", {"out": str(data), "people": people, "seed": seed}))
        if "error" in made:
            raise _NotSimulated
        return Dataset(data)

    with contextlib.suppress(_NotSimulated):
        reuse_or_build(data, {"simulated": people, "seed": seed, "temporal": 0.0}, simulate)
    return made or {"cached": True, "note": f"{data} was built by this code: reused, not re-simulated or timed"}
