"""The end-to-end main job on simulated and bundled data, as one package function (`deepcredit demo`).

Simulate a development world and a held-out world (same generative process, other people), load the
bundled real data, build point-in-time features for all of them, train the full stack on the development
world, evaluate it on the held-out world (report with fairness audit and stability), and score one person.
Training and evaluation are `deepcredit train`'s and `deepcredit evaluate`'s own workflows, so the demo
has their safeguards (data fingerprints checked, the report swapped in whole).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepcredit.config import RunConfig, StackConfig
from deepcredit.data.dataset import check_replaceable
from deepcredit.data.datasets import load_bundled
from deepcredit.data.simulate import simulate_world
from deepcredit.evaluation.report import check_report_out
from deepcredit.features.bundle import build_model_input
from deepcredit.features.engine import build_features
from deepcredit.models.artifacts import check_artifact_out
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows.common import MessageFn, _quiet
from deepcredit.workflows.evaluate import evaluate_model
from deepcredit.workflows.train import train_model

ProgressFn = Callable[[str, int, int], None]


@dataclass
class DemoResult:
    datasets: list[dict]
    """Per data set: name, people, events, relations, rows, features, bad_rate, seconds."""
    person: pd.Series
    """One held-out person's report card."""
    evaluation: dict
    bayes_auc: float | None
    """The held-out world's Bayes limit (the report's evaluation limits)."""
    report: Path
    seconds: float


WORLDS = ("simulated", "held-out")
"""The simulated data sets, under out/data."""
BUNDLED_SETS = ("uci", "otc")
"""The bundled real data sets, under out/data."""


def check_demo_out(out: Path) -> None:
    """Refuse an `out` where a data set, the model or the report folder would replace something else (a
    folder of the user's files, another kind of output), before anything is simulated: each is checked again
    when written, but that is minutes of simulation and training later. The demo's own earlier outputs
    there are replaced."""
    for name in (*WORLDS, *BUNDLED_SETS):
        check_replaceable(out / "data" / name)
    check_artifact_out(out / "model")
    check_report_out(out / "report")


def run_demo(out: Path, people: int = 5_000, seed: int = 42, folds: int = 3,
             on_simulate: ProgressFn | None = None, on_member: ProgressFn | None = None,
             on_message: MessageFn = _quiet) -> DemoResult:
    """on_simulate(world, people done, people in all); on_member: the stack's progress callback."""
    t0 = time.perf_counter()
    out = Path(out)
    check_demo_out(out)
    worlds = {}
    for name, n, s in (("simulated", people, seed), ("held-out", max(people // 2, 1000), seed + 1)):
        tick = (lambda done, w=name, t=n: on_simulate(w, done, t)) if on_simulate else None
        worlds[name] = simulate_world(out / "data" / name, people=n, seed=s, on_progress=tick)
    for name in BUNDLED_SETS:
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
    cfg = RunConfig(data=str(worlds["simulated"].root), stack=StackConfig(folds=folds), seed=seed)
    trained = train_model(cfg, worlds["simulated"], out / "model", on_progress=on_member, on_message=on_message)
    stack = trained.model
    on_message("evaluating on the held-out world")
    results = evaluate_model(trained.path, worlds["held-out"], out / "report", reference=worlds["simulated"],
                             cfg=cfg.model_copy(update={"data": str(worlds["held-out"].root)}))
    card = Scorer(stack).report(build_model_input(worlds["held-out"]).take([0])).iloc[0]
    evaluation = results["evaluation"]
    limits = evaluation.get("limits") or {}
    return DemoResult(rows, card, evaluation, limits.get("bayes_auc"), Path(results["report"]),
                      time.perf_counter() - t0)
