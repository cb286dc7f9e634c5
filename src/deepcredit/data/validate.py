"""Validation of the four tables: every bad input gets one clear error naming file, row and column.

CSV files are parsed strictly by pyarrow, every cell as text: a row with too many or too few cells is an
error (pandas' chunked reader silently pads or cuts such rows). Parquet files are read batch by batch and
their column types checked first. Each chunk is coerced to the canonical types of its TableSpec with
vectorised checks, and the first offending row is reported. Rows are data rows counted from 1; for CSV the
physical line is added, found by re-reading the file only once an error is raised, so blank lines and
multi-line cells cannot shift it. Cross-table checks (unknown people, duplicate keys) run after all tables
are read. Nothing is written here: callers write only after every table passed.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from deepcredit.data.compressed import open_bytes, open_text
from deepcredit.data.contact import holds_contact
from deepcredit.data.errors import DataValidationError
from deepcredit.data.headers import column_names, unnamed_note
from deepcredit.data.jsonlines import is_json_lines, json_columns, json_text_chunks
from deepcredit.data.parts import PARQUET_SUFFIXES, holds_parquet, table_parts
from deepcredit.data.schema import Column, ColumnType, TableSpec
from deepcredit.data.sheets import header_row, is_spreadsheet, read_sheet, source_exists

CHUNK_ROWS = 500_000
"""Rows per Parquet batch."""
CSV_BLOCK_BYTES = 16 << 20
"""Bytes of CSV parsed at a time; one row may not be longer than this."""

_NAN_TEXT = frozenset({"nan", "+nan", "-nan"})
_TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_TIMESTAMP_HINT = "expected an ISO 8601 date or time such as 2024-01-31 or 2024-01-31T12:30:00"
DATE_FORMAT_HINT = ("written another way? declare it in the data-set spec as date_format under [format], such as "
                    "date_format = \"%d.%m.%Y\" for 31.07.1980")
DIGIT_DATES = {"%Y%m%d": 8, "%Y%m": 6, "%y%m%d": 6}
"""Dates written as bare digits (19930705, 201203 for a month, 930705: bank and mainframe exports) and how many
digits each form writes; of two forms a value fits, the first is the likelier (spec draft)."""
_INT_LIMIT = 2.0**53  # whole numbers beyond this are not exact in float64
NUMBER_LIMIT = float(np.finfo(np.float32).max)
"""The largest magnitude a number may have (about 3.4e38): the models compute in float32 (the scorecard's
binning, the networks), where a larger number is infinite, so it would pass ingest and fail training with
no row to look at. No credit amount, income or count comes near it; a value beyond it is a unit or export
error (or a placeholder such as 1e300)."""
TOO_LARGE = (f"is too large: numbers must lie within ±{NUMBER_LIMIT:.1e}, the largest the models can hold "
             "(a placeholder or an export error? leave the cell empty where a value is unknown)")


def too_large(num: np.ndarray) -> np.ndarray:
    """Which finite numbers lie beyond NUMBER_LIMIT."""
    num = np.asarray(num, dtype="float64")
    with np.errstate(invalid="ignore"):
        return np.isfinite(num) & (np.abs(num) > NUMBER_LIMIT)
_EXPECTED = {
    ColumnType.STRING: "text",
    ColumnType.INT: "whole numbers",
    ColumnType.FLOAT: "numbers",
    ColumnType.BOOL: "true/false values",
    ColumnType.TIMESTAMP: "timestamps or dates (or ISO 8601 text)",
}
_NULLABLE = {t: pd.Int64Dtype() for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64(),
                                          pa.uint8(), pa.uint16(), pa.uint32())}
_TEXT = pd.StringDtype("pyarrow")  # text stays in Arrow: strip, compare and match run in C++
_NULLABLE[pa.bool_()] = pd.BooleanDtype()
_NULLABLE[pa.string()] = _NULLABLE[pa.large_string()] = _TEXT
BOOLEAN_TEXT = {"true": True, "t": True, "yes": True, "y": True, "1": True, "1.0": True,
                "false": False, "f": False, "no": False, "n": False, "0": False, "0.0": False}
"""Boolean values written as text (compared lower-case), as spreadsheets and databases export them."""


def _holds(test: pd.Series) -> pd.Series:
    """A text test's result with missing values as False."""
    return test.fillna(False).astype(bool)


@dataclass(frozen=True)
class FileFormat:
    """How a data set's files write their values (the spec's [format]): a user's export need not be rewritten.

    delimiter: the CSV separator (Parquet has none). decimal: the decimal mark of numbers written as text.
    thousands: the mark between groups of three digits, where numbers have one (1,234.50 or 1.234,50); a
    number that uses it must group every three digits, so 1,5 is never read as fifteen. Any other mark in a
    number is refused, never guessed. date_format: a strptime form (such as %d/%m/%Y) for dates written as
    text; ISO 8601 is read as well, being unambiguous. timezone: the zone whose wall-clock times the data
    set keeps (an IANA name): a time with an offset is converted to it, so a day starts at the user's
    midnight; without one, to UTC. Times without an offset are taken as written. missing: texts that mean
    "no value" in any column (NA, ?, -), read as empty cells. encoding: how CSV text is encoded (UTF-8,
    or what a spreadsheet in a Windows locale saves: cp1252). days_from: an ISO date; a number in a date
    column is that many days from it (credit data written relative to each application).
    """

    delimiter: str = ","
    decimal: str = "."
    date_format: str | None = None
    thousands: str | None = None
    timezone: str | None = None
    missing: tuple[str, ...] = ()
    encoding: str = "utf-8"
    days_from: str | None = None
    month_columns: tuple[str, ...] = ()
    header_line: int = 1
    """The CSV line holding the column names: the lines above it (a title, an export's date, Excel's sep=;)
    are not read."""
    names: tuple[str, ...] = ()
    """The column names of a CSV file without a header line, in order (its first line is data row 1)."""

    @property
    def digit_width(self) -> int | None:
        """How many digits date_format writes where it is bare digits (8 for %Y%m%d, perhaps with a time
        after them), else None. Such a date must have exactly that many: strptime would read 93115 as a
        day of 1993 all the same, guessing which digits are the month."""
        return DIGIT_DATES.get(self.date_format.split(" ")[0]) if self.date_format else None

    def days_after_origin(self, days: pd.Series) -> pd.Series:
        """Numbers of days (fractions too) as times from days_from; out of the calendar: missing."""
        assert self.days_from is not None
        finite = days.where(days.abs() < 1e6)  # about 2,700 years either way: beyond, no calendar date
        return (pd.Timestamp(self.days_from) + pd.to_timedelta(finite.astype("float64"), unit="D")
                ).astype("datetime64[us]")

    def months_after_origin(self, months: pd.Series) -> pd.Series:
        """Whole numbers of months as the same day of the month that many months from days_from (its last
        day where the month is shorter); a fraction or a number out of the calendar: missing."""
        assert self.days_from is not None
        origin = pd.Timestamp(self.days_from)
        whole = months.where((months % 1 == 0) & (months.abs() < 12_000))
        total = origin.year * 12 + origin.month - 1 + whole
        first = pd.to_datetime(pd.DataFrame({"year": total // 12, "month": total % 12 + 1, "day": 1}),
                               errors="coerce")
        day = np.minimum(origin.day, first.dt.days_in_month) - 1
        return (first + pd.to_timedelta(day, unit="D")).astype("datetime64[us]")

    def relative_dates(self, numbers: pd.Series, column: str) -> pd.Series:
        """Numbers in a date column as dates: months from days_from for month_columns, else days."""
        return self.months_after_origin(numbers) if column in self.month_columns \
            else self.days_after_origin(numbers)

    @property
    def text_encoding(self) -> str:
        """The encoding Python opens the file with (UTF-8 with or without a byte-order mark)."""
        return "utf-8-sig" if self.is_utf8 else self.encoding

    @property
    def is_utf8(self) -> bool:
        return codecs.lookup(self.encoding).name == "utf-8"

    def without_missing_markers(self, values: pd.Series) -> pd.Series:
        """The column with each declared missing-value marker (compared stripped) as an empty cell."""
        if not self.missing or not _is_text(values):
            return values
        return values.mask(_holds(values.astype(_TEXT).str.strip().isin(self.missing)))

    def wall_clock(self, times: pd.Series) -> pd.Series:
        """Offset-aware times as naive times in the data set's zone (UTC when it declares none)."""
        return times.dt.tz_convert(self.timezone).dt.tz_localize(None) if self.timezone \
            else times.dt.tz_convert(None)

    def numbers_as_python_reads_them(self, text: pd.Series) -> pd.Series:
        """Stripped number text in this format rewritten with a decimal point and no grouping; a value
        that breaks the format becomes missing (and so a bad value where the cell was not empty)."""
        if self.thousands:
            mark, dec = re.escape(self.thousands), re.escape(self.decimal)
            well = _holds(text.str.fullmatch(rf"[+-]?\d{{1,3}}(?:{mark}\d{{3}})+(?:{dec}\d+)?"))
            text = text.mask(_holds(text.str.contains(self.thousands, regex=False)) & ~well)
            text = text.str.replace(self.thousands, "", regex=False)
        if self.decimal != ".":
            text = text.mask(_holds(text.str.contains(".", regex=False))).str.replace(self.decimal, ".", regex=False)
        return text

    def number_hint(self) -> str:
        marks = [f"with {self.decimal!r} as the decimal mark"] if self.decimal != "." else []
        if self.thousands:
            marks.append(f"{self.thousands!r} between thousands")
        return ", " + " and ".join(marks) if marks else ""

    def marks_hint(self, value: object) -> str:
        """For a number that does not parse only because its marks are not the declared ones ('3174,37'
        with a decimal point declared): how to declare them (as the separator's error says how to declare a
        delimiter), else empty."""
        text = str(value).strip()
        declare = " declare it in the data-set spec as {} under [format]"
        if self.decimal == "." and self.thousands != "." and re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", text):
            return "; a decimal comma, with '.' between thousands?" + \
                declare.format('decimal = "," and thousands = "."')
        if self.decimal == "." and self.thousands != "," and re.fullmatch(r"[+-]?\d+,\d+", text):
            also = ' (or thousands = ",", where "," groups thousands)' if re.fullmatch(r"[+-]?\d{1,3},\d{3}", text) \
                else ""
            return "; a decimal comma?" + declare.format('decimal = ","') + also
        dec = re.escape(self.decimal)
        grouped = re.fullmatch(rf"[+-]?\d{{1,3}}([,.' \u00a0\u202f])\d{{3}}(?:\1\d{{3}})*(?:{dec}\d+)?", text)
        if not self.thousands and grouped and grouped[1] != self.decimal:  # 1,234.50 under a decimal point;
            mark = grouped[1]  # 1.234,50 or 1 234,50 under a decimal comma
            return f"; {mark!r} between thousands?" + declare.format(f"thousands = {json.dumps(mark)}")
        return ""

    def date_hint(self) -> str:
        """What a date that does not parse should have been, and, without a date_format, how to declare one
        (as the separator's error says how to declare a delimiter)."""
        days = f"a number of days from {self.days_from}, or " if self.days_from else ""
        return f"expected {days}the spec's date_format {self.date_format} or ISO 8601" if self.date_format \
            else f"expected {days}{_TIMESTAMP_HINT.removeprefix('expected ')}; {DATE_FORMAT_HINT}"


PLAIN = FileFormat()
"""Comma-separated, decimal point, ISO 8601 dates: DeepCredit's own files and a spec without [format]."""


@dataclass
class _Chunk:
    frame: pd.DataFrame
    first_row: int  # 1-based number of the chunk's first data row
    line_offset: int | None  # CSV: line = row + 1 (the header), made exact on error; Parquet: no lines
    nan: dict[str, np.ndarray] = field(default_factory=dict)  # Parquet float columns: true NaN, not null


# --- locating rows ---------------------------------------------------------------------------------

def is_parquet(path: Path) -> bool:
    """A table is Parquet if it is a .parquet file or a directory of Parquet parts; anything else is CSV
    (one file, or a directory of CSV parts)."""
    path = Path(path)
    return path.suffix.lower() in PARQUET_SUFFIXES or (path.is_dir() and holds_parquet(path))


def line_offset_for(path: Path) -> int | None:
    """What to add to a data row number to get its line: 1 (the header) for CSV, the header's row for a
    sheet, None for Parquet."""
    if is_spreadsheet(path):
        return header_row(path)  # 1 unless a title stands above the header
    if is_json_lines(path):
        return 0  # no header: row N is line N
    return None if is_parquet(path) else 1  # with lines above the header, with_exact_line counts them


def _csv_records(path: Path, fmt: FileFormat = PLAIN) -> Iterator[tuple[int, int, int]]:
    """(data row, first line, last line) of each CSV record, skipping empty lines as the parser does."""
    with open_text(path, fmt.text_encoding, errors="replace") as fh:
        for _ in range(fmt.header_line - 1):  # the lines above the header
            fh.readline()
        reader = csv.reader(fh, delimiter=fmt.delimiter)
        start, row = fmt.header_line, 0 if fmt.names else -1  # the header is record 0, where there is one
        for record in reader:
            if record:
                row += 1
                if row > 0:
                    yield row, start, fmt.header_line - 1 + reader.line_num
            start = fmt.header_line + reader.line_num


_EARLIER_ROW = re.compile(r"(first seen in|duplicate of) row (\d+)\b")
"""How a problem names another row of its table (check_unique, check_no_duplicate_rows)."""


def _part_rows(part: Path, fmt: FileFormat) -> int:
    """Data rows in one part file, counted as the reader counts them."""
    if is_parquet(part):
        return _open_parquet(part).metadata.num_rows
    return sum(1 for _ in _csv_records(part, fmt))


def _locate_in_parts(path: Path, row: int, fmt: FileFormat) -> tuple[Path, int] | None:
    """(part file, its own row) of row `row` of a table read from a directory of parts."""
    start = 0
    for part in table_parts(path):
        n = _part_rows(part, fmt)
        if row <= start + n:
            return part, row - start
        start += n
    return None


def _in_part(exc: DataValidationError, path: Path, fmt: FileFormat) -> DataValidationError:
    """An error at a row counted across a directory's parts, told at the part file and its own row; a problem
    that names another row of the table ("first seen in row N") names that row's part too."""
    found = _locate_in_parts(path, exc.row or 0, fmt)
    if found is None:
        return exc
    part, row = found

    def other(m: re.Match) -> str:
        there = _locate_in_parts(path, int(m[2]), fmt)
        if there is None:
            return m[0]
        return f"{m[1]} row {there[1]}" + ("" if there[0] == part else f" of {there[0].name}")

    problem = _EARLIER_ROW.sub(other, exc.problem)
    return with_exact_line(DataValidationError(str(part), problem, row, exc.column, line_offset_for(part)), part, fmt)


def with_exact_line(exc: DataValidationError, path: Path, fmt: FileFormat = PLAIN) -> DataValidationError:
    """The same error with the CSV line re-counted from the file (blank lines, multi-line cells), and an
    error at a row of a table read from a directory told at its part file (parts.py)."""
    path = Path(path)
    if exc.row is not None and exc.file == str(path) and path.is_dir():
        try:
            return _in_part(exc, path, fmt)
        except (DataValidationError, csv.Error, OSError, pa.ArrowException):
            return exc
    if exc.row is None or exc.line_offset is None or is_parquet(path) or is_spreadsheet(path) \
            or is_json_lines(path) or not path.is_file():
        return exc
    try:
        line = next((first for row, first, _ in _csv_records(path, fmt) if row == exc.row), None)
    except (csv.Error, OSError):
        return exc
    if line is None or line - exc.row == exc.line_offset:
        return exc
    return DataValidationError(exc.file, exc.problem, exc.row, exc.column, line - exc.row)


def _row_at_line(path: Path, line: int, fmt: FileFormat) -> int | None:
    try:
        return next((row for row, first, last in _csv_records(path, fmt) if first <= line <= last), None)
    except (csv.Error, OSError):
        return None


def show_value(value: object, limit: int = 60) -> str:
    """A value as an error repeats it: shortened; never a text holding contact data (an e-mail address, a
    phone number), in any column."""
    text = value if isinstance(value, str) else str(value)
    if holds_contact(text):
        return not_shown("it holds contact data")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def not_shown(why: str) -> str:
    """How an error refers to a value it may not repeat, and why."""
    return f"the value (not shown: {why})"


def withheld(protected: bool) -> str:
    """How an error refers to a value it may not repeat (personal data: a protected attribute's or an id)."""
    return not_shown("a protected attribute" if protected else "an identifier")


def show_cell(value: object, col: Column) -> str:
    """A cell's value as an error repeats it: truncated, or, for personal data (a protected attribute or an
    identifier column), not at all; the error names the row and column, so the user can look it up."""
    return withheld(col.protected) if col.personal else show_value(value)


# --- reading ---------------------------------------------------------------------------------------

def _chunks(path: Path, spec: TableSpec, fmt: FileFormat) -> Iterator[_Chunk]:
    """Raw chunks of a CSV (all text) or Parquet table; at least one, empty for a header-only table."""
    if not source_exists(path):
        raise DataValidationError(str(path), "file not found")
    if is_spreadsheet(path):
        return _sheet_chunks(path, spec)
    if is_json_lines(path):
        return _json_chunks(path, spec, fmt)
    if is_parquet(path):
        return _parquet_chunks(path, spec, fmt)
    return _csv_parts_chunks(path, spec, fmt) if path.is_dir() else _csv_chunks(path, spec, fmt)


def _sheet_chunks(path: Path, spec: TableSpec) -> Iterator[_Chunk]:
    """A spreadsheet's sheet as one chunk of text (data/sheets.py): row N is the sheet's row N + H, H the
    header's sheet row."""
    frame = read_sheet(path)
    _check_header([str(c) for c in frame.columns], spec, str(path), PLAIN)
    yield _Chunk(frame, 1, frame.attrs["header_row"])


def _json_chunks(path: Path, spec: TableSpec, fmt: FileFormat) -> Iterator[_Chunk]:
    """A JSON Lines file as chunks of text (data/jsonlines.py): row N is line N."""
    columns = json_columns(path, fmt.text_encoding)
    _check_header(columns, spec, str(path), fmt)
    for first, frame in json_text_chunks(path, columns, CHUNK_ROWS, fmt.text_encoding):
        yield _Chunk(frame, first, 0)


def _looks_like_text(head: bytes, encoding: str = "utf-8") -> bool:
    """No NUL bytes and few undecodable or control characters in the first 4 KiB."""
    sample = head[:4096].decode(encoding, errors="replace")
    junk = sum(ch == "\ufffd" or (ch < " " and ch not in "\t\r\n") for ch in sample)
    return "\x00" not in sample and junk <= max(8, len(sample) // 20)


def _sniff_csv(head: bytes, name: str, fmt: FileFormat) -> None:
    """Refuse, with a useful message, files that are plainly not CSV text."""
    kinds = [
        (b"PAR1", "this is a Parquet file, not a CSV: give it a .parquet name"),
        (b"PK\x03\x04", "this is a ZIP archive (an Excel .xlsx workbook?), not a CSV: give it an .xlsx name, "
                         "or export it as CSV (UTF-8)"),
        (b"\xd0\xcf\x11\xe0", "this is an Excel .xls workbook, not a CSV: export it as CSV (UTF-8)"),
        (b"\x1f\x8b", "this file is gzip-compressed: name it .csv.gz to read it as it is, or decompress it"),
        (b"\xff\xfe", "this is UTF-16 text: save it as UTF-8 CSV"),
        (b"\xfe\xff", "this is UTF-16 text: save it as UTF-8 CSV"),
    ]
    for magic, problem in kinds:
        if head.startswith(magic):
            raise DataValidationError(name, problem)
    if not _looks_like_text(head, fmt.encoding):
        raise DataValidationError(name, "this is not a CSV text file: it contains binary data")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in (b"{", b"["):
        raise DataValidationError(name, "this looks like JSON, not CSV: export the table as comma-separated "
                                        "values with a header row")
    if start == b"<":
        raise DataValidationError(name, "this looks like HTML or XML, not CSV: export the table as "
                                        "comma-separated values with a header row")


def _encoding_error(path: Path, fmt: FileFormat) -> DataValidationError:
    """Point at the first line that is not UTF-8."""
    with open_bytes(path) as fh:
        for number, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex()
                problem = (f"the text is not UTF-8 (byte 0x{bad}): save the file as UTF-8, or declare its encoding "
                           'in the spec (encoding = "cp1252" under [format], for a Windows spreadsheet)')
                if number == 1:
                    return DataValidationError(str(path), f"line 1 (the header): {problem}")
                row = _row_at_line(path, number, fmt)
                if row is None:
                    return DataValidationError(str(path), f"line {number}: {problem}")
                return DataValidationError(str(path), problem, row, _column_of_bad_byte(path, fmt, raw), number - row)
    return DataValidationError(str(path), "the text is not UTF-8: save the file as UTF-8")


def _column_of_bad_byte(path: Path, fmt: FileFormat, raw: bytes) -> str | None:
    """The column whose cell, on this line of the file, holds bytes that are not UTF-8 (None where the line
    is not one whole row of the header's width, as in a cell running over several lines)."""
    try:
        header = list(fmt.names)
        if not header:
            with open_text(path, fmt.text_encoding, errors="replace") as fh:
                for _ in range(fmt.header_line - 1):  # the lines above the header
                    fh.readline()
                header = column_names(next(r for r in csv.reader(fh, delimiter=fmt.delimiter) if r))
        # Latin-1 maps each byte to one character, so the cells split as the bytes do
        cells = next(csv.reader([raw.decode("latin-1").rstrip("\r\n")], delimiter=fmt.delimiter))
    except (DataValidationError, csv.Error, OSError, StopIteration):
        return None
    if len(cells) != len(header):
        return None
    for name, cell in zip(header, cells, strict=True):
        try:
            cell.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return name
    return None


def _read_header(path: Path, fmt: FileFormat) -> list[str]:
    """The header cells exactly as written (the first non-empty record); for a file without a header line,
    the column names the spec gives, unless its first line is those names after all."""
    if fmt.names:
        first = _first_record(path, fmt)
        if first == list(fmt.names):
            raise DataValidationError(str(path), "line 1 is a header (it holds the names the spec gives under "
                                                 "header = [...]): leave header out of the spec")
        return list(fmt.names)
    return _first_record(path, fmt)


def _first_record(path: Path, fmt: FileFormat) -> list[str]:
    """The first non-empty CSV record at or after the header line, exactly as written."""
    try:
        with open_text(path, fmt.text_encoding) as fh:
            for _ in range(fmt.header_line - 1):  # the lines above the header
                fh.readline()
            for record in csv.reader(fh, delimiter=fmt.delimiter):
                if record:
                    return record
    except UnicodeDecodeError:
        raise _encoding_error(path, fmt) from None
    except csv.Error as exc:
        raise DataValidationError(str(path), f"the header row is not well-formed CSV ({exc})") from None
    raise DataValidationError(str(path), "the file is empty: expected a header row and data rows")


def separator_hint(header: list[str], delimiter: str) -> str:
    """When a header read as one cell holds another separator: how to declare it (else empty)."""
    sep = next((s for s in (";", "\t", "|", ",") if len(header) == 1 and s != delimiter and s in header[0]), None)
    if sep is None:
        return ""
    return (f"values seem to be separated by {sep!r}, not {delimiter!r}: declare it in the data-set spec "
            f"as delimiter = {toml_string(sep)} under [format]")


def encoding_hint(column: str, header: list[str], encoding: str) -> str:
    """When a declared column is missing only because the file's text was decoded with the wrong encoding
    (a UTF-8 'fällig_am' read as Latin-1 is 'fÃ¤llig_am'; a Latin-1 one read as UTF-8 is 'f\ufffdllig_am'):
    which encoding the file probably has (else empty)."""
    utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    for found in header:
        if utf8:  # a byte that is no UTF-8 was read as the replacement character, one per accented letter
            if "\ufffd" in found and found == re.sub(r"[^\x00-\x7f]", "\ufffd", column):
                return (f"{show_value(found, 40)} looks like {column!r} in another encoding: the file is probably not "
                        'UTF-8: declare its encoding in the spec (encoding = "cp1252" or "latin-1" under [format])')
            continue
        try:
            again = found.encode(encoding).decode("utf-8")
        except UnicodeError:
            continue
        if again == column != found:
            return (f"{show_value(found, 40)} is {column!r} written in UTF-8 and read as {encoding}: the file is "
                    f'probably UTF-8: declare encoding = "utf-8" under [format] (or leave encoding out)')
    return ""


def toml_string(text: str) -> str:
    """Text as a TOML basic string (a JSON string is one), for messages and drafts that say what to write."""
    return json.dumps(text, ensure_ascii=False)


def _check_header(header: list[str], spec: TableSpec, name: str, fmt: FileFormat) -> None:
    if not set(header) & set(spec.names):
        if hint := separator_hint(header, fmt.delimiter):
            raise DataValidationError(name, hint)
        shown = ", ".join(show_value(c, 30) for c in header[:5]) + (", ..." if len(header) > 5 else "")
        raise DataValidationError(name, f"the first line is not a header of the {spec.name} table: none of "
                                        f"its cells ({shown}) is one of its columns ({', '.join(spec.names)})")
    repeated = [c for c, n in Counter(header).items() if n > 1]
    if repeated:
        raise DataValidationError(name, "this column appears more than once in the header", column=repeated[0])


def _invalid_row_error(path: Path, bad: pcsv.InvalidRow, fmt: FileFormat) -> DataValidationError:
    header = 0 if fmt.names else 1  # the lines before data row 1
    row = bad.number - header if bad.number is not None and bad.number > header else None
    if bad.text.count('"') % 2:
        problem = "a quoted value starts in this row but its closing quote is missing"
    elif not bad.text.strip():
        problem = "the line holds only spaces: delete it or fill in the row"
    else:
        cells = f"{bad.actual_columns} cell" + ("s" if bad.actual_columns != 1 else "")
        named = "the spec's header names" if fmt.names else "the header has"
        problem = f"the row has {cells} but {named} {bad.expected_columns} columns"
        if bad.actual_columns > bad.expected_columns:
            sep = "a comma" if fmt.delimiter == "," else repr(fmt.delimiter)
            problem += f" (a value that contains {sep} must be in double quotes)"
    if row is None:
        return DataValidationError(str(path), f"{problem}: {show_value(bad.text)}")
    return with_exact_line(DataValidationError(str(path), problem, row, None, header), path, fmt)


def _csv_chunk(batch: pa.RecordBatch, header: list[str], first_row: int, fmt: FileFormat) -> _Chunk:
    frame = batch.to_pandas(types_mapper=_NULLABLE.get)
    frame.columns = header
    return _Chunk(frame, first_row, 0 if fmt.names else 1)


def _check_closing_quote(path: Path, last: pa.RecordBatch, row: int, fmt: FileFormat) -> None:
    """A quote left open runs to the end of the file, which the parser accepts as one long last cell."""
    cells = [last.column(i)[last.num_rows - 1].as_py() or "" for i in range(last.num_columns)]
    if not any("\n" in c or "\r" in c for c in cells):
        return
    try:
        with open_text(path, fmt.text_encoding, errors="replace") as fh:
            for _ in csv.reader(fh, strict=True, delimiter=fmt.delimiter):
                pass
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            return
        raise with_exact_line(DataValidationError(
            str(path), "a quoted value starts in this row but its closing quote is missing", row, None, 1),
            path, fmt) from None


def _csv_chunks(path: Path, spec: TableSpec, fmt: FileFormat) -> Iterator[_Chunk]:
    name = str(path)
    if path.stat().st_size == 0:
        raise DataValidationError(name, "the file is empty: expected a header row and data rows")
    with open_bytes(path) as fh:
        _sniff_csv(fh.read(1 << 16), name, fmt)
    raw = _read_header(path, fmt)
    header = column_names(raw)
    _check_header(header, spec, name, fmt)
    invalid: list[pcsv.InvalidRow] = []

    def on_invalid(row: pcsv.InvalidRow) -> str:
        invalid.append(row)
        return "error"

    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False,
                                          encoding="utf8" if fmt.is_utf8 else fmt.encoding,
                                          skip_rows=fmt.header_line - 1, column_names=list(fmt.names) or None),
            parse_options=pcsv.ParseOptions(delimiter=fmt.delimiter, newlines_in_values=True,
                                            invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in raw},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        if reader.schema.names != raw:
            raise DataValidationError(name, "the header row could not be read consistently: is it one line "
                                            "of comma-separated names?")
        row, last = 1, None
        for batch in reader:  # one batch behind, to check the end of the file before the last is used
            if not batch.num_rows:
                continue
            if last is not None:
                yield _csv_chunk(last, header, row, fmt)
                row += last.num_rows
            last = batch
        if last is None:
            yield _Chunk(pd.DataFrame({c: pd.Series([], dtype=object) for c in header}), 1, 1)
            return
        _check_closing_quote(path, last, row + last.num_rows - 1, fmt)
        yield _csv_chunk(last, header, row, fmt)
    except pa.ArrowInvalid as exc:
        if invalid:
            raise _invalid_row_error(path, invalid[0], fmt) from None
        if "Empty CSV file" in str(exc):  # a header without a line break after it
            yield _Chunk(pd.DataFrame({c: pd.Series([], dtype=object) for c in header}), 1, 1)
            return
        if "utf8" in str(exc).lower():
            raise _encoding_error(path, fmt) from None
        raise DataValidationError(name, f"not a well-formed CSV file ({exc})") from None


def _same_columns(part: Path, columns: list[str], first: Path, first_columns: list[str]) -> None:
    """Every part of a table has the first part's columns (in any order): a column missing from one part
    would otherwise leave its rows silently empty."""
    if set(columns) == set(first_columns):
        return
    missing = [c for c in first_columns if c not in columns]
    extra = [c for c in columns if c not in first_columns]
    said = ([f"lacks {', '.join(map(repr, missing))}"] if missing else []) + \
        ([f"has {', '.join(map(repr, extra))} besides"] if extra else [])
    raise DataValidationError(str(part), f"its columns differ from those of {first.name}, the table's first part "
                                         f"(it {' and '.join(said)}): every part of a table has the same columns")


def _csv_parts_chunks(path: Path, spec: TableSpec, fmt: FileFormat) -> Iterator[_Chunk]:
    """A directory of CSV parts as one table, rows numbered across the parts (with_exact_line locates them)."""
    parts = table_parts(path)
    first_columns = column_names(_read_header(parts[0], fmt))
    row = 1
    for part in parts:
        _same_columns(part, column_names(_read_header(part, fmt)), parts[0], first_columns)
        for chunk in _csv_chunks(part, spec, fmt):
            yield replace(chunk, first_row=chunk.first_row + row - 1)
            row += len(chunk.frame)


def _arrow_fits(t: pa.DataType, ctype: ColumnType) -> bool:
    """Whether a Parquet column of type t can hold values of ctype (text is always parsed)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t) or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return True
    number = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    return {
        ColumnType.STRING: pa.types.is_integer(t) or pa.types.is_boolean(t),  # a yes/no: "true", "false"
        ColumnType.INT: number,
        ColumnType.FLOAT: number,
        ColumnType.BOOL: pa.types.is_boolean(t) or pa.types.is_integer(t),
        ColumnType.TIMESTAMP: pa.types.is_timestamp(t) or pa.types.is_date(t),
    }[ctype]


def _open_parquet(f: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(f)
    except (pa.ArrowException, OSError) as exc:
        with open(f, "rb") as fh:
            head = fh.read(4096)
        if head and _looks_like_text(head):
            raise DataValidationError(str(f), "this is a text file (a CSV?), not Parquet: give it a .csv "
                                              "name") from None
        raise DataValidationError(str(f), f"not a readable Parquet file ({exc})") from None


def _to_frame(batch: pa.RecordBatch | pa.Table) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A pandas frame with nullable ints and bools, plus where float columns hold a true NaN."""
    names, arrays, nan = batch.schema.names, [], {}
    for name, arr in zip(names, batch.columns, strict=True):
        if pa.types.is_dictionary(arr.type):
            arr = pc.cast(arr, arr.type.value_type)
        if pa.types.is_floating(arr.type):
            nan[name] = pc.fill_null(pc.is_nan(arr), False).to_numpy(zero_copy_only=False)
        arrays.append(arr)
    frame = pa.Table.from_arrays(arrays, names=names).to_pandas(types_mapper=_NULLABLE.get,
                                                                  date_as_object=False)
    return frame, nan


def _parquet_chunks(path: Path, spec: TableSpec, fmt: FileFormat = PLAIN) -> Iterator[_Chunk]:
    files = table_parts(path)
    row = 1
    schema = None
    first_names: list[str] = []
    for f in files:
        pf = _open_parquet(f)
        schema = pf.schema_arrow
        first_names = first_names or schema.names
        _same_columns(f, schema.names, files[0], first_names)
        repeated = [c for c, n in Counter(schema.names).items() if n > 1]
        if repeated:
            raise DataValidationError(str(f), "this column appears more than once in the file", column=repeated[0])
        for col in spec.columns:
            t = schema.field(col.name).type if col.name in schema.names else None
            numbered = col.type is ColumnType.TIMESTAMP and t is not None and (  # day numbers, or 19930705
                fmt.days_from is not None and (pa.types.is_integer(t) or pa.types.is_floating(t))
                or bool(fmt.digit_width) and pa.types.is_integer(t))
            if t is not None and not numbered and not _arrow_fits(t, col.type):
                raise DataValidationError(str(f), f"stored as {schema.field(col.name).type} in the Parquet file; "
                                                  f"expected {_EXPECTED[col.type]}", column=col.name)
        try:
            for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
                frame, nan = _to_frame(batch)
                yield _Chunk(frame, row, None, nan)
                row += len(frame)
        except (pa.ArrowException, OSError) as exc:
            raise DataValidationError(str(f), f"the Parquet file is damaged ({exc})") from None
    if row == 1 and schema is not None:
        frame, nan = _to_frame(schema.empty_table())
        yield _Chunk(frame, 1, None, nan)


# --- coercion --------------------------------------------------------------------------------------

@dataclass
class _Typed:
    values: pd.Series  # canonical dtype; missing values are NA
    blank: np.ndarray  # the cell is empty / null
    bad: np.ndarray  # not empty, yet not a value of the column's type
    nan: np.ndarray  # numbers: a literal NaN
    problem: str  # what is wrong with a bad value


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _numbers(values: pd.Series, nan: np.ndarray | None,
             fmt: FileFormat = PLAIN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 values, blank mask and literal-NaN mask of a text or numeric column."""
    if _is_text(values):
        s = values.astype(_TEXT).str.strip()
        blank = (s.isna() | (s == "")).to_numpy(dtype=bool)
        nan_mask = s.str.lower().isin(_NAN_TEXT).to_numpy(dtype=bool)
        s = fmt.numbers_as_python_reads_them(s)  # unchanged for a decimal point without grouping
        num = pd.to_numeric(s.to_numpy(dtype=object, na_value=None), errors="coerce")
        return np.asarray(num, dtype="float64"), blank, nan_mask
    num = values.to_numpy(dtype="float64", na_value=np.nan)
    nan_mask = nan if nan is not None else np.zeros(len(values), dtype=bool)
    return num, np.isnan(num) & ~nan_mask, nan_mask


def _timestamps(s: pd.Series, fmt: FileFormat = PLAIN, column: str = "") -> pd.Series:
    """Parse the spec's date_format, and ISO 8601 text where it does not apply; values with an offset keep
    the data set's wall clock (fmt.wall_clock), values without stay as written.

    Naive and offset values are parsed apart: pandas gives a naive value that follows an offset value the
    same offset (pandas 2.3, format="ISO8601", utc=True).
    """
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if fmt.days_from:
        days = pd.to_numeric(fmt.numbers_as_python_reads_them(s.str.strip()), errors="coerce")
        out[days.notna().to_numpy(bool)] = fmt.relative_dates(days[days.notna()], column)
    if fmt.date_format:
        zoned = "%z" in fmt.date_format or "%Z" in fmt.date_format
        declared = pd.to_datetime(s, errors="coerce", format=fmt.date_format, utc=zoned)
        if not zoned and "%H" not in fmt.date_format:  # the same dates with a time after them (931107 00:00:00)
            for clock in (" %H:%M:%S", " %H:%M"):
                if (left := declared.isna() & s.notna()).any():
                    declared[left] = pd.to_datetime(s[left], errors="coerce", format=fmt.date_format + clock)
        if width := fmt.digit_width:
            declared = declared.where(_holds(s.str.match(rf"\d{{{width}}}(\D|$)")))
        out = out.fillna((fmt.wall_clock(declared) if zoned else declared).astype("datetime64[us]"))
    todo = out.isna().to_numpy(dtype=bool)  # ISO 8601 only for what the declared form did not read
    aware = s.str.contains(_TZ_SUFFIX, regex=True, na=False).to_numpy(dtype=bool)
    if (todo & ~aware).any():
        naive = todo & ~aware
        out[naive] = pd.to_datetime(s[naive], errors="coerce", format="ISO8601").astype("datetime64[us]")
    if (todo & aware).any():
        parsed = pd.to_datetime(s[todo & aware], errors="coerce", format="ISO8601", utc=True)
        out[todo & aware] = fmt.wall_clock(parsed).astype("datetime64[us]")
    return out


def _coerce(values: pd.Series, col: Column, nan: np.ndarray | None, fmt: FileFormat = PLAIN) -> _Typed:
    n = len(values)
    none = np.zeros(n, dtype=bool)
    ctype = col.type
    if ctype in (ColumnType.INT, ColumnType.FLOAT):
        num, blank, nan_mask = _numbers(values, nan, fmt)
        bad = np.isnan(num) & ~blank & ~nan_mask
        return _Typed(pd.Series(num), blank, bad, nan_mask,
                      f"is not a number ({_EXPECTED[ctype]} expected{fmt.number_hint()})")
    if _is_text(values):
        s = values.astype(_TEXT).str.strip()
        blank = (s.isna() | (s == "")).to_numpy(dtype=bool)
        s = s.mask(blank)
    else:
        s, blank = values, values.isna().to_numpy(dtype=bool)
    if ctype is ColumnType.STRING:
        if pd.api.types.is_bool_dtype(s):  # a Parquet yes/no as a spec writes it (bad = [true])
            return _Typed(s.map({True: "true", False: "false"}).astype(_TEXT), blank, none, none, "")
        return _Typed(s.astype(_TEXT), blank, none, none, "")
    if ctype is ColumnType.BOOL:
        if pd.api.types.is_bool_dtype(s):
            return _Typed(s.astype("boolean"), blank, none, none, "")
        out = s.astype(_TEXT).str.lower().map(BOOLEAN_TEXT).astype("boolean")
        bad = out.isna().to_numpy(dtype=bool) & ~blank
        return _Typed(out, blank, bad, none, "is not true or false (expected true/false, yes/no, y/n, t/f or 1/0)")
    if ctype is ColumnType.TIMESTAMP:
        if pd.api.types.is_datetime64_any_dtype(s):
            if getattr(s.dt, "tz", None) is not None:
                s = fmt.wall_clock(s)
            return _Typed(s.astype("datetime64[us]"), blank, none, none, "")
        unit = "months" if col.name in fmt.month_columns else "days"
        if fmt.days_from and pd.api.types.is_numeric_dtype(s):  # a Parquet column of day numbers
            out = fmt.relative_dates(s.astype("Float64").astype("float64"), col.name)
            return _Typed(out, blank, out.isna().to_numpy(bool) & ~blank, none,
                          f"is not a valid number of {unit} from {fmt.days_from}")
        out = _timestamps(s.astype(_TEXT), fmt, col.name)
        bad = out.isna().to_numpy(dtype=bool) & ~blank
        numbers = not fmt.days_from and not fmt.digit_width and bool(bad.any()) and \
            pd.to_numeric(s[bad].astype(_TEXT).str.strip(), errors="coerce").notna().all()
        relative = "; dates written as numbers of days (or months)? Name the date they count from as days_from " \
                   "under [format]" if numbers else ""
        return _Typed(out, blank, bad, none, f"is not a valid timestamp ({fmt.date_hint()}){relative}")
    raise AssertionError(ctype)


def _out_of_range(value: object, col: Column) -> str | None:
    """For a timestamp that failed to parse only because of its year, say so."""
    year = re.match(r"\s*(\d{4})-\d{1,2}-\d{1,2}", str(value)) if col.type is ColumnType.TIMESTAMP else None
    if year is None or pd.Timestamp.min.year < int(year[1]) < pd.Timestamp.max.year:
        return None
    return (f"is outside the years {pd.Timestamp.min.year + 1}-{pd.Timestamp.max.year - 1} that can be "
            "stored (a placeholder for 'no date'? leave the cell empty)")


FUTURE_GRACE_DAYS = 1
"""Without a given snapshot date, a time is refused from the day after tomorrow on (by this machine's
calendar): nothing can have been observed later than the day of ingest, and the day's grace lets data kept
in a time zone ahead of this machine's through."""


def ingest_day() -> pd.Timestamp:
    """The day of ingest (this machine's local date): no row may be dated after it (FUTURE_GRACE_DAYS aside)
    unless a snapshot date is given."""
    return pd.Timestamp.now().normalize()


def in_the_future(today: pd.Timestamp) -> str:
    return (f"is in the future: after {today.date()}, the day of ingest (a mistyped year? Without a snapshot "
            "date the data's latest date becomes the data set's, so one such row would move it; to date the "
            "data set ahead on purpose, give --snapshot-date, or snapshot_date in the spec)")


def first_true(mask: np.ndarray) -> int | None:
    """The index of the first True (the first offending row), or None."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _check_columns(columns: list[str], spec: TableSpec, fail) -> None:
    if not spec.extra_columns_allowed:
        unknown = [str(c) for c in columns if c not in spec.names and c not in spec.ignored]
        if unknown:
            close = difflib.get_close_matches(unknown[0], [n for n in spec.names if n not in columns], n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            fail(f"unknown column{unnamed_note(unknown[0])} ({hint}the {spec.name} table has: "
                 f"{', '.join(spec.names)}){spec.unknown_hint}", column=unknown[0])
    for col in spec.columns:
        if col.required and col.name not in columns:
            fail(f"required column is missing (found: {', '.join(map(str, columns)) or 'no columns'})",
                 column=col.name)


_ONE_LINE = "an id, a category, a kind, a status or a label is written on one line"


def validate_chunk(chunk: _Chunk, spec: TableSpec, file: str,
                   snapshot: pd.Timestamp | None, fmt: FileFormat = PLAIN) -> pd.DataFrame:
    """Coerce one chunk to canonical types; raise on the first problem found (vectorised per column)."""
    frame = chunk.frame

    def fail(problem: str, i: int | None = None, column: str | None = None) -> None:
        row = None if i is None else chunk.first_row + i
        raise DataValidationError(file, problem, row, column, chunk.line_offset if i is not None else None)

    _check_columns(list(frame.columns), spec, fail)
    day = None if snapshot is None else pd.Timestamp(snapshot).normalize()
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        raw = frame[col.name].reset_index(drop=True)
        typed = _coerce(fmt.without_missing_markers(raw), col, chunk.nan.get(col.name), fmt)
        if (i := first_true(typed.bad)) is not None:
            problem = _out_of_range(raw.iloc[i], col) or typed.problem
            if col.type in (ColumnType.INT, ColumnType.FLOAT) and (marks := fmt.marks_hint(raw.iloc[i])):
                problem = f"{problem.removesuffix(')')}{marks})"  # inside the brackets that say what was expected
            fail(f"{show_cell(raw.iloc[i], col)} {problem}", i, col.name)
        if (i := first_true(typed.nan)) is not None:
            fail("NaN is not a number: leave the cell empty where a value is unknown", i, col.name)
        values = typed.values
        if col.type in (ColumnType.INT, ColumnType.FLOAT):
            num = values.to_numpy()
            if (i := first_true(np.isinf(num))) is not None:
                fail(f"{show_cell(raw.iloc[i], col)} is infinite: {_EXPECTED[col.type]} must be finite", i, col.name)
            finite = np.isfinite(num)
            if col.type is ColumnType.INT:
                if (i := first_true(finite & (np.abs(num) > _INT_LIMIT))) is not None:
                    fail(f"{show_cell(raw.iloc[i], col)} is too large for a whole number", i, col.name)
                if (i := first_true(finite & (num % 1 != 0))) is not None:
                    fail(f"{show_cell(raw.iloc[i], col)} is not a whole number", i, col.name)
                values = values.astype("Int64")
            elif (i := first_true(too_large(num))) is not None:
                fail(f"{show_cell(raw.iloc[i], col)} {TOO_LARGE}", i, col.name)
        if not col.nullable and (i := first_true(typed.blank)) is not None:
            fail("a value is required here but the " + ("cell is empty" if chunk.line_offset else "value is null"),
                 i, col.name)
        if col.type is ColumnType.STRING and not col.free_text:
            broken = values.astype(_TEXT).str.contains(r"[\r\n]", regex=True, na=False).to_numpy(dtype=bool)
            if (i := first_true(broken)) is not None:
                fail(f"{show_cell(raw.iloc[i], col)} holds a line break, where {_ONE_LINE} (a quote left open? "
                     "a quoted value written over two lines?)", i, col.name)
        if col.aliases:
            values = values.replace(dict(col.aliases))
        if col.allowed is not None:
            text = values.astype(_TEXT)
            ok = text.isna().to_numpy(dtype=bool) | text.isin(col.allowed).to_numpy(dtype=bool)
            if (i := first_true(~ok)) is not None:
                hint = " (values are lower case)" if str(text.iloc[i]).lower() in col.allowed else ""
                fail(f"{show_cell(raw.iloc[i], col)} is not one of: {', '.join(sorted(col.allowed))}{hint}", i, col.name)
        if col.type is ColumnType.TIMESTAMP and day is not None and not col.may_follow_snapshot:
            # "after the snapshot date": the next day on
            late = (values >= day + pd.Timedelta(days=1)).to_numpy(dtype=bool, na_value=False)
            if (i := first_true(late)) is not None:
                fail(f"{show_cell(raw.iloc[i], col)} is after the data set's snapshot date {day.date()}", i, col.name)
        elif col.type is ColumnType.TIMESTAMP and not col.may_follow_snapshot:
            # no snapshot given: the data's latest date becomes it, so one mistyped future date would move it
            today = ingest_day()
            ahead = (values >= today + pd.Timedelta(days=1 + FUTURE_GRACE_DAYS)).to_numpy(dtype=bool, na_value=False)
            if (i := first_true(ahead)) is not None:
                fail(f"{show_cell(raw.iloc[i], col)} {in_the_future(today)}", i, col.name)
        out[col.name] = values
    return pd.DataFrame(out)


def read_and_validate(path: Path, spec: TableSpec, snapshot: pd.Timestamp | None = None,
                      allow_empty: bool = False, checks: Sequence[TableCheck] | None = None,
                      fmt: FileFormat = PLAIN, empty_hint: str = "") -> pd.DataFrame:
    """Read a whole CSV, Parquet or .xlsx table, validated and typed; raise DataValidationError on bad input.

    allow_empty: a table with columns but no rows is valid (a data set without relations).
    checks: whole-table checks (default: TABLE_CHECKS of the table's name, for DeepCredit's own columns).
    fmt: how the file writes its values (separator, decimal mark, date form).
    empty_hint: appended to the error of a table without rows (what to do instead).
    """
    path = Path(path)
    name = str(path)
    try:
        parts = [validate_chunk(c, spec, name, snapshot, fmt) for c in _chunks(path, spec, fmt)]
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if frame.empty and not allow_empty:
            raise DataValidationError(name, "the table has a header but no data rows" + empty_hint)
        if spec.key:
            check_unique(frame, spec.key, name, line_offset_for(path), {c.name for c in spec.columns if c.personal},
                         spec.duplicate_hint)
        for check in TABLE_CHECKS.get(spec.name, ()) if checks is None else checks:
            check(frame, name, line_offset_for(path))
    except DataValidationError as exc:
        raise with_exact_line(exc, path, fmt) from None
    return frame


def _key_text(value: object) -> str:
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


def check_unique(frame: pd.DataFrame, key: tuple[str, ...], file: str, line_offset: int | None,
                 personal: Collection[str] = (), hint: str = "") -> None:
    """No two rows share a key; names the duplicate and the row where the key was first seen. The key's value
    is repeated unless one of its columns is `personal` (an identifier, a protected attribute)."""
    dup = frame.duplicated(list(key), keep="first").to_numpy()
    i = first_true(dup)
    if i is not None:
        # row i matches itself, so there is a first match: argmax finds it
        first = int(np.argmax((frame[list(key)] == frame.loc[i, list(key)]).all(axis=1).to_numpy()))
        value = "" if set(key) & set(personal) else " " + repr(", ".join(_key_text(frame.at[i, k]) for k in key))
        raise DataValidationError(file, f"duplicate {'/'.join(key)}{value} (first seen in row {first + 1}){hint}",
                                  i + 1, key[0], line_offset)


def check_known_people(frame: pd.DataFrame, columns: tuple[str, ...], people: pd.Index, file: str,
                       line_offset: int | None, hint: str = "") -> None:
    """Every person referred to must exist in the people table (else an error, with `hint` after it)."""
    for col in columns:
        unknown = ~frame[col].isin(people).to_numpy(dtype=bool)
        i = first_true(unknown)
        if i is not None:  # the index holds each row's place in the file (merged or filtered rows keep theirs)
            raise DataValidationError(file, f"{withheld(False)} is not a person_id in the people table{hint}",
                                      int(frame.index[i]) + 1, col, line_offset)


# -- value checks that need more than one column --------------------------------------------------------

SIGNED_AMOUNT_KINDS = frozenset({"bill", "rating", "transfer"})
"""Event kinds whose amount may be negative (a credit balance, a negative rating, money sent back); for any
other kind (a repayment, an instalment, a rental, an order, a utility bill) a negative amount means nothing."""


def check_event_values(frame: pd.DataFrame, file: str, line_offset: int | None, *, kind: str | None = "kind",
                       amount: str | None = "amount", days_late: str | None = "days_late",
                       signed_kinds: frozenset[str] = SIGNED_AMOUNT_KINDS, only_kind: str | None = None,
                       money_kinds: frozenset[str] = frozenset()) -> None:
    """days_late is never negative; an amount is negative only for the kinds where that means something.

    kind/amount/days_late: the columns' names in the file (a spec may name them otherwise); signed_kinds:
    the kinds whose amount may be negative (a balance owed can be a credit, a rating can be negative);
    only_kind: the kind of every row of a file without a kind column; money_kinds: kinds whose amount is
    owed or paid, whose error says how a refund is declared (a negative amount there is often a refund).
    """
    if days_late is not None and days_late in frame:
        i = first_true((frame[days_late] < 0).to_numpy(dtype=bool, na_value=False))
        if i is not None:
            raise DataValidationError(file, f"{show_value(frame.at[i, days_late])} is negative: days late counts days "
                                            "after the due date (0 = on time)", i + 1, days_late, line_offset)
    if amount is None:  # a file without amounts
        return
    kinds = event_kinds(frame, kind, only_kind)
    unsigned = ~kinds.isin(signed_kinds).to_numpy(dtype=bool)
    i = first_true(unsigned & (frame[amount] < 0).to_numpy(dtype=bool, na_value=False))
    if i is not None:
        allowed = f"only {', '.join(sorted(signed_kinds))} amounts may be negative" if signed_kinds else \
            "no kind's amount may be negative here"
        refund = (": money owed or paid is written positive; a refund or a cancelled invoice is a row whose status "
                  "is declared { meaning = \"neutral\", owes_nothing = true }") if kinds.iloc[i] in money_kinds else ""
        raise DataValidationError(file, f"{show_value(frame.at[i, amount])} is negative, which means nothing for "
                                        f"{a_or_an(str(kinds.iloc[i]))} event ({allowed}){refund}",
                                  i + 1, amount, line_offset)


def a_or_an(word: str) -> str:
    """A word with its indefinite article, as a message says it: "an instalment", "a bill"."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def event_kinds(frame: pd.DataFrame, kind: str | None, only_kind: str | None) -> pd.Series:
    """Each row's event kind: the file's kind column, or the one kind of a file without one."""
    return frame[kind] if kind else pd.Series(only_kind, index=frame.index)


HASH_SLICE_ROWS = 500_000
"""Rows hashed at a time by the duplicate check: its memory stays a slice's, not the table's."""


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row, computed a slice at a time."""
    parts = [pd.util.hash_pandas_object(frame.iloc[a:a + HASH_SLICE_ROWS], index=False).to_numpy()
             for a in range(0, len(frame), HASH_SLICE_ROWS)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def check_no_duplicate_rows(frame: pd.DataFrame, file: str, line_offset: int | None, what: str = "event") -> None:
    """An exact copy of an earlier row would count one commitment (or, `what` = "relation", one tie) twice.

    Rows are compared by hash (a table-wide `duplicated()` holds several copies of a large table); rows whose
    hashes collide are compared in full, so a collision never reports a duplicate that is not one."""
    hashes = _row_hashes(frame)
    if not pd.Series(hashes).duplicated().any():
        return
    i = first_true(frame.duplicated(keep="first").to_numpy())  # a repeated hash: the exact check decides
    if i is not None:
        # i is the first repeat, so in rows 0..i only row i's earlier copy has a later duplicate
        first = int(np.argmax(frame.iloc[:i + 1].duplicated(keep="last").to_numpy()))
        raise DataValidationError(file, f"an exact duplicate of row {first + 1}: one {what} recorded twice",
                                  i + 1, None, line_offset)


def check_no_self_loops(source: str, target: str) -> TableCheck:
    """A whole-table check of relations: no row ties a person to themself (a person is not their own
    connection, and such a row would count them among their own neighbours)."""
    def check(frame: pd.DataFrame, file: str, line_offset: int | None) -> None:
        same = (frame[source].astype(_TEXT) == frame[target].astype(_TEXT)).to_numpy(dtype=bool, na_value=False)
        if (i := first_true(same)) is not None:
            raise DataValidationError(file, f"{withheld(False)} names the same person as column {source!r}: a "
                                            "person is not their own connection", i + 1, target, line_offset)
    return check


def relation_checks(source: str = "source", target: str = "target", duplicates: bool = True) -> tuple[TableCheck, ...]:
    """The whole-table checks of relations, wherever they are read (ingest, with or without a spec, and
    `deepcredit validate`): no self-loop, and (`duplicates`) no exact duplicate, one tie recorded twice.

    duplicates=False for the rows as stored from a spec's files (validate_stored): distinct rows of a file
    may be one stored row there (two ties of a month both dated at its end, a column the spec ignores), as
    stored events are not checked for duplicates either; ingest checked the file's own rows."""
    loops = check_no_self_loops(source, target)
    return (loops, partial(check_no_duplicate_rows, what="relation")) if duplicates else (loops,)


TableCheck = Callable[[pd.DataFrame, str, "int | None"], None]
TABLE_CHECKS: dict[str, tuple[TableCheck, ...]] = {"events": (check_event_values, check_no_duplicate_rows),
                                                   "relations": relation_checks()}
"""Checks run on a whole validated table, by table name."""
