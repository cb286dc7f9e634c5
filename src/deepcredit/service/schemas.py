"""Pydantic models for every request and response body (they are the OpenAPI schema).

Requests forbid unknown fields, so a typo ("scop") is a 422, not a silently ignored setting. Rules that
tie fields together (a pay-later policy has limits, a late outcome has days_late, a per-order consent has
an order_ref) are written as unions discriminated by one field, so they are in the OpenAPI document too:
a body the schema accepts is not refused for its shape. Every row the service hands out is named by an opaque
public id (`dec_…`, `evt_…`, `dsp_…`, `cns_…`, `pol_…`, `whk_…`: store/public_ids.py), a merchant (made by the
operator only) by a positive 64-bit integer; every
timestamp in a response is UTC with its offset.
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from deepcredit.service.store import public_ids

INT64_MAX = 2**63 - 1


def _json_number(value: object) -> object:
    """A JSON number only: pydantic's lax mode would also take true/false and numeric strings."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON number")
    return value


Number = BeforeValidator(_json_number)
DbId = Annotated[int, Field(ge=1, le=INT64_MAX, description="A row id (a positive 64-bit integer)."), Number]
"""A merchant's id (only the operator makes merchants: their number tells nobody else anything); larger numbers
are refused by the schema (422), not by the database."""


def _public_id(prefix: str, pattern: str, what: str) -> Any:
    """A public id's schema (store/public_ids.py): its pattern, and words that say it counts nothing."""
    return Field(pattern=pattern, description=f"A {what}'s id: opaque, never a count ({prefix} and 22 characters).")


DecisionId = Annotated[str, _public_id(public_ids.DECISION, public_ids.DECISION_ID, "decision")]
EventId = Annotated[str, _public_id(public_ids.EVENT, public_ids.EVENT_ID, "reported event")]
DisputeId = Annotated[str, _public_id(public_ids.DISPUTE, public_ids.DISPUTE_ID, "dispute")]
ConsentId = Annotated[str, _public_id(public_ids.CONSENT, public_ids.CONSENT_ID, "consent")]
PolicyId = Annotated[str, _public_id(public_ids.POLICY, public_ids.POLICY_ID, "policy")]
WebhookId = Annotated[str, _public_id(public_ids.WEBHOOK, public_ids.WEBHOOK_ID, "webhook")]


SERVICE_ZONE: ContextVar[str | None] = ContextVar("service_zone", default=None)
"""The zone of the service's naive times (config.Clock.zone, the data set's; None: UTC), set for each
request by app.ServiceZone so that responses can say which instant a stored time is."""


def _as_utc(dt: datetime) -> datetime:
    """Stored times are naive, in the service's zone: every response gives them in UTC with the offset
    (RFC 3339 needs it)."""
    if dt.tzinfo is None:
        zone = SERVICE_ZONE.get()
        dt = dt.replace(tzinfo=ZoneInfo(zone) if zone else UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # the calendar's first or last instant, as service.config.naive_in makes them
        return dt.replace(tzinfo=UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
"""A date-time as RFC 3339 writes it, its offset required (what the OpenAPI `date-time` format means)."""


def _rfc3339(value: object) -> object:
    """A request's date-time as its schema says (a text with its offset): pydantic's lax mode would also take
    a number or a text of digits (seconds since 1970) and a time without an offset (in which zone?). A
    datetime object, from Python callers in the service's own time, passes as it is."""
    if isinstance(value, datetime) or (isinstance(value, str) and RFC3339.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with its offset, e.g. 2026-01-31T12:00:00Z")


RequestDateTime = Annotated[datetime, BeforeValidator(_rfc3339)]
"""A date-time in a request body (the schema's `date-time`, unchanged); responses keep UtcDateTime."""

PersonId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
                     Field(description="The person's id as the merchant knows it; pseudonymised on arrival.")]
TransactionId = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:\-]+$"),
                          Field(description="The merchant's id for this request; a replay within the window "
                                            "returns the first answer.")]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
OrderRef = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:\-]+$")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


FACTORS_DISCLOSES = (
    "factors: the five dimensions' points and each reason's code, text, points lost and advice. Your raw "
    "values (an income, a ratio) are never sent, but the points are computed from them, so a merchant that "
    "gathers answers can tell which bin each reason's characteristic falls in: a range for a number, the "
    "category itself for a category (an occupation, whether your identity is verified).")
"""What a `factors` grant lets a merchant learn, in the words the person reads where they grant it (the scope's
description in the API schema) and on their page: the points are a function of the person's values, so
they tell each characteristic's bin."""


SCOPE_LEVELS = ("What a merchant may learn, each level including the ones before it: admittance (the decision), "
                "band, score (the number), " + FACTORS_DISCLOSES)


class Scope(StrEnum):
    """What a merchant may learn, each level including the ones before it (SCOPE_LEVELS says what each is)."""

    ADMITTANCE = "admittance"
    BAND = "band"
    SCORE = "score"
    FACTORS = "factors"

    @property
    def level(self) -> int:
        return list(Scope).index(self)


Scope.__doc__ = SCOPE_LEVELS  # the enum's description in the API schema, where a person grants a scope


class Scenario(StrEnum):
    DEPOSIT_FREE_RENTAL = "deposit_free_rental"
    PAY_LATER = "pay_later"
    THRESHOLD = "threshold"


class ConsentMode(StrEnum):
    PER_ORDER = "per_order"
    STANDING = "standing"


class Outcome(StrEnum):
    RENTAL_RETURNED_ON_TIME = "rental_returned_on_time"
    RENTAL_RETURNED_LATE = "rental_returned_late"
    RENTAL_NOT_RETURNED = "rental_not_returned"
    INSTALMENT_PAID = "instalment_paid"
    INSTALMENT_LATE = "instalment_late"
    INSTALMENT_MISSED = "instalment_missed"


class DisputeState(StrEnum):
    OPEN = "open"
    UNDER_REVIEW = "under_review"
    CORRECTED = "corrected"
    UPHELD = "upheld"


# -- problems ----------------------------------------------------------------------------------------

class ProblemDetail(BaseModel):
    """RFC 9457 problem details: every error response has this shape."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


# -- admin -------------------------------------------------------------------------------------------

class MerchantCreate(Request):
    # Letters spelt out (ASCII and Latin accents) rather than `\w`: a JSON Schema pattern is an ECMA-262
    # regex, whose `\w` is ASCII only, while the server's is Unicode; both must admit the same names.
    name: Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_ .,&'\-\u00C0-\u024F]+$")]


class MerchantOut(BaseModel):
    id: DbId
    name: str
    active: bool
    created_at: UtcDateTime


class MerchantKeyOut(BaseModel):
    merchant: MerchantOut
    api_key: str = Field(description="Shown once; only its hash is stored.")


class PersonTokenCreate(Request):
    person_id: PersonId
    days: Annotated[int, Field(ge=1, le=366), Number] = 30


class ErasureCreate(Request):
    person_id: PersonId


class ErasureOut(BaseModel):
    erased_at: UtcDateTime
    deleted: dict[str, int] = Field(description="Rows deleted, by kind; the audit log keeps its rows.")


class PersonTokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is stored.")
    expires_at: UtcDateTime


class AuditVerifyOut(BaseModel):
    ok: bool
    rows: int
    head_seq: int
    head_mac: str
    problems: list[str]


# -- merchant ----------------------------------------------------------------------------------------

Threshold = Annotated[int, Field(ge=0, le=1000, description="Admit if score >= threshold; a multiple of the "
                                                         "service's threshold step (`multipleOf` below)."), Number]
Limits = Annotated[dict[str, Annotated[float, Field(ge=0, le=1e9), Number]],
                   Field(min_length=1, description="Credit limit per band name (0 = decline): every band of the "
                                                   "served model's (GET /v1/health names the model), not "
                                                   "decreasing from the lowest band to the highest, else 422.")]


class _PolicyBase(Request):
    name: Slug
    purpose: Slug | None = Field(None, description="What consent must name; defaults to the scenario.")


class ThresholdPolicyCreate(_PolicyBase):
    """deposit_free_rental and threshold: admit if the score reaches the threshold."""

    scenario: Literal[Scenario.DEPOSIT_FREE_RENTAL, Scenario.THRESHOLD]
    threshold: Threshold
    limits: ClassVar[None] = None


class PayLaterPolicyCreate(_PolicyBase):
    """pay_later: a credit limit per band."""

    scenario: Literal[Scenario.PAY_LATER]
    limits: Limits
    threshold: ClassVar[None] = None


PolicyCreate = Annotated[ThresholdPolicyCreate | PayLaterPolicyCreate, Field(discriminator="scenario")]


class ThresholdUpdate(Request):
    """A threshold policy's new threshold (rate-limited); on a pay_later policy it is a 409."""

    threshold: Threshold
    limits: ClassVar[None] = None


class LimitsUpdate(Request):
    """A pay_later policy's new limits; on a threshold policy it is a 409."""

    limits: Limits
    threshold: ClassVar[None] = None


PolicyUpdate = ThresholdUpdate | LimitsUpdate


class PolicyOut(BaseModel):
    id: PolicyId
    name: str
    scenario: Scenario
    purpose: str
    threshold: int | None
    limits: dict[str, float] | None
    minimum_scope: Scope = Field(description="The consent scope a decision under this policy needs at least.")
    updated_at: UtcDateTime


class MerchantSelf(BaseModel):
    id: DbId
    name: str
    policies: list[PolicyOut]
    threshold_changes_left_today: int


class DecisionRequest(Request):
    transaction_id: TransactionId
    person_id: PersonId
    policy: Slug
    include: Scope = Field(Scope.ADMITTANCE, description="What to disclose; the consent must cover it.")
    order_ref: OrderRef | None = Field(None, description="The order a per-order consent was given for; such a "
                                      "consent is good for one decision (409 consent-used after it).")


def dimension_rating(points: int | None, lo: int, hi: int) -> int | None:
    """Points on a dimension as 0-100 on the scale lo..hi, clipped at its ends: a person cannot read signed points."""
    if points is None:
        return None
    if hi <= lo:
        return 50
    return int(round(100 * min(max((points - lo) / (hi - lo), 0.0), 1.0)))


class Dimension(BaseModel):
    name: str
    points: int | None = Field(None, description="absent or null: the model has no input data for this dimension "
                               "(no data)")
    lo: int = Field(description="The points that rate 0: the low end of the rating's scale (the score scale's "
                    "lowest score shared among the dimensions), not a bound: `points` can lie below it")
    hi: int = Field(description="The points that rate 100: the top of the rating's scale (the score scale's highest "
                    "score shared among the dimensions), not a bound: `points` can lie above it")
    rating: int | None = Field(None, description="0-100, what a person reads: where `points` lie on the scale lo..hi "
                               "(lo -> 0, hi -> 100), clipped at its ends (`clipped`); null: no data. `points` stay "
                               "the exact additive share of the score, for operators")
    clipped: bool = Field(False, description="Whether `points` lie outside lo..hi: `rating` is then 0 or 100 and "
                          "does not say how far beyond the scale they lie")

    @model_validator(mode="after")
    def _rate(self) -> Dimension:
        self.rating = dimension_rating(self.points, self.lo, self.hi)
        self.clipped = self.points is not None and not self.lo <= self.points <= self.hi
        return self


class PersonDimension(Dimension):
    """A dimension as the person reads it on their own report: the merchant's view (Factors) has no flag.
    A plain Dimension is read as one without the flag (from_attributes), as a stored dict without it is."""

    model_config = ConfigDict(from_attributes=True)
    no_record: bool = Field(False, description="true: this person has no record in this dimension yet, so its "
                            "points are what anyone without history there gets (scored as for people without "
                            "history); false also for a score stored before the flag existed")


class ReasonOut(BaseModel):
    feature: str
    dimension: str
    value: str
    points_lost: int
    reason: str
    how_to_improve: str


class MerchantReason(BaseModel):
    """A reason as a merchant with `factors` consent reads it: the code, its text, the points it cost and the
    advice. The person's raw value (their income, their ratio) is never sent (it stays on their report), but
    `points_lost` is computed from it, so it tells the bin the value falls in (a range, or the category)."""

    feature: str
    dimension: str
    points_lost: int
    reason: str
    how_to_improve: str


class Factors(BaseModel):
    """The `factors` scope: the five dimensions and the reason codes."""

    dimensions: list[Dimension]
    reasons: list[MerchantReason]


class DecisionResponse(BaseModel):
    transaction_id: str
    decision_id: DecisionId
    policy: str
    purpose: str
    result: Literal["admit", "decline", "no_score"]
    admitted: bool
    limit: float | None = None
    band: str | None = None
    score: int | None = None
    factors: Factors | None = None
    model_id: str | None = Field(None, description="The version (artifact sha256) of the model behind the score.")
    decided_at: UtcDateTime
    replayed: bool = False


class _EventBase(Request):
    transaction_id: TransactionId
    person_id: PersonId
    amount: Annotated[float, Field(ge=0, le=1e9, description="What was owed (a rental fee, an instalment)."), Number]
    amount_paid: Annotated[float, Field(ge=0, le=1e9), Number] | None = Field(
        None, description="What was paid of `amount`, where it was paid in part (a late instalment paid 80 of 100, "
        "a fee of 50 of which 20 was paid before the write-off): from 0 to `amount`. Absent: as the outcome says "
        "(kept or late: paid in full; not kept: nothing). Where the data set stores payments (its spec's "
        "paid_kind), the service stores the payment its ingest would store for the same ledger row.")
    occurred_at: RequestDateTime | None = Field(None, description="When it happened (UTC); default now; never future; "
                                                           "not before the decision it concludes.")
    decision_id: DecisionId | DbId | None = Field(
        None, description="The decision (order) this outcome concludes, by the decision_id its answer gave; default: "
        "this merchant's latest decision about the person. It must lie within the reporting window "
        "(docs/security.md). A number: the id a decision was given before public ids, still taken for this "
        "merchant's own decisions.")


class LateEvent(_EventBase):
    outcome: Literal[Outcome.RENTAL_RETURNED_LATE, Outcome.INSTALMENT_LATE]
    days_late: Annotated[float, Field(ge=1, le=3650, description="How late, in days (at least 1)."), Number]


class OnTimeEvent(_EventBase):
    outcome: Literal[Outcome.RENTAL_RETURNED_ON_TIME, Outcome.INSTALMENT_PAID]
    days_late: Annotated[float, Field(ge=0, le=0), Number] | None = Field(None, description="0 or absent: on time.")


class MissedEvent(_EventBase):
    outcome: Literal[Outcome.RENTAL_NOT_RETURNED, Outcome.INSTALMENT_MISSED]
    days_late: Annotated[float, Field(ge=0, le=3650), Number] | None = Field(None, description="60 by default "
        "(a write-off); on a ledger, as late as its ingest counts a write-off (its grace period, else 90 days, "
        "plus 1).")


EventReport = Annotated[LateEvent | OnTimeEvent | MissedEvent, Field(discriminator="outcome")]


class EventAck(BaseModel):
    event_id: EventId
    transaction_id: str
    rescored: bool = Field(description="The person was re-scored by this request. A replay is false, unless the "
                           "re-score after the event was never stored (the service stopped between): it is then done")
    replayed: bool = False


# -- person ------------------------------------------------------------------------------------------

class _ConsentBase(Request):
    merchant_id: DbId
    scope: Scope = Field(description="The scope this grant gives the merchant. " + SCOPE_LEVELS)
    purpose: Slug
    expires_at: RequestDateTime = Field(description="With its offset (2026-01-31T12:00:00Z); required: consent "
                                                    "never lasts forever.")


class StandingConsent(_ConsentBase):
    mode: Literal[ConsentMode.STANDING]
    order_ref: ClassVar[None] = None


class PerOrderConsent(_ConsentBase):
    """Good for one decision on the order it names: a later one is refused (409 consent-used), its replay not."""

    mode: Literal[ConsentMode.PER_ORDER]
    order_ref: OrderRef


ConsentCreate = Annotated[StandingConsent | PerOrderConsent, Field(discriminator="mode")]


ConsentState = Literal["active", "used", "expired", "revoked"]
"""used: a per-order grant whose one decision was made (a replay of it answers until it expires or is revoked)."""


class ConsentOut(BaseModel):
    id: ConsentId
    merchant_id: DbId
    merchant: str
    scope: Scope
    purpose: str
    mode: ConsentMode
    order_ref: str | None
    created_at: UtcDateTime
    expires_at: UtcDateTime
    revoked_at: UtcDateTime | None
    state: ConsentState


Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class EventDisputeCreate(Request):
    """One of my events is wrong (its id as my report lists it)."""

    event_id: Annotated[str, StringConstraints(pattern=rf"^b[0-9]{{1,18}}$|{public_ids.EVENT_ID}|"
                                                       rf"{public_ids.LEGACY_EVENT.pattern}")] = Field(
        description="As my report lists it: a record held (b…) or an outcome a merchant reported (evt_…; the "
                    "older form s… is still taken for my own)")
    reason: Reason
    attribute: ClassVar[None] = None


class AttributeDisputeCreate(Request):
    """A detail of my profile is wrong (its name as my report's profile lists it)."""

    attribute: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    reason: Reason
    event_id: ClassVar[None] = None


DisputeCreate = EventDisputeCreate | AttributeDisputeCreate


class RemoveCorrection(Request):
    action: Literal["remove"]
    status: ClassVar[None] = None
    days_late: ClassVar[None] = None


class RestatusCorrection(Request):
    action: Literal["restatus"]
    status: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The event's corrected status: one of the served data set's statuses (its spec's words; "
                    "the simulator's vocabulary for data sets without a spec).")
    days_late: Annotated[float, Field(ge=0, le=3650, multiple_of=1, description="How late, in whole days."),
                         Number] | None = None


class SetCorrection(Request):
    """A disputed profile attribute's right value (null: no value is held)."""

    action: Literal["set"]
    value: bool | Annotated[int, Field(ge=-(2**53), le=2**53)] | float | Annotated[str, StringConstraints(
        min_length=1, max_length=200)] | None = Field(
        description="Of the attribute's declared type: a number, true/false, a text (an ordinal's one of its "
                    "values), or an ISO date (YYYY-MM-DD).")
    status: ClassVar[None] = None
    days_late: ClassVar[None] = None


Correction = Annotated[RemoveCorrection | RestatusCorrection | SetCorrection, Field(discriminator="action")]
Note = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class CorrectedResolve(Request):
    outcome: Literal["corrected"]
    note: Note
    correction: Correction


class UpheldResolve(Request):
    outcome: Literal["upheld"]
    note: Note
    correction: ClassVar[None] = None


DisputeResolve = Annotated[CorrectedResolve | UpheldResolve, Field(discriminator="outcome")]


class DisputeOut(BaseModel):
    id: DisputeId
    event_id: str | None = Field(description="The disputed event (None: the dispute is about an attribute)")
    attribute: str | None = Field(None, description="The disputed profile attribute (None: about an event)")
    state: DisputeState
    opened_at: UtcDateTime
    deadline_at: UtcDateTime
    overdue: bool
    reviewed_at: UtcDateTime | None
    resolved_at: UtcDateTime | None
    resolution_note: str | None
    record_removed: bool = Field(False, description="true: the dispute was corrected by removing the record "
                                 "(it is gone, not changed)")


REPORTED_AT_TEXT = ("A record a merchant reported to the service: when it was reported. It counts towards my score "
               "from then, not from when it occurred (a score as of an earlier moment did not know it); null for "
               "the data set's records")


class EventOut(BaseModel):
    event_id: str | None
    ts: UtcDateTime = Field(description="When the record occurred (a reported one: the date its report gave)")
    kind: str
    status: str
    amount: float | None
    days_late: float | None
    reported_at: UtcDateTime | None = Field(None, description=REPORTED_AT_TEXT)
    source: str
    disputed: bool
    dispute_state: DisputeState | None = None


class DisputeCase(DisputeOut):
    """A dispute as its reviewer reads it: with the person's own words."""

    reason: str = Field(description="Why the person says the record is wrong, in their words")


class ProfileItem(BaseModel):
    """One attribute of my profile as the service holds it (a correction in place)."""

    attribute: str = Field(description="Its name, which a dispute about it gives")
    text: str = Field(description="What it is, in the data set's declared words")
    value: str | None
    reads: str | None = Field(default=None, description="The value as a person reads it (the page shows it): "
                              "a category in words, yes or no, a date, a number with its thousands grouped and "
                              "its declared unit")
    disputed: bool
    dispute_state: DisputeState | None = None


class HistoryPoint(BaseModel):
    """The first score, then one point per day on which the score or band changed (the day's last score)."""

    as_of: UtcDateTime
    score: int
    band: str
    cause: str = Field(description="The stored cause of the point's last re-score (machine-readable)")
    reasons: list[str] = Field(default_factory=list, description="What changed, in words: at most four, the "
                               "one that moved the score most and the latest always among them, the rest counted")


class AccessOut(BaseModel):
    at: UtcDateTime
    who: str
    action: str
    scope: str | None = None
    purpose: str | None = None
    result: str | None = None
    withdrawn_at: UtcDateTime | None = Field(None, description="For a request refused for want of consent: when "
                                             "I had withdrawn the consent it would have needed (null: I had not)")
    expired_at: UtcDateTime | None = Field(None, description="For a request refused for want of consent: when the "
                                           "consent it would have needed had run out (null: none had; a withdrawal "
                                           "is said instead where there was one)")


class DataCategory(BaseModel):
    dimension: str
    sources: list[str]
    uses: list[str]


@dataclass(frozen=True)
class Page:
    """Which page of a list held newest first a body holds, `size` a page: one computation for every paged
    list (the report's records and looks, the alerts), so their numbers cannot drift apart."""

    held: int
    page: int
    pages: int
    size: int

    @classmethod
    def of(cls, held: int, page: int, size: int) -> Page:
        """The page asked for, held within 1..pages (a page past the last shows the last: nothing is lost)."""
        pages = max(1, math.ceil(held / size))
        return cls(held, min(max(1, page), pages), pages, size)

    @property
    def start(self) -> int:
        """The offset of the page's first item among all, newest first."""
        return (self.page - 1) * self.size

    def fields(self, name: str, listed: int) -> dict[str, int]:
        """The four fields Paging declares for list `name`, for a page listing `listed` items."""
        return {f"{name}_held": self.held, f"{name}_page": self.page, f"{name}_pages": self.pages,
                f"{name}_first": self.start + 1 if listed else 0}


class Paging:
    """The four fields that say which page of list `name` a body holds (`<name>_held`, `_page`, `_pages`,
    `_first`), declared once for every paged list; `Page.fields` fills them. one/many: an item and the items
    in words; held: what `_held` counts."""

    def __init__(self, name: str, one: str, many: str, held: str) -> None:
        self.held: Any = Field(0, description=held)
        self.page: Any = Field(1, description=f"The page of {many} `{name}` holds, 1 = the newest")
        self.pages: Any = Field(1, description=f"How many pages {many} fill")
        self.first: Any = Field(0, description=f"Where the first {one} of `{name}` stands among all, newest first "
                                f"(1 = the newest; 0: none listed): `{name}` holds {many} {name}_first to "
                                f"{name}_first + len({name}) - 1 of {name}_held")


_LOOKS = Paging("accesses", "look", "the looks", "How many looks at my data there are in all")
_RECORDS = Paging("events", "record", "my records",
                  "How many records the service holds on me in all (dated up to now)")
_ALERTS = Paging("alerts", "alert", "my alerts", "How many alerts there are in all (after `since`, where given)")


class PersonReport(BaseModel):
    scored: bool
    score: int | None
    band: str | None
    scored_at: UtcDateTime | None
    model_id: str | None = Field(None, description="The version (artifact sha256) of the model behind the score.")
    dimensions: list[PersonDimension]
    reasons: list[ReasonOut]
    history: list[HistoryPoint]
    next_recalculation: UtcDateTime | None = Field(
        None, description="The latest date the score is recalculated (any new record recalculates it sooner)")
    accesses: list[AccessOut] = Field(description="One page of the looks at my data, newest first (at most 100 a "
                                      "page; `accesses_page` asks for another): every look is on one of the pages")
    accesses_held: int = _LOOKS.held
    accesses_page: int = _LOOKS.page
    accesses_pages: int = _LOOKS.pages
    accesses_first: int = _LOOKS.first
    data_categories: list[DataCategory]
    events: list[EventOut] = Field(description="One page of my records, newest first (at most 50 a page; "
                                   "`events_page` asks for another): every record's id is on one of the pages")
    events_held: int = _RECORDS.held
    events_page: int = _RECORDS.page
    events_pages: int = _RECORDS.pages
    events_first: int = _RECORDS.first
    profile: list[ProfileItem] = Field(default_factory=list, description="My profile's attributes as held")
    consents: list[ConsentOut]
    disputes: list[DisputeOut]
    alerts: list[AlertOut] = Field(default_factory=list, description="The latest alerts, newest first (at most 20; "
                                   "`GET /v1/me/alerts` pages through them all, `GET /v1/me/export` holds all)")
    alerts_held: int = Field(0, description="How many alerts there are in all")
    bands: list[tuple[str, int]]
    generated_at: UtcDateTime


class RecourseStep(BaseModel):
    kind: str = Field(description="The event kind, in the data set's own words")
    status: str = Field(description="A status the data set's spec says means the commitment was kept")
    count: int
    amount: float | None
    text: str


class RecourseOut(BaseModel):
    """What would raise me to the next band: future behaviour only, re-scored by the served model."""

    score: int | None
    band: str | None
    target_band: str | None = Field(description="The next band up; null in the top band or without a score")
    target_score: int | None
    reached: bool = Field(description="Whether the plan, scored by the model, reaches the target band")
    score_after: int | None
    band_after: str | None
    months: int | None
    until: UtcDateTime | None
    steps: list[RecourseStep]
    summary: str
    notes: list[str]
    model_id: str | None


class RecordCost(BaseModel):
    """One of my records and what it costs my score: the points the model gives me more without it."""

    event_id: str | None = Field(None, description="The record's id, as my report lists it and a dispute names it")
    ts: UtcDateTime = Field(description="When the record occurred (a reported one: the date its report gave)")
    kind: str
    status: str
    amount: float | None
    due_ts: UtcDateTime | None = Field(description="When it was due, where the data set holds due dates")
    days_late: float | None
    reported_at: UtcDateTime | None = Field(None, description=REPORTED_AT_TEXT)
    points: float = Field(description="Points my score would gain without this record (unrounded: at least 1 "
                                      "once rounded)")
    meaning: Literal["kept", "late", "broken", "open", "neutral"] | None = Field(
        None, description="What the record's status means (the data set's spec): kept (on time), late, broken "
        "(missed), open, neutral (activity, not a commitment). A kept or neutral record is no mark against me: "
        "the model reads the mix or amounts of my activity, and without it that mix scores higher; a dispute "
        "is only for a record that is wrong")


class RecordGroupCost(BaseModel):
    """A group of my records and what they cost my score taken together: the points the model gives me more
    without all of them at once (each alone may weigh little where together they weigh a lot)."""

    by: Literal["meaning", "kind"] = Field(description="What the records share: what their status means, or their kind")
    name: str = Field(description="The status meanings (joined by ' or ') or the kind, as the data set names them")
    label: str = Field(description="The group as I read it: 'late', 'late or missed', a kind")
    count: int = Field(description="How many of my records before as_of the group holds")
    points: float = Field(description="Points my score would gain without all of them (unrounded: at least 1 "
                                      "once rounded)")


class RecordsOut(BaseModel):
    """The records that cost me most: each of my records before my score's time left out in turn and scored
    again by the served model (the costliest first; none of them names anyone else)."""

    as_of: UtcDateTime | None = Field(description="My score's time: only records dated before it are considered; "
                                                   "null without a score")
    held: int = Field(description="My records dated before as_of")
    considered: int = Field(description="How many of them were left out in turn (the latest, at most 200)")
    records: list[RecordCost]
    groups: list[RecordGroupCost] = Field(default_factory=list, description="Groups of my records before as_of "
                                          "left out together (all of them, not only the latest 200), the costliest "
                                          "first, each costing at least a whole point")
    model_id: str | None


class AlertOut(BaseModel):
    at: UtcDateTime
    kind: Literal["score_changed", "band_changed", "merchant_query", "dispute_update"]
    text: str
    score: int | None = None
    band: str | None = None


class AlertsOut(BaseModel):
    """One page of my alerts, newest first; the paging fields say which, as the report's lists do."""

    alerts: list[AlertOut] = Field(description="One page of my alerts, newest first (`limit` a page; "
                                   "`alerts_page` asks for another): every alert is on one of the pages")
    alerts_held: int = _ALERTS.held
    alerts_page: int = _ALERTS.page
    alerts_pages: int = _ALERTS.pages
    alerts_first: int = _ALERTS.first


class WebhookCreate(Request):
    # Spaces and controls spelt out rather than `\s`: ECMA-262's `\s` (the schema's) and the server's differ
    # on characters such as U+FEFF; ports within 0-65535 and no brackets, so every URL the schema admits parses.
    url: Annotated[str, StringConstraints(min_length=8, max_length=500,
                                          pattern=r"^https?://[^\x00-\x20\x7f/?#@:\[\]]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?([/?#][^\x00-\x20\x7f]*)?$")]


class WebhookOut(BaseModel):
    id: WebhookId
    url: str
    created_at: UtcDateTime
    active: bool


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every payload (X-DeepCredit-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "
                                    "'<t>.' + body>); shown once")


class ExportOut(BaseModel):
    """Everything held about a person, one list of records per section (service/export.py)."""

    profile: list[dict[str, Any]]
    events: list[dict[str, Any]]
    relations: list[dict[str, Any]] = Field(description="Kind, direction and date; the other person is not named")
    score: list[dict[str, Any]]
    score_history: list[dict[str, Any]]
    accesses: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    disputes: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


class DeletionOut(BaseModel):
    deleted: dict[str, int]
    kept: dict[str, str] = Field(description="What stays, and the rule that keeps it")


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(description=(
        "`degraded` while the audit log's head row does not verify (`audit_head_intact` false): every write is "
        "refused with 500 until an operator has run `deepcredit audit-verify`; the route still answers 200."))
    audit_head_intact: bool = True
    version: str
    database: str
    model_id: str | None
    now: UtcDateTime = Field(description="The service's clock: served `--as-of` an earlier date it runs from that "
                             "date, not the wall clock, and times in requests (a consent's `expires_at`) are on it")
    promotion_unfinished: str | None = Field(None, description=(
        "For the operator: set while a `deepcredit model-promote` has not finished (killed part-way, or still "
        "running): the new model is served but some people still hold the previous model's score, and running "
        "`model-promote` again finishes it. Null otherwise."))
