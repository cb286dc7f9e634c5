"""Shared CLI helpers: a console, progress bars, and turning known errors into clear exits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepcredit.data.validate import DataValidationError

console = Console(stderr=True)


def progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Print data errors as one red line and exit 2, instead of a traceback."""
    try:
        yield
    except (DataValidationError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def row_counts(ds) -> str:
    """'people: 1,000, events: 50,000, ...' for a stored data set."""
    return ", ".join(f"{t}: {e['rows']:,}" for t, e in ds.manifest.tables.items())
