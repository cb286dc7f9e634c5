"""The data-set specification: what a user's own tables mean, declared once in a small versioned file.

A `DatasetSpec` (spec_version 1) says which profile attributes a data set has (type, dimension, plain-language
texts for reason codes, risk direction, protected, actionable, role), whether profiles carry a valid-from
date, what the user's own event kinds and statuses mean (a kept commitment, a late one, a broken one, money
owed or paid, a rating), what the relations are (directed, weighted, signed), and where the label comes
from. Ingest, validation, features and explanations all read it, so a data set DeepCredit has never seen
gets in through the same path as the simulator, UCI and OTC (which ship their specs in data/specs/).

The sections live in modules of their own: the profile's in spec_profile, the histories' in spec_events,
what they share in spec_base; this module holds the relations, outcomes, format and lookup sections, the
whole spec, and reading it. Written as TOML (stdlib tomllib) or built in Python. A bad spec gets the same kind of error as bad data:
a `SpecError` (a DataValidationError) naming the file, the line and the field; pydantic's error location
is mapped back to the TOML line that holds it.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import tomllib
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from deepcredit.data.spec_base import (
    IDENTIFIER,
    FileSection,
    OptionalColumn,
    SpecProblem,
    Strict,
    both_directions,
    identifier,
    not_ignored,
)
from deepcredit.data.spec_events import (
    PAID_STATUS,
    EventColumns,
    Events,
    EventStatus,
    KindRules,
    StatusMeaning,
)
from deepcredit.data.spec_profile import Attribute, MoreProfile, Profile
from deepcredit.data.spec_windows import Windows
from deepcredit.data.toml_lines import field_path, line_of, todo_lines, toml_lines
from deepcredit.data.validate import DataValidationError, FileFormat

SPEC_VERSION: Final = 1


class SpecError(DataValidationError):
    """A bad spec, located like bad data: file, line and field."""

    def __init__(self, file: str, problem: str, line: int | None = None, field: str | None = None) -> None:
        where = [file] + ([f"line {line}"] if line else []) + ([f"field '{field}'"] if field else [])
        ValueError.__init__(self, ": ".join([", ".join(where), problem]))
        self.file, self.problem, self.row, self.column, self.line_offset = file, problem, line, field, 0
        self.field = field


class RelationColumns(Strict):
    source: str = "source"
    target: str = "target"
    kind: OptionalColumn = "kind"
    """"": the file has no such column (every relation 'related')."""
    weight: OptionalColumn = "weight"
    """"": the file has no such column (every weight 1)."""
    ts: str = "ts"


class DescribedKind(Strict):
    """What a relation kind's links say of a person (a guarantor's, a shared phone's), in the words and risk
    direction its `connections_<kind>` feature carries, as an attribute declares its own.

    Why: a count of guarantors and a count of shared devices read the same generic words otherwise, with no
    direction for the scorecard's bins or the advice to follow."""

    description: str = ""
    """Completes 'your score is lowered by ...' (how many people guarantee your loans); empty: the generic
    words ('how many of your connections are guarantor links')."""
    improve: str = ""
    """How to improve it, in the person's words; empty: the general advice on connections."""
    risk_direction: Literal[-1, 0, 1] = 0
    """+1 where more links of this kind are riskier, -1 where safer, 0 unknown."""
    improve_direction: Literal[-1, 0, 1] = 0
    """As an attribute's (spec_base.DescribedColumn.improve_direction)."""

    @model_validator(mode="after")
    def _check(self) -> DescribedKind:
        for field in ("description", "improve"):
            text = getattr(self, field)
            if text and not text.strip():
                raise SpecProblem((field,), "a blank text: write the words, or leave the field out")
        both_directions(self.risk_direction, self.improve_direction)
        return self


class Relations(FileSection):
    columns: RelationColumns = Field(default_factory=lambda: RelationColumns())
    kinds: list[str] = []
    """Allowed relation kinds (empty: any)."""
    directed: bool = True
    weighted: bool = True
    signed: bool = False
    """Weights may be negative (a distrust rating): the share of negative incoming ties becomes a feature."""
    ignore: list[str] = []
    """Columns of the relations file that are not used: left out of the data set."""
    unknown_people: Literal["refuse", "drop"] = "refuse"
    """A relation naming someone not in the people table (a contact who is not a customer): "refuse" stops
    the ingest at its row; "drop" leaves it out, and ingest warns how many were left out."""
    from_people: list[str] = []
    """Columns of the people file naming another person (a referrer, a guarantor): each value is a relation
    from the row's person to that person, of the column's kind, weight 1 (no relations file needed)."""
    groups: list[str] = []
    """Columns of the people file naming something people share (a household, an employer, a phone): the
    people sharing a value are connected, each pair once, of kind `same_<column>`, weight 1."""
    max_group: int = Field(default=50, ge=2)
    """A value shared by more people than this connects none of them (a big employer, a placeholder phone
    number): ingest warns how many such values there were."""
    read_from_people: list[str] = []
    """Written by ingest, not by hand: in a stored spec whose `kinds` is empty (any kind), the kinds that were
    read from the people file (`from_people`, `groups`), so that they are still counted on their own."""
    kind_texts: dict[str, DescribedKind] = {}
    """Kinds counted on their own (counted_kinds), each with the words and risk direction of its
    `connections_<kind>` feature ([relations.kind_texts.guarantor]); a kind not listed keeps the generic ones."""

    @property
    def derived_kinds(self) -> list[str]:
        """The kinds of the relations read from the people file."""
        return [*self.from_people, *(f"same_{c}" for c in self.groups)]

    @property
    def counted_kinds(self) -> list[tuple[str, str]]:
        """(kind, label) of every kind whose connections are counted on their own: the declared and the derived
        kinds, where there are at least two (one kind is the degree); a kind's label is its name as an
        identifier (spec_base.identifier, as a share's label is; a label taken by an earlier kind is not counted
        on its own).

        Why: a shared phone or a guarantor says something a contact does not, and the degree alone mixes them."""
        kinds = list(dict.fromkeys([*self.kinds, *self.read_from_people, *self.derived_kinds]))
        if len(kinds) < 2:
            return []
        out: dict[str, str] = {}
        for kind in kinds:
            out.setdefault(identifier(kind), kind)
        return [(kind, label) for label, kind in out.items()]

    def stored(self) -> Relations:
        """The relations as the stored data set has them: the kinds read from the people file are kinds of the
        one relations table (of its allowed kinds, where the spec lists them), no longer columns to read."""
        if not self.derived_kinds:
            return self
        if not self.kinds:  # any kind stays allowed; the derived ones are remembered to be counted
            read = list(dict.fromkeys([*self.read_from_people, *self.derived_kinds]))
            return self.model_copy(update={"read_from_people": read, "from_people": [], "groups": []})
        kinds = [*self.kinds, *(k for k in self.derived_kinds if k not in self.kinds)]
        return self.model_copy(update={"kinds": kinds, "from_people": [], "groups": []})

    def _check_kind_texts(self) -> None:
        """Each described kind is one the stored data set counts on its own (features read the stored spec)."""
        counted = {kind for kind, _ in self.stored().counted_kinds}
        named = [*self.kinds, *self.read_from_people, *self.derived_kinds]
        for kind in self.kind_texts:
            if kind in counted:
                continue
            if not self.kinds and kind not in named:
                problem = ("with no `kinds` listed any kind is allowed and only the kinds read from the people "
                           "file are counted on their own: list the relation kinds under `kinds` to describe one")
            elif kind not in named:
                problem = f"{kind!r} is not a relation kind of the spec ({', '.join(dict.fromkeys(named))})"
            elif len(set(named)) < 2:
                problem = "one kind alone is counted by the degree: kinds are described where there are two or more"
            else:
                problem = (f"{kind!r} is counted together with an earlier kind of the same label "
                           f"({identifier(kind)}): describe that one")
            raise SpecProblem(("kind_texts", kind), problem)

    @model_validator(mode="after")
    def _check(self) -> Relations:
        self._check_kind_texts()
        seen: set[str] = set()
        for field in ("from_people", "groups"):
            for i, col in enumerate(getattr(self, field)):
                if col in seen:
                    raise SpecProblem((field, i), f"{col!r} is named twice in from_people and groups")
                seen.add(col)
        not_ignored(self.ignore, self.columns.model_dump().values())
        if self.weighted and self.columns.weight is None:
            raise SpecProblem(("columns", "weight"), "weighted relations need a weight column")
        if self.signed and not self.weighted:
            raise SpecProblem(("signed",), "signed relations must be weighted (the sign is the weight's)")
        return self


class Outcomes(FileSection):
    source: Literal["outcomes", "people", "events"] = "outcomes"
    """Where labels are: their own file, a column of the people file (one label per person), or the event
    history itself ("events": bad when a commitment of a `bad_when` meaning comes within the window after
    each as-of date; outcomes_from_events)."""
    person_id: str = "person_id"
    label: str = "label"
    bad: list[str | int | bool] = ["1"]
    good: list[str | int | bool] = ["0"]
    unknown: list[str | int | bool] = []
    """Label values that say the outcome is not known yet (a loan still running: "Current"; "" for an empty
    cell): those rows are left out of the labels, with a warning that counts them; the people stay, to be
    scored. Any other value that is neither bad nor good is an error."""
    open_windows: Literal["warn", "unknown"] = "warn"
    """Good labels whose performance window ends after the snapshot date are not final (the loan may still go
    bad): "warn" keeps them and says how many; "unknown" leaves them out of the labels as not known yet. A
    bad label is final as soon as it is seen. Checked where the snapshot date (or observed_on) is given."""
    observed_on: dt.date | None = None
    """When the outcomes file was recorded, where that is not the snapshot date (the events extracted at the
    cut-off, the defaults observed half a year later): the open windows are those that end after it, not
    after the snapshot date. Labels in their own file or the people file only."""
    as_of_column: str | None = "as_of"
    as_of: dt.date | None = None
    """A fixed as-of date for data without dates (features use what was known strictly before it)."""
    window_days: int | None = Field(default=None, gt=0)
    window_days_column: str | None = None
    ignore: list[str] = []
    """Columns of the outcomes file that are not used: left out of the data set."""
    as_of_dates: list[dt.date] = []
    """source = "events": the as-of dates to label (instead of one `as_of`): at each, everyone with an event
    before it."""
    bad_when: list[StatusMeaning] = ["broken"]
    """source = "events": the status meanings that make a person bad when such an event comes in the window.
    Left out beside `bad_days_late`, it is empty: "90 days late" alone is the whole definition, not any
    broken commitment however few days late as well."""
    bad_days_late: int | None = Field(default=None, gt=0)
    """source = "events": an event at least this many days late makes a person bad too (90: the usual
    default definition), whatever its status."""
    exclude_bad_in_last_days: int | None = Field(default=None, gt=0)
    """source = "events": at each as-of date, leave out the people already bad (by the same definition, known
    before the date) within this many days before it, as a lender leaves out accounts already in default at
    the observation date; unset, everyone on the books is labelled."""

    def said(self) -> str:
        """Where the labels come from, in the spec's words (for a message about them): the label column and its
        good and bad values, or the events they are told from."""
        if self.source == "events":
            return 'the labels told from the events ([outcomes] source = "events")'
        values = {k: ", ".join(map(repr, getattr(self, k))) for k in ("good", "bad")}
        return (f"the label column {self.label!r} of the {self.source} file (good: {values['good']}; bad: "
                f"{values['bad']})")

    @model_validator(mode="before")
    @classmethod
    def _days_late_alone(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("bad_days_late") is not None and "bad_when" not in data:
            return {**data, "bad_when": []}
        return data

    @field_validator("bad", "good", "unknown")
    @classmethod
    def _text(cls, values: list) -> list[str]:
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]

    @model_validator(mode="after")
    def _check(self) -> Outcomes:
        not_ignored(self.ignore, (self.person_id, self.label, self.as_of_column, self.window_days_column))
        if not self.bad:
            raise SpecProblem(("bad",), "name at least one label value that means bad (defaulted)")
        both = set(self.bad) & set(self.good)
        if both:
            raise SpecProblem(("good",), f"{sorted(both)[0]!r} is listed as both good and bad")
        known = set(self.unknown) & (set(self.bad) | set(self.good))
        if known:
            raise SpecProblem(("unknown",), f"{sorted(known)[0]!r} is listed as unknown and as a known outcome")
        if self.source == "events" and self.observed_on is not None:
            raise SpecProblem(("observed_on",), "labels told from the events are known from the events, as of "
                                                "the snapshot date: leave observed_on out")
        if self.source == "events":
            if (self.as_of is None) == (not self.as_of_dates):
                raise SpecProblem(("as_of",), "labels told from the events need the dates to label: one as_of, or "
                                              "as_of_dates = [...]")
            if self.window_days is None:
                raise SpecProblem(("window_days",), "labels told from the events need window_days: how long after "
                                                    "each as-of date a broken commitment makes a person bad")
            if not self.bad_when and self.bad_days_late is None:
                raise SpecProblem(("bad_when",), "say what makes a person bad: status meanings, bad_days_late, or both")
            return self
        events_only = {"as_of_dates": bool(self.as_of_dates), "bad_days_late": self.bad_days_late is not None,
                       "exclude_bad_in_last_days": self.exclude_bad_in_last_days is not None,
                       "bad_when": self.bad_when != ["broken"]}
        if any(events_only.values()):
            field = next(name for name, given in events_only.items() if given)
            raise SpecProblem((field,), f"{field} applies to labels told from the events (source = \"events\")")
        dated_people = self.source == "people" and "as_of_column" in self.model_fields_set and self.as_of_column
        if self.as_of is None and (self.as_of_column is None or (self.source == "people" and not dated_people)):
            raise SpecProblem(("as_of",), "give a fixed as_of date, or, for labels in the people file, as_of_column "
                                          "naming its column of dates (an application date)")
        if self.window_days is None and self.window_days_column is None:
            raise SpecProblem(("window_days",), "give the performance window in days")
        return self


class Format(Strict):
    """How the user's files write their values, where not as DeepCredit's own (comma, decimal point, ISO
    dates): a European spreadsheet export is read as it is, not rewritten by hand first."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    """The CSV separator: "," ";" "\\t" "|" ... (Parquet files have none)."""
    decimal: Literal[".", ","] = "."
    """The decimal mark of numbers written as text."""
    date_format: str | None = None
    """How dates written as text look, in strptime directives (%d/%m/%Y); ISO 8601 is read as well. A form
    without the day (%b-%Y: "Dec-2016") reads each date as the first day of its month."""
    thousands: Literal[",", ".", " ", "'", "\u00a0", "\u202f"] | None = None
    """The mark between groups of three digits, where numbers have one (1,234.50; 1.234,50; 1 234,50)."""
    timezone: str | None = None
    """The zone whose wall-clock times the data set keeps (Europe/Paris): times with an offset are converted
    to it, so a day starts at the user's midnight; without it, to UTC."""
    missing: list[str] = []
    """Texts that mean "no value" in any column of the files (NA, ?, -): read as empty cells."""
    encoding: str = "utf-8"
    """How CSV text is encoded: UTF-8, or what a spreadsheet in a Windows locale saves (cp1252, latin-1)."""
    days_from: dt.date | None = None
    """Dates written as a number of days from this date (-30 is 30 days before it), as many credit data sets
    write them relative to the application date: every date column reads a number so."""
    month_columns: list[str] = []
    """Date columns whose numbers count whole months from days_from instead (-1: the month before it), as
    monthly balances write them (MONTHS_BALANCE)."""

    @model_validator(mode="after")
    def _check(self) -> Format:
        if self.delimiter in ('"', "\n", "\r") or self.delimiter.isalnum():
            raise SpecProblem(("delimiter",), f"{self.delimiter!r} cannot separate values")
        if self.decimal == self.delimiter:
            usual = " (decimal commas go with delimiter = \";\")" if self.decimal == "," else ""
            raise SpecProblem(("decimal",), f"{self.decimal!r} is the delimiter too: numbers could not be told "
                                            "from separators; were the files saved with different separators? "
                                            f"Save them alike and declare that delimiter{usual}")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise SpecProblem(("timezone",), f"{self.timezone!r} is not a time zone name (such as "
                                                 "Europe/Paris or America/New_York)") from None
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise SpecProblem(("encoding",), f"{self.encoding!r} is not a text encoding Python knows (such as "
                                             "utf-8, cp1252, latin-1)") from None
        for i, marker in enumerate(self.missing):
            if not marker.strip() or len(marker) > 32:
                raise SpecProblem(("missing", i), "a missing-value marker is a short, non-blank text (an empty "
                                                  "cell is already missing)")
        if self.thousands == self.decimal:
            raise SpecProblem(("thousands",), f"{self.thousands!r} is the decimal mark too")
        if self.month_columns and self.days_from is None:
            raise SpecProblem(("month_columns",), "months are counted from days_from: give that date too")
        if self.date_format is not None:
            day = dt.datetime(2024, 1, 31, 12, 30)
            try:
                back = dt.datetime.strptime(day.strftime(self.date_format), self.date_format)
            except ValueError:
                back = None
            month_only = back is not None and (back.year, back.month, back.day) == (2024, 1, 1) and \
                any(d in self.date_format for d in ("%m", "%b", "%B"))
            if back is None or (back.date() != day.date() and not month_only):
                raise SpecProblem(("date_format",), f"{self.date_format!r} does not give a whole date: it needs "
                                                    "the day (or at least the month), month and year, such as "
                                                    "%d/%m/%Y, %m/%d/%Y %H:%M or %b-%Y")
        return self

    @property
    def month_only(self) -> bool:
        """Whether date_format writes a month and a year but no day (each date the first of its month)."""
        return self.date_format is not None and "%d" not in self.date_format and "%j" not in self.date_format

    def describe(self) -> str:
        """How the files are read, in a line (empty for DeepCredit's own form)."""
        parts = [f"{self.delimiter!r}-separated"] if self.delimiter != "," else []
        parts += [f"decimal {self.decimal!r}"] if self.decimal != "." else []
        parts += [f"thousands {self.thousands!r}"] if self.thousands else []
        parts += [f"dates {self.date_format}"] if self.date_format else []
        parts += [f"times in {self.timezone}"] if self.timezone else []
        parts += [f"missing {', '.join(map(repr, self.missing))}"] if self.missing else []
        parts += [f"encoding {self.encoding}"] if not self.file_format().is_utf8 else []
        parts += [f"dates as days from {self.days_from}"] if self.days_from else []
        parts += [f"{', '.join(self.month_columns)} as months from it"] if self.month_columns else []
        return ", ".join(parts)

    def file_format(self) -> FileFormat:
        return FileFormat(self.delimiter, self.decimal, self.date_format, self.thousands, self.timezone,
                          tuple(m.strip() for m in self.missing), self.encoding,
                          str(self.days_from) if self.days_from else None, tuple(self.month_columns))


class Lookup(FileSection):
    """A table that says whom another id belongs to (accounts: account_id → customer_id), for history files
    keyed by that id (Events.person_via; `ingest --lookup NAME=FILE`). Each key names one person."""

    key: str
    person_id: str = "person_id"
    ignore: list[str] = []
    """Columns of the table that are not used."""

    @model_validator(mode="after")
    def _check(self) -> Lookup:
        if self.key == self.person_id:
            raise SpecProblem(("key",), "the key and the person column must differ")
        not_ignored(self.ignore, (self.key, self.person_id))
        return self


class DatasetSpec(Strict):
    spec_version: Literal[1] = SPEC_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    snapshot_date: dt.date | None = None
    currency: str | None = Field(default=None, pattern=r"^\S{1,12}$")
    """The currency of the data set's money ("EUR"): what every money feature, profile attribute of unit
    "money" and record amount in the reasons shows after its value. Unset: the unit of the credit line or
    income attribute, if it has one other than a generic one (features.templates.currency)."""
    profile: Profile = Field(default_factory=lambda: Profile())
    events: Events | None = None
    more_profile: dict[str, MoreProfile] = {}
    """More files about the same people, each with its own attributes, joined by id ([more_profile.NAME])."""
    lookups: dict[str, Lookup] = {}
    """Tables mapping an account's or a contract's id to its person, for history files keyed by it."""
    more_events: dict[str, Events] = {}
    """More history files, each declared in its own words ([more_events.bureau]; `ingest --events
    bureau=FILE`): stored in the one events table with [events], so a kind or status named in two files
    must mean the same in both."""
    relations: Relations | None = None
    outcomes: Outcomes = Field(default_factory=lambda: Outcomes(window_days_column="window_days"))
    format: Format = Field(default_factory=lambda: Format())
    windows: Windows = Field(default_factory=lambda: Windows())
    """How far back the history features look ([windows]: the period and the recent, medium, long windows)."""

    @model_validator(mode="after")
    def _check_currency(self) -> DatasetSpec:
        """One currency: a credit line or income declared in another unit than `currency` is refused, as a
        reason would show its money in two."""
        if self.currency is not None:
            for a in self.profile.attributes:
                if a.role in ("credit_line", "income") and a.unit not in ("", "money", self.currency):
                    raise SpecProblem(("currency",), f"{self.currency!r}, yet the {a.role.replace('_', ' ')} "
                                      f"{a.name!r} is in {a.unit!r}: declare the one currency the data's money is in")
        return self

    @model_validator(mode="after")
    def _check_month_columns(self) -> DatasetSpec:
        dates = {self.profile.valid_from, self.outcomes.as_of_column if self.outcomes.as_of is None else None,
                 *(a.source_column for a in self.profile.attributes if a.type == "date"),
                 *(a.source_column for m in self.more_profile.values() for a in m.attributes if a.type == "date"),
                 *(c for _, ev in self.event_sources() for c in (ev.columns.ts, ev.columns.due_ts, ev.columns.settled_ts)),
                 self.relations.columns.ts if self.relations is not None else None} - {None}
        for i, col in enumerate(self.format.month_columns):
            if col not in dates:
                raise SpecProblem(("format", "month_columns", i), f"{col!r} is not a date column the spec names "
                                  f"(its date columns: {', '.join(sorted(c for c in dates if c)) or 'none'})")
        return self

    @model_validator(mode="after")
    def _check_files(self) -> DatasetSpec:
        """The further files (more_profile, lookups, more_events): named as identifiers, and consistent with
        the first ones and with each other."""
        for section in ("more_profile", "lookups", "more_events"):
            for name in getattr(self, section):
                if not re.match(IDENTIFIER, name):
                    raise SpecProblem((section, name), f"{name!r}: name a file with a-z, 0-9 and _")
        if self.more_events and self.events is None:
            raise SpecProblem(("more_events",), "declare the first history file as [events], then the others as "
                                                "[more_events.NAME]")
        seen: dict[str, dict[str, tuple[str, BaseModel]]] = {"kinds": {}, "statuses": {}, "outcomes": {},
                                                              "measures": {}}
        rules: dict[str, tuple[str, KindRules]] = {}  # each kind's first file's rules (Events.rules)
        if any(not m.join_on for m in self.more_profile.values()) and not self.profile.id_column:
            raise SpecProblem(("profile", "id_column"), "more profile files join the profile by the person's id: "
                                                        "name the id column")
        names = {a.name: "profile" for a in self.profile.attributes}
        for file, more in self.more_profile.items():
            if more.join_on and more.join_on in {*self.profile.ignore, self.profile.id_column}:
                raise SpecProblem(("more_profile", file, "join_on"), f"{more.join_on!r} is the profile's "
                                  + ("id column: leave join_on out" if more.join_on == self.profile.id_column else
                                     "ignored column: a column joined on is read, so take it off [profile] ignore"))
            for i, a in enumerate(more.attributes):
                if a.name in names:
                    raise SpecProblem(("more_profile", file, "attributes", i, "name"),
                                      f"{a.name!r} is also an attribute of [{names[a.name]}]: one name, one attribute")
                names[a.name] = f"more_profile.{file}"
        for source, ev in self.event_sources():
            if ev.person_via is not None and ev.person_via not in self.lookups:
                where = (source,) if source == "events" else ("more_events", source)
                raise SpecProblem((*where, "person_via"), f"{ev.person_via!r} is not a lookup table the spec "
                                  f"declares ([lookups.{ev.person_via}] with its key and person_id)")
            measures = {m.name: m.model_copy(update={"column": None}) for m in ev.measures}  # its header aside
            for group, items in (("kinds", ev.kinds), ("statuses", ev.statuses), ("outcomes", ev.outcomes),
                                 ("measures", measures)):
                for value, item in items.items():
                    first = seen[group].setdefault(value, (source, item))
                    where = (source,) if source == "events" else ("more_events", source)
                    if first[1] != item:
                        at = list(items).index(value) if group == "measures" else value  # a list in the file
                        raise SpecProblem((*where, group, at), f"{value!r} is declared differently in "
                                          f"[{_section(first[0])}.{group}]: the files share one events table, so "
                                          "give it the same declaration or another name")
                    if group == "kinds" and value != ev.paid_kind and (  # a payment is never reported
                            ruled := rules.setdefault(value, (source, ev.rules())))[1] != ev.rules():
                        raise SpecProblem((*where, group, value), f"{value!r} is also a kind of "
                                          f"[{_section(ruled[0])}], whose file has another grace_days, paid_kind or "
                                          "due, settled or days-late column: ingest stores each file's rows by its "
                                          "own rules, so a reported outcome of it would be ambiguous; give it "
                                          "another name in one file")
        return self

    @model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        if self.relations is not None:
            used = {a.source_column for a in self.profile.attributes} | set(self.profile.ignore)
            for field in ("from_people", "groups"):
                for i, col in enumerate(getattr(self.relations, field)):
                    if col in used or col in (self.profile.id_column, self.profile.valid_from):
                        raise SpecProblem(("relations", field, i), f"{col!r} is already a column the profile uses "
                                                                   "or ignores: a column that links people is not a "
                                                                   "feature")
        if self.outcomes.source == "events" and self.events is None:
            raise SpecProblem(("outcomes", "source"), "labels told from the events need [events]")
        if self.outcomes.source == "people":
            cols = {a.source_column for a in self.profile.attributes}
            if self.outcomes.label in cols:
                raise SpecProblem(("outcomes", "label"), f"{self.outcomes.label!r} is also declared as an "
                                                          "attribute: a label is never a feature")
            if self.outcomes.as_of is None and self.outcomes.as_of_column in cols:
                raise SpecProblem(("outcomes", "as_of_column"), f"{self.outcomes.as_of_column!r} is also declared "
                                                                "as an attribute: the as-of date is not a feature")
            if self.profile.valid_from:
                raise SpecProblem(("outcomes", "source"), "labels from a people file with history are ambiguous: "
                                                           "give them their own outcomes file")
        return self

    # -- reading ----------------------------------------------------------------------------------
    def event_sources(self) -> list[tuple[str, Events]]:
        """("events", [events]) then (name, [more_events.name]) for each further history file."""
        return ([("events", self.events)] if self.events is not None else []) + list(self.more_events.items())

    def stored(self) -> DatasetSpec:
        """The spec of the stored data set: every history file's declarations as the one [events] of the one
        events table (kinds, statuses and reported outcomes together; its optional columns where any file
        had them), the attributes of every profile file in one profile, and relations read from people-file
        columns as kinds of the relations table. Parts, lookups and ignored columns were applied at ingest, so
        they are dropped (an amount scale too: stored amounts are in the currency); paid_kind and the grace
        period are kept, for the scoring service stores a reported outcome by them as ingest stored the rows."""
        update: dict = {}
        if self.more_profile:  # joined at ingest: one people table, with versions if any file has them
            extra = [a.model_copy(update={"column": None}) for m in self.more_profile.values() for a in m.attributes]
            history = self.profile.valid_from or next(("valid_from" for m in self.more_profile.values()
                                                       if m.valid_from), None)
            update["profile"] = self.profile.model_copy(update={"attributes": [*self.profile.attributes, *extra],
                                                                "valid_from": history,
                                                                "id_column": self.profile.id_column or "person_id"})
            update["more_profile"] = {}
        if self.lookups:  # applied at ingest: the stored events name people
            update["lookups"] = {}
            if self.events is not None:
                update["events"] = self.events.model_copy(update={"person_via": None})
        if self.events is not None and self.events.amount_scale != 1.0:  # stored in the currency already
            update["events"] = update.get("events", self.events).model_copy(update={"amount_scale": 1.0})
        if self.relations is not None and self.relations.derived_kinds:
            update["relations"] = self.relations.stored()
        paid = {PAID_STATUS: EventStatus(meaning="kept")} if any(  # the payments' status (spec_events.PAID_STATUS)
            ev.paid_kind and PAID_STATUS not in ev.statuses for _, ev in self.event_sources()) else {}
        if paid and self.events is not None and not self.more_events:
            update["events"] = update.get("events", self.events).model_copy(
                update={"statuses": {**self.events.statuses, **paid}})
        if not self.more_events:
            return self.model_copy(update=update) if update else self
        sources = [ev for _, ev in self.event_sources()]
        measures = {m.name: m.model_copy(update={"column": None}) for ev in sources for m in ev.measures}
        # an optional column is named by the first file's header that has it; where that header is another
        # file's measure (two exports each with a 'betrag'), by its role's own name (amount), which no measure
        # may take (MEASURE_RESERVED): the stored table holds each under its own name either way
        present = {c: next((getattr(ev.columns, c) for ev in sources if getattr(ev.columns, c)), None)
                   for c in ("amount", "days_late", "counterparty", "due_ts", "settled_ts", "paid_amount")}
        present = {c: c if header in measures else header for c, header in present.items()}
        columns = EventColumns.model_validate({"kind": "kind", "status": "status", **present})
        # what the scoring service reads to store a reported outcome as ingest stores it: the payment beside
        # it (paid_kind, with its paid_amount column) and a ledger's grace period (ledger.written_off_days,
        # ledger.settled_as_stored); the first file's that declares each, and each kind whose own file's
        # rules differ keeps them (kind_rules, read by Events.for_kind), as ingest applied them to its rows
        paid_kind = next((ev.paid_kind for ev in sources if ev.paid_kind), None)
        grace = next((ev.grace_days for ev in sources if ev.grace_days is not None), None)
        merged = Events(columns=columns, kinds={k: v for ev in sources for k, v in ev.kinds.items()},
                        statuses={**{k: v for ev in sources for k, v in ev.statuses.items()}, **paid},
                        outcomes={k: v for ev in sources for k, v in ev.outcomes.items()},
                        measures=list(measures.values()), paid_kind=paid_kind, grace_days=grace)
        own = merged.rules()
        kind_rules = {k: rules for ev in sources if (rules := ev.rules()) != own for k in ev.kinds}
        if kind_rules:
            merged = merged.model_copy(update={"kind_rules": kind_rules})
        worded = next((ev for ev in sources if ev.commitment_word), None)  # the history texts' word, if any
        if worded is not None:
            merged = merged.model_copy(update={"commitment_word": worded.commitment_word,
                                               "commitment_plural": worded.commitment_plural})
        return self.model_copy(update={**update, "events": merged, "more_events": {}})

    def for_kind(self, kind: str) -> DatasetSpec:
        """This spec with its events' rules for rows of `kind` (Events.for_kind: its own history file's)."""
        if self.events is None or kind not in self.events.kind_rules:
            return self
        return self.model_copy(update={"events": self.events.for_kind(kind)})

    def attribute(self, name: str) -> Attribute:
        return {a.name: a for a in self.profile.attributes}[name]

    @property
    def negative_statuses(self) -> frozenset[str]:
        """The events' negative statuses (Events.negative_statuses); none without events."""
        return frozenset() if self.events is None else self.events.negative_statuses

    @property
    def protected(self) -> tuple[str, ...]:
        """Names of the protected attributes (what a fairness audit groups by)."""
        return tuple(a.name for a in self.profile.attributes if a.protected)

    def role(self, role: str) -> Attribute | None:
        return next((a for a in self.profile.attributes if a.role == role), None)

    def to_json(self) -> str:
        """The spec as a stored data set keeps it: what its tables mean, not how the source files were
        written ([format] is left out: the stored tables are typed Parquet), so the same data ingested
        from differently written files has the same spec and fingerprint."""
        data = self.model_dump(mode="json", exclude={"format"})  # key order is meaning: feature order
        return json.dumps(_without_later_defaults(data), indent=2) + "\n"

    def restricted(self, people_columns: Iterable[str], event_columns: Iterable[str]) -> DatasetSpec:
        """The same spec without the attributes and optional event columns a stored table lacks.

        Why: data sets stored before specs existed get the built-in spec of their kind, which declares
        every canonical column; the features of a column they do not have must not exist.
        """
        people, ev = set(people_columns), set(event_columns)
        attrs = [a for a in self.profile.attributes if a.name in people]
        update: dict = {"profile": self.profile.model_copy(update={"attributes": attrs})}
        if self.events is not None:
            cols = self.events.columns.model_copy(update={c: (c if c in ev else None)
                                                          for c in ("days_late", "counterparty", "due_ts")})
            update["events"] = self.events.model_copy(update={"columns": cols})
        return self.model_copy(update=update)


ADDED_LATER = {"aliases": {}, "allow_contact": False, "bands": None, "improve_towards": [], "kind_texts": {},
               "read_from_people": [], "commitment_word": None, "commitment_plural": None, "kind_rules": {},
               "currency": None, "observed_on": None}
"""Fields added to the spec after data sets were stored, with their defaults: left out of the stored text
where they hold the default."""


def _without_later_defaults(data: Any) -> Any:
    """The dumped spec without the fields added later (ADDED_LATER) where they hold their defaults (`aliases`
    no column declares, `allow_contact = false`): a data set that uses neither keeps the spec text, and so
    the fingerprint, it had before they existed."""
    if isinstance(data, dict):
        return {k: _without_later_defaults(v) for k, v in data.items()
                if not (k in ADDED_LATER and v == ADDED_LATER[k] and type(v) is type(ADDED_LATER[k]))}
    if isinstance(data, list):
        return [_without_later_defaults(v) for v in data]
    return data


def _section(source: str) -> str:
    return "events" if source == "events" else f"more_events.{source}"


def _spec_error(exc: ValidationError, file: str, lines: dict[tuple, int]) -> SpecError:
    loc, problem = _located(exc)
    return SpecError(file, problem, line_of(lines, loc), field_path(loc) or None)


def _located(exc: ValidationError) -> tuple[tuple, str]:
    """The field path and the words of a validation error's first problem."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))  # drop union branch names
    problem = err["msg"].removeprefix("Value error, ")
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, SpecProblem):
        loc, problem = (*loc, *cause.loc), cause.problem
    elif err["type"] == "extra_forbidden":
        problem = f"unknown field {str(loc[-1])!r}"
    elif err["type"] == "enum" or err["type"] == "literal_error":
        problem = f"{err.get('input')!r} is not allowed: {err['msg'].removeprefix('Input should be ')}"
    return loc, problem


def parse_spec(data: dict, file: str = "<spec>", lines: dict[tuple, int] | None = None) -> DatasetSpec:
    """The spec, checked as written and as it will be stored (its history files merged: DatasetSpec.stored),
    so a spec that cannot be stored is refused here, as a SpecError with its file, line and field, never by
    a later step's traceback."""
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, file, lines or {}) from None
    try:
        spec.stored()
    except ValidationError as exc:  # the merged [events]: located in the first history file that has the field
        merged, problem = _located(exc)
        loc = _merged_loc(spec, merged)
        raise SpecError(file, f"{problem} (once the history files are stored as one events table)",
                        line_of(lines or {}, loc), field_path(loc) or None) from None
    return spec


def _merged_loc(spec: DatasetSpec, loc: tuple) -> tuple:
    """Where, in the spec as written, a field of the stored (merged) [events] comes from: a measure's in the
    file declaring it, a column's in the first file naming it, another field's in the first history file
    that sets it ([events] if none does)."""
    rest = loc[1:] if loc[:1] == ("events",) else loc  # the stored spec's [events], or the merged Events itself
    names = list(dict.fromkeys(m.name for _, e in spec.event_sources() for m in e.measures))  # as merged
    for source, ev in spec.event_sources():
        where = ("events",) if source == "events" else ("more_events", source)
        if rest[:1] == ("measures",) and len(rest) > 1 and isinstance(rest[1], int):
            name = names[rest[1]] if rest[1] < len(names) else None
            i = next((i for i, m in enumerate(ev.measures) if m.name == name), None)
            if i is not None:
                return (*where, "measures", i, *rest[2:])
        elif rest[:1] == ("columns",) and len(rest) > 1:  # the first file that names that column, as merged
            if getattr(ev.columns, str(rest[1]), None):
                return (*where, *rest)
        elif rest and rest[0] in ev.model_fields_set:
            return (*where, *rest)
    return ("events", *rest)


def spec_from_toml(text: str, file: str = "<spec>") -> DatasetSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise SpecError(file, f"not valid TOML ({problem})", int(m.group(1)) if m else None) from None
    version = data.get("spec_version")
    if version != SPEC_VERSION:
        raise SpecError(file, f"spec_version must be {SPEC_VERSION} (found {version!r})",
                        toml_lines(text).get(("spec_version",)), "spec_version")
    lines = toml_lines(text)
    if (loc := _placeholder(data)) is not None:
        raise SpecError(file, f"{PLACEHOLDER!r} is still the draft's placeholder: name the column (or value) it "
                              "stands for", line_of(lines, loc), field_path(loc))
    return parse_spec(data, file, lines)


PLACEHOLDER: Final = "TODO"
"""What `spec draft` writes where it could not guess a column: refused by spec check, not left for ingest to
fail on ("column 'TODO' is not in ...")."""


def _placeholder(data: object, loc: tuple = ()) -> tuple | None:
    """The path of the first field whose value is still the draft's placeholder, or None (tables and arrays
    of tables are searched; a list of values holds values, never the placeholder of a column)."""
    if isinstance(data, dict):
        items: Iterable[tuple[object, object]] = data.items()
    elif isinstance(data, list):
        items = ((i, v) for i, v in enumerate(data) if isinstance(v, dict))
    else:
        return loc if loc and data == PLACEHOLDER else None
    return next((found for key, value in items if (found := _placeholder(value, (*loc, key))) is not None), None)


def load_spec(path: Path | str) -> DatasetSpec:
    """Read a spec file (.toml, or the .json a stored data set keeps)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), f"cannot read the spec file ({exc.__class__.__name__})") from None
    if path.suffix == ".json":
        return parse_spec(json.loads(text), str(path))
    return spec_from_toml(text, str(path))


def spec_line(path: Path | str, loc: tuple) -> int | None:
    """The line of a field in a TOML spec file (for errors found later, against the data)."""
    try:
        return line_of(toml_lines(Path(path).read_text(encoding="utf-8")), loc)
    except (OSError, UnicodeDecodeError):
        return None


def todo_warning(path: Path | str, shown: int = 10) -> str | None:
    """"N TODO markers left in the spec (lines ...)" for a spec file that still holds the draft's TODOs, or None.
    A warning, not an error: a marker may be a note its author chose to keep."""
    try:
        lines = todo_lines(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    if not lines:
        return None
    listed = ", ".join(map(str, lines[:shown])) + (", ..." if len(lines) > shown else "")
    n = len(lines)
    return (f"{n} TODO marker{'s' if n > 1 else ''} left in the spec (line{'s' if n > 1 else ''} {listed}): "
            "the draft's guesses there are unchecked")


BUILTIN = ("simulator", "uci", "otc", "german")


def builtin_spec(kind: str) -> DatasetSpec:
    """The shipped spec of a bundled data set or of the simulator (data/specs/<kind>.toml)."""
    if kind not in BUILTIN:
        raise KeyError(f"no built-in spec {kind!r} (have: {', '.join(BUILTIN)})")
    res = files("deepcredit.data").joinpath("specs", f"{kind}.toml")
    return spec_from_toml(res.read_text(encoding="utf-8"), f"deepcredit/data/specs/{kind}.toml")
