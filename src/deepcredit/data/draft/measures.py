"""The other columns a history's rows record, drafted as measures: numbers (a balance) and categories (a
channel, a trade code, hashed into buckets where many), and the tests telling them from ids and documents'
numbers.
"""

from __future__ import annotations

import re

import pandas as pd

from deepcredit.data.draft.aliases import aliases_line, spelling_groups
from deepcredit.data.draft.sample import PLACEHOLDER, distinct_texts
from deepcredit.data.draft.words import ID_HINTS, header_words
from deepcredit.data.spec_base import identifier, sql_safe
from deepcredit.data.spec_events import MEASURE_RESERVED
from deepcredit.data.validate import toml_string

MAX_DECLARED_VALUES = 8
"""A category of at most this many values gets every value declared in the draft (each one's share a feature,
and a channel of the sequence members); more: one commented example, for the user to choose the values that
matter, and `buckets`, through which the sequence members learn every value."""


DOCUMENT_NUMBER = re.compile(r"(^|_)(no|nr|num|number|ref|code|zip|postcode|seq|sequence|version)$")
"""A numeric column named so numbers a document or a place (order_no, zip): no measure."""


def measure_like(column: str, values: pd.Series) -> bool:
    """Whether a numeric column of a history file is a quantity each row records (a balance), not an id,
    a document's number (order_no; whole numbers rising row by row) or a column the draft named itself."""
    if not named_as_data(column):
        return False
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return not (
        len(numbers) > 2
        and (numbers == numbers.round()).all()
        and numbers.is_monotonic_increasing
        and numbers.is_unique
    )


MAX_CATEGORIES = 30
"""A text column of a history file with at most this many values (in the sample) is proposed as a category
each row records (a channel, a trade); more is a free text or an id, unless its values repeat (ROWS_PER_VALUE)."""
MAX_HASHED_VALUES, ROWS_PER_VALUE = 2000, 20
"""A text column of more values is still a category (a merchant's trade code) where it has at most
MAX_HASHED_VALUES of them and at least ROWS_PER_VALUE rows per value: the draft gives it `buckets`."""


def category_like(column: str, values: pd.Series) -> bool:
    """Whether a text column of a history file is a category each row records, not an id or a free text."""
    found = len(distinct_texts(values))
    if not named_as_data(column) or found < 2:
        return False
    rows = int(values.dropna().astype(str).str.strip().ne("").sum())
    return found <= MAX_CATEGORIES or (found <= MAX_HASHED_VALUES and rows >= ROWS_PER_VALUE * found)


def named_as_data(column: str) -> bool:
    """Whether a column's name leaves it a value each row records: not an id, a document's number (order_no)
    or a name the draft gave a column without one (column_N)."""
    words = header_words(column)
    return not (ID_HINTS.search(words) or DOCUMENT_NUMBER.search(words) or PLACEHOLDER.match(column))


def suggested_buckets(values: int) -> int:
    """Hash buckets for a category of this many values: a power of two at least twice as many, so that most
    values keep a bucket of their own (16 at least)."""
    return max(16, 1 << (2 * values - 1).bit_length())


def category_lines(section: str, columns: dict[str, pd.Series]) -> list[str]:
    """A categorical [[section.measures]] table for each other category the rows record: its latest value
    becomes a feature, and the share of each value declared under `values` (every value, where few)."""
    out = (
        [
            "",
            "# Categories each row records: the latest becomes a feature; each value declared under `values`",
            "# becomes a share feature, with its words and risk direction (1: more of it, more risk; -1: less;",
            "# 0: not known), and a channel of the sequence members. Move a column that means nothing to ignore.",
        ]
        if columns
        else []
    )
    for col, values in columns.items():
        groups = spelling_groups(values)
        merged = {v for others in groups.values() for v in others}
        found, name = [v for v in distinct_texts(values) if v not in merged], measure_name(col)
        words = name.replace("_", " ")
        out += [
            *measure_head(section, col),
            'type = "categorical"',
            'dimension = "behaviour_preferences"  # check',
            f"description = {toml_string('your ' + words)}",
            *aliases_line(groups),
        ]
        labels = [f"{name}_{identifier(v)}" for v in found]  # named apart from the shares of other measures
        if len(found) <= MAX_DECLARED_VALUES and len(set(labels)) == len(labels):
            out.append(
                "# check each value's words and risk_direction; drop a value whose share means nothing"
            )
            out += [
                f"values.{toml_string(v)} = {{ label = {toml_string(label)}, description = "
                f"{toml_string(f'how often your {words} is {v}')}, risk_direction = 0 }}"
                for v, label in zip(found, labels, strict=True)
            ]
        else:
            seen, example = found[:3], found[0]  # a category-like column holds 2 values or more
            out += [
                f"# values seen: {', '.join(map(toml_string, seen))}{', ...' if len(found) > 3 else ''}; "
                "declare those that matter, for example:",
                f'# values = {{ {toml_string(example)} = {{ description = "how often ...", risk_direction = 0 }} }}',
                f"buckets = {suggested_buckets(len(found))}  # every value hashed into one of this many buckets, "
                "each learned by the sequence members",
            ]
        out.append("")
    return out


def measure_lines(section: str, columns: list[str]) -> list[str]:
    """A [[section.measures]] table for each other number the rows record (a balance after the row, the
    credit in use): its latest value, level and trend become features."""
    out = (
        [
            "",
            "# Other numbers each row records: their latest value, level and trend become features. Check each;",
            "# move one that means nothing (a code, a number of a document) to ignore.",
        ]
        if columns
        else []
    )
    for col in columns:
        out += [
            *measure_head(section, col),
            'dimension = "fulfilment_capacity"  # check',
            f"description = {toml_string('your ' + measure_name(col).replace('_', ' '))}",
            "risk_direction = 0  # +1 if a higher value is riskier, -1 if safer",
            "",
        ]
    return out


def measure_name(column: str) -> str:
    """The name a history file's column is stored under as a measure (never one of the events table's own,
    nor a word SQL reserves)."""
    name = identifier(column)
    return f"{name}_value" if name in MEASURE_RESERVED else sql_safe(name)


def measure_head(section: str, column: str) -> list[str]:
    """The first lines of a column's [[section.measures]] table: its name, and its header where that differs."""
    name = measure_name(column)
    return [
        f"[[{section}.measures]]",
        f"name = {toml_string(name)}",
        *([f"column = {toml_string(column)}"] if name != column else []),
    ]
