"""The service's tables (SQLAlchemy 2 declarative), the same on SQLite and PostgreSQL.

Every `subject` column is a pseudonym (HMAC-SHA256 hex of a person id), never the id itself. Times are
naive UTC. JSON payloads that are hashed (the audit log) are stored as canonical text, so the bytes that
were hashed are the bytes that are read back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from deepcredit.service.store import public_ids

SUBJECT = String(64)
ID = BigInteger().with_variant(Integer, "sqlite")
"""Row ids: 64-bit (PostgreSQL BIGINT), so every id the API accepts (1..2^63-1) is a lookup, never an overflow;
SQLite's INTEGER PRIMARY KEY is already 64-bit and is what gives it autoincrement."""
NEVER_REUSED = {"sqlite_autoincrement": True}
"""The table args of every table with an integer surrogate key: on SQLite its ids are AUTOINCREMENT, so the id
of a deleted row (an erased person's decision, say) is never handed out again; without it SQLite reuses the
highest id after a delete, and a stored id (an audit row's, a merchant's) would name another person's row.
PostgreSQL's sequences never reuse an id. Databases made before schema s0004 are rebuilt with it by s0004."""


def public_id_column(new) -> Mapped[str]:
    """The id a row is known by outside the service (store/public_ids.py), drawn when the row is inserted; its
    index is unique. Nullable only so that adopting a database made before schema versions can add it like any
    column (schema.FILLS then draws one for every row held): no row is without one."""
    return mapped_column(String(public_ids.LENGTH), unique=True, index=True, nullable=True, default=new)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key-value facts about this deployment: data set copy, model artifact, clock offset."""

    __tablename__ = "service_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Merchant(Base):
    __tablename__ = "merchants"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiKey(Base):
    """A merchant's key: the public key id finds the row, the secret is only ever stored as sha256."""

    __tablename__ = "api_keys"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PersonToken(Base):
    __tablename__ = "person_tokens"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Policy(Base):
    """A merchant's scenario: deposit-free rental (threshold), pay-later (limit by band) or its own threshold."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("merchant_id", "name"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_policy)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    scenario: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(80))
    threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limits: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ThresholdChange(Base):
    """Every threshold a merchant set (a new policy counts): the rate limit counts these rows."""

    __tablename__ = "threshold_changes"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"))
    old_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Consent(Base):
    """A person's grant. `used_at`: when a per-order grant's one decision was made; set in that decision's
    transaction by a conditional UPDATE (consent.claim), so of two simultaneous decisions only one gets it, and
    kept on the grant, so deleting old decisions never makes a spent grant active again."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_lookup", "subject", "merchant_id"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_consent)
    subject: Mapped[str] = mapped_column(SUBJECT)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    scope: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(80))
    mode: Mapped[str] = mapped_column(String(16))
    order_ref: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Decision(Base):
    """One evaluated request; a replay of its transaction id within the window returns `response`. The merchant
    knows it by `public_id` (`id` counts every merchant's decisions and stays internal)."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("merchant_id", "transaction_id"),
                      Index("ix_decisions_probe", "merchant_id", "subject", "created_at"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_decision)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    transaction_id: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(SUBJECT)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Score(Base):
    """The current score of each person: what an admittance decision looks up."""

    __tablename__ = "scores"
    subject: Mapped[str] = mapped_column(SUBJECT, primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(32))
    dimensions: Mapped[list] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON)
    as_of: Mapped[datetime] = mapped_column(DateTime)
    model_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ScoreHistory(Base):
    __tablename__ = "score_history"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime] = mapped_column(DateTime)
    cause: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ServiceEvent(Base):
    """A fulfilment outcome a merchant reported; merged with the data set's events when scoring. Known outside
    the service (the merchant's ack, the person's report, a dispute, a correction) by `public_id`."""

    __tablename__ = "service_events"
    __table_args__ = (UniqueConstraint("merchant_id", "transaction_id"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_event)
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    transaction_id: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(40))
    ts: Mapped[datetime] = mapped_column(DateTime)
    """When the outcome occurred, as the report said (occurred_at; else its arrival): its days late (due_ts) and
    its age for retention count from it. Scoring dates it at created_at, when the service learnt it."""
    kind: Mapped[str] = mapped_column(String(64))  # the served data set's own words (its spec)
    status: Mapped[str] = mapped_column(String(64))
    amount: Mapped[float] = mapped_column(Float)
    amount_paid: Mapped[float | None] = mapped_column(Float, nullable=True)
    """What was paid of `amount` where the report said (schema s0008); None: not said (ledger.with_payments)."""
    due_ts: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    days_late: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class EventCorrection(Base):
    """What a dispute's correction changed: an event (data set `b…` or service `evt_…`) removed or re-statused."""

    __tablename__ = "event_corrections"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    event_ref: Mapped[str] = mapped_column(String(40), unique=True)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(64), nullable=True)
    days_late: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AttributeCorrection(Base):
    """What a dispute's correction set: a profile attribute's value, as JSON text (null: no value held).
    Scoring reads it in place of the data set's value in the person's profile version valid at the service's now."""

    __tablename__ = "attribute_corrections"
    __table_args__ = (UniqueConstraint("subject", "attribute"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    attribute: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ErasedSubject(Base):
    """A person the operator erased (service/erasure.py): their rows of the served data set are left out
    wherever the service reads it, so no re-score, serve-init or snapshot brings them back."""

    __tablename__ = "erased_subjects"
    subject: Mapped[str] = mapped_column(SUBJECT, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime)


class PendingRescore(Base):
    """A connection of a person whose record changed, waiting for its re-score (service/neighbours.py). Kept
    here, not only in the worker's memory, so a restart or a crash does not lose it: the next process that
    serves re-scores whoever is still listed. A person whose own record changed (a reported event, a corrected
    dispute, records retired by the retention job) is listed too, in the transaction that stored the change,
    with their re-score's cause (schema s0009): a crash between that commit and their re-score loses neither it
    nor their connections'."""

    __tablename__ = "pending_rescores"
    subject: Mapped[str] = mapped_column(SUBJECT, primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime)
    cause: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The cause of the person's own re-score (their history's, e.g. 'event evt_… reported'), their connections
    queued after it; None: a connection of someone whose record changed (neighbours.CONNECTION_CHANGED)."""


class Dispute(Base):
    """A record a person says is wrong: an event (event_ref) or a profile attribute (attribute), one of them.
    Known outside the service (the person, the operator's routes, a re-score's cause) by `public_id`."""

    __tablename__ = "disputes"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_dispute)
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    event_ref: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attribute: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    deadline_at: Mapped[datetime] = mapped_column(DateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditEntry(Base):
    """One access or change; `mac` chains it to the previous row (see audit.py). Never updated or deleted."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(SUBJECT, nullable=True, index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last (seq, mac): deleting rows from the end is caught by comparing with it."""

    __tablename__ = "audit_head"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(ID)
    mac: Mapped[str] = mapped_column(String(64))


class Webhook(Base):
    """Where a person asked to be told of their alerts. The signing secret is derived (alerts.secret), never
    stored (derived from `id`, which stays internal: the person knows it by `public_id`); `cursor` is the time of
    the last alert queued for it."""

    __tablename__ = "webhooks"
    __table_args__ = NEVER_REUSED
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_webhook)
    subject: Mapped[str] = mapped_column(SUBJECT, index=True)
    url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    cursor: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WebhookDelivery(Base):
    """One alert to send to one webhook: retried with backoff until delivered or out of attempts. The receiver
    knows it by `public_id` (its idempotency key)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "next_at"), NEVER_REUSED)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    public_id: Mapped[str] = public_id_column(public_ids.new_delivery)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
