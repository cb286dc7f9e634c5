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
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel

from deepcredit.data.compressed import open_text
from deepcredit.data.dataset import (
    Dataset,
    check_known_people,
    check_replaceable,
    parse_snapshot_date,
    write_dataset,
)
from deepcredit.data.datasets.uci import typed_frame
from deepcredit.data.headers import column_names
from deepcredit.data.parts import first_part
from deepcredit.data.schema import EVENTS, OUTCOMES, RELATIONS, Column, ColumnType, TableSpec
from deepcredit.data.sheets import is_spreadsheet, read_sheet, source_exists
from deepcredit.data.spec import (
    Attribute,
    DatasetSpec,
    Events,
    Outcomes,
    Relations,
    SpecError,
    StatusMeaning,
    field_path,
    spec_line,
)
from deepcredit.data.validate import (
    PLAIN,
    DataValidationError,
    FileFormat,
    check_event_values,
    check_no_duplicate_rows,
    event_kinds,
    first_true,
    is_parquet,
    line_offset_for,
    read_and_validate,
    separator_hint,
    with_exact_line,
)

TYPES = {"numeric": ColumnType.FLOAT, "categorical": ColumnType.STRING, "ordinal": ColumnType.STRING,
         "boolean": ColumnType.BOOL, "date": ColumnType.TIMESTAMP}


def file_columns(path: Path, fmt: FileFormat = PLAIN) -> list[str]:
    """The column names of a CSV (its header), Parquet file or sheet; of a directory of parts, its first part's."""
    path = Path(path)
    if not source_exists(path):
        raise DataValidationError(str(path), "file not found")
    if is_spreadsheet(path):
        return [str(c).strip() for c in read_sheet(path, nrows=0).columns]
    path = first_part(path)
    if is_parquet(path):
        return list(pq.read_schema(path).names)
    with open_text(path, fmt.text_encoding, errors="replace") as fh:
        return column_names(next((r for r in csv.reader(fh, delimiter=fmt.delimiter) if r), []))


class _Checker:
    """Reports a declared column missing from a data file at the spec's line; knows how the files are written."""

    def __init__(self, spec_file: str | None, fmt: FileFormat = PLAIN) -> None:
        self.spec_file, self.fmt = spec_file, fmt
        self._headers: dict[Path, list[str]] = {}

    def columns(self, path: Path) -> set[str]:
        """The file's column names, read once per ingest."""
        path = Path(path)
        if path not in self._headers:
            self._headers[path] = file_columns(path, self.fmt)
        return set(self._headers[path])

    def defaulted_absent(self, declared: BaseModel, field: str, path: Path) -> bool:
        """The spec left `field` at its default name, and the file has no such column: an optional column
        then counts as absent, and a person column falls back to the profile's id column."""
        return field not in declared.model_fields_set and getattr(declared, field) not in self.columns(path)

    def require(self, path: Path, columns: dict[tuple, str | None]) -> None:
        have = self.columns(path)
        for loc, col in columns.items():
            if col is not None and col not in have:
                line = spec_line(self.spec_file, loc) if self.spec_file else None
                hint = separator_hint(self._headers[Path(path)], self.fmt.delimiter)
                raise SpecError(self.spec_file or "spec", f"column {col!r} is not in {path} (its columns: "
                                f"{', '.join(sorted(have)) or 'none'})" + (f"; {hint}" if hint else ""),
                                line, field_path(loc))


def _table(name: str, section: str, columns: Iterable[Column], ignore: list[str], key: tuple[str, ...] = ()) -> TableSpec:
    """The table a user's file must match: the declared columns, plus the ignored ones (read, then dropped)."""
    ignored = tuple(Column(c, ColumnType.STRING, required=False, nullable=True) for c in ignore)
    return TableSpec(name, (*columns, *ignored), key=key,
                     unknown_hint=f"; to leave it out, list it in `ignore` under [{section}] in the spec")


def _attribute_column(a: Attribute) -> Column:
    allowed = frozenset(a.order) if a.order is not None else None  # only ordinal attributes have an order
    return Column(a.source_column, TYPES[a.type], nullable=True, allowed=allowed, description=a.description)


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
    cols = [Column(p.id_column, ColumnType.STRING)] if p.id_column else []
    cols += [_attribute_column(a) for a in p.attributes]
    if p.valid_from:
        cols.append(Column(p.valid_from, ColumnType.TIMESTAMP, nullable=True))
    if spec.outcomes.source == "people":
        cols.append(Column(spec.outcomes.label, ColumnType.STRING, nullable="" in spec.outcomes.unknown))
    if dated_by:
        cols.append(Column(dated_by, ColumnType.TIMESTAMP))
    links = [*spec.relations.from_people, *spec.relations.groups] if spec.relations is not None else []
    check.require(path, {("relations", f, i): c for f in ("from_people", "groups")
                         for i, c in enumerate(getattr(spec.relations, f, []))})
    cols += [Column(c, ColumnType.STRING, nullable=True) for c in links]
    key = ((p.id_column, p.valid_from) if p.valid_from else (p.id_column,)) if p.id_column else ()
    frame = read_and_validate(path, _table("people", "profile", cols, p.ignore, key), snapshot, fmt=check.fmt)
    ids = frame[p.id_column] if p.id_column else pd.Series(range(1, len(frame) + 1)).astype(str)
    out = pd.DataFrame({"person_id": ids.astype("string")})
    for a in p.attributes:
        out[a.name] = frame[a.source_column]
    if p.valid_from:
        out["valid_from"] = frame[p.valid_from]
    if spec.outcomes.source == "people":
        out.attrs["label"] = frame[spec.outcomes.label]
    if dated_by:
        out.attrs["as_of"] = frame[dated_by]
    if links:
        out.attrs["links"] = frame[links]
    return out


def relations_from_people(rel: Relations, people: pd.DataFrame, path: Path, since: pd.Timestamp,
                          line_offset: int | None) -> pd.DataFrame:
    """The relations the people file's columns declare (Relations.from_people and groups), as rows of the
    relations table. Each is known from the version of the profile that holds it (valid_from), else from
    `since` (the day before the data's first): a link written on the profile has no date of its own. A name in a
    from_people column that is no person is refused at its row, or left out (unknown_people = "drop")."""
    links: pd.DataFrame = people.attrs["links"]
    person = people["person_id"].astype("string")
    known = people["valid_from"].fillna(since) if "valid_from" in people else pd.Series(since, index=people.index)
    parts = []
    for col in rel.from_people:
        named = links[col].astype("string").str.strip().replace("", pd.NA)
        has = named.notna().to_numpy(bool)
        edges = pd.DataFrame({"source": person[has], "target": named[has], "kind": col, "weight": 1.0,
                              "ts": known[has]})
        if rel.unknown_people == "refuse":
            check_known_people(edges.rename(columns={"target": col}), (col,), pd.Index(person.unique()),
                               str(path), line_offset)
        parts.append(edges[edges["source"] != edges["target"]])
    for col in rel.groups:
        parts.append(_group_links(rel, col, links[col], person, known))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in RELATIONS.columns])
    out["kind"] = out["kind"].astype("string")
    # a link written on several versions of the profile is known from the earliest
    out = out.sort_values("ts", kind="stable")[[c.name for c in RELATIONS.columns]]
    return out.drop_duplicates(["source", "target", "kind"]).reset_index(drop=True)


def _group_links(rel: Relations, col: str, values: pd.Series, person: pd.Series, known: pd.Series) -> pd.DataFrame:
    """Every pair of people sharing a value of `col`, once (source before target), known when both were."""
    frame = pd.DataFrame({"value": values.astype("string").str.strip().replace("", pd.NA), "person": person,
                          "known": known}).dropna(subset=["value"]).drop_duplicates(["value", "person"])
    size = frame.groupby("value")["person"].transform("size")
    if (big := frame.loc[size > rel.max_group, "value"].nunique()) > 0:
        warnings.warn(f"{big:,} value(s) of {col!r} are shared by more than {rel.max_group} people (max_group): "
                      "they connect nobody", stacklevel=3)
    frame = frame[(size > 1) & (size <= rel.max_group)]
    pairs = frame.merge(frame, on="value", suffixes=("_a", "_b"))
    pairs = pairs[pairs["person_a"] < pairs["person_b"]]
    return pd.DataFrame({"source": pairs["person_a"], "target": pairs["person_b"], "kind": f"same_{col}",
                         "weight": 1.0, "ts": pairs[["known_a", "known_b"]].max(axis=1)})


def _renamed(frame: pd.DataFrame, mapping: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({ours: frame[theirs] for ours, theirs in mapping.items() if theirs is not None})


def _declared_columns(table: TableSpec, mapping: dict[str, str | None],
                      allowed: dict[str, frozenset[str] | None]) -> tuple[Column, ...]:
    """The canonical table's columns under the names the user's file gives them (undeclared ones left out)."""
    canon = {c.name: c for c in table.columns}
    return tuple(replace(canon[ours], name=theirs, required=True, allowed=allowed.get(ours), description="")
                 for ours, theirs in mapping.items() if theirs is not None)


def dated_when_known(events: pd.DataFrame, settled: pd.Series | None, ev: Events, snapshot: pd.Timestamp | None,
                     file: str, line_offset: int | None) -> pd.DataFrame:
    """Each event dated when its outcome became known, and its days late counted from its due date.

    A ledger row (an order, a rental) is dated when it was made, yet its status says how it ended: dated so,
    a feature at a date before the end would see the ending. A settled row is therefore dated by its
    settled time; one not settled that is no longer open by its due date (the outcome was known then); an
    open one when it was made. With a grace period (spec.Events.grace_days) a row not settled within it is
    broken from the day after it ends, however it ended later. Where the spec declares a due date but no
    days-late column, days late are the whole days from due to known (0 when early), and unknown for open rows.
    """
    ts = events["ts"]
    due = events["due_ts"] if "due_ts" in events else pd.Series(pd.NaT, index=events.index, dtype=ts.dtype)
    known = ts.copy()
    broken_from = due  # when a row not settled is known to have ended
    if settled is not None:
        made = ev.columns.ts != ev.columns.due_ts  # a schedule dated by its due dates may be paid before them
        if made and (i := first_true((settled < ts).to_numpy(bool, na_value=False))) is not None:
            raise DataValidationError(file, f"settled on {settled.iloc[i]} before the event's own date {ts.iloc[i]}",
                                      int(events.index[i]) + 1, ev.columns.settled_ts, line_offset)
        if ev.grace_days is not None:
            events, settled = _after_grace(events, settled, ev, snapshot, file, line_offset)
            broken_from = due.dt.normalize() + pd.Timedelta(days=ev.grace_days + 1)
    open_ = events["status"].isin(ev.statuses_meaning("open")).to_numpy(bool)  # after the grace's changes
    if settled is not None:
        done = settled.notna().to_numpy(bool)
        known[done] = settled[done]
        ended = ~done & ~open_ & due.notna().to_numpy(bool)
        known[ended] = np.maximum(ts[ended], broken_from[ended])
        after = (due >= pd.Timestamp(snapshot).normalize() + pd.Timedelta(days=1)) if snapshot is not None else None
        if after is not None and (i := first_true(ended & after.to_numpy(bool, na_value=False))) is not None:
            raise DataValidationError(file, f"{events['status'].iloc[i]!r} is not an open status, so the row ended "
                                            "by its due date, which is after the snapshot date: give its settled "
                                            "date, or an open status while it runs", int(events.index[i]) + 1,
                                      ev.columns.due_ts,
                                      line_offset)
    out = events.assign(ts=known)
    if ev.columns.days_late is None and ev.columns.due_ts is not None:
        days = (known.dt.normalize() - due.dt.normalize()).dt.days.clip(lower=0).astype("float64")
        out["days_late"] = days.where(~open_ & due.notna().to_numpy(bool))
    return out


def _after_grace(events: pd.DataFrame, settled: pd.Series, ev: Events, snapshot: pd.Timestamp | None, file: str,
                 line_offset: int | None) -> tuple[pd.DataFrame, pd.Series]:
    """The ledger as it stood when each row's grace period ended ([events] grace_days): a row not settled by
    then is broken, its later settlement forgotten, so it reads the same as one never settled; one not settled
    whose grace runs past the snapshot is open (how it ends is not known yet)."""
    if snapshot is None:
        raise DataValidationError(file, "the spec gives a grace period (grace_days): give the snapshot date "
                                        "(--snapshot-date, or snapshot_date in the spec), which tells a broken "
                                        "commitment from one still within its grace")
    assert ev.grace_days is not None
    last_day = events["due_ts"].dt.normalize() + pd.Timedelta(days=ev.grace_days)
    has_due = last_day.notna().to_numpy(bool)
    within = (settled.dt.normalize() <= last_day).to_numpy(bool, na_value=False)
    over = has_due & ~within & (last_day < pd.Timestamp(snapshot).normalize()).to_numpy(bool, na_value=False)
    running = has_due & settled.isna().to_numpy(bool) & ~over
    first = {m: next((s for s, v in ev.statuses.items() if v.meaning == m), None) for m in ("broken", "open")}
    status = events["status"].mask(over, first["broken"])  # the first declared: the spec's own order
    opens = ev.statuses_meaning("open")
    still = running & ~status.isin(opens).to_numpy(bool)
    if still.any():
        if not opens:
            raise DataValidationError(file, "not settled and within its grace period at the snapshot, so it is "
                                            "still open: declare a status meaning open",
                                      int(events.index[int(np.argmax(still))]) + 1,
                                      ev.columns.status or ev.columns.settled_ts, line_offset)
        status = status.mask(still, first["open"])
    out = events.assign(status=status)
    if "days_late" in out and ev.columns.days_late is not None:  # what was known when the grace ran out
        out["days_late"] = out["days_late"].mask(over, float(ev.grace_days + 1))
    return out, settled.mask(over)


def event_source_key(source: str) -> str:
    """The key of a history file among ingest's sources: "events", or "events:NAME" for [more_events.NAME]."""
    return source if source == "events" else f"events:{source}"


def history_files(values: Iterable[str]) -> dict[str, Path]:
    """Ingest's sources for `--events` values: FILE for [events], NAME=FILE for [more_events.NAME]."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        named = bool(sep) and re.fullmatch(r"[a-z_][a-z0-9_]*", name) is not None and not Path(value).exists()
        key = event_source_key(name) if named else "events"
        if key in out:
            raise DataValidationError("--events", f"{value!r}: " + ("a second file for the same history" if named else
                                      "the first history file is given already: name the others as NAME=FILE, "
                                      "as the spec's [more_events.NAME]"))
        out[key] = Path(path if named else value)
    return out


def _section_path(source: str) -> tuple[str, ...]:
    return (source,) if source == "events" else ("more_events", source)


def _read_events(ev: Events, source: str, path: Path, check: _Checker, snapshot) -> pd.DataFrame:
    """One history file as the events table's rows, declared by `ev` ([events] or [more_events.source])."""
    section = _section_path(source)
    mapping = ev.columns.model_dump()
    settled = mapping.pop("settled_ts")
    check.require(path, {(*section, "columns", k): v for k, v in ev.columns.model_dump().items()})
    cols = _declared_columns(EVENTS, mapping, {"kind": frozenset(ev.kinds), "status": frozenset(ev.statuses)})
    if settled:
        cols += (Column(settled, ColumnType.TIMESTAMP, nullable=True),)
    cols += tuple(Column(c, ColumnType.STRING) for c in ev.parts_of)
    if mapping["amount"]:  # may be empty for a kind whose amount is neutral (amounts_where_meant)
        cols = tuple(replace(c, nullable=True) if c.name == mapping["amount"] else c for c in cols)
    signed = ev.kinds_amount("owed") | ev.kinds_amount("rating") | ev.kinds_amount("neutral")
    values = partial(check_event_values, kind=mapping["kind"], amount=mapping["amount"],
                     days_late=mapping.get("days_late"), signed_kinds=signed, only_kind=ev.only_kind)
    def no_duplicates(frame: pd.DataFrame, file: str, line_offset: int | None) -> None:
        # what is stored counts: rows that differ only in an ignored column are one event recorded twice
        check_no_duplicate_rows(frame.drop(columns=ev.ignore, errors="ignore"), file, line_offset)

    frame = read_and_validate(path, _table("events", ".".join(section), cols, ev.ignore), snapshot,
                              checks=(values, amounts_where_meant(ev), no_duplicates), fmt=check.fmt)
    events = _renamed(frame, mapping)
    events["amount"] = events["amount"].fillna(0.0) if "amount" in events else 0.0
    if ev.only_kind is not None:
        events["kind"] = pd.Series(ev.only_kind, index=events.index, dtype="string")
    when = frame[settled] if settled else None
    if ev.parts_of:
        events, when = merged_parts(events if when is None else events.assign(settled_ts=when), frame[ev.parts_of],
                                    ev, str(path), line_offset_for(path))
    if ev.columns.status is None:
        events["status"] = status_from_dates(events, when, snapshot, str(path)) if ev.columns.due_ts is not None \
            else status_from_days_late(events["days_late"], ev.missed_after_days)
    return dated_when_known(events, when, ev, snapshot, str(path), line_offset_for(path))


SEVERITY = ("broken", "late", "open", "kept", "neutral")
"""A commitment paid in parts has the most severe of its parts' status meanings, in this order."""


def merged_parts(events: pd.DataFrame, parts: pd.DataFrame, ev: Events, file: str = "events",
                 line_offset: int | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """One event per commitment where the file writes one in parts ([events] parts_of): made when its first
    part was, due when its first part was due, settled when its last part was (not settled while a part is
    not), its amount the parts' sum (or, with parts_amount = "once", the amount each repeats), its status
    the most severe of theirs, its days late the most; kind and
    counterparty of its first row. In a file without settled dates the merged event is dated by its last
    part, for only then is the most severe status known. The merged row keeps its first row's number, so
    errors still name a line of the file."""
    key = [events["person_id"].astype("string"), *(parts[c].astype("string") for c in parts.columns)]
    names = ["person_id", *(f"_part_{i}" for i in range(len(parts.columns)))]
    work = events.assign(**{n: k.to_numpy() for n, k in zip(names[1:], key[1:], strict=True)}, _row=events.index)
    rank = {s: SEVERITY.index(v.meaning) for s, v in ev.statuses.items()}
    ledger = "settled_ts" in work  # dated when settled afterwards (dated_when_known); else by its last part
    once = ev.parts_amount == "once"
    agg: dict[str, tuple[str, object]] = {"_row": ("_row", "min"), "ts": ("ts", "min" if ledger else "max"),
                                          "amount": ("amount", "max" if once else "sum")}
    if once:
        _same_amount_in_parts(work, names, file, line_offset)
    for col in ("kind", "counterparty"):
        if col in work:
            agg[col] = (col, "first")
    if "due_ts" in work:
        agg["due_ts"] = ("due_ts", "min")
    if "days_late" in work:
        agg["days_late"] = ("days_late", "max")
    if ledger:
        work["_open_part"] = work["settled_ts"].isna()
        agg["settled_ts"], agg["_open_part"] = ("settled_ts", "max"), ("_open_part", "any")
    merged = work.groupby(names, sort=False).agg(**agg)
    if "status" in work:  # the status of the most severe part, as the file writes it
        worst = work.assign(_severity=work["status"].map(rank)).sort_values("_severity", kind="stable")
        merged["status"] = worst.groupby(names, sort=False)["status"].first()
    merged = merged.reset_index(level="person_id").sort_values("_row").set_index("_row").rename_axis(None)
    when = merged.pop("settled_ts").mask(merged.pop("_open_part")) if ledger else None
    columns = [c for c in events.columns if c != "settled_ts" and c in merged]
    return merged[columns], when


def _same_amount_in_parts(work: pd.DataFrame, names: list[str], file: str, line_offset: int | None) -> None:
    """With parts_amount = "once", every row of a commitment repeats its amount: the first row that does not
    is refused, naming the commitment's first row."""
    groups = work.groupby(names, sort=False)
    first = groups["amount"].transform("first").to_numpy(dtype=float, na_value=np.nan)
    amount = work["amount"].to_numpy(dtype=float, na_value=np.nan)
    differs = ~np.isclose(amount, first, rtol=0, atol=1e-9, equal_nan=True)
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        start = int(groups["_row"].transform("min").iloc[i]) + 1
        raise DataValidationError(file, f"the rows of one commitment (from row {start}) hold different amounts, yet "
                                        "parts_amount = \"once\" says each repeats its whole amount (for parts that "
                                        "each hold their own amount, use \"sum\")", int(work["_row"].iloc[i]) + 1,
                                  line_offset=line_offset)


def status_from_days_late(days_late: pd.Series, missed_after: int | None) -> pd.Series:
    """How each commitment stood, told from its days late (a monthly balance's days past due): none,
    on_time; some, late; at least `missed_after`, missed. A row without a number is open (not yet known)."""
    late = days_late.to_numpy(dtype=float, na_value=np.nan)
    missed = late >= missed_after if missed_after is not None else np.zeros(len(late), bool)
    status = np.select([np.isnan(late), missed, late > 0], ["open", "missed", "late"], "on_time")
    return pd.Series(status, index=days_late.index, dtype="string")


def status_from_dates(events: pd.DataFrame, settled: pd.Series, snapshot: pd.Timestamp | None, file: str
                      ) -> pd.Series:
    """How each commitment ended, told from its due and settled dates (spec.DERIVED_STATUSES): settled by its
    due day, on_time; after it, late; not settled and due before the snapshot day, missed; else open."""
    if snapshot is None:
        raise DataValidationError(file, "the spec tells statuses from the dates (status = \"\"): give the snapshot "
                                        "date (--snapshot-date, or snapshot_date in the spec), which tells a missed "
                                        "commitment from an open one")
    due = events["due_ts"].dt.normalize()
    done = settled.notna().to_numpy(bool)
    late = done & (settled.dt.normalize() > due).to_numpy(bool, na_value=False)
    missed = ~done & (due < pd.Timestamp(snapshot).normalize()).to_numpy(bool, na_value=False)
    status = np.select([late, done, missed], ["late", "on_time", "missed"], "open")
    return pd.Series(status, index=events.index, dtype="string")


def amounts_where_meant(ev: Events) -> Callable[[pd.DataFrame, str, int | None], None]:
    """A whole-table check: an amount is given wherever the kind's amount means money owed or paid or a
    rating; a neutral kind's may be left empty (an activity without money), and is then stored as 0."""
    def check(frame: pd.DataFrame, file: str, line_offset: int | None) -> None:
        col = ev.columns.amount
        if col is None:
            return
        kinds = event_kinds(frame, ev.columns.kind, ev.only_kind)
        meant = ~kinds.isin(ev.kinds_amount("neutral")).to_numpy(bool)
        if (i := first_true(meant & frame[col].isna().to_numpy(bool))) is not None:
            kind = kinds.iloc[i]
            raise DataValidationError(file, f"a {kind} event needs its amount (its amount is "
                                            f"{ev.kinds[str(kind)].amount}); only a neutral kind's may be empty",
                                      i + 1, col, line_offset)
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
    frame = _renamed(read_and_validate(path, table, snapshot, allow_empty=True, fmt=check.fmt), mapping)
    if "kind" not in frame:
        frame["kind"] = pd.Series(["related"] * len(frame), dtype="string")
    if "weight" not in frame:
        frame["weight"] = 1.0
    return frame[[c.name for c in RELATIONS.columns]]


def _labels(values: pd.Series, spec: DatasetSpec, file: str, line_offset: int | None) -> pd.Series:
    """1 for a bad label value, 0 for a good one, missing for one the spec declares unknown (not known yet)."""
    o = spec.outcomes
    text = values.astype("string").str.strip().fillna("")
    bad, good = text.isin(o.bad).to_numpy(bool), text.isin(o.good).to_numpy(bool)
    pending = text.isin(o.unknown).to_numpy(bool) & ~(bad | good)
    other = ~(bad | good | pending)
    if other.any():
        i = int(other.argmax())
        said = f"{text.iloc[i]!r}" if text.iloc[i] else "an empty label"
        hint = "" if o.unknown else " (a value that says the outcome is not known yet goes under unknown = [...])"
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
        cols = [Column(o.person_id, ColumnType.STRING), Column(o.label, ColumnType.STRING, nullable="" in o.unknown)]
        cols += [Column(as_of_col, ColumnType.TIMESTAMP)] if as_of_col else []
        cols += [Column(window_col, ColumnType.INT)] if window_col else []
        key = (o.person_id, as_of_col) if as_of_col else (o.person_id,)
        frame = read_and_validate(path, _table("outcomes", "outcomes", cols, o.ignore, key), snapshot,
                                  fmt=check.fmt)
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
    if snapshot is not None:
        out["label"] = _with_open_windows(out, o, pd.Timestamp(snapshot))
    out = out[out["label"].notna()]  # all of them: a file to score, not to learn from; rows keep their place
    out["label"] = out["label"].astype("int64")
    out["window_days"] = out["window_days"].astype("int64")
    return out


def outcomes_from_events(spec: DatasetSpec, events: pd.DataFrame, snapshot: pd.Timestamp | None) -> pd.DataFrame:
    """Labels told from the history itself (outcomes.source = "events"): at each as-of date, everyone with an
    event before it (the people on the books then) is bad when an event of a `bad_when` meaning, or at least
    `bad_days_late` days late, is known within the window after it, else good. Features at that date read
    only the events before it, the label only those after: the same table, split by the date."""
    o, ev = spec.outcomes, spec.stored().events
    assert ev is not None and o.window_days is not None
    bad_status = events["status"].isin(sorted(ev.statuses_meaning(*o.bad_when))).to_numpy(bool)
    if o.bad_days_late is not None and "days_late" in events:
        bad_status |= (events["days_late"].to_numpy(dtype=float, na_value=np.nan) >= o.bad_days_late)
    ts, person = events["ts"], events["person_id"].astype("string")
    parts = []
    for day in sorted(set(o.as_of_dates) or ({o.as_of} if o.as_of else set())):
        start = pd.Timestamp(day)
        end = start + pd.Timedelta(days=o.window_days)
        booked = pd.Index(person[(ts < start).to_numpy(bool)].unique())
        bad = set(person[bad_status & (ts >= start).to_numpy(bool) & (ts < end).to_numpy(bool)])
        parts.append(pd.DataFrame({"person_id": booked.astype("string"), "as_of": start,
                                   "label": booked.isin(bad).astype("int64"), "window_days": o.window_days}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["person_id", "as_of", "label"])
    out["as_of"] = out["as_of"].astype("datetime64[us]")
    out["window_days"] = out["window_days"].astype("int64")
    if out.empty:
        raise DataValidationError("outcomes", "no one has an event before any as-of date: nobody to label (the "
                                              "as-of dates come before the history starts?)")
    if snapshot is not None:
        out["label"] = _with_open_windows(out, o, pd.Timestamp(snapshot))
        out = out[out["label"].notna()].astype({"label": "int64"})
    return out.sort_values(["as_of", "person_id"], kind="stable").reset_index(drop=True)


def _with_open_windows(out: pd.DataFrame, o: Outcomes, snapshot: pd.Timestamp) -> pd.Series:
    """The labels, with the good ones whose window ends after the snapshot left unknown where the spec says
    so (open_windows), and a warning counting them either way: a good outcome is final only when its window
    has ended, while a bad one is final when seen."""
    ends = out["as_of"] + pd.to_timedelta(pd.Series(out["window_days"], index=out.index).astype("int64"), unit="D")
    still_open = (out["label"] == 0).to_numpy(bool, na_value=False) & (ends > snapshot).to_numpy(bool)
    if not still_open.any():
        return out["label"]
    n, labelled = int(still_open.sum()), int((out["label"] == 0).sum())
    said = f"{n:,} of {labelled:,} good labels have a performance window that ends after the snapshot date " \
           f"{snapshot.date()}: they may still go bad"
    if o.open_windows == "unknown":
        warnings.warn(f"{said}; left out of the labels as not known yet (open_windows = \"unknown\")", stacklevel=3)
        return out["label"].mask(still_open)
    warnings.warn(f"{said} (open_windows = \"unknown\" in [outcomes] leaves them out)", stacklevel=3)
    return out["label"]


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A table with the spec's required columns, typed, and no rows (no events, no relations)."""
    return typed_frame(spec, {c.name: [] for c in spec.columns if c.required})


def _before_first_day(frames: dict[str, pd.DataFrame], snapshot: pd.Timestamp | None) -> pd.Timestamp:
    """The day before the data's first day (its earliest date in any table): an undated link is known from
    then, so every as-of date sees it."""
    dates = [f[c].min() for f in frames.values() for c in f.columns
             if pd.api.types.is_datetime64_any_dtype(f[c]) and f[c].notna().any()]
    first = min(dates) if dates else (pd.Timestamp(snapshot) if snapshot is not None else pd.Timestamp("1970-01-01"))
    return pd.Timestamp(first).normalize() - pd.Timedelta(days=1)


def _latest_date(frames: dict[str, pd.DataFrame]) -> pd.Timestamp:
    dates = [f[c].max() for f in frames.values() for c in f.columns
             if pd.api.types.is_datetime64_any_dtype(f[c]) and c != "due_ts" and f[c].notna().any()]
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


def _at_source(exc: DataValidationError, sources: dict[str, Path], fmt: FileFormat) -> DataValidationError:
    """The error told at its exact line, and at its part file where the source is a directory of parts."""
    path = next((Path(p) for p in sources.values() if str(Path(p)) == exc.file), None)
    return exc if path is None else with_exact_line(exc, path, fmt)


def read_with_spec(spec: DatasetSpec, sources: dict[str, Path], spec_file: str | None = None,
                   snapshot_date: str | None = None, on_step: Callable[[str], None] | None = None
                   ) -> tuple[dict[str, pd.DataFrame], str]:
    """Read and validate a user's files as `spec` declares them: (the four tables, snapshot date).
    A source is a file, a sheet (book.xlsx#sheet) or a directory of parts (parts.py).
    on_step: told what is being read or checked (a large file takes a while)."""
    check = _Checker(spec_file, spec.format.file_format())
    if "people" not in sources:
        raise DataValidationError("people", "no file was given for the people table (--people)")
    for table, declared in (("events", spec.events), ("relations", spec.relations)):
        if table in sources and declared is None:
            raise SpecError(spec_file or "spec", f"a {table} file was given but the spec declares no [{table}]",
                            None, table)
        derived = table == "relations" and spec.relations is not None and spec.relations.derived_kinds
        if table not in sources and declared is not None and not derived:
            raise DataValidationError(table, f"the spec declares {table}: give the file with --{table}")
    for key in sources:
        if key.startswith("events:") and key.removeprefix("events:") not in spec.more_events:
            raise SpecError(spec_file or "spec", f"a history file {key.removeprefix('events:')}=... was given but "
                            f"the spec declares no [more_events.{key.removeprefix('events:')}]", None, "more_events")
    for source in spec.more_events:
        if event_source_key(source) not in sources:
            raise DataValidationError("events", f"the spec declares [more_events.{source}]: give the file with "
                                                f"--events {source}=FILE")
    try:
        return _read_tables(with_person_columns(spec, sources, check), sources, check, snapshot_date,
                            on_step or (lambda _: None))
    except DataValidationError as exc:
        raise _at_source(exc, sources, check.fmt) from None


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
                 step: Callable[[str], None]) -> tuple[dict[str, pd.DataFrame], str]:
    given = snapshot_date or (str(spec.snapshot_date) if spec.snapshot_date else None)
    snapshot = parse_snapshot_date(given) if given else None
    people_path = Path(sources["people"])
    step(f"reading {people_path.name}")
    frames = {"people": _read_people(spec, people_path, check, snapshot)}
    for source, ev in spec.event_sources():
        key = event_source_key(source)
        step(f"reading {Path(sources[key]).name}")
        frames[key] = _read_events(ev, source, Path(sources[key]), check, snapshot)
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
    if spec.relations is not None and spec.relations.derived_kinds:
        step(f"reading the links in {people_path.name}")
        derived = relations_from_people(spec.relations, frames["people"], people_path, _before_first_day(frames, snapshot),
                                        line_offset_for(people_path))
        frames["relations"] = pd.concat([frames["relations"], derived], ignore_index=True) \
            if len(frames["relations"]) else derived
    step("checking that every row names a known person")
    frames["people"].attrs.clear()
    people = pd.Index(frames["people"]["person_id"].unique())
    if spec.relations is not None and spec.relations.unknown_people == "drop":
        frames["relations"] = _without_unknown_people(frames["relations"], people)
    for t, theirs in _person_columns(spec).items():
        if t in sources:
            path = Path(sources[t])
            try:
                check_known_people(frames[t], tuple(theirs), people, str(path), line_offset_for(path))
            except DataValidationError as exc:  # named as the user's file names it
                raise DataValidationError(exc.file, exc.problem, exc.row, theirs.get(exc.column or ""),
                                          exc.line_offset) from None
    snap = str(pd.Timestamp(snapshot).date()) if snapshot is not None else str(_latest_date(frames).date())
    if spec.more_events:  # every history file in the one events table, in time order
        keys = [event_source_key(s) for s, _ in spec.event_sources()]
        frames["events"] = pd.concat([frames.pop(k) for k in keys], ignore_index=True) \
            .sort_values(["person_id", "ts"], kind="stable")
    if spec.outcomes.source == "events":
        step("telling the labels from the events")
        frames["outcomes"] = outcomes_from_events(spec, frames["events"], snapshot)
    return {t: f.reset_index(drop=True) for t, f in frames.items()}, snap  # stored without the rows' places


def ingest_with_spec(spec: DatasetSpec, sources: dict[str, Path], out: Path, spec_file: str | None = None,
                     snapshot_date: str | None = None, name: str | None = None,
                     on_step: Callable[[str], None] | None = None) -> Dataset:
    """Validate a user's files against their spec and store them with it; on any error nothing is written."""
    check_replaceable(out)
    frames, snapshot = read_with_spec(spec, sources, spec_file, snapshot_date, on_step)
    if on_step:
        on_step(f"writing {Path(out).name}")
    return write_dataset(out, frames, name or spec.name, snapshot, spec.description, spec=spec.stored(),
                         time_zone=spec.format.timezone or "")


def events_by_meaning(ds: Dataset) -> dict[str, int]:
    """How many stored events each status meaning holds (kept, late, broken, open, neutral): a check a
    modeller reads after ingest, as a status mapped to the wrong meaning shows at once."""
    ev = ds.spec.events
    if ev is None:
        return {}
    counts = dict(ds.connect().execute("SELECT status, COUNT(*) FROM events GROUP BY status").fetchall())
    out = {m: 0 for m in get_args(StatusMeaning)}
    for status, n in counts.items():
        meaning = ev.statuses[status].meaning if status in ev.statuses else "undeclared"
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
        events = replace(EVENTS, columns=tuple(replace(c, allowed=vocab.get(c.name, c.allowed)) for c in EVENTS.columns))
    kinds = frozenset(spec.relations.kinds) if spec.relations is not None and spec.relations.kinds else None
    relations = replace(RELATIONS, columns=tuple(replace(c, allowed=kinds if c.name == "kind" else c.allowed)
                                                 for c in RELATIONS.columns))
    return {"people": TableSpec("people", tuple(people), key=key), "events": events, "relations": relations,
            "outcomes": OUTCOMES}


def validate_stored(ds: Dataset) -> None:
    """Re-validate every row of a data set stored with a spec, against that spec."""
    tables = stored_tables(ds.spec)
    frames = {t: read_and_validate(ds.table_path(t), spec, ds.snapshot_date, allow_empty=t in ("events", "relations"))
              for t, spec in tables.items()}
    people = pd.Index(frames["people"]["person_id"].unique())
    for t, cols in {"events": ("person_id",), "relations": ("source", "target"), "outcomes": ("person_id",)}.items():
        check_known_people(frames[t], cols, people, str(ds.table_path(t)), None)
