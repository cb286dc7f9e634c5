"""Ingest through a spec: a user's own files, read and validated as their DatasetSpec declares.

The spec says which columns the files have and what they mean; this module turns that into the table
specs the validator checks (types, vocabularies, keys), then renames the user's columns to DeepCredit's
(person_id, ts, kind, ...), so every later layer reads one layout while the values (kinds, statuses,
categories) stay the user's own words. A declared column that a file lacks is reported at the spec's line;
a bad value at the data file's row and column. Nothing is written unless every table passed.
"""

from __future__ import annotations

import csv
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from difflib import get_close_matches
from functools import partial
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from deepcredit.data.compressed import open_bytes, open_text
from deepcredit.data.contact import contact_data, contact_named
from deepcredit.data.dataset import (
    Dataset,
    check_known_people,
    check_replaceable,
    parse_snapshot_date,
    staging_dir,
    write_dataset,
)
from deepcredit.data.derived import (
    UNKNOWN_PEOPLE_HINT,
    before_first_day,
    outcomes_from_events,
    relations_from_people,
    with_open_windows,
)
from deepcredit.data.headers import column_names
from deepcredit.data.io import writes_out
from deepcredit.data.jsonlines import is_json_lines, json_columns
from deepcredit.data.ledger import (
    dated_when_known,
    derived_status,
    known_by_month_end,
    merged_parts,
    month_ended,
    payments_of,
)
from deepcredit.data.parts import first_part
from deepcredit.data.schema import (
    DTYPES,
    EVENTS,
    OUTCOMES,
    RELATIONS,
    Column,
    ColumnType,
    TableSpec,
    typed_frame,
)
from deepcredit.data.sheets import is_spreadsheet, read_sheet, sheet_names, source_exists, split_sheet
from deepcredit.data.spec import DatasetSpec, Lookup, Outcomes, SpecError, spec_line
from deepcredit.data.spec_events import Events, StatusMeaning
from deepcredit.data.spec_profile import Attribute, MoreProfile
from deepcredit.data.staged_events import UNBOUNDED, StagedEvents
from deepcredit.data.toml_lines import field_path
from deepcredit.data.validate import (
    PLAIN,
    TOO_LARGE,
    DataValidationError,
    FileFormat,
    a_or_an,
    check_event_values,
    check_no_duplicate_rows,
    encoding_hint,
    event_kinds,
    first_true,
    is_parquet,
    line_offset_for,
    not_shown,
    read_and_validate,
    relation_checks,
    separator_hint,
    show_value,
    too_large,
    with_exact_line,
    withheld,
)

TYPES = {"numeric": ColumnType.FLOAT, "categorical": ColumnType.STRING, "ordinal": ColumnType.STRING,
         "boolean": ColumnType.BOOL, "date": ColumnType.TIMESTAMP}


def parquet_columns(path: Path) -> list[str]:
    """A Parquet file's column names; a truncated or corrupt file is one error naming it, not pyarrow's."""
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, PermissionError):
            raise
        reason = str(exc).split(". ")[0].strip() or exc.__class__.__name__
        raise DataValidationError(str(path), f"not a readable Parquet file (truncated or corrupt? {reason})") from None


def file_columns(path: Path, fmt: FileFormat = PLAIN) -> list[str]:
    """The column names of a CSV (its header), Parquet file, JSON Lines file (every key) or sheet; of a
    directory of parts, its first part's."""
    path = Path(path)
    if not source_exists(path):
        raise DataValidationError(str(path), "file not found")
    if is_spreadsheet(path):
        return [str(c).strip() for c in read_sheet(path, nrows=0).columns]
    if is_json_lines(path):
        return json_columns(path, fmt.text_encoding)
    path = first_part(path)
    if is_parquet(path):
        return parquet_columns(path)
    if fmt.names:  # a file without a header line: its columns as the spec names them
        return list(fmt.names)
    with open_text(path, fmt.text_encoding, errors="replace") as fh:
        for _ in range(fmt.header_line - 1):  # the lines above the header
            fh.readline()
        return column_names(next((r for r in csv.reader(fh, delimiter=fmt.delimiter) if r), []))


class _Checker:
    """Reports a declared column missing from a data file at the spec's line; knows how the files are written."""

    def __init__(self, spec_file: str | None, fmt: FileFormat = PLAIN,
                 layouts: dict[Path, tuple[int, tuple[str, ...]]] | None = None) -> None:
        self.spec_file, self.fmt = spec_file, fmt
        self.layouts = {Path(p): layout for p, layout in (layouts or {}).items()}
        self._headers: dict[Path, list[str]] = {}

    def fmt_for(self, path: Path) -> FileFormat:
        """How `path` is written: the spec's [format], with the header line (or the column names of a file
        without one) its section declares."""
        header_line, names = self.layouts.get(Path(path), (1, ()))
        return replace(self.fmt, header_line=header_line, names=names)

    def columns(self, path: Path) -> set[str]:
        """The file's column names, read once per ingest."""
        path = Path(path)
        if path not in self._headers:
            self._headers[path] = file_columns(path, self.fmt_for(path))
        return set(self._headers[path])

    def defaulted_absent(self, declared: BaseModel, field: str, path: Path) -> bool:
        """The spec left `field` at its default name, and the file has no such column: an optional column
        then counts as absent, and a person column falls back to the profile's id column."""
        return field not in declared.model_fields_set and getattr(declared, field) not in self.columns(path)

    def require(self, path: Path, columns: dict[tuple, str | None]) -> None:
        have = self.columns(path)
        for loc, col in columns.items():
            if col is not None and col not in have:
                if _is_empty_text(path):  # not the column's fault: the file holds nothing (or only blanks)
                    raise DataValidationError(str(path), "the file is empty: expected a header row and data rows")
                line = spec_line(self.spec_file, loc) if self.spec_file else None
                header = self._headers[Path(path)]
                hints = [separator_hint(header, self.fmt.delimiter), _repeated_hint(header), _sheet_hint(path),
                         encoding_hint(col, header, self.fmt.encoding)]
                raise SpecError(self.spec_file or "spec", f"column {col!r} is not in {path} (its columns: "
                                f"{', '.join(sorted(have)) or 'none'})" + "".join(f"; {h}" for h in hints if h),
                                line, field_path(loc))


def _is_empty_text(path: Path) -> bool:
    """A text file (CSV, JSON Lines; perhaps compressed) with nothing but white space in it."""
    path = Path(path)
    if not path.is_file() or is_parquet(path) or is_spreadsheet(path):
        return False
    try:
        with open_bytes(path) as fh:
            return not fh.read(1 << 16).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False


def _repeated_hint(header: list[str]) -> str:
    """Where the header names a column twice: which (another column written over one the spec wants?)."""
    repeated = [c for c, n in Counter(header).items() if n > 1]
    return f"the header names {', '.join(map(repr, repeated))} twice: is one of them this column, misnamed?" \
        if repeated else ""


def _sheet_hint(path: Path) -> str:
    """For a workbook read at its first sheet: its sheets, and how to name the one that holds the table."""
    book, sheet = split_sheet(path)
    if not is_spreadsheet(path) or sheet is not None:
        return ""
    names = sheet_names(path)
    if len(names) < 2:
        return ""
    example = names[1] if len(names) == 2 else "SHEET"
    return (f"the workbook's first sheet {names[0]!r} was read (its sheets: {', '.join(names)}): name the sheet "
            f"that holds the table after '#', as {book.name}#{example}")


def _table(name: str, section: str, columns: Iterable[Column], ignore: list[str], key: tuple[str, ...] = (),
           duplicate_hint: str = "") -> TableSpec:
    """The table a user's file must match: the declared columns, plus the ignored ones (dropped unread, so a
    column left out is never held to a type)."""
    return TableSpec(name, tuple(columns), key=key, ignored=tuple(ignore), duplicate_hint=duplicate_hint,
                     unknown_hint=f"; to leave it out, list it in `ignore` under [{section}] in the spec")


def _attribute_column(a: Attribute, as_written: bool = False) -> Column:
    """The attribute's column as stored, or `as_written` in the user's file (a number in text is text there)."""
    allowed = frozenset(a.order) if a.order is not None else None  # only ordinal attributes have an order
    free_text = as_written and a.number_in_text
    ctype = ColumnType.STRING if free_text else TYPES[a.type]
    return Column(a.source_column, ctype, nullable=True, allowed=allowed, description=a.description,
                  protected=a.protected, identifier=contact_named(a.source_column), free_text=free_text,
                  aliases=tuple(a.alias_map.items()) if as_written else ())


def refuse_contact(attributes: list[Attribute], frame: pd.DataFrame, spec_file: str | None,
                   section: tuple[str, ...]) -> None:
    """An attribute whose column holds contact or identity data (the rule `spec draft` leaves such columns
    out by: contact.contact_data) is refused at its line of the spec, unless it says `allow_contact =
    true`: a hand-written spec would otherwise make an e-mail address a model input unnoticed. The error
    names the attribute and why, never a value."""
    for i, a in enumerate(attributes):
        if a.allow_contact or (why := contact_data(a.source_column, frame[a.source_column])) is None:
            continue
        loc = (*section, "attributes", i, "column" if a.column else "name")
        column = f" (column {a.source_column!r})" if a.column else ""
        raise SpecError(spec_file or "spec", f"[{'.'.join(section)}] attribute {a.name!r}{column}: {why}, which "
                        "identify a person and say nothing of how they keep commitments, so it is not taken as an "
                        "attribute (a model input); list the column under `ignore`, or, if it is meant, say so "
                        "with allow_contact = true on the attribute",
                        spec_line(spec_file, loc) if spec_file else None, field_path(loc))


def towards_held(attributes: list[Attribute], frame: pd.DataFrame, file: Path, spec_file: str | None,
                 section: tuple[str, ...]) -> None:
    """Warns, at its line of the spec, of a category a categorical attribute's `improve_towards` names that its
    file does not hold (as read, aliases applied): misspelt, it would never match, and the advice would go
    to the people it was meant to spare. A warning, not a refusal: a small file to score may hold none of
    them (an ordinal's levels are declared, and checked at spec load). It names the spec's own words and at
    most one value alike them, never the file's values."""
    for i, a in enumerate(attributes):
        if a.type != "categorical" or not a.improve_towards:
            continue
        held = {str(v) for v in frame[a.source_column].dropna().unique()}
        for k, category in enumerate(a.improve_towards):
            if category in held:
                continue
            loc = (*section, "attributes", i, "improve_towards", k)
            alike = [] if a.protected else get_close_matches(category, sorted(held), n=1)
            problem = (f"{category!r} is not a value of column {a.source_column!r} in {file.name}"
                       + (f" (did you mean {alike[0]!r}?)" if alike else "") + "; where misspelt, the advice is "
                       "given to people already there: name the categories as the file writes them (or as "
                       "`aliases` reads them)")
            warnings.warn(str(SpecError(spec_file or "spec", problem, spec_line(spec_file, loc) if spec_file
                                        else None, field_path(loc))), stacklevel=2)


def numbers_in_text(values: pd.Series, fmt: FileFormat, file: str, column: str,
                    line_offset: int | None, protected: bool = False) -> pd.Series:
    """The first number in each text ("13.56%" 13.56, " 36 months" 36, "$1,200" 1200 with thousands ","),
    read with the file's decimal and thousands marks; a text with none, or a number too large for the models,
    is refused at its row, never repeating the text (free text may hold anything a person wrote: a name, an
    e-mail address), only a number too large."""
    dec, sep = re.escape(fmt.decimal), re.escape(fmt.thousands) if fmt.thousands else None
    digits = rf"\d{{1,3}}(?:{sep}\d{{3}})+|\d+" if sep else r"\d+"
    found = values.astype("string").str.extract(rf"([-+]?(?:{digits})(?:{dec}\d+)?)", expand=False)
    if (i := first_true((values.notna() & found.isna()).to_numpy(bool))) is not None:
        said = withheld(True) if protected else not_shown("free text")
        raise DataValidationError(file, f"{said} holds no number (number_in_text = true)",
                                  int(values.index[i]) + 1, column, line_offset)
    numbers = pd.to_numeric(fmt.numbers_as_python_reads_them(found.str.strip()), errors="coerce").astype("float64")
    if (i := first_true(too_large(numbers.to_numpy()))) is not None:
        said = withheld(True) if protected else f"the number {show_value(found.iloc[i])} it holds"  # not its words
        raise DataValidationError(file, f"{said} {TOO_LARGE}", int(values.index[i]) + 1, column, line_offset)
    return numbers


def _read_people(spec: DatasetSpec, path: Path, check: _Checker, snapshot) -> pd.DataFrame:
    p = spec.profile
    want: dict[tuple, str | None] = {("profile", "id_column"): p.id_column, ("profile", "valid_from"): p.valid_from}
    want.update({("profile", "attributes", i, "column" if a.column else "name"): a.source_column
                 for i, a in enumerate(p.attributes)})
    dated_by = spec.outcomes.as_of_column if spec.outcomes.source == "people" and spec.outcomes.as_of is None \
        else None  # a people column dating each row's label
    if spec.outcomes.source == "people":
        want[("outcomes", "label")] = spec.outcomes.label
    if dated_by:
        want[("outcomes", "as_of_column")] = dated_by
    check.require(path, want)
    cols = [Column(p.id_column, ColumnType.STRING, identifier=True)] if p.id_column else []
    cols += [_attribute_column(a, as_written=True) for a in p.attributes]
    if p.valid_from:
        cols.append(Column(p.valid_from, ColumnType.TIMESTAMP, nullable=True))
    if spec.outcomes.source == "people":
        cols.append(Column(spec.outcomes.label, ColumnType.STRING, nullable="" in spec.outcomes.unknown))
    if dated_by:
        cols.append(Column(dated_by, ColumnType.TIMESTAMP))
    joins = shared_keys(spec)
    check.require(path, {("more_profile", name, "join_on"): col for col, name in joins.items()})
    attribute_columns = {a.source_column for a in p.attributes}
    cols += [Column(c, ColumnType.STRING, nullable=True) for c in joins if c not in attribute_columns]
    links = [*spec.relations.from_people, *spec.relations.groups] if spec.relations is not None else []
    check.require(path, {("relations", f, i): c for f in ("from_people", "groups")
                         for i, c in enumerate(getattr(spec.relations, f, []))})
    cols += [Column(c, ColumnType.STRING, nullable=True) for c in links]
    key = ((p.id_column, p.valid_from) if p.valid_from else (p.id_column,)) if p.id_column else ()
    frame = read_and_validate(path, _table("people", "profile", cols, p.ignore, key), snapshot,
                              fmt=check.fmt_for(path))
    refuse_contact(p.attributes, frame, check.spec_file, ("profile",))
    towards_held(p.attributes, frame, Path(path), check.spec_file, ("profile",))
    empty_attributes(p.attributes, frame, Path(path))
    ids = frame[p.id_column] if p.id_column else pd.Series(range(1, len(frame) + 1)).astype(str)
    out = pd.DataFrame({"person_id": ids.astype("string")})
    out = out.assign(**_attribute_values(frame, p.attributes, check, path))
    if p.valid_from:
        out["valid_from"] = frame[p.valid_from]
    if spec.outcomes.source == "people":
        out.attrs["label"] = frame[spec.outcomes.label]
    if dated_by:
        out.attrs["as_of"] = frame[dated_by]
    if links:
        out.attrs["links"] = frame[links]
    if joins:
        out.attrs["keys"] = frame[list(joins)]
    return out


def _key_column(spec: DatasetSpec, join_on: str | None) -> Column:
    """How a further file's id column is read: as the main profile's column it joins on is (an attribute's
    type, so 18 and 18.0 are one district), else as text."""
    attribute = next((a for a in spec.profile.attributes if join_on and a.source_column == join_on), None)
    return _attribute_column(attribute, as_written=True) if attribute is not None else Column("key", ColumnType.STRING)


def shared_keys(spec: DatasetSpec) -> dict[str, str]:
    """The main profile file's columns that further files join on (join_on), each with the first file's name."""
    out: dict[str, str] = {}
    for name, more in spec.more_profile.items():
        if more.join_on:
            out.setdefault(more.join_on, name)
    return out


def _attribute_values(frame: pd.DataFrame, attributes: list[Attribute], check: _Checker, path: Path
                      ) -> dict[str, pd.Series]:
    """Each attribute's values as stored (a number written in text read out of it), each within the range
    the spec declares (min, max)."""
    out = {a.name: numbers_in_text(frame[a.source_column], check.fmt, str(path), a.source_column,
                                   line_offset_for(path), a.protected) if a.number_in_text else frame[a.source_column]
           for a in attributes}
    try:
        for a in attributes:
            within_range(out[a.name], a, str(path), line_offset_for(path))
    except DataValidationError as exc:  # the line re-counted (blank lines), a part file's own row
        raise with_exact_line(exc, path, check.fmt_for(path)) from None
    return out


def within_range(values: pd.Series, a: Attribute, file: str, line_offset: int | None) -> None:
    """A numeric attribute's values below its declared min or above its max are refused at their row (a
    negative age or income); its special values (codes, not quantities) are exempt."""
    if a.min is None and a.max is None:
        return
    num = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    codes = np.isin(num, [float(v) for v in a.special]) if a.special else np.zeros(len(num), dtype=bool)
    for bound, outside, word in ((a.min, num < (a.min or 0.0), "below the minimum"),
                                 (a.max, num > (a.max or 0.0), "above the maximum")):
        if bound is not None and (i := first_true(outside & ~codes)) is not None:
            said = withheld(a.protected) if a.protected or contact_named(a.source_column) else repr(f"{num[i]:g}")
            key = "min" if word == "below the minimum" else "max"
            raise DataValidationError(file, f"{said} is {word} {bound:g} the spec declares for {a.name!r} "
                                            f"({key} = {bound:g})", int(values.index[i]) + 1, a.source_column,
                                      line_offset)


FURTHER_FILES = {"people": "more_profile", "lookup": "lookups", "events": "more_events"}
"""For each kind of source, the spec section that declares its further files, each given as `--KIND NAME=FILE`
and keyed "KIND:NAME" among ingest's sources."""


def source_key(kind: str, name: str) -> str:
    """The key of a further file among ingest's sources: "people:kyc" for [more_profile.kyc]."""
    return f"{kind}:{name}"


def profile_key(name: str) -> str:
    return source_key("people", name)


def _read_more_profile(people: pd.DataFrame, name: str, more: MoreProfile, path: Path, check: _Checker,
                       snapshot, key_type: Column = Column("key", ColumnType.STRING)) -> pd.DataFrame:
    """A [more_profile.NAME] file's rows: person_id (or, joined on a shared value, that value as `key`),
    valid_from (where it has a history) and its attributes; someone only in that file is refused at their
    row (every person is in the main profile file). key_type: how the id column is read (as the column it
    joins on is)."""
    want: dict[tuple, str | None] = {("more_profile", name, "id_column"): more.id_column,
                                     ("more_profile", name, "valid_from"): more.valid_from}
    want.update({("more_profile", name, "attributes", i, "column" if a.column else "name"): a.source_column
                 for i, a in enumerate(more.attributes)})
    check.require(path, want)
    cols = [replace(key_type, name=more.id_column, nullable=False, identifier=not more.join_on), *(_attribute_column(a, as_written=True) for a in more.attributes)]
    key: tuple[str, ...] = (more.id_column,)
    if more.valid_from:
        cols.append(Column(more.valid_from, ColumnType.TIMESTAMP, nullable=True))
        key = (more.id_column, more.valid_from)
    frame = read_and_validate(path, _table("people", f"more_profile.{name}", cols, more.ignore, key),
                              snapshot, fmt=check.fmt_for(path))
    refuse_contact(more.attributes, frame, check.spec_file, ("more_profile", name))
    towards_held(more.attributes, frame, Path(path), check.spec_file, ("more_profile", name))
    empty_attributes(more.attributes, frame, Path(path))
    if more.join_on:
        shared = pd.DataFrame({"key": frame[more.id_column], **_attribute_values(frame, more.attributes, check, path)})
        return shared.assign(valid_from=frame[more.valid_from]) if more.valid_from else shared
    ids = frame[more.id_column].astype("string")
    check_known_people(frame.assign(**{more.id_column: ids}), (more.id_column,), pd.Index(people["person_id"]),
                       str(path), line_offset_for(path))
    extra = pd.DataFrame({"person_id": ids, **_attribute_values(frame, more.attributes, check, path)})
    if more.valid_from:
        extra["valid_from"] = frame[more.valid_from]
    return extra


def _joined(people: pd.DataFrame, extra: pd.DataFrame, on: str = "person_id") -> pd.DataFrame:
    """The people with a further file's attributes (one row per person, or per shared value `on`: a column
    of the people's attrs["keys"]) joined by id, rows and attrs kept."""
    attrs = dict(people.attrs)
    left = people.reset_index()
    if on != "person_id":
        left["key"] = attrs["keys"][on].to_numpy()
        on = "key"
    joined = left.merge(extra, on=on, how="left").set_index("index").rename_axis(None)
    joined = joined.drop(columns="key") if on == "key" else joined
    joined.attrs.update(attrs)
    return joined


def _held(name: str) -> str:
    """The people's column holding the value a shared file `name` joins on, while versions are laid (never stored)."""
    return f"_joined_on_{name}"


SINCE_ALWAYS = pd.Timestamp("1000-01-01")
"""Stands for an undated version (valid since always) while versions are ordered; never stored."""


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` ordered by valid_from, an undated version (or a file without dates) since always."""
    when = frame["valid_from"] if "valid_from" in frame else pd.Series(pd.NaT, index=frame.index)
    return frame.assign(valid_from=when.astype("datetime64[us]").fillna(SINCE_ALWAYS)).sort_values("valid_from",
                                                                                                    kind="stable")


def with_versions(people: pd.DataFrame, extra: pd.DataFrame, key: str | None = None) -> pd.DataFrame:
    """The people's profile versions with a further file's versions merged in: a version wherever either
    file has one, each holding the version of every file valid then (none where a file has none yet).

    key: a column of `people` holding the shared value a file about what people share is keyed by (join_on,
    its `key` column): a person then holds, at each date, the version of the value their own profile holds
    then (someone who moves district takes the new district's figures from the move on).

    Why: the features read the one version valid strictly before each as-of date (features.sources), so the
    versions of two files must be laid on one time line; each file's own values keep their own dates."""
    main, more = _dated(people.reset_index(drop=True)), _dated(extra)
    if key is None:
        theirs = more[["person_id", "valid_from"]]
    else:  # every version of every value a person ever holds may start a version of theirs
        held = main[["person_id", key]].drop_duplicates().rename(columns={key: "key"})
        theirs = held.merge(more[["key", "valid_from"]], on="key")[["person_id", "valid_from"]]
    line = pd.concat([main[["person_id", "valid_from"]], theirs]).drop_duplicates().sort_values("valid_from",
                                                                                              kind="stable")
    out = pd.merge_asof(line, main, on="valid_from", by="person_id", direction="backward")
    if key is not None:  # read as the shared file's key is (join_on's values, stored apart from the profile)
        out = out.rename(columns={key: "key"}).astype({"key": more["key"].dtype})
    out = pd.merge_asof(out, more, on="valid_from", by="person_id" if key is None else "key", direction="backward")
    out = out.drop(columns="key") if key is not None else out
    out["valid_from"] = out["valid_from"].mask(out["valid_from"] == SINCE_ALWAYS)
    return out.sort_values(["person_id", "valid_from"], na_position="first", kind="stable").reset_index(drop=True)


def _renamed(frame: pd.DataFrame, mapping: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({ours: frame[theirs] for ours, theirs in mapping.items() if theirs is not None})


def _declared_columns(table: TableSpec, mapping: dict[str, str | None],
                      allowed: dict[str, frozenset[str] | None]) -> tuple[Column, ...]:
    """The canonical table's columns under the names the user's file gives them (undeclared ones left out)."""
    canon = {c.name: c for c in table.columns}
    return tuple(replace(canon[ours], name=theirs, required=True, allowed=allowed.get(ours), description="")
                 for ours, theirs in mapping.items() if theirs is not None)


def event_source_key(source: str) -> str:
    """The key of a history file among ingest's sources: "events", or "events:NAME" for [more_events.NAME]."""
    return source if source == "events" else source_key("events", source)


def lookup_files(values: Iterable[str]) -> dict[str, Path]:
    """Ingest's sources for `--lookup NAME=FILE` values ([lookups.NAME]): every lookup table is named."""
    out = named_files(values, "lookup", "lookups")
    if "lookup" in out:
        raise DataValidationError("--lookup", f"{str(out['lookup'])!r}: give it as NAME=FILE, NAME the spec's "
                                              "[lookups.NAME]")
    return out


def history_files(values: Iterable[str]) -> dict[str, Path]:
    """Ingest's sources for `--events` values: FILE for [events], NAME=FILE for [more_events.NAME]."""
    return named_files(values, "events", "more_events")


def profile_files(values: Iterable[str]) -> dict[str, Path]:
    """Ingest's sources for `--people` values: FILE for [profile], NAME=FILE for [more_profile.NAME]."""
    return named_files(values, "people", "more_profile")


def named_files(values: Iterable[str], table: str, section: str) -> dict[str, Path]:
    """`--TABLE` values as sources: the unnamed FILE is `table`, each NAME=FILE is `table:NAME`, declared in
    the spec as [SECTION.NAME]."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        named = bool(sep) and re.fullmatch(r"[a-z_][a-z0-9_]*", name) is not None and not Path(value).exists()
        key = source_key(table, name) if named else table
        if key in out:
            raise DataValidationError(f"--{table}", f"{value!r}: " + ("a second file of the same name" if named else
                                      "the first file is given already: name the others as NAME=FILE, as the "
                                      f"spec's [{section}.NAME]"))
        out[key] = Path(path if named else value)
    return out


def _section_path(source: str) -> tuple[str, ...]:
    return (source,) if source == "events" else ("more_events", source)


def lookup_key(name: str) -> str:
    return source_key("lookup", name)


def _read_lookup(name: str, lk: Lookup, path: Path, check: _Checker) -> pd.Series:
    """A [lookups.NAME] table as a Series: key → person (each key once)."""
    check.require(path, {("lookups", name, "key"): lk.key, ("lookups", name, "person_id"): lk.person_id})
    cols = (Column(lk.key, ColumnType.STRING, identifier=True), Column(lk.person_id, ColumnType.STRING, identifier=True))
    frame = read_and_validate(path, _table("lookup", f"lookups.{name}", cols, lk.ignore, (lk.key,)), None,
                              fmt=check.fmt_for(path))
    return pd.Series(frame[lk.person_id].astype("string").to_numpy(), index=frame[lk.key].astype("string"))


def _owners(events: pd.DataFrame, owner: pd.Series, via: str, file: str, column: str,
            line_offset: int | None) -> pd.Series:
    """Each row's person, read through a lookup table from the key in its person column."""
    keys = events["person_id"].astype("string")
    people = keys.map(owner)
    if (i := first_true(people.isna().to_numpy(bool))) is not None:
        raise DataValidationError(file, f"{withheld(False)} is not a key of the lookup table {via!r}: whose "
                                        "is it?", int(events.index[i]) + 1, column, line_offset)
    return people.astype("string")


def _read_events(ev: Events, source: str, path: Path, check: _Checker, snapshot,
                 lookups: dict[str, pd.Series] | None = None, balance: bool = True) -> pd.DataFrame:
    """One history file as the events table's rows, declared by `ev` ([events] or [more_events.source]);
    `lookups` map an account's key to its person where the file names accounts (ev.person_via). An amount
    owed may be negative (a credit) only where it is a balance (`balance`: the spec declares a credit line);
    else a negative one, most often a refund, is refused at its row."""
    section = _section_path(source)
    mapping = ev.columns.model_dump()
    settled, paid = mapping.pop("settled_ts"), mapping.pop("paid_amount")
    check.require(path, {(*section, "columns", k): v for k, v in ev.columns.model_dump().items()})
    cols = _declared_columns(EVENTS, mapping, {"kind": frozenset(ev.kinds), "status": frozenset(ev.statuses)})
    if mapping["ts"] == mapping.get("due_ts"):  # a schedule dated by its due dates: instalments not yet due are
        cols = tuple(replace(c, may_follow_snapshot=True) if c.name == mapping["ts"] else c  # open, and stored
                     for c in cols)  # as known by the snapshot (ledger.dated_when_known)
    if settled:
        cols += (Column(settled, ColumnType.TIMESTAMP, nullable=True),)
    if paid:
        cols += (Column(paid, ColumnType.FLOAT, nullable=True),)
    cols += tuple(Column(c, ColumnType.STRING) for c in ev.parts_of)
    cols += tuple(Column(m.source_column, TYPES[m.type], nullable=True, aliases=tuple(m.alias_map.items()))
                  for m in ev.measures)
    if mapping["amount"]:  # may be empty for a kind whose amount is neutral (amounts_where_meant)
        cols = tuple(replace(c, nullable=True) if c.name == mapping["amount"] else c for c in cols)
    values = partial(check_event_values, kind=mapping["kind"], amount=mapping["amount"],
                     days_late=mapping.get("days_late"), only_kind=ev.only_kind,
                     signed_kinds=ev.signed_kinds if balance else ev.signed_kinds - ev.kinds_amount("owed"),
                     money_kinds=ev.kinds_amount("owed") | ev.kinds_amount("paid"))
    def no_duplicates(frame: pd.DataFrame, file: str, line_offset: int | None) -> None:
        # what is stored counts: rows that differ only in an ignored column are one event recorded twice
        check_no_duplicate_rows(frame.drop(columns=ev.ignore, errors="ignore"), file, line_offset)

    frame = read_and_validate(path, _table("events", ".".join(section), cols, ev.ignore), snapshot,
                              checks=(values, amounts_where_meant(ev), paid_not_negative(paid), no_duplicates),
                              fmt=check.fmt_for(path))
    events = _renamed(frame, mapping)
    for m in ev.measures:
        events[m.name] = frame[m.source_column].astype(DTYPES[TYPES[m.type]])
    if ev.person_via is not None:
        events["person_id"] = _owners(events, (lookups or {})[ev.person_via], ev.person_via, str(path),
                                      ev.columns.person_id, line_offset_for(path))
    events["amount"] = events["amount"].astype("float64") if "amount" in events else np.nan  # none: not 0
    if ev.amount_scale != 1.0:  # minor units (cents) to the currency
        events["amount"] = events["amount"] * ev.amount_scale
    if ev.only_kind is not None:
        events["kind"] = pd.Series(ev.only_kind, index=events.index, dtype="string")
    if paid:
        events["paid_amount"] = frame[paid] * ev.amount_scale if ev.amount_scale != 1.0 else frame[paid]
    when = frame[settled] if settled else None
    if ev.parts_of:
        events, when = merged_parts(events if when is None else events.assign(settled_ts=when), frame[ev.parts_of],
                                    ev, str(path), line_offset_for(path))
    if ev.columns.status is None:
        events["status"] = derived_status(events, when, ev, snapshot, str(path))
    events = dated_when_known(events, when, ev, snapshot, str(path), line_offset_for(path))
    return payments_of(events, ev, snapshot) if paid else events


def amounts_where_meant(ev: Events) -> Callable[[pd.DataFrame, str, int | None], None]:
    """A whole-table check: an amount is given wherever the kind's amount means money owed or paid or a
    rating; a neutral kind's may be left empty (an activity without money), and is then stored empty (no
    money is invented: a page shows no amount, and no money feature reads a neutral kind's)."""
    def check(frame: pd.DataFrame, file: str, line_offset: int | None) -> None:
        col = ev.columns.amount
        if col is None:
            return
        kinds = event_kinds(frame, ev.columns.kind, ev.only_kind)
        meant = ~kinds.isin(ev.kinds_amount("neutral")).to_numpy(bool)
        if (i := first_true(meant & frame[col].isna().to_numpy(bool))) is not None:
            kind = kinds.iloc[i]
            raise DataValidationError(file, f"{a_or_an(str(kind))} event needs its amount (its amount is "
                                            f"{ev.kinds[str(kind)].amount}); only a neutral kind's may be empty",
                                      i + 1, col, line_offset)
    return check


def paid_not_negative(column: str | None) -> Callable[[pd.DataFrame, str, int | None], None]:
    """A whole-table check: money paid ([events.columns] paid_amount) is never negative (a refund is not a
    payment); it may be empty where nothing was paid."""
    def check(frame: pd.DataFrame, file: str, line_offset: int | None) -> None:
        if column is not None and (i := first_true((frame[column] < 0).to_numpy(bool, na_value=False))) is not None:
            raise DataValidationError(file, f"{frame[column].iloc[i]} is negative: paid_amount is the money paid "
                                            "against the row's amount owed", i + 1, column, line_offset)
    return check


def _read_relations(spec: DatasetSpec, path: Path, check: _Checker, snapshot) -> pd.DataFrame:
    rel = spec.relations
    assert rel is not None
    mapping = rel.columns.model_dump()
    # a kind column, and a weight column of unweighted relations, are optional: a default name the file
    # lacks means no such column (kind 'related', weight 1); a name the spec gives must be there
    for name in ("kind", *(() if rel.weighted else ("weight",))):
        if check.defaulted_absent(rel.columns, name, path):
            mapping[name] = None
    check.require(path, {("relations", "columns", k): v for k, v in mapping.items()})
    cols = _declared_columns(RELATIONS, mapping, {"kind": frozenset(rel.kinds) or None})
    table = _table("relations", "relations", cols, rel.ignore)
    checks = relation_checks(rel.columns.source, rel.columns.target)  # as events: one tie recorded twice is refused
    # a file given holds rows, as an events file does: a data set without relations gives none
    frame = _renamed(read_and_validate(path, table, snapshot, checks=checks, fmt=check.fmt_for(path),
                                       empty_hint=" (for a data set without relations, leave [relations] out of "
                                                  "the spec and give no relations file)"),
                     mapping)
    if "kind" not in frame:
        frame["kind"] = pd.Series(["related"] * len(frame), dtype="string")
    if "weight" not in frame:
        frame["weight"] = 1.0
    return frame[[c.name for c in RELATIONS.columns]]


def _labels(values: pd.Series, spec: DatasetSpec, file: str, line_offset: int | None) -> pd.Series:
    """1 for a bad label value, 0 for a good one, missing for one the spec declares unknown (not known yet)."""
    o = spec.outcomes
    text = values.astype("string").str.strip().fillna("")
    yes_no = text.str.lower().isin(("true", "false")).to_numpy(bool)  # True, TRUE: as the spec's true reads
    text = text.mask(yes_no, text.str.lower())
    declared = {k: [v.lower() if v.lower() in ("true", "false") else v for v in getattr(o, k)]
                for k in ("bad", "good", "unknown")}  # a yes/no as the draft writes it ("True") or TOML's true
    bad, good = text.isin(declared["bad"]).to_numpy(bool), text.isin(declared["good"]).to_numpy(bool)
    pending = text.isin(declared["unknown"]).to_numpy(bool) & ~(bad | good)
    other = ~(bad | good | pending)
    if other.any():
        i = int(other.argmax())
        said = f"{text.iloc[i]!r}" if text.iloc[i] else "an empty label"
        if yes_no[i] and not {"true", "false"} & {*declared["bad"], *declared["good"], *declared["unknown"]}:
            hint = " (a yes/no label: say which is bad under [outcomes], as bad = [true] and good = [false])"
        elif not o.unknown:
            hint = " (a value that says the outcome is not known yet goes under unknown = [...])"
        else:
            hint = ""
        raise DataValidationError(file, f"{said} is neither a bad ({', '.join(map(str, o.bad))}) nor a good "
                                        f"({', '.join(map(str, o.good))}) label value of the spec{hint}", i + 1,
                                  o.label, line_offset)
    return pd.Series(bad.astype("int64")).where(~pending)


def _read_outcomes(spec: DatasetSpec, people: pd.DataFrame, people_path: Path, path: Path | None,
                   check: _Checker, snapshot) -> pd.DataFrame:
    o = spec.outcomes
    if o.source == "people":
        label = _labels(people.attrs["label"], spec, str(people_path), line_offset_for(people_path))
        as_of = people.attrs["as_of"] if o.as_of is None else pd.Series(pd.Timestamp(o.as_of), index=people.index)
        ids, window = people["person_id"], o.window_days
    else:
        if path is None:
            raise DataValidationError("outcomes", "the spec takes labels from an outcomes file: give --outcomes")
        as_of_col = None if o.as_of else o.as_of_column
        window_col = None if o.window_days else o.window_days_column
        check.require(path, {("outcomes", "person_id"): o.person_id, ("outcomes", "label"): o.label,
                             ("outcomes", "as_of_column"): as_of_col, ("outcomes", "window_days_column"): window_col})
        cols = [Column(o.person_id, ColumnType.STRING, identifier=True), Column(o.label, ColumnType.STRING, nullable="" in o.unknown)]
        cols += [Column(as_of_col, ColumnType.TIMESTAMP)] if as_of_col else []
        cols += [Column(window_col, ColumnType.INT)] if window_col else []
        key = (o.person_id, as_of_col) if as_of_col else (o.person_id,)
        once = "" if as_of_col else ("; one fixed `as_of` in [outcomes] allows one row per person: where a person "
                                     "has several, name the column of their dates as `as_of_column`")
        frame = read_and_validate(path, _table("outcomes", "outcomes", cols, o.ignore, key, once), snapshot,
                                  fmt=check.fmt_for(path))
        label = _labels(frame[o.label], spec, str(path), line_offset_for(path))
        ids = frame[o.person_id]
        as_of = frame[as_of_col] if as_of_col else pd.Series(pd.Timestamp(o.as_of), index=frame.index)
        window = frame[window_col] if window_col else o.window_days
    out = pd.DataFrame({"person_id": ids.astype("string").to_numpy(), "as_of": as_of.astype("datetime64[us]").to_numpy(),
                        "label": label.to_numpy(), "window_days": window})
    if (pending := int(out["label"].isna().sum())) > 0:
        said = ", ".join(repr(v) if v else "empty" for v in o.unknown)
        warnings.warn(f"{pending:,} of {len(out):,} rows have an outcome not known yet ({said}): left out of the "
                      "labels; those people can still be scored", stacklevel=2)
    if snapshot is not None or o.observed_on is not None:  # open windows: by when the outcomes were recorded
        out["label"] = with_open_windows(out, o, pd.Timestamp(o.observed_on or snapshot))
    out = out[out["label"].notna()]  # all of them: a file to score, not to learn from; rows keep their place
    out["label"] = out["label"].astype("int64")
    out["window_days"] = out["window_days"].astype("int64")
    return out


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A table with the spec's required columns, typed, and no rows (no events, no relations)."""
    return typed_frame(spec, {c.name: [] for c in spec.columns if c.required})


def _latest_date(frames: dict[str, pd.DataFrame], also: Iterable[pd.Timestamp] = ()) -> pd.Timestamp:
    """The latest time in the tables (due dates, which may lie ahead, aside) and `also`; today if none."""
    dates = [f[c].max() for f in frames.values() for c in f.columns
             if pd.api.types.is_datetime64_any_dtype(f[c]) and c != "due_ts" and f[c].notna().any()]
    dates += list(also)
    return max(dates).normalize() if dates else pd.Timestamp.today().normalize()


def with_person_columns(spec: DatasetSpec, sources: dict[str, Path], check: _Checker) -> DatasetSpec:
    """The spec with the person column of the events and outcomes files defaulting to the profile's id column
    where the spec does not name one and the file has no `person_id` but has that column (a shop's files
    usually call the customer the same everywhere). A column the spec names is kept as it is."""
    ident = spec.profile.id_column

    def falls_back(declared: BaseModel, table: str) -> bool:
        return bool(ident) and table in sources and check.defaulted_absent(declared, "person_id", sources[table]) \
            and ident in check.columns(sources[table])

    update: dict[str, object] = {}
    o = spec.outcomes
    more = dict(spec.more_events)
    for source, ev in spec.event_sources():
        if falls_back(ev.columns, event_source_key(source)):
            ev = ev.model_copy(update={"columns": ev.columns.model_copy(update={"person_id": ident})})
            if source == "events":
                update["events"] = ev
            else:
                more[source] = ev
                update["more_events"] = more
    if o.source == "outcomes" and falls_back(o, "outcomes"):
        update["outcomes"] = o.model_copy(update={"person_id": ident})
    return spec.model_copy(update=update) if update else spec


def _at_source(exc: DataValidationError, sources: dict[str, Path], check: _Checker) -> DataValidationError:
    """The error told at its exact line, and at its part file where the source is a directory of parts."""
    path = next((Path(p) for p in sources.values() if str(Path(p)) == exc.file), None)
    return exc if path is None else with_exact_line(exc, path, check.fmt_for(path))


def read_with_spec(spec: DatasetSpec, sources: dict[str, Path], spec_file: str | None, snapshot_date: str | None,
                   on_step: Callable[[str], None] | None, staged: StagedEvents) -> tuple[dict[str, pd.DataFrame], str]:
    """Read and validate a user's files as `spec` declares them: (the tables, snapshot date), the events
    written to `staged` file by file (an events frame only where the spec declares no history).
    A source is a file, a sheet (book.xlsx#sheet) or a directory of parts (parts.py).
    on_step: told what is being read or checked (a large file takes a while)."""
    check = _Checker(spec_file, spec.format.file_format(), file_layouts(spec, sources))
    if "people" not in sources:
        raise DataValidationError("people", "no file was given for the people table (--people)")
    for table, declared in (("events", spec.events), ("relations", spec.relations)):
        if table in sources and declared is None:
            raise SpecError(spec_file or "spec", f"a {table} file was given but the spec declares no [{table}]",
                            None, table)
        derived = table == "relations" and spec.relations is not None and spec.relations.derived_kinds
        if table not in sources and declared is not None and not derived:
            raise DataValidationError(table, f"the spec declares {table}: give the file with --{table}")
    for kind, section in FURTHER_FILES.items():
        declared = getattr(spec, section)
        given = {key.removeprefix(f"{kind}:") for key in sources if key.startswith(f"{kind}:")}
        for name in sorted(given - set(declared)):
            raise SpecError(spec_file or "spec", f"a file {name}=... was given to --{kind} but the spec declares "
                                                 f"no [{section}.{name}]", None, section)
        for name in declared:
            if name not in given:
                raise DataValidationError(kind, f"the spec declares [{section}.{name}]: give the file with "
                                                f"--{kind} {name}=FILE")
    try:
        return _read_tables(with_person_columns(spec, sources, check), sources, check, snapshot_date,
                            on_step or (lambda _: None), staged)
    except DataValidationError as exc:
        raise _at_source(exc, sources, check) from None


def file_layouts(spec: DatasetSpec, sources: dict[str, Path]) -> dict[Path, tuple[int, tuple[str, ...]]]:
    """Each source file's header line and, for a file without one, its column names, as its section of the
    spec declares them."""
    sections: dict[str, object] = {"people": spec.profile, "outcomes": spec.outcomes, "relations": spec.relations,
                                   **{event_source_key(s): ev for s, ev in spec.event_sources()},
                                   **{lookup_key(n): lk for n, lk in spec.lookups.items()},
                                   **{profile_key(n): m for n, m in spec.more_profile.items()}}
    return {Path(path): (getattr(sections.get(key), "header_line", 1), tuple(getattr(sections.get(key), "header", ())))
            for key, path in sources.items()}


def _person_columns(spec: DatasetSpec) -> dict[str, dict[str, str]]:
    """Per table, the columns naming a person: DeepCredit's name → the name in the user's file."""
    out = {"outcomes": {"person_id": spec.outcomes.person_id}}
    for source, ev in spec.event_sources():
        out[event_source_key(source)] = {"person_id": ev.columns.person_id}
    if spec.relations is not None:
        out["relations"] = {"source": spec.relations.columns.source, "target": spec.relations.columns.target}
    return out


def _without_unknown_people(relations: pd.DataFrame, people: pd.Index) -> pd.DataFrame:
    """The relations between people of the people table (unknown_people = "drop"), warning how many went."""
    known = (relations["source"].isin(people) & relations["target"].isin(people)).to_numpy(bool)
    if not known.all():
        warnings.warn(f"{int((~known).sum()):,} of {len(relations):,} relations name someone not in the people "
                      "table and were left out (unknown_people = \"drop\" in the spec)", stacklevel=2)
    return relations[known].reset_index(drop=True)


def _read_tables(spec: DatasetSpec, sources: dict[str, Path], check: _Checker, snapshot_date: str | None,
                 step: Callable[[str], None], staged: StagedEvents) -> tuple[dict[str, pd.DataFrame], str]:
    """The tables but events, and the snapshot date; each history file's events go to `staged` as read."""
    given = snapshot_date or (str(spec.snapshot_date) if spec.snapshot_date else None)
    snapshot = parse_snapshot_date(given) if given else None
    people_path = Path(sources["people"])
    step(f"reading {people_path.name}")
    frames = {"people": _read_people(spec, people_path, check, snapshot)}
    known = pd.Index(frames["people"]["person_id"].unique())
    versions = {}  # further files with a history: merged once the main file's labels and links are read
    for name, more in spec.more_profile.items():
        step(f"reading {Path(sources[profile_key(name)]).name}")
        extra = _read_more_profile(frames["people"], name, more, Path(sources[profile_key(name)]), check, snapshot,
                                   _key_column(spec, more.join_on))
        if more.valid_from and more.join_on:  # the value each version holds, carried until the files are laid
            frames["people"][_held(name)] = frames["people"].attrs["keys"][more.join_on].to_numpy()
        if more.valid_from:
            versions[name] = extra
        else:
            frames["people"] = _joined(frames["people"], extra, more.join_on or "person_id")
    lookups = {}
    for name, lk in spec.lookups.items():
        step(f"reading {Path(sources[lookup_key(name)]).name}")
        lookups[name] = _read_lookup(name, lk, Path(sources[lookup_key(name)]), check)
    # dates written as months: what became known in a month is dated when it ended, no later than the
    # snapshot (or, without one, the data's last date, known once everything is read: capped below)
    month_cap = (pd.Timestamp(snapshot) if snapshot is not None else UNBOUNDED) if spec.format.month_only else None
    for source, ev in spec.event_sources():
        key = event_source_key(source)
        step(f"reading {Path(sources[key]).name}")
        events = _read_events(ev, source, Path(sources[key]), check, snapshot, lookups,
                              balance=spec.role("credit_line") is not None)
        try:
            _check_people(events, key, spec, Path(sources[key]), known)
        except DataValidationError as exc:
            if ev.person_via is None:
                raise
            via = ev.person_via
            raise _unknown_owner(exc, events, known, via, lookups[via], spec.lookups[via],
                                 Path(sources[lookup_key(via)])) from None
        events_before_joining(events, frames["people"], spec.role("joined_at"), Path(sources[key]))
        staged.add(events, month_cap)
        del events
    if not spec.events:
        frames["events"] = empty_table(EVENTS)
    if spec.relations and "relations" in sources:
        step(f"reading {Path(sources['relations']).name}")
    frames["relations"] = (_read_relations(spec, Path(sources["relations"]), check, snapshot)
                           if spec.relations and "relations" in sources else empty_table(RELATIONS))
    out_path = Path(sources["outcomes"]) if "outcomes" in sources else None
    if spec.outcomes.source != "events":
        step(f"reading {(out_path or people_path).name}'s labels")
        frames["outcomes"] = _read_outcomes(spec, frames["people"], people_path, out_path, check, snapshot)
    if month_cap is not None:
        if snapshot is None:
            month_cap = _latest_date({**frames, **versions}, staged.latest_as_read)
            staged.cap_times(month_cap)
        known_by_month_end(frames, month_cap)
    if spec.relations is not None and spec.relations.derived_kinds:
        step(f"reading the links in {people_path.name}")
        joined = spec.role("joined_at")
        people = frames["people"]
        if joined is not None and month_cap is not None:  # who joined in a month is known when it ended
            people = people.assign(**{joined.name: month_ended(people[joined.name], month_cap)})
            people.attrs = frames["people"].attrs
        derived = relations_from_people(spec.relations, people, people_path,
                                        before_first_day(frames, snapshot, staged.first),
                                        line_offset_for(people_path), joined.name if joined else None)
        frames["relations"] = pd.concat([frames["relations"], derived], ignore_index=True) \
            if len(frames["relations"]) else derived
    frames["people"].attrs.clear()
    for name, extra in versions.items():
        step(f"laying {Path(sources[profile_key(name)]).name}'s versions on the profile's")
        if month_cap is not None:  # as the main file's versions were
            extra["valid_from"] = month_ended(extra["valid_from"], month_cap)
        shared = spec.more_profile[name].join_on is not None
        frames["people"] = with_versions(frames["people"], extra, _held(name) if shared else None)
    step("checking that every row names a known person")
    if spec.relations is not None and spec.relations.unknown_people == "drop":
        frames["relations"] = _without_unknown_people(frames["relations"], known)
    for t in ("relations", "outcomes"):
        if t in sources:
            _check_people(frames[t], t, spec, Path(sources[t]), known)
    snap = str(pd.Timestamp(snapshot).date()) if snapshot is not None else \
        str(_latest_date(frames, staged.latest).date())
    staged.same_columns()
    if spec.outcomes.source == "events":
        step("telling the labels from the events")
        # without a given snapshot, the history's last date is as far as anyone could see
        history = staged.read(["person_id", "ts", "status", "days_late", "due_ts"])
        frames["outcomes"] = outcomes_from_events(spec, history, pd.Timestamp(snap))
    one_outcome(frames.get("outcomes"), spec.outcomes)
    return {t: f.reset_index(drop=True) for t, f in frames.items()}, snap  # stored without the rows' places


def one_outcome(outcomes: pd.DataFrame | None, o: Outcomes) -> None:
    """Warns where every label is the same (all good, or all bad): stored, as a file to score may be so, but a
    model learns from both, and `train` refuses it."""
    labels = outcomes["label"] if outcomes is not None else pd.Series(dtype="int64")
    if len(labels) and labels.nunique() == 1:
        value = int(labels.iloc[0])
        warnings.warn(f"all {len(labels):,} labels are {value} ({'bad' if value else 'good'}), from {o.said()}: "
                      "a model learns from both good and bad labels, so `train` refuses these (check good and "
                      "bad under [outcomes])", stacklevel=2)


def events_before_joining(events: pd.DataFrame, people: pd.DataFrame, joined: Attribute | None, file: Path) -> None:
    """Warns how many of a history file's events are dated before their person joined (the profile's joined_at,
    their earliest): a warning, not a refusal, as a history may predate an account (a bureau's, a transferred
    one), but a date mistaken (a month-first date read day-first, the wrong column) shows so."""
    if joined is None or not len(events) or joined.name not in people:
        return
    since = pd.to_datetime(people[joined.name]).groupby(people["person_id"].to_numpy()).min()
    early = int((pd.to_datetime(events["ts"]).to_numpy() < since.reindex(events["person_id"]).to_numpy()).sum())
    if early:
        warnings.warn(f"{early:,} of {len(events):,} events of {file.name} are dated before their person joined "
                      f"({joined.source_column}): a history older than the account, or dates read wrongly?",
                      stacklevel=2)


def empty_attributes(attributes: list[Attribute], frame: pd.DataFrame, file: Path) -> None:
    """Warns of an attribute whose column is empty in every row of its file: it tells a model nothing (a
    column exported empty, or the wrong one named)."""
    if not len(frame):
        return
    for a in attributes:
        if frame[a.source_column].isna().all():
            named = "" if a.source_column == a.name else f" (attribute {a.name!r})"
            warnings.warn(f"column {a.source_column!r}{named} of {file.name} is empty in every row: it tells a "
                          "model nothing (the right column? else leave the attribute out of the spec, and the "
                          "column under `ignore`)", stacklevel=2)


def _unknown_owner(exc: DataValidationError, events: pd.DataFrame, known: pd.Index, via: str, owner: pd.Series,
                   lk: Lookup, path: Path) -> DataValidationError:
    """A history row whose key's owner, as the lookup table gives it, is no known person: the error names
    the lookup table's row and column, where the wrong owner is written, and the history row that read it."""
    unknown = events["person_id"][~events["person_id"].isin(known).to_numpy(bool)]
    if not len(unknown):
        return exc
    at = np.flatnonzero(owner.to_numpy(dtype=object) == unknown.iloc[0])
    if not len(at):
        return exc
    i = int(at[0])
    return DataValidationError(str(path), f"{withheld(False)}, the owner of an account in the "
                                          f"lookup table {via!r}, is not a person_id in the people table (read by "
                                          f"{Path(exc.file).name}, row {exc.row})", i + 1, lk.person_id,
                               line_offset_for(path))


def _check_people(frame: pd.DataFrame, table: str, spec: DatasetSpec, path: Path, known: pd.Index) -> None:
    """Every person a table's rows name is one of the people, or the error names the user's own column."""
    theirs = _person_columns(spec)[table]
    try:
        check_known_people(frame, tuple(theirs), known, str(path), line_offset_for(path),
                           UNKNOWN_PEOPLE_HINT if table == "relations" else "")
    except DataValidationError as exc:
        raise DataValidationError(exc.file, exc.problem, exc.row, theirs.get(exc.column or ""),
                                  exc.line_offset) from None


@writes_out
def ingest_with_spec(spec: DatasetSpec, sources: dict[str, Path], out: Path, spec_file: str | None = None,
                     snapshot_date: str | None = None, name: str | None = None,
                     on_step: Callable[[str], None] | None = None) -> Dataset:
    """Validate a user's files against their spec and store them with it; on any error nothing is written."""
    check_replaceable(out)
    made = next((d for d in reversed(Path(out).absolute().parents) if not d.exists()), None)  # ours to remove
    staging = staging_dir(out)
    try:
        frames, snapshot = read_with_spec(spec, sources, spec_file, snapshot_date, on_step,
                                          StagedEvents(staging / "events"))
        if on_step:
            on_step(f"writing {Path(out).name}")
        return write_dataset(out, frames, name or spec.name, snapshot, spec.description, spec=spec.stored(),
                             time_zone=spec.format.timezone or "", staging=staging)
    except BaseException:
        shutil.rmtree(made or staging, ignore_errors=True)
        raise


def events_by_meaning(ds: Dataset) -> dict[str, int]:
    """How many stored events each status meaning holds (kept, late, broken, open, neutral), and how many
    are no commitment: money only (a kind with commitment = false that moves money, such as paid_kind's
    payments or a bank's transactions) or activity (one without money, such as a card issued): a check a
    modeller reads after ingest, as a status mapped to the wrong meaning shows at once."""
    ev = ds.spec.events
    if ev is None:
        return {}
    rows = ds.connect().execute("SELECT kind, status, COUNT(*) FROM events GROUP BY kind, status").fetchall()
    out = {m: 0 for m in (*get_args(StatusMeaning), "money only", "activity")}
    neutral = ev.kinds_amount("neutral")
    for kind, status, n in rows:
        meaning = ("activity" if kind in neutral else "money only") if kind in ev.flow_kinds else \
            ev.statuses[status].meaning if status in ev.statuses else "undeclared"
        out[meaning] = out.get(meaning, 0) + int(n)
    return {m: n for m, n in out.items() if n}


def stored_tables(spec: DatasetSpec) -> dict[str, TableSpec]:
    """The table specs of a data set stored with `spec`: DeepCredit's column names, the spec's types and
    vocabularies (what `deepcredit validate` re-checks)."""
    people = [Column("person_id", ColumnType.STRING)]
    people += [replace(_attribute_column(a), name=a.name) for a in spec.profile.attributes]
    if spec.profile.valid_from:
        people.append(Column("valid_from", ColumnType.TIMESTAMP, nullable=True))
    key = ("person_id", "valid_from") if spec.profile.valid_from else ("person_id",)
    events = EVENTS
    if spec.events is not None:
        vocab = {"kind": frozenset(spec.events.kinds), "status": frozenset(spec.events.statuses)}
        events = replace(EVENTS, columns=tuple(replace(c, allowed=vocab.get(c.name, c.allowed)) for c in EVENTS.columns)
                         + tuple(Column(m.name, TYPES[m.type], required=False, nullable=True,
                                        description=m.text) for m in spec.events.measures))
    kinds = frozenset(spec.relations.kinds) if spec.relations is not None and spec.relations.kinds else None
    relations = replace(RELATIONS, columns=tuple(replace(c, allowed=kinds if c.name == "kind" else c.allowed)
                                                 for c in RELATIONS.columns))
    return {"people": TableSpec("people", tuple(people), key=key), "events": events, "relations": relations,
            "outcomes": OUTCOMES}


def validate_stored(ds: Dataset) -> None:
    """Re-validate every row of a data set stored with a spec, against that spec.

    Every check but one: stored events and relations are not checked for exact duplicates. Rows that were
    distinct in their file may be the same once stored (two loans' instalments through a lookup to one person,
    a column the spec ignores, the payments of two such instalments, two ties of a month dated at its end);
    ingest checks each file's own rows, where a repeated row is one event recorded twice. Self-loops are
    checked (relation_checks)."""
    tables = stored_tables(ds.spec)
    checks = {"events": (check_event_values,), "relations": relation_checks(duplicates=False)}
    frames = {t: read_and_validate(ds.table_path(t), spec, ds.snapshot_date, allow_empty=t in ("events", "relations"),
                                   checks=checks.get(t)) for t, spec in tables.items()}
    people = pd.Index(frames["people"]["person_id"].unique())
    for t, cols in {"events": ("person_id",), "relations": ("source", "target"), "outcomes": ("person_id",)}.items():
        check_known_people(frames[t], cols, people, str(ds.table_path(t)), None)
