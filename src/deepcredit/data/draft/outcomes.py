"""The draft's [outcomes] section: the label column (named like one, or holding outcomes in words) with its
bad, good and not-yet-known values, the as-of date and the performance window, from the people file or from
an outcomes file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from deepcredit.data.contact import texts
from deepcredit.data.draft.event_columns import person_by_values, person_column, pick_column
from deepcredit.data.draft.format import ignored_line
from deepcredit.data.draft.sample import column_types, infer_type, sample
from deepcredit.data.draft.words import (
    APPLICATION_HINTS,
    LABEL_HINTS,
    PENDING_WORDS,
    header_words,
    outcomes_in_words,
    window_in_name,
    yes_or_no,
)
from deepcredit.data.spec_base import identifier
from deepcredit.data.validate import toml_string

OUTCOME_CODES = re.compile(r"status|state|result")
"""A header that may hold a loan's outcome as codes (a bank's loan status A, B, C, D): proposed as the label,
last, with its values for the user to sort into bad and good."""


def label_column(frame: pd.DataFrame, exclude: Iterable[str | None]) -> str | None:
    """A two-valued column named like a label, else one whose values read as outcomes in words (at least one
    bad and one good, every value placed: Charged Off, Fully Paid, Current)."""
    cols = [c for c in frame.columns if c not in set(exclude)]
    two = [c for c in cols if frame[c].nunique() == 2]
    named = next((c for hints in LABEL_HINTS for c in two if hints.search(header_words(c))), None)
    return (
        named
        or next(
            (c for c in cols if 2 <= frame[c].nunique() <= 12 and outcomes_in_words(frame[c]) is not None),
            None,
        )
        or next(
            (
                c
                for hints in (*LABEL_HINTS, OUTCOME_CODES)
                for c in cols
                if 2 <= frame[c].nunique() <= 12 and hints.search(header_words(c))
            ),
            None,
        )
    )


def application_date(
    frame: pd.DataFrame, label_col: str | None, id_col: str | None, valid_from: str | None
) -> str | None:
    """The date column named like an application's (APPLICATION_HINTS) in a people file holding its label and
    no profile versions: each row is then scored as of its own date (as_of_column)."""
    return next(
        (
            c
            for c in frame.columns
            if label_col
            and not valid_from
            and c not in (id_col, label_col)
            and APPLICATION_HINTS.search(header_words(c))
            and infer_type(frame[c]) == "date"
        ),
        None,
    )


def people_label_lines(frame: pd.DataFrame, label_col: str | None, dated_by: str | None) -> list[str]:
    """The [outcomes] lines of a draft without an outcomes file: the label column of the people file with its
    bad and good values, else a TODO saying where a label may come from; the as-of date and window."""
    if label_col:
        out = [
            "# The label is a column of this file; give its bad (defaulted) and good values.",
            'source = "people"',
            f"label = {toml_string(label_col)}",
            *label_values(frame[label_col]),
        ]
    else:
        out = [
            '# TODO: the label: a column of this file (source = "people"), an outcomes file (--outcomes), or,'
            '\n# with events, the history itself (source = "events", as_of_dates = [...], bad_when = ["broken"]:'
            "\n# bad when a broken commitment comes within window_days after a date).",
            'source = "outcomes"',
            'label = "label"',
            'bad = ["1"]',
            'good = ["0"]',
        ]
    return out + [
        f"as_of_column = {toml_string(dated_by)}  # check: each row is scored as of its own date"
        if dated_by
        else "as_of = 2024-01-01  # TODO: the date the outcomes are predicted from (features use what came "
        "before)",
        window_line(label_col),
    ]


def label_values(values: pd.Series) -> list[str]:
    """The bad, good (and not-known-yet) lines of a label column's draft."""
    empty = bool((values.isna() | (values.astype("string").str.strip() == "")).any())
    words = outcomes_in_words(values)
    why = ""
    if words is None:
        found = [str(v) for v in sorted(values.dropna().unique()) if str(v).strip()]
        bad, why = bad_value(values, found)
        pending = [v for v in found if v != bad and re.search(PENDING_WORDS, identifier(v))]
        words = {
            "bad": [bad],
            "good": [v for v in found if v != bad and v not in pending],
            "unknown": pending,
        }
    listed = {k: ", ".join(toml_string(v) for v in vs) for k, vs in words.items()}
    out = [
        f"bad = [{listed['bad']}]  # TODO: check which value means bad" + why,
        f"good = [{listed['good']}]",
    ]
    pending = [toml_string(v) for v in words["unknown"]] + ([toml_string("")] if empty else [])
    if pending:
        out.append(
            f"unknown = [{', '.join(pending)}]  # check: outcomes not known yet (left out of the labels)"
        )
    return out


def bad_value(values: pd.Series, found: list[str]) -> tuple[str, str]:
    """(the label value drafted bad, why, for its check): a value reading bad, default, 1, or yes in one of
    the major European languages (words.yes_or_no: the label says the bad thing happened); else the rarer
    value, as a bad outcome is the rarer in nearly every book."""
    named = next((v for v in found if re.search(r"bad|default|^1$|yes|true", v.lower())), None)
    if named is not None:
        return named, ""
    said = {v: yes_or_no(v) for v in found}
    if True in said.values() and False in said.values():
        yes = next(v for v, s in said.items() if s)
        return yes, f": {yes!r} reads as yes, so the label's bad event happened"
    counts = values.dropna().astype(str).value_counts()
    rare = min(found, key=lambda v: (int(counts.get(v, 0)), v))
    share = counts.get(rare, 0) / max(int(counts.sum()), 1)
    return rare, f": no value reads as bad, so the rarer ({share:.0%} of rows) is taken"


def window_line(label: str | None) -> str:
    """The window_days line: the window the label column's name gives (status_180d), else a year to check."""
    days = window_in_name(label) if label else None
    return (
        f"window_days = {days}  # check: the performance window, from the label's name {label!r}"
        if days
        else "window_days = 365  # TODO: the performance window"
    )


def outcome_lines(path: Path, id_col: str | None, people_ids: frozenset[str] = frozenset()) -> list[str]:
    """The [outcomes] lines of an outcomes file: its person, label, as-of date and window columns."""
    frame = sample(path)
    types = column_types(frame)
    person = person_column(types, id_col, set()) or person_by_values(frame, people_ids, set())
    label = label_column(frame, exclude=(person,)) or next(
        (c for c in frame.columns if c != person and frame[c].nunique() == 2), None
    )
    taken = {person or "", label or ""}
    named = pick_column(types, r"as_?of|date|time|_at$|_on$|when|observ|snapshot", ("date",), taken)
    as_of = named or pick_column(
        types, ".", ("date",), taken
    )  # a date named in other words (stichtag): by its type
    taken.add(as_of or "")
    repeated = bool(person) and bool(texts(frame[person]).duplicated().any())
    window = pick_column(types, r"window|horizon|days|months", ("numeric",), taken)
    taken.add(window or "")
    out = [
        f"# Outcomes: {path.name}. Each row one person's label, predicted as of its date.",
        'source = "outcomes"',
        f"person_id = {toml_string(person)}"
        if person
        else 'person_id = "TODO"  # TODO: the column naming the person',
    ]
    if label:
        out += [f"label = {toml_string(label)}", *label_values(frame[label])]
    else:
        out += ['label = "TODO"  # TODO: the column holding the label', 'bad = ["1"]', 'good = ["0"]']
    if as_of:
        out.append(
            f"as_of_column = {toml_string(as_of)}"
            + (
                ""
                if named
                else "  # check: found as a date column (its name says no date): each row is scored as of it"
            )
        )
    else:
        out += (
            [
                "# TODO: a person has several rows here, and one fixed as_of allows one row per person: name the",
                '# column holding each row\'s date as as_of_column = "..." instead.',
            ]
            if repeated
            else []
        )
        out.append(
            "as_of = 2024-01-01  # TODO: no date column found: the date the outcomes are predicted from"
        )
    out.append(
        f"window_days_column = {toml_string(window)}  # check: the performance window in days"
        if window
        else window_line(label)
    )
    out += ignored_line(types, taken)
    return out
