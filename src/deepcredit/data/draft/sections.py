"""Draft a spec from the files' headers and inferred types, as commented TOML for the user to edit.

The draft is a starting point, never a decision: every attribute gets a type inferred from a sample of
values, a placeholder dimension and texts, and comments saying what to check (a column that looks like an
id, a label, or a protected attribute). Given an events file, it finds the person, date, kind, status and
amount columns and lists every kind and status the file holds with a meaning guessed from its word; given a
relations or outcomes file, their columns likewise. Every guess carries a comment saying to check it, and
what it could not guess is marked TODO, so nothing is decided silently.

This module puts the sections together in the spec's order; each section is drafted by its own module of
this package (draft.sample reads the files, draft.format says how they are written).
"""

from __future__ import annotations

import re
from pathlib import Path

from deepcredit.data.draft.attributes import attribute_lines
from deepcredit.data.draft.events import event_lines
from deepcredit.data.draft.format import format_lines, header_line_of, other_sheets_note, titles_note
from deepcredit.data.draft.joined_tables import lookup_lines, more_profile_lines
from deepcredit.data.draft.left_out import ignore_lines, left_out
from deepcredit.data.draft.outcomes import application_date, label_column, outcome_lines, people_label_lines
from deepcredit.data.draft.people import link_columns, people_id
from deepcredit.data.draft.relations import people_relation_lines, relation_lines
from deepcredit.data.draft.sample import distinct_texts, infer_type, sample
from deepcredit.data.schema import Dimension
from deepcredit.data.validate import toml_string


def draft_spec(
    path: Path,
    name: str | None = None,
    events: Path | None = None,
    relations: Path | None = None,
    outcomes: Path | None = None,
    more_events: dict[str, Path] | None = None,
    lookups: dict[str, Path] | None = None,
    more_profile: dict[str, Path] | None = None,
) -> str:
    """Commented TOML declaring every column of the people file `path` (CSV, Parquet or .xlsx) as a profile
    attribute, and, for each other file given, its section of the spec (`more_events`: further history
    files by name, each its own [more_events.NAME])."""
    more, lookups, more_profile = dict(more_events or {}), dict(lookups or {}), dict(more_profile or {})
    given = [
        Path(f)
        for f in (
            path,
            events,
            relations,
            outcomes,
            *more.values(),
            *lookups.values(),
            *more_profile.values(),
        )
        if f
    ]
    frame = sample(path)
    id_col, valid_from = people_id(frame)
    label_col = None if outcomes else label_column(frame, exclude=(id_col, valid_from))
    dated_by = application_date(frame, label_col, id_col, valid_from)
    files = " ".join(
        [
            f"--{t} {Path(f).name}"
            for t, f in (("events", events), ("relations", relations), ("outcomes", outcomes))
            if f
        ]
        + [f"--events {n}={Path(f).name}" for n, f in more.items()]
        + [f"--lookup {n}={Path(f).name}" for n, f in lookups.items()]
        + [f"--people {n}={Path(f).name}" for n, f in more_profile.items()]
    )
    out = [
        *_head_lines(Path(path), len(frame), files, given),
        f"name = {toml_string(name or draft_name(path))}",
        'description = ""',
        *format_lines(given),
        "",
        "[profile]",
        *header_line_of(Path(path)),
        *_id_lines(id_col, valid_from),
    ]
    linked, grouped = (
        ([], []) if relations else link_columns(frame, id_col, (valid_from, label_col, dated_by))
    )
    taken = (id_col, valid_from, label_col, dated_by, *linked, *grouped)
    dropped = left_out(frame, taken, {str(c): infer_type(frame[c]) == "categorical" for c in frame.columns})
    out += ignore_lines(dropped)
    out += attribute_lines(
        frame, skip=(*taken, *(c for c, _ in dropped)), label_found=bool(label_col or outcomes)
    )
    for extra, file in more_profile.items():
        out += more_profile_lines(extra, Path(file), id_col, frame)
    keys: dict[str, str] = {}
    for lookup, file in lookups.items():
        lines, key = lookup_lines(lookup, Path(file), id_col)
        out += lines
        keys.update({lookup: key} if key else {})
    ids = frozenset(distinct_texts(frame[id_col])) if id_col else frozenset()
    if events:
        out += event_lines(Path(events), id_col, lookup_keys=keys, people_ids=ids)
    for source, file in more.items():
        out += event_lines(Path(file), id_col, f"more_events.{source}", lookup_keys=keys, people_ids=ids)
    out += relation_lines(Path(relations), ids) if relations else people_relation_lines(linked, grouped)
    out += ["", "[outcomes]"]
    if outcomes:
        return (
            "\n".join(out + header_line_of(Path(outcomes)) + outcome_lines(Path(outcomes), id_col, ids))
            + "\n"
        )
    return "\n".join(out + people_label_lines(frame, label_col, dated_by)) + "\n"


def draft_name(path: Path) -> str:
    """The data set's name drafted from the people file's name (my-data where none is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).name.split(".")[0]).strip("-._") or "my-data"


def _head_lines(path: Path, rows: int, files: str, given: list[Path]) -> list[str]:
    """The draft's opening comments: where it came from, the ingest command that reads it (`files`: its
    options for the files given beside the people file), notes on their sheets, and what each key means."""
    dims = " | ".join(d.value for d in Dimension)
    return [
        f"# Drafted by `deepcredit spec draft` from {path.name} ({rows:,} rows sampled). Edit it, then:",
        f"#   deepcredit ingest --spec THIS_FILE --people DATA {files + ' ' if files else ''}--out DIR",
        *other_sheets_note(path, given[1:]),
        *titles_note(given),
        "# Every attribute: type (numeric | categorical | ordinal + order | boolean | date),",
        f"# dimension ({dims}),",
        "# description (completes 'your score is lowered by ...'), improve (how to improve),",
        "# risk_direction (+1 higher is riskier, -1 safer, 0 unknown), protected (audited, never an input),",
        "# actionable (may appear in 'how to improve'), role (credit_line | income | joined_at).",
        "spec_version = 1",
    ]


def _id_lines(id_col: str | None, valid_from: str | None) -> list[str]:
    """The [profile] id_column line (and valid_from, for a file of profile versions), with what to check."""
    if not id_col:
        return [
            "# No column looks like a unique id: each row is one person, numbered 1, 2, ... in file order.",
            'id_column = ""',
        ]
    out = []
    if id_col == "unnamed_1":
        out.append(
            "# The file's first column has no name (a saved row index?) and is unique: taken as the id."
        )
    out.append(f"id_column = {toml_string(id_col)}")
    if valid_from:
        out += [
            "# A person has several rows: each holds from this date on (attribute history; features as of T",
            "# read the row valid before T). Check it is when the values became true, not when they were typed.",
            f"valid_from = {toml_string(valid_from)}",
        ]
    return out
