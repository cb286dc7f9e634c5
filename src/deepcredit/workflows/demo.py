"""The end-to-end main job on simulated and bundled data, as one package function (`deepcredit demo`).

Simulate a development world and a held-out world (same generative process, other people), load the
bundled real data, build point-in-time features for all of them, train the full stack on the development
world, evaluate it on the held-out world (report with fairness audit and stability), and score one person.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepcredit.config import RunConfig, StackConfig, run_record_file, write_run_record
from deepcredit.data.datasets import load_bundled
from deepcredit.data.simulate import simulate_world
from deepcredit.evaluation.limits import world_bayes_auc
from deepcredit.evaluation.pipeline import evaluate_artifact
from deepcredit.features.bundle import build_model_input
from deepcredit.features.engine import build_features
from deepcredit.models.base import save_model
from deepcredit.models.stack import StackModel
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows.common import MessageFn, _quiet

ProgressFn = Callable[[str, int, int], None]


@dataclass
class DemoResult:
    datasets: list[dict]
    """Per data set: name, people, events, relations, rows, features, bad_rate, seconds."""
    person: pd.Series
    """One held-out person's report card."""
    evaluation: dict
    bayes_auc: float
    report: Path
    seconds: float


def run_demo(out: Path, people: int = 5_000, seed: int = 42, folds: int = 3,
             on_simulate: ProgressFn | None = None, on_member: ProgressFn | None = None,
             on_message: MessageFn = _quiet) -> DemoResult:
    """on_simulate(world, people done, people in all); on_member: the stack's progress callback."""
    t0 = time.perf_counter()
    out = Path(out)
    worlds = {}
    for name, n, s in (("simulated", people, seed), ("held-out", max(people // 2, 1000), seed + 1)):
        tick = (lambda done, w=name, t=n: on_simulate(w, done, t)) if on_simulate else None
        worlds[name] = simulate_world(out / "data" / name, people=n, seed=s, on_progress=tick)
    for name in ("uci", "otc"):
        worlds[name] = load_bundled(name, out / "data" / name)
    rows = []
    for name, ds in worlds.items():
        t1 = time.perf_counter()
        ff = build_features(ds)
        ff.save(out / "features" / f"{name}.parquet")
        tables = ds.manifest.tables
        rows.append({"name": name, **{t: tables[t]["rows"] for t in ("people", "events", "relations")},
                     "rows": len(ff.frame), "features": len(ff.names), "bad_rate": float(ff.y.mean()),
                     "seconds": time.perf_counter() - t1})
    on_message("training the full stack on the simulated development world")
    inp = build_model_input(worlds["simulated"])
    cfg = RunConfig(data=str(worlds["simulated"].root), stack=StackConfig(folds=folds), seed=seed)
    stack = StackModel(n_folds=folds, seed=seed).fit(inp, on_progress=on_member)
    model_dir = save_model(stack, out / "model", inp, metrics=dict(getattr(stack, "metrics_", {})),
                           config={"data": worlds["simulated"].name, "folds": folds, "seed": seed,
                                   "run": cfg.to_dict()},
                           beside=run_record_file(cfg, worlds["simulated"].fingerprint()))
    on_message("evaluating on the held-out world")
    report = evaluate_artifact(model_dir, worlds["held-out"], out / "report", reference=worlds["simulated"])
    write_run_record(report.parent, cfg.model_copy(update={"data": str(worlds["held-out"].root)}),
                     worlds["held-out"].fingerprint())
    card = Scorer(stack).report(build_model_input(worlds["held-out"]).take([0])).iloc[0]
    evaluation = json.loads((report.parent / "results.json").read_text())["evaluation"]
    return DemoResult(rows, card, evaluation, world_bayes_auc(worlds["held-out"]), report, time.perf_counter() - t0)
