"""Enrolment: the operator registers a merchant or issues a person a token.

One function each, called by the operator's routes (routes/admin.py) and by the CLI (`merchant-add`,
`person-token`), so both go through the same checks and audit rows. They raise `Problem`, the service's
error with its HTTP status, which the CLI prints as a message.
"""

from __future__ import annotations

from sqlalchemy import select

from deepcredit.service import erasure
from deepcredit.service.auth import issue_merchant_key, issue_person_token
from deepcredit.service.context import ServiceContext
from deepcredit.service.known import is_known, unknown_person
from deepcredit.service.problems import Problem
from deepcredit.service.schemas import MerchantKeyOut, MerchantOut, PersonTokenOut
from deepcredit.service.store.models import Merchant, Score


def merchant_out(m: Merchant) -> MerchantOut:
    return MerchantOut(id=m.id, name=m.name, active=m.active, created_at=m.created_at)


def create_merchant(ctx: ServiceContext, name: str) -> MerchantKeyOut:
    """A merchant and its first key (shown once); 409 if the name is taken."""
    now = ctx.now()
    with ctx.db.write() as s:
        if s.execute(select(Merchant.id).where(Merchant.name == name)).first():
            raise Problem(409, "conflict", f"a merchant named {name!r} exists")
        m = Merchant(name=name, active=True, created_at=now)
        s.add(m)
        s.flush()
        key = issue_merchant_key(s, m, now)
        ctx.audit.append(s, now, "operator", "merchant_created", None, merchant=m.id)
        return MerchantKeyOut(merchant=merchant_out(m), api_key=key)


def holds_score(ctx: ServiceContext, person_id: str) -> bool:
    """Whether the service holds a score for this person id (an operator issuing a token is told if not)."""
    with ctx.db.read() as s:
        return s.get(Score, ctx.pseudonym(person_id)) is not None


def create_person_token(ctx: ServiceContext, person_id: str, days: int) -> PersonTokenOut:
    """A token for a person the service knows (known.py; 404 otherwise, audited), which
    revokes their earlier tokens; 409 for an erased person (audited too)."""
    now = ctx.now()
    subject = ctx.pseudonym(person_id)
    known = is_known(ctx, subject)  # before the write lock: it may read the data set
    with ctx.db.write() as s:
        when = erasure.erased_at(s, subject)
        if when is not None:
            ctx.audit.append(s, now, "operator", "person_token_refused", subject, reason="erased")
        elif not known:
            ctx.audit.append(s, now, "operator", "person_token_refused", subject, reason="unknown-person")
        else:
            token, expires, revoked = issue_person_token(s, subject, now, days)
            ctx.audit.append(s, now, "operator", "person_token_issued", subject, days=days, revoked=revoked)
    if when is not None:
        raise erasure.already_erased(when)  # after the commit, so the refusal's audit row is kept
    if not known:
        raise unknown_person()  # after the commit, so the refusal's audit row is kept
    return PersonTokenOut(token=token, expires_at=expires)
