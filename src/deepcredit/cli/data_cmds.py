"""Data commands: simulate a world, load the bundled real data, ingest and validate a user's own tables."""

from __future__ import annotations

from pathlib import Path

import typer

from deepcredit.cli.common import clear_errors, console, progress, row_counts


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("load")(load)
    app.command("ingest")(ingest)
    app.command("validate")(validate)


def simulate(
    people: int = typer.Option(10_000, "--people", help="How many people the world has."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same world."),
    out: Path = typer.Option(..., "--out", help="Directory to write the data set to."),
    chunk_size: int = typer.Option(50_000, "--chunk-size", help="People per streamed chunk."),
) -> None:
    """Simulate a synthetic population in the four tables, with every person's true default probability."""
    from deepcredit.data.simulate import simulate_world

    with clear_errors(), progress() as bar:
        task = bar.add_task("simulating", total=people)
        ds = simulate_world(out, people=people, seed=seed, chunk_size=chunk_size,
                            on_progress=lambda done: bar.update(task, completed=done))
    console.print(f"wrote {ds.root} ({row_counts(ds)})")


def load(
    name: str = typer.Argument(..., help="Bundled data set: uci or otc."),
    out: Path = typer.Option(..., "--out", help="Directory to write the data set to."),
) -> None:
    """Write a bundled real data set (UCI credit cards, Bitcoin OTC) in the four tables."""
    from deepcredit.data.datasets import load_bundled

    with clear_errors():
        ds = load_bundled(name, out)
    console.print(f"wrote {ds.root} ({row_counts(ds)})")


def ingest(
    people: Path = typer.Option(..., help="people table (CSV or Parquet)"),
    events: Path = typer.Option(..., help="events table"),
    relations: Path = typer.Option(..., help="relations table"),
    outcomes: Path = typer.Option(..., help="outcomes table"),
    snapshot_date: str = typer.Option(..., help="The date the data was extracted (YYYY-MM-DD)."),
    name: str = typer.Option("custom", help="A name for the data set."),
    out: Path = typer.Option(..., "--out", help="Directory to write the data set to."),
) -> None:
    """Validate your own four tables and store them; any bad input stops with one clear error, nothing written."""
    from deepcredit.data.dataset import ingest as ingest_tables

    with clear_errors():
        ds = ingest_tables({"people": people, "events": events, "relations": relations, "outcomes": outcomes},
                           out, name=name, snapshot_date=snapshot_date)
    console.print(f"wrote {ds.root}")


def validate(data: Path = typer.Argument(..., help="A stored data set directory.")) -> None:
    """Re-validate every row of a stored data set."""
    from deepcredit.data.dataset import Dataset, validate_tables

    with clear_errors():
        ds = Dataset(data)
        validate_tables({t: ds.table_path(t) for t in ds.manifest.tables}, ds.manifest.snapshot_date)
    console.print(f"{data}: valid")
