"""Data commands: simulate a world, load the bundled real data, ingest and validate a user's own tables.

The data modules (pandas, pyarrow, DuckDB) are imported inside the commands: the CLI starts without them.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from deepcredit.cli.common import clear_errors, console, progress


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
    temporal: float = typer.Option(0.0, "--temporal", help="Weight of a latent risk that shows only in the order "
                                   "of events (docs/simulator.md); 0: off."),
) -> None:
    """Simulate a synthetic population in the four tables, with every person's true default probability."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.workflows.common import row_counts

    with clear_errors(), progress() as bar:
        task = bar.add_task("simulating", total=people)
        ds = simulate_world(out, people=people, seed=seed, chunk_size=chunk_size, temporal=temporal,
                            on_progress=lambda done: bar.update(task, completed=done))
    console.print(f"wrote {ds.root} ({row_counts(ds)})")


def load(
    source: str = typer.Argument(..., help="A bundled data set (uci, otc, german; the name wins over a file "
                                 "of that name: write ./NAME for the file), or the path of a signed-rating "
                                 "network file in Bitcoin OTC's format: SOURCE,TARGET,RATING,TIME (with or "
                                 "without a header; .gz is fine)."),
    out: Path = typer.Option(..., "--out", help="Directory to write the data set to."),
    threshold: float = typer.Option(-5, "--threshold", help="OTC-format files: a rating at or below this is bad."),
    window_days: int = typer.Option(0, "--window-days", help="OTC-format files: days after each as-of date in "
                                    "which a bad rating counts (0: until the next as-of date)."),
    cadence: str = typer.Option("quarter", "--cadence", help="OTC-format files: as-of dates on the first day of "
                                "every month, quarter or year (the words of --period), or every pandas "
                                "frequency: QS, MS, 7D, ..."),
) -> None:
    """Write a bundled real data set, or any OTC-format rating network, in the four tables."""
    from deepcredit.data.datasets import BUNDLED, load_bundled
    from deepcredit.data.datasets.otc import build_from_file
    from deepcredit.data.validate import DataValidationError
    from deepcredit.workflows.common import row_counts

    with clear_errors():
        path = Path(source)
        if source in BUNDLED:  # a bare bundled name wins; a file of that name is written as a path (./german)
            if path.exists():
                console.print(f"loading the bundled data set {source} (for the file {source} here, write ./{source})")
            ds = load_bundled(source, out)
        elif path.is_file():
            ds = build_from_file(path, out, threshold=threshold, window_days=window_days or None, cadence=cadence)
        else:
            raise DataValidationError(source, f"neither a bundled data set ({', '.join(BUNDLED)}) nor a readable "
                                              "file")
    console.print(f"wrote {ds.root} ({row_counts(ds)})")


def ingest(
    people: list[str] = typer.Option(..., help=escape("people table (CSV, Parquet, JSON Lines or .xlsx; a folder: its "
                                     "part files); more files about the same people as NAME=FILE, declared as "
                                     "[more_profile.NAME] (repeat)")),
    events: list[str] = typer.Option([], help=escape("events table (optional with --spec); more history files as "
                                     "NAME=FILE, declared as [more_events.NAME] (repeat)")),
    relations: Path | None = typer.Option(None, help="relations table (optional with --spec)"),
    lookup: list[str] = typer.Option([], help=escape("a table mapping accounts (or contracts) to people, as NAME=FILE, "
                                     "declared as [lookups.NAME] (repeat)")),
    outcomes: Path | None = typer.Option(None, help="outcomes table (optional where the spec takes labels "
                                         "from the people file)"),
    spec: Path | None = typer.Option(None, "--spec", help="Your data set's spec (TOML): what your columns, "
                                     "kinds and statuses mean (draft one with `deepcredit spec draft`)."),
    snapshot_date: str = typer.Option("", help="The date the data was extracted (YYYY-MM-DD); with --spec "
                                      "default: the spec's, else the latest date in the data."),
    name: str = typer.Option("", help="A name for the data set (default: the spec's, else 'custom')."),
    out: Path = typer.Option(..., "--out", help="Directory to write the data set to."),
) -> None:
    """Validate your own tables and store them; any bad input stops with one clear error, nothing written."""
    from deepcredit.data.dataset import ingest as ingest_tables
    from deepcredit.data.ingest import (
        events_by_meaning,
        history_files,
        ingest_with_spec,
        lookup_files,
        profile_files,
    )
    from deepcredit.data.spec import load_spec, todo_warning
    from deepcredit.data.validate import DataValidationError
    from deepcredit.workflows.common import row_counts

    if spec is not None and (todo := todo_warning(spec)):
        console.print(f"warning: {escape(todo)}")
    with clear_errors():
        given = {"relations": relations, "outcomes": outcomes}
        sources = ({t: p for t, p in given.items() if p is not None} | profile_files(people) | history_files(events)
                   | lookup_files(lookup))
        given["people"], given["events"] = sources.get("people"), sources.get("events")
        if spec is not None:
            with console.status("reading") as status:
                ds = ingest_with_spec(load_spec(spec), sources, out, spec_file=str(spec),
                                      snapshot_date=snapshot_date or None, name=name or None,
                                      on_step=lambda s: status.update(escape(s)))
        else:
            missing = [f"--{t}" for t in given if t not in sources]
            if missing or not snapshot_date:
                raise DataValidationError("ingest", "without --spec, give all four tables and --snapshot-date "
                                                    f"(missing: {', '.join(missing + (['--snapshot-date'] if not snapshot_date else []))})")
            ds = ingest_tables(sources, out, name=name or "custom", snapshot_date=snapshot_date)
    console.print(f"wrote {ds.root} ({row_counts(ds)})")
    if spec is not None and (meanings := events_by_meaning(ds)):
        console.print("events by meaning: " + ", ".join(f"{m} {n:,}" for m, n in meanings.items()))


def validate(data: Path = typer.Argument(..., help="A stored data set directory.")) -> None:
    """Re-validate every row of a stored data set (against its spec, where it was stored with one)."""
    from deepcredit.data.dataset import SPEC, Dataset, validate_tables
    from deepcredit.data.ingest import validate_stored

    with clear_errors():
        ds = Dataset(data)
        if (ds.root / SPEC).exists():
            validate_stored(ds)
        else:
            validate_tables({t: ds.table_path(t) for t in ds.manifest.tables}, ds.manifest.snapshot_date)
        ds.checked_fingerprint()  # valid rows, but are they the ones the manifest records? (row errors say more)
    console.print(f"{data}: valid")
