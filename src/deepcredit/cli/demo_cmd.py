"""`deepcredit demo`: the end-to-end main job on simulated and bundled data.

Simulate a development world and a held-out world (same generative process, other people), load the
bundled real data, build point-in-time features for all of them, train the full stack on the
development world, evaluate it on the held-out world (report with fairness audit and stability),
and show one person's score, five sub-scores and reason codes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from deepcredit.cli.common import clear_errors, console, member_progress, progress


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where everything the demo makes goes."),
    people: int = typer.Option(5_000, "--people", help="Size of the simulated development world."),
    seed: int = typer.Option(42, "--seed"),
    folds: int = typer.Option(3, "--folds", help="Out-of-fold folds of the stack."),
) -> None:
    """Simulate, load real data, build features, train the full stack, evaluate it, explain a score."""
    from deepcredit.data.datasets import load_bundled
    from deepcredit.data.simulate import bayes_auc, simulate_world
    from deepcredit.evaluation.pipeline import evaluate_artifact
    from deepcredit.features.bundle import build_model_input
    from deepcredit.features.engine import build_features
    from deepcredit.models.base import save_model
    from deepcredit.models.stack import StackModel
    from deepcredit.scoring.report_card import report_card

    t0 = time.perf_counter()
    summary = Table(title="Data sets and point-in-time features")
    for col in ("data set", "people", "events", "relations", "rows", "features", "bad rate", "seconds"):
        summary.add_column(col)
    with clear_errors():
        with progress() as bar:
            worlds = {}
            for name, n, s in (("simulated", people, seed), ("held-out", max(people // 2, 1000), seed + 1)):
                task = bar.add_task(f"simulating {name}", total=n)
                worlds[name] = simulate_world(out / "data" / name, people=n, seed=s,
                                              on_progress=lambda done, t=task: bar.update(t, completed=done))
        for name in ("uci", "otc"):
            worlds[name] = load_bundled(name, out / "data" / name)
        for name, ds in worlds.items():
            t1 = time.perf_counter()
            ff = build_features(ds)
            ff.save(out / "features" / f"{name}.parquet")
            tables = ds.manifest.tables
            summary.add_row(name, f"{tables['people']['rows']:,}", f"{tables['events']['rows']:,}",
                            f"{tables['relations']['rows']:,}", f"{len(ff.frame):,}", str(len(ff.names)),
                            f"{ff.y.mean():.3f}", f"{time.perf_counter() - t1:.1f}")
        console.print(summary)

        console.print("training the full stack on the simulated development world")
        inp = build_model_input(worlds["simulated"])
        stack = StackModel(n_folds=folds, seed=seed)
        with progress() as bar:
            stack.fit(inp, on_progress=member_progress(bar))
        model_dir = save_model(stack, out / "model", inp, metrics=dict(getattr(stack, "metrics_", {})),
                               config={"data": worlds["simulated"].name, "folds": folds, "seed": seed})

        console.print("evaluating on the held-out world")
        report = evaluate_artifact(model_dir, worlds["held-out"], out / "report", reference=worlds["simulated"])

        held_out = build_model_input(worlds["held-out"])
        one = held_out.take([0])
        card = report_card(stack, one).iloc[0]
    _print_person(card)
    results = json.loads((report.parent / "results.json").read_text())["evaluation"]
    table = Table(title=f"Held-out world ({results['metrics']['n']:,} people): AUC against the Bayes limit "
                        f"{bayes_auc(worlds['held-out']):.3f}")
    for col in ("model", "AUC", "KS", "ECE"):
        table.add_column(col)
    for row in results.get("ablation") or [{"model": "stack", **results["metrics"]}]:
        table.add_row(row["model"], f"{row['auc']:.3f}", f"{row['ks']:.3f}", f"{row['ece']:.3f}")
    console.print(table)
    console.print(f"report: [bold]{report}[/bold]")
    console.print(f"everything is under {out} ({time.perf_counter() - t0:.0f} s)")


def _print_person(card) -> None:
    from deepcredit.models.base import DIMENSIONS

    table = Table(title=f"{card.person_id}: score {card.score} ({card.band}), PD {card.pd:.1%}")
    table.add_column("dimension")
    table.add_column("points", justify="right")
    for d in DIMENSIONS:
        table.add_row(d.replace("_", " "), str(card[d]))
    console.print(table)
    for i in range(1, 5):
        text = card.get(f"reason_{i}_text")
        if isinstance(text, str) and text:
            console.print(f"  {i}. lowered by {text} (-{card[f'reason_{i}_points']} points): "
                          f"{card[f'reason_{i}_improve']}")
