"""Pydantic models for every request and response body (they are the OpenAPI schema).

Requests forbid unknown fields, so a typo ("scop") is a 422, not a silently ignored setting.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

PersonId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
                     Field(description="The person's id as the merchant knows it; pseudonymised on arrival.")]
TransactionId = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:\-]+$"),
                          Field(description="The merchant's id for this request; a replay within the window "
                                            "returns the first answer.")]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
OrderRef = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:\-]+$")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scope(StrEnum):
    """What a merchant may learn, each level including the ones before it."""

    ADMITTANCE = "admittance"
    BAND = "band"
    SCORE = "score"
    FACTORS = "factors"

    @property
    def level(self) -> int:
        return list(Scope).index(self)


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
    name: Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[\w .,&'\-]+$")]


class MerchantOut(BaseModel):
    id: int
    name: str
    active: bool
    created_at: datetime


class MerchantKeyOut(BaseModel):
    merchant: MerchantOut
    api_key: str = Field(description="Shown once; only its hash is stored.")


class PersonTokenCreate(Request):
    person_id: PersonId
    days: int = Field(30, ge=1, le=366)


class PersonTokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is stored.")
    expires_at: datetime


class AuditVerifyOut(BaseModel):
    ok: bool
    rows: int
    head_seq: int
    head_mac: str
    problems: list[str]


# -- merchant ----------------------------------------------------------------------------------------

class PolicyCreate(Request):
    name: Slug
    scenario: Scenario
    threshold: int | None = Field(None, ge=0, le=1000, description="Admit if score >= threshold "
                                  "(deposit_free_rental, threshold); a multiple of the service's threshold step.")
    limits: dict[str, float] | None = Field(None, description="pay_later: credit limit per band name (0 = decline).")
    purpose: Slug | None = Field(None, description="What consent must name; defaults to the scenario.")

    @model_validator(mode="after")
    def _shape(self) -> PolicyCreate:
        if self.scenario == Scenario.PAY_LATER:
            if not self.limits or self.threshold is not None:
                raise ValueError("a pay_later policy has `limits` (per band) and no `threshold`")
            if any(v < 0 for v in self.limits.values()):
                raise ValueError("limits must not be negative")
        elif self.threshold is None or self.limits is not None:
            raise ValueError(f"a {self.scenario.value} policy has a `threshold` and no `limits`")
        return self


class PolicyUpdate(Request):
    threshold: int | None = Field(None, ge=0, le=1000)
    limits: dict[str, float] | None = None


class PolicyOut(BaseModel):
    id: int
    name: str
    scenario: Scenario
    purpose: str
    threshold: int | None
    limits: dict[str, float] | None
    minimum_scope: Scope = Field(description="The consent scope a decision under this policy needs at least.")
    updated_at: datetime


class MerchantSelf(BaseModel):
    id: int
    name: str
    policies: list[PolicyOut]
    threshold_changes_left_today: int


class DecisionRequest(Request):
    transaction_id: TransactionId
    person_id: PersonId
    policy: Slug
    include: Scope = Field(Scope.ADMITTANCE, description="What to disclose; the consent must cover it.")
    order_ref: OrderRef | None = Field(None, description="The order a per-order consent was given for.")


class Dimension(BaseModel):
    name: str
    points: int | None = Field(description="null: the model has no input data for this dimension (no data)")
    lo: int
    hi: int


class ReasonOut(BaseModel):
    feature: str
    dimension: str
    value: str
    points_lost: int
    reason: str
    how_to_improve: str


class Factors(BaseModel):
    dimensions: list[Dimension]
    reasons: list[ReasonOut]


class DecisionResponse(BaseModel):
    transaction_id: str
    decision_id: int
    policy: str
    purpose: str
    result: Literal["admit", "decline", "no_score"]
    admitted: bool
    limit: float | None = None
    band: str | None = None
    score: int | None = None
    factors: Factors | None = None
    model_id: str | None = Field(None, description="The version (artifact sha256) of the model behind the score.")
    decided_at: datetime
    replayed: bool = False


class EventReport(Request):
    transaction_id: TransactionId
    person_id: PersonId
    outcome: Outcome
    amount: float = Field(..., ge=0, le=1e9)
    occurred_at: datetime | None = Field(None, description="When it happened (UTC); default now; never future.")
    days_late: float | None = Field(None, ge=0, le=3650,
                                    description="Required for *_late outcomes; 60 by default for not returned/missed.")

    @model_validator(mode="after")
    def _late(self) -> EventReport:
        late = self.outcome in (Outcome.RENTAL_RETURNED_LATE, Outcome.INSTALMENT_LATE)
        if late and not self.days_late:
            raise ValueError("a late outcome needs days_late >= 1")
        if self.outcome in (Outcome.RENTAL_RETURNED_ON_TIME, Outcome.INSTALMENT_PAID) and self.days_late:
            raise ValueError("an on-time outcome has days_late 0")
        return self


class EventAck(BaseModel):
    event_id: str
    transaction_id: str
    rescored: bool
    replayed: bool = False


# -- person ------------------------------------------------------------------------------------------

class ConsentCreate(Request):
    merchant_id: int
    scope: Scope
    purpose: Slug
    mode: ConsentMode
    order_ref: OrderRef | None = None
    expires_at: datetime = Field(description="UTC; required: consent never lasts forever.")

    @model_validator(mode="after")
    def _order(self) -> ConsentCreate:
        if (self.mode == ConsentMode.PER_ORDER) != (self.order_ref is not None):
            raise ValueError("a per_order consent names its order_ref; a standing one does not")
        return self


class ConsentOut(BaseModel):
    id: int
    merchant_id: int
    merchant: str
    scope: Scope
    purpose: str
    mode: ConsentMode
    order_ref: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"]


class DisputeCreate(Request):
    event_id: Annotated[str, StringConstraints(pattern=r"^[bs][0-9]{1,18}$")]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Correction(Request):
    action: Literal["remove", "restatus"]
    status: str | None = Field(None, description="restatus: the event's corrected status.")
    days_late: float | None = Field(None, ge=0, le=3650)


class DisputeResolve(Request):
    outcome: Literal["corrected", "upheld"]
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    correction: Correction | None = None

    @model_validator(mode="after")
    def _needs(self) -> DisputeResolve:
        if (self.outcome == "corrected") != (self.correction is not None):
            raise ValueError("a corrected dispute carries a correction; an upheld one does not")
        return self


class DisputeOut(BaseModel):
    id: int
    event_id: str
    state: DisputeState
    opened_at: datetime
    deadline_at: datetime
    overdue: bool
    reviewed_at: datetime | None
    resolved_at: datetime | None
    resolution_note: str | None


class EventOut(BaseModel):
    event_id: str | None
    ts: datetime
    kind: str
    status: str
    amount: float | None
    days_late: float | None
    source: str
    disputed: bool
    dispute_state: DisputeState | None = None


class HistoryPoint(BaseModel):
    as_of: datetime
    score: int
    band: str
    cause: str


class AccessOut(BaseModel):
    at: datetime
    who: str
    action: str
    scope: str | None = None
    purpose: str | None = None
    result: str | None = None


class DataCategory(BaseModel):
    dimension: str
    sources: list[str]
    uses: list[str]


class PersonReport(BaseModel):
    scored: bool
    score: int | None
    band: str | None
    scored_at: datetime | None
    model_id: str | None = Field(None, description="The version (artifact sha256) of the model behind the score.")
    dimensions: list[Dimension]
    reasons: list[ReasonOut]
    history: list[HistoryPoint]
    accesses: list[AccessOut]
    data_categories: list[DataCategory]
    events: list[EventOut]
    consents: list[ConsentOut]
    disputes: list[DisputeOut]
    bands: list[tuple[str, int]]
    generated_at: datetime


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str
    model_id: str | None
