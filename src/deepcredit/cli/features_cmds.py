"""`deepcredit features`: build the point-in-time feature table of a data set.

pandas and the feature workflow are imported inside the command: the CLI starts without them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from deepcredit.cli.common import (
    console,
    engine_option,
    master_option,
    model_errors,
    progress,
    resolve_dataset,
)


def register(app: typer.Typer) -> None:
    app.command("features")(features)


def features(
    data: str = typer.Option(..., "--data", help="A data set directory, or a bundled name: uci, otc, german."),
    out: Path = typer.Option(..., "--out", help="Parquet file to write (only an earlier feature file is replaced)."),
    names: str = typer.Option("", "--features", help="Comma-separated feature names (default: all the data set's spec declares)."),
    as_of: str = typer.Option("", "--as-of", help="Score everybody as of this date instead of the outcomes' dates."),
    threads: int = typer.Option(0, "--threads", help="DuckDB threads (0: all cores)."),
    engine: str = engine_option(),
    master: str = master_option(),
) -> None:
    """Build features for every (person, as_of): only data strictly before each as_of is used. With --as-of,
    every person once (a profile with history is one person, not one row per version)."""
    import pandas as pd

    from deepcredit.features.engine import check_features_out
    from deepcredit.features.spark_progress import task_stage
    from deepcredit.workflows.features import feature_table

    with model_errors():
        check_features_out(out)  # before the features are built, not when they are written
        ds = resolve_dataset(data)
        date = pd.Timestamp(as_of) if as_of else None
        with progress() as bar:
            task = bar.add_task("building features", total=1)
            ff = feature_table(ds, [n.strip() for n in names.split(",") if n.strip()], date, threads or None,
                               engine, master, on_step=lambda name, i, n: bar.update(
                                   task, total=n, completed=i,  # a step, or (Spark) the steps' tasks so far
                                   description=f"{name}: tasks so far" if task_stage(name) else f"features: {name}"))
        ff.save(out)
    by_dim = pd.Series([str(f.dimension) for f in ff.definitions]).value_counts().to_dict()
    console.print(f"wrote {out}: {len(ff.frame):,} rows x {len(ff.names)} features "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(by_dim.items()))})")
