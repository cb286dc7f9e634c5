"""`deepcredit demo`: the end-to-end main job on simulated and bundled data."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from deepcredit.cli.common import clear_errors, console, progress


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where everything the demo makes goes."),
    people: int = typer.Option(20_000, "--people", help="Size of the simulated world."),
    seed: int = typer.Option(42, "--seed"),
) -> None:
    """Simulate a world, load the bundled real data, build point-in-time features for all three."""
    from deepcredit.data.datasets import load_bundled
    from deepcredit.data.simulate import bayes_auc, simulate_world
    from deepcredit.features.engine import build_features

    summary = Table(title="DeepCredit demo")
    for col in ("data set", "people", "events", "relations", "rows", "features", "bad rate", "seconds"):
        summary.add_column(col)
    with clear_errors(), progress() as bar:
        task = bar.add_task("simulating", total=people)
        t0 = time.perf_counter()
        worlds = {"simulated": simulate_world(out / "data" / "simulated", people=people, seed=seed,
                                              on_progress=lambda done: bar.update(task, completed=done))}
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
    console.print(f"simulated world: Bayes-limit AUC {bayes_auc(worlds['simulated']):.3f} "
                  f"(the best any model can do on it)")
    console.print(f"everything is under {out} ({time.perf_counter() - t0:.0f} s)")
