"""Erasure: the operator removes a person from the service where a legal ground requires it.

What goes: every row the service database holds about the person, in one transaction. That is their score
and its history, their tokens, consents and the decisions made under them, the outcomes merchants reported,
their disputes and the corrections they led to, and their webhooks. Their rows of the service's copy of the
data set (the one `serve-init` wrote under its state folder) go too: profile, events, relations, labels,
rewritten without them before the database forgets them (the part files that hold or name them only, the
whole copy staged and renamed: pseudodata.without_people),
and where another person's record names them (a counterparty) it reads 'erased'. The pseudonym is recorded
in `erased_subjects`, and `scoring.ScopedDataset` leaves them out wherever the service reads data (a copy
written before, a new `serve-init`, a snapshot), so nothing brings them back. Their connections are
re-scored without them: listed for it (pending_rescores) in the erasure's own transaction, so a crash before
their re-score loses none of them (neighbours.py).

What stays in the service: the audit log, whose rows hold the pseudonym only and whose chain a deletion
would break (its `person_erased` row says how many rows of each kind went), and `erased_subjects`. On
SQLite none of the deleted rows' bytes stay in the database's files (store.db.Database.scrub). What
the service cannot reach: the operator's source data set that `serve-init` copied from, snapshots
(`serve-snapshot`) and batch scores exported before the erasure; the operator deletes them there. A new
token for an erased person is refused. An id the service knows nothing about (known.py) is refused too
(404, audited): an operator's typo must not read as a done erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, Delete, delete, select
from sqlalchemy.orm import Session

from deepcredit.data.dataset import Dataset
from deepcredit.service.bootstrap import build_scorer
from deepcredit.service.config import Settings
from deepcredit.service.context import ServiceContext, read_meta, served_context
from deepcredit.service.events import erased_people
from deepcredit.service.known import is_known, unknown_person
from deepcredit.service.neighbours import (
    PendingRescores,
    connections_to_rescore,
    list_waiting,
    rescore_connections,
)
from deepcredit.service.problems import Problem
from deepcredit.service.pseudodata import without_people
from deepcredit.service.store.models import ErasedSubject
from deepcredit.service.store.people import person_rows


def _deletions(subject: str) -> dict[str, Delete]:
    """What erasing `subject` deletes, by name, in an order the foreign keys allow (store/people.py)."""
    return {name: delete(table).where(where) for name, (table, where) in person_rows(subject).items()}


def erased_at(s: Session, subject: str) -> datetime | None:
    """When the person was erased; None if they were not."""
    return s.scalar(select(ErasedSubject.erased_at).where(ErasedSubject.subject == subject))


def already_erased(when: datetime) -> Problem:
    return Problem(409, "erased", f"this person was erased on {when:%Y-%m-%d}: the service holds nothing about them")


@dataclass(frozen=True)
class Erasure:
    erased_at: datetime
    deleted: dict[str, int]
    """Rows deleted, by kind."""
    copy_dir: str | None = None
    """The service's copy of the data set that was rewritten without the person (None: none recorded)."""


def erase(ctx: ServiceContext, subject: str) -> Erasure:
    """Erase the person (see the module docstring) and re-score their connections. A Problem: 409 if they
    were erased before, 404 if the service knows nobody by this id (known.py: an operator's typo
    must not leave the real person unerased while it answers success); each refusal audited."""
    with ctx.db.read() as s:
        when = erased_at(s, subject)
    if when is not None:
        raise ctx.refused("operator", "erasure_refused", subject, already_erased(when))
    if not is_known(ctx, subject):
        with ctx.db.write() as s:
            ctx.audit.append(s, ctx.now(), "operator", "erasure_refused", subject, reason="unknown-person")
        raise unknown_person()  # after the commit, so the refusal's audit row is kept
    connections = connections_to_rescore(ctx, subject)  # read before the copy forgets their edges
    copy = read_meta(ctx).get("data_dir")
    if copy:  # first the copy: should the database fail after, the person is in neither once it is rerun
        with ctx.db.read() as s:
            gone = erased_people(s) | {subject}
        without_people(Dataset(copy), gone)
    now = ctx.now()
    with ctx.db.write() as s:
        when = erased_at(s, subject)
        if when is not None:
            raise already_erased(when)
        deleted = {name: cast(CursorResult, s.execute(stmt)).rowcount
                   for name, stmt in _deletions(subject).items()}
        s.add(ErasedSubject(subject=subject, erased_at=now))
        ctx.audit.append(s, now, "operator", "person_erased", subject, **deleted)
        list_waiting(s, connections, now)  # with the erasure: a crash before their re-score loses none of them
    ctx.answers.forget(subject)
    ctx.db.scrub()
    if ctx.neighbours is not None and connections:  # a running server: in the background, as after any change
        ctx.neighbours.enqueue(connections)
    elif connections:
        ledger = PendingRescores(ctx)
        taken = ledger.taken()
        rescore_connections(ctx, connections)
        ledger.done(connections, taken)
    return Erasure(now, deleted, copy_dir=copy or None)


def erase_person(settings: Settings, person_id: str) -> Erasure:
    """`deepcredit person-erase`: erase in the service `serve-init` set up, its served model re-scoring the
    person's connections: their rows are read for them alone, not the whole copy (lookup.PersonIndex)."""
    with served_context(settings) as (ctx, _):
        ctx.scorer = build_scorer(ctx, held_index=False)
        return erase(ctx, ctx.pseudonym(person_id))

