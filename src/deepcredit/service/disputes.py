"""Disputes: a person flags a record as wrong (one of their events, or a detail of their profile); an operator
reviews it and corrects it or upholds it.

    open --review--> under_review --resolve--> corrected | upheld

Any other move is a 409. Each dispute has a deadline (Settings.dispute_deadline_days, 20 by default);
past it an unresolved dispute is reported `overdue` to operators. While a dispute is open or under review
its event is marked as disputed in the person's report (it still counts: nothing is decided yet). A
correction (remove the event, or change its status; set the attribute's right value, checked against its
declared type) is stored beside the data, never by editing it, and the person is re-scored at once; the new
score appears in their history with the dispute as its cause.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from deepcredit.data.spec_profile import Attribute
from deepcredit.service.attribute_fixes import checked_value, disputable
from deepcredit.service.context import ServiceContext
from deepcredit.service.events import list_rescore, rescore
from deepcredit.service.history import correctable_statuses, spec_of, status_meaning
from deepcredit.service.problems import Problem, not_found
from deepcredit.service.schemas import (
    Correction,
    DisputeCase,
    DisputeCreate,
    DisputeOut,
    DisputeResolve,
    DisputeState,
)
from deepcredit.service.store import public_ids
from deepcredit.service.store.models import AttributeCorrection, Dispute, EventCorrection, ServiceEvent

log = logging.getLogger("deepcredit.service")
ACTIVE = (DisputeState.OPEN.value, DisputeState.UNDER_REVIEW.value)
TRANSITIONS = {DisputeState.OPEN: {DisputeState.UNDER_REVIEW},
               DisputeState.UNDER_REVIEW: {DisputeState.CORRECTED, DisputeState.UPHELD}}


def to_out(d: Dispute, now, removed: bool = False) -> DisputeOut:
    """removed: its correction removed the record (see `removed_by`)."""
    return DisputeOut(id=d.public_id, event_id=d.event_ref, attribute=d.attribute, state=DisputeState(d.state),
                      opened_at=d.opened_at,
                      deadline_at=d.deadline_at, overdue=d.state in ACTIVE and now > d.deadline_at,
                      reviewed_at=d.reviewed_at, resolved_at=d.resolved_at, resolution_note=d.resolution_note,
                      record_removed=removed and d.state == DisputeState.CORRECTED.value)


def removed_by(s: Session, dispute_ids: Sequence[int]) -> set[int]:
    """Those of `dispute_ids` whose correction removed the record (not changed it)."""
    if not dispute_ids:
        return set()
    return set(s.execute(select(EventCorrection.dispute_id).where(EventCorrection.dispute_id.in_(dispute_ids),
                                                                  EventCorrection.action == "remove")).scalars())


def _own_event(ctx: ServiceContext, s: Session, subject: str, ref: str) -> str | None:
    """The id the dispute stores for one of the person's events (None: not theirs, or no such event). A reported
    event is named by its public id; its old id ('s' and its row key, before schema s0006) is taken too, for the
    person's own event only, and stored as the public id (what its corrections and the report match on)."""
    key = public_ids.legacy_event_key(ref)
    if key is not None or ref.startswith(public_ids.EVENT):
        e = s.get(ServiceEvent, key) if key is not None else \
            s.execute(select(ServiceEvent).where(ServiceEvent.public_id == ref)).scalar_one_or_none()
        return e.public_id if e is not None and e.subject == subject else None
    if ctx.scorer is None or not hasattr(ctx.scorer, "person_events"):
        return None
    return ref if ref in set(ctx.scorer.person_events(subject)["event_id"].dropna()) else None


def disputable_attributes(ctx: ServiceContext) -> dict[str, Attribute]:
    """The profile attributes of the served data set a person may dispute (none without a scorer)."""
    spec = spec_of(ctx.scorer)
    return disputable(spec) if spec is not None else {}


def open_dispute(ctx: ServiceContext, subject: str, req: DisputeCreate) -> DisputeOut:
    """A dispute about an event that is not the person's is audited as `access_refused` (what: event); every
    other refusal (an unknown attribute, a record with a dispute still open) as `dispute_refused`, once."""
    ref = None
    if req.event_id is not None:
        with ctx.db.read() as s:
            ref = _own_event(ctx, s, subject, req.event_id)
        if ref is None:  # someone else's event and no event at all look the same; audited under the caller only
            raise ctx.refused("person", "access_refused", subject, not_found("event"), what="event")
    with ctx.refusals_audited("person", "dispute_refused", subject, **({"event": ref} if ref else {})):
        return _open(ctx, subject, req, ref)


def _open(ctx: ServiceContext, subject: str, req: DisputeCreate, ref: str | None) -> DisputeOut:
    now = ctx.now()
    if ref is not None:
        same = Dispute.event_ref == ref
    else:
        if req.attribute not in disputable_attributes(ctx):
            raise not_found("attribute")
        same = Dispute.attribute == req.attribute
    with ctx.db.write() as s:
        active = s.execute(select(Dispute.public_id).where(Dispute.subject == subject, same,
                                                           Dispute.state.in_(ACTIVE))).first()
        if active:
            raise Problem(409, "dispute-exists", f"dispute {active[0]} about this record is still open")
        d = Dispute(subject=subject, event_ref=ref, attribute=req.attribute, reason=req.reason,
                    state=DisputeState.OPEN.value, opened_at=now,
                    deadline_at=now + timedelta(days=ctx.settings.dispute_deadline_days))
        s.add(d)
        s.flush()
        ctx.audit.append(s, now, "person", "dispute_opened", subject, dispute=d.public_id, **_record(d))
        return to_out(d, now)


def _find(s: Session, dispute_id: str) -> Dispute:
    """The dispute an operator names: by its public id, or by its row key (the id disputes were given before
    schema s0006; the operator sees every dispute, so an old id tells them nothing new)."""
    d = public_ids.find(s, Dispute, dispute_id)
    if d is None:
        raise not_found("dispute")
    return d


def case(ctx: ServiceContext, dispute_id: str) -> DisputeCase:
    """One dispute with the person's reason, for the operator reviewing it; the reading is audited, so the
    person sees it among who looked at their records."""
    now = ctx.now()
    with ctx.db.write() as s:
        d = _find(s, dispute_id)
        ctx.audit.append(s, now, "operator", "dispute_read", d.subject, dispute=d.public_id)
        return DisputeCase(**to_out(d, now, d.id in removed_by(s, [d.id])).model_dump(), reason=d.reason)


def _record(d: Dispute) -> dict[str, str | None]:
    """What an audit row says the dispute is about: the event's reference or the attribute's name (never a
    value)."""
    return {"event": d.event_ref} if d.event_ref is not None else {"attribute": d.attribute}


def _move(s: Session, dispute_id: str, to: DisputeState) -> Dispute:
    d = _find(s, dispute_id)
    if to not in TRANSITIONS.get(DisputeState(d.state), set()):
        raise Problem(409, "invalid-transition", f"a dispute that is {d.state} cannot become {to.value}")
    d.state = to.value
    return d


def review(ctx: ServiceContext, dispute_id: str) -> DisputeOut:
    now = ctx.now()
    with ctx.db.write() as s:
        d = _move(s, dispute_id, DisputeState.UNDER_REVIEW)
        d.reviewed_at = now
        ctx.audit.append(s, now, "operator", "dispute_under_review", d.subject, dispute=d.public_id)
        return to_out(d, now)


def _checked(ctx: ServiceContext, d: Dispute, fix: Correction | None) -> str | None:
    """A correction that fits the disputed record, else a 422; for an attribute, its value as stored (JSON
    text, never None); for an event, None."""
    if fix is None:
        return None
    if d.attribute is not None:
        if fix.action != "set":
            raise Problem(422, "invalid-correction", "a profile attribute is corrected by setting its value "
                                                     "(action 'set')")
        attribute = disputable_attributes(ctx).get(d.attribute)
        if attribute is None:
            raise Problem(422, "invalid-correction", f"the served data set no longer has '{d.attribute}'")
        stored_as = getattr(ctx.scorer, "people_types", {}).get(d.attribute, "")
        try:
            return checked_value(attribute, fix.value, stored_as)
        except ValueError as exc:
            raise Problem(422, "invalid-correction", str(exc)) from None
    if fix.action == "set":
        raise Problem(422, "invalid-correction", "an event is corrected by removing it or changing its status")
    spec = spec_of(ctx.scorer)
    if fix.action == "restatus" and fix.status not in (allowed := correctable_statuses(spec)):
        raise Problem(422, "invalid-correction", f"status must be one of {sorted(allowed)}" if allowed else
                      "this service's data set holds no events, so no status can be corrected")
    if fix.action == "restatus" and fix.days_late is not None:  # a status and a delay that say the same
        meaning = status_meaning(str(fix.status), spec)
        if meaning == "kept" and fix.days_late != 0:
            raise Problem(422, "invalid-correction", f"'{fix.status}' is on time: days_late must be 0 or absent")
        if meaning == "late" and fix.days_late < 1:
            raise Problem(422, "invalid-correction", f"'{fix.status}' is late: days_late must be at least 1 "
                                                     "(or absent: the record's own)")
    return None


def _store_event_fix(ctx: ServiceContext, s: Session, d: Dispute, fix: Correction, now: datetime) -> None:
    days_late = fix.days_late
    if fix.action == "restatus" and days_late is None and status_meaning(str(fix.status), spec_of(ctx.scorer)) == "kept":
        days_late = 0.0
    row = s.execute(select(EventCorrection).where(EventCorrection.event_ref == d.event_ref)).scalar_one_or_none()
    if row is None:
        row = EventCorrection(subject=d.subject, event_ref=d.event_ref)
        s.add(row)
    row.action, row.status = fix.action, fix.status if fix.action == "restatus" else None
    row.days_late, row.dispute_id, row.created_at = days_late, d.id, now


def _store_attribute_fix(s: Session, d: Dispute, value: str, now: datetime) -> None:
    row = s.execute(select(AttributeCorrection).where(AttributeCorrection.subject == d.subject,
                                                      AttributeCorrection.attribute == d.attribute)).scalar_one_or_none()
    if row is None:
        row = AttributeCorrection(subject=d.subject, attribute=d.attribute)
        s.add(row)
    row.value, row.dispute_id, row.created_at = value, d.id, now


def resolve(ctx: ServiceContext, dispute_id: str, req: DisputeResolve) -> DisputeOut:
    now = ctx.now()
    fix = req.correction
    with ctx.db.write() as s:
        d = _move(s, dispute_id, DisputeState(req.outcome))
        value = _checked(ctx, d, fix)  # raised inside the transaction: the move is rolled back with it
        d.resolved_at, d.resolution_note = now, req.note
        if fix is not None:
            if value is not None:  # an attribute's checked value
                _store_attribute_fix(s, d, value, now)
            else:
                _store_event_fix(ctx, s, d, fix, now)
        ctx.audit.append(s, now, "operator", f"dispute_{req.outcome}", d.subject, dispute=d.public_id, **_record(d),
                         correction=fix.action if fix else None)
        out, subject = to_out(d, now, fix is not None and fix.action == "remove"), d.subject
        if fix is not None:  # listed with the correction: a crash before the re-score loses nobody
            list_rescore(s, subject, f"dispute {out.id} corrected", now)
    if fix is not None:
        try:
            rescore(ctx, subject, cause=f"dispute {out.id} corrected")
        except Exception as exc:
            log.error("re-scoring after a correction failed (%s); the correction is kept and the person stays "
                      "listed for a re-score", type(exc).__name__)
    return out


def list_for(s: Session, ctx: ServiceContext, subject: str | None = None, state: str | None = None
             ) -> list[DisputeOut]:
    q = select(Dispute).order_by(Dispute.id)
    if subject is not None:
        q = q.where(Dispute.subject == subject)
    if state is not None:
        q = q.where(Dispute.state == state)
    now = ctx.now()
    rows = s.execute(q).scalars().all()
    removed = removed_by(s, [d.id for d in rows if d.state == DisputeState.CORRECTED.value])
    return [to_out(d, now, d.id in removed) for d in rows]
