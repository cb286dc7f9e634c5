"""Read a sample of a file for the draft, and what its columns hold: each one's type and its distinct values.

Why its own module: every section of a draft (people, events, relations, outcomes, lookups) starts from the
same sample, read as DeepCredit reads its own files (format_guess), and the same type guess; a kind or status
column's values come from the whole file instead, as a value a sample missed would make the ingest fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from deepcredit.data.draft.words import leading_zeros
from deepcredit.data.format_guess import (
    as_written_by_deepcredit,
    guess_encoding,
    guess_format,
    guess_layout,
    read_text,
)
from deepcredit.data.sheets import is_spreadsheet, read_sheet, source_exists
from deepcredit.data.validate import BOOLEAN_TEXT, DataValidationError, is_parquet

SAMPLE_ROWS = 20_000
BOOL_TEXT = {word for word in BOOLEAN_TEXT if word.isalpha()}  # 0/1 columns are drafted numeric


def sample(path: Path) -> pd.DataFrame:
    """The first rows of a file as text, numbers and dates rewritten in DeepCredit's form (see format_guess)."""
    path = Path(path)
    if not source_exists(path):
        raise DataValidationError(str(path), "file not found")
    try:
        if is_parquet(path):
            return pd.read_parquet(path).head(SAMPLE_ROWS).astype("string")
        if is_spreadsheet(path):
            return read_sheet(path, nrows=SAMPLE_ROWS)
        fmt = guess_format([path]).format
        return as_written_by_deepcredit(
            read_text(path, fmt.delimiter, fmt.encoding, nrows=SAMPLE_ROWS, header_line=fmt.header_line), fmt
        )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            str(path),
            f"cannot read a sample of the file ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})",
        ) from None


def infer_type(values: pd.Series) -> str:
    """The type a column's sample reads as: boolean (words only), numeric, date (ISO) or categorical."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return "categorical"
    if set(text.str.lower().unique()) <= BOOL_TEXT:
        return "boolean"
    if pd.to_numeric(text, errors="coerce").notna().all():
        return "categorical" if leading_zeros(text) else "numeric"  # codes (007) are not quantities
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)  # offsets may differ
    if dates.notna().all() and text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return "date"
    return "categorical"


PLACEHOLDER = re.compile(r"^column_\d+$")
"""The draft's own names for the columns of a file without a header line (format_guess.headerless_names)."""
MAX_VALUES = 200
"""A kind or status column lists at most this many values; more means it is not a vocabulary."""


def column_types(frame: pd.DataFrame) -> dict[str, str]:
    """{column: infer_type} of a sample, in file order."""
    return {c: infer_type(frame[c]) for c in frame.columns}


def vocabularies(path: Path, columns: list[str]) -> dict[str, list[str] | None]:
    """Every distinct value of each column in the whole file, read in one pass (a rare status missed by a
    sample would make the ingest fail); None for a column with too many values for a vocabulary."""
    if not columns:
        return {}
    if is_parquet(path):
        frame = pq.read_table(path, columns=columns).to_pandas()
    elif is_spreadsheet(path):
        frame = read_sheet(path)[columns]
    else:
        sep, header_line = guess_layout(path)
        frame = read_text(path, sep, guess_encoding(path), usecols=columns, header_line=header_line)
    out: dict[str, list[str] | None] = {}
    for c in columns:
        found = distinct_texts(frame[c])
        out[c] = found if len(found) <= MAX_VALUES else None
    return out


def distinct_texts(values: pd.Series) -> list[str]:
    """The distinct non-blank texts of a column, sorted."""
    return sorted(v for v in values.dropna().astype(str).str.strip().unique() if v)
