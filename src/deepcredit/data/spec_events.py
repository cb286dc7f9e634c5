"""The history sections of the data-set spec ([events], [more_events.NAME]): which of a file's columns are
the person, the date, the kind, the amount and the status, what each of the user's own kinds and statuses
means (money owed or paid, a commitment kept, late or broken), and how a ledger's rows become events
(dates, parts, grace, payments)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from deepcredit.data.schema import EVENTS, REPORTED_OUTCOMES, Dimension
from deepcredit.data.spec_base import (
    IDENTIFIER,
    DescribedColumn,
    FileSection,
    OptionalColumn,
    SpecProblem,
    Strict,
    both_directions,
    identifier,
    not_ignored,
)

StatusMeaning = Literal["kept", "late", "broken", "open", "neutral"]
NEGATIVE_MEANINGS: tuple[StatusMeaning, ...] = ("late", "broken")  # a record against the person
"""kept: the commitment was met; late: met late (money still paid); broken: not met at all (severe);
open: not yet an outcome (a statement, an open order); neutral: neither (no use, a revolving balance)."""
DERIVED_STATUSES: dict[str, StatusMeaning] = {"on_time": "kept", "late": "late", "missed": "broken", "open": "open"}
"""The statuses of a file without a status column (status = ""), told from each row's due and settled dates
or its days late."""
RECORDED = "recorded"
ACTIVITY_STATUSES: dict[str, StatusMeaning] = {RECORDED: "neutral"}
"""The one status of an activity log (a bank's transactions, logins): no status column and nothing that
tells how a commitment ended, so every row is simply recorded, neither kept nor broken."""
AmountMeaning = Literal["owed", "paid", "received", "spent", "signed", "rating", "neutral"]
"""What an event's amount is: money owed (a bill), money paid (a repayment), money that came in (a salary,
a transfer received), money that went out (a purchase, a withdrawal), money in when positive and out when
negative (a bank statement's signed amount), a rating received, or none of these."""
SIGNED_MEANINGS = ("owed", "signed", "rating", "neutral")
"""Amount meanings under which a negative amount means something (a credit balance, money out, a bad
rating); every other amount is never negative. An owed amount is a balance, and so may be a credit, only
where the profile declares a credit line (ingest refuses a negative one elsewhere: most often a refund)."""


def derived_statuses(due_ts: str | None, settled_ts: str | None, days_late: str | None) -> dict[str, StatusMeaning]:
    """The statuses of a file without a status column: told from its dates or days late where it has them,
    else those of an activity log."""
    return DERIVED_STATUSES if (due_ts and settled_ts) or days_late else ACTIVITY_STATUSES


class ShareFeature(Strict):
    """Ask for a 'share of events of this kind / status' feature, with its own texts."""

    label: str | None = Field(default=None, pattern=IDENTIFIER, description="Short name used in the feature name.")
    description: str
    improve: str = ""
    risk_direction: Literal[-1, 0, 1] = 0
    improve_direction: Literal[-1, 0, 1] = 0
    """As an attribute's (spec_base.DescribedColumn.improve_direction)."""

    @model_validator(mode="after")
    def _check_directions(self) -> ShareFeature:
        both_directions(self.risk_direction, self.improve_direction)
        return self

    def label_for(self, value: str) -> str:
        """The name the share of `value` (a kind, a status, a category's value) goes by in its feature's name."""
        return self.label or identifier(value)


class EventKind(Strict):
    amount: AmountMeaning = "neutral"
    share: ShareFeature | None = None
    commitment: bool = True
    """False for a kind that only moves money (a payment made against a commitment written elsewhere, as
    [events] paid_kind makes): counted in the money features, never as a commitment kept, late or broken."""


PAID_STATUS = "paid"
"""The status of each payment paid_kind makes (ledger.payments_of), declared meaning kept in the stored spec
(DatasetSpec.stored). Why its own word: a payment took the spec's first kept status, so a person's page read
"payment RETURNED", like a bounced payment. A payment is no commitment (EventKind.commitment false), so its
status counts it as money paid and never as a commitment kept."""


MEASURE_RESERVED = frozenset(c.name for c in EVENTS.columns) | {
    "settled_ts", "paid_amount", "as_of", "label", "age_days", "is_good", "is_bad", "is_severe", "is_outcome",
    "due_age_days"}
"""The events table's own columns, the columns ingest reads beside them, and those the event stages add
(features.sources): no measure's name."""


MIN_BUCKETS, MAX_BUCKETS = 2, 65536
"""Bounds of Measure.buckets: a value's bucket comes from 16 bits of its MD5 hash."""


class Measure(DescribedColumn):
    """What each row of a history file records besides its kind, status and amount: a number (a statement's
    balance, the credit in use, an account's balance after a transaction) or a category (the channel a
    payment came through, a merchant's trade, a contract's type). A number's latest value, its level over
    the recent window (mean, lowest, highest) and its trend per period become features of its dimension; a
    category's latest value does, and the share of rows holding each of its declared `values`
    (features.templates)."""

    type: Literal["numeric", "categorical"] = "numeric"
    dimension: Dimension = Dimension.FULFILMENT_CAPACITY
    values: dict[str, ShareFeature] = {}
    """A categorical measure's values whose share of the rows becomes a feature, each with its own texts and
    risk direction (online = { description = "how often you paid online", risk_direction = 1 }); other
    values are kept, and count in the latest value only."""
    buckets: int = 0
    """A categorical measure whose values are too many to declare one by one (a merchant's trade code): each
    value hashed into one of this many buckets, and each bucket learned as an embedding by the sequence
    members, so every value reaches them, not only the declared ones. 0: none. Hashing needs no list of
    values and no fitted state (the same bucket in DuckDB and Spark); values that share a bucket share its
    embedding, and a value never seen in training reads as its bucket's (as nothing, where the bucket was
    never seen). About twice as many buckets as values keeps most values apart."""

    @model_validator(mode="after")
    def _check_type(self) -> Measure:
        if self.type == "numeric" and self.values:
            raise SpecProblem(("values",), "`values` applies to categorical measures (type = \"categorical\")")
        if self.type == "numeric" and self.aliases:
            raise SpecProblem(("aliases",), "`aliases` applies to categorical measures (type = \"categorical\")")
        for value in self.values:
            if value in self.alias_map and self.alias_map[value] != value:
                raise SpecProblem(("values", value), f"{value!r} is read as {self.alias_map[value]!r} (`aliases`): "
                                                     "declare the share of the category it is read as")
        if self.type == "categorical" and self.unit:
            raise SpecProblem(("unit",), "`unit` applies to numeric measures only")
        if self.buckets and self.type != "categorical":
            raise SpecProblem(("buckets",), "`buckets` applies to categorical measures (type = \"categorical\")")
        if self.buckets and not MIN_BUCKETS <= self.buckets <= MAX_BUCKETS:
            raise SpecProblem(("buckets",), f"`buckets` must lie between {MIN_BUCKETS} and {MAX_BUCKETS} "
                                            f"(or be 0 for none), not {self.buckets}")
        if self.type == "categorical" and self.risk_direction:
            raise SpecProblem(("risk_direction",), "a category has no direction of risk: give each of its `values` "
                                                   "its own risk_direction")
        return self


class EventStatus(Strict):
    meaning: StatusMeaning
    share: ShareFeature | None = None
    owes_nothing: bool = False
    """True for a neutral status under which the row never ran (a refund, a cancelled invoice): its amount is
    counted in no amount owed and the row in no count of commitments. Why a flag and not every neutral
    status: a revolving statement is neutral (neither kept nor broken), yet its balance is owed."""

    @model_validator(mode="after")
    def _check_owes_nothing(self) -> EventStatus:
        if self.owes_nothing and self.meaning != "neutral":
            raise SpecProblem(("owes_nothing",), f"a status meaning {self.meaning} is a commitment that owed "
                                                 "something: owes_nothing applies to a status meaning neutral")
        return self


def _not_commitment(kind: object) -> object:
    """A kind of an activity log, as declared (a dict, or an EventKind built in Python): no commitment, unless
    it says otherwise (which the spec then refuses at its line)."""
    if isinstance(kind, dict) and "commitment" not in kind:
        return {**kind, "commitment": False}
    if isinstance(kind, EventKind) and "commitment" not in kind.model_fields_set:
        return kind.model_copy(update={"commitment": False})
    return kind


class ReportedOutcome(Strict):
    """A merchant's reported outcome (data.schema.REPORTED_OUTCOMES) in the data set's own words."""

    kind: str
    status: str


class EventColumns(Strict):
    """Where the user's column names differ from DeepCredit's; optional ones absent unless named."""

    person_id: str = "person_id"
    ts: str = "ts"
    kind: OptionalColumn = "kind"
    """"" for a file of one kind of commitment (an instalment schedule): every row is the one kind declared."""
    amount: OptionalColumn = "amount"
    """"" for a file without amounts (an activity log, returns without fees): every kind's amount is then
    neutral, stored as 0, and no feature reads it."""
    status: OptionalColumn = "status"
    """"" for a file whose due and settled dates tell how each commitment ended: its statuses are then
    DERIVED_STATUSES (settled by the due day: on_time; after it: late; not settled, due before the snapshot:
    missed; else open); or, without due dates, whose days late tell it (none: on_time; some: late; at least
    Events.missed_after_days: missed); or, with neither, for an activity log: every row is RECORDED."""
    days_late: OptionalColumn = None
    counterparty: OptionalColumn = None
    due_ts: OptionalColumn = None
    settled_ts: OptionalColumn = None
    """When the commitment was settled (paid, returned), empty while it is not: a ledger of orders then
    ingests with each row dated when its outcome became known (ledger.dated_when_known), never earlier."""
    paid_amount: OptionalColumn = None
    """What was paid against the row's amount owed, where a file writes both (an instalment's AMT_PAYMENT
    beside its AMT_INSTALMENT): each payment becomes an event of [events] paid_kind (ledger.payments_of)."""


DatingColumn = Literal["due_ts", "settled_ts", "days_late"]
DATING_COLUMNS: tuple[DatingColumn, ...] = ("due_ts", "settled_ts", "days_late")
"""The optional columns by which ingest dates and rules a history file's rows (ledger.dated_when_known)."""


class KindRules(Strict):
    """How ingest stored the rows of one history file where a data set merges several: the file's grace
    period, its paid_kind and which of DATING_COLUMNS it has. Why: the stored spec's one [events]
    (DatasetSpec.stored) has one grace period and one paid_kind, so a reported outcome of another file's
    kind would be stored by the wrong file's rules (a payment that file never had, another write-off bound);
    the stored spec keeps each kind's own (Events.kind_rules, read by Events.for_kind). Written by ingest,
    not declared by hand."""

    grace_days: int | None = None
    paid_kind: str | None = None
    dated_by: list[DatingColumn] = []


class Events(FileSection):
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
    once, and rows of one commitment that differ are refused). With "once" and a paid_amount column the
    commitment is settled by the part that pays it in full (ledger.merged_parts), point in time."""
    grace_days: int | None = Field(default=None, ge=0)
    """Whole days after its due day within which a commitment may still be settled, late; one not settled by
    then is broken from the next day on, whatever happened later (ledger.dated_when_known). Needs due_ts,
    settled_ts and the snapshot date. Without it the rows settled have ledger.UNSETTLED_DAYS (90) as their
    grace: one settled later is broken from then, as one never settled is, so no feature tells them apart
    before the settlement."""
    paid_kind: str | None = None
    """The kind each row's payment becomes where the file names a paid_amount column: declared in
    [events.kinds] with amount = "paid" and commitment = false, so the money counts as repaid and the row's
    commitment (its amount owed, its status) is counted once."""
    amount_scale: float = Field(default=1.0, gt=0)
    """What one unit of the file's amounts (and paid_amount) is in the currency: 0.01 where a ledger writes
    cents (minor units, as card and payment exports do), so stored amounts, features and the reasons a
    person reads are in the currency (EUR 319.37, not 31,937.00). Applied at ingest."""
    measures: list[Measure] = []
    """Numbers each row records besides its amount (Measure), stored with the events as columns of their names."""
    commitment_word: str | None = Field(default=None, pattern=r"^[a-z][a-z -]*[a-z]$")
    """What the business calls the commitment its history's delays and streaks count ("return" for a
    rental), where it is not a payment: the history texts then read "how late your most recent return
    was", "Your next on-time return ends this streak". Left out: "payment", today's texts unchanged."""
    commitment_plural: str | None = Field(default=None, pattern=r"^[a-z][a-z -]*[a-z]$")
    """The plural of commitment_word where it is not the word and an s ("deliveries")."""
    kind_rules: dict[str, KindRules] = {}
    """The stored spec of several history files only: the rules of each kind whose file's are not this
    [events]'s own (KindRules; DatasetSpec.stored writes them)."""
    outcomes: dict[str, ReportedOutcome] = {}
    """What the scoring service's reported outcomes (`rental_returned_late`, ...) are in this data set's
    kinds and statuses; one not listed is the simulator's (kind, status) where the spec declares both."""

    @model_validator(mode="before")
    @classmethod
    def _derived_statuses(cls, data: object) -> object:
        """A file without a status column has the statuses its dates tell (derived_statuses)."""
        if isinstance(data, dict) and not data.get("statuses"):
            cols = data.get("columns")
            named = cols if isinstance(cols, dict) else cols.model_dump() if isinstance(cols, EventColumns) else {}
            if not named.get("status", "status"):
                statuses = derived_statuses(named.get("due_ts"), named.get("settled_ts"), named.get("days_late"))
                data = {**data, "statuses": {s: {"meaning": m} for s, m in statuses.items()}}
                if statuses is ACTIVITY_STATUSES and isinstance(data.get("kinds"), dict):
                    data["kinds"] = {k: _not_commitment(v) for k, v in data["kinds"].items()}
        return data

    @model_validator(mode="after")
    def _check(self) -> Events:
        not_ignored(self.ignore, [*self.columns.model_dump().values(), *self.parts_of,
                                  *(m.source_column for m in self.measures)])
        mapped = {v for v in self.columns.model_dump().values() if v}
        self._check_measures(mapped)
        for i, col in enumerate(self.parts_of):
            if col in mapped:
                raise SpecProblem(("parts_of", i), f"{col!r} is already one of [events.columns]: name the columns "
                                                   "that tell one commitment's rows apart from another's")
        self._check_payments()
        if self.columns.kind is None and len(self.kinds) - (self.paid_kind is not None) != 1:
            raise SpecProblem(("kinds",), "with no kind column (kind = \"\"), declare exactly one kind: every row "
                                          "is of it" + (" (besides paid_kind)" if self.paid_kind else ""))
        if self.columns.status is None:
            c = self.columns
            if (c.due_ts is None) != (c.settled_ts is None) and c.days_late is None:
                missing = "settled_ts" if c.settled_ts is None else "due_ts"
                raise SpecProblem(("columns", missing), "with no status column (status = \"\"), how each commitment "
                                                        "ended is told from its due and settled dates: name both "
                                                        "(or days_late)")
            derived = derived_statuses(c.due_ts, c.settled_ts, c.days_late)
            declared = {s: v.meaning for s, v in self.statuses.items()}
            if declared != derived and not (self.paid_kind and declared == {**derived, PAID_STATUS: "kept"}):
                told = "from the dates or days late" if derived is DERIVED_STATUSES else "(an activity log: each row"\
                    " is recorded)"
                raise SpecProblem(("statuses",), f"with no status column the statuses are told {told} ("
                                                 + ", ".join(derived) + "): leave [events.statuses] out")
            kept = next((k for k, v in self.kinds.items() if v.commitment), None)
            if derived is ACTIVITY_STATUSES and kept is not None:
                raise SpecProblem(("kinds", kept, "commitment"), "an activity log (no status column, and no dates or "
                                  "days late that tell how a commitment ended) records no commitments: leave "
                                  "commitment out")
        if self.commitment_plural is not None and self.commitment_word is None:
            raise SpecProblem(("commitment_plural",), "is the plural of commitment_word: name that word too")
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
        if self.columns.amount is None and self.amount_scale != 1.0:
            raise SpecProblem(("amount_scale",), "the events have no amount column (amount = \"\"): there is no "
                                                 "amount to scale")
        if self.columns.amount is None:
            money = next((k for k, v in self.kinds.items() if v.amount != "neutral"), None)
            if money is not None:
                raise SpecProblem(("kinds", money, "amount"), f"the events have no amount column (amount = \"\"), so "
                                  f"the amount of {money!r} can only be neutral")
        if not self.statuses:
            raise SpecProblem(("statuses",), "declare at least one event status")
        labels: dict[str, tuple] = {}
        shares: list[tuple[tuple, str, ShareFeature]] = [
            ((group, value, "share"), value, item.share) for group, items in (("kinds", self.kinds),
                                                                             ("statuses", self.statuses))
            for value, item in items.items() if item.share is not None]
        shares += [(("measures", i, "values", value), value, share) for i, m in enumerate(self.measures)
                   for value, share in m.values.items()]
        for loc, value, share in shares:
            label = share.label_for(value)
            if not re.match(IDENTIFIER, label):
                raise SpecProblem((*loc, "label"), f"{value!r} needs a share label made of a-z, 0-9 and _")
            if label in labels:
                raise SpecProblem((*loc, "label"), f"share label {label!r} is used twice")
            labels[label] = loc
        return self

    def _check_measures(self, mapped: set[str]) -> None:
        """Measures are named apart from the events table's own columns and from each other, read from a
        column no other role takes, and recorded once per row (not on commitments written in parts)."""
        for i, m in enumerate(self.measures):
            if m.name in MEASURE_RESERVED:
                raise SpecProblem(("measures", i, "name"), f"{m.name!r} is a column of the events table: name the "
                                                           "measure otherwise (and give its header as column)")
            if m.name in (n.name for n in self.measures[:i]):
                raise SpecProblem(("measures", i, "name"), f"{m.name!r} is named twice")
            if m.source_column in mapped or m.source_column in self.parts_of:
                raise SpecProblem(("measures", i, "column" if m.column else "name"),
                                  f"{m.source_column!r} is already read as another of the file's columns")
        if self.measures and self.parts_of:
            raise SpecProblem(("measures",), "a commitment written in parts (parts_of) has one value per part, not "
                                             "one per event: measures are read from files of one row per event")

    def _check_payments(self) -> None:
        """paid_amount and paid_kind go together; the payments' kind is money paid, not a commitment, and
        their status, PAID_STATUS, means kept (ledger.payments_of)."""
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
        if PAID_STATUS in self.statuses and self.statuses[PAID_STATUS].meaning != "kept":
            raise SpecProblem(("statuses", PAID_STATUS), f"{PAID_STATUS!r} is the status payments (paid_kind) are "
                                                         "stored with: it means kept (money paid)")

    @property
    def paid_status(self) -> str | None:
        """The status of paid_kind's payments (PAID_STATUS), None without them."""
        return PAID_STATUS if self.paid_kind is not None else None

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

    def rules(self) -> KindRules:
        """This file's grace period, paid_kind and dating columns: the rules ingest stores its rows by."""
        return KindRules(grace_days=self.grace_days, paid_kind=self.paid_kind,
                         dated_by=[c for c in DATING_COLUMNS if getattr(self.columns, c)])

    def for_kind(self, kind: str) -> Events:
        """These declarations with the rules of `kind`'s own file (kind_rules), so a row of that kind is
        stored as ingest stored its file's rows (those of the merged [events] for a kind it has none for);
        without kind_rules, so what reads it by kind reads one file's rules."""
        if not self.kind_rules:
            return self
        rule = self.kind_rules.get(kind)
        if rule is None:
            return self.model_copy(update={"kind_rules": {}})
        columns = self.columns.model_copy(update={c: None for c in DATING_COLUMNS if c not in rule.dated_by})
        return self.model_copy(update={"grace_days": rule.grace_days, "paid_kind": rule.paid_kind,
                                       "columns": columns, "kind_rules": {}})

    def statuses_meaning(self, *meanings: str) -> frozenset[str]:
        return frozenset(s for s, v in self.statuses.items() if v.meaning in meanings)

    @property
    def negative_statuses(self) -> frozenset[str]:
        """Statuses of a record that counts against the person (NEGATIVE_MEANINGS): the credit-history and
        neighbour features' bad records, and the negatives the service retires after their retention."""
        return self.statuses_meaning(*NEGATIVE_MEANINGS)

    @property
    def statuses_owing_nothing(self) -> frozenset[str]:
        """Statuses under which a row never ran (EventStatus.owes_nothing: a refund, a cancelled invoice)."""
        return frozenset(s for s, v in self.statuses.items() if v.owes_nothing)

    @property
    def signed_kinds(self) -> frozenset[str]:
        """Kinds whose amount may be negative (SIGNED_MEANINGS)."""
        return frozenset(k for k, v in self.kinds.items() if v.amount in SIGNED_MEANINGS)

    def kinds_amount(self, meaning: str) -> frozenset[str]:
        return frozenset(k for k, v in self.kinds.items() if v.amount == meaning)

    def reported(self, outcome: str) -> tuple[str, str] | None:
        """(kind, status) of a reported outcome in this data set's words, or None where it does not say."""
        if outcome in self.outcomes:
            return self.outcomes[outcome].kind, self.outcomes[outcome].status
        kind, status = REPORTED_OUTCOMES[outcome]
        return (kind, status) if kind in self.kinds and status in self.statuses else None
