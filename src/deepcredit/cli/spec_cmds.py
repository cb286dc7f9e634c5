"""`deepcredit spec`: draft a data-set spec from a user's files, and check one."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from deepcredit.cli.common import clear_errors, console

spec_app = typer.Typer(help="Declare your own data set: draft a spec from your files, check a spec.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")


@spec_app.command("draft")
def draft(
    file: Path = typer.Argument(..., help="A people file (CSV, Parquet or .xlsx) to draft the spec from."),
    out: Path = typer.Option(..., "--out", help="The spec file to write (TOML)."),
    name: str = typer.Option("", "--name", help="The data set's name (default: from the file name)."),
    events: list[str] = typer.Option([], "--events", help=escape(
        "An events file: its columns, kinds and statuses; more history files as NAME=FILE, each drafted as "
        "[more_events.NAME] (repeat).")),
    relations: Path | None = typer.Option(None, "--relations", help="A relations file: its columns."),
    outcomes: Path | None = typer.Option(None, "--outcomes", help="An outcomes file: its label and dates."),
    lookup: list[str] = typer.Option([], "--lookup", help=escape("A table saying whose each account (or contract) is, "
                                     "as NAME=FILE, drafted as [lookups.NAME] (repeat).")),
    people: list[str] = typer.Option([], "--people", help=escape("Another file about the same people, as NAME=FILE, "
                                     "drafted as [more_profile.NAME] (repeat).")),
) -> None:
    """Draft a spec from the files' headers and inferred types, as commented TOML for you to edit."""
    from deepcredit.data.draft import draft_spec
    from deepcredit.data.ingest import history_files, lookup_files, profile_files
    from deepcredit.data.io import atomic_write_text
    from deepcredit.data.validate import DataValidationError

    with clear_errors():
        if out.exists():
            raise DataValidationError(str(out), "already exists: refusing to overwrite your edits (choose another --out)")
        histories = history_files(events)
        more = {k.removeprefix("events:"): p for k, p in histories.items() if k != "events"}
        if more and "events" not in histories:
            raise DataValidationError("--events", "give the first history file without a name (--events FILE): it "
                                                  "is drafted as [events], the named ones as [more_events.NAME]")
        lookups = {k.removeprefix("lookup:"): p for k, p in lookup_files(lookup).items()}
        extra = {k.removeprefix("people:"): p for k, p in profile_files(people).items() if k != "people"}
        if len(extra) != len(people):
            raise DataValidationError("--people", "the people file is the first argument: give the others as "
                                                  "NAME=FILE, drafted as [more_profile.NAME]")
        text = draft_spec(file, name or None, events=histories.get("events"), relations=relations,
                          outcomes=outcomes, more_events=more, lookups=lookups, more_profile=extra)
        atomic_write_text(out, text)
    console.print(f"wrote {out}: edit the TODOs, then run deepcredit ingest --spec {out} ...")


@spec_app.command("check")
def check(spec: Path = typer.Argument(..., help="A spec file (TOML)."),
          features: bool = typer.Option(False, "--features", help="Also list the features the spec gives: "
                                        "name, dimension and what a reason says of each.")) -> None:
    """Check a spec file; print what it declares, or one clear error naming the line and field."""
    from rich.table import Table

    from deepcredit.data.spec import load_spec, todo_warning
    from deepcredit.features.sequences import SEQUENCE_WORDS, coding
    from deepcredit.features.templates import features_for

    with clear_errors():
        s = load_spec(spec)
        defs = features_for(s)
    console.print(f"{spec}: valid ({len(s.profile.attributes)} attributes, {len(s.protected)} protected, "
                  f"event files: {1 + len(s.more_events) if s.events else 'none'}, "
                  f"relations: {'yes' if s.relations else 'no'}; "
                  f"{len(defs)} features)")
    if todo := todo_warning(spec):
        console.print(f"warning: {escape(todo)}")
    if silent := [a.name for a in s.profile.attributes if a.improve and not a.actionable and not a.protected]:
        console.print(f"declared not actionable, so their `improve` text is never shown: {', '.join(silent)}")
    if how := s.format.describe():
        console.print(f"files read as: {escape(how)}")
    if s.events is not None or s.relations is not None:
        w = s.windows
        console.print(f"history windows: period {w.period}, recent {w.recent}, medium {w.medium}, long {w.long} days")
    if s.events is not None:
        channels = [*SEQUENCE_WORDS, *(m.name.removeprefix("measure:") + (f" ({m.buckets} learned buckets)"
                                                                          if m.buckets else "")
                                       for m in coding(s).measures)]
        console.print(f"each event, as the sequence members read it: {', '.join(channels)}")
        for m in (m for m in s.events.measures if m.type == "categorical" and not m.values and not m.buckets):
            console.print(f"  {m.name}: no declared `values` or `buckets`, so the sequence members do not read it")
    if features:
        table = Table("feature", "dimension", "what it measures")
        for d in defs:
            table.add_row(d.name, d.dimension.value.replace("_", " "), escape(d.description))
        console.print(table)
