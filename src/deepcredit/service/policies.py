"""Merchants' scenario policies, and the limits that stop a merchant probing a score through its threshold.

A merchant with admittance-only consent learns one bit per decision. Moving the threshold between
decisions about the same person would turn those bits into the exact score (a binary search takes about
ten steps), so three limits apply, each configurable (config.Settings):

- thresholds are multiples of `threshold_step` (10): no decision can ever resolve a score finer than that;
- a merchant may set thresholds (a new policy counts) `threshold_changes_per_day` times in any 24 hours,
  and every change is audited;
- decisions about one person by one merchant may use at most `probe_thresholds_per_person` distinct
  thresholds in `probe_window_days` (enforced in decisions.py), so at most log2(4) = 2 bits leak.

A pay-later policy's limits name every band of the served scale and do not decrease from the lowest band to
the highest: a band left out would be declined in silence, and inverted limits are a mistake, not a policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deepcredit.service.auth import MerchantPrincipal
from deepcredit.service.context import ServiceContext
from deepcredit.service.problems import Problem, not_found
from deepcredit.service.schemas import MerchantSelf, PolicyCreate, PolicyOut, PolicyUpdate, Scenario, Scope
from deepcredit.service.store import public_ids
from deepcredit.service.store.models import Policy, ThresholdChange


def minimum_scope(scenario: Scenario) -> Scope:
    """A pay-later limit is set per band, so it discloses the band: it needs a band grant."""
    return Scope.BAND if scenario == Scenario.PAY_LATER else Scope.ADMITTANCE


def to_out(p: Policy) -> PolicyOut:
    scenario = Scenario(p.scenario)
    return PolicyOut(id=p.public_id, name=p.name, scenario=scenario, purpose=p.purpose, threshold=p.threshold,
                     limits=p.limits, minimum_scope=minimum_scope(scenario), updated_at=p.updated_at)


def _check_threshold(ctx: ServiceContext, threshold: int | None) -> None:
    step = ctx.settings.threshold_step
    if threshold is not None and threshold % step:
        raise Problem(422, "invalid-policy", f"thresholds must be multiples of {step}")


def _check_limits(ctx: ServiceContext, limits: dict[str, float] | None) -> None:
    if limits is None:
        return
    bands = ctx.band_names()  # the served scale's, lowest first
    unknown = sorted(set(limits) - set(bands))
    if unknown:
        raise Problem(422, "invalid-policy", f"unknown band(s) {unknown}; bands are {bands}")
    missing = [b for b in bands if b not in limits]
    if missing:  # an unnamed band would be declined in silence (limit 0)
        raise Problem(422, "invalid-policy", f"limits must name every band; missing {missing} (bands are {bands}, "
                                             "lowest first; 0 declines a band)")
    for low, high in zip(bands, bands[1:], strict=False):
        if limits[high] < limits[low]:
            raise Problem(422, "limits-out-of-order", f"limits must not decrease from the lowest band to the highest: "
                                                 f"{high!r} ({limits[high]:g}) is below {low!r} ({limits[low]:g})")


def changes_in_window(s: Session, merchant_id: int, now: datetime) -> list[datetime]:
    since = now - timedelta(hours=24)
    return list(s.execute(select(ThresholdChange.at).where(ThresholdChange.merchant_id == merchant_id,
                                                           ThresholdChange.at > since)
                          .order_by(ThresholdChange.at)).scalars())


def _rate_limit(ctx: ServiceContext, s: Session, merchant_id: int, now: datetime) -> None:
    recent = changes_in_window(s, merchant_id, now)
    limit = ctx.settings.threshold_changes_per_day
    if len(recent) >= limit:
        retry = int((recent[0] + timedelta(hours=24) - now).total_seconds()) + 1
        raise Problem(429, "threshold-change-limit",
                      f"at most {limit} threshold settings per 24 hours; try again later",
                      headers={"Retry-After": str(max(retry, 1))})


def create(ctx: ServiceContext, m: MerchantPrincipal, req: PolicyCreate) -> PolicyOut:
    """Every refusal (the threshold-setting limit among them) is audited as `policy_refused`."""
    with ctx.refusals_audited(m.actor, "policy_refused"):
        return _create(ctx, m, req)


def _create(ctx: ServiceContext, m: MerchantPrincipal, req: PolicyCreate) -> PolicyOut:
    _check_threshold(ctx, req.threshold)
    _check_limits(ctx, req.limits)
    now = ctx.now()
    try:
        with ctx.db.write() as s:
            if req.threshold is not None:
                _rate_limit(ctx, s, m.id, now)
            p = Policy(public_id=public_ids.new_policy(), merchant_id=m.id, name=req.name, scenario=req.scenario.value,
                       purpose=req.purpose or req.scenario.value, threshold=req.threshold, limits=req.limits,
                       created_at=now, updated_at=now)
            s.add(p)
            s.flush()
            if req.threshold is not None:
                s.add(ThresholdChange(merchant_id=m.id, policy_id=p.id, old_threshold=None,
                                      new_threshold=req.threshold, at=now))
            ctx.audit.append(s, now, m.actor, "policy_created", None, policy=p.public_id, scenario=p.scenario,
                             purpose=p.purpose, threshold=p.threshold)
            return to_out(p)
    except IntegrityError:
        raise Problem(409, "conflict", f"a policy named {req.name!r} already exists") from None


def update(ctx: ServiceContext, m: MerchantPrincipal, policy_id: str, req: PolicyUpdate) -> PolicyOut:
    """policy_id: the policy's public id, or its number (as policies were named before schema s0006): either
    names one of the merchant's own policies only. Every refusal (the threshold-setting limit among them) is
    audited as `policy_refused`, with its reason only (the id the merchant sent is not written)."""
    with ctx.refusals_audited(m.actor, "policy_refused"):
        return _update(ctx, m, policy_id, req)


def _update(ctx: ServiceContext, m: MerchantPrincipal, policy_id: str, req: PolicyUpdate) -> PolicyOut:
    _check_threshold(ctx, req.threshold)
    _check_limits(ctx, req.limits)
    now = ctx.now()
    with ctx.db.write() as s:
        p = public_ids.find(s, Policy, policy_id)
        if p is None or p.merchant_id != m.id:
            raise not_found("policy")
        scenario = Scenario(p.scenario)
        if req.threshold is not None:
            if scenario == Scenario.PAY_LATER:
                raise Problem(409, "policy-kind", "a pay_later policy has limits, not a threshold")
            if req.threshold != p.threshold:
                _rate_limit(ctx, s, m.id, now)
                s.add(ThresholdChange(merchant_id=m.id, policy_id=p.id, old_threshold=p.threshold,
                                      new_threshold=req.threshold, at=now))
                ctx.audit.append(s, now, m.actor, "threshold_changed", None, policy=p.public_id, old=p.threshold,
                                 new=req.threshold)
                p.threshold = req.threshold
        if req.limits is not None:
            if scenario != Scenario.PAY_LATER:
                raise Problem(409, "policy-kind", "only a pay_later policy has limits")
            ctx.audit.append(s, now, m.actor, "limits_changed", None, policy=p.public_id)
            p.limits = dict(req.limits)
        p.updated_at = now
        return to_out(p)


def merchant_self(ctx: ServiceContext, m: MerchantPrincipal) -> MerchantSelf:
    now = ctx.now()
    with ctx.db.read() as s:
        policies = s.execute(select(Policy).where(Policy.merchant_id == m.id).order_by(Policy.id)).scalars().all()
        used = len(changes_in_window(s, m.id, now))
    return MerchantSelf(id=m.id, name=m.name, policies=[to_out(p) for p in policies],
                        threshold_changes_left_today=max(ctx.settings.threshold_changes_per_day - used, 0))

