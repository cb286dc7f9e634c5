"""The tables about one person are listed twice on purpose (known.HOLDING asks them in an order that is fast;
erasure deletes them in an order the foreign keys allow): a table added to the store must join both lists."""

from __future__ import annotations

from deepcredit.service.erasure import _deletions
from deepcredit.service.known import HOLDING
from deepcredit.service.store.models import AuditEntry, Base, ErasedSubject


def test_every_table_about_one_person_is_asked_by_known_and_emptied_by_erasure():
    about_one = {m.class_ for m in Base.registry.mappers if "subject" in m.columns} - {AuditEntry, ErasedSubject}
    assert set(HOLDING) == about_one
    erased = {stmt.table.name for stmt in _deletions("s").values()}
    assert {m.__tablename__ for m in about_one} <= erased
