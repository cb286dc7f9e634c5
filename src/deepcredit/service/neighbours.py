"""Re-scoring a person's connections after their record changed: queued, off the request, bounded delay.

A reported event or a corrected dispute re-scores the person at once (events.rescore). Their connections'
scores can move too: social features read the neighbours' events, and a graph tower passes messages from
every node within its depth. Those people are queued here and re-scored by one background thread in
small batches, so the merchant's request does not wait for them; a connection whose score or sub-scores
changed gets a new score and a history entry with the cause CONNECTION_CHANGED ("a change in a
connection's record"), others are left as they are. The delay is the time the queue needs to drain:
`drain(timeout)` waits for it (tests).

The queue is also written to the database (pending_rescores, `PendingRescores`): a person leaves it only
once their re-score was stored, so a restart or a crash loses nobody; the next process that serves takes up
whoever is still listed (`resume`). The person whose own record changed is listed there too, in the very
transaction that stored the change, with their re-score's cause (events.list_rescore), and unlisted once it
is stored and their connections are queued (events.rescore): listed so at a start, they are re-scored with
that cause and their connections queued after (`rescore_listed`). A batch that fails stays listed for that
next start. With several worker processes each takes up the whole list at its start: a person may then be
re-scored twice, which stores nothing new the second time (only changed scores are stored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from deepcredit.data.schema import Dimension
from deepcredit.service.context import ServiceContext
from deepcredit.service.events import rescore, score_and_save
from deepcredit.service.scoring import GraphScorer
from deepcredit.service.store.models import ErasedSubject, PendingRescore, ScoreHistory

log = logging.getLogger(__name__)
CONNECTION_CHANGED = "a connection's record changed"
BATCH = 64
"""People re-scored per model run (one spine: their neighbourhoods are built together). A run's cost is
mostly fixed, so one run for a person's connections instead of two costs less: 1.24 times less work per
event than batches of 32 (median of 3 alternated runs, range 1.21-1.27; scripts/bench_connections.py,
docs/results/connections-batch-2026-12-06.json)."""


class Ledger(Protocol):
    """Where the queue is kept beyond the process (PendingRescores; none in a queue of tests)."""

    def add(self, subjects: Sequence[str]) -> None: ...

    def taken(self) -> datetime: ...

    def done(self, subjects: Sequence[str], taken: datetime) -> None: ...

    def listed(self) -> list[str]: ...


class NeighbourQueue:
    """A de-duplicating work queue with one daemon worker thread, started on first use."""

    def __init__(self, work: Callable[[list[str]], None], select: Callable[[str], list[str]],
                 batch: int = BATCH, ledger: Ledger | None = None) -> None:
        self.work, self.select, self.batch, self.ledger = work, select, batch, ledger
        self._pending: dict[str, None] = {}
        self._busy = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def after_change(self, subject: str) -> int:
        """Queue the connections whose score `subject`'s changed record can move; returns how many."""
        people = self.select(subject)
        if people:
            self.enqueue(people)
        return len(people)

    def enqueue(self, subjects: Sequence[str]) -> None:
        """Queue these people, listed in the ledger first (a process that dies before their re-score leaves
        them listed for the next)."""
        if self.ledger is not None:
            self.ledger.add(subjects)
        self._queue(subjects)

    def resume(self) -> int:
        """Take up the people the ledger still lists (queued by a process that stopped before their
        re-score); returns how many."""
        listed = self.ledger.listed() if self.ledger is not None else []
        if listed:
            self._queue(listed)
        return len(listed)

    def _queue(self, subjects: Sequence[str]) -> None:
        with self._cond:
            for s in subjects:
                self._pending[s] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deepcredit-neighbours", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued person was re-scored; False if `timeout` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
                batch = list(self._pending)[: self.batch]
                for s in batch:
                    del self._pending[s]
                self._busy = True
            try:
                taken = self.ledger.taken() if self.ledger is not None else None
                self.work(batch)
                if self.ledger is not None and taken is not None:
                    self.ledger.done(batch, taken)  # those queued again meanwhile stay listed
            except Exception as exc:  # noqa: BLE001 - a failed batch must not stop the worker
                log.error("re-scoring %d connections failed (%s); they stay listed for the next start", len(batch),
                          type(exc).__name__)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def connections_to_rescore(ctx: ServiceContext, subject: str) -> list[str]:
    """The people whose score can move when `subject`'s record changes: within the model's graph depth
    (one hop when only tabular social features read the neighbours), none without social inputs."""
    scorer = ctx.scorer
    if scorer is None or Dimension.SOCIAL_CONNECTIONS.value not in getattr(scorer, "dimensions", []):
        return []
    graph = cast(GraphScorer, scorer)  # a scorer with social inputs is a GraphScorer (ModelScorer)
    return graph.neighbourhood([subject], hops=max(1, graph.hops))[1:]


def rescore_listed(ctx: ServiceContext, subjects: list[str]) -> None:
    """Re-score these listed people: one whose own record changed (listed with a cause: a process stopped
    before their re-score was stored) with that cause, their connections queued after (events.rescore); the
    others as connections (rescore_connections). Where the history already holds that cause (stopped after
    the save, before the unlisting: a history row with that cause since the listing) only a changed score is
    stored: no second history row. Since the listing: a cause such as retention's recurs in a history."""
    with ctx.db.read() as s:
        own = dict(s.execute(select(PendingRescore.subject, PendingRescore.cause).where(
            PendingRescore.subject.in_(subjects), PendingRescore.cause.is_not(None))).tuples().all())
        saved = set(s.execute(select(ScoreHistory.subject).join(PendingRescore, and_(
            PendingRescore.subject == ScoreHistory.subject, PendingRescore.cause == ScoreHistory.cause,
            ScoreHistory.created_at >= PendingRescore.queued_at)).where(ScoreHistory.subject.in_(list(own)))
                              .distinct()).scalars()) if own else set()
    for subject, cause in own.items():
        rescore(ctx, subject, str(cause), only_changed=subject in saved)
    rest = [p for p in subjects if p not in own]
    if rest:
        rescore_connections(ctx, rest)


def rescore_connections(ctx: ServiceContext, subjects: list[str]) -> None:
    """Re-score these people; store (with history) those whose score or sub-scores changed."""
    if ctx.scorer is None:  # only queued by connections_to_rescore, which needs a scorer
        raise RuntimeError("re-scoring connections needs a scorer")
    # compared inside the write; a promoted model re-scores them (events.score_and_save)
    score_and_save(ctx, subjects, CONNECTION_CHANGED, ctx.now() + timedelta(microseconds=1), only_changed=True)


class PendingRescores:
    """The queue in the database (pending_rescores): a person is listed from when they are queued until their
    re-score was stored; listed again while queued, their time moves on, so a re-score that began before it
    does not unlist them."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def add(self, subjects: Sequence[str]) -> None:
        with self.ctx.db.write() as s:  # one writer at a time: no two processes insert one person
            list_waiting(s, subjects, self.ctx.now())

    def taken(self) -> datetime:
        return self.ctx.now()

    def done(self, subjects: Sequence[str], taken: datetime) -> None:
        with self.ctx.db.write() as s:
            s.execute(delete(PendingRescore).where(PendingRescore.subject.in_(list(subjects)),
                                                   PendingRescore.queued_at <= taken))

    def listed(self) -> list[str]:
        with self.ctx.db.read() as s:
            return list(s.execute(select(PendingRescore.subject).order_by(PendingRescore.queued_at,
                                                                           PendingRescore.subject)).scalars())


def list_waiting(s: Session, subjects: Sequence[str], now: datetime) -> None:
    """In the caller's write: list these people as connections waiting for their re-score (PendingRescores),
    the erased left out; one listed already has their time moved on, and keeps the cause of their own re-score."""
    people = list(dict.fromkeys(subjects))
    erased = set(s.execute(select(ErasedSubject.subject).where(ErasedSubject.subject.in_(people))).scalars())
    people = [p for p in people if p not in erased]  # an erased person's pseudonym is not written again
    listed = set(s.execute(select(PendingRescore.subject).where(PendingRescore.subject.in_(people))).scalars())
    if listed:
        s.execute(update(PendingRescore).where(PendingRescore.subject.in_(listed)).values(queued_at=now)
                  .execution_options(synchronize_session=False))
    new = [p for p in people if p not in listed]
    if new:
        s.execute(insert(PendingRescore), [{"subject": p, "queued_at": now} for p in new])


def neighbour_queue(ctx: ServiceContext) -> NeighbourQueue:
    """The serving process's queue (ctx.neighbours from now on, so a resumed person's connections are queued
    on it), kept in its database too, taking up whoever a stopped process left."""
    queue = NeighbourQueue(lambda subjects: rescore_listed(ctx, subjects),
                           lambda subject: connections_to_rescore(ctx, subject), ledger=PendingRescores(ctx))
    ctx.neighbours = queue
    resumed = queue.resume()
    if resumed:
        log.info("re-scoring %d connections a stopped process had queued", resumed)
    return queue
