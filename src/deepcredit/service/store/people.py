"""The tables whose rows are about one person, declared once: `known` asks them whether an id is held,
`erasure` deletes from them (and from the rows that hang off theirs), so a table added here joins both."""

from __future__ import annotations

from typing import cast

from sqlalchemy import ColumnElement, Table, or_, select

from deepcredit.service.store.models import (
    AttributeCorrection,
    Base,
    Consent,
    Decision,
    Dispute,
    EventCorrection,
    PendingRescore,
    PersonToken,
    Score,
    ScoreHistory,
    ServiceEvent,
    Webhook,
)

ABOUT_ONE_PERSON: dict[str, type[Base]] = {
    "scores": Score, "score_history": ScoreHistory, "consents": Consent, "person_tokens": PersonToken,
    "reported_events": ServiceEvent, "disputes": Dispute, "event_corrections": EventCorrection,
    "attribute_corrections": AttributeCorrection, "webhooks": Webhook, "pending_rescores": PendingRescore,
    "decisions": Decision}
"""Every table with a `subject` column, the audit log and the erased list aside, by the name an erasure's
answer and audit row count its rows under. In the order `known` asks them: those indexed by subject first
(a decision's index leads with the merchant: it is asked last)."""


def person_rows(subject: str) -> dict[str, tuple[Table, ColumnElement[bool]]]:
    """Every row about `subject`, by name: the declared tables' rows, then the rows of any table without a
    subject that points at one of them by a foreign key (a webhook's deliveries, named by their table), in
    an order the foreign keys allow deleting them: a row before the rows it points at."""
    tables = {name: (table, table.c.subject == subject) for name, table in person_tables().items()}
    held = {table: where for table, where in tables.values()}
    for table in Base.metadata.sorted_tables:  # parents before children: a child's parent is already held
        if table in held or "subject" in table.c:
            continue
        links = [fk.parent.in_(select(fk.column).where(held[fk.column.table]))
                 for fk in table.foreign_keys if fk.column.table in held]
        if links:
            held[table] = or_(*links)
            tables[table.name] = (table, held[table])
    order = {table: i for i, table in enumerate(reversed(Base.metadata.sorted_tables))}
    return dict(sorted(tables.items(), key=lambda item: order[item[1][0]]))


def person_tables() -> dict[str, Table]:
    """The declared tables (ABOUT_ONE_PERSON), in its order."""
    return {name: cast(Table, model.__table__) for name, model in ABOUT_ONE_PERSON.items()}
