"""Fulfilment feedback: merchants report outcomes as events, and the person is re-scored at once.

Only the person's own features are recomputed (scoring.ScopedDataset reads their rows and their
neighbours' events, not everyone's). Their neighbours' social features would move too; they catch up at
their own next re-score.

Who may report what (docs/security.md): a merchant reports an outcome only for an order it decided, and it
could decide only under the person's valid consent; the report must come within `report_window_days` of
that decision and not claim to have happened before it, nor to have fallen due before it (a commitment
made under the order cannot be late by more days than have passed since the order). An outcome that is not
kept (late, missed, not returned) is at least one whole day late, as ingest counts them: reported sooner after
its order, it is refused; a stated delay is a whole number of days (12, not 12.5); a write-off without a stated
delay is as many whole days late as the order allows (on a ledger, as late as its ingest counts a write-off:
write_off_days). So revoking consent ends a merchant's power to
report: no new decision can be made, and the old ones age out of the window. Every refusal is audited. A
report is idempotent per transaction id like a decision: the same facts again are a replay, different
facts under the same id a 409. A reported event is known outside the service by its public id (`evt_…`,
store/public_ids.py), a decision by its own (`dec_…`): a row key counts every merchant's rows. The service
stores one row per report; the payment ingest would store beside the same ledger row (paid_kind) is read
with it (ledger.with_payments, in scoring.ScopedDataset.sources): what the report says was paid
(`amount_paid`, schema s0008: a part payment) where it says it, else as its outcome says. Every point-in-time
read dates a report when the service learnt it (its row's created_at: overlay_source), as ingest dates a row
when its outcome was known, so a report never changes a score, a feature or a snapshot as of a moment before
it came; when it occurred (occurred_at, the row's ts) keeps its days late and its age for retention.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from deepcredit.data.ledger import REPORTED_PAID, settled_as_stored, written_off_days
from deepcredit.data.schema import EVENT_STATUSES, REPORTED_OUTCOMES
from deepcredit.data.spec import DatasetSpec
from deepcredit.service.attribute_fixes import FIX_COLUMNS
from deepcredit.service.auth import MerchantPrincipal
from deepcredit.service.config import retention_start
from deepcredit.service.context import ServiceContext
from deepcredit.service.history import spec_of, status_meaning
from deepcredit.service.problems import Problem, forbidden
from deepcredit.service.schemas import EventAck, EventReport, Outcome
from deepcredit.service.scoring import OCCURRED, OVERLAY_COLUMNS, Overlay, ScoredPerson
from deepcredit.service.store import Database, public_ids
from deepcredit.service.store.models import (
    AttributeCorrection,
    Decision,
    ErasedSubject,
    EventCorrection,
    Meta,
    PendingRescore,
    Score,
    ScoreHistory,
    ServiceEvent,
)

log = logging.getLogger("deepcredit.service")

assert {o.value for o in Outcome} == set(REPORTED_OUTCOMES)


def reported_event(outcome: str, spec: DatasetSpec | None) -> tuple[str, str] | None:
    """(kind, status) that a reported outcome is stored as, in the served data set's words (its spec's
    [events.outcomes], else the simulator's words where the spec declares them); None where the data set
    cannot hold it (it has no events, or its spec does not say), so that it never counts as nothing."""
    if spec is None:
        return REPORTED_OUTCOMES[outcome]
    return spec.events.reported(outcome) if spec.events is not None else None


def unreported_outcomes(spec: DatasetSpec | None) -> list[str]:
    """The outcomes the service refuses for this data set (it cannot say what they are)."""
    return [o for o in REPORTED_OUTCOMES if reported_event(o, spec) is None]


WRITE_OFF_DAYS = 60.0
"""days_late of a commitment never kept where the data set writes its own days late (the simulated world
and the bundled data record 60 or more); a ledger's is the one its ingest gives (write_off_days)."""


def write_off_days(spec: DatasetSpec | None) -> float | None:
    """The days late a reported write-off (an outcome meaning broken) counts where the served data set's
    ingest sets it (ledger.written_off_days: a ledger's grace period, else 90 days, plus 1): a stated or
    default delay is stored as that, as ingest stores a row never settled, so a write-off never reads milder
    than a late return. None where the data set writes its own days late (WRITE_OFF_DAYS by default)."""
    days = written_off_days(spec.events) if spec is not None and spec.events is not None else None
    return float(days) if days is not None else None


def stored_delay(status: str, days_late: float, spec: DatasetSpec | None) -> tuple[str, float]:
    """(status, days late) a reported outcome is stored with, as ingest stores the same ledger row: a late
    one settled past the data set's grace period (or 90 days) is broken, the grace and 1 days late (ledger.settled_as_stored,
    ingest's own rule), and so is one late in a status meaning kept (a spec's [events.outcomes] may store a late
    return as 'returned'), as ingest reads such a row; a write-off in the status reported (a spec may declare
    several meaning broken; ingest keeps each row's own) and exactly as late as ingest counts one where it
    sets the number (write_off_days): a stated delay shorter or longer is that bound, as ingest dates a row
    never settled when its grace ran out, so a write-off reads neither milder than a late return nor harsher
    than any ingested one."""
    if spec is not None and spec.events is not None and status_meaning(status, spec) in ("late", "kept"):
        status, days_late = settled_as_stored(spec.events, status, days_late)
    bound = write_off_days(spec) if status_meaning(status, spec) == "broken" else None
    return status, days_late if bound is None else bound


RETENTION_CUTOFF = "retention_cutoff"
"""The service_meta key of the retention cutoff (service/retention.py)."""
assert all(st in EVENT_STATUSES for _, st in REPORTED_OUTCOMES.values())


def overlay_source(db: Database, clock: Callable[[], datetime] | None = None):
    """The scorer's view of the service's events and corrections, for some people (None: everyone).

    clock: the service's; a corrected profile detail applies to the version valid at its now (None: to the
    latest version)."""

    def fetch(people: Sequence[str] | None) -> Overlay:
        with db.read() as s:
            q = select(ServiceEvent)
            c = select(EventCorrection)
            if people is not None:
                q = q.where(ServiceEvent.subject.in_(list(people)))
                c = c.where(EventCorrection.subject.in_(list(people)))
            a = select(AttributeCorrection.subject, AttributeCorrection.attribute, AttributeCorrection.value)
            if people is not None:
                a = a.where(AttributeCorrection.subject.in_(list(people)))
            events = s.execute(q).scalars().all()
            corrections = s.execute(c).scalars().all()
            attributes = pd.DataFrame(s.execute(a).all(), columns=FIX_COLUMNS)
            erased = frozenset(erased_people(s))  # few: read whole, no IN list
            cutoff = cutoff_in(s)  # in the same read: one session per re-score, not two
        fixes = {x.event_ref: x for x in corrections}
        rows = []
        for e in events:
            ref = e.public_id
            fix = fixes.get(ref)
            if fix is not None and fix.action == "remove":
                continue
            status = fix.status if fix is not None else e.status
            days_late = fix.days_late if fix is not None and fix.days_late is not None else e.days_late
            due = e.due_ts  # corrected to on time (0 days late): due no earlier than it was done, as in scoring.py
            if fix is not None and days_late == 0 and due is not None and due < e.ts:
                due = e.ts
            # dated when the service learnt it (created_at), as ingest dates a row when its outcome was known:
            # a report never reaches a moment before it came. When it occurred (e.ts) keeps its days late
            # (due_ts) and its age for retention (OCCURRED)
            rows.append((e.subject, e.created_at, e.kind, e.amount, status, due, days_late, f"merchant:{e.merchant_id}",
                         ref, e.amount_paid, e.ts))
        frame = pd.DataFrame(rows, columns=[*OVERLAY_COLUMNS, REPORTED_PAID, OCCURRED])
        frame[REPORTED_PAID] = frame[REPORTED_PAID].astype("float64")  # None: not said (with_payments)
        corr = pd.DataFrame([(x.event_ref, x.action, x.status, x.days_late) for x in corrections
                             if x.event_ref.startswith("b")],
                            columns=["event_ref", "action", "status", "days_late"])
        return Overlay(events=frame, corrections=corr, attributes=attributes, retire_before=cutoff, erased=erased,
                       as_of=clock() if clock is not None else None)

    return fetch


def retention_cutoff(db: Database) -> datetime | None:
    """The date before which negative records no longer count, as the last retention run set it."""
    with db.read() as s:
        return cutoff_in(s)


def cutoff_in(s: Session) -> datetime | None:
    """retention_cutoff, read in an open session."""
    row = s.get(Meta, RETENTION_CUTOFF)
    return datetime.fromisoformat(row.value) if row is not None else None


MODEL_ID = "model_id"
"""The service_meta key of the served model's id (serve-init, model-promote)."""
GENERATION = "served_generation"
"""The service_meta key of what is served: a new random value from every writer that changes the served model
or the data set copy it reads (serve-init, model-promote: served_meta). A running server follows it, and a
score computed under another one is not stored (served_model.py, save_scores). '' before the first such write.
An erasure rewrites the copy without a new generation: every reader leaves the erased out already (erasure.py)."""
IN_LIST = 5000
"""People named in one SQL IN list: a bounded statement on either engine however many are stored at once."""


def served_model_id(s: Session) -> str:
    """The served model's id as the meta table holds it ('' before serve-init recorded one): read inside the
    transaction whose check depends on it."""
    row = s.get(Meta, MODEL_ID)
    return row.value if row is not None else ""


def served_generation(s: Session) -> str:
    """The generation of what is served (GENERATION; '' where no writer recorded one yet)."""
    row = s.get(Meta, GENERATION)
    return row.value if row is not None else ""


def served_meta(values: dict[str, str]) -> dict[str, str]:
    """What a writer that changes what is served (the model, the data set copy) records in the meta table, in
    one write: its values and a new generation. Random, not counted: two writers at once never draw the same."""
    return {**values, GENERATION: uuid.uuid4().hex}


SERVED_SINCE = "served_since"
"""The service_meta key of the last score history row stored before the generation was recorded (record_served):
a score stored after it was computed under the recorded generation (a save under another is refused)."""


def record_served(ctx: ServiceContext, values: dict[str, str], since: int | None = None) -> int:
    """Record what is served (served_meta: `values` and a new generation) before everyone is re-scored with it,
    and return the mark (SERVED_SINCE) that re-score passes to save_scores_bulk(keep_since=): the last score
    history row stored before this commit (`since`: a resumed re-score's mark, kept). Writes are one at a time
    (store.db), so a history row after the mark was stored after this commit, under this generation or a later
    one, never by a server still scoring with what was served before (its save is refused: save_scores)."""
    with ctx.db.write() as s:
        mark = since if since is not None else s.scalar(select(func.max(ScoreHistory.id))) or 0
        for key, value in {**served_meta(values), SERVED_SINCE: str(mark)}.items():
            s.merge(Meta(key=key, value=str(value)))
    return mark


def stored_scores(s: Session, subjects: Sequence[str]) -> dict[str, Any]:
    """These people's current scores (subject, as_of, model_id), IN_LIST people a statement."""
    return {r.subject: r for i in range(0, len(subjects), IN_LIST)
            for r in s.execute(select(Score.subject, Score.as_of, Score.model_id)
                               .where(Score.subject.in_(subjects[i:i + IN_LIST])))}


class ModelChanged(RuntimeError):
    """A score by a model other than the served one, or read from another data set copy, was not stored: what
    is served changed (model-promote, serve-init run again)."""

    def __init__(self, served: str) -> None:
        super().__init__(f"what is served changed (the model is {served[:12]}...); a score by another model or "
                         "from another data set copy is not stored")
        self.served = served


def save_scores(ctx: ServiceContext, scored: Sequence[ScoredPerson], cause: str, only_changed: bool = False,
                generation: str | None = None) -> int:
    """Store new current scores and append them to each person's history (one transaction); how many.

    Checked inside the write, so that nothing commits between a check and the row it guards (store.db):
    - the erased get none: a re-score that was under way when its person was erased stores nothing;
    - a score never replaces one computed as of a later time: re-scores run outside the write, so two of one
      person can finish in either order, and the one as of the later time read everything the earlier one
      read (its as_of was taken after the write that triggered it committed). At the same as_of (a clock
      that did not move) the later save wins;
    - only_changed: a person whose stored score and sub-scores are the same is left as they are;
    - a score by a model other than the served one (the meta table's model_id, as `model-promote` sets it)
      is refused with ModelChanged, storing nothing: a server still holding the old model never replaces the
      promoted model's scores (score_and_save re-scores with the promoted one); so is one computed under
      another `generation` (the scorer's, where it knows it: GENERATION) than the meta table's, where the
      model is the same but serve-init wrote a new data set copy since the scorer read its own."""
    now = ctx.now()
    saved = 0
    with ctx.db.write() as s:
        served = served_model_id(s)
        if (served and any(p.model_id != served for p in scored)
                or generation is not None and generation != served_generation(s)):
            raise ModelChanged(served)
        erased = erased_people(s)
        people = [p for p in scored if p.person_id not in erased]
        stored = {r.subject: r for r in s.execute(select(Score).where(Score.subject.in_([p.person_id for p in people])))
                  .scalars()}
        for p in people:
            dims = [d.__dict__ for d in p.dimensions]
            reasons = [r.__dict__ for r in p.reasons]
            row = stored.get(p.person_id)
            if row is not None and (row.as_of > p.as_of or only_changed and (row.score, row.dimensions) == (p.score, dims)):
                continue
            if row is None:
                row = Score(subject=p.person_id)
                s.add(row)
            row.score, row.band, row.dimensions, row.reasons = p.score, p.band, dims, reasons
            row.as_of, row.model_id, row.updated_at = p.as_of, p.model_id, now
            s.add(ScoreHistory(subject=p.person_id, score=p.score, band=p.band, as_of=p.as_of, cause=cause,
                               model_id=p.model_id, created_at=now))
            saved += 1
    return saved


def save_scores_bulk(ctx: ServiceContext, scored: Sequence[ScoredPerson], cause: str,
                     keep_since: int | None = None) -> None:
    """The initial load: insert many rows at once (executemany), replacing any current scores.

    keep_since (a full re-score after record_served, its mark): a current score by the same model as of the same
    or a later time, stored after score history row `keep_since`, is kept. It was computed with what is served
    now: a running server re-scored the person meanwhile (after an event this re-score did not see), or a
    resumed promotion's run that stopped stored it. A score stored before the mark is replaced, however late:
    it was computed with what was served before (the old model, or the old data set copy of a serve-init run
    again with the same model)."""
    now = ctx.now()
    with ctx.db.write() as s:
        skip = erased_people(s)
        if keep_since is not None:
            who = [p.person_id for p in scored]
            stored = stored_scores(s, who)
            since = {h for i in range(0, len(who), IN_LIST)
                     for h in s.execute(select(ScoreHistory.subject).where(ScoreHistory.id > keep_since)
                                        .where(ScoreHistory.subject.in_(who[i:i + IN_LIST]))).scalars()}
            skip |= {p.person_id for p in scored if p.person_id in since and (r := stored.get(p.person_id)) is not None
                     and r.model_id == p.model_id and r.as_of >= p.as_of}
        replace_scores(s, [p for p in scored if p.person_id not in skip], cause, now)


def replace_scores(s: Session, scored: Sequence[ScoredPerson], cause: str, now: datetime) -> None:
    """In the caller's write transaction: these people's current scores replaced (plain SQL, executemany)
    and appended to their history."""
    rows = [{"subject": p.person_id, "score": p.score, "band": p.band,
             "dimensions": [d.__dict__ for d in p.dimensions], "reasons": [r.__dict__ for r in p.reasons],
             "as_of": p.as_of, "model_id": p.model_id, "updated_at": now} for p in scored]
    history = [{"subject": p.person_id, "score": p.score, "band": p.band, "as_of": p.as_of, "cause": cause,
                "model_id": p.model_id, "created_at": now} for p in scored]
    ids = [r["subject"] for r in rows]
    for i in range(0, len(ids), IN_LIST):
        s.execute(delete(Score).where(Score.subject.in_(ids[i:i + IN_LIST]))
                  .execution_options(synchronize_session=False))  # plain SQL, as before: no ORM objects to sync
    if rows:
        s.execute(insert(Score), rows)
        s.execute(insert(ScoreHistory), history)


def erased_people(s: Session) -> set[str]:
    """The people an operator erased (few): a score computed before their erasure is not stored after it."""
    return set(s.execute(select(ErasedSubject.subject)).scalars())


def score_and_save(ctx: ServiceContext, subjects: Sequence[str], cause: str, as_of: datetime,
                   only_changed: bool = False) -> list[ScoredPerson]:
    """Score these people with the served model as of `as_of` and store the scores (save_scores).

    A save refused because the model was promoted meanwhile, or serve-init wrote a new data set copy
    (ModelChanged), is not lost: the service adopts what is served now (ctx.models, served_model.py) and
    scores the same people as of the same time with it,
    so what triggered the re-score is reflected in a score by the served model. Without a way to adopt it
    (an operator command) or when it cannot be loaded, ModelChanged is raised: nothing stale is stored, and
    the person's next re-score picks the change up."""
    tries = 3  # a second promotion while the first one loads: once more
    while True:
        scorer = ctx.scorer  # the one that scores is the one whose generation the save checks (a swap between)
        if scorer is None:
            raise RuntimeError("re-scoring needs a scorer")
        scored = scorer.score_people(list(subjects), as_of=as_of)
        try:
            save_scores(ctx, scored, cause, only_changed=only_changed, generation=getattr(scorer, "generation", None))
            return scored
        except ModelChanged:
            tries -= 1
            if not tries or ctx.models is None or not ctx.models.adopt():
                raise


def list_rescore(s: Session, subject: str, cause: str, now: datetime) -> None:
    """In the write transaction that stores a change to the person's own record: list them as waiting for their
    re-score (pending_rescores, with its cause), so a crash before `rescore` stored it loses nobody: the next
    serving process re-scores whoever is still listed (neighbours.py), and so does a replay of the request."""
    s.merge(PendingRescore(subject=subject, queued_at=now, cause=cause))


def pending_cause(s: Session, subject: str) -> str | None:
    """The cause of the person's own re-score where it is listed and not yet stored (list_rescore), else None."""
    row = s.get(PendingRescore, subject)
    return row.cause if row is not None else None


def rescore(ctx: ServiceContext, subject: str, cause: str, as_of: datetime | None = None,
            only_changed: bool = False) -> ScoredPerson | None:
    """Re-score one person from the data set plus everything the service learnt; None without a scorer. Their
    connections are queued (durably), then the person is unlisted (list_rescore): a crash between any two
    steps leaves someone listed to finish it."""
    if ctx.scorer is None:
        return None
    taken = ctx.now()
    as_of = as_of or taken + timedelta(microseconds=1)  # events stamped `now` are strictly before
    scored = score_and_save(ctx, [subject], cause, as_of, only_changed=only_changed)
    if ctx.neighbours is not None:  # their connections follow in the background (service/neighbours.py)
        ctx.neighbours.after_change(subject)
    with ctx.db.write() as s:  # listed again since this re-score began (another change): they stay listed
        s.execute(delete(PendingRescore).where(PendingRescore.subject == subject, PendingRescore.queued_at <= taken))
    return scored[0] if scored else None  # nobody: an erased person


def no_order(ctx: ServiceContext) -> Problem:
    return forbidden("no-order", "outcomes are reported only for an order this merchant decided under the person's "
                                 f"consent, within {ctx.settings.report_window_days} days of that decision")


def _order(ctx: ServiceContext, s, m: MerchantPrincipal, subject: str, req: EventReport, ts: datetime):
    """The decision this report concludes: this merchant's latest about this person, in the window, made at
    or before `ts`."""
    q = select(Decision.id, Decision.public_id, Decision.created_at).where(
        Decision.merchant_id == m.id, Decision.subject == subject,
        Decision.created_at >= ctx.now() - timedelta(days=ctx.settings.report_window_days), Decision.created_at <= ts)
    if isinstance(req.decision_id, str):
        q = q.where(Decision.public_id == req.decision_id)
    elif req.decision_id is not None:  # a row key, as decisions were named before schema s0006: the merchant's own
        q = q.where(Decision.id == req.decision_id)
    return s.execute(q.order_by(Decision.created_at.desc(), Decision.id.desc()).limit(1)).first()


def held_amount(amount: float, spec: DatasetSpec | None) -> float:
    """The amount stored for a report: 0 where the data set holds no amounts (as ingest stores them), so no
    money the data set never had enters a record, a feature or a plan."""
    return float(amount) if _holds_amounts(spec) else 0.0


def held_paid(paid: float | None, spec: DatasetSpec | None) -> float | None:
    """The amount paid stored for a report (None where it did not say): none where the data set holds no
    amounts (held_amount), so a report that said it reads as one that did not."""
    return float(paid) if paid is not None and _holds_amounts(spec) else None


def _holds_amounts(spec: DatasetSpec | None) -> bool:
    """Whether the served data set holds amounts (its events declare an amount column; the simulated world's do)."""
    events = spec.events if spec is not None else None
    return events is None or bool(events.columns.amount)


def _same_facts(prior: ServiceEvent, subject: str, req: EventReport, days_late: float | None, ts: datetime,
                amount: float, paid: float | None) -> bool:
    """Whether a report repeats a stored one. A delay or time left out is the stored one (both default to
    values that depend on when the report came); an amount paid is part of the facts, said or not."""
    return (prior.subject == subject and prior.outcome == req.outcome.value and prior.amount == amount
            and prior.amount_paid == paid
            and (days_late is None or prior.days_late == days_late) and (req.occurred_at is None or prior.ts == ts))


def report(ctx: ServiceContext, m: MerchantPrincipal, req: EventReport) -> EventAck:
    subject = ctx.pseudonym(req.person_id)
    now = ctx.now()
    ts = ctx.settings.clock.naive(req.occurred_at) if req.occurred_at else now
    if ts > now:
        raise Problem(422, "invalid-event", "occurred_at is in the future")
    years = ctx.settings.retention_years
    if ts < retention_start(now, years):
        raise Problem(422, "invalid-event", f"occurred_at is more than {years} years ago (the service's retention "
                                            "period: older records no longer count)")
    if req.amount_paid is not None and req.amount_paid > req.amount:  # two fields: no JSON Schema can compare them
        raise Problem(422, "invalid-event", "amount_paid must not be more than amount (what was owed): a payment "
                                            "above it is no payment of this commitment")
    if req.days_late is not None and not float(req.days_late).is_integer():
        raise Problem(422, "invalid-event", "days_late must be a whole number of days (a delay is counted in "
                                            "whole days, as ingest counts them)")
    spec = spec_of(ctx.scorer)
    stored_as = reported_event(req.outcome.value, spec)
    if stored_as is None:
        raise Problem(422, "outcome-not-declared", f"the data set this service scores does not say what "
                      f"'{req.outcome.value}' is (its operator declares it under [events.outcomes] in its spec)")
    kind, status = stored_as
    spec = spec.for_kind(kind) if spec is not None else None  # its own history file's rules, as ingest's
    meaning = status_meaning(status, spec)
    floor = write_off_days(spec) if meaning == "broken" else None  # a write-off's days late, as ingest sets it
    stated = float(req.days_late) if req.days_late is not None else None
    amount = held_amount(req.amount, spec)
    paid = held_paid(req.amount_paid, spec)
    if stated is not None and meaning in ("late", "kept") and status_meaning(stored_delay(status, stated, spec)[0],
                                                                    spec) == "broken":
        paid = None  # settled past the grace (or 90 days): ingest forgets its money (ledger._after_grace)
    default_late = 0.0 if meaning == "kept" else floor or WRITE_OFF_DAYS
    replayed: tuple[str, str | None] | None = None
    with ctx.db.write() as s:
        prior = s.execute(select(ServiceEvent).where(ServiceEvent.merchant_id == m.id,
                                                     ServiceEvent.transaction_id == req.transaction_id)
                          ).scalar_one_or_none()
        if prior is not None:
            if not _same_facts(prior, subject, req, None if stated is None else stored_delay(status, stated, spec)[1],
                               ts, amount, paid):
                ctx.audit.append(s, now, m.actor, "event_refused", subject, reason="transaction-conflict",
                                 event=prior.public_id)
                conflict = Problem(409, "transaction-conflict", "this transaction id was used for a different event")
            else:
                ctx.audit.append(s, now, m.actor, "event_replayed", subject, event=prior.public_id)
                replayed = (prior.public_id, pending_cause(s, subject))
                if replayed[1] is None:  # the person's re-score since the event was stored
                    return EventAck(event_id=prior.public_id, transaction_id=req.transaction_id, rescored=False,
                                    replayed=True)
        else:
            conflict = None
            # the latest decision the stated delay allows; else the latest, to say why it does not fit
            order = (_order(ctx, s, m, subject, req, ts - timedelta(days=stated)) if stated else None) \
                or _order(ctx, s, m, subject, req, ts)
            since_order = (ts - order.created_at) / timedelta(days=1) if order is not None else 0.0
            # a default write-off is as late as the order allows, in whole days as ingest counts them; a stated
            # delay longer than that is refused, and so is an outcome that is not kept before a day has passed
            days_late = stated if stated is not None else min(default_late, float(math.floor(since_order)))
            unkept = meaning != "kept"
            if order is None:
                ctx.audit.append(s, now, m.actor, "event_refused", subject, reason="no-order",
                                 decision=req.decision_id)
            elif days_late > since_order or (unkept and days_late < 1):
                ctx.audit.append(s, now, m.actor, "event_refused", subject, reason="due-before-order",
                                 decision=order.public_id)
                conflict = Problem(422, "due-before-order", (
                    f"days_late is {days_late:g}" if days_late >= 1 else "an outcome that is not kept is at least "
                    "1 day late") + f", but only {since_order:.2f} days passed between the decision and this "
                    "outcome: a commitment cannot fall due before its order was decided")
            else:
                held, late = stored_delay(status, days_late, spec)  # as ingest stores the same row
                e = ServiceEvent(public_id=public_ids.new_event(), subject=subject, merchant_id=m.id,
                                 transaction_id=req.transaction_id, outcome=req.outcome.value, ts=ts, kind=kind, status=held, amount=amount,
                                 amount_paid=paid,
                                 due_ts=ts - timedelta(days=days_late), created_at=now, days_late=late)
                s.add(e)
                s.flush()
                event_id = e.public_id
                ctx.audit.append(s, now, m.actor, "event_reported", subject, event=event_id, outcome=e.outcome,
                                 decision=order.public_id)
                list_rescore(s, subject, f"event {event_id} reported", now)
    if replayed is not None:  # stored, the person's re-score not (the process stopped between): done now
        return EventAck(event_id=replayed[0], transaction_id=req.transaction_id, replayed=True,
                        rescored=_rescored(ctx, subject, str(replayed[1])))
    if conflict is not None:  # raised after the commit, so the refusal's audit row is kept
        raise conflict
    if order is None:
        raise no_order(ctx)
    return EventAck(event_id=event_id, transaction_id=req.transaction_id,
                    rescored=_rescored(ctx, subject, f"event {event_id} reported"))


def _rescored(ctx: ServiceContext, subject: str, cause: str) -> bool:
    """Re-score the person after their event was stored; whether it was. A failure leaves them listed
    (list_rescore): the next serving process, or a replay of the report, re-scores them."""
    try:
        return rescore(ctx, subject, cause=cause) is not None
    except Exception as exc:
        log.error("re-scoring after an event failed (%s); the event is kept and the person stays listed for a "
                  "re-score", type(exc).__name__)
        return False
