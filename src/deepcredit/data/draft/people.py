"""Which columns of a people file say who a row is: the id (named so, in any language's record-number
suffix, or found by its values), the date telling a person's profile versions apart, and the columns that
link people rather than describe them (a referrer, a household).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from deepcredit.data.contact import contact_data, texts
from deepcredit.data.draft.sample import infer_type
from deepcredit.data.draft.words import GROUP_HINTS, ID_HINTS, ID_SUFFIX, LINK_HINTS, header_words

HISTORY_HINTS = re.compile(r"valid|effective|updated|changed|since|from|as_?of|snapshot|version|report")


def people_id(frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """(the id column, the valid-from column) of a people file: a unique column named like an id (in English
    words, else by a record number's suffix), else the id and date of a file of profile versions
    (history_columns); None where none."""
    id_col = next(
        (c for c in frame.columns if ID_HINTS.search(header_words(c)) and frame[c].nunique() == len(frame)),
        None,
    ) or suffixed_id(frame)
    if id_col:
        return id_col, None
    return history_columns(frame) or (None, None)


def suffixed_id(frame: pd.DataFrame) -> str | None:
    """The first column named for a record's number after any word (ID_SUFFIX: kunden_nr, client_no) that is
    filled and unique in every row and holds no contact data: the id, where no English id word names one."""
    return next(
        (
            str(c)
            for c in frame.columns
            if ID_SUFFIX.search(header_words(str(c)))
            and frame[c].nunique() == len(frame)
            and not contact_data(str(c), texts(frame[c]))
        ),
        None,
    )


def history_columns(frame: pd.DataFrame, id_col: str | None = None) -> tuple[str, str] | None:
    """(id column, valid-from column) of a people file with several rows per person: the given id column, or
    an id-like one (named so, else a text column repeating on a few rows each whose rows agree as a person's
    versions do), that repeats, and a date column that tells its rows apart (one named for a version's
    start first, then any); None otherwise. Why by values too: an id and a date are named in any language."""
    if id_col is not None and id_col in frame.columns:
        named, by_values = [id_col], []
    else:
        named = [
            str(c) for c in frame.columns if ID_HINTS.search(c.lower()) or ID_SUFFIX.search(header_words(c))
        ]
        by_values = [c for c in repeating_texts(frame) if c not in named]
    dates = sorted(
        (str(c) for c in frame.columns if infer_type(frame[c]) == "date"),
        key=lambda c: HISTORY_HINTS.search(c.lower()) is None,
    )  # stable: file order otherwise
    for i in [c for c in named if frame[c].nunique() < len(frame)] + by_values:
        for d in dates:
            if d != i and not frame.duplicated([i, d]).any() and (i in named or versions_agree(frame, i, d)):
                return i, d
    return None


PEOPLE_IDS, VERSIONS = 30, 10
"""A text column is a person's id by its values where it holds more than PEOPLE_IDS values (more than a
category) and at most VERSIONS rows per value on average (a few versions of each person)."""


def repeating_texts(frame: pd.DataFrame) -> list[str]:
    """The text columns filled in every row whose values repeat on a few rows each (PEOPLE_IDS, VERSIONS),
    contact data aside, the most values first: candidates for the id of a file of profile versions."""
    n, found = len(frame), []
    for col in frame.columns:
        filled = texts(frame[col])
        values = filled.nunique()
        if (
            len(filled) == n
            and PEOPLE_IDS < values < n
            and n <= VERSIONS * values
            and infer_type(frame[col]) == "categorical"
            and not contact_data(str(col), filled)
        ):
            found.append((-values, str(col)))
    return [c for _, c in sorted(found, key=lambda f: f[0])]


def versions_agree(frame: pd.DataFrame, key: str, date: str) -> bool:
    """Whether the rows sharing a value of `key` agree on most (half) of the other columns, as one person's
    versions do (a sign-up date, a sex kept; an income changed), unlike namesakes or people sharing a device."""
    others = [c for c in frame.columns if c not in (key, date)]
    repeated = frame[frame[key].duplicated(keep=False)]
    if not others or repeated.empty:
        return False
    return bool(repeated.groupby(key)[others].nunique(dropna=False).le(1).to_numpy().mean() >= 0.5)


def link_columns(
    frame: pd.DataFrame, id_col: str | None, skip: Iterable[str | None]
) -> tuple[list[str], list[str]]:
    """Columns of a people file that link people rather than describe them: (from_people, groups). A link
    column is named like one (LINK_HINTS) and most of its values are ids of the file's people; a group
    column is named like something shared (GROUP_HINTS), some of its values repeat, and it has many distinct
    values (households, not a yes/no 'telephone')."""
    ids = set(frame[id_col].dropna().astype(str)) if id_col else set()
    linked, grouped = [], []
    for col in frame.columns:
        if col in (id_col, *skip):
            continue
        words, values = header_words(col), frame[col].dropna().astype(str).str.strip()
        values = values[values != ""]
        if not len(values):
            continue
        if ids and LINK_HINTS.search(words) and values.isin(ids).mean() >= 0.9:
            linked.append(col)
        elif (
            GROUP_HINTS.search(words)
            and infer_type(frame[col]) == "categorical"
            and values.duplicated().any()
            and values.nunique() >= max(3, 0.05 * len(values))
        ):  # many small groups, not a yes/no attribute
            grouped.append(col)
    return linked, grouped
