"""The draft's [[profile.attributes]] tables: each column's type, role, unit, values, dimension, texts
and whether it looks protected (a birth date by its values), with a check or TODO on every guess; a series
of columns (pay_amt1 ... pay_amt6) is pointed out as a history written across columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from deepcredit.data.contact import texts
from deepcredit.data.draft.aliases import aliases_line, spelling_groups
from deepcredit.data.draft.sample import PLACEHOLDER, infer_type
from deepcredit.data.draft.words import (
    COUNT_HINTS,
    POSTCODE_HINTS,
    PROTECTED_HINTS,
    description_of,
    dimension_of,
    header_text,
    header_words,
    leading_zeros,
    number_in_text,
    special_codes,
    unit_of,
)
from deepcredit.data.headers import header_name
from deepcredit.data.spec_base import IDENTIFIER, sql_safe
from deepcredit.data.validate import toml_string

SERIES = re.compile(r"^(.*?[A-Za-z])_?(\d{1,2})$")


def never_negative(values: pd.Series) -> bool:
    """Whether a numeric column's sample has numbers and none of them below 0 (an age, an amount, a count):
    a draft proposes min = 0 for it."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(numbers)) and bool((numbers >= 0).all())


ROLE_HINTS = {  # role: (words in the header, the type it needs, the description it gets)
    "joined_at": (
        r"join|signup|sign_up|registered|member_since|customer_since|opened|onboard",
        "date",
        "how long you have been a customer",
    ),
    "income": (r"income|salary|earning|wage", "numeric", None),
    "credit_line": (r"credit_?line|credit_?limit|limit_?bal|spending_?limit", "numeric", None),
}


def column_series(columns: Iterable[str]) -> list[list[str]]:
    """Groups of three or more columns that differ only in a trailing number (pay_amt1 ... pay_amt6): most
    likely one history written across columns, one per period."""
    groups: dict[str, list[str]] = {}
    for col in columns:
        if (m := SERIES.match(col)) is not None and not PLACEHOLDER.match(col):
            groups.setdefault(m[1].lower(), []).append(col)
    return [cols for cols in groups.values() if len(cols) >= 3]


def attribute_lines(
    frame: pd.DataFrame, skip: Iterable[str | None], section: str = "profile", label_found: bool = True
) -> list[str]:
    """An [[section.attributes]] table for each column not skipped; `label_found`: whether the draft placed the
    label, else a rare value's two-valued column is asked about as the label."""
    out: list[str] = []
    roles: dict[str, str] = {}  # a role is given to one attribute at most (the first whose header fits)
    names: set[str] = set()  # two headers may give one name (größe, grösse): the second gets _2
    born_before = latest_date(frame)
    series = {cols[0]: cols for cols in column_series(c for c in frame.columns if c not in set(skip))}
    for col in frame.columns:
        if col in set(skip):
            continue
        if col in series:
            out += _series_note(series[col])
        values, words = frame[col], header_words(col)
        kind, zeros, code, written = _drafted_type(values, words)
        attr = unique_name(sql_safe(header_name(col) if not re.match(IDENTIFIER, col) else col), names)
        out += ["", f"[[{section}.attributes]]", f"name = {toml_string(attr)}"]
        if attr != col:
            out.append(f"column = {toml_string(col)}")
        said = (
            "written with leading zeros (007): a code, never a quantity, so a category"
            if zeros
            else "a postcode names a place, never a quantity, so a category (or a coarser region: its first digits)"
        )
        out.append(f"type = {toml_string(kind)}" + (f"  # check: {said}" if code else ""))
        if not label_found and (rare := rare_of_two(values)):
            out.append(
                f"# check: is this the label? two values, {rare[0]!r} in {rare[1]:.0%} of rows (as a default "
                'is): if so, name it under [outcomes] (source = "people") and drop this attribute'
            )
        if written:
            out.append(f"number_in_text = true  # check: {toml_string(written[0])} is read as its number")
        role = next(
            (
                r
                for r, (hint, needs, _) in ROLE_HINTS.items()
                if r not in roles
                and kind == needs
                and re.search(hint, words)
                and not COUNT_HINTS.search(words)
            ),
            None,
        )
        if role:
            roles[role] = col
            out.append(f"role = {toml_string(role)}  # check: what the capacity templates read it as")
        out += _value_lines(values, words, kind, code, written)
        out += _text_lines(col, words, kind, role)
        born = born_before[col] if kind == "date" and born_before is not None else None
        out += _protected_lines(values, words, born)
    return out


def _series_note(cols: list[str]) -> list[str]:
    """What the draft says before the first of a column_series: one history written across columns."""
    return [
        "",
        f"# check: {cols[0]} ... {cols[-1]} ({len(cols)} columns) look like one history written across",
        "# columns, one per period. Declared as attributes, each is a feature of its own and no fulfilment",
        "# or sequence feature sees them; written as one row per event they become a history (see",
        "# 'A history written across columns' in docs/bring-your-own-data.md).",
    ]


def _drafted_type(values: pd.Series, words: str) -> tuple[str, bool, bool, tuple[str, str] | None]:
    """(the type drafted, whether written with leading zeros, whether a code (those, or a postcode), the number
    written in text and what is around it (number_in_text) or None): infer_type's guess, where a code is a
    category and a number written in text a number."""
    kind = infer_type(values)
    zeros = leading_zeros(values)  # infer_type's rule: codes (007), drafted categorical
    code = zeros or POSTCODE_HINTS.search(words) is not None and kind in ("numeric", "categorical")
    written = number_in_text(values) if kind == "categorical" and not code else None
    return "categorical" if code else "numeric" if written else kind, zeros, code, written


def _value_lines(
    values: pd.Series, words: str, kind: str, code: bool, written: tuple[str, str] | None
) -> list[str]:
    """What an attribute's values suggest: special codes, min = 0 and a unit for a number; the values and the
    spellings of one value (aliases) for a category."""
    out = []
    if kind == "numeric" and (codes := special_codes(values)):
        listed = ", ".join(f'{toml_string(c)} = "TODO"' for c in codes)
        out.append(
            f"# special = {{ {listed} }}  # check: {', '.join(codes)} "
            f"{'stands' if len(codes) == 1 else 'stand'} apart from the other values: codes, not "
            "quantities? Say what each means and keep the line"
        )
    if kind == "numeric" and not written and never_negative(values):
        out.append("min = 0  # check: no value in the sample is negative; one below 0 is refused at its row")
    around = written[1] if written else ""
    if kind == "numeric" and (unit := around if around == "%" or around.isalpha() else unit_of(words)):
        out.append(f"unit = {toml_string(unit)}  # check: what a reason shows after the value")
    if kind == "categorical" and values.nunique() <= 12 and not code:
        listed = ", ".join(toml_string(str(v)) for v in sorted(values.dropna().unique()))
        out.append(f'# values: {listed} (ordered? make it type = "ordinal" with order = [...])')
    if kind == "categorical":
        out += aliases_line(spelling_groups(values))
    return out


def _text_lines(col: str, words: str, kind: str, role: str | None) -> list[str]:
    """An attribute's dimension (guessed from its name), description (its role's, else from its header) and
    the improve text for the user to write."""
    dim = dimension_of(words)
    out = [
        f"dimension = {toml_string(dim)}  # check: guessed from the name"
        if dim
        else 'dimension = "identity"  # TODO: choose the dimension this attribute speaks to'
    ]
    text = (ROLE_HINTS[role][2] if role else None) or description_of(header_text(col), kind)
    out += [f"description = {toml_string(text)}", 'improve = ""']
    if kind == "categorical":
        out.append(
            "# improve_towards = []  # with an improve text: the values it moves a person towards (a "
            "person already in one is not told it)"
        )
    return out


def _protected_lines(values: pd.Series, words: str, born_before: pd.Timestamp | None) -> list[str]:
    """protected = true for an attribute named like a protected one, or a date column (`born_before`: the
    file's latest other date) whose dates read as birth dates; none otherwise."""
    if PROTECTED_HINTS.search(words):
        return [
            "protected = true  # looks like a protected attribute: audited, never a model input",
            "actionable = false",
        ]
    if born_before is not None and birth_date_like(values, born_before):
        return [
            "protected = true  # looks like a birth date (its dates lie 16 to 100 years before the file's "
            "latest date): age is protected, audited, never a model input",
            "actionable = false",
        ]
    return []


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3` ... where an earlier attribute took it; recorded as taken."""
    out = (
        name
        if name not in taken
        else next(f"{name}_{i}" for i in range(2, len(taken) + 3) if f"{name}_{i}" not in taken)
    )
    taken.add(out)
    return out


def latest_date(frame: pd.DataFrame) -> dict[str, pd.Timestamp] | None:
    """For each column, the latest date of the file's other date columns (when the file was written, about),
    or today where it has no other: what a birth date's age is counted to."""
    dates = {
        str(c): pd.to_datetime(texts(frame[c]), errors="coerce", format="ISO8601", utc=True).max()
        for c in frame.columns
        if infer_type(frame[c]) == "date"
    }
    if not dates:
        return None
    today = pd.Timestamp.now(tz="UTC")
    return {
        c: max((d for other, d in dates.items() if other != c and pd.notna(d)), default=today) for c in dates
    }


BIRTH_YEARS = (16, 100)
"""A date column whose dates nearly all lie this many years before the file's latest date reads as a birth date."""


def birth_date_like(values: pd.Series, latest: pd.Timestamp) -> bool:
    """Whether nearly all (95 %) of a date column's dates lie 16 to 100 years before `latest`: a birth date,
    so an age (protected), whatever the header calls it (geburtsdatum, dob)."""
    dates = pd.to_datetime(texts(values), errors="coerce", format="ISO8601", utc=True).dropna()
    if dates.empty:
        return False
    years = (latest - dates).dt.days / 365.25
    return bool(((years >= BIRTH_YEARS[0]) & (years <= BIRTH_YEARS[1])).mean() >= 0.95)


LABEL_RATE = 0.25
"""A two-valued column whose rarer value holds at most this share of rows is asked about as a label."""


def rare_of_two(values: pd.Series) -> tuple[str, float] | None:
    """(the rarer value, its share of filled rows) of a two-valued column whose rarer value is rare (LABEL_RATE),
    as a default is among loans; else None."""
    counts = texts(values).value_counts()
    if len(counts) != 2 or counts.iloc[1] / counts.sum() > LABEL_RATE:
        return None
    return str(counts.index[1]), float(counts.iloc[1] / counts.sum())
