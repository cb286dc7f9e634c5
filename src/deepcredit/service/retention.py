"""The retention job: negative records older than the retention period stop counting, and scores stay fresh.

Credit-reporting rules (FCRA, and China's rules on credit reporting) keep negative records five years
(`Settings.retention_years`, `--years`). A run sets the cutoff (now minus the period) in the service's meta;
the scorer's overlay then leaves out every record whose status the data set's spec says means late or
broken and that is dated before it (scoring.ScopedDataset), without editing the data set. The people who
had such a record between the previous cutoff and this one are re-scored at once (history cause: old
records retired); every score older than `Settings.recalculation_days` is recalculated too (the date the
report promises). Each run and each person it retired records for are audited (counts only).

The cutoff, the audit rows and the retired people's listing for their re-score (pending_rescores, cause
RETENTION: events.list_rescore) are written in one transaction, and each batch is unlisted once its scores
are stored: a run that stops after that commit loses no re-score (the next serving process re-scores whoever
is still listed, neighbours.rescore_listed) and the next run, which finds nobody newly retired, writes no
audit row twice. A recalculation the stop cut short is due again at the next run.

The served model is loaded only when someone is to be re-scored: the people concerned are found from the
data copy and the database, so a run with nothing to retire or recalculate (the usual daily run) records its
cutoff and its audit row without the seconds a model (the stack: torch, every member) takes to load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from deepcredit.data.dataset import Dataset, new_connection
from deepcredit.service.bootstrap import build_scorer
from deepcredit.service.config import retention_start
from deepcredit.service.context import ServiceContext, read_meta
from deepcredit.service.events import RETENTION_CUTOFF, list_rescore, retention_cutoff, score_and_save
from deepcredit.service.history import RECALCULATED, RETENTION
from deepcredit.service.scoring import ModelScorer, sql_list
from deepcredit.service.store.models import Meta, PendingRescore, Score, ServiceEvent

BATCH = 64


@dataclass
class RetentionSummary:
    cutoff: datetime
    retired_people: int
    recalculated: int


def _with_old_negatives(data: Dataset, ctx: ServiceContext, start: datetime | None, cutoff: datetime
                        ) -> dict[str, int]:
    """person -> how many negative records dated in [start, cutoff) they have (the served copy `data` and
    the service's reported events)."""
    negative = sorted(data.spec.negative_statuses)
    if not negative:
        return {}
    lo = f"AND ts >= TIMESTAMP '{start.isoformat(sep=' ')}'" if start else ""
    con = new_connection()
    try:
        rows = con.execute(f"SELECT person_id, count(*) FROM {data.scan('events')} "
                           f"WHERE status IN ({sql_list(negative)}) AND ts < TIMESTAMP '{cutoff.isoformat(sep=' ')}' "
                           f"{lo} GROUP BY person_id").fetchall()
    finally:
        con.close()
    counts = {str(p): int(n) for p, n in rows}
    with ctx.db.read() as s:
        q = select(ServiceEvent.subject).where(ServiceEvent.status.in_(negative), ServiceEvent.ts < cutoff)
        if start is not None:
            q = q.where(ServiceEvent.ts >= start)
        for (subject,) in s.execute(q).all():
            counts[subject] = counts.get(subject, 0) + 1
    return counts


def _rescore(ctx: ServiceContext, subjects: Sequence[str], cause: str, as_of: datetime,
             listed: bool = False) -> None:
    """Re-score in batches; `listed` (the retired, _record_cutoff): each batch is unlisted once stored."""
    for i in range(0, len(subjects), BATCH):
        assert ctx.scorer is not None  # loaded by run() when anyone is to be re-scored
        taken = ctx.now()  # listed again since (another change): they stay listed
        score_and_save(ctx, subjects[i:i + BATCH], cause, as_of)
        if listed:
            _unlist(ctx, subjects[i:i + BATCH], taken)


def _unlist(ctx: ServiceContext, subjects: Sequence[str], taken: datetime) -> None:
    """Their retention re-score is stored: unlist them, unless listed since `taken` or with another cause."""
    with ctx.db.write() as s:
        s.execute(delete(PendingRescore).where(PendingRescore.subject.in_(list(subjects)),
                                               PendingRescore.cause == RETENTION, PendingRescore.queued_at <= taken))


def _record_cutoff(ctx: ServiceContext, cutoff: datetime, retired: dict[str, int], years: int,
                   recalculate: bool) -> tuple[list[str], list[str]]:
    """In one write: the cutoff, the retired people who have a score listed for their re-score (one listed
    already with their own cause keeps it), and the audit rows; (those people, the scores due for
    recalculation). A stop after this commit loses nobody (module docstring)."""
    now = ctx.now()
    with ctx.db.write() as s:
        s.merge(Meta(key=RETENTION_CUTOFF, value=cutoff.isoformat()))
        known = set(s.execute(select(Score.subject).where(Score.subject.in_(list(retired)))).scalars())
        people = sorted(known)
        own = set(s.execute(select(PendingRescore.subject).where(PendingRescore.subject.in_(people),
                                                                 PendingRescore.cause.is_not(None))).scalars())
        for p in people:
            if p not in own:
                list_rescore(s, p, RETENTION, now)
        due: list[str] = []
        if recalculate:
            stale = now - timedelta(days=ctx.settings.recalculation_days)
            due = sorted(set(s.execute(select(Score.subject).where(Score.as_of < stale)).scalars()) - known)
        for p in people:
            ctx.audit.append(s, now, "operator", "records_retired", p, records=retired[p], years=years)
        ctx.audit.append(s, now, "operator", "retention_run", None, years=years, cutoff=cutoff.isoformat(),
                         people=len(people), recalculated=len(due))
    return people, due


def _served_data(ctx: ServiceContext) -> Dataset:
    """The data copy the served model scores (the loaded scorer's, else the one serve-init recorded)."""
    if isinstance(ctx.scorer, ModelScorer):
        return ctx.scorer.dataset
    meta = read_meta(ctx) if ctx.db.initialised() else {}
    if "data_dir" not in meta or "model_path" not in meta:
        raise ValueError("the retention job needs the served model (run `deepcredit serve-init` first)")
    return Dataset(meta["data_dir"])


def _served_scorer(ctx: ServiceContext) -> None:
    """Load the served model into `ctx` where it is not yet (module docstring: only when someone is re-scored)."""
    if ctx.scorer is None:
        ctx.scorer = build_scorer(ctx)
    if not isinstance(ctx.scorer, ModelScorer):
        raise ValueError("the retention job needs the served model (run `deepcredit serve-init` first)")


def run(ctx: ServiceContext, years: int | None = None, recalculate: bool = True) -> RetentionSummary:
    """Retire negative records older than `years` (default Settings.retention_years) and re-score; see above.
    `ctx.scorer` may be None: the served model is then loaded only if someone is to be re-scored."""
    if ctx.scorer is not None and not isinstance(ctx.scorer, ModelScorer):
        raise ValueError("the retention job needs the served model (run `deepcredit serve-init` first)")
    data = _served_data(ctx)
    years = years or ctx.settings.retention_years
    now = ctx.now()
    cutoff = retention_start(now, years)
    previous = retention_cutoff(ctx.db)
    retired = _with_old_negatives(data, ctx, previous, cutoff) if previous is None or cutoff > previous else {}
    people, due = _record_cutoff(ctx, cutoff, retired, years, recalculate)
    as_of = ctx.now() + timedelta(microseconds=1)  # after the cutoff committed: a later re-score (events.save_scores) saw it
    if people or due:
        _served_scorer(ctx)
    _rescore(ctx, people, RETENTION, as_of, listed=True)
    _rescore(ctx, due, RECALCULATED, as_of)
    return RetentionSummary(cutoff, len(people), len(due))
