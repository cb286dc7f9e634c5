"""The FastAPI application: routes under /v1, problem-details errors, privacy-safe request logs.

    create_app(settings)            the service as `deepcredit serve` runs it (scorer from the database's meta)
    create_app(settings, scorer=s)  with a given Scorer (tests, other model kinds)

Request logs carry the route *template* (`/v1/people/{person_id}/report`), the status and the latency:
never a path parameter, a query string or a body, so no person id reaches a log line. Uvicorn's own access
log (which prints raw paths) is switched off by `deepcredit serve`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fastapi import Depends, FastAPI

from deepcredit import __version__
from deepcredit.service import problems
from deepcredit.service.config import Settings
from deepcredit.service.context import ServiceContext, get_context, make_context, read_meta, sync_clock
from deepcredit.service.neighbours import neighbour_queue
from deepcredit.service.routes import admin, merchant, person
from deepcredit.service.schemas import Health
from deepcredit.service.scoring import Scorer
from deepcredit.service.store import Database

log = logging.getLogger("deepcredit.service.access")


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
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            log.info("%s %s %d %.1fms", scope["method"], template, status[0], 1000 * (time.perf_counter() - start))


def build_scorer(ctx: ServiceContext) -> Scorer | None:
    """The scorer `serve-init` recorded in the database (data set copy + model artifact), if any."""
    from deepcredit.data.dataset import Dataset
    from deepcredit.service.events import overlay_source
    from deepcredit.service.scoring import load_scorer

    meta = read_meta(ctx)
    if "data_dir" not in meta or "model_path" not in meta:
        return None
    return load_scorer(Path(meta["model_path"]), Dataset(meta["data_dir"]), overlay_source(ctx.db))


def create_app(settings: Settings, scorer: Scorer | None = None, db: Database | None = None,
               load_scorer_from_meta: bool = True) -> FastAPI:
    ctx = make_context(settings, db)
    ctx.db.create_all()
    sync_clock(ctx)
    if scorer is None and load_scorer_from_meta:
        scorer = build_scorer(ctx)
    ctx.scorer = scorer
    if scorer is not None and hasattr(scorer, "neighbourhood"):
        ctx.neighbours = neighbour_queue(ctx)
    scale = getattr(scorer, "scale", None)
    if scale is not None:
        ctx.bands = [(n, int(b)) for n, b in scale.bands]
    app = FastAPI(
        title="DeepCredit scoring service", version=__version__,
        description="Merchants ask about a person only with that person's consent; people see who asked, why "
                    "their score is what it is, and dispute what is wrong. Every access is in a hash-chained "
                    "audit log. Errors are RFC 9457 problem details.",
        openapi_tags=[{"name": "merchant", "description": "API key of a registered merchant."},
                      {"name": "person", "description": "A person's own token."},
                      {"name": "operator", "description": "The operator (admin) key."}])
    app.state.ctx = ctx
    problems.install(app)
    app.include_router(merchant.router)
    app.include_router(person.router)
    app.include_router(admin.router)

    @app.get("/v1/health", response_model=Health, tags=["health"], summary="Liveness and what is served")
    def health(c: ServiceContext = Depends(get_context)) -> Health:
        return Health(status="ok", version=__version__, database=c.db.url.get_backend_name(),
                      model_id=getattr(c.scorer, "model_id", None))

    app.add_middleware(RouteLog)
    return app


def app_from_env() -> FastAPI:
    """The application uvicorn builds in each worker (`deepcredit serve`), configured from DEEPCREDIT_*."""
    return create_app(Settings.from_env())
