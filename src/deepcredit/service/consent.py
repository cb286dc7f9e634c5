"""Consent: a person grants one merchant a scope, for a purpose, per order or standing, until an expiry.

Never on by default: without a row here nothing about a person is disclosed. A grant covers a request when
it is this merchant's, names the policy's purpose, covers the scope asked (admittance < band < score <
factors), is neither expired nor revoked, and, for a per-order grant, names the request's order and has not
been used yet: a per-order grant is good for one decision (the first one made under it), so a merchant cannot
ask about the same order again under other policies or scopes and probe the score against thresholds. A
replay of that decision (its transaction id, within the replay window) still answers; a standing grant is
good for any number of decisions. A grant is known outside the service by its public id (`cns_…`,
store/public_ids.py), never its row key, which counts every person's grants.

The use is stored on the grant (`used_at`), claimed by the decision's own transaction with a conditional
UPDATE (`claim`): the database, not a Python lock, decides which of two simultaneous decisions (other
workers, other processes) gets it, and deleting old decisions never makes a spent grant active again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from deepcredit.service.context import ServiceContext
from deepcredit.service.problems import Problem, forbidden, not_found
from deepcredit.service.schemas import ConsentCreate, ConsentMode, ConsentOut, ConsentState, Scope
from deepcredit.service.store import public_ids
from deepcredit.service.store.db import updated_one
from deepcredit.service.store.models import Consent, Merchant, Policy

NO_CONSENT = ("consent-required",
              "no valid consent from this person covers this merchant, purpose, scope and order")
USED = ("consent-used", "the per-order consent covering this request was used by an earlier decision on this "
                        "order; a per-order consent is good for one decision (replaying it, with its "
                        "transaction id, still answers)")


def refused() -> Problem:
    """The one refusal for every consent failure: the merchant learns nothing about why (or about the person)."""
    return forbidden(*NO_CONSENT)


def used_up() -> Problem:
    """A per-order consent's one decision was made: told apart from a 403, since the merchant made it itself."""
    return Problem(409, *USED)


def state(c: Consent, now: datetime) -> ConsentState:
    if c.revoked_at is not None:
        return "revoked"
    return "expired" if c.expires_at <= now else "used" if c.used_at is not None else "active"


def to_out(c: Consent, merchant_name: str, now: datetime) -> ConsentOut:
    return ConsentOut(id=c.public_id, merchant_id=c.merchant_id, merchant=merchant_name, scope=Scope(c.scope),
                      purpose=c.purpose, mode=ConsentMode(c.mode), order_ref=c.order_ref, created_at=c.created_at,
                      expires_at=c.expires_at, revoked_at=c.revoked_at, state=state(c, now))


def grant(ctx: ServiceContext, subject: str, req: ConsentCreate) -> ConsentOut:
    """Every refusal (an invalid grant, an unknown merchant or purpose) is audited as `consent_refused`."""
    with ctx.refusals_audited("person", "consent_refused", subject, merchant=req.merchant_id):
        return _grant(ctx, subject, req)


def _grant(ctx: ServiceContext, subject: str, req: ConsentCreate) -> ConsentOut:
    now = ctx.now()
    expires = ctx.settings.clock.naive(req.expires_at)
    if expires <= now:
        raise Problem(422, "invalid-consent", "expires_at must be in the future")
    if expires > now + timedelta(days=ctx.settings.max_consent_days):
        raise Problem(422, "invalid-consent", f"a consent lasts at most {ctx.settings.max_consent_days} days")
    with ctx.db.write() as s:
        m = s.get(Merchant, req.merchant_id)
        if m is None or not m.active:
            raise not_found("merchant")
        _check_purpose(s, m, req.purpose)
        c = Consent(public_id=public_ids.new_consent(), subject=subject, merchant_id=m.id, scope=req.scope.value,
                    purpose=req.purpose, mode=req.mode.value, order_ref=req.order_ref, created_at=now,
                    expires_at=expires)
        s.add(c)
        s.flush()
        ctx.audit.append(s, now, "person", "consent_granted", subject, consent=c.public_id, merchant=m.id,
                         scope=c.scope, purpose=c.purpose, mode=c.mode, expires_at=expires.isoformat())
        return to_out(c, m.name, now)


def _check_purpose(s: Session, m: Merchant, purpose: str) -> None:
    """A grant for a purpose none of the merchant's policies asks for would cover nothing: say so, with theirs."""
    purposes = sorted(set(s.scalars(select(Policy.purpose).where(Policy.merchant_id == m.id))))
    if purpose not in purposes:
        asked = f"asks consent for: {', '.join(purposes)}" if purposes else "has no policy that asks for consent yet"
        raise Problem(422, "unknown-purpose", f"{m.name} uses no purpose {purpose!r}; it {asked}")


def revoke(ctx: ServiceContext, subject: str, consent_id: str) -> ConsentOut:
    """consent_id: the grant's public id, or its number (as grants were named before schema s0006): either
    names the caller's own grant only."""
    now = ctx.now()
    with ctx.db.write() as s:
        c = public_ids.find(s, Consent, consent_id)
        if c is not None and c.subject == subject:
            if c.revoked_at is None:
                c.revoked_at = now
                ctx.audit.append(s, now, "person", "consent_revoked", subject, consent=c.public_id,
                                 merchant=c.merchant_id)
            return to_out(c, s.get_one(Merchant, c.merchant_id).name, now)  # the foreign key: it exists
        # another person's grant is "not found", never "forbidden"; the attempt is audited under the caller only
        ctx.audit.append(s, now, "person", "access_refused", subject, what="consent", reason="not-found")
    raise not_found("consent")  # after the commit, so the refusal's audit row is kept


def list_for(ctx: ServiceContext, s: Session, subject: str) -> list[ConsentOut]:
    now = ctx.now()
    rows = s.execute(select(Consent, Merchant.name).join(Merchant, Merchant.id == Consent.merchant_id)
                     .where(Consent.subject == subject).order_by(Consent.id.desc())).all()
    return [to_out(c, name, now) for c, name in rows]


_GRANTS = select(Consent.id, Consent.public_id, Consent.scope, Consent.mode, Consent.order_ref, Consent.used_at).where(
    Consent.subject == bindparam("subject"), Consent.merchant_id == bindparam("merchant"),
    Consent.purpose == bindparam("purpose"), Consent.revoked_at.is_(None), Consent.expires_at > bindparam("now"))
"""Built once (every decision runs it): see decisions.py."""
_CONSENTS = cast(Table, Consent.__table__)
_CLAIM = update(_CONSENTS).where(_CONSENTS.c.id == bindparam("consent"), _CONSENTS.c.used_at.is_(None)).values(
    used_at=bindparam("now"))


def find_valid(s: Session, subject: str, merchant_id: int, purpose: str, scope: Scope, order_ref: str | None,
               now: datetime):
    """The narrowest valid grant covering the request (so the audit names the grant that was needed); USED
    when only per-order grants already used by a decision would cover it, None when none would. A per-order
    grant returned is not yet the decision's: `claim` it in the decision's transaction."""
    rows = s.execute(_GRANTS, {"subject": subject, "merchant": merchant_id, "purpose": purpose, "now": now}).all()
    ok = [c for c in rows if Scope(c.scope).level >= scope.level
          and (c.mode == ConsentMode.STANDING or (order_ref is not None and c.order_ref == order_ref))]
    fresh = [c for c in ok if c.mode == ConsentMode.STANDING or c.used_at is None]
    if ok and not fresh:
        return USED
    return min(fresh, key=lambda c: (Scope(c.scope).level, c.id)) if fresh else None


def claim(s: Session, consent_id: int, now: datetime) -> bool:
    """Record a per-order grant's one use, in the decision's transaction; False when another decision has it.

    One conditional UPDATE (`WHERE used_at IS NULL`): on PostgreSQL a second one waits for the first's
    transaction and then matches no row; on SQLite the write lock orders them the same way."""
    return updated_one(s, _CLAIM, {"consent": consent_id, "now": now})
