"""Shared CLI helpers: a console, progress bars, and turning known errors into clear exits.

The data, configuration and workflow modules are imported inside the helpers that use them: every command
module imports this one, and `deepcredit --help` would otherwise wait seconds for pandas and pyarrow.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepcredit.data.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from deepcredit.config import RunConfig
    from deepcredit.data.dataset import Dataset
    from deepcredit.scoring.record_reasons import RecordWeights

console = Console(stderr=True)

ENGINE_HELP = escape("Where the feature plan runs: duckdb (in process) or spark (pip install 'deepcredit[spark]').")
MASTER_HELP = escape("Spark master URL with --engine spark: local[*] (default), local[2], spark://host:7077, yarn, ...")


def engine_option() -> Any:
    return typer.Option("duckdb", "--engine", help=ENGINE_HELP)


def master_option() -> Any:
    return typer.Option("local[*]", "--master", help=MASTER_HELP)


def progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


def step_by_step(bar: Progress, task: TaskID) -> Callable[[str], None]:
    """A workflow's `step(description)` callback: each new step completes the one before it on the bar."""
    started = [False]

    def step(description: str) -> None:
        if started[0]:
            bar.advance(task)
        started[0] = True
        bar.update(task, description=description)

    return step


def show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """A warning as one line on the console, without the source line Python shows (warnings.showwarning)."""
    console.print(f"[yellow]warning:[/yellow] {escape(str(message))}", soft_wrap=True)


ARROW_FILE = re.compile(r"^Failed to open local file '(?P<path>[^']+)'")
"""How pyarrow names the file of an OS error it raises (its errors carry no `filename`)."""


def os_error_line(exc: OSError) -> str:
    """`<path>: <reason>` for an OS error (permission denied, is a directory, disk full, ...); the message
    itself where it names no file (some are raised with a sentence of ours)."""
    from deepcredit.data.io import written_path

    path = exc.filename2 if exc.filename2 is not None else exc.filename  # os.replace(tmp, path): the path
    reason = exc.strerror
    if path is None and exc.errno and (m := ARROW_FILE.match(str(exc.strerror or ""))):
        path, reason = m["path"], os.strerror(exc.errno)
    if not isinstance(path, str | bytes | os.PathLike) or not reason:
        return str(exc)
    return f"{written_path(path)}: {reason}"


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Print data errors and OS errors (a file not found, unreadable or unwritable, a directory where a file
    goes) as one red line and exit 2, instead of a traceback: they are the user's to fix, not bugs."""
    try:
        yield
    except DataValidationError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"[red]error:[/red] {escape(os_error_line(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def model_errors() -> Iterator[None]:
    """Data and artifact errors (clear_errors), plus a model's or a configuration's ValueError (unknown
    member, missing column, bad option), as one red line and exit 2."""
    with clear_errors():
        try:
            yield
        except ValueError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None


def resolve_dataset(data: str) -> Dataset:
    """A stored data set from a directory, or a bundled one (uci, otc, german) materialised once under
    workflows.common.BUNDLED_CACHE."""
    from deepcredit.workflows.common import BUNDLED_CACHE, open_dataset

    return open_dataset(data, BUNDLED_CACHE, on_message=console.print)


def run_config(config: Path | None, overrides: dict[str, Any], member_param: list[str] | None = None) -> RunConfig:
    """The --config file's RunConfig (defaults without one), with the options that were given on top;
    --member-param KIND.PARAM=VALUE merged into the file's member_params, a given one replacing the file's."""
    from deepcredit.config import (
        RunConfig,
        load_config,
        merge_member_params,
        parse_member_params,
        with_overrides,
    )

    cfg = with_overrides(load_config(config) if config else RunConfig(), overrides)
    if member_param:
        cfg = cfg.model_copy(update={"member_params": merge_member_params(cfg.member_params,
                                                                          parse_member_params(member_param))})
    return cfg


def member_progress(bar: Progress) -> Callable[[str, int, int], None]:
    """A stack's progress callback: one bar per member, advanced as its folds and final fit finish."""
    tasks: dict[str, TaskID] = {}

    def on_progress(kind: str, done: int, total: int) -> None:
        if kind not in tasks:
            tasks[kind] = bar.add_task(f"{kind}: folds + final fit", total=total)
        bar.update(tasks[kind], completed=done, total=total)

    return on_progress


def sub_score_text(card: Mapping, dimension: str) -> str:
    """A card's sub-score as a person reads it: "no data" where the model has none, its points with
    NO_RECORD_PART beside them where `<dimension>_no_record` says the person has no record there (a card
    written before the flag has none), else the points."""
    import pandas as pd

    from deepcredit.scoring.scorer import NO_RECORD_PART, no_record_column

    if pd.isna(card[dimension]):
        return "no data"
    flag = card.get(no_record_column(dimension), False)
    return f"{card[dimension]} ({NO_RECORD_PART})" if not pd.isna(flag) and bool(flag) else str(card[dimension])


def print_person(card: Mapping, reasons: pd.DataFrame) -> None:
    """One person's score, band, PD, five sub-scores and reason codes: the one printer every `explain` uses.

    card: person_id, as_of, score, band, pd and the five dimensions (<NA>: no data for it; beside a number,
    NO_RECORD_PART where `<dimension>_no_record` says the person has no record there); reasons: rank, reason,
    value, points_lost, how_to_improve (scoring.scorer.Scorer.explain's long table).
    """
    import pandas as pd
    from rich.table import Table

    from deepcredit.models.base import DIMENSIONS
    from deepcredit.scoring.scorer import shown_value

    console.print(f"[bold]{escape(str(card['person_id']))}[/bold] as of {pd.Timestamp(card['as_of']).date()}: "
                  f"score [bold]{card['score']}[/bold] ({card['band']}), PD {card['pd']:.2%}")
    subs = Table(title="sub-scores (they add up to the score; no data: the model has no input there)")
    for d in DIMENSIONS:
        subs.add_column(d.replace("_", " "))
    subs.add_row(*(sub_score_text(card, d) for d in DIMENSIONS))
    console.print(subs)
    if reasons.empty:
        console.print("no reason codes: nothing lowers this score by a whole point")
        return
    table = Table(title="what lowers the score most")
    for col in ("#", "reason", "value", "points", "how to improve"):
        table.add_column(col)
    for r in reasons.itertuples():
        table.add_row(str(r.rank), escape(r.reason), escape(shown_value(r.feature, r.value)), f"-{r.points_lost}",
                      escape(r.how_to_improve))
    console.print(table)


def print_records(weights: RecordWeights, top: int, as_of: object) -> None:
    """The person's own records that lower their score most (scoring.record_reasons): when each was dated,
    what it was, as stored, and the points it costs, then the groups of them that cost most together; a
    separate printer from print_person's."""
    import pandas as pd

    date = pd.Timestamp(as_of).date()
    if not weights.considered:
        console.print(f"no records of yours before {date}: none weighs on this score")
        return
    cut = (f"the latest {weights.considered:,} of your {weights.records:,} records before {date}"
           if weights.considered < weights.records else f"your {weights.records:,} records before {date}")
    shown = weights.top(top)
    if shown.empty:
        console.print(f"no single record lowers this score by a whole point on its own ({cut}, each left out "
                      "in turn): a reason about records is about them taken together")
    else:
        _records_table(shown, cut)
    print_record_groups(weights, top, date)


def print_record_groups(weights: RecordWeights, top: int, date: object) -> None:
    """What groups of the person's records cost taken together (each group left out at once), costliest
    first; those costing a whole point only."""
    groups = weights.top_groups(top)
    if groups.empty:
        return
    console.print(f"records taken together (each group of your records before {date} left out at once):")
    for g in groups.itertuples():
        many = "s" if g.count != 1 else ""
        console.print(escape(f"  your {g.count:,} {g.label} record{many} taken together: -{round(g.points)} points"))


def _records_table(shown: pd.DataFrame, cut: str) -> None:
    """The costliest single records, one row each."""
    from rich.table import Table

    table = Table(title=f"records that weigh most ({cut}, each left out in turn through the whole model)")
    columns = [("ts", "date"), ("kind", "kind"), ("status", "status"), ("amount", "amount"), ("due_ts", "due"),
               ("days_late", "days late")]
    columns = [(c, title) for c, title in columns if c in shown.columns]
    for c, title in columns:
        table.add_column(title, no_wrap=c in ("ts", "due_ts"))
    table.add_column("points")
    for _, r in shown.iterrows():
        table.add_row(*(escape(_record_value(c, r[c])) for c, _ in columns), f"-{round(r['points'])}")
    console.print(table)


def _record_value(column: str, value: object) -> str:
    """A stored value as a person reads it: dates as days, amounts to the cent (whole ones without), '' where
    none."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if column in ("ts", "due_ts"):
        return str(pd.Timestamp(value).date())
    if isinstance(value, float):
        text = f"{value:,.2f}"
        return text.removesuffix(".00")
    return str(value)
