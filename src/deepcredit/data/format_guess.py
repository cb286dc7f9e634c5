"""Guess how CSV exports write their values, for a drafted spec's [format] section.

A spreadsheet in a European locale saves `;`-separated files with decimal commas (perhaps 1.234,50),
dates such as 31/01/2024 and, on Windows, cp1252 text; hand-kept files write NA or ? for no value.
Rather than making the user rewrite the files, `spec draft` proposes a [format] section and reads its
sample through it, so the types it infers (numeric, date) are the ones ingest will then check. Every
guess is a proposal the user checks: a date whose day never exceeds 12 cannot tell day-first from
month-first, a lone 1.234 cannot tell a decimal from a thousand, and the draft says so. Parquet files
and workbooks carry typed values and are not guessed at.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pandas as pd

from deepcredit.data.compressed import open_bytes, open_text
from deepcredit.data.headers import header_words, unnamed
from deepcredit.data.jsonlines import is_json_lines, read_json_text
from deepcredit.data.parts import first_part, table_parts
from deepcredit.data.sheets import is_spreadsheet
from deepcredit.data.validate import DIGIT_DATES, PLAIN, FileFormat, is_parquet

SEPARATORS = (",", ";", "\t", "|")
HEAD_LINES = 200
_COMMA_NUMBER = re.compile(r"^[+-]?\d+(?:,\d+)?$")
_POINT_NUMBER = re.compile(r"^[+-]?\d*\.\d+$")
_OFFSET_TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
MISSING_MARKERS = ("NA", "N/A", "n/a", "na", "#N/A", "NULL", "null", "None", "none", "NaN", "nan", "?", "-", "--",
                   ".")
"""Texts that spreadsheets, R, SQL exports and hand-kept files write for "no value"."""
_VALUE_LIKE = re.compile(r"^[+-]?\d[\d.,:/ 'T+Z-]*$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(:\d{2})?)?$")
MONTH_FORMS = (("%b-%Y", r"[A-Za-z]{3}-\d{4}"), ("%b %Y", r"[A-Za-z]{3} \d{4}"), ("%B %Y", r"[A-Za-z]{4,9} \d{4}"),
               ("%m/%Y", r"\d{1,2}/\d{4}"))
"""Dates written as a month and a year (a loan book's issue_d, "Dec-2016"): strptime form and its pattern."""
_DIGIT_DATE = re.compile(r"^(\d{8}|\d{6})( \d{2}:\d{2}:\d{2})?$")
DATE_WORDS = re.compile(r"date|time|day|(^|_)dt(_|$)|period|month|_d$|_on$|_at$|when|issue|open|close")
"""Header words of a date column. Ids and amounts are digits too, so bare digits are read as dates only
under such a header."""


@dataclass(frozen=True)
class GuessedFormat:
    """A file's format and what the user should check about it."""

    format: FileFormat
    notes: tuple[str, ...] = ()


FALLBACK_ENCODING = "cp1252"
"""What a file that is not UTF-8 most likely is: a spreadsheet saved in a Windows Western-European locale."""


def guess_encoding(path: Path) -> str:
    """ascii when the first MiB is plain ASCII (readable as anything), utf-8 when it decodes as UTF-8, else
    the fallback (a proposal the draft says to check). A directory of parts: its first part's."""
    with open_bytes(first_part(path)) as fh:
        head = fh.read(1 << 20)
    if head.isascii():
        return "ascii"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sample
            return FALLBACK_ENCODING
    return "utf-8"


def guess_layout(path: Path) -> tuple[str, int]:
    """(separator, header line): the separator that splits the first lines into the same, largest number of
    cells, and the line where that run of equal rows starts, so a title, an export's date or Excel's `sep=;`
    above the header is passed over (',' and line 1 when nothing fits)."""
    with open_text(first_part(path), "utf-8", errors="replace") as fh:
        head = list(islice(fh, HEAD_LINES))
    best, cells, line = ",", 1, 1
    for sep in SEPARATORS:
        rows = [(i + 1, len(r)) for i, r in enumerate(csv.reader(head, delimiter=sep)) if r]
        for k, (start, width) in enumerate(rows[:5]):  # at most a few lines above the header
            if width >= 2 and all(w == width for _, w in rows[k:]):
                if width > cells:
                    best, cells, line = sep, width, start
                break
    return best, line


def _texts(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Each column's non-empty values, stripped."""
    out = {}
    for c in frame.columns:
        s = frame[c].astype(str).str.strip()
        out[c] = s[s != ""]
    return out


GROUPINGS = ((",", "."), (".", ","), (" ", ","), (" ", "."), ("'", "."), ("\u00a0", ","), ("\u202f", ","))
"""(thousands, decimal) pairs spreadsheets write: 1,234.50 · 1.234,50 · 1 234,50 · 1'234.50."""


def _grouping(s: pd.Series) -> tuple[str, str] | None:
    """The (thousands, decimal) marks of a column of numbers that shows them beyond doubt: every value a
    number in that form, and some value with both marks or two groups (1.234 alone could be a decimal)."""
    for thousands, decimal in GROUPINGS:
        t, d = re.escape(thousands), re.escape(decimal)
        if s.str.fullmatch(rf"[+-]?(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d+)?").all() and \
                s.str.contains(rf"{t}\d{{3}}(?:{t}\d{{3}}|{d})").any():
            return thousands, decimal
    return None


def _number_marks(columns: dict[str, pd.Series], delimiter: str) -> tuple[set[str], set[str]]:
    """The decimal marks and thousands marks the numbers of a file show: ',' for a column of decimal-comma
    numbers, '.' for one of decimal-point numbers, a pair for a column with grouped digits. In a
    comma-separated file a number with a comma must be quoted, so only a grouped one (1,234.50) is read
    as having one."""
    decimals: set[str] = set()
    thousands: set[str] = set()
    for s in columns.values():
        if not len(s):
            continue
        if (pair := _grouping(s)) is not None:
            thousands.add(pair[0])
            decimals.add(pair[1])
        elif delimiter != "," and s.str.match(_COMMA_NUMBER).all() and s.str.contains(",").any():
            decimals.add(",")
        elif s.str.match(_POINT_NUMBER).all():
            decimals.add(".")
    return decimals, thousands


def _date_format(name: str, columns: dict[str, pd.Series]) -> tuple[str | None, tuple[str, ...]]:
    """A strptime form for the first column of numeric dates that are not ISO 8601, and notes to check. The
    day's place is read from every such column written alike (one form serves them all): a day above 12 in
    any of them settles it, so a column of early-month dates beside one of late-month dates needs no check."""
    numeric = {col: s.str.extract(_NUMERIC_DATE) for col, s in columns.items() if len(s)}
    numeric = {col: parts for col, parts in numeric.items() if not parts[0].isna().any()}
    for col, parts in numeric.items():
        sep = parts[1].iloc[0]
        time = " %H:%M:%S" if parts[6].notna().any() else " %H:%M" if parts[4].notna().any() else ""
        alike = [p for p in numeric.values() if (p[1] == sep).all()]
        if any((p[0].astype(int) > 12).any() for p in alike):
            return f"%d{sep}%m{sep}%Y{time}", ()
        if any((p[2].astype(int) > 12).any() for p in alike):
            return f"%m{sep}%d{sep}%Y{time}", ()
        note = (f"check: no day in {name}'s '{col}' is above 12, so its dates could be month first "
                f"(%m{sep}%d{sep}%Y{time}) as well as day first")
        return f"%d{sep}%m{sep}%Y{time}", (note,)
    for col, s in columns.items():
        for form, pattern in MONTH_FORMS:
            if len(s) and s.str.fullmatch(pattern).all() and \
                    pd.to_datetime(s, format=form, errors="coerce").notna().all():
                return form, (f"check: {name}'s '{col}' writes a month and a year, no day: such a date reads as "
                              "the first day of its month",)
    for col, s in columns.items():
        digits, other = _digit_date_forms(col, s)
        if digits is None:
            continue
        example, day = s.iloc[0].split()[0], digits.split()[0]
        notes = [f"check: {name}'s '{col}' writes a year and a month as six digits ({example}), no day: such a "
                 "date reads as the first day of its month"] if day == "%Y%m" else []
        if other:
            notes.append(f"check: {name}'s '{col}' could also be dates with a two-digit year ({other}: {example} "
                         f"as {pd.to_datetime(example, format='%y%m%d'):%Y-%m-%d})")
        if day == "%y%m%d":
            notes.append(f"check: {name}'s '{col}' writes two-digit years, read as 1969-2068 (69-99 as 19xx, "
                         "00-68 as 20xx): a date before 1969, such as a birth date, would read a century late")
        return digits, tuple(notes)
    return None, ()


def _digit_date_forms(col: str, s: pd.Series) -> tuple[str | None, str | None]:
    """(form, another form every value fits as well) of a date-named column whose every value is 8 or 6 digits
    (perhaps with a time, 931107 00:00:00) that all read as dates of the years 1900-2100; (None, None) for any
    other column. Six digits are a month (201203, %Y%m) where every value can be one, else %y%m%d."""
    if not len(s) or not DATE_WORDS.search(header_words(str(col))):
        return None, None
    parts = s.str.extract(_DIGIT_DATE)
    if parts[0].isna().any() or parts[0].str.len().nunique() != 1:
        return None, None
    time = " %H:%M:%S" if parts[1].notna().any() else ""

    def fits(form: str) -> bool:
        dates = pd.to_datetime(s, format=form + time, errors="coerce")
        return bool(dates.notna().all() and dates.dt.year.between(1900, 2100).all())

    forms = [f + time for f, width in DIGIT_DATES.items() if width == len(parts[0].iloc[0]) and fits(f)]
    return (forms[0] if forms else None), (forms[1] if len(forms) > 1 else None)


def _missing_markers(columns: dict[str, pd.Series]) -> set[str]:
    """Markers for "no value" found in columns whose other values are all numbers or dates."""
    found: set[str] = set()
    for s in columns.values():
        marked = s.isin(MISSING_MARKERS)
        if marked.any() and (~marked).any() and s[~marked].str.match(_VALUE_LIKE).all():
            found |= set(s[marked])
    return found


def headerless_names(path: Path, delimiter: str, encoding: str, header_line: int = 1) -> tuple[str, ...]:
    """column_1, column_2, ... for a CSV file whose first line is data rather than names; () otherwise.

    Why: loan-level exports (Freddie Mac's, Fannie Mae's) write no header; their layout is documented apart.
    The first line is data where every column whose later values are all numbers holds a number there too
    (a header holds a name), and at least half of those numbers lie within their column's later values (a
    header of years, 2019;2020, over counts does not)."""
    if is_json_lines(path):
        return ()
    rows = pd.read_csv(first_part(path), sep=delimiter, encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                       dtype=str, keep_default_na=False, header=None, nrows=HEAD_LINES, skiprows=header_line - 1)
    if len(rows) < 3:
        return ()
    first, numbers = rows.iloc[0].str.strip(), rows.iloc[1:].apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    written = rows.iloc[1:].apply(lambda c: c.str.strip() != "")
    numeric = [c for c in rows.columns if written[c].any() and numbers.loc[written[c], c].notna().all()]
    values = pd.to_numeric(first[numeric], errors="coerce")
    if not numeric or values[first[numeric] != ""].isna().any():
        return ()
    within = [numbers[c].min() <= values[c] <= numbers[c].max() for c in numeric if pd.notna(values[c])]
    return tuple(f"column_{i}" for i in range(1, rows.shape[1] + 1)) if 2 * sum(within) >= len(within) > 0 else ()


def read_text(path: Path, delimiter: str, encoding: str, nrows: int | None = None, header_line: int = 1,
              **kw) -> pd.DataFrame:
    """A CSV file's cells as text, as the draft reads it; a directory's parts one after another (the first
    `nrows` rows of them); a JSON Lines file's records (data/jsonlines.py; `usecols` selects columns). A file
    without a header line (headerless_names) has its columns named column_1, column_2, ..."""
    if is_json_lines(path):
        frame = read_json_text(path, nrows, encoding).astype(object)
        return frame[list(kw["usecols"])] if "usecols" in kw else frame
    if names := headerless_names(path, delimiter, encoding, header_line):
        kw = {**kw, "header": None, "names": list(names)}
    frames: list[pd.DataFrame] = []
    for part in table_parts(path):
        left = None if nrows is None else nrows - sum(map(len, frames))
        if left is not None and left <= 0:
            break
        frame = pd.read_csv(part, sep=delimiter, encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                            dtype=str, keep_default_na=False, nrows=left, skiprows=header_line - 1, **kw)
        # pandas calls an empty header cell "Unnamed: i"; ingest calls it unnamed_N (data/headers.py)
        frames.append(frame.rename(columns=lambda c: re.sub(r"^Unnamed: (\d+)$",
                                                            lambda m: unnamed(int(m[1]) + 1), str(c))))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _head(path: Path, delimiter: str, encoding: str, header_line: int = 1) -> dict[str, pd.Series]:
    return _texts(read_text(path, delimiter, encoding, nrows=HEAD_LINES, header_line=header_line))


def guess_format(paths: list[Path]) -> GuessedFormat:
    """One format for a data set's files, from the first lines of each CSV (Parquet files have their own
    types). The first CSV's separator is taken; the decimal mark and date form come from whichever file
    shows them (ISO dates and whole numbers read under any format), the marks only from files of that
    separator (a ';' file's decimal comma declared beside a ',' would fail the spec's own check).
    Disagreements become notes."""
    csvs = [Path(p) for p in paths if not is_parquet(Path(p)) and not is_spreadsheet(Path(p))
            and not is_json_lines(Path(p))]
    if not csvs:
        return GuessedFormat(PLAIN)
    first = csvs[0]
    layouts = {p: guess_layout(p) for p in csvs}
    seps = {p: sep for p, (sep, _) in layouts.items()}
    headers = {p: line for p, (_, line) in layouts.items()}
    encodings = {p: e for p in csvs if (e := guess_encoding(p)) != "ascii"}
    encoding = next(iter(encodings.values()), "utf-8")
    named = next(iter(encodings), first)
    notes = [f"TODO: {p.name} seems separated by {d!r} but {first.name} by {seps[first]!r}: one [format] serves "
             "every file; save them alike" for p, d in seps.items() if d != seps[first]]
    if encoding != "utf-8":
        notes.append(f"check: {named.name} is not UTF-8; it is read as {encoding} (a Windows spreadsheet's text): if "
                     "its accents look wrong in the values below, name the file's encoding here")
    notes += [f"TODO: {p.name} is encoded as {e}, {named.name} as {encoding}: one [format] serves every file; save "
              "them alike" for p, e in encodings.items() if e != encoding]
    marks: set[str] = set()
    groups: set[str] = set()
    forms: dict[str, str] = {}
    zoned: list[str] = []
    missing: set[str] = set()
    for p in csvs:
        columns = _head(p, seps[p], encodings.get(p, "utf-8"), headers[p])
        missing |= _missing_markers(columns)
        columns = {c: s[~s.isin(missing)] for c, s in columns.items()}
        if any(len(s) and s.str.contains(_OFFSET_TIME).all() for s in columns.values()):
            zoned.append(p.name)
        decimals, grouped = _number_marks(columns, seps[p])
        if seps[p] == seps[first]:
            marks, groups = marks | decimals, groups | grouped
        elif said := [f"{d!r} as the decimal mark" for d in sorted(decimals)] + \
                [f"{t!r} between thousands" for t in sorted(grouped)]:  # declared, a mark could be the separator
            notes.append(f"TODO: {p.name}'s numbers have {' and '.join(said)}, left out of [format] as its separator "
                         f"is not {first.name}'s: declare them once the files are saved alike")
        form, checks = _date_format(p.name, columns)
        if form:
            forms.setdefault(form, p.name)
            notes += checks
    if len(marks) > 1:
        notes.append("TODO: some numbers are written with a decimal comma, others with a point: one [format] "
                     "serves every file; save them alike")
    if len(forms) > 1 and len({f.split(" %H")[0] for f in forms}) == 1:  # one form, a time after it in some: the
        forms = {next(iter(forms)).split(" %H")[0]: next(iter(forms.values()))}  # date form reads both
    if len(forms) > 1:
        notes.append("TODO: the files write dates in several forms (" + ", ".join(f"{f} in {n}" for f, n in forms.items())
                     + "): one [format] serves every file; save them alike")
    if zoned:
        notes.append(f"check: the times in {', '.join(zoned)} carry UTC offsets: they are kept in UTC unless "
                     'you name your zone (timezone = "Europe/Paris"), whose midnight then starts each day')
    if len(groups) > 1:
        notes.append("TODO: the files group thousands with different marks (" + ", ".join(map(repr, sorted(groups)))
                     + "): one [format] serves every file; save them alike")
    if marks == {","} and seps[first] == ",":  # quoted 1.234,50: the spec refuses a decimal that is the delimiter
        notes.append("TODO: numbers have decimal commas in a ','-separated file: save it separated by ';' and "
                     'declare delimiter = ";" and decimal = ","')
    decimal = "," if marks == {","} and seps[first] != "," else "."
    thousands = next(iter(groups)) if len(groups) == 1 and decimal not in groups else None
    fmt = FileFormat(seps[first], decimal, next(iter(forms), None), thousands, missing=tuple(sorted(missing)),
                     encoding=encoding, header_line=headers[first])
    return GuessedFormat(fmt, tuple(notes))


def as_written_by_deepcredit(frame: pd.DataFrame, fmt: FileFormat) -> pd.DataFrame:
    """The sample with numbers (decimal commas, grouped digits) and dates in `fmt`'s form rewritten as
    DeepCredit writes them, so type inference reads one form; columns not wholly such values stay as is."""
    if fmt == PLAIN:
        return frame
    out = frame.copy()
    for name, s in _texts(frame).items():
        if fmt.missing:
            out[name] = frame[name].mask(frame[name].str.strip().isin(fmt.missing), "")
            s = s[~s.isin(fmt.missing)]
        if not len(s):
            continue
        # bare digits are dates only in a column the draft would take for one (not loan_id 100101)
        digits = fmt.digit_width is not None
        digit_dates = digits and fmt.date_format in _digit_date_forms(name, s)
        numbers = fmt.numbers_as_python_reads_them(s.astype("string"))
        if (fmt.decimal != "." or fmt.thousands) and not digit_dates and \
                pd.to_numeric(numbers, errors="coerce").notna().all():
            out[name] = numbers.astype(object).reindex(frame.index).fillna(out[name])
        elif fmt.date_format and (digit_dates or not digits):
            dates = pd.to_datetime(s, format=fmt.date_format, errors="coerce")
            if dates.notna().all():
                iso = dates.dt.strftime("%Y-%m-%dT%H:%M:%S" if "%H" in fmt.date_format else "%Y-%m-%d")
                out[name] = iso.reindex(frame.index).fillna(out[name])
    return out
