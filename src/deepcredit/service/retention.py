"""The retention job: negative records older than the retention period stop counting, and scores stay fresh.

Credit-reporting rules (FCRA, and China's rules on credit reporting) keep negative records five years
(`Settings.retention_years`, `--years`). A run sets the cutoff (now minus the period) in the service's meta;
the scorer's overlay then leaves out every record whose status the data set's spec says means late or
broken and that is dated before it (scoring.ScopedDataset), without editing the data set. The people who
had such a record between the previous cutoff and this one are re-scored at once (history cause: old
records retired); every score older than `Settings.recalculation_days` is recalculated too (the date the
report promises). Each run and each person it retired records for are audited (counts only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from deepcredit.service.context import ServiceContext, write_meta
from deepcredit.service.events import RETENTION_CUTOFF, retention_cutoff, save_scores
from deepcredit.service.history import RECALCULATED, RETENTION
from deepcredit.service.scoring import ModelScorer, sql_list
from deepcredit.service.store.models import Score, ServiceEvent

BATCH = 64


@dataclass
class RetentionSummary:
    cutoff: datetime
    retired_people: int
    recalculated: int


def _with_old_negatives(scorer: ModelScorer, ctx: ServiceContext, start: datetime | None, cutoff: datetime
                        ) -> dict[str, int]:
    """person -> how many negative records dated in [start, cutoff) they have (data set and service)."""
    spec_events = scorer.dataset.spec.events
    negative = sorted(spec_events.statuses_meaning("late", "broken")) if spec_events is not None else []
    if not negative:
        return {}
    lo = f"AND ts >= TIMESTAMP '{start.isoformat(sep=' ')}'" if start else ""
    con = scorer.cursor()
    try:
        rows = con.execute(f"SELECT person_id, count(*) FROM {scorer.dataset.scan('events')} "
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


def _rescore(ctx: ServiceContext, subjects: Sequence[str], cause: str, as_of: datetime) -> None:
    assert ctx.scorer is not None
    for i in range(0, len(subjects), BATCH):
        save_scores(ctx, ctx.scorer.score_people(list(subjects[i:i + BATCH]), as_of=as_of), cause)


def run(ctx: ServiceContext, years: int | None = None, recalculate: bool = True) -> RetentionSummary:
    """Retire negative records older than `years` (default Settings.retention_years) and re-score; see above."""
    scorer = ctx.scorer
    if not isinstance(scorer, ModelScorer):
        raise ValueError("the retention job needs the served model (run `deepcredit serve-init` first)")
    years = years or ctx.settings.retention_years
    now = ctx.now()
    cutoff = now - timedelta(days=round(365.25 * years))
    previous = retention_cutoff(ctx.db)
    retired = _with_old_negatives(scorer, ctx, previous, cutoff) if previous is None or cutoff > previous else {}
    write_meta(ctx, {RETENTION_CUTOFF: cutoff.isoformat()})
    with ctx.db.read() as s:
        known = set(s.execute(select(Score.subject).where(Score.subject.in_(list(retired)))).scalars())
    people = sorted(known)
    as_of = now + timedelta(microseconds=1)
    _rescore(ctx, people, RETENTION, as_of)
    due: list[str] = []
    if recalculate:
        stale = now - timedelta(days=ctx.settings.recalculation_days)
        with ctx.db.read() as s:
            due = sorted(set(s.execute(select(Score.subject).where(Score.as_of < stale)).scalars()) - known)
        _rescore(ctx, due, RECALCULATED, as_of)
    with ctx.db.write() as s:
        for p in people:
            ctx.audit.append(s, now, "operator", "records_retired", p, records=retired[p], years=years)
        ctx.audit.append(s, now, "operator", "retention_run", None, years=years, cutoff=cutoff.isoformat(),
                         people=len(people), recalculated=len(due))
    return RetentionSummary(cutoff, len(people), len(due))
