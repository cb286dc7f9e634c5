"""The draft's sections of the tables joined to the people: another file of profile attributes
([more_profile.NAME], about the same people or about something they share, such as a district) and a
lookup table saying whose each key is ([lookups.NAME]).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deepcredit.data.draft.attributes import attribute_lines
from deepcredit.data.draft.event_columns import person_column
from deepcredit.data.draft.format import header_line_of, ignored_line
from deepcredit.data.draft.left_out import ignore_lines, left_out
from deepcredit.data.draft.people import history_columns
from deepcredit.data.draft.sample import column_types, infer_type, sample
from deepcredit.data.draft.words import ID_HINTS, PART_HINTS, header_words
from deepcredit.data.validate import toml_string


def more_profile_lines(name: str, path: Path, id_col: str | None, people: pd.DataFrame) -> list[str]:
    """The [more_profile.NAME] section of another file about the same people (or about something they
    share, joined on a column of the people file `people`), with its attributes."""
    frame = sample(path)
    ident = (
        id_col
        if id_col in frame.columns
        else next((c for c in frame.columns if ID_HINTS.search(header_words(c)) and frame[c].is_unique), None)
    )
    valid = None  # a person on several rows, told apart by a date: the file's own attribute history
    if ident is None or not frame[ident].is_unique:
        ident, valid = history_columns(frame, id_col) or (ident, None)
    shared = shared_key(frame, people, id_col) if ident is None or ident != id_col else None
    ident = shared[0] if shared else ident
    valid = shared[2] if shared else valid
    out = [
        "",
        f"# More about the same people: {path.name}, joined by their id (ingest --people {name}={path.name}).",
        f"[more_profile.{name}]",
        *header_line_of(path),
        f"id_column = {toml_string(ident)}"
        if ident
        else 'id_column = "TODO"  # TODO: the column naming the person',
    ]
    if shared:
        per = f"one row per {shared[1]}" + (f" and {valid}" if valid else "")
        out[1] = f"# What people share: {path.name}, {per} (ingest --people {name}={path.name})."
        out.append(
            f"join_on = {toml_string(shared[1])}  # check: each person gets the row of their {shared[1]}"
        )
        if valid:
            out.append(
                f"valid_from = {toml_string(valid)}  # check: a {shared[1]} has several rows, each true from "
                "this date (an empty one: since always)"
            )
    elif valid:
        out.append(
            f"valid_from = {toml_string(valid)}  # check: a person has several rows, each true from this date"
        )
    dropped = left_out(
        frame, (ident, valid), {str(c): infer_type(frame[c]) == "categorical" for c in frame.columns}
    )
    return (
        out
        + ignore_lines(dropped)
        + attribute_lines(
            frame, skip=(ident, valid, *(c for c, _ in dropped)), section=f"more_profile.{name}"
        )
    )


def shared_key(
    frame: pd.DataFrame, people: pd.DataFrame, id_col: str | None
) -> tuple[str, str, str | None] | None:
    """(this file's key column, the people file's column, the date column telling a key's versions apart or
    None) where the key names every value the people's column holds and that column repeats values: a table
    of districts, branches or products that people share (Berka's district.asc, keyed A1, beside
    account.asc's district_id), one row per key, or one per key and date where it keeps their history."""
    dates = [c for c in frame.columns if infer_type(frame[c]) == "date"]
    for key in (c for c in frame.columns if frame[c].notna().all()):
        unique = frame[key].is_unique
        told = (
            None
            if unique
            else next((d for d in dates if d != key and not frame.duplicated([key, d]).any()), None)
        )
        if not unique and told is None:  # repeated, and no date tells its rows apart: not a key
            continue
        values = set(frame[key].astype(str).str.strip())
        for col in (c for c in people.columns if c != id_col):
            held = people[col].dropna().astype(str).str.strip()
            held = held[held != ""]
            if len(held) and held.duplicated().any() and held.isin(values).mean() >= 0.99:
                return str(key), str(col), told
    return None


def lookup_lines(name: str, path: Path, id_col: str | None) -> tuple[list[str], str | None]:
    """The [lookups.NAME] section of a table saying whose each key is, and the key it found."""
    frame = sample(path)
    types = column_types(frame)
    person = id_col if id_col in types else person_column(types, None, set())
    unique = [c for c in frame.columns if c != person and frame[c].mask(frame[c] == "").dropna().is_unique]
    key = next(
        (c for c in unique if ID_HINTS.search(header_words(c)) or PART_HINTS.search(header_words(c))),
        unique[0] if unique else None,
    )
    out = [
        "",
        f"# Lookup: {path.name}. Whose each key is (ingest --lookup {name}={path.name}); a history file "
        "keyed by it says person_via.",
        f"[lookups.{name}]",
        *header_line_of(path),
        f"key = {toml_string(key)}  # check: unique in the file"
        if key
        else 'key = "TODO"  # TODO: the key column',
        f"person_id = {toml_string(person)}" if person else 'person_id = "TODO"  # TODO: the person column',
    ]
    out += ignored_line(types, {key or "", person or ""})
    return out, key
