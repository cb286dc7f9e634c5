"""A person's routes: their report (JSON and HTML), the records behind their score, their consents and their
disputes. A token reads only its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from deepcredit.service import alerts, consent, disputes, export, records, recourse, report
from deepcredit.service.auth import PersonPrincipal, person
from deepcredit.service.context import ServiceContext, get_context
from deepcredit.service.history import spec_of
from deepcredit.service.problems import Problem, forbidden
from deepcredit.service.routes import BODY, COMMON, PAGE, ConsentPath, P, WebhookPath
from deepcredit.service.schemas import (
    RFC3339,
    AlertsOut,
    ConsentCreate,
    ConsentOut,
    DeletionOut,
    DisputeCreate,
    DisputeOut,
    ExportOut,
    Page,
    PersonReport,
    RecordsOut,
    RecourseOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)

T = TypeVar("T")
log = logging.getLogger("deepcredit.service")
router = APIRouter(prefix="/v1", tags=["person"], responses=COMMON)
HTML_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _audited(ctx: ServiceContext, subject: str, action: str, fmt: str | None, build: Callable[[ServiceContext, str], T]
             ) -> T:
    """`build(ctx, subject)`, then its audit row (with the format, where the route has one).

    Built first so a failing read leaves no audit row claiming the person saw something.
    """
    out = build(ctx, subject)
    details = {} if fmt is None else {"format": fmt}
    with ctx.db.write() as s:
        ctx.audit.append(s, ctx.now(), "person", action, subject, **details)
    return out


def refused_access(ctx: ServiceContext, subject: str, what: str, reason: str) -> None:
    """Audit a person's attempt at another person's data, under the caller's own pseudonym only (whose data
    they tried is not written: the row names no one else)."""
    with ctx.db.write() as s:
        ctx.audit.append(s, ctx.now(), "person", "access_refused", subject, what=what, reason=reason)


def _viewed(ctx: ServiceContext, subject: str, fmt: str, events_page: int = 1, accesses_page: int = 1
            ) -> PersonReport:
    return _audited(ctx, subject, "report_viewed", fmt, lambda c, s: report.build(c, s, events_page, accesses_page))


EVENTS_PAGE = Query(1, ge=1, le=100_000, description=f"Page of my records (`events`), 1 = the newest; "
                    f"{report.MAX_EVENTS} a page (`events_held` and `events_pages` say how many there are)")
ACCESSES_PAGE = Query(1, ge=1, le=100_000, description=f"Page of the looks at my data (`accesses`), 1 = the newest; "
                      f"{report.MAX_ACCESSES} a page (`accesses_held` and `accesses_pages` say how many there are)")


@router.get("/me/report", response_model=PersonReport, summary="My report: score, dimensions, reasons, history, "
            "who asked, data used")
def my_report(events_page: int = EVENTS_PAGE, accesses_page: int = ACCESSES_PAGE, p: PersonPrincipal = Depends(person),
              ctx: ServiceContext = Depends(get_context)) -> PersonReport:
    return _viewed(ctx, p.subject, "json", events_page, accesses_page)


@router.get("/me/report.html", response_class=HTMLResponse, responses=PAGE, summary="My report as a web page")
def my_report_html(history_page: int = Query(1, ge=1, le=100_000, description="Page of the history table, 1 = newest"),
                   events_page: int = EVENTS_PAGE, accesses_page: int = ACCESSES_PAGE,
                   p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> HTMLResponse:
    viewed = _viewed(ctx, p.subject, "html", events_page, accesses_page)
    try:
        plan: RecourseOut | None = recourse.person_recourse(ctx, p.subject)
    except Exception as exc:  # noqa: BLE001 - the page shows everything else; the what-if says it is unavailable
        log.error("what-if for the report page failed (%s)", type(exc).__name__)
        plan = None
    spec = spec_of(ctx.scorer)
    takes_records = spec is None or spec.events is not None
    costly: RecordsOut | None = None
    if takes_records:
        try:
            costly = records.person_records(ctx, p.subject)
        except Exception as exc:  # noqa: BLE001 - as the what-if: the page says this part is unavailable
            log.error("records behind the score for the report page failed (%s)", type(exc).__name__)
    return HTMLResponse(report.render_html(viewed, history_page, plan, ctx.settings.clock.zone, takes_records,
                                           costly), headers=HTML_HEADERS)


@router.get("/me/recourse", response_model=RecourseOut, responses={501: P},
            summary="What would raise me to the next band: the smallest plan of future behaviour, re-scored by the "
                    "model")
def my_recourse(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> RecourseOut:
    return _audited(ctx, p.subject, "recourse_viewed", None, recourse.person_recourse)


@router.get("/me/records", response_model=RecordsOut, responses={501: P},
            summary="My records that cost me most: each left out in turn and re-scored by the model")
def my_records(top: int = Query(records.SHOWN, ge=1, le=20, description="How many records to show, costliest first"),
               p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> RecordsOut:
    return _audited(ctx, p.subject, "records_viewed", None, lambda c, s: records.person_records(c, s, top))


@router.get("/people/{person_id}/report", response_model=PersonReport, responses={403: P},
            summary="A report by person id: only the person themself may read it")
def report_by_id(person_id: Annotated[str, Path(min_length=1, max_length=200)], events_page: int = EVENTS_PAGE,
                 accesses_page: int = ACCESSES_PAGE,
                 p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> PersonReport:
    if ctx.pseudonym(person_id) != p.subject:
        refused_access(ctx, p.subject, "report", "not-your-report")
        raise forbidden("not-your-report", "a person token reads only its own person's report")
    return _viewed(ctx, p.subject, "json", events_page, accesses_page)


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
def revoke(consent_id: ConsentPath, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
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


def iso_datetime(value: str, name: str) -> datetime:
    """An RFC 3339 date-time with its offset (what the schema promises), else a 422 naming the parameter."""
    try:
        if RFC3339.match(value):
            return datetime.fromisoformat(value)
    except ValueError:
        pass
    raise Problem(422, "invalid-parameter", f"query parameter '{name}' must be an RFC 3339 date-time with an offset")


@router.get("/me/alerts", response_model=AlertsOut,
            summary="My alerts: score and band changes, every merchant query, dispute updates (newest first), "
                    "a page at a time")
def my_alerts(since: str | None = Query(None, description="Only alerts after this time (ISO 8601, e.g. "
                                                          "2026-01-31T12:00:00Z)", json_schema_extra={"format": "date-time"}),
              limit: int = Query(100, ge=1, le=1000, description="Alerts a page"),
              alerts_page: int = Query(1, ge=1, le=100_000, description="Page of my alerts (`alerts`), 1 = the "
                                       "newest; `limit` a page (`alerts_held` and `alerts_pages` say how many there "
                                       "are)"),
              p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> AlertsOut:
    after = ctx.settings.clock.naive(iso_datetime(since, "since")) if since is not None else None
    held = alerts.feed(ctx, p.subject, since=after, limit=None)  # built whole either way (alerts.py)
    page = Page.of(len(held), alerts_page, limit)
    shown = held[page.start:page.start + page.size]
    return AlertsOut(alerts=shown, **page.fields("alerts", len(shown)))


@router.post("/me/webhooks", response_model=WebhookCreated, status_code=201, responses={**BODY, 403: P, 409: P},
             summary="Register a webhook for my alerts; its signing secret is in the answer, once")
def add_webhook(req: WebhookCreate, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                ) -> WebhookCreated:
    return alerts.register(ctx, p.subject, req.url)


@router.get("/me/webhooks", response_model=list[WebhookOut], summary="My webhooks")
def my_webhooks(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                ) -> list[WebhookOut]:
    return alerts.list_for(ctx, p.subject)


@router.delete("/me/webhooks/{webhook_id}", response_model=WebhookOut, responses={404: P},
               summary="Stop a webhook")
def remove_webhook(webhook_id: WebhookPath, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                   ) -> WebhookOut:
    return alerts.revoke(ctx, p.subject, webhook_id)


@router.get("/me/export", response_model=ExportOut, summary="Everything held about me, as JSON (profile, events, "
            "relations, scores, accesses, consents, disputes, webhooks, alerts)")
def my_export(response: Response, p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
              ) -> ExportOut:
    response.headers["Cache-Control"] = "no-store"
    return ExportOut(**_audited(ctx, p.subject, "export_downloaded", "json", export.collect))


@router.get("/me/export.zip", summary="Everything held about me, as CSV files (and the JSON) in a zip",
            response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def my_export_zip(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)) -> Response:
    return Response(_audited(ctx, p.subject, "export_downloaded", "zip", export.zip_of), media_type="application/zip",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": 'attachment; filename="deepcredit-export.zip"'})


@router.post("/me/deletion", response_model=DeletionOut,
             summary="Delete what no retention rule requires; the answer says what is kept and why")
def request_deletion(p: PersonPrincipal = Depends(person), ctx: ServiceContext = Depends(get_context)
                     ) -> DeletionOut:
    return DeletionOut(**export.delete_optional(ctx, p.subject))
