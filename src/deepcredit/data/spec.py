"""The data-set specification: what a user's own tables mean, declared once in a small versioned file.

A `DatasetSpec` (spec_version 1) says which profile attributes a data set has (type, dimension, plain-language
texts for reason codes, risk direction, protected, actionable, role), whether profiles carry a valid-from
date, what the user's own event kinds and statuses mean (a kept commitment, a late one, a broken one, money
owed or paid, a rating), what the relations are (directed, weighted, signed), and where the label comes
from. Ingest, validation, features and explanations all read it, so a data set DeepCredit has never seen
gets in through the same path as the simulator, UCI and OTC (which ship their specs in data/specs/).

Written as TOML (stdlib tomllib) or built in Python. A bad spec gets the same kind of error as bad data:
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
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deepcredit.data.schema import REPORTED_OUTCOMES, Dimension
from deepcredit.data.toml_lines import field_path, line_of, toml_lines
from deepcredit.data.validate import DataValidationError, FileFormat

SPEC_VERSION: Final = 1
IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
"""Attribute names are lower-case SQL identifiers: they name stored columns and features."""
RESERVED = frozenset({"person_id", "as_of", "label", "window_days", "valid_from"})
AttributeType = Literal["numeric", "categorical", "ordinal", "boolean", "date"]
Role = Literal["credit_line", "income", "joined_at"]
"""What capacity templates need to know about an attribute: utilisation and headroom against a credit
line, income, and when the person joined (tenure as of each date)."""
StatusMeaning = Literal["kept", "late", "broken", "open", "neutral"]
"""kept: the commitment was met; late: met late (money still paid); broken: not met at all (severe);
open: not yet an outcome (a statement, an open order); neutral: neither (no use, a revolving balance)."""
DERIVED_STATUSES: dict[str, StatusMeaning] = {"on_time": "kept", "late": "late", "missed": "broken", "open": "open"}
"""The statuses of a file without a status column (status = ""), told from each row's due and settled dates."""
AmountMeaning = Literal["owed", "paid", "rating", "neutral"]
"""What an event's amount is: money owed (a bill), money paid (a repayment), a rating received, or neither."""


class SpecProblem(ValueError):
    """A semantic problem found after the fields parsed, with the field path it belongs to."""

    def __init__(self, loc: tuple[str | int, ...], problem: str) -> None:
        super().__init__(problem)
        self.loc, self.problem = loc, problem


class SpecError(DataValidationError):
    """A bad spec, located like bad data: file, line and field."""

    def __init__(self, file: str, problem: str, line: int | None = None, field: str | None = None) -> None:
        where = [file] + ([f"line {line}"] if line else []) + ([f"field '{field}'"] if field else [])
        ValueError.__init__(self, ": ".join([", ".join(where), problem]))
        self.file, self.problem, self.row, self.column, self.line_offset = file, problem, line, field, 0
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FileSection(_Strict):
    """A section of the spec that declares one of the user's files."""

    header_line: int = Field(default=1, ge=1)
    """The line of this CSV file that holds its column names, where lines above it hold a title, an
    export's date or Excel's `sep=;` (they are not read; errors still name the file's own lines)."""


class ShareFeature(_Strict):
    """Ask for a 'share of events of this kind / status' feature, with its own texts."""

    label: str | None = Field(default=None, pattern=IDENTIFIER, description="Short name used in the feature name.")
    description: str
    improve: str = ""
    risk_direction: Literal[-1, 0, 1] = 0


class Attribute(_Strict):
    name: str = Field(pattern=IDENTIFIER)
    column: str | None = None
    """The column's header in the file, where it differs from `name`."""
    type: AttributeType
    order: list[str] | None = None
    """Ordinal attributes: their values from lowest to highest."""
    dimension: Dimension
    description: str = ""
    """Completes 'your score is lowered by ...'."""
    improve: str = ""
    risk_direction: Literal[-1, 0, 1] = 0
    protected: bool = False
    """Audited for fairness, never a feature unless `use_as_input` too (and then flagged protected)."""
    use_as_input: bool = False
    actionable: bool = True
    role: Role | None = None
    log: bool = False
    """Numeric amounts spanning orders of magnitude: the feature is ln(1 + max(x, 0)), named log_<name>."""
    special: dict[str, str] = {}
    """Numeric values that are codes, not quantities, with what each means ({"96" = "not reported"}): every
    feature reads them as missing, and a categorical feature `<name>_code` holds their meaning."""
    number_in_text: bool = False
    """A numeric attribute written with words or signs around its number ("13.56%", " 36 months", "$1,200"):
    the number is read out of the text (the [format]'s decimal and thousands marks apply); a value without
    one is refused at its row, unless it is empty or a missing-value marker."""
    unit: str = Field(default="", max_length=40)
    """What a numeric value counts, in words a reason shows after it ("months": "48 months"; "money": 1,250.00;
    "share": 75%)."""

    @property
    def source_column(self) -> str:
        return self.column or self.name

    @property
    def code_feature(self) -> str | None:
        """The name of the feature holding a special value's meaning (None without special values)."""
        return f"{self.name}_code" if self.special else None

    @property
    def text(self) -> str:
        """What a reason code says; a date attribute's feature counts the days since it."""
        words = self.name.replace("_", " ")
        return self.description or (f"the days since your {words}" if self.type == "date" else f"your {words}")

    @model_validator(mode="after")
    def _check(self) -> Attribute:
        if self.type == "ordinal" and not self.order:
            raise SpecProblem(("type",), "an ordinal attribute needs its `order` (values from lowest to highest)")
        if self.order is not None and self.type != "ordinal":
            raise SpecProblem(("order",), f"`order` applies to ordinal attributes only (this one is {self.type})")
        if self.order is not None and len(set(self.order)) != len(self.order):
            raise SpecProblem(("order",), "a value appears more than once in `order`")
        if self.log and self.type != "numeric":
            raise SpecProblem(("log",), "`log` applies to numeric attributes only")
        if self.number_in_text and self.type != "numeric":
            raise SpecProblem(("number_in_text",), f"`number_in_text` applies to numeric attributes only (this one "
                                                   f"is {self.type})")
        if self.unit and self.type != "numeric":
            raise SpecProblem(("unit",), f"`unit` applies to numeric attributes only (this one is {self.type})")
        if self.special and self.type != "numeric":
            raise SpecProblem(("special",), f"`special` applies to numeric attributes only (this one is {self.type})")
        for value, meaning in self.special.items():
            try:
                float(value)
            except ValueError:
                raise SpecProblem(("special", value), f"{value!r} is not a number: special values are numbers "
                                                      "that stand for something else") from None
            if not meaning.strip():
                raise SpecProblem(("special", value), "say what the value means (it is what a reason shows)")
        want = {"credit_line": "numeric", "income": "numeric", "joined_at": "date"}
        if self.role is not None and want[self.role] != self.type:
            raise SpecProblem(("role",), f"role {self.role} needs a {want[self.role]} attribute, not {self.type}")
        return self


class Profile(_FileSection):
    id_column: str | None = "person_id"
    """The column that identifies a person; "" for files with one row per person and no id: the row
    number (1, 2, ...) becomes the person's id."""
    valid_from: str | None = None
    """Attribute history: the column holding when each row's values became true. A person's profile as of
    T is the row valid strictly before T; rows without a date hold since always."""
    ignore: list[str] = []
    """Columns of the file that are not used (kept out of the data set entirely)."""
    attributes: list[Attribute] = []

    @field_validator("id_column", "valid_from")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _check(self) -> Profile:
        _unique([a.name for a in self.attributes], ("attributes",), "name")
        names = {a.name for a in self.attributes}
        for i, a in enumerate(self.attributes):
            if a.code_feature in names:
                raise SpecProblem(("attributes", i, "special"), f"its special values' feature {a.code_feature!r} "
                                                                "is also an attribute's name: rename that one")
        _unique([a.source_column for a in self.attributes], ("attributes",), "column")
        _not_ignored(self.ignore, [self.id_column, self.valid_from, *(a.source_column for a in self.attributes)])
        for i, a in enumerate(self.attributes):
            if a.name in RESERVED:
                raise SpecProblem(("attributes", i, "name"), f"{a.name!r} is reserved: choose another name")
        for role in ("credit_line", "income", "joined_at"):
            holders = [i for i, a in enumerate(self.attributes) if a.role == role]
            if len(holders) > 1:
                raise SpecProblem(("attributes", holders[1], "role"), f"only one attribute may have role {role}")
        if self.valid_from and self.id_column is None:
            raise SpecProblem(("valid_from",), "attribute history needs an id_column (a person has several rows)")
        return self


class EventKind(_Strict):
    amount: AmountMeaning = "neutral"
    share: ShareFeature | None = None
    commitment: bool = True
    """False for a kind that only moves money (a payment made against a commitment written elsewhere, as
    [events] paid_kind makes): counted in the money features, never as a commitment kept, late or broken."""


class EventStatus(_Strict):
    meaning: StatusMeaning
    share: ShareFeature | None = None


class ReportedOutcome(_Strict):
    """A merchant's reported outcome (data.schema.REPORTED_OUTCOMES) in the data set's own words."""

    kind: str
    status: str


class EventColumns(_Strict):
    """Where the user's column names differ from DeepCredit's; optional ones absent unless named."""

    person_id: str = "person_id"
    ts: str = "ts"
    kind: str | None = "kind"
    """"" for a file of one kind of commitment (an instalment schedule): every row is the one kind declared."""
    amount: str | None = "amount"
    """"" for a file without amounts (an activity log, returns without fees): every kind's amount is then
    neutral, stored as 0, and no feature reads it."""
    status: str | None = "status"
    """"" for a file whose due and settled dates tell how each commitment ended: its statuses are then
    DERIVED_STATUSES (settled by the due day: on_time; after it: late; not settled, due before the snapshot:
    missed; else open); or, without due dates, whose days late tell it (none: on_time; some: late; at least
    Events.missed_after_days: missed)."""
    days_late: str | None = None
    counterparty: str | None = None
    due_ts: str | None = None
    settled_ts: str | None = None
    """When the commitment was settled (paid, returned), empty while it is not: a ledger of orders then
    ingests with each row dated when its outcome became known (ledger.dated_when_known), never earlier."""
    paid_amount: str | None = None
    """What was paid against the row's amount owed, where a file writes both (an instalment's AMT_PAYMENT
    beside its AMT_INSTALMENT): each payment becomes an event of [events] paid_kind (ledger.payments_of)."""

    @field_validator("kind", "amount", "status", "days_late", "counterparty", "due_ts", "settled_ts",
                     "paid_amount")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None  # TOML has no null: "" says the file has no such column


class Events(_FileSection):
    columns: EventColumns = Field(default_factory=lambda: EventColumns())
    kinds: dict[str, EventKind]
    statuses: dict[str, EventStatus] = {}
    """Each status in the file and what it means; left out where the statuses are told from the dates."""
    ignore: list[str] = []
    """Columns of the events file that are not used (an order number, a store): left out of the data set."""
    parts_of: list[str] = []
    """Columns that together name one commitment among a person's rows (a loan and its instalment number),
    where the file writes a commitment paid in parts as several rows: those rows are merged into one event
    (ledger.merged_parts) before it is dated, so a split payment counts once."""
    person_via: str | None = None
    """The name of a [lookups.NAME] table, where this file names an account or a contract rather than a
    person: its person column holds that table's key, read as the person the key belongs to."""
    missed_after_days: int | None = Field(default=None, gt=0)
    """Where statuses are told from days late (status = "", a days_late column, no due dates): a delay of at
    least this many days is missed (broken: a default, 90 by the usual convention); a shorter one late; none
    on time. Without it no delay counts as missed."""
    parts_amount: Literal["sum", "once"] = "sum"
    """How a commitment paid in parts (parts_of) writes its amount: "sum", each row holds its part's amount
    (summed); "once", each row repeats the commitment's whole amount (Home Credit's AMT_INSTALMENT: taken
    once, and rows of one commitment that differ are refused)."""
    grace_days: int | None = Field(default=None, ge=0)
    """Whole days after its due day within which a commitment may still be settled, late; one not settled by
    then is broken from the next day on, whatever happened later (ledger.dated_when_known). Needs due_ts,
    settled_ts and the snapshot date. Without it a row never settled is broken from its due date while one
    settled late is seen only once settled, so a feature between those dates tells the two apart."""
    paid_kind: str | None = None
    """The kind each row's payment becomes where the file names a paid_amount column: declared in
    [events.kinds] with amount = "paid" and commitment = false, so the money counts as repaid and the row's
    commitment (its amount owed, its status) is counted once."""
    outcomes: dict[str, ReportedOutcome] = {}
    """What the scoring service's reported outcomes (`rental_returned_late`, ...) are in this data set's
    kinds and statuses; one not listed is the simulator's (kind, status) where the spec declares both."""

    @model_validator(mode="before")
    @classmethod
    def _derived_statuses(cls, data: object) -> object:
        """A file without a status column has the statuses its dates tell (DERIVED_STATUSES)."""
        if isinstance(data, dict) and not data.get("statuses"):
            cols = data.get("columns")
            status = cols.get("status", "status") if isinstance(cols, dict) else getattr(cols, "status", "status")
            if not status:
                data = {**data, "statuses": {s: {"meaning": m} for s, m in DERIVED_STATUSES.items()}}
        return data

    @model_validator(mode="after")
    def _check(self) -> Events:
        _not_ignored(self.ignore, [*self.columns.model_dump().values(), *self.parts_of])
        mapped = {v for v in self.columns.model_dump().values() if v}
        for i, col in enumerate(self.parts_of):
            if col in mapped:
                raise SpecProblem(("parts_of", i), f"{col!r} is already one of [events.columns]: name the columns "
                                                   "that tell one commitment's rows apart from another's")
        self._check_payments()
        if self.columns.kind is None and len(self.kinds) - (self.paid_kind is not None) != 1:
            raise SpecProblem(("kinds",), "with no kind column (kind = \"\"), declare exactly one kind: every row "
                                          "is of it" + (" (besides paid_kind)" if self.paid_kind else ""))
        if self.columns.status is None:
            dated = self.columns.due_ts is not None and self.columns.settled_ts is not None
            if not dated and self.columns.days_late is None:
                raise SpecProblem(("columns", "status"), "with no status column (status = \"\"), name due_ts and "
                                                         "settled_ts, or days_late: how each commitment ended is "
                                                         "told from them")
            if {s: v.meaning for s, v in self.statuses.items()} != DERIVED_STATUSES:
                raise SpecProblem(("statuses",), "with no status column the statuses are told from the dates ("
                                                 + ", ".join(DERIVED_STATUSES) + "): leave [events.statuses] out")
        if self.parts_amount == "once" and not self.parts_of:
            raise SpecProblem(("parts_amount",), "applies to commitments paid in parts: name them with parts_of")
        if self.missed_after_days is not None and (self.columns.status is not None or self.columns.due_ts is not None):
            raise SpecProblem(("missed_after_days",), "applies where statuses are told from days late: no status "
                                                      "column (status = \"\") and no due_ts")
        if self.grace_days is not None:
            if self.columns.due_ts is None or self.columns.settled_ts is None:
                raise SpecProblem(("grace_days",), "a grace period counts from the due date to the settled one: "
                                                   "name due_ts and settled_ts in [events.columns]")
            if not self.statuses_meaning("broken"):
                raise SpecProblem(("grace_days",), "a row not settled within its grace period is broken: declare a "
                                                   "status meaning broken in [events.statuses]")
        for name, o in self.outcomes.items():
            if name not in REPORTED_OUTCOMES:
                raise SpecProblem(("outcomes", name), f"{name!r} is not an outcome the service takes (it takes: "
                                                      f"{', '.join(REPORTED_OUTCOMES)})")
            if o.kind not in self.kinds:
                raise SpecProblem(("outcomes", name, "kind"), f"{o.kind!r} is not a kind declared in [events.kinds]")
            if o.status not in self.statuses:
                raise SpecProblem(("outcomes", name, "status"),
                                  f"{o.status!r} is not a status declared in [events.statuses]")
        if not self.kinds:
            raise SpecProblem(("kinds",), "declare at least one event kind")
        if self.columns.amount is None:
            money = next((k for k, v in self.kinds.items() if v.amount != "neutral"), None)
            if money is not None:
                raise SpecProblem(("kinds", money, "amount"), f"the events have no amount column (amount = \"\"), so "
                                  f"the amount of {money!r} can only be neutral")
        if not self.statuses:
            raise SpecProblem(("statuses",), "declare at least one event status")
        labels: dict[str, tuple] = {}
        for group, items in (("kinds", self.kinds), ("statuses", self.statuses)):
            for value, item in items.items():
                if item.share is not None:
                    label = item.share.label or identifier(value)
                    if not re.match(IDENTIFIER, label):
                        raise SpecProblem((group, value, "share", "label"),
                                          f"{value!r} needs a share label made of a-z, 0-9 and _")
                    if label in labels:
                        raise SpecProblem((group, value, "share", "label"), f"share label {label!r} is used twice")
                    labels[label] = (group, value)
        return self

    def _check_payments(self) -> None:
        """paid_amount and paid_kind go together; the payments' kind is money paid, not a commitment, and
        they take a status meaning kept (ledger.payments_of)."""
        if (self.columns.paid_amount is None) != (self.paid_kind is None):
            missing = ("paid_kind",) if self.paid_kind is None else ("columns", "paid_amount")
            raise SpecProblem(missing, "paid_amount (the column) and paid_kind (the kind its payments become) go "
                                       "together: name both, or neither")
        if self.paid_kind is None:
            return
        if self.columns.amount is None:
            raise SpecProblem(("columns", "paid_amount"), "a paid amount is paid against the row's amount owed: "
                                                          "name the amount column too")
        kind = self.kinds.get(self.paid_kind)
        if kind is None or kind.amount != "paid" or kind.commitment:
            raise SpecProblem(("paid_kind",), f"declare {self.paid_kind!r} in [events.kinds] as "
                                              f"{{ amount = \"paid\", commitment = false }}: its events are the "
                                              "money paid, the row's own kind is the commitment")
        if not self.statuses_meaning("kept"):
            raise SpecProblem(("paid_kind",), "a payment is stored with a status meaning kept: declare one in "
                                              "[events.statuses]")

    @property
    def flow_kinds(self) -> frozenset[str]:
        """Kinds that only move money (EventKind.commitment false): never counted as commitments."""
        return frozenset(k for k, v in self.kinds.items() if not v.commitment)

    @property
    def has_days_late(self) -> bool:
        """Days late are known: a declared column, or counted from the due dates (ledger.dated_when_known)."""
        return self.columns.days_late is not None or self.columns.due_ts is not None

    @property
    def only_kind(self) -> str | None:
        """The one kind of a file without a kind column (its payments' paid_kind aside)."""
        return next(k for k in self.kinds if k != self.paid_kind) if self.columns.kind is None else None

    def statuses_meaning(self, *meanings: str) -> frozenset[str]:
        return frozenset(s for s, v in self.statuses.items() if v.meaning in meanings)

    def kinds_amount(self, meaning: str) -> frozenset[str]:
        return frozenset(k for k, v in self.kinds.items() if v.amount == meaning)

    def reported(self, outcome: str) -> tuple[str, str] | None:
        """(kind, status) of a reported outcome in this data set's words, or None where it does not say."""
        if outcome in self.outcomes:
            return self.outcomes[outcome].kind, self.outcomes[outcome].status
        kind, status = REPORTED_OUTCOMES[outcome]
        return (kind, status) if kind in self.kinds and status in self.statuses else None


class RelationColumns(_Strict):
    source: str = "source"
    target: str = "target"
    kind: str | None = "kind"
    weight: str | None = "weight"
    ts: str = "ts"

    @field_validator("kind", "weight")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None  # "": the file has no such column (every relation 'related', weight 1)


class Relations(_FileSection):
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

    @property
    def derived_kinds(self) -> list[str]:
        """The kinds of the relations read from the people file."""
        return [*self.from_people, *(f"same_{c}" for c in self.groups)]

    @model_validator(mode="after")
    def _check(self) -> Relations:
        seen: set[str] = set()
        for field in ("from_people", "groups"):
            for i, col in enumerate(getattr(self, field)):
                if col in seen:
                    raise SpecProblem((field, i), f"{col!r} is named twice in from_people and groups")
                seen.add(col)
        _not_ignored(self.ignore, self.columns.model_dump().values())
        if self.weighted and self.columns.weight is None:
            raise SpecProblem(("columns", "weight"), "weighted relations need a weight column")
        if self.signed and not self.weighted:
            raise SpecProblem(("signed",), "signed relations must be weighted (the sign is the weight's)")
        return self


class Outcomes(_FileSection):
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
    bad label is final as soon as it is seen. Checked where the snapshot date is given."""
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
    """source = "events": the status meanings that make a person bad when such an event comes in the window."""
    bad_days_late: int | None = Field(default=None, gt=0)
    """source = "events": an event at least this many days late makes a person bad too (90: the usual
    default definition), whatever its status."""

    @field_validator("bad", "good", "unknown")
    @classmethod
    def _text(cls, values: list) -> list[str]:
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]

    @model_validator(mode="after")
    def _check(self) -> Outcomes:
        _not_ignored(self.ignore, (self.person_id, self.label, self.as_of_column, self.window_days_column))
        if not self.bad:
            raise SpecProblem(("bad",), "name at least one label value that means bad (defaulted)")
        both = set(self.bad) & set(self.good)
        if both:
            raise SpecProblem(("good",), f"{sorted(both)[0]!r} is listed as both good and bad")
        known = set(self.unknown) & (set(self.bad) | set(self.good))
        if known:
            raise SpecProblem(("unknown",), f"{sorted(known)[0]!r} is listed as unknown and as a known outcome")
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
        if self.as_of_dates or self.bad_days_late is not None or self.bad_when != ["broken"]:
            field = "as_of_dates" if self.as_of_dates else ("bad_days_late" if self.bad_days_late else "bad_when")
            raise SpecProblem((field,), f"{field} applies to labels told from the events (source = \"events\")")
        dated_people = self.source == "people" and "as_of_column" in self.model_fields_set and self.as_of_column
        if self.as_of is None and (self.as_of_column is None or (self.source == "people" and not dated_people)):
            raise SpecProblem(("as_of",), "give a fixed as_of date, or, for labels in the people file, as_of_column "
                                          "naming its column of dates (an application date)")
        if self.window_days is None and self.window_days_column is None:
            raise SpecProblem(("window_days",), "give the performance window in days")
        return self


class Format(_Strict):
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
            raise SpecProblem(("decimal",), f"{self.decimal!r} is the delimiter too: numbers could not be told "
                                            "from separators")
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


class MoreProfile(_FileSection):
    """Another file about the same people (a KYC table beside the application, a bureau's monthly summary):
    its attributes join the profile by the person's id (`ingest --people NAME=FILE`). One row per person,
    or, with valid_from, one per version."""

    id_column: str
    """The column naming the person, as the main profile's id column does."""
    valid_from: str | None = None
    """This file's own attribute history: the column holding when each row's values became true (empty:
    since always). A profile as of T then holds each file's version valid strictly before T."""
    ignore: list[str] = []
    attributes: list[Attribute] = []

    @field_validator("valid_from")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _check(self) -> MoreProfile:
        _unique([a.source_column for a in self.attributes], ("attributes",), "column")
        _not_ignored(self.ignore, [self.id_column, self.valid_from, *(a.source_column for a in self.attributes)])
        return self


class Lookup(_FileSection):
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
        _not_ignored(self.ignore, (self.key, self.person_id))
        return self


class DatasetSpec(_Strict):
    spec_version: Literal[1] = SPEC_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    snapshot_date: dt.date | None = None
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
        seen: dict[str, dict[str, tuple[str, BaseModel]]] = {"kinds": {}, "statuses": {}, "outcomes": {}}
        if self.more_profile and not self.profile.id_column:
            raise SpecProblem(("profile", "id_column"), "more profile files join the profile by the person's id: "
                                                        "name the id column")
        names = {a.name: "profile" for a in self.profile.attributes}
        for file, more in self.more_profile.items():
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
            for group, items in (("kinds", ev.kinds), ("statuses", ev.statuses), ("outcomes", ev.outcomes)):
                for value, item in items.items():
                    first = seen[group].setdefault(value, (source, item))
                    if first[1] != item:
                        where = (source,) if source == "events" else ("more_events", source)
                        raise SpecProblem((*where, group, value), f"{value!r} is declared differently in "
                                          f"[{_section(first[0])}.{group}]: the files share one events table, so "
                                          "give it the same declaration or another name")
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
        columns as kinds of the relations table. Parts, grace periods, lookups and ignored columns were
        applied at ingest, so they are dropped."""
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
        rel = self.relations
        if rel is not None and rel.derived_kinds:
            kinds = [*rel.kinds, *(k for k in rel.derived_kinds if k not in rel.kinds)] if rel.kinds else []
            update["relations"] = rel.model_copy(update={"kinds": kinds, "from_people": [], "groups": []})
        if not self.more_events:
            return self.model_copy(update=update) if update else self
        sources = [ev for _, ev in self.event_sources()]
        present = {c: next((getattr(ev.columns, c) for ev in sources if getattr(ev.columns, c)), None)
                   for c in ("amount", "days_late", "counterparty", "due_ts", "settled_ts")}
        columns = EventColumns.model_validate({"kind": "kind", "status": "status", **present})
        merged = Events(columns=columns, kinds={k: v for ev in sources for k, v in ev.kinds.items()},
                        statuses={k: v for ev in sources for k, v in ev.statuses.items()},
                        outcomes={k: v for ev in sources for k, v in ev.outcomes.items()})
        return self.model_copy(update={**update, "events": merged, "more_events": {}})

    def attribute(self, name: str) -> Attribute:
        return {a.name: a for a in self.profile.attributes}[name]

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
        return json.dumps(data, indent=2) + "\n"

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


def _section(source: str) -> str:
    return "events" if source == "events" else f"more_events.{source}"


def identifier(value: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", value.lower())).strip("_") or "x"


def _not_ignored(ignore: list[str], used: Iterable[str | None]) -> None:
    """A column is either used or ignored, and named once."""
    used_set = set(used)
    for i, col in enumerate(ignore):
        if col in used_set:
            raise SpecProblem(("ignore", i), f"{col!r} is a column the spec uses: it cannot also be ignored")
        if col in ignore[:i]:
            raise SpecProblem(("ignore", i), f"{col!r} is listed twice")


def _unique(values: list[str], loc: tuple, field: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise SpecProblem((*loc, i, field), f"{v!r} is declared twice")
        seen.add(v)


def _spec_error(exc: ValidationError, file: str, lines: dict[tuple, int]) -> SpecError:
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
    return SpecError(file, problem, line_of(lines, loc), field_path(loc) or None)


def parse_spec(data: dict, file: str = "<spec>", lines: dict[tuple, int] | None = None) -> DatasetSpec:
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, file, lines or {}) from None


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
    return parse_spec(data, file, toml_lines(text))


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


BUILTIN = ("simulator", "uci", "otc", "german")


def builtin_spec(kind: str) -> DatasetSpec:
    """The shipped spec of a bundled data set or of the simulator (data/specs/<kind>.toml)."""
    if kind not in BUILTIN:
        raise KeyError(f"no built-in spec {kind!r} (have: {', '.join(BUILTIN)})")
    res = files("deepcredit.data").joinpath("specs", f"{kind}.toml")
    return spec_from_toml(res.read_text(encoding="utf-8"), f"deepcredit/data/specs/{kind}.toml")
