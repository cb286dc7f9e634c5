"""Spreadsheets (.xlsx) read as a table of text, so a modeller's workbook is checked like a CSV export.

`book.xlsx` is its first sheet; `book.xlsx#rentals` the sheet named rentals, so one workbook can hold
every table. A sheet's header is its first row with two or more cells filled in and at least three
quarters as many as the widest of its first rows; rows above it (a title, a title with "exported on ..." beside it, a
blank line) are not read, as a report sheet often starts so. Every cell becomes the text DeepCredit's validation parses anyway: a number as Python writes it (a
whole number without ".0"), a date or time in ISO 8601, a boolean as true/false, a formula as the value
Excel last computed. Data rows are never skipped (blank ones included; only trailing blank rows are
dropped), so row N of the data is row N + H of the sheet, H the header's row, and errors can name it.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from deepcredit.data.errors import SPREADSHEET_SUFFIXES, DataValidationError
from deepcredit.data.headers import column_names


def split_sheet(path: Path) -> tuple[Path, str | None]:
    """(the workbook file, the sheet named after '#' or None) of a spreadsheet source."""
    name = Path(path).name
    book, sep, sheet = name.partition("#")
    if sep and Path(book).suffix.lower() in SPREADSHEET_SUFFIXES:
        return Path(path).with_name(book), sheet
    return Path(path), None


def is_spreadsheet(path: Path) -> bool:
    return split_sheet(path)[0].suffix.lower() in SPREADSHEET_SUFFIXES


def source_exists(path: Path) -> bool:
    """Whether a table's source is there: a file or directory, or the workbook holding the named sheet."""
    return split_sheet(path)[0].exists()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip() if isinstance(value, str) else str(value)


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheets, in order (a damaged workbook: none; reading it says why)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(split_sheet(path)[0], read_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return []
    try:
        return list(book.sheetnames)
    finally:
        book.close()


TITLE_ROWS = 20
"""At most this many rows above a sheet's header (a title, notes, blank lines) are passed over."""


def _filled(values: Sequence[object]) -> int:
    return sum(v is not None and _text(v) != "" for v in values)


def _header(rows: Iterator[Sequence[object]], name: str
            ) -> tuple[int, Sequence[object], Iterator[Sequence[object]]]:
    """(sheet row, cells, the rows after it) of the header: the first row with two or more cells filled in
    and at least three quarters as many as the widest of the first rows (no data row is wider than its
    header), past the rows above it (a title, a title
    with a date beside it, notes); a sheet whose first rows all hold one cell or none has its first
    non-empty row."""
    head = list(itertools.islice(rows, TITLE_ROWS + 5))
    widest = max((_filled(v) for v in head), default=0)
    pick = next((i for i, v in enumerate(head[:TITLE_ROWS]) if (n := _filled(v)) >= 2 and 4 * n >= 3 * widest), None)
    if pick is None:
        pick = next((i for i, v in enumerate(head[:TITLE_ROWS]) if _filled(v)), None)
    if pick is None:
        raise DataValidationError(name, f"the sheet's first {TITLE_ROWS} rows are empty: its header row must "
                                        "hold the column names")
    return pick + 1, head[pick], itertools.chain(head[pick + 1:], rows)


def _open(path: Path):
    from openpyxl import load_workbook  # a spreadsheet is the exception: the import stays off the CSV path

    name = str(path)
    book_path, sheet = split_sheet(path)
    if not book_path.is_file():
        raise DataValidationError(name, "file not found")
    try:
        book = load_workbook(book_path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataValidationError(name, f"not a readable .xlsx workbook ({exc.__class__.__name__}): save it "
                                        "again from the spreadsheet as .xlsx, or export the sheet as CSV") from None
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        raise DataValidationError(name, f"the workbook has no sheet {sheet!r} (its sheets: "
                                        f"{', '.join(book.sheetnames)})")
    return book, (book[sheet] if sheet is not None else book.worksheets[0])


def header_row(path: Path) -> int:
    """The sheet row of a sheet's header (1 unless a title stands above it): what a data row adds to
    become its sheet row."""
    book_path = split_sheet(path)[0]
    return _header_row(str(path), book_path.stat().st_mtime_ns if book_path.is_file() else 0)


@functools.lru_cache(maxsize=64)
def _header_row(path: str, _mtime_ns: int) -> int:
    book, ws = _open(Path(path))
    try:
        return _header(ws.iter_rows(values_only=True), path)[0]
    finally:
        book.close()


def read_sheet(path: Path, nrows: int | None = None) -> pd.DataFrame:
    """A sheet (the first, or the one named after '#') as text columns named by its header row; raises
    DataValidationError on a bad file or an unknown sheet."""
    name = str(path)
    book, ws = _open(Path(path))
    try:
        at, header, rows = _header(ws.iter_rows(values_only=True), name)
        cells = [_text(v) for v in header]
        while cells and not cells[-1].strip():  # cells right of the header that were once touched
            cells.pop()
        names = column_names(cells)
        data: list[list[str]] = []
        for row, values in enumerate(rows, start=1):
            if nrows is not None and len(data) >= nrows:
                break
            beyond = next((i for i, v in enumerate(values[len(names):], len(names) + 1) if v is not None), None)
            if beyond is not None:
                raise DataValidationError(name, f"the row has a value in column {beyond} of the sheet, which has no "
                                                "header", row, None, at)
            data.append([_text(v) for v in values[:len(names)]] + [""] * (len(names) - len(values)))
    finally:
        book.close()
    while data and not any(data[-1]):  # a sheet's used range often ends in empty rows
        data.pop()
    frame = pd.DataFrame(data, columns=names, dtype=object) if data else pd.DataFrame(
        {n: pd.Series([], dtype=object) for n in names})
    frame.attrs["header_row"] = at
    return frame
