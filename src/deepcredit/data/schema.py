"""The four tables every DeepCredit component reads, and the five dimensions every feature belongs to.

The schema is data, not code paths: validation, documentation (docs/data-model.md) and the loaders all
read these specs, so a column is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd


class Dimension(StrEnum):
    """The five explained dimensions of a DeepCredit score."""

    IDENTITY = "identity"
    CREDIT_HISTORY = "credit_history"
    FULFILMENT_CAPACITY = "fulfilment_capacity"
    BEHAVIOUR_PREFERENCES = "behaviour_preferences"
    SOCIAL_CONNECTIONS = "social_connections"


class ColumnType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True
    nullable: bool = False
    protected: bool = False
    allowed: frozenset[str] | None = None
    description: str = ""
    dimension: Dimension | None = None
    """For profile attributes: the dimension the attribute speaks to when used as a feature."""
    may_follow_snapshot: bool = False
    """A time that may lie after the data set's snapshot date (an open commitment's due date)."""
    identifier: bool = False
    """Names a person or a record (an id): like a protected attribute's, its values are personal data, never
    repeated in an error (which names the row and column instead)."""
    aliases: tuple[tuple[str, str], ...] = ()
    """A text column's other ways of writing a value, each (as written, as read): a spec's `aliases`, applied
    as the file is read (its values trimmed first), before `allowed` is checked."""
    free_text: bool = False
    """A text column that may run over several lines (a number written in text, number_in_text): every other
    text column (an id, a category, a kind, a status, a label) holds one line, so a line break in a value is
    refused at its row (most often a stray quote made a CSV record run on)."""

    @property
    def personal(self) -> bool:
        """Whether an error may not repeat this column's values (a protected attribute or an identifier)."""
        return self.protected or self.identifier


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    description: str = ""
    extra_columns_allowed: bool = False
    ignored: tuple[str, ...] = ()
    """Columns a file may have that are dropped unread (a spec's `ignore`): whatever their type."""
    unknown_hint: str = ""
    """Appended to an 'unknown column' error: how this table's source leaves a column out."""
    duplicate_hint: str = ""
    """Appended to a 'duplicate key' error: what in the spec makes the key what it is."""

    def column(self, name: str) -> Column:
        return {c.name: c for c in self.columns}[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# --- vocabularies ---------------------------------------------------------------------------------

EVENT_KINDS = frozenset(
    {"bill", "repayment", "instalment", "rental", "order", "utility", "transfer", "rating"}
)
"""What kind of commitment an event records."""

REPORTED_OUTCOMES: dict[str, tuple[str, str]] = {
    "rental_returned_on_time": ("rental", "returned"),
    "rental_returned_late": ("rental", "returned_late"),
    "rental_not_returned": ("rental", "not_returned"),
    "instalment_paid": ("instalment", "on_time"),
    "instalment_late": ("instalment", "late"),
    "instalment_missed": ("instalment", "missed"),
}
"""What a merchant reports to the scoring service, as the (kind, status) of this vocabulary. A data set in
its own words says what each is in its words under [events.outcomes] in its spec."""

GOOD_STATUSES = frozenset({"on_time", "paid_full", "returned", "positive"})
"""The person kept the commitment."""
BAD_STATUSES = frozenset({"late", "missed", "overdue", "returned_late", "not_returned", "negative"})
"""The person did not keep the commitment (fully or on time)."""
SEVERE_STATUSES = frozenset({"missed", "not_returned", "negative"})
"""The commitment was not kept at all: the strongest signal of risk."""
NEUTRAL_STATUSES = frozenset({"revolving", "no_consumption", "neutral", "open"})
"""Neither kept nor broken yet (a revolving balance, no use, an open order)."""
EVENT_STATUSES = GOOD_STATUSES | BAD_STATUSES | NEUTRAL_STATUSES

RELATION_KINDS = frozenset({"contact", "transfer", "shared_device", "rating", "guarantee"})

PROTECTED_ATTRIBUTES = ("sex", "age", "marital_status")
"""Audited for fairness, never model inputs unless a user explicitly asks."""


# --- the four tables -------------------------------------------------------------------------------

PEOPLE = TableSpec(
    name="people",
    key=("person_id",),
    description="Who a person is: one row per person. Only person_id is required.",
    columns=(
        Column("person_id", ColumnType.STRING, identifier=True, description="Pseudonymous identifier."),
        Column("sex", ColumnType.STRING, required=False, nullable=True, protected=True,
               description="Protected: audited, not a model input."),
        Column("age", ColumnType.FLOAT, required=False, nullable=True, protected=True,
               description="Age in years at the data set's reference date. Protected."),
        Column("marital_status", ColumnType.STRING, required=False, nullable=True, protected=True,
               description="Protected: audited, not a model input."),
        Column("education", ColumnType.STRING, required=False, nullable=True,
               dimension=Dimension.IDENTITY, description="Highest education level."),
        Column("occupation", ColumnType.STRING, required=False, nullable=True,
               dimension=Dimension.IDENTITY, description="Occupation group."),
        Column("identity_verified", ColumnType.BOOL, required=False, nullable=True,
               dimension=Dimension.IDENTITY, description="Identity documents verified."),
        Column("city_tier", ColumnType.INT, required=False, nullable=True,
               dimension=Dimension.IDENTITY, description="City tier, 1 (largest) to 5."),
        Column("joined_at", ColumnType.TIMESTAMP, required=False, nullable=True,
               dimension=Dimension.IDENTITY,
               description="When the person joined the platform (tenure is computed as of each date)."),
        Column("credit_limit", ColumnType.FLOAT, required=False, nullable=True,
               dimension=Dimension.FULFILMENT_CAPACITY, description="Granted credit line."),
        Column("income", ColumnType.FLOAT, required=False, nullable=True,
               dimension=Dimension.FULFILMENT_CAPACITY, description="Declared monthly income."),
    ),
)

EVENTS = TableSpec(
    name="events",
    description="Fulfilment history: one row per commitment kept or broken.",
    columns=(
        Column("person_id", ColumnType.STRING, identifier=True),
        Column("ts", ColumnType.TIMESTAMP, description="When the event was recorded (known from then on)."),
        Column("kind", ColumnType.STRING, allowed=EVENT_KINDS),
        Column("amount", ColumnType.FLOAT, nullable=True,
               description="Money involved (for ratings: the rating); empty where a neutral kind has none."),
        Column("status", ColumnType.STRING, allowed=EVENT_STATUSES),
        Column("due_ts", ColumnType.TIMESTAMP, required=False, nullable=True, may_follow_snapshot=True,
               description="When the commitment was due, where relevant."),
        Column("days_late", ColumnType.FLOAT, required=False, nullable=True,
               description="How late the commitment was kept, in days (0 = on time)."),
        Column("counterparty", ColumnType.STRING, required=False, nullable=True, identifier=True, free_text=True,
               description="The merchant or person on the other side (a name as written)."),
    ),
)

RELATIONS = TableSpec(
    name="relations",
    description="Who is connected to whom, since when: one row per directed edge observation.",
    columns=(
        Column("source", ColumnType.STRING, identifier=True),
        Column("target", ColumnType.STRING, identifier=True),
        Column("kind", ColumnType.STRING, allowed=RELATION_KINDS),
        Column("weight", ColumnType.FLOAT),
        Column("ts", ColumnType.TIMESTAMP, description="When the relation was first observed."),
    ),
)

OUTCOMES = TableSpec(
    name="outcomes",
    key=("person_id", "as_of"),
    description="Labels: did the person fail a commitment within the window after as_of?",
    columns=(
        Column("person_id", ColumnType.STRING, identifier=True),
        Column("as_of", ColumnType.TIMESTAMP, description="Features use only what was known before this."),
        Column("label", ColumnType.INT, allowed=frozenset({"0", "1"}),
               description="1 = did not fulfil / defaulted within the window."),
        Column("window_days", ColumnType.INT, description="Length of the performance window."),
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (PEOPLE, EVENTS, RELATIONS, OUTCOMES)}


@dataclass(frozen=True)
class DatasetManifest:
    """What a stored data set is: its name, the snapshot it was taken at, and its tables' fingerprints."""

    name: str
    snapshot_date: str
    description: str = ""
    tables: dict[str, dict] = field(default_factory=dict)
    extras: dict[str, dict] = field(default_factory=dict)
    spec: str = ""
    """sha256 of the stored spec.json ("" for data sets stored without one)."""
    time_zone: str = ""
    """The zone whose wall-clock times the tables hold (the spec's [format] timezone); "" for UTC."""


DTYPES = {ColumnType.STRING: "string", ColumnType.INT: "Int64", ColumnType.FLOAT: "float64",
          ColumnType.BOOL: "boolean", ColumnType.TIMESTAMP: "datetime64[us]"}
"""The pandas dtype each column type is held in."""


def typed_frame(spec: TableSpec, columns: dict[str, object]) -> pd.DataFrame:
    """A frame of the spec's columns with their canonical dtypes (also correct when it has no rows)."""
    return pd.DataFrame({name: pd.Series(values, dtype=DTYPES[spec.column(name).type])
                         for name, values in columns.items()})
