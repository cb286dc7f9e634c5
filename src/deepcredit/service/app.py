"""The FastAPI application: routes under /v1, problem-details errors, privacy-safe request logs.

    create_app(settings)            the service as `deepcredit serve` runs it (scorer from the database's meta)
    create_app(settings, scorer=s)  with a given Scorer (tests, other model kinds)

Request logs carry the route *template* (`/v1/people/{person_id}/report`), the status and the latency:
never a path parameter, a query string or a body, so no person id reaches a log line. Uvicorn's own access
log (which prints raw paths) is switched off by `deepcredit serve`.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator

from fastapi import Depends, FastAPI

from deepcredit import __version__
from deepcredit.data.schema import REPORTED_OUTCOMES
from deepcredit.service import problems
from deepcredit.service.alerts import Dispatcher
from deepcredit.service.bootstrap import build_scorer
from deepcredit.service.challenger import unfinished_promotion
from deepcredit.service.config import Settings
from deepcredit.service.context import (
    ServiceContext,
    checked_key,
    get_context,
    make_context,
    read_meta,
    sync_clock,
)
from deepcredit.service.events import unreported_outcomes
from deepcredit.service.history import correctable_statuses, spec_of
from deepcredit.service.limits import BodyLimit
from deepcredit.service.neighbours import neighbour_queue
from deepcredit.service.routes import PROBLEM, admin, merchant, person
from deepcredit.service.schemas import INT64_MAX, SERVICE_ZONE, Health, ProblemDetail
from deepcredit.service.scoring import Scorer
from deepcredit.service.served_model import ServedModel
from deepcredit.service.store import Database

log = logging.getLogger("deepcredit.service.access")
service_log = logging.getLogger("deepcredit.service")


class ServiceZone:
    """ASGI middleware: each request's responses give the service's naive times as the instants they are
    in its zone (schemas.SERVICE_ZONE; the clock's zone is known once the context has synced it)."""

    def __init__(self, app, ctx: ServiceContext) -> None:
        self.app, self.ctx = app, ctx

    async def __call__(self, scope, receive, send):
        token = SERVICE_ZONE.set(self.ctx.settings.clock.zone)
        try:
            await self.app(scope, receive, send)
        finally:
            SERVICE_ZONE.reset(token)


class RouteLog:
    """ASGI middleware: one log line per request with the matched route template, never the raw path."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def _send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            log.info("%s %s %d %.1fms", scope["method"], _logged_path(scope), status[0],
                     1000 * (time.perf_counter() - start))


def _logged_path(scope) -> str:
    """An API route's template; the path itself only for a matched route without parameters (the OpenAPI
    document, the docs page), whose path is its template; else "(unmatched)": an unknown path may hold an id."""
    route = scope.get("route")
    if route is not None:
        return route.path
    if "endpoint" in scope and not scope.get("path_params"):
        return scope["path"]
    return "(unmatched)"


Link = tuple[str, str, dict[str, str] | None, dict[str, str] | None]
"""An OpenAPI link's target: method, path, parameters and request body (None: none)."""

LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    # (source method, path, status) -> {link name: (target method, path, parameters, request body)}
    ("post", "/v1/policies", "201"): {
        "DecideUnderThePolicy": ("post", "/v1/decisions", None, {"policy": "$response.body#/name"}),
        "ChangeThePolicy": ("patch", "/v1/policies/{policy_id}", {"path.policy_id": "$response.body#/id"}, None)},
    ("post", "/v1/decisions", "200"): {
        "ReportTheOutcome": ("post", "/v1/events", None, {"decision_id": "$response.body#/decision_id",
                                                          "person_id": "$request.body#/person_id"}),
        "ReplayTheDecision": ("post", "/v1/decisions", None, {"transaction_id": "$response.body#/transaction_id"})},
    ("post", "/v1/events", "201"): {
        "DisputeTheEvent": ("post", "/v1/me/disputes", None, {"event_id": "$response.body#/event_id"})},
    ("post", "/v1/me/consents", "201"): {
        "RevokeTheConsent": ("delete", "/v1/me/consents/{consent_id}", {"path.consent_id": "$response.body#/id"},
                             None)},
    ("post", "/v1/admin/merchants", "201"): {
        "RotateTheKey": ("post", "/v1/admin/merchants/{merchant_id}/keys",
                         {"path.merchant_id": "$response.body#/merchant/id"}, None),
        "DisableTheMerchant": ("post", "/v1/admin/merchants/{merchant_id}/disable",
                               {"path.merchant_id": "$response.body#/merchant/id"}, None)},
    ("post", "/v1/me/disputes", "201"): {
        "ReviewTheDispute": ("post", "/v1/admin/disputes/{dispute_id}/review",
                             {"path.dispute_id": "$response.body#/id"}, None)},
    ("post", "/v1/admin/disputes/{dispute_id}/review", "200"): {
        "ResolveTheDispute": ("post", "/v1/admin/disputes/{dispute_id}/resolve",
                              {"path.dispute_id": "$response.body#/id"}, None)},
}
"""How one answer leads to the next request (OpenAPI links): the journeys, and what stateful fuzzing follows."""


def _add_links(doc: dict) -> None:
    paths = doc.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (t_method, t_path, params, body) in links.items():
            target = paths.get(t_path, {}).get(t_method)
            if target is None:
                continue
            link = {"operationId": target["operationId"]}
            link.update({"parameters": params} if params else {})
            link.update({"requestBody": body} if body else {})
            response.setdefault("links", {})[name] = link


def _set_threshold_step(schemas: dict, step: int) -> None:
    for name in ("ThresholdPolicyCreate", "ThresholdUpdate"):
        prop = schemas.get(name, {}).get("properties", {}).get("threshold", {})
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "integer":
                option["multipleOf"] = step


def _set_band_names(schemas: dict, bands: list[str]) -> None:
    for name in ("PayLaterPolicyCreate", "LimitsUpdate"):
        prop = schemas.get(name, {}).get("properties", {}).get("limits", {})
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "object":
                option["propertyNames"] = {"enum": bands}
                option["required"] = list(bands)  # a band left out would be declined in silence


def _set_statuses(schemas: dict, statuses: frozenset[str]) -> None:
    """A corrected status is one of the served data set's own (its spec's words); a data set without events
    has none, which the document says in words (an empty enum would be no schema at all)."""
    prop = schemas.get("RestatusCorrection", {}).get("properties", {}).get("status")
    if prop is None:
        return
    if statuses:
        prop["enum"] = sorted(statuses)
    else:
        prop["description"] = "This service's data set holds no events, so no status can be corrected."


def _set_outcomes(doc: dict, accepted: set[str]) -> None:
    """The reported outcomes a merchant may send are those the served data set can hold (its spec says what
    they are in its own words); the others are refused with 422 outcome-not-declared, so the document leaves
    them out. A data set that can hold none keeps the full list (a body no schema accepts would leave the
    operation undocumented): its document says so in words instead, in its description and the operation's."""
    schemas = doc.get("components", {}).get("schemas", {})
    if not accepted:
        words = ("This service's data set declares no outcome a merchant may report (its spec has no "
                 "[events.outcomes]), so every report to /v1/events is refused with 422 outcome-not-declared.")
        doc.setdefault("info", {})["description"] = f"{doc['info'].get('description', '')} {words}".strip()
        for path, item in doc.get("paths", {}).items():
            if path.endswith("/events") and "post" in item:
                item["post"]["description"] = f"{words}\n\n{item['post'].get('description', '')}".strip()
        return
    for node in _nodes(doc):
        disc = node.get("discriminator") if isinstance(node.get("oneOf"), list) else None
        if not disc or disc.get("propertyName") != "outcome" or not set(disc.get("mapping", {})) <= set(REPORTED_OUTCOMES):
            continue
        mapping = {k: ref for k, ref in disc["mapping"].items() if k in accepted}
        if not mapping:
            continue
        disc["mapping"] = mapping
        node["oneOf"] = [o for o in node["oneOf"] if o.get("$ref") in mapping.values()]
        for ref in set(mapping.values()):
            prop = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}).get("outcome", {})
            if "enum" in prop:
                prop["enum"] = [v for v in prop["enum"] if v in accepted]


def _nodes(node: object) -> Iterator[dict]:
    """Every mapping in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _nodes(v)
    elif isinstance(node, list):
        for v in node:
            yield from _nodes(v)


def _integer_bounds(doc: dict) -> None:
    """Integer bounds as integers: pydantic writes them as floats here, and float(2**63 - 1) is 2**63."""
    for node in _nodes(doc):
        if node.get("type") == "integer":
            for k in ("minimum", "maximum"):
                if isinstance(node.get(k), float):
                    node[k] = INT64_MAX if node[k] >= INT64_MAX else int(node[k])


def _document(app: FastAPI, ctx: ServiceContext) -> None:
    """The OpenAPI document states what comes from settings and the model (threshold step, band names, body
    limit) and the links between operations, so a body the document accepts is not refused for its shape."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = build()
            schemas = doc.get("components", {}).get("schemas", {})
            _set_threshold_step(schemas, ctx.settings.threshold_step)
            _set_band_names(schemas, ctx.band_names())
            _set_statuses(schemas, correctable_statuses(spec_of(ctx.scorer)))
            _set_outcomes(doc, set(REPORTED_OUTCOMES) - set(unreported_outcomes(spec_of(ctx.scorer))))
            _add_links(doc)
            schemas.setdefault(PROBLEM, ProblemDetail.model_json_schema())  # what routes' errors refer to
            _integer_bounds(doc)
            doc["info"]["description"] += (f" Request bodies above {ctx.settings.max_body_bytes:,} bytes are "
                                           "refused (413) before they are read.")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents replacing openapi per instance


def serving_context(settings: Settings, scorer: Scorer | None = None, db: Database | None = None,
                    load_scorer_from_meta: bool = True) -> ServiceContext:
    """The context the service (and a CLI command acting as it) runs with: database, clock, scorer, bands."""
    ctx = make_context(settings, db)
    ctx.db.create_all()
    checked_key(ctx)
    sync_clock(ctx)
    if scorer is None and load_scorer_from_meta:
        scorer = build_scorer(ctx)
    ctx.serve(scorer)
    ctx.models = ServedModel(ctx, settings.model_check_s)  # a model promoted meanwhile is adopted (served_model.py)
    note = unfinished_promotion(read_meta(ctx))
    if note is not None:  # told at start-up: a promotion killed part-way is otherwise silent
        service_log.warning(note)
    return ctx


def _derive(app: FastAPI, ctx: ServiceContext) -> None:
    """What the application derives from the served scorer, again after a swap: a neighbour queue where
    it reads connections, the OpenAPI document (built anew from the scorer's bands and spec when asked)."""
    if ctx.neighbours is None and ctx.scorer is not None and hasattr(ctx.scorer, "neighbourhood"):
        ctx.neighbours = neighbour_queue(ctx)
    app.openapi_schema = None


def create_app(settings: Settings, scorer: Scorer | None = None, db: Database | None = None,
               load_scorer_from_meta: bool = True) -> FastAPI:
    ctx = serving_context(settings, scorer, db, load_scorer_from_meta)
    app = FastAPI(
        title="DeepCredit scoring service", version=__version__,
        description="Merchants ask about a person only with that person's consent; people see who asked, why "
                    "their score is what it is, and dispute what is wrong. Every access is in a hash-chained "
                    "audit log. Errors are RFC 9457 problem details.",
        openapi_tags=[{"name": "merchant", "description": "API key of a registered merchant."},
                      {"name": "person", "description": "A person's own token."},
                      {"name": "operator", "description": "The operator (admin) key."}])
    app.state.ctx = ctx
    _derive(app, ctx)
    ctx.models.on_swap = lambda: _derive(app, ctx)  # a promoted model (or new copy) adopted while this runs
    if settings.webhook_interval_s > 0:
        app.state.webhooks = Dispatcher(ctx, settings.webhook_interval_s).start()
    problems.install(app)
    app.include_router(merchant.router)
    app.include_router(person.router)
    app.include_router(admin.router)

    @app.get("/v1/health", response_model=Health, tags=["health"], summary="Liveness and what is served")
    def health(c: ServiceContext = Depends(get_context)) -> Health:
        """`promotion_unfinished` is read from the database on every call, never kept: another process
        (`model-promote`) may start or finish a promotion at any time, and the read is cheap (0.3 ms median of
        1,200 on SQLite, measured 2026-12-08). So is the audit head's one-row check (about 0.45 ms median on
        SQLite): a broken head fails every write with 500, and a health check must see it (`degraded`)."""
        with c.db.read() as s:
            intact = c.audit.head_intact(s)
        return Health(status="ok" if intact else "degraded", audit_head_intact=intact, version=__version__,
                      database=c.db.url.get_backend_name(),
                      model_id=getattr(c.scorer, "model_id", None), now=c.now(),
                      promotion_unfinished=unfinished_promotion(read_meta(c)))

    _document(app, ctx)
    app.add_middleware(ServiceZone, ctx=ctx)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RouteLog)
    return app


REFREEZE_AFTER_S = 30.0
"""After a promoted model is adopted, how long before what is alive is frozen again (settle)."""


def _collect_and_freeze() -> None:
    gc.collect()
    gc.freeze()


def settle(ctx: ServiceContext) -> None:
    """Once a serving process has loaded what it keeps (model, person index): warm the scorer, then move every
    object alive now out of the garbage collector's generations (gc.freeze).

    Why: a full collection walks every tracked object. With a 20,000-person world's index and a stack loaded
    that is several hundred thousand objects, and the collection that lands about once per hundred re-scores
    took 100-230 ms of that request. Frozen objects are never collected, so this is for a process that keeps
    them until it exits (a served worker, a benchmark), not for one that builds many apps (tests).
    """
    if ctx.scorer is not None:
        ctx.scorer.warm()
    _collect_and_freeze()


def app_from_env() -> FastAPI:
    """The application uvicorn builds in each worker (`deepcredit serve`), configured from DEEPCREDIT_*."""
    app = create_app(Settings.from_env())
    ctx = app.state.ctx
    settle(ctx)
    derive = ctx.models.on_swap

    def swapped() -> None:
        """A promoted model adopted (already warmed): the frozen objects, the old model's among them, go back
        to the collector, and what is alive a while later (the new model; no request still holds the old
        one by then) is frozen again. Freezing at once could freeze the old model for good, held by a
        request in flight."""
        derive()
        gc.unfreeze()
        refreeze = threading.Timer(REFREEZE_AFTER_S, _collect_and_freeze)
        refreeze.daemon = True
        refreeze.start()

    ctx.models.on_swap = swapped
    return app
