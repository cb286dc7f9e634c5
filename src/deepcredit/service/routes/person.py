"""A person's routes: their report (JSON and HTML), their consents and their disputes. A token reads only its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from deepcredit.service import consent, disputes, report
from deepcredit.service.auth import PersonPrincipal, person
from deepcredit.service.context import ServiceContext, get_context
from deepcredit.service.problems import forbidden
from deepcredit.service.routes import BODY, COMMON, P, PathId
from deepcredit.service.schemas import (
    ConsentCreate,
    ConsentOut,
    DisputeCreate,
    DisputeOut,
    PersonReport,
)

router = APIRouter(prefix="/v1", tags=["person"], responses=COMMON)
HTML_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _viewed(ctx: ServiceContext, subject: str, fmt: str) -> PersonReport:
    out = report.build(ctx, subject)
    with ctx.db.write() as s:
        ctx.audit.append(s, ctx.now(), "person", "report_viewed", subject, format=fmt)
    return out


@router.get("/me/report", response_model=PersonReport, summary="My report: score, dimensions, reasons, history, "
            "who asked, data used")
def my_report(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> PersonReport:
    return _viewed(ctx, p.subject, "json")


@router.get("/me/report.html", response_class=HTMLResponse, summary="My report as a web page")
def my_report_html(history_page: int = Query(1, ge=1, le=100_000, description="Page of the history table, 1 = newest"),
                   p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> HTMLResponse:
    return HTMLResponse(report.render_html(_viewed(ctx, p.subject, "html"), history_page), headers=HTML_HEADERS)


@router.get("/people/{person_id}/report", response_model=PersonReport, responses={403: P},
            summary="A report by person id: only the person themself may read it")
def report_by_id(person_id: Annotated[str, Path(min_length=1, max_length=200)], p: PersonPrincipal = Depends(person),
                 ctx: ServiceContext = Depends(get_context)) -> PersonReport:
    if ctx.pseudonym(person_id) != p.subject:
        raise forbidden("not-your-report", "a person token reads only its own person's report")
    return _viewed(ctx, p.subject, "json")


@router.get("/me/consents", response_model=list[ConsentOut], summary="My consents, active or not")
def my_consents(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                ) -> list[ConsentOut]:
    with ctx.db.read() as s:
        return consent.list_for(ctx, s, p.subject)


@router.post("/me/consents", response_model=ConsentOut, status_code=201, responses={**BODY, 404: P},
             summary="Grant a merchant a scope for a purpose until an expiry")
def grant(req: ConsentCreate, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
          ) -> ConsentOut:
    return consent.grant(ctx, p.subject, req)


@router.delete("/me/consents/{consent_id}", response_model=ConsentOut, responses={404: P},
               summary="Revoke a consent (takes effect at once, replays included)")
def revoke(consent_id: PathId, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
           ) -> ConsentOut:
    return consent.revoke(ctx, p.subject, consent_id)


@router.get("/me/disputes", response_model=list[DisputeOut], summary="My disputes")
def my_disputes(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                ) -> list[DisputeOut]:
    with ctx.db.read() as s:
        return disputes.list_for(s, ctx, subject=p.subject)


@router.post("/me/disputes", response_model=DisputeOut, status_code=201, responses={**BODY, 404: P, 409: P},
             summary="Flag one of my records as wrong")
def open_dispute(req: DisputeCreate, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                 ) -> DisputeOut:
    return disputes.open_dispute(ctx, p.subject, req)
