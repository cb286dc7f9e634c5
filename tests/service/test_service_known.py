"""The tables about one person are declared once (store/people.py): `known` asks them, erasure deletes them
and the rows that hang off them, children first; a table added to the store with a subject must be declared."""

from __future__ import annotations

from deepcredit.service.erasure import _deletions
from deepcredit.service.store.models import AuditEntry, Base, ErasedSubject
from deepcredit.service.store.people import ABOUT_ONE_PERSON


def test_every_table_about_one_person_is_declared_once():
    about_one = {m.class_ for m in Base.registry.mappers if "subject" in m.columns} - {AuditEntry, ErasedSubject}
    assert set(ABOUT_ONE_PERSON.values()) == about_one


def test_erasure_deletes_every_declared_table_and_what_hangs_off_them_children_first():
    deletions = list(_deletions("s").items())
    deleted = [stmt.table for _, stmt in deletions]
    declared = {m.__table__ for m in ABOUT_ONE_PERSON.values()}
    assert declared <= set(deleted)
    hanging = {t for t in Base.metadata.sorted_tables if t not in declared
               and any(fk.column.table in set(deleted) for fk in t.foreign_keys)}
    assert hanging <= set(deleted) and {t.name for t in hanging} == {"webhook_deliveries"}
    for i, table in enumerate(deleted):  # nothing deleted later points at a table deleted here
        assert not any(fk.column.table is table for later in deleted[i + 1:] for fk in later.foreign_keys)
    names = [name for name, _ in deletions]  # the names the API's answer and the audit row count under
    assert set(names) == {"webhook_deliveries", "webhooks", "person_tokens", "attribute_corrections",
                          "event_corrections", "disputes", "decisions", "consents", "score_history", "scores",
                          "reported_events", "pending_rescores"}
