"""`deepcredit demo`: the end-to-end main job on simulated and bundled data (workflows/demo.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import TaskID
from rich.table import Table

from deepcredit.cli.common import clear_errors, console, member_progress, progress, sub_score_text

if TYPE_CHECKING:
    from deepcredit.workflows.demo import DemoResult


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where everything the demo makes goes."),
    people: int = typer.Option(5_000, "--people", help="Size of the simulated development world."),
    seed: int = typer.Option(42, "--seed"),
    folds: int = typer.Option(3, "--folds", help="Out-of-fold folds of the stack."),
) -> None:
    """Simulate, load real data, build features, train the full stack, evaluate it, explain a score."""
    from deepcredit.workflows.demo import run_demo  # the whole pipeline: imported when the demo runs

    with clear_errors(), progress() as bar:
        tasks: dict[str, TaskID] = {}

        def on_simulate(world: str, done: int, total: int) -> None:
            if world not in tasks:
                tasks[world] = bar.add_task(f"simulating {world}", total=total)
            bar.update(tasks[world], completed=done)

        result = run_demo(out, people, seed, folds, on_simulate=on_simulate, on_member=member_progress(bar),
                          on_message=console.print)
    _print(result, out)


def _print(result: DemoResult, out: Path) -> None:
    from deepcredit.models.base import DIMENSIONS

    summary = Table(title="Data sets and point-in-time features")
    for col in ("data set", "people", "events", "relations", "rows", "features", "bad rate", "seconds"):
        summary.add_column(col)
    for r in result.datasets:
        summary.add_row(r["name"], f"{r['people']:,}", f"{r['events']:,}", f"{r['relations']:,}", f"{r['rows']:,}",
                        str(r["features"]), f"{r['bad_rate']:.3f}", f"{r['seconds']:.1f}")
    console.print(summary)
    card = result.person
    table = Table(title=f"{card.person_id}: score {card.score} ({card.band}), PD {card.pd:.1%}")
    table.add_column("dimension")
    table.add_column("points", justify="right")
    for d in DIMENSIONS:
        table.add_row(d.replace("_", " "), sub_score_text(card, d))
    console.print(table)
    for i in range(1, 5):
        text = card.get(f"reason_{i}_text")
        if isinstance(text, str) and text:
            value = card.get(f"reason_{i}_value")
            yours = f"; yours: {value}" if isinstance(value, str) and value else ""
            console.print(f"  {i}. lowered by {text} (-{card[f'reason_{i}_points']} points{yours}): "
                          f"{card[f'reason_{i}_improve']}")
    ev = result.evaluation
    limit = f" against the Bayes limit {result.bayes_auc:.3f}" if result.bayes_auc is not None else ""
    table = Table(title=f"Held-out world ({ev['metrics']['n']:,} people): AUC{limit}")
    for col in ("model", "AUC", "KS", "ECE"):
        table.add_column(col)
    for row in ev.get("ablation") or [{"model": "stack", **ev["metrics"]}]:
        table.add_row(row["model"], f"{row['auc']:.3f}", f"{row['ks']:.3f}", f"{row['ece']:.3f}")
    console.print(table)
    console.print(f"report: [bold]{result.report}[/bold]")
    console.print(f"everything is under {out} ({result.seconds:.0f} s)")
