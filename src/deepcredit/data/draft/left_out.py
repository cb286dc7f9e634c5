"""Which columns of a people file `spec draft` leaves out of the attributes, and why: columns that would
become model inputs without telling anyone apart (empty, one value), personal data that identifies a person
(contact data, an id, free text), and codes of too many values to learn from (a postcode).

Why a module of its own: each column left out is one the user should hear about, so every rule gives its
reason, which the draft writes as a "check" line above `ignore`; the rules read values and general words
(draft.words), never one data set's names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from deepcredit.data.contact import contact_data, texts
from deepcredit.data.draft.words import ID_HINTS, POSTCODE_HINTS, header_words, number_in_text
from deepcredit.data.validate import toml_string

MAX_CATEGORIES = 30
"""A text column of more distinct values than this, at least half as many as its filled rows, is free text or
an id, not a category."""
MIN_CONSTANT_ROWS = 20
"""A column is left out as constant only where this many rows hold its one value (a tiny sample may repeat by
chance)."""
MAX_POSTCODES = 50
"""A postcode of more codes than this is left out: each code then holds too few people to learn from (a
scorecard memorises their labels)."""
NUMBER_NAMES = re.compile(r"(^|_)(no|nr|num|number|code|key|ref|seq)$")
"""A header naming a number of a record (application_no): with one value per row, an id."""


def left_out(frame: pd.DataFrame, skip: Iterable[str | None], is_text: dict[str, bool]) -> list[tuple[str, str]]:
    """(column, why it is left out) for each column of `frame` not in `skip` that should not be an attribute;
    `is_text`: whether the draft reads a column as text (a categorical), by column."""
    skipped = set(skip)
    return [(str(c), why) for c in frame.columns
            if c not in skipped and (why := reason(str(c), frame[c], len(frame), is_text.get(str(c), False)))]


def reason(column: str, values: pd.Series, rows: int, is_text: bool) -> str | None:
    """Why a people file's column is no attribute, or None where it may be one."""
    filled = texts(values)
    found = filled.nunique()
    words = header_words(column)
    if found == 0:
        return "every cell is empty: it holds nothing to learn from"
    if found == 1 and len(filled) == rows >= MIN_CONSTANT_ROWS:  # one value or empty: a flag, kept
        return f"one value in every row ({filled.iloc[0][:20]!r}): it tells no one apart"
    if contact := contact_data(column, filled):
        return f"{contact}, which identify a person and are never an input"
    if POSTCODE_HINTS.search(words) and found > MAX_POSTCODES:
        return (f"a postcode of {found:,} codes in {len(filled):,} rows (about {len(filled) / found:.0f} rows each):"
                " too many to learn from, as each code's few people would be memorised; declare a coarser region"
                " (its first digits) as a categorical attribute if place matters")
    if one_per_row(words, filled, rows, is_text):
        return f"one distinct value per row ({found:,}): an id, not something a person has"
    if is_text and (not number_in_text(filled) or id_codes(filled)) and found > MAX_CATEGORIES \
            and found >= 0.5 * len(filled):
        return f"free text or ids ({found:,} values in {len(filled):,} rows), not categories"
    return None


ID_CODE = re.compile(r"^[^\W\d_]{1,4}[-_/.]?\d{4,}$")
"""A value written as an id's code: a few letters, then four digits or more (K100000, A-000017)."""


def id_codes(filled: pd.Series) -> bool:
    """Whether every value is written as an id's code (ID_CODE), all of one length: a number inside words
    that numbers records, never a quantity to read (a "K" in front of 100000 is no unit)."""
    return bool(len(filled)) and bool(filled.str.match(ID_CODE).all()) and filled.str.len().nunique() == 1


def one_per_row(words: str, filled: pd.Series, rows: int, is_text: bool) -> bool:
    """Whether a column names each row apart, as an id does: every row filled with a value of its own (more
    than MAX_CATEGORIES), written as text (A000017, a number inside words too) or as whole numbers under a
    name of a record's number or id (application_no). A measure (an income) may be unique by chance in a
    sample: it is none of these."""
    if len(filled) != rows or filled.nunique() != rows or rows <= MAX_CATEGORIES:
        return False
    if is_text:
        return True
    numbers = pd.to_numeric(filled, errors="coerce")
    whole = bool(numbers.notna().all() and (numbers == numbers.round()).all())
    return whole and bool(NUMBER_NAMES.search(words) or ID_HINTS.search(words))


def ignore_lines(columns: list[tuple[str, str]]) -> list[str]:
    """The draft's `ignore` line, each column's reason a check line above it (nothing where none)."""
    if not columns:
        return []
    return [*(f"# check: {col!r} left out: {why}." for col, why in columns),
            "# Declare one as an attribute (and take it out of ignore) if it is something a person has that",
            "# bears on credit.",
            f"ignore = [{', '.join(toml_string(c) for c, _ in columns)}]"]
