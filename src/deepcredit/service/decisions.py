"""A merchant's question about a person: consent first, then the stored score, then the policy; all audited.

Order of checks, each refusal disclosing nothing about the person:
1. replay: the same transaction id within the window returns the stored answer (no new evaluation), if
   the consent behind it still stands; the same id with a different request is a 409;
2. the policy (the merchant's own; none of that name is a 404) and the scope it needs;
3. a valid consent covering merchant, purpose, scope and order, else 403 (the same 403 for every reason);
   a per-order consent already used by an earlier decision is a 409 consent-used (consent.py: one decision);
4. the threshold-probing limit (policies.py), else 429;
5. a per-order consent's use is claimed (consent.claim): one taken by a simultaneous decision since step 3
   read it is passed over like a used one (another grant covering the request, else the 409 consent-used);
6. the stored score: a lookup, never a model run.
Refusals are audited too (a 409 conflicting replay included): the person sees who asked without permission.
The merchant is told a decision's public id (store/public_ids.py), never its row key, which counts every
merchant's decisions; the audit log names it, its policy and its consent by their public ids too (the person's
export shows them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from deepcredit.service import consent as consents
from deepcredit.service.audit import canonical
from deepcredit.service.auth import MerchantPrincipal
from deepcredit.service.context import ServiceContext
from deepcredit.service.policies import minimum_scope
from deepcredit.service.problems import Problem, not_found
from deepcredit.service.schemas import (
    ConsentMode,
    DecisionRequest,
    DecisionResponse,
    Factors,
    Scenario,
    Scope,
)
from deepcredit.service.store import public_ids
from deepcredit.service.store.models import Consent, Decision, Policy, Score

# The hot path's statements, built once with bound parameters: building a statement costs SQLAlchemy more
# CPU than SQLite spends running it (expression coercion and cache keys), about 1 ms each.
_PRIOR = select(Decision.id, Decision.public_id, Decision.created_at, Decision.request_sha256, Decision.consent_id,
                select(Policy.public_id).where(Policy.id == Decision.policy_id).scalar_subquery().label("policy"),
                Decision.response).where(Decision.merchant_id == bindparam("merchant"),
                                         Decision.transaction_id == bindparam("tx"))
_GRANT = select(Consent.revoked_at, Consent.expires_at).where(Consent.id == bindparam("consent"))
_POLICY = select(Policy.id, Policy.public_id, Policy.name, Policy.scenario, Policy.purpose, Policy.threshold, Policy.limits).where(
    Policy.merchant_id == bindparam("merchant"), Policy.name == bindparam("name"))
_PROBES = select(Decision.threshold).where(
    Decision.merchant_id == bindparam("merchant"), Decision.subject == bindparam("subject"),
    Decision.created_at > bindparam("since"), Decision.threshold.is_not(None)).distinct()
_SCORE = select(Score.score, Score.band, Score.dimensions, Score.reasons, Score.model_id).where(
    Score.subject == bindparam("subject"))
_DECISIONS = cast(Table, Decision.__table__)
_INSERT = insert(_DECISIONS)
_UPDATE = update(_DECISIONS).where(_DECISIONS.c.id == bindparam("decision"))


def _fingerprint(subject: str, req: DecisionRequest) -> str:
    return hashlib.sha256(canonical([subject, req.policy, req.include.value, req.order_ref]).encode()).hexdigest()


def _probe_limited(ctx: ServiceContext, s: Session, merchant_id: int, subject: str, threshold: int,
                   now: datetime) -> bool:
    since = now - timedelta(days=ctx.settings.probe_window_days)
    used = set(s.execute(_PROBES, {"merchant": merchant_id, "subject": subject, "since": since}).scalars())
    return threshold not in used and len(used) >= ctx.settings.probe_thresholds_per_person


def _lapsed(grant, now: datetime) -> bool:
    """Whether the consent behind a decision was revoked or expired since (a replay then discloses nothing)."""
    return grant.revoked_at is not None or grant.expires_at <= now


def _evaluate(policy, score, include: Scope) -> dict:
    if score is None:
        return {"result": "no_score", "admitted": False}
    out: dict = {}
    if policy.scenario == Scenario.PAY_LATER:
        limit = float((policy.limits or {}).get(score.band, 0.0))
        out.update(admitted=limit > 0, limit=limit)
    else:
        out["admitted"] = score.score >= int(policy.threshold)
    out["result"] = "admit" if out["admitted"] else "decline"
    out["model_id"] = score.model_id  # the model version (artifact sha256) behind the stored score
    if include.level >= Scope.BAND.level:
        out["band"] = score.band
    if include.level >= Scope.SCORE.level:
        out["score"] = score.score
    if include.level >= Scope.FACTORS.level:
        out["factors"] = Factors(dimensions=score.dimensions, reasons=score.reasons).model_dump()
    return out


def _consent_refused(ctx: ServiceContext, s: Session, m: MerchantPrincipal, subject: str, policy, scope: Scope,
                     grant, now: datetime) -> Problem:
    """The audited refusal when no grant covers the request (403) or only used per-order ones do (409)."""
    reason, problem = ("consent-used", consents.used_up()) if grant is consents.USED else \
        ("consent-required", consents.refused())
    ctx.audit.append(s, now, m.actor, "decision_refused", subject, reason=reason, policy=policy.public_id,
                     purpose=policy.purpose, scope=scope.value)
    return problem


def _claimed(s: Session, grant, find: Callable[[], Any], now: datetime):
    """The grant the decision is made under, a per-order one's use recorded in this transaction; one another
    decision claimed first is passed over (`find` again: it now reads as used), so the result may be USED/None."""
    claimed: set[int] = set()
    while grant is not None and grant is not consents.USED and grant.mode == ConsentMode.PER_ORDER:
        if consents.claim(s, grant.id, now):
            return grant
        claimed.add(grant.id)
        grant = find()
        if grant is not None and grant is not consents.USED and grant.id in claimed:
            return consents.USED  # never loop on a grant this transaction cannot see as used
    return grant


def _under_policy(ctx: ServiceContext, s: Session, m: MerchantPrincipal, req: DecisionRequest, policy,
                  subject: str, prior, fingerprint: str, now: datetime) -> DecisionResponse | Problem:
    """Checks 2 to 6 under the merchant's policy: the answer, or the (audited) refusal to raise once the
    transaction has committed its audit row."""
    scope = max(req.include, minimum_scope(Scenario(policy.scenario)), key=lambda x: x.level)
    find = partial(consents.find_valid, s, subject, m.id, policy.purpose, scope, req.order_ref, now)
    grant = find()
    if grant is None or grant is consents.USED:
        return _consent_refused(ctx, s, m, subject, policy, scope, grant, now)
    if policy.threshold is not None and scope.level < Scope.SCORE.level and \
            _probe_limited(ctx, s, m.id, subject, policy.threshold, now):
        ctx.audit.append(s, now, m.actor, "decision_refused", subject, reason="threshold-probing-limit",
                         policy=policy.public_id, purpose=policy.purpose, scope=scope.value)
        return Problem(429, "threshold-probing-limit",
                       f"at most {ctx.settings.probe_thresholds_per_person} distinct thresholds per "
                       f"person in {ctx.settings.probe_window_days} days")
    grant = _claimed(s, grant, find, now)
    if grant is None or grant is consents.USED:
        return _consent_refused(ctx, s, m, subject, policy, scope, grant, now)
    score = s.execute(_SCORE, {"subject": subject}).first()
    body = _evaluate(policy, score, req.include)
    stored = {"transaction_id": req.transaction_id, "policy": policy.name, "purpose": policy.purpose,
              "decided_at": now.isoformat(), **body}
    values = {"subject": subject, "policy_id": policy.id, "consent_id": grant.id,
              "threshold": policy.threshold, "request_sha256": fingerprint, "response": stored,
              "created_at": now}
    if prior is None:
        public_id = public_ids.new_decision()
        s.execute(_INSERT, {"public_id": public_id, "merchant_id": m.id, "transaction_id": req.transaction_id,
                            **values})
    else:  # the id was last used before the replay window: a new evaluation replaces the old one
        s.execute(_UPDATE, {"decision": prior.id, **values})
        public_id = prior.public_id
    # the scope the merchant learnt: a pay-later limit tells the band even when asked for admittance
    ctx.audit.append(s, now, m.actor, "decision", subject, decision=public_id, policy=policy.public_id,
                     purpose=policy.purpose, scope=scope.value, consent=grant.public_id,
                     result=body["result"])
    return DecisionResponse(decision_id=public_id, **stored)


def decide(ctx: ServiceContext, m: MerchantPrincipal, req: DecisionRequest) -> DecisionResponse:
    """One decision, in one transaction; plain SQL statements (this is the service's hot path)."""
    subject = ctx.pseudonym(req.person_id)
    now = ctx.now()
    fingerprint = _fingerprint(subject, req)
    refusal: Problem | None = None
    with ctx.db.write() as s:
        prior = s.execute(_PRIOR, {"merchant": m.id, "tx": req.transaction_id}).first()
        window = timedelta(hours=ctx.settings.replay_window_hours)
        if prior is not None and prior.created_at > now - window:
            if prior.request_sha256 != fingerprint:  # audited under the person asked about, like any refusal
                ctx.audit.append(s, now, m.actor, "decision_refused", subject, reason="transaction-conflict")
                refusal = Problem(409, "transaction-conflict",
                                  "this transaction id was used for a different request within the replay window")
            elif _lapsed(s.execute(_GRANT, {"consent": prior.consent_id}).one(), now):
                ctx.audit.append(s, now, m.actor, "decision_refused", subject, reason="consent-required",
                                 replay_of=prior.public_id)
                refusal = consents.refused()
            else:
                ctx.audit.append(s, now, m.actor, "decision_replayed", subject, decision=prior.public_id,
                                 policy=prior.policy, purpose=prior.response.get("purpose"),
                                 scope=req.include.value)  # the person's list of who asked shows why
                return DecisionResponse(**{**prior.response, "decision_id": prior.public_id, "replayed": True})
        else:
            policy = s.execute(_POLICY, {"merchant": m.id, "name": req.policy}).first()
            if policy is None:  # audited like any refusal; the policy name sent is the merchant's text, not kept
                ctx.audit.append(s, now, m.actor, "decision_refused", subject, reason="no-such-policy",
                                 scope=req.include.value)
                refusal = not_found("policy")
            else:
                answer = _under_policy(ctx, s, m, req, policy, subject, prior, fingerprint, now)
                if isinstance(answer, DecisionResponse):
                    return answer
                refusal = answer
    raise refusal
