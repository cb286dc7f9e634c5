"""What every request handler needs, built once per application: settings, database, keys, scorer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from deepcredit.models.scale import DEFAULT_BANDS as SCALE_BANDS
from deepcredit.service.answers import AnswerCache
from deepcredit.service.audit import AuditLog
from deepcredit.service.config import Settings
from deepcredit.service.keycheck import check_key
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.problems import Problem
from deepcredit.service.scoring import Scorer
from deepcredit.service.store import Database
from deepcredit.service.store.models import Meta

DEFAULT_BANDS = list(SCALE_BANDS)


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    pseudonym: Pseudonymiser
    audit: AuditLog
    scorer: Scorer | None = None
    bands: list[tuple[str, int]] | None = None
    neighbours: Any = None
    """neighbours.NeighbourQueue: re-scores a person's connections after their record changed."""
    answers: AnswerCache = field(default_factory=AnswerCache)
    """The what-if and records answers, kept until the person's score changes (answers.py)."""
    models: Any = None
    """served_model.ServedModel: swaps in a model promoted while the service runs (None: never swapped)."""

    def now(self) -> datetime:
        return self.settings.clock.now()

    def serve(self, scorer: Scorer | None) -> None:
        """Serve this scorer, with its scale's bands (the default bands where it has no scale)."""
        self.scorer, self.bands = scorer, scale_bands(scorer)

    def band_names(self) -> list[str]:
        return [n for n, _ in (self.bands or DEFAULT_BANDS)]

    def refused(self, actor: str, action: str, subject: str | None, problem: Problem, **details: object) -> Problem:
        """Audit a refusal (reason: the problem's kind) in a transaction of its own, and give the problem back to
        raise: a refusal raised inside a write transaction rolls it back, its audit row with it, so the row is
        written here, after that transaction ended. details: ids and pseudonyms only, never what was sent."""
        with self.db.write() as s:
            self.audit.append(s, self.now(), actor, action, subject, reason=problem.kind, **details)
        return problem

    @contextmanager
    def refusals_audited(self, actor: str, action: str, subject: str | None = None,
                         **details: object) -> Iterator[None]:
        """Every refusal (a Problem) raised in the block is audited by `refused`, then raised: one mechanism for a
        service function whose every refusal is an audited action, wherever in it the refusal is found."""
        try:
            yield
        except Problem as problem:
            self.refused(actor, action, subject, problem, **details)
            raise


def scale_bands(scorer: Scorer | None) -> list[tuple[str, int]] | None:
    """A scorer's own bands (None where it has no scale): what a request that holds a scorer reads, rather
    than ctx.bands, which a promoted model's swap may change between the two reads."""
    scale = getattr(scorer, "scale", None)
    return [(n, int(b)) for n, b in scale.bands] if scale is not None else None


def make_context(settings: Settings, db: Database | None = None) -> ServiceContext:
    pseudonym = Pseudonymiser(settings.pseudonym_key)
    return ServiceContext(settings=settings, db=db or Database(settings.database_url), pseudonym=pseudonym,
                          audit=AuditLog(pseudonym.derive("audit-chain")))


def checked_key(ctx: ServiceContext) -> None:
    """Refuse to go on under a pseudonym key other than the database's (keycheck.py): a KeyMismatch."""
    check_key(ctx.db, ctx.pseudonym, ctx.audit)


def get_context(request: Request) -> ServiceContext:
    """The application's context, its served model first brought up to date (served_model.py: a look at
    the meta table at most once every few seconds, a clock reading otherwise)."""
    ctx: ServiceContext = request.app.state.ctx
    if ctx.models is not None:
        ctx.models.poll()
    return ctx


def read_meta(ctx: ServiceContext) -> dict[str, str]:
    with ctx.db.read() as s:
        return {m.key: m.value for m in s.query(Meta).all()}


def sync_clock(ctx: ServiceContext) -> None:
    """Use the clock offset serve-init recorded (historical data), unless a clock was set explicitly."""
    if not ctx.db.initialised():
        return
    meta = read_meta(ctx)
    offset = meta.get("clock_offset_seconds")
    if offset and ctx.settings.clock.offset == timedelta(0):
        ctx.settings.clock.offset = timedelta(seconds=float(offset))
    if meta.get("time_zone") and ctx.settings.clock.zone is None:
        ctx.settings.clock.zone = meta["time_zone"]


@contextmanager
def served_context(settings: Settings) -> Iterator[tuple[ServiceContext, dict[str, str]]]:
    """The context of a service `serve-init` has set up, on its clock, and its meta table, for one operator
    command; a ValueError that says what to run where there is none. The database is disposed of after,
    whatever happens."""
    ctx = make_context(settings)
    try:
        if not ctx.db.initialised():
            raise ValueError(f"no service database at {ctx.db.url.render_as_string()}: run serve-init first")
        checked_key(ctx)
        sync_clock(ctx)
        meta = read_meta(ctx)
        if "data_dir" not in meta:
            raise ValueError("the service has no data set yet: run serve-init first")
        yield ctx, meta
    finally:
        ctx.db.dispose()


def write_meta(ctx: ServiceContext, values: dict[str, str]) -> None:
    with ctx.db.write() as s:
        for k, v in values.items():
            s.merge(Meta(key=k, value=str(v)))
