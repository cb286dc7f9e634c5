"""Draft a spec from the files' headers and inferred types, as commented TOML for the user to edit.

The draft is a starting point, never a decision: every attribute gets a type inferred from a sample of
values, a placeholder dimension and texts, and comments saying what to check (a column that looks like an
id, a label, or a protected attribute). Given an events file, it finds the person, date, kind, status and
amount columns and lists every kind and status the file holds with a meaning guessed from its word; given a
relations or outcomes file, their columns likewise. Every guess carries a comment saying to check it, and
what it could not guess is marked TODO, so nothing is decided silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from deepcredit.data.draft_left_out import contact_data, ignore_lines, left_out, texts
from deepcredit.data.draft_roles import (
    amount_column,
    below_zero,
    date_pair,
    days_late_column,
    kind_column,
    status_column,
    whole_numbers,
)
from deepcredit.data.draft_statuses import Ledger, share, status_behaviour
from deepcredit.data.draft_words import (
    APPLICATION_HINTS,
    COUNT_HINTS,
    GROUP_HINTS,
    ID_HINTS,
    ID_SUFFIX,
    LABEL_HINTS,
    LINK_HINTS,
    PART_HINTS,
    PENDING_WORDS,
    POSTCODE_HINTS,
    PROTECTED_HINTS,
    description_of,
    dimension_of,
    header_text,
    header_words,
    leading_zeros,
    number_in_text,
    outcomes_in_words,
    sentinel,
    special_codes,
    unit_of,
    window_in_name,
)
from deepcredit.data.format_guess import (
    as_written_by_deepcredit,
    guess_encoding,
    guess_format,
    guess_layout,
    headerless_names,
    read_text,
)
from deepcredit.data.jsonlines import is_json_lines
from deepcredit.data.schema import Dimension
from deepcredit.data.sheets import (
    header_row,
    is_spreadsheet,
    read_sheet,
    sheet_names,
    source_exists,
    split_sheet,
)
from deepcredit.data.spec_base import IDENTIFIER, identifier, sql_safe
from deepcredit.data.spec_events import MEASURE_RESERVED
from deepcredit.data.validate import BOOLEAN_TEXT, PLAIN, DataValidationError, is_parquet, toml_string

SAMPLE_ROWS = 20_000
SERIES = re.compile(r"^(.*?[A-Za-z])_?(\d{1,2})$")
BOOL_TEXT = {word for word in BOOLEAN_TEXT if word.isalpha()}  # 0/1 columns are drafted numeric


def _sample(path: Path) -> pd.DataFrame:
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
        return as_written_by_deepcredit(read_text(path, fmt.delimiter, fmt.encoding, nrows=SAMPLE_ROWS,
                                                  header_line=fmt.header_line), fmt)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataValidationError(str(path), f"cannot read a sample of the file ({exc.__class__.__name__}: "
                                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def infer_type(values: pd.Series) -> str:
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


def _other_sheets(path: Path, others: list[Path]) -> list[str]:
    """A note naming the sheets of a people workbook that no file given reads (they may be its other tables)."""
    if not is_spreadsheet(path):
        return []
    book, sheet = split_sheet(path)
    names = sheet_names(book)
    used = {s or (names[0] if names else None) for b, s in map(split_sheet, [path, *others]) if b == book}
    rest = [n for n in names if n not in used]
    if not rest:
        return []
    return [f"# {book.name} also has the sheets {', '.join(map(repr, rest))}: give a table on one of them as",
            f"# {book.name}#<sheet>, e.g. {book.name}#{rest[0]}."]


def _titles(files: list[Path]) -> list[str]:
    """A note for each sheet whose header is below its first row: the rows above it are not read."""
    out = []
    for f in files:
        if is_spreadsheet(f) and (at := header_row(f)) > 1:
            out.append(f"# {f.name}: the header is in sheet row {at}; the rows above it (a title) are not read.")
    return out


def _format_lines(files: list[Path]) -> list[str]:
    """A [format] section when the files are not written as DeepCredit writes its own, and what to check."""
    guess = guess_format(files)
    fmt = replace(guess.format, header_line=PLAIN.header_line)  # a file's header line is its section's
    if fmt == PLAIN and not guess.notes:
        return []
    out = ["", "# How the files write their values (DeepCredit's own: comma-separated, decimal point, ISO dates)."]
    out += [f"# {note}" for note in guess.notes] + ["[format]"]
    if fmt.delimiter != PLAIN.delimiter:
        out.append(f"delimiter = {toml_string(fmt.delimiter)}")
    if fmt.decimal != PLAIN.decimal:
        out.append(f"decimal = {toml_string(fmt.decimal)}")
    if fmt.thousands:
        out.append(f"thousands = {toml_string(fmt.thousands)}  # the mark between groups of three digits")
    if fmt.date_format:
        out.append(f"date_format = {toml_string(fmt.date_format)}  # strptime directives; ISO 8601 dates are read too")
    if not fmt.is_utf8:
        out.append(f"encoding = {toml_string(fmt.encoding)}")
    if fmt.missing:
        markers = ", ".join(toml_string(m) for m in fmt.missing)
        out.append(f"missing = [{markers}]  # check: read as empty cells in every column")
    return out


def header_line_of(path: Path) -> list[str]:
    """The header_line line of a section whose CSV file has lines above its header, or the header line of
    one that has no header (none otherwise)."""
    if is_parquet(Path(path)) or is_spreadsheet(Path(path)) or is_json_lines(Path(path)):
        return []
    sep, line = guess_layout(Path(path))
    if names := headerless_names(Path(path), sep, guess_encoding(Path(path)), line):
        return [f"# TODO: {Path(path).name} has no header line (its first line is data): name its columns in order, as the",
                "# file's documentation lists them, here and wherever this draft uses column_N below.",
                f"header = [{', '.join(map(toml_string, names))}]"]
    return [f"header_line = {line}  # check: the {line - 1} line(s) above it (a title, an export's date?) are "
            "not read"] if line > 1 else []


def _name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).name.split(".")[0]).strip("-._") or "my-data"


RHYTHMS = {"week": (7, 28, 84, 182), "month": (30, 90, 180, 365), "year": (365, 730, 1095, 1825)}
"""Windows ([windows]: period, recent, medium, long) for commitments falling due weekly, monthly, yearly."""


def rhythm(gap_days: float | None) -> str:
    """The rhythm of commitments whose median gap between a person's consecutive ones is `gap_days`."""
    if gap_days is None:
        return "month"
    return "week" if gap_days <= 10 else "year" if gap_days >= 200 else "month"


def median_gap_days(frame: pd.DataFrame, person: str | None, ts: str | None) -> float | None:
    """The median number of days between a person's consecutive rows of a sample (same-day rows aside), or
    None where the sample cannot tell (no person or date column, no person with two dated rows)."""
    if not person or not ts:
        return None
    rows = pd.DataFrame({"p": frame[person], "t": pd.to_datetime(frame[ts], errors="coerce", utc=True)}).dropna()
    gaps = rows.sort_values(["p", "t"]).groupby("p")["t"].diff().dt.total_seconds().div(86400).dropna()
    gaps = gaps[gaps >= 1]
    return float(gaps.median()) if len(gaps) else None


def windows_hint(gap_days: float | None) -> list[str]:
    """The [windows] section, commented out, with the windows of the rhythm the commitments seem to keep."""
    kind = rhythm(gap_days)
    why = (f"# A person's commitments here fall about {gap_days:.0f} days apart (median, in the sample): "
           f"{kind}ly windows are proposed." if gap_days is not None else "# The defaults are shown.")
    period, recent, medium, long = RHYTHMS[kind]
    return ["", "# How far back the history features look, in days: a billing period, then a recent, a middle and a",
            "# long window (default: 30, 90, 180, 365). Uncomment, and check, to fit your data's rhythm.", why,
            "# [windows]", f"# period = {period}", f"# recent = {recent}", f"# medium = {medium}", f"# long = {long}"]


def never_negative(values: pd.Series) -> bool:
    """Whether a numeric column's sample has numbers and none of them below 0 (an age, an amount, a count):
    a draft proposes min = 0 for it."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(numbers)) and bool((numbers >= 0).all())


def draft_spec(path: Path, name: str | None = None, events: Path | None = None, relations: Path | None = None,
               outcomes: Path | None = None, more_events: dict[str, Path] | None = None,
               lookups: dict[str, Path] | None = None, more_profile: dict[str, Path] | None = None) -> str:
    """Commented TOML declaring every column of the people file `path` (CSV, Parquet or .xlsx) as a profile
    attribute, and, for each other file given, its section of the spec (`more_events`: further history
    files by name, each its own [more_events.NAME])."""
    more = dict(more_events or {})
    given = [Path(f) for f in (path, events, relations, outcomes, *more.values(), *(lookups or {}).values(),
                               *(more_profile or {}).values()) if f]
    frame = _sample(path)
    n = len(frame)
    id_col = next((c for c in frame.columns if ID_HINTS.search(header_words(c)) and frame[c].nunique() == n), None) \
        or _suffixed_id(frame)
    history = None if id_col else _history(frame)
    valid_from: str | None = None
    if history:
        id_col, valid_from = history
    label_col = None if outcomes else _label_column(frame, exclude=(id_col, valid_from))
    dated_by = next((c for c in frame.columns if label_col and not valid_from and c not in (id_col, label_col)
                     and APPLICATION_HINTS.search(header_words(c)) and infer_type(frame[c]) == "date"), None)
    files = " ".join([f"--{t} {Path(f).name}" for t, f in (("events", events), ("relations", relations),
                                                           ("outcomes", outcomes)) if f]
                     + [f"--events {n}={Path(f).name}" for n, f in more.items()]
                     + [f"--lookup {n}={Path(f).name}" for n, f in (lookups or {}).items()]
                     + [f"--people {n}={Path(f).name}" for n, f in (more_profile or {}).items()])
    dims = " | ".join(d.value for d in Dimension)
    out = [
        f"# Drafted by `deepcredit spec draft` from {Path(path).name} ({n:,} rows sampled). Edit it, then:",
        f"#   deepcredit ingest --spec THIS_FILE --people DATA {files + ' ' if files else ''}--out DIR",
        *_other_sheets(Path(path), given[1:]),
        *_titles(given),
        "# Every attribute: type (numeric | categorical | ordinal + order | boolean | date),",
        f"# dimension ({dims}),",
        "# description (completes 'your score is lowered by ...'), improve (how to improve),",
        "# risk_direction (+1 higher is riskier, -1 safer, 0 unknown), protected (audited, never an input),",
        "# actionable (may appear in 'how to improve'), role (credit_line | income | joined_at).",
        "spec_version = 1",
        f"name = {toml_string(name or _name(path))}",
        'description = ""',
        *_format_lines(given),
        "",
        "[profile]",
        *header_line_of(Path(path)),
    ]
    if id_col:
        if id_col == "unnamed_1":
            out.append("# The file's first column has no name (a saved row index?) and is unique: taken as the id.")
        out.append(f"id_column = {toml_string(id_col)}")
        if valid_from:
            out += ["# A person has several rows: each holds from this date on (attribute history; features as of T",
                    "# read the row valid before T). Check it is when the values became true, not when they were typed.",
                    f"valid_from = {toml_string(valid_from)}"]
    else:
        out += ["# No column looks like a unique id: each row is one person, numbered 1, 2, ... in file order.",
                'id_column = ""']
    linked, grouped = ([], []) if relations else _link_columns(frame, id_col, (valid_from, label_col, dated_by))
    taken = (id_col, valid_from, label_col, dated_by, *linked, *grouped)
    dropped = left_out(frame, taken, {str(c): infer_type(frame[c]) == "categorical" for c in frame.columns})
    out += ignore_lines(dropped)
    out += _attribute_lines(frame, skip=(*taken, *(c for c, _ in dropped)), label_found=bool(label_col or outcomes))
    for extra, file in (more_profile or {}).items():
        out += _more_profile_lines(extra, Path(file), id_col, frame)
    keys: dict[str, str] = {}
    for lookup, file in (lookups or {}).items():
        lines, key = _lookup_lines(lookup, Path(file), id_col)
        out += lines
        keys.update({lookup: key} if key else {})
    ids = frozenset(_texts(frame[id_col])) if id_col else frozenset()
    if events:
        out += _event_lines(Path(events), id_col, lookup_keys=keys, people_ids=ids)
    for source, file in more.items():
        out += _event_lines(Path(file), id_col, f"more_events.{source}", lookup_keys=keys, people_ids=ids)
    if relations:
        out += _relation_lines(Path(relations), ids)
    elif linked or grouped:
        out += ["", "# Relations written as columns of the people file (no relations file): check each.", "[relations]"]
        if linked:
            out.append(f"from_people = [{', '.join(map(toml_string, linked))}]  # check: values name other people "
                       "(a referrer): one relation each")
        if grouped:
            out.append(f"groups = [{', '.join(map(toml_string, grouped))}]  # check: people sharing a value are "
                       "connected (who shares one with whom is stored, never the value)")
        out.append("weighted = false")
    out += ["", "[outcomes]"]
    if outcomes:
        return "\n".join(out + header_line_of(Path(outcomes)) + _outcome_lines(Path(outcomes), id_col, ids)) + "\n"
    if label_col:
        out += ["# The label is a column of this file; give its bad (defaulted) and good values.",
                'source = "people"', f"label = {toml_string(label_col)}", *_label_values(frame[label_col])]
    else:
        out += ["# TODO: the label: a column of this file (source = \"people\"), an outcomes file (--outcomes), or,"
                "\n# with events, the history itself (source = \"events\", as_of_dates = [...], bad_when = [\"broken\"]:"
                "\n# bad when a broken commitment comes within window_days after a date).",
                'source = "outcomes"', 'label = "label"', 'bad = ["1"]', 'good = ["0"]']
    out += [f"as_of_column = {toml_string(dated_by)}  # check: each row is scored as of its own date" if dated_by
            else "as_of = 2024-01-01  # TODO: the date the outcomes are predicted from (features use what came before)",
            window_line(label_col)]
    return "\n".join(out) + "\n"


ROLE_HINTS = {  # role: (words in the header, the type it needs, the description it gets)
    "joined_at": (r"join|signup|sign_up|registered|member_since|customer_since|opened|onboard", "date",
                  "how long you have been a customer"),
    "income": (r"income|salary|earning|wage", "numeric", None),
    "credit_line": (r"credit_?line|credit_?limit|limit_?bal|spending_?limit", "numeric", None),
}


HISTORY_HINTS = re.compile(r"valid|effective|updated|changed|since|from|as_?of|snapshot|version|report")


def _suffixed_id(frame: pd.DataFrame) -> str | None:
    """The first column named for a record's number after any word (ID_SUFFIX: kunden_nr, client_no) that is
    filled and unique in every row and holds no contact data: the id, where no English id word names one."""
    return next((str(c) for c in frame.columns if ID_SUFFIX.search(header_words(str(c)))
                 and frame[c].nunique() == len(frame) and not contact_data(str(c), texts(frame[c]))), None)


def _history(frame: pd.DataFrame, id_col: str | None = None) -> tuple[str, str] | None:
    """(id column, valid-from column) of a people file with several rows per person: the given id column, or
    an id-like one (named so, else a text column repeating on a few rows each whose rows agree as a person's
    versions do), that repeats, and a date column that tells its rows apart (one named for a version's
    start first, then any); None otherwise. Why by values too: an id and a date are named in any language."""
    if id_col is not None and id_col in frame.columns:
        named, by_values = [id_col], []
    else:
        named = [str(c) for c in frame.columns if ID_HINTS.search(c.lower()) or ID_SUFFIX.search(header_words(c))]
        by_values = [c for c in repeating_texts(frame) if c not in named]
    dates = sorted((str(c) for c in frame.columns if infer_type(frame[c]) == "date"),
                   key=lambda c: HISTORY_HINTS.search(c.lower()) is None)  # stable: file order otherwise
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
        if len(filled) == n and PEOPLE_IDS < values < n and n <= VERSIONS * values \
                and infer_type(frame[col]) == "categorical" and not contact_data(str(col), filled):
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


PLACEHOLDER = re.compile(r"^column_\d+$")
"""The draft's own names for the columns of a file without a header line (format_guess.headerless_names)."""


def column_series(columns: Iterable[str]) -> list[list[str]]:
    """Groups of three or more columns that differ only in a trailing number (pay_amt1 ... pay_amt6): most
    likely one history written across columns, one per period."""
    groups: dict[str, list[str]] = {}
    for col in columns:
        if (m := SERIES.match(col)) is not None and not PLACEHOLDER.match(col):
            groups.setdefault(m[1].lower(), []).append(col)
    return [cols for cols in groups.values() if len(cols) >= 3]


def _more_profile_lines(name: str, path: Path, id_col: str | None, people: pd.DataFrame) -> list[str]:
    """The [more_profile.NAME] section of another file about the same people (or about something they
    share, joined on a column of the people file `people`), with its attributes."""
    frame = _sample(path)
    ident = id_col if id_col in frame.columns else next(
        (c for c in frame.columns if ID_HINTS.search(header_words(c)) and frame[c].is_unique), None)
    valid = None  # a person on several rows, told apart by a date: the file's own attribute history
    if ident is None or not frame[ident].is_unique:
        ident, valid = _history(frame, id_col) or (ident, None)
    shared = _shared_key(frame, people, id_col) if ident is None or ident != id_col else None
    ident = shared[0] if shared else ident
    valid = shared[2] if shared else valid
    out = ["", f"# More about the same people: {path.name}, joined by their id (ingest --people {name}={path.name}).",
           f"[more_profile.{name}]", *header_line_of(path),
           f"id_column = {toml_string(ident)}" if ident else 'id_column = "TODO"  # TODO: the column naming the person']
    if shared:
        per = f"one row per {shared[1]}" + (f" and {valid}" if valid else "")
        out[1] = f"# What people share: {path.name}, {per} (ingest --people {name}={path.name})."
        out.append(f"join_on = {toml_string(shared[1])}  # check: each person gets the row of their {shared[1]}")
        if valid:
            out.append(f"valid_from = {toml_string(valid)}  # check: a {shared[1]} has several rows, each true from "
                       "this date (an empty one: since always)")
    elif valid:
        out.append(f"valid_from = {toml_string(valid)}  # check: a person has several rows, each true from this date")
    dropped = left_out(frame, (ident, valid), {str(c): infer_type(frame[c]) == "categorical" for c in frame.columns})
    return out + ignore_lines(dropped) + _attribute_lines(frame, skip=(ident, valid, *(c for c, _ in dropped)),
                                                          section=f"more_profile.{name}")


def _shared_key(frame: pd.DataFrame, people: pd.DataFrame, id_col: str | None
                ) -> tuple[str, str, str | None] | None:
    """(this file's key column, the people file's column, the date column telling a key's versions apart or
    None) where the key names every value the people's column holds and that column repeats values: a table
    of districts, branches or products that people share (Berka's district.asc, keyed A1, beside
    account.asc's district_id), one row per key, or one per key and date where it keeps their history."""
    dates = [c for c in frame.columns if infer_type(frame[c]) == "date"]
    for key in (c for c in frame.columns if frame[c].notna().all()):
        unique = frame[key].is_unique
        told = None if unique else next((d for d in dates if d != key and not frame.duplicated([key, d]).any()), None)
        if not unique and told is None:  # repeated, and no date tells its rows apart: not a key
            continue
        values = set(frame[key].astype(str).str.strip())
        for col in (c for c in people.columns if c != id_col):
            held = people[col].dropna().astype(str).str.strip()
            held = held[held != ""]
            if len(held) and held.duplicated().any() and held.isin(values).mean() >= 0.99:
                return str(key), str(col), told
    return None


def _attribute_lines(frame: pd.DataFrame, skip: Iterable[str | None], section: str = "profile",
                     label_found: bool = True) -> list[str]:
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
            cols = series[col]
            out += ["", f"# check: {cols[0]} ... {cols[-1]} ({len(cols)} columns) look like one history written across",
                    "# columns, one per period. Declared as attributes, each is a feature of its own and no fulfilment",
                    "# or sequence feature sees them; written as one row per event they become a history (see",
                    "# 'A history written across columns' in docs/bring-your-own-data.md)."]
        kind = infer_type(frame[col])
        words = header_words(col)
        zeros = leading_zeros(frame[col])  # infer_type's rule: codes (007), drafted categorical
        code = zeros or POSTCODE_HINTS.search(words) is not None and kind in ("numeric", "categorical")
        written = number_in_text(frame[col]) if kind == "categorical" and not code else None
        kind = "categorical" if code else "numeric" if written else kind
        attr = unique_name(sql_safe(words if not re.match(IDENTIFIER, col) else col), names)
        out += ["", f"[[{section}.attributes]]", f"name = {toml_string(attr)}"]
        if attr != col:
            out.append(f"column = {toml_string(col)}")
        said = "written with leading zeros (007): a code, never a quantity, so a category" if zeros else \
            "a postcode names a place, never a quantity, so a category (or a coarser region: its first digits)"
        out.append(f"type = {toml_string(kind)}" + (f"  # check: {said}" if code else ""))
        if not label_found and (rare := rare_of_two(frame[col])):
            out.append(f"# check: is this the label? two values, {rare[0]!r} in {rare[1]:.0%} of rows (as a default "
                       "is): if so, name it under [outcomes] (source = \"people\") and drop this attribute")
        if written:
            example, around = written
            out.append(f"number_in_text = true  # check: {toml_string(example)} is read as its number")
        role = next((r for r, (hint, needs, _) in ROLE_HINTS.items() if r not in roles and kind == needs
                     and re.search(hint, words) and not COUNT_HINTS.search(words)), None)
        if role:
            roles[role] = col
            out.append(f"role = {toml_string(role)}  # check: what the capacity templates read it as")
        if kind == "numeric" and (codes := special_codes(frame[col])):
            listed = ", ".join(f"{toml_string(c)} = \"TODO\"" for c in codes)
            out.append(f"# special = {{ {listed} }}  # check: {', '.join(codes)} "
                       f"{'stands' if len(codes) == 1 else 'stand'} apart from the other values: codes, not "
                       "quantities? Say what each means and keep the line")
        if kind == "numeric" and not written and never_negative(frame[col]):
            out.append("min = 0  # check: no value in the sample is negative; one below 0 is refused at its row")
        around = written[1] if written else ""
        if kind == "numeric" and (unit := around if around == "%" or around.isalpha() else unit_of(words)):
            out.append(f"unit = {toml_string(unit)}  # check: what a reason shows after the value")
        if kind == "categorical" and frame[col].nunique() <= 12 and not code:
            listed = ", ".join(toml_string(str(v)) for v in sorted(frame[col].dropna().unique()))
            out.append(f"# values: {listed} (ordered? make it type = \"ordinal\" with order = [...])")
        if kind == "categorical":
            out += aliases_line(spelling_groups(frame[col]))
        dim = dimension_of(words)
        out.append(f"dimension = {toml_string(dim)}  # check: guessed from the name" if dim else
                   'dimension = "identity"  # TODO: choose the dimension this attribute speaks to')
        said = header_text(col)
        text = (ROLE_HINTS[role][2] if role else None) or description_of(said, kind)
        out.append(f"description = {toml_string(text)}")
        out.append('improve = ""')
        if kind == "categorical":
            out.append("# improve_towards = []  # with an improve text: the values it moves a person towards (a "
                       "person already in one is not told it)")
        if PROTECTED_HINTS.search(words):
            out.append("protected = true  # looks like a protected attribute: audited, never a model input")
            out.append("actionable = false")
        elif kind == "date" and born_before is not None and birth_date_like(frame[col], born_before[col]):
            out.append("protected = true  # looks like a birth date (its dates lie 16 to 100 years before the file's "
                       "latest date): age is protected, audited, never a model input")
            out.append("actionable = false")
    return out


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3` ... where an earlier attribute took it; recorded as taken."""
    out = name if name not in taken else next(f"{name}_{i}" for i in range(2, len(taken) + 3)
                                               if f"{name}_{i}" not in taken)
    taken.add(out)
    return out


def latest_date(frame: pd.DataFrame) -> dict[str, pd.Timestamp] | None:
    """For each column, the latest date of the file's other date columns (when the file was written, about),
    or today where it has no other: what a birth date's age is counted to."""
    dates = {str(c): pd.to_datetime(texts(frame[c]), errors="coerce", format="ISO8601", utc=True).max()
             for c in frame.columns if infer_type(frame[c]) == "date"}
    if not dates:
        return None
    today = pd.Timestamp.now(tz="UTC")
    return {c: max((d for other, d in dates.items() if other != c and pd.notna(d)), default=today)
            for c in dates}


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


def _link_columns(frame: pd.DataFrame, id_col: str | None, skip: Iterable[str | None]) -> tuple[list[str], list[str]]:
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
        elif GROUP_HINTS.search(words) and infer_type(frame[col]) == "categorical" and values.duplicated().any() \
                and values.nunique() >= max(3, 0.05 * len(values)):  # many small groups, not a yes/no attribute
            grouped.append(col)
    return linked, grouped


OUTCOME_CODES = re.compile(r"status|state|result")
"""A header that may hold a loan's outcome as codes (a bank's loan status A, B, C, D): proposed as the label,
last, with its values for the user to sort into bad and good."""


def _label_column(frame: pd.DataFrame, exclude: Iterable[str | None]) -> str | None:
    """A two-valued column named like a label, else one whose values read as outcomes in words (at least one
    bad and one good, every value placed: Charged Off, Fully Paid, Current)."""
    cols = [c for c in frame.columns if c not in set(exclude)]
    two = [c for c in cols if frame[c].nunique() == 2]
    named = next((c for hints in LABEL_HINTS for c in two if hints.search(header_words(c))), None)
    return named or next((c for c in cols if 2 <= frame[c].nunique() <= 12 and outcomes_in_words(frame[c]) is not None),
                         None) or next((c for hints in (*LABEL_HINTS, OUTCOME_CODES) for c in cols
                                        if 2 <= frame[c].nunique() <= 12 and hints.search(header_words(c))), None)


def _label_values(values: pd.Series) -> list[str]:
    """The bad, good (and not-known-yet) lines of a label column's draft."""
    empty = bool((values.isna() | (values.astype("string").str.strip() == "")).any())
    words = outcomes_in_words(values)
    if words is None:
        found = [str(v) for v in sorted(values.dropna().unique()) if str(v).strip()]
        bad = next((v for v in found if re.search(r"bad|default|^1$|yes|true", v.lower())), found[-1])
        pending = [v for v in found if v != bad and re.search(PENDING_WORDS, identifier(v))]
        words = {"bad": [bad], "good": [v for v in found if v != bad and v not in pending], "unknown": pending}
    listed = {k: ", ".join(toml_string(v) for v in vs) for k, vs in words.items()}
    out = [f"bad = [{listed['bad']}]  # TODO: check which value means bad", f"good = [{listed['good']}]"]
    pending = [toml_string(v) for v in words["unknown"]] + ([toml_string("")] if empty else [])
    if pending:
        out.append(f"unknown = [{', '.join(pending)}]  # check: outcomes not known yet (left out of the labels)")
    return out


# --- events, relations and outcomes files -------------------------------------------------------------

MAX_VALUES = 200
"""A kind or status column lists at most this many values; more means it is not a vocabulary."""
EVENT_ROLES = {  # DeepCredit's column: (words its header may contain, the types it may have); picked in
    "due_ts": (r"due|instal|schedul", ("date",)),  # this order, so a due or settled date is never taken for the
    "settled_ts": (r"settl|paid|payment|return|closed|complet|finish|ended|resolv", ("date",)),  # event's date
    "ts": (r"ts$|date|time|_at$|_on$|when|day$", ("date",)),
    "kind": (r"kind|type|event|what|category|product|item|channel", ("categorical", "boolean")),
    "status": (r"status|state|outcome|result", ("categorical", "boolean")),
    "days_late": (r"late|overdue|past_?due|dpd|arrear", ("numeric",)),
    "amount": (r"amount|amt|value|sum|total|price|fee|eur|usd|gbp|cny|rmb|money|paid|cost", ("numeric",)),
    "counterparty": (r"merchant|counterparty|payee|shop|store|lender|partner", ("categorical",)),
}
ONE_KIND = ('kind = ""  # check: no kind column found, so every row is of the one kind declared below (a file of '
            'one kind: kind = ""); else name the column')
MISSING_EVENT_ROLE = {
    "amount": 'amount = ""  # none found: name the column holding the money, or leave it empty (no amounts: '
              "every kind's amount is then neutral)",
}
"""What the draft writes for a required event column it did not find, where there is more to say than TODO."""
GRACE_HINT = ("# grace_days = 30  # optional: a row not settled within 30 days after its due day is broken from "
              "then, however it ended later")
WITHOUT_STATUS = {
    "dates": 'status = ""  # none found: each row\'s status is told from its due and settled dates (on_time, late, '
             "missed, open)",
    "days_late": 'status = ""  # none found: each row\'s status is told from its days late (on_time, late; missed '
                 "from missed_after_days under the section, if you set it)",
    "activity": 'status = ""  # none found: an activity log, each row recorded (neither kept nor broken); name the '
                "column if there is one",
}
"""What the draft writes for a file without a status column: its statuses are then derived (spec_events)."""
DAY_NUMBERS = re.compile(r"(^|_)days?(_|$)", re.IGNORECASE)
MONTH_NUMBERS = re.compile(r"(^|_)months?(_|$)", re.IGNORECASE)
"""A numeric column named so may be a date written as months from a reference date ([format] month_columns)."""
"""A numeric column named so may be a date written as days from a reference date ([format] days_from)."""
OPTIONAL_EVENT_COLUMNS = {
    "days_late": "", "due_ts": "", "counterparty": "",
    "settled_ts": "rows are dated by it where set: their outcome is known from then, not when they were made",
}
"""The optional event columns, with what the draft says about one it found."""
CALLED_OFF = r"cancel|void|withdraw|refund|revers|storn"
"""A status that calls a commitment off (cancelled, voided, refunded, reversed): neutral, and it owes nothing."""
STATUS_WORDS = (  # first match wins: 'returned_late' is late, 'not_returned' and 'unpaid' broken
    ("late", r"late|overdue|delay|slow|past_?due|arrear"),
    ("neutral", CALLED_OFF),  # called off before it was due: no commitment kept or broken
    ("broken", r"miss|default|bounc|lost|^not|_not|unpaid|fail|declin|reject|charge_?off|writ(e|ten)|negative|"
               r"stolen|damag|fraud"),
    ("open", r"open|pending|due|outstanding|active|progress|ongoing"),
    ("kept", r"ok|on_?time|paid|settled|return|complete|success|positive|full|done|kept|good|closed|repaid"),
)
MONEY_NOUNS = r"(^|_)(instal+ments?|repayments?|bills?|premiums?|rent|dues?|balance_due)$"
"""A numeric history column named, whole or at its end, for what its money is: the amount where no column
has a money word (amount, value, price, ...)."""
AMOUNT_WORDS = (  # first match wins: an instalment_payment is paid, an instalment (what falls due) owed
    ("paid", r"pay|paid|repay|settle|deposit|refund|credit_?transfer"),
    ("owed", r"instal|bill|invoice|rent|order|statement|loan|purchase|charge|fee|booking|subscription"),
    ("rating", r"rating|review|score|trust"),
)
TWO_SIDED = r"instal"
TWO_SIDED_NOTE = "an instalment that falls due is owed, as the docs' ledgers declare it; one that records money " \
                 "paid is paid"
"""A kind's word that names both sides: drafted owed, its note saying when it is paid instead."""
FLOW_WORDS = (
    ("received", r"salary|income|wage|pension|incoming|inflow|receiv|receipt|top_?up|cash_?in|^in$|_in$|^credit$"),
    ("spent", r"purchase|withdraw|spend|spent|outgoing|outflow|cash_?out|^out$|_out$|^debit$|atm|pos$|card_?pay"),
)
"""Kinds of an activity log (no statuses: a bank's transactions) move money in or out; tried before
AMOUNT_WORDS there, so a purchase is money spent rather than a bill owed."""


def _guess(value: str, words: tuple[tuple[str, str], ...]) -> str | None:
    return next((meaning for meaning, pattern in words if re.search(pattern, value.lower())), None)


def _types(frame: pd.DataFrame) -> dict[str, str]:
    return {c: infer_type(frame[c]) for c in frame.columns}


def _pick(types: dict[str, str], pattern: str, allowed: tuple[str, ...], taken: set[str]) -> str | None:
    """The first free column whose header has one of the words and whose values have an allowed type."""
    return next((c for c, t in types.items() if c not in taken and t in allowed and re.search(pattern, c.lower())),
                None)


def _person_column(types: dict[str, str], id_col: str | None, taken: set[str]) -> str | None:
    if id_col and id_col in types:
        return id_col
    return _pick(types, ID_HINTS.pattern + r"|person|user|member", tuple(set(types.values())), taken)


ID_SHARE = 0.5
"""A column holds the people's ids where at least this share of its distinct values are ids of the people
file's sample (a sample of a large people file may not hold everyone a history names)."""
BY_VALUES = "  # check: its values are ids of the people file"


def people_id_columns(frame: pd.DataFrame, ids: frozenset[str], taken: set[str]) -> dict[str, int]:
    """{column: how many of the people file's ids it holds} for each free column whose values are mostly
    those ids (ID_SHARE; two at least), in file order. Why: a column named for nothing an id is called
    (cust, linked_ref) still tells by its values whom it names."""
    found = {}
    for col in frame.columns:
        values = set(_texts(frame[col])) if ids and col not in taken else set()
        hits = len(values & ids)
        if hits >= 2 and hits >= ID_SHARE * len(values):
            found[str(col)] = hits
    return found


def _person_by_values(frame: pd.DataFrame, ids: frozenset[str], taken: set[str]) -> str | None:
    """The free column holding the most of the people file's ids (people_id_columns), or None."""
    found = people_id_columns(frame, ids, taken)
    return max(found, key=lambda c: found[c]) if found else None


def _vocabularies(path: Path, columns: list[str]) -> dict[str, list[str] | None]:
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
        found = _texts(frame[c])
        out[c] = found if len(found) <= MAX_VALUES else None
    return out


def _ignored(types: dict[str, str], taken: set[str]) -> list[str]:
    rest = [c for c in types if c not in taken]
    if not rest:
        return []
    return [f"ignore = [{', '.join(toml_string(c) for c in rest)}]  # TODO: columns not used; declare any that matter"]


def _parts_of(frame: pd.DataFrame, person: str | None, due: str | None, taken: set[str]) -> list[str]:
    """The columns naming a commitment, where rows share a person and a due date (a payment in parts): the
    file's other id-like and number-like columns that repeat; none where no two rows share both."""
    if not person or not due or not frame.dropna(subset=[due]).duplicated([person, due]).any():
        return []
    return [c for c in frame.columns if c not in taken and PART_HINTS.search(header_words(c))
            and not frame[c].is_unique]  # a row number (line_no) groups no parts


def _repeats_amount(frame: pd.DataFrame, keys: list[str], amount: str | None) -> bool:
    """Whether, among the sample's commitments written in several rows, every row repeats the same amount."""
    if not amount or not all(keys):
        return False
    sizes = frame.groupby(keys, dropna=False)[amount].agg(["size", "nunique"])
    several = sizes[sizes["size"] > 1]
    return bool(len(several)) and bool((several["nunique"] <= 1).all())


def _lookup_lines(name: str, path: Path, id_col: str | None) -> tuple[list[str], str | None]:
    """The [lookups.NAME] section of a table saying whose each key is, and the key it found."""
    frame = _sample(path)
    types = _types(frame)
    person = id_col if id_col in types else _person_column(types, None, set())
    unique = [c for c in frame.columns if c != person and frame[c].mask(frame[c] == "").dropna().is_unique]
    key = next((c for c in unique if ID_HINTS.search(header_words(c)) or PART_HINTS.search(header_words(c))),
               unique[0] if unique else None)
    out = ["", f"# Lookup: {path.name}. Whose each key is (ingest --lookup {name}={path.name}); a history file "
               "keyed by it says person_via.", f"[lookups.{name}]", *header_line_of(path),
           f"key = {toml_string(key)}  # check: unique in the file" if key else 'key = "TODO"  # TODO: the key column',
           f"person_id = {toml_string(person)}" if person else 'person_id = "TODO"  # TODO: the person column']
    out += _ignored(types, {key or "", person or ""})
    return out, key


def _dates_by_values(frame: pd.DataFrame, types: dict[str, str], found: dict[str, str | None],
                     taken: set[str]) -> dict[str, str]:
    """due_ts and settled_ts where no header word named both: a pair of date columns that behave so (draft_roles
    .date_pair), set in `found` and `taken`; the check saying why, by role."""
    if found["due_ts"] and found["settled_ts"]:
        return {}
    free = [c for c, t in types.items() if t == "date" and c not in taken]
    pair = date_pair(frame, [found["due_ts"]] if found["due_ts"] else free,
                     [found["settled_ts"]] if found["settled_ts"] else free)
    if pair is None:
        return {}
    due, settled, share = pair
    why = {"due_ts": f"{settled} is on or after it on {share:.0%} of the rows setting both: when each fell due",
           "settled_ts": f"empty on some rows, else on or after {due} on {share:.0%} of them: when each was settled"}
    checks = {}
    for role, col in (("due_ts", due), ("settled_ts", settled)):
        if found[role] is None:
            found[role], checks[role] = col, why[role]
            taken.add(col)
    return checks


def _others_by_values(frame: pd.DataFrame, types: dict[str, str], found: dict[str, str | None], taken: set[str],
                      person: str | None, section: str) -> dict[str, str]:
    """days_late, amount, status and kind where no header word named them, found by their values (draft_roles),
    set in `found` and `taken`; the check saying why, by role."""
    checks = {}
    numbers = [c for c, t in types.items() if t == "numeric" and c not in taken and _measure_like(c, frame[c])]
    due, settled = found["due_ts"], found["settled_ts"]
    if found["days_late"] is None and due and settled and due != settled \
            and (late := days_late_column(frame, numbers, due, settled)):
        found["days_late"] = late[0]
        checks["days_late"] = f"the whole days from {due} to {settled} (0 when in time) on {late[1]:.0%} of the rows"
    taken.add(found["days_late"] or "")
    if found["amount"] is None and (money := amount_column(frame, [c for c in numbers if c not in taken])):
        below = below_zero(frame[money])
        found["amount"], checks["amount"] = money, "its values look like money (never below 0, many and spread)" \
            if not below else (f"its values look like money (many and spread), below 0 on {share(below)} of the rows: "
                               "signed, money in when above 0 and out when below? (so each kind below 0 is drafted)")
        if whole_numbers(frame[money]):
            checks["amount"] += f"; all whole numbers: if they count cents, set amount_scale = 0.01 under [{section}]"
        taken.add(money)
    words = [c for c, t in types.items() if t in ("categorical", "boolean") and c not in taken and _named_as_data(c)]
    if found["status"] is None and (status := status_column(frame, words, STATUS_WORDS, MAX_CATEGORIES)):
        found["status"], checks["status"] = status[0], f"{status[1]} of its {status[2]} values read as statuses"
    taken.add(found["status"] or "")
    kinds = [c for c in words if c not in taken and not PART_HINTS.search(header_words(c))]  # no commitment's name
    if found["kind"] is None and person and (kind := kind_column(frame, kinds, person, MAX_CATEGORIES)):
        found["kind"] = kind
        checks["kind"] = f"no header says kind, but its {len(_texts(frame[kind]))} values may be the rows' kinds"
        taken.add(kind)
    return checks


def _event_lines(path: Path, id_col: str | None, section: str = "events",
                 lookup_keys: dict[str, str] | None = None, people_ids: frozenset[str] = frozenset()) -> list[str]:
    """The [events] section of a history file (or [more_events.NAME], `section`, for a further one); a file
    without the person column but with a lookup table's key names that table as its person_via."""
    frame = _sample(path)
    types = _types(frame)
    via = next(((name, key) for name, key in (lookup_keys or {}).items() if key in types and id_col not in types),
               None)
    days = [c for c, t in types.items() if t == "numeric" and DAY_NUMBERS.search(c)]
    months = [c for c, t in types.items() if t == "numeric" and MONTH_NUMBERS.search(c)]
    relative = "date" not in types.values() and bool(days or months)
    if relative:  # dates written as numbers: proposed for the date roles, once [format] says what they count from
        types = {c: "date" if c in days or c in months else t for c, t in types.items()}
    taken: set[str] = set()
    person = via[1] if via else _person_column(types, id_col, taken)
    by_values = person is None and (person := _person_by_values(frame, people_ids, taken)) is not None
    taken.add(person or "")
    found: dict[str, str | None] = {}
    for role, (pattern, allowed) in EVENT_ROLES.items():
        found[role] = _pick(types, pattern, allowed, taken)
        taken.add(found[role] or "")
    checks = {} if relative else _dates_by_values(frame, types, found, taken)
    if found["ts"] is None:  # any other date; else a schedule dated by its due dates
        found["ts"] = _pick(types, ".", ("date",), taken) or found["due_ts"]
        if found["ts"] not in (None, found["due_ts"]) and not relative:  # relative dates are marked check already
            dates = sum(t == "date" for t in types.values())
            checks["ts"] = ("its name says no date, but it is the file's only date column" if dates == 1 else
                            f"its name says no date: the first of the file's {dates} date columns no other role "
                            "took") + ": each row is dated by it"
        taken.add(found["ts"] or "")
    if found["amount"] is None:  # no money word: a column named for what the money is (an instalment, a bill)
        found["amount"] = _pick(types, MONEY_NOUNS, ("numeric",), taken)
        taken.add(found["amount"] or "")
    found["amount"], paid = _owed_and_paid(types, found["amount"], taken)
    taken.add(paid or "")
    checks.update(_others_by_values(frame, types, found, taken, person, section))
    out = ["", f"# Events: {path.name}. Each row one commitment or activity of a person, as of its date."
           + ("" if section == "events" else " Stored with [events]: a kind or status named in both must mean the "
              "same."), f"[{section}]", *header_line_of(path)]
    if via:
        out.append(f"person_via = {toml_string(via[0])}  # check: its {via[1]} names whose row it is, through the "
                   "lookup table")
    if relative and days:
        out += [f"# TODO: no date column, but {', '.join(days)} look like dates written as numbers of days: name",
                "# the date they count from as days_from = YYYY-MM-DD under [format]; they are proposed below as",
                "# dates (ts, due_ts, settled_ts): check."]
    codes = {c: code for c in (*days, *months) if relative
             for code in sentinel(pd.to_numeric(frame[c], errors="coerce").dropna())}
    for coded, code in codes.items():
        out += [f"# TODO: {coded} holds {code}, far beyond its other values: a code for 'never' or 'not yet'?",
                f"# Read it as an empty cell with missing = [{toml_string(code)}] under [format]."]
    frame = frame.assign(**{c: frame[c].mask(frame[c].astype(str) == code) for c, code in codes.items()})
    if relative and months:
        out += [f"# TODO: no date column, but {', '.join(months)} look like dates written as numbers of months:",
                "# under [format], name the date they count from as days_from = YYYY-MM-DD and list them in",
                f"# month_columns = [{', '.join(map(toml_string, months))}]; they are proposed below as dates: check."]
    if parts := _parts_of(frame, person, found["due_ts"], taken):
        out.append(f"parts_of = [{', '.join(toml_string(c) for c in parts)}]  # check: rows share a person and a "
                   "due date, so one commitment seems paid in parts: these columns tell commitments apart")
        taken |= set(parts)
        if _repeats_amount(frame, [person or "", *parts], found["amount"]):
            out.append('parts_amount = "once"  # check: the parts of a commitment all hold the same amount: its '
                       "whole amount, repeated (else \"sum\": each part holds its own)")
    told = "dates" if found["due_ts"] and found["settled_ts"] else "days_late" if found["days_late"] else "activity"
    vocab = _vocabularies(path, [c for c in (found["kind"], found["status"]) if c])
    one_kind = identifier(path.name.split(".")[0])
    kinds = set(vocab.get(found["kind"]) or ()) if found["kind"] else {one_kind}
    payment = next(n for n in ("payment", "payment_made", "amount_paid_kind") if n not in kinds)
    if paid:
        out.append(f'paid_kind = "{payment}"  # check: what each row paid ({paid}) becomes a payment event beside '
                   "the row's commitment")
    measures = [] if parts else [c for c, ty in types.items() if ty == "numeric" and c not in taken
                                 and _measure_like(c, frame[c])]
    taken |= set(measures)
    # no person column found: one of the text columns is it, so none is proposed as a category
    categories = [] if parts or not person else [c for c, ty in types.items() if ty == "categorical"
                                                 and c not in taken and _category_like(c, frame[c])]
    taken |= set(categories)
    out += _ignored(types, taken)
    if found["due_ts"] and found["settled_ts"]:
        out += [GRACE_HINT]
    if section == "events":
        out.append('# commitment_word = "return"  # where a commitment is not a payment (a rental\'s return): the '
                   "word of the delay and streak texts")
    out += ["", f"[{section}.columns]"]
    out.append(f"person_id = {toml_string(person)}{BY_VALUES if by_values else ''}" if person
               else 'person_id = "TODO"  # TODO: the column naming the person')
    for role in ("ts", "kind", "amount", "status"):
        col = found[role]
        if col:
            out.append(f"{role} = {toml_string(col)}" + (f"  # check: {checks[role]}" if role in checks else ""))
        elif role == "status":
            out.append(WITHOUT_STATUS[told])
        elif role == "kind":
            out.append(ONE_KIND)
        else:
            out.append(MISSING_EVENT_ROLE.get(role, f'{role} = "TODO"  # TODO: the column holding the event\'s {role}'))
    for role, why in OPTIONAL_EVENT_COLUMNS.items():
        col, said = found[role], "; ".join(w for w in (checks.get(role), why) if w)
        out.append(f"{role} = {toml_string(col)}  # check" + (f": {said}" if said else "") if col
                   else f'{role} = ""  # none found; name the column if there is one')
    if paid:
        out.append(f"paid_amount = {toml_string(paid)}  # check: the money paid against the row's amount owed")
    out += ["", "# What each kind's amount is: owed (a bill), paid (a repayment), received or spent (money in or out),",
            "# signed (in when positive, out when negative), rating, or neutral.", f"[{section}.kinds]"]
    activity = not found["status"] and told == "activity"
    words = (*FLOW_WORDS, *AMOUNT_WORDS) if activity else AMOUNT_WORDS
    if found["kind"]:
        signs = signed_kinds(frame, found["kind"], found["amount"]) if found["amount"] else {}
        out += _meanings(found["kind"], vocab, words if found["amount"] else (), "amount", "neutral", signs)
    else:
        amount = "owed" if paid else _one_amount(frame, found["amount"], words, activity) if found["amount"] else "neutral"
        out.append(f'{one_kind} = {{ amount = "{amount}" }}  # the one kind of this file: '
                   "check its name (reason codes show it) and what its amount is")
    if paid:
        out.append(f'{payment} = {{ amount = "paid", commitment = false }}  # the payments of paid_amount: money '
                   "paid, not a commitment")
    if found["status"]:
        out += ["", "# What each status means: kept, late (still paid), broken (never counts as paid), open, neutral.",
                f"[{section}.statuses]"]
        ledger = Ledger(found["status"], found["ts"], found["due_ts"], found["settled_ts"], found["days_late"])
        behaved = {v: (b.meaning, b.evidence) for v, b in status_behaviour(frame, ledger).items()}
        out += _meanings(found["status"], vocab, STATUS_WORDS, "meaning", "neutral", behaved)
    out += _measure_lines(section, measures) + _category_lines(section, {c: frame[c] for c in categories})
    if section == "events":  # the commitments' rhythm (an activity log's rows say nothing of it)
        commitments = found["status"] or told != "activity"
        out += windows_hint(median_gap_days(frame, person, found["ts"]) if commitments else None)
    return out


DOCUMENT_NUMBER = re.compile(r"(^|_)(no|nr|num|number|ref|code|zip|postcode|seq|sequence|version)$")
"""A numeric column named so numbers a document or a place (order_no, zip): no measure."""


def _measure_like(column: str, values: pd.Series) -> bool:
    """Whether a numeric column of a history file is a quantity each row records (a balance), not an id,
    a document's number (order_no; whole numbers rising row by row) or a column the draft named itself."""
    if not _named_as_data(column):
        return False
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return not (len(numbers) > 2 and (numbers == numbers.round()).all() and numbers.is_monotonic_increasing
                and numbers.is_unique)


MAX_CATEGORIES = 30
"""A text column of a history file with at most this many values (in the sample) is proposed as a category
each row records (a channel, a trade); more is a free text or an id, unless its values repeat (ROWS_PER_VALUE)."""
MAX_HASHED_VALUES, ROWS_PER_VALUE = 2000, 20
"""A text column of more values is still a category (a merchant's trade code) where it has at most
MAX_HASHED_VALUES of them and at least ROWS_PER_VALUE rows per value: the draft gives it `buckets`."""


def _category_like(column: str, values: pd.Series) -> bool:
    """Whether a text column of a history file is a category each row records, not an id or a free text."""
    found = len(_texts(values))
    if not _named_as_data(column) or found < 2:
        return False
    rows = int(values.dropna().astype(str).str.strip().ne("").sum())
    return found <= MAX_CATEGORIES or (found <= MAX_HASHED_VALUES and rows >= ROWS_PER_VALUE * found)


def _named_as_data(column: str) -> bool:
    """Whether a column's name leaves it a value each row records: not an id, a document's number (order_no)
    or a name the draft gave a column without one (column_N)."""
    words = header_words(column)
    return not (ID_HINTS.search(words) or DOCUMENT_NUMBER.search(words) or PLACEHOLDER.match(column))


def _texts(values: pd.Series) -> list[str]:
    """The distinct non-blank texts of a column, sorted."""
    return sorted(v for v in values.dropna().astype(str).str.strip().unique() if v)


def spelling_groups(values: pd.Series) -> dict[str, list[str]]:
    """Values of a column that differ only in case, or in the spaces and punctuation around and between their
    letters ("F" and "f", "Post-Paid" and "postpaid", "self employed" and "self_employed"), grouped: each
    group's most frequent way of writing (the first in sorted order among equals) with its other ways, as
    `aliases` would declare them. Values of no letter or digit are never grouped ("-" and "?")."""
    text = values.dropna().astype(str).str.strip()
    counts = text[text != ""].value_counts()
    groups: dict[str, list[tuple[int, str]]] = {}
    for value, n in counts.items():
        key = re.sub(r"[\W_]+", "", str(value).casefold())
        if key:
            groups.setdefault(key, []).append((-int(n), str(value)))
    out: dict[str, list[str]] = {}
    for written in groups.values():
        if len(written) > 1:
            first, *others = [v for _, v in sorted(written)]
            out[first] = sorted(others)
    return dict(sorted(out.items()))


def aliases_line(groups: dict[str, list[str]]) -> list[str]:
    """The `aliases` a draft proposes for spelling_groups, with what to check (nothing where none)."""
    if not groups:
        return []
    listed = ", ".join(f"{toml_string(k)} = [{', '.join(map(toml_string, v))}]" for k, v in groups.items())
    return [f"aliases = {{ {listed} }}  # check: written alike but for case or punctuation, so read as one "
            "category; add other ways of writing one (a translation, an abbreviation), or drop a group that "
            "means two things"]


MAX_DECLARED_VALUES = 8
"""A category of at most this many values gets every value declared in the draft (each one's share a feature,
and a channel of the sequence members); more: one commented example, for the user to choose the values that
matter, and `buckets`, through which the sequence members learn every value."""


def suggested_buckets(values: int) -> int:
    """Hash buckets for a category of this many values: a power of two at least twice as many, so that most
    values keep a bucket of their own (16 at least)."""
    return max(16, 1 << (2 * values - 1).bit_length())


def _category_lines(section: str, columns: dict[str, pd.Series]) -> list[str]:
    """A categorical [[section.measures]] table for each other category the rows record: its latest value
    becomes a feature, and the share of each value declared under `values` (every value, where few)."""
    out = ["", "# Categories each row records: the latest becomes a feature; each value declared under `values`",
           "# becomes a share feature, with its words and risk direction (1: more of it, more risk; -1: less;",
           "# 0: not known), and a channel of the sequence members. Move a column that means nothing to ignore."
           ] if columns else []
    for col, values in columns.items():
        groups = spelling_groups(values)
        merged = {v for others in groups.values() for v in others}
        found, name = [v for v in _texts(values) if v not in merged], _measure_name(col)
        words = name.replace("_", " ")
        out += [*_measure_head(section, col), 'type = "categorical"', 'dimension = "behaviour_preferences"  # check',
                f"description = {toml_string('your ' + words)}", *aliases_line(groups)]
        labels = [f"{name}_{identifier(v)}" for v in found]  # named apart from the shares of other measures
        if len(found) <= MAX_DECLARED_VALUES and len(set(labels)) == len(labels):
            out.append("# check each value's words and risk_direction; drop a value whose share means nothing")
            out += [f"values.{toml_string(v)} = {{ label = {toml_string(label)}, description = "
                    f"{toml_string(f'how often your {words} is {v}')}, risk_direction = 0 }}"
                    for v, label in zip(found, labels, strict=True)]
        else:
            seen, example = found[:3], found[0]  # a category-like column holds 2 values or more
            out += [f"# values seen: {', '.join(map(toml_string, seen))}{', ...' if len(found) > 3 else ''}; "
                    "declare those that matter, for example:",
                    f"# values = {{ {toml_string(example)} = {{ description = \"how often ...\", risk_direction = 0 }} }}",
                    f"buckets = {suggested_buckets(len(found))}  # every value hashed into one of this many buckets, "
                    "each learned by the sequence members"]
        out.append("")
    return out


def _measure_lines(section: str, columns: list[str]) -> list[str]:
    """A [[section.measures]] table for each other number the rows record (a balance after the row, the
    credit in use): its latest value, level and trend become features."""
    out = ["", "# Other numbers each row records: their latest value, level and trend become features. Check each;",
           "# move one that means nothing (a code, a number of a document) to ignore."] if columns else []
    for col in columns:
        out += [*_measure_head(section, col), 'dimension = "fulfilment_capacity"  # check',
                f"description = {toml_string('your ' + _measure_name(col).replace('_', ' '))}",
                "risk_direction = 0  # +1 if a higher value is riskier, -1 if safer", ""]
    return out


def _measure_name(column: str) -> str:
    """The name a history file's column is stored under as a measure (never one of the events table's own,
    nor a word SQL reserves)."""
    name = identifier(column)
    return f"{name}_value" if name in MEASURE_RESERVED else sql_safe(name)


def _measure_head(section: str, column: str) -> list[str]:
    """The first lines of a column's [[section.measures]] table: its name, and its header where that differs."""
    name = _measure_name(column)
    return [f"[[{section}.measures]]", f"name = {toml_string(name)}",
            *([f"column = {toml_string(column)}"] if name != column else [])]


def _one_amount(frame: pd.DataFrame, column: str, words: tuple[tuple[str, str], ...], activity: bool) -> str:
    """What the amount of a one-kind file means: guessed from its header; in an activity log, amounts
    both above and below 0 are money in and out (signed); else a bill (owed), or, where some amounts are
    below 0 (which an amount owed may be only as a balance), signed."""
    amounts = pd.to_numeric(frame[column], errors="coerce")
    if activity and (amounts < 0).any() and (amounts > 0).any():
        return "signed"
    return _guess(column, words) or ("signed" if (amounts < 0).any() else "owed")


def signed_kinds(frame: pd.DataFrame, kind: str, amount: str) -> dict[str, tuple[str | None, str]]:
    """{kind: ("signed", the evidence)} for each kind whose amounts in the sample are below 0 on some rows:
    what `_meanings` proposes for a kind its word says nothing of (an amount paid, spent or received is
    never below 0; a signed one is money in above 0 and out below)."""
    shares = pd.to_numeric(frame[amount], errors="coerce").lt(0).groupby(texts(frame[kind]).reindex(frame.index))
    return {str(k): ("signed", f"its amount is below 0 on {share(part)} of its {shares.size()[k]} rows: money in "
                               "when above 0, out when below")
            for k, part in shares.mean().items() if part > 0}


PAID_WORDS = re.compile(r"pay|paid")
"""An amount column named so holds what was paid (Home Credit's AMT_PAYMENT beside AMT_INSTALMENT)."""


def _owed_and_paid(types: dict[str, str], amount: str | None, taken: set[str]) -> tuple[str | None, str | None]:
    """(amount owed, amount paid) where the file has two amount columns of which just one is named like a
    payment ([events.columns] paid_amount); else (`amount`, None)."""
    if amount is None:
        return None, None
    money = [c for c, t in types.items() if c not in taken and t == "numeric"
             and re.search(EVENT_ROLES["amount"][0], c.lower())]
    if PAID_WORDS.search(amount.lower()):  # the first amount is a payment: what was owed is another one
        owed = next((c for c in money if not PAID_WORDS.search(c.lower())), None)
        return (owed, amount) if owed else (amount, None)
    return amount, next((c for c in money if PAID_WORDS.search(c.lower())), None)


def _meanings(column: str | None, vocab: dict[str, list[str] | None], words: tuple[tuple[str, str], ...], key: str,
              fallback: str, behaved: Mapping[str, tuple[str | None, str]] | None = None) -> list[str]:
    """A line per value of a kind or status column: its meaning guessed from its word, else from how its rows
    behave (`behaved`: value: (meaning or None, the evidence)), else TODO."""
    values = vocab.get(column) if column else None
    if not values:
        why = "no such column found" if not column else f"{column!r} has more than {MAX_VALUES} values"
        return [f"# TODO: {why}; declare each value, e.g.", f'TODO = {{ {key} = "{fallback}" }}']
    lines = []
    for value in values:
        meaning = _guess(value, words)
        note = "guessed from the word: check" if meaning else ("TODO: choose" if words else "no amounts: neutral")
        if not meaning and value in (behaved or {}):
            meaning, evidence = (behaved or {})[value]
            note = f"check: read from its rows, not its word: {evidence}" if meaning else f"{note} ({evidence})"
        if meaning == "owed" and re.search(TWO_SIDED, value.lower()):
            note += f" ({TWO_SIDED_NOTE})"
        owes = key == "meaning" and meaning == "neutral" and re.search(CALLED_OFF, value.lower())
        if owes:  # its amount was never owed (features: owed_condition)
            note += "; called off, so its amount is not owed"
        lines.append(f"{toml_string(value)} = {{ {key} = {toml_string(meaning or fallback)}"
                     f"{', owes_nothing = true' if owes else ''} }}  # {note}")
    return lines


RELATION_ROLES = {
    "source": (r"source|from|src|referrer|sender|rater|follower|parent|inviter|^a$|_a$|1$", None),
    "target": (r"target|to$|^to|dst|dest|referee|receiver|ratee|followee|child|invitee|^b$|_b$|2$", None),
    "ts": (r"ts$|date|time|_at$|_on$|since|when", ("date",)),
    "kind": (r"kind|type|relation|tie|channel", ("categorical",)),
    "weight": (r"weight|rating|strength|amount|score|trust|value", ("numeric",)),
}


def _relation_lines(path: Path, people_ids: frozenset[str] = frozenset()) -> list[str]:
    frame = _sample(path)
    types = _types(frame)
    taken: set[str] = set()
    found: dict[str, str | None] = {}
    guessed: set[str] = set()  # roles taken for want of a name: source and target as ids, ts as a date
    for role, (pattern, allowed) in RELATION_ROLES.items():
        found[role] = _pick(types, pattern, allowed or tuple(set(types.values())), taken)
        if role == "ts" and found[role] is None:  # a date named in other words (seit): any date column
            found[role] = _pick(types, ".", ("date",), taken)
            guessed |= {role} if found[role] else set()
        taken.add(found[role] or "")
    # named for no end (borrower_id, guarantor_id): the first two id columns, in file order
    ids = [c for c in frame.columns if c not in taken and re.search(r"(^|_)(id|no|nr|key|code|ref)$", str(c).lower())]
    ids += [c for c in people_id_columns(frame, people_ids, taken) if c not in ids]  # named for no id, yet ids
    for role in ("source", "target"):
        if found[role] is None and ids:
            found[role] = ids.pop(0)
            guessed.add(role)
            taken.add(found[role] or "")
    weight = found["weight"]
    signed = bool(weight) and bool((pd.to_numeric(frame[weight], errors="coerce") < 0).any())
    out = ["", f"# Relations: {path.name}. Each row one tie between two people, known from its date.", "[relations]",
           *header_line_of(path)]
    out += ["directed = true  # TODO: false if a tie has no direction (a shared device, a marriage)",
            f"weighted = {str(bool(weight)).lower()}", f"signed = {str(signed).lower()}"
            + ("  # negative weights found: the share of negative ties becomes a feature" if signed else "")]
    kinds = _vocabularies(path, [found["kind"]])[found["kind"]] if found["kind"] else None
    if kinds:
        out.append(f"kinds = [{', '.join(toml_string(k) for k in kinds)}]")
    out += _ignored(types, taken)
    out += ["", "[relations.columns]"]
    for role in ("source", "target", "ts"):
        col = found[role]
        note = "" if role not in guessed else "  # check: found as a date column (its name says no date)" \
            if role == "ts" else "  # check: an id column, taken in file order (source: who the tie is from)"
        out.append(f"{role} = {toml_string(col)}{note}" if col else
                   f'{role} = "TODO"  # TODO: the column holding the tie\'s {role}')
    out.append(f"kind = {toml_string(found['kind'])}" if found["kind"] else 'kind = ""  # no kind column: every tie is "related"')
    out.append(f"weight = {toml_string(weight)}" if weight else 'weight = ""  # no weight column: every tie weighs 1')
    return out


def window_line(label: str | None) -> str:
    """The window_days line: the window the label column's name gives (status_180d), else a year to check."""
    days = window_in_name(label) if label else None
    return (f"window_days = {days}  # check: the performance window, from the label's name {label!r}" if days
            else "window_days = 365  # TODO: the performance window")


def _outcome_lines(path: Path, id_col: str | None, people_ids: frozenset[str] = frozenset()) -> list[str]:
    frame = _sample(path)
    types = _types(frame)
    person = _person_column(types, id_col, set()) or _person_by_values(frame, people_ids, set())
    label = _label_column(frame, exclude=(person,)) or next(
        (c for c in frame.columns if c != person and frame[c].nunique() == 2), None)
    taken = {person or "", label or ""}
    named = _pick(types, r"as_?of|date|time|_at$|_on$|when|observ|snapshot", ("date",), taken)
    as_of = named or _pick(types, ".", ("date",), taken)  # a date named in other words (stichtag): by its type
    taken.add(as_of or "")
    repeated = bool(person) and bool(texts(frame[person]).duplicated().any())
    window = _pick(types, r"window|horizon|days|months", ("numeric",), taken)
    taken.add(window or "")
    out = [f"# Outcomes: {path.name}. Each row one person's label, predicted as of its date.", 'source = "outcomes"',
           f"person_id = {toml_string(person)}" if person else 'person_id = "TODO"  # TODO: the column naming the person']
    if label:
        out += [f"label = {toml_string(label)}", *_label_values(frame[label])]
    else:
        out += ['label = "TODO"  # TODO: the column holding the label', 'bad = ["1"]', 'good = ["0"]']
    if as_of:
        out.append(f"as_of_column = {toml_string(as_of)}" + ("" if named else "  # check: found as a date column "
                                                              "(its name says no date): each row is scored as of it"))
    else:
        out += ["# TODO: a person has several rows here, and one fixed as_of allows one row per person: name the",
                "# column holding each row's date as as_of_column = \"...\" instead."] if repeated else []
        out.append('as_of = 2024-01-01  # TODO: no date column found: the date the outcomes are predicted from')
    out.append(f"window_days_column = {toml_string(window)}  # check: the performance window in days" if window else
               window_line(label))
    out += _ignored(types, taken)
    return out
