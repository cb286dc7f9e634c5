"""Whether a person id names someone the service knows: the operator routes that take a raw id (issuing a
person token, erasing) refuse one nobody holds, so a typo is a 404 instead of a token for nobody or an
erasure of nothing that leaves the real person in place.

Known means: in the people of the data set the service serves, or holding a row in its database (a score,
its history, a consent, a decision, a reported outcome, a dispute, a correction, a token, a webhook). The
audit log does not count: it keeps the pseudonyms of refusals too, and a refusal must not make an id known.
An erased person is not known; the routes answer their own 409 for them first.
"""

from __future__ import annotations

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from deepcredit.data.dataset import Dataset, new_connection
from deepcredit.service.context import ServiceContext, read_meta
from deepcredit.service.problems import Problem
from deepcredit.service.store.people import person_tables


def unknown_person() -> Problem:
    """The refusal: it names no id (the body never echoes the request)."""
    return Problem(404, "unknown-person", "the service holds nothing about this person id, in its data set or its "
                                          "database: check the id")


def in_database(s: Session, subject: str) -> bool:
    return any(s.execute(select(literal(1)).where(table.c.subject == subject).limit(1)).first() is not None
               for table in person_tables().values())


def served_data(ctx: ServiceContext) -> Dataset | None:
    """The data set the service serves: its scorer's, or the copy `serve-init` recorded (an operator command
    runs without a scorer); None before there is one."""
    data = getattr(ctx.scorer, "dataset", None)
    if isinstance(data, Dataset):
        return data
    copy = read_meta(ctx).get("data_dir") if ctx.db.initialised() else None
    return Dataset(copy) if copy else None


def in_served_data(ctx: ServiceContext, subject: str) -> bool:
    data = served_data(ctx)
    if data is None:
        return False
    con = new_connection()
    try:
        return con.execute(f"SELECT 1 FROM {data.scan('people')} WHERE person_id = ? LIMIT 1",
                           [subject]).fetchone() is not None
    finally:
        con.close()


def is_known(ctx: ServiceContext, subject: str) -> bool:
    """Whether the service holds anything about the person with this pseudonym (the database first: cheap)."""
    with ctx.db.read() as s:
        if in_database(s, subject):
            return True
    return in_served_data(ctx, subject)
