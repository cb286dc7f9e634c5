"""Merchant routes: its policies, decisions about people (with their consent) and fulfilment feedback."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from deepcredit.service import decisions, events, policies
from deepcredit.service.auth import MerchantPrincipal, merchant
from deepcredit.service.context import ServiceContext, get_context
from deepcredit.service.routes import BODY, COMMON, P, PolicyPath
from deepcredit.service.schemas import (
    DecisionRequest,
    DecisionResponse,
    EventAck,
    EventReport,
    MerchantSelf,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
)

router = APIRouter(prefix="/v1", tags=["merchant"], responses=COMMON)


@router.get("/merchant", response_model=MerchantSelf, summary="Who the key belongs to, and its policies")
def me(m: MerchantPrincipal = Depends(merchant), ctx: ServiceContext = Depends(get_context)) -> MerchantSelf:
    return policies.merchant_self(ctx, m)


@router.get("/policies", response_model=list[PolicyOut], summary="List the merchant's policies")
def list_policies(m: MerchantPrincipal = Depends(merchant), ctx: ServiceContext = Depends(get_context)
                  ) -> list[PolicyOut]:
    return policies.merchant_self(ctx, m).policies


@router.post("/policies", response_model=PolicyOut, status_code=201, responses={**BODY, 409: P, 429: P},
             summary="Register a scenario policy (setting a threshold counts against the daily limit)")
def create_policy(req: PolicyCreate, m: MerchantPrincipal = Depends(merchant),
                  ctx: ServiceContext = Depends(get_context)) -> PolicyOut:
    return policies.create(ctx, m, req)


@router.patch("/policies/{policy_id}", response_model=PolicyOut, responses={**BODY, 404: P, 409: P, 429: P},
              summary="Change a threshold (audited, rate-limited) or pay-later limits")
def update_policy(policy_id: PolicyPath, req: PolicyUpdate, m: MerchantPrincipal = Depends(merchant),
                  ctx: ServiceContext = Depends(get_context)) -> PolicyOut:
    return policies.update(ctx, m, policy_id, req)


@router.post("/decisions", response_model=DecisionResponse, response_model_exclude_none=True,
             responses={**BODY, 403: P, 404: P, 429: P,
                        409: {**P, "description": "transaction-conflict: this transaction id was used for a "
                              "different request within the replay window; consent-used: the per-order consent "
                              "covering this request was used by an earlier decision (one decision each)"}},
             summary="Decide about a person under a policy; needs the person's consent")
def decide(req: DecisionRequest, m: MerchantPrincipal = Depends(merchant),
           ctx: ServiceContext = Depends(get_context)) -> DecisionResponse:
    return decisions.decide(ctx, m, req)


@router.post("/events", response_model=EventAck, status_code=201, responses={**BODY, 403: P, 404: P, 409: P},
             summary="Report a fulfilment outcome; the person is re-scored")
def report_event(req: EventReport, m: MerchantPrincipal = Depends(merchant),
                 ctx: ServiceContext = Depends(get_context)) -> EventAck:
    return events.report(ctx, m, req)
