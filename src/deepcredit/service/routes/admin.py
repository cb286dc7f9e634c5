"""Operator routes (admin key from the environment): merchants and keys, person tokens, disputes, erasure,
audit check."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select, update

from deepcredit.service import disputes, erasure
from deepcredit.service.auth import AdminPrincipal, admin, issue_merchant_key
from deepcredit.service.context import ServiceContext, get_context
from deepcredit.service.enrolment import create_merchant, create_person_token, merchant_out
from deepcredit.service.problems import not_found
from deepcredit.service.routes import BODY, COMMON, DisputePath, P, PathId
from deepcredit.service.schemas import (
    AuditVerifyOut,
    DisputeCase,
    DisputeOut,
    DisputeResolve,
    DisputeState,
    ErasureCreate,
    ErasureOut,
    MerchantCreate,
    MerchantKeyOut,
    MerchantOut,
    PersonTokenCreate,
    PersonTokenOut,
)
from deepcredit.service.store.models import ApiKey, Merchant

router = APIRouter(prefix="/v1/admin", tags=["operator"], responses=COMMON)


@router.post("/merchants", response_model=MerchantKeyOut, status_code=201, responses={**BODY, 409: P},
             summary="Register a merchant; its API key is in the answer, once")
def add_merchant(req: MerchantCreate, _: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
                 ) -> MerchantKeyOut:
    return create_merchant(ctx, req.name)


@router.get("/merchants", response_model=list[MerchantOut], summary="List merchants")
def list_merchants(_: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
                   ) -> list[MerchantOut]:
    with ctx.db.read() as s:
        return [merchant_out(m) for m in s.execute(select(Merchant).order_by(Merchant.id)).scalars()]


@router.post("/merchants/{merchant_id}/keys", response_model=MerchantKeyOut, status_code=201, responses={404: P},
             summary="Rotate a merchant's key: every earlier key stops working")
def rotate_key(merchant_id: PathId, _: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
               ) -> MerchantKeyOut:
    now = ctx.now()
    with ctx.db.write() as s:
        m = s.get(Merchant, merchant_id)
        if m is None:
            raise not_found("merchant")
        s.execute(update(ApiKey).where(ApiKey.merchant_id == m.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
        key = issue_merchant_key(s, m, now)
        ctx.audit.append(s, now, "operator", "merchant_key_rotated", None, merchant=m.id)
        return MerchantKeyOut(merchant=merchant_out(m), api_key=key)


@router.post("/merchants/{merchant_id}/disable", response_model=MerchantOut, responses={404: P},
             summary="Disable a merchant: its keys stop working and nobody can grant it consent")
def disable(merchant_id: PathId, _: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
            ) -> MerchantOut:
    now = ctx.now()
    with ctx.db.write() as s:
        m = s.get(Merchant, merchant_id)
        if m is None:
            raise not_found("merchant")
        m.active = False
        ctx.audit.append(s, now, "operator", "merchant_disabled", None, merchant=m.id)
        return merchant_out(m)


@router.post("/person-tokens", response_model=PersonTokenOut, status_code=201,
             responses={**BODY, 404: P, 409: P},
             summary="Issue a person a token to read their report (for sign-in integrations and demos); their "
                     "earlier tokens stop working")
def person_token(req: PersonTokenCreate, _: AdminPrincipal = Depends(admin),
                 ctx: ServiceContext = Depends(get_context)) -> PersonTokenOut:
    return create_person_token(ctx, req.person_id, req.days)


@router.post("/erasures", response_model=ErasureOut, status_code=201, responses={**BODY, 404: P, 409: P},
             summary="Erase a person: every row held about them, and their data set rows from then on")
def erase_person(req: ErasureCreate, _: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
                 ) -> ErasureOut:
    done = erasure.erase(ctx, ctx.pseudonym(req.person_id))
    return ErasureOut(erased_at=done.erased_at, deleted=done.deleted)


@router.get("/disputes", response_model=list[DisputeOut], summary="Disputes, optionally by state; overdue flagged")
def list_disputes(state: DisputeState | None = Query(None), _: AdminPrincipal = Depends(admin),
                  ctx: ServiceContext = Depends(get_context)) -> list[DisputeOut]:
    with ctx.db.read() as s:
        return disputes.list_for(s, ctx, state=state.value if state else None)


@router.get("/disputes/{dispute_id}", response_model=DisputeCase, responses={404: P},
            summary="One dispute with the person's reason (the reading is audited and shown to the person)")
def read_dispute(dispute_id: DisputePath, _: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
                 ) -> DisputeCase:
    return disputes.case(ctx, dispute_id)


@router.post("/disputes/{dispute_id}/review", response_model=DisputeOut, responses={404: P, 409: P},
             summary="Take an open dispute under review")
def review(dispute_id: DisputePath, _: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)
           ) -> DisputeOut:
    return disputes.review(ctx, dispute_id)


@router.post("/disputes/{dispute_id}/resolve", response_model=DisputeOut, responses={**BODY, 404: P, 409: P},
             summary="Correct (and re-score) or uphold a dispute under review")
def resolve(dispute_id: DisputePath, req: DisputeResolve, _: AdminPrincipal = Depends(admin),
            ctx: ServiceContext = Depends(get_context)) -> DisputeOut:
    return disputes.resolve(ctx, dispute_id, req)


@router.get("/audit/verify", response_model=AuditVerifyOut, summary="Verify the audit log's hash chain")
def verify(_: AdminPrincipal = Depends(admin), ctx: ServiceContext = Depends(get_context)) -> AuditVerifyOut:
    with ctx.db.read() as s:
        r = ctx.audit.verify(s)
    return AuditVerifyOut(ok=r.ok, rows=r.rows, head_seq=r.head_seq, head_mac=r.head_mac, problems=r.problems)
