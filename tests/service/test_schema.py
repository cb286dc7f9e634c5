"""The service database carries its schema version: a new one is stamped, an older one is refused until
`serve-upgrade` migrates it, one made before schema versions is adopted (or refused, unchanged), and the
records survive."""

from __future__ import annotations

import re
import shutil

import pytest
from service_testkit import PgSchema, backends
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from deepcredit.service.store import Database, schema
from deepcredit.service.store.models import Base


@pytest.fixture(params=backends())
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
        yield db
        db.dispose()
    else:
        pg = PgSchema()
        db = pg.database()
        yield db
        db.dispose()
        pg.drop()


def _before_versions(db: Database, drop: str = "webhook_deliveries", narrow: bool = True) -> None:
    """The tables as a DeepCredit before schema versions made them: one table missing, a text column narrower."""
    old = MetaData()
    for table in Base.metadata.sorted_tables:
        if table.name == drop:
            continue
        copy = table.to_metadata(old)
        if narrow and table.name == "service_events":
            copy.c.kind.type = String(16)
        del copy
    old.create_all(db.engine)
    with db.engine.begin() as con:
        con.execute(text("INSERT INTO service_meta (key, value) VALUES ('model_id', 'abc')"))


def test_a_new_database_is_stamped_and_served_as_it_is(database):
    database.create_all()
    assert schema.current(database.engine) == schema.head()
    database.create_all()  # again: nothing to do


def test_a_database_made_before_schema_versions_is_refused_then_adopted_keeping_its_records(database):
    _before_versions(database)
    with pytest.raises(schema.SchemaMismatch, match="before schema versions: back it up, then run `deepcredit "
                                                    "serve-upgrade`"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert done.before is None and done.after == schema.head()
    assert "created table webhook_deliveries" in done.changes and "widened service_events.kind to VARCHAR(64)" in \
        done.changes
    database.create_all()
    assert "webhook_deliveries" in inspect(database.engine).get_table_names()
    with database.engine.connect() as con:
        assert con.execute(text("SELECT value FROM service_meta WHERE key = 'model_id'")).scalar() == "abc"
    if not database.is_sqlite:
        kind = next(c for c in inspect(database.engine).get_columns("service_events") if c["name"] == "kind")
        assert kind["type"].length == 64


def test_a_difference_an_upgrade_cannot_make_safely_changes_nothing(database):
    _before_versions(database, narrow=False)
    with database.engine.begin() as con:  # a required column an older release did not have
        Table("merchants", MetaData(), autoload_with=con)
        con.execute(text("ALTER TABLE audit_head RENAME TO audit_head_old"))
        Table("audit_head", MetaData(), Column("id", Integer, primary_key=True), Column("odd", String(8),
                                                                                       nullable=False)).create(con)
    with pytest.raises(schema.SchemaMismatch, match="nothing was changed"):
        schema.upgrade(database.engine)
    assert schema.current(database.engine) is None
    assert "webhook_deliveries" not in inspect(database.engine).get_table_names()


def test_an_older_schema_is_refused_until_upgraded_and_a_newer_one_is_refused(database, tmp_path, monkeypatch):
    database.create_all()
    newer = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, newer, ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "s0099_notes.py").write_text(
        f'revision = "s0099"\ndown_revision = "{schema.head()}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n    from alembic import op\n    import sqlalchemy as sa\n\n"
        '    op.create_table("operator_notes", sa.Column("id", sa.Integer, primary_key=True))\n\n\n'
        "def downgrade() -> None:\n    pass\n")
    monkeypatch.setattr(schema, "MIGRATIONS", newer)  # a later DeepCredit, one migration ahead
    current = schema.current(database.engine)  # this DeepCredit's head, as create_all stamped it
    with pytest.raises(schema.SchemaMismatch, match=f"is at schema {current}; this DeepCredit needs s0099"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after, done.changes) == (current, "s0099", (f"migrated from schema {current}",))
    assert "operator_notes" in inspect(database.engine).get_table_names()
    monkeypatch.setattr(schema, "MIGRATIONS", schema.Path(schema.__file__).with_name("migrations"))
    with pytest.raises(schema.SchemaMismatch, match="made by a newer DeepCredit"):
        database.create_all()


def test_a_database_at_s0001_is_upgraded_to_attribute_disputes_keeping_its_disputes(database):
    """s0002: disputes name an event or a profile attribute; upheld attribute disputes store the value."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    database.create_all()
    with database.engine.begin() as con:
        command.downgrade(schema._alembic(con), "s0001")
    assert schema.current(database.engine) == "s0001"
    assert "attribute_corrections" not in inspect(database.engine).get_table_names()
    with database.engine.begin() as con:
        con.execute(text("INSERT INTO disputes (subject, event_ref, reason, state, opened_at, deadline_at) VALUES "
                         "('abc', 'b12', 'not mine', 'open', '2026-01-01 00:00:00', '2026-01-21 00:00:00')"))
    with pytest.raises(schema.SchemaMismatch, match="is at schema s0001"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after) == ("s0001", schema.head())
    database.create_all()
    with database.engine.connect() as con:
        assert con.execute(text("SELECT event_ref, attribute FROM disputes")).all() == [("b12", None)]
        assert not compare_metadata(MigrationContext.configure(con), Base.metadata)  # as a new one is made


def test_a_database_at_s0002_is_upgraded_to_erasure_keeping_its_records(database):
    """s0003: erased_subjects records the people an operator erased."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    database.create_all()
    with database.engine.begin() as con:
        command.downgrade(schema._alembic(con), "s0002")
        con.execute(text("INSERT INTO service_meta (key, value) VALUES ('model_id', 'abc')"))
    assert "erased_subjects" not in inspect(database.engine).get_table_names()
    with pytest.raises(schema.SchemaMismatch, match="is at schema s0002"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after) == ("s0002", schema.head())
    database.create_all()
    with database.engine.connect() as con:
        assert con.execute(text("SELECT value FROM service_meta WHERE key = 'model_id'")).scalar() == "abc"
        assert not compare_metadata(MigrationContext.configure(con), Base.metadata)  # as a new one is made


def _tables_sql(database) -> dict[str, str]:
    with database.engine.connect() as con:
        return dict(con.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())


def test_a_database_at_s0003_is_upgraded_to_ids_never_reused_keeping_its_rows(database):
    """s0004: on SQLite every table with an integer id is AUTOINCREMENT, so an erased person's ids are never
    given to the next rows (SQLite reuses the highest id of deleted rows otherwise); rows, indexes and
    constraints are kept, and the next id continues after the highest copied one."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    database.create_all()
    with database.engine.begin() as con:
        command.downgrade(schema._alembic(con), "s0003")
    if database.is_sqlite:  # as an older DeepCredit made it: ids reused
        assert "AUTOINCREMENT" not in _tables_sql(database)["decisions"]
    with database.engine.begin() as con:
        _merchant_and_policy(con)
        for i in (3, 4):
            _consent(con, i, f"s{i}")
            _decision(con, i + 4, i, f"s{i}", tx=f"tx-{i}")
    with pytest.raises(schema.SchemaMismatch, match="is at schema s0003"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after) == ("s0003", schema.head())
    database.create_all()
    with database.engine.connect() as con:
        assert not compare_metadata(MigrationContext.configure(con), Base.metadata)  # as a new one is made
        assert con.execute(text("SELECT id, subject, consent_id FROM decisions ORDER BY id")).all() == [
            (7, "s3", 3), (8, "s4", 4)]
    if database.is_sqlite:
        assert all("AUTOINCREMENT" in _tables_sql(database)[t.name] for t in Base.metadata.sorted_tables
                   if t.kwargs.get("sqlite_autoincrement"))
        with database.engine.connect() as con:
            assert con.execute(text("PRAGMA foreign_keys")).scalar() == 1  # checks on again after the upgrade
    if not database.is_sqlite:  # PostgreSQL's sequences never reuse an id; the rows above set theirs by hand
        return
    with database.engine.begin() as con:  # the person of the newest decision goes; the next one's id is new
        con.execute(text("DELETE FROM decisions WHERE subject = 's4'"))
        con.execute(text("DELETE FROM consents WHERE subject = 's4'"))
        con.execute(text("INSERT INTO consents (subject, merchant_id, scope, purpose, mode, created_at, expires_at) "
                         "VALUES ('s5', 1, 'admittance', 'rent', 'standing', '2026-01-02 00:00:00', "
                         "'2026-02-01 00:00:00')"))
        consent = con.execute(text("SELECT id FROM consents WHERE subject = 's5'")).scalar()
        con.execute(text("INSERT INTO decisions (merchant_id, transaction_id, subject, policy_id, consent_id, "
                         f"request_sha256, response, created_at) VALUES (1, 'tx-5', 's5', 1, {consent}, 'x', '{{}}', "
                         "'2026-01-02 00:00:00')"))
        assert consent > 4
        assert con.execute(text("SELECT id FROM decisions WHERE subject = 's5'")).scalar() > 8


def test_a_database_at_s0004_is_upgraded_to_consent_used_at_marking_spent_consents_keeping_every_row(database):
    """s0005: a per-order consent's one use is stored on it (used_at), set from its first decision; one that
    several decisions were already made under (the race s0005 closes) keeps them all and reads as used."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    database.create_all()
    with database.engine.begin() as con:
        command.downgrade(schema._alembic(con), "s0004")
    assert "used_at" not in {c["name"] for c in inspect(database.engine).get_columns("consents")}
    with database.engine.begin() as con:
        _merchant_and_policy(con)
        # 1: per order, decided twice (raced); 2: per order, once; 3: per order, never; 4: standing, once
        for i, mode in ((1, "per_order"), (2, "per_order"), (3, "per_order"), (4, "standing")):
            _consent(con, i, f"s{i}", mode)
        for d, consent, at in ((1, 1, "2026-01-02 10:00:00"), (2, 1, "2026-01-02 09:00:00"),
                               (3, 2, "2026-01-03 00:00:00"), (4, 4, "2026-01-04 00:00:00")):
            _decision(con, d, consent, f"s{consent}", at=at)
    with pytest.raises(schema.SchemaMismatch, match="is at schema s0004"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after) == ("s0004", schema.head())
    database.create_all()
    with database.engine.connect() as con:
        assert not compare_metadata(MigrationContext.configure(con), Base.metadata)  # as a new one is made
        used = dict(con.execute(text("SELECT id, used_at FROM consents ORDER BY id")).all())
        assert con.execute(text("SELECT id, consent_id FROM decisions ORDER BY id")).all() == [
            (1, 1), (2, 1), (3, 2), (4, 4)]
    assert [str(used[i])[:19] if used[i] else None for i in (1, 2, 3, 4)] == [
        "2026-01-02 09:00:00", "2026-01-03 00:00:00", None, None]
    if database.is_sqlite:
        assert "AUTOINCREMENT" in _tables_sql(database)["consents"]


def test_a_database_made_before_schema_versions_gets_its_spent_per_order_consents_marked_used(database):
    """Adopting adds consents.used_at and fills it as s0005 does: a per-order consent a decision was made under
    stays used (else adopting would give it a second decision)."""
    _before_versions(database, narrow=False)
    with database.engine.begin() as con:
        con.execute(text("ALTER TABLE consents DROP COLUMN used_at"))  # as before s0005
        _merchant_and_policy(con)
        for i in (1, 2):
            _consent(con, i, "s", "per_order", order_ref=f"o{i}")
        _decision(con, 1, 1, "s", at="2026-01-02 00:00:00")
    done = schema.upgrade(database.engine)
    assert "added column consents.used_at" in done.changes and "filled consents.used_at from the rows held" in \
        done.changes
    with database.engine.connect() as con:
        used = con.execute(text("SELECT id, used_at FROM consents ORDER BY id")).all()
    assert [(i, str(u)[:19] if u else None) for i, u in used] == [(1, "2026-01-02 00:00:00"), (2, None)]


def _merchant_and_policy(con) -> None:
    """Merchant 1 (Acme) and its policy 1, as rows written straight into an older schema."""
    con.execute(text("INSERT INTO merchants (id, name, active, created_at) VALUES (1, 'Acme', true, "
                     "'2026-01-01 00:00:00')"))
    con.execute(text("INSERT INTO policies (id, merchant_id, name, scenario, purpose, created_at, updated_at) "
                     "VALUES (1, 1, 'rental', 'deposit_free_rental', 'rent', '2026-01-01 00:00:00', "
                     "'2026-01-01 00:00:00')"))


def _consent(con, i: int, subject: str, mode: str = "standing", order_ref: str | None = None) -> None:
    con.execute(text("INSERT INTO consents (id, subject, merchant_id, scope, purpose, mode, order_ref, created_at, "
                     "expires_at) VALUES (:i, :subject, 1, 'admittance', 'rent', :mode, :order_ref, "
                     "'2026-01-01 00:00:00', '2026-02-01 00:00:00')"),
                {"i": i, "subject": subject, "mode": mode, "order_ref": order_ref})


def _decision(con, d: int, consent: int, subject: str, tx: str | None = None, at: str = "2026-01-01 00:00:00") -> None:
    con.execute(text("INSERT INTO decisions (id, merchant_id, transaction_id, subject, policy_id, consent_id, "
                     "request_sha256, response, created_at) VALUES (:d, 1, :tx, :subject, 1, :consent, 'x', '{}', "
                     ":at)"), {"d": d, "tx": tx or f"tx-{d}", "subject": subject, "consent": consent, "at": at})


def _webhook_and_deliveries(con, hook: int, subject: str, deliveries: tuple[int, ...]) -> None:
    """Webhook `hook` of `subject` with a delivery queued for each of `deliveries`, written into an older schema."""
    con.execute(text("INSERT INTO webhooks (id, subject, url, created_at, cursor) VALUES (:i, :subject, "
                     "'https://example.invalid/h', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                {"i": hook, "subject": subject})
    for d in deliveries:
        con.execute(text("INSERT INTO webhook_deliveries (id, webhook_id, payload, state, attempts, next_at, "
                         "created_at) VALUES (:d, :hook, :payload, 'pending', 0, '2026-01-02 00:00:00', "
                         "'2026-01-02 00:00:00')"), {"d": d, "hook": hook, "payload": f'{{"webhook": {hook}}}'})


def _reported_event(con, i: int, subject: str, tx: str) -> None:
    """Service event i (reported by merchant 1), as a row written straight into an older schema."""
    con.execute(text("INSERT INTO service_events (id, subject, merchant_id, transaction_id, outcome, ts, kind, status, "
                     "amount, created_at) VALUES (:i, :subject, 1, :tx, 'rental_returned_late', '2026-01-03 00:00:00', "
                     "'rental', 'late', 10.0, '2026-01-03 00:00:00')"), {"i": i, "subject": subject, "tx": tx})


def _disputed_and_corrected(con, event: int) -> None:
    """Dispute 1 about service event `event`, corrected by removing it, and the re-scores the event and the
    correction caused."""
    con.execute(text("INSERT INTO disputes (id, subject, event_ref, reason, state, opened_at, deadline_at) VALUES "
                     "(1, 's1', :ref, 'not late', 'corrected', '2026-01-04 00:00:00', '2026-01-24 00:00:00')"),
                {"ref": f"s{event}"})
    con.execute(text("INSERT INTO event_corrections (id, subject, event_ref, action, dispute_id, created_at) VALUES "
                     "(1, 's1', :ref, 'remove', 1, '2026-01-05 00:00:00')"), {"ref": f"s{event}"})
    con.execute(text("INSERT INTO score_history (id, subject, score, band, as_of, cause, model_id, created_at) VALUES "
                     "(1, 's1', 600, 'fair', '2026-01-03 00:00:00', :cause, 'm', '2026-01-03 00:00:00')"),
                {"cause": f"event s{event} reported"})
    con.execute(text("INSERT INTO score_history (id, subject, score, band, as_of, cause, model_id, created_at) VALUES "
                     "(2, 's1', 640, 'fair', '2026-01-05 00:00:00', 'dispute 1 corrected', 'm', "
                     "'2026-01-05 00:00:00')"))


def _public_ids(con, table: str) -> dict[int, str]:
    return dict(con.execute(text(f"SELECT id, public_id FROM {table} ORDER BY id")).all())


def test_a_database_at_s0005_is_upgraded_to_public_ids_drawn_for_every_row_and_its_event_refs_moved(database):
    """s0006: every decision, reported event, dispute, consent, policy, webhook and webhook delivery gets an opaque
    unique public id (dec_…, evt_…, dsp_…, cns_…, pol_…, whk_…, dlv_…);
    the old event ids (s<n>) a dispute, a correction and a re-score's cause stored, and the dispute's number in
    its re-score's cause, are rewritten to the new ones, so the correction still applies; the row keys are kept."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from deepcredit.service.store import public_ids

    database.create_all()
    with database.engine.begin() as con:
        command.downgrade(schema._alembic(con), "s0005")
    assert "public_id" not in {c["name"] for c in inspect(database.engine).get_columns("decisions")}
    with database.engine.begin() as con:
        _merchant_and_policy(con)
        _consent(con, 1, "s1")
        for d in (3, 4, 9):
            _decision(con, d, 1, "s1")
        for e in (2, 5):
            _reported_event(con, e, "s1", f"ev-{e}")
        _disputed_and_corrected(con, 5)
        _consent(con, 2, "s1")
        _webhook_and_deliveries(con, 1, "s1", (1, 2))
    with pytest.raises(schema.SchemaMismatch, match="is at schema s0005"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after) == ("s0005", schema.head())
    database.create_all()
    with database.engine.connect() as con:
        assert not compare_metadata(MigrationContext.configure(con), Base.metadata)  # as a new one is made
        decisions, events = _public_ids(con, "decisions"), _public_ids(con, "service_events")
        disputes = _public_ids(con, "disputes")
        refs = con.execute(text("SELECT (SELECT event_ref FROM disputes), (SELECT event_ref FROM event_corrections)")
                           ).one()
        causes = con.execute(text("SELECT cause FROM score_history ORDER BY id")).scalars().all()
    assert list(decisions) == [3, 4, 9] and list(events) == [2, 5]
    assert all(re.match(public_ids.DECISION_ID, p) for p in decisions.values())
    assert all(re.match(public_ids.EVENT_ID, p) for p in events.values())
    assert list(disputes) == [1] and re.match(public_ids.DISPUTE_ID, disputes[1])
    assert len(set(decisions.values()) | set(events.values())) == 5
    assert tuple(refs) == (events[5], events[5])
    assert causes == [f"event {events[5]} reported", f"dispute {disputes[1]} corrected"]
    with database.engine.connect() as con:
        held = {t: _public_ids(con, t) for t in ("consents", "policies", "webhooks", "webhook_deliveries")}
    assert {t: list(p) for t, p in held.items()} == {"consents": [1, 2], "policies": [1], "webhooks": [1],
                                                     "webhook_deliveries": [1, 2]}
    for table, pattern in (("consents", public_ids.CONSENT_ID), ("policies", public_ids.POLICY_ID),
                           ("webhooks", public_ids.WEBHOOK_ID), ("webhook_deliveries", f"^{public_ids.DELIVERY}{public_ids.TOKEN}$")):
        assert all(re.match(pattern, p) for p in held[table].values()), table
    assert len({p for ids in held.values() for p in ids.values()}) == 6
    for table, ids in (("decisions", decisions), ("consents", held["consents"]),
                       ("webhook_deliveries", held["webhook_deliveries"])):
        first, second = list(ids)[:2]
        with pytest.raises(IntegrityError), database.engine.begin() as con:  # unique
            con.execute(text(f"UPDATE {table} SET public_id = :p WHERE id = :i"), {"p": ids[first], "i": second})


def test_a_database_made_before_schema_versions_gets_public_ids_drawn(database):
    """Adopting adds the public ids and draws one for every row, as s0006 does."""
    _before_versions(database, narrow=False, drop="")
    with database.engine.begin() as con:
        for table in ("decisions", "service_events", "disputes", "consents", "policies", "webhooks",
                      "webhook_deliveries"):  # as before s0006
            con.execute(text(f"DROP INDEX ix_{table}_public_id"))
            con.execute(text(f"ALTER TABLE {table} DROP COLUMN public_id"))
        _merchant_and_policy(con)
        _consent(con, 1, "s1")
        _decision(con, 1, 1, "s1")
        _reported_event(con, 7, "s1", "ev-7")
        _disputed_and_corrected(con, 7)
        _webhook_and_deliveries(con, 3, "s1", (4,))
    done = schema.upgrade(database.engine)
    assert {"filled decisions.public_id from the rows held", "filled service_events.public_id from the rows held",
            "created index ix_decisions_public_id"} <= set(done.changes)
    assert {f"filled {t}.public_id from the rows held" for t in ("consents", "policies", "webhooks",
                                                                 "webhook_deliveries")} <= set(done.changes)
    with database.engine.connect() as con:
        decisions, events = _public_ids(con, "decisions"), _public_ids(con, "service_events")
        ref = con.execute(text("SELECT event_ref FROM event_corrections")).scalar_one()
        dispute = con.execute(text("SELECT public_id FROM disputes")).scalar_one()
        causes = con.execute(text("SELECT cause FROM score_history ORDER BY id")).scalars().all()
    assert decisions[1].startswith("dec_") and events[7].startswith("evt_") and ref == events[7]
    assert causes == [f"event {events[7]} reported", f"dispute {dispute} corrected"]
    with database.engine.connect() as con:
        drawn = {t: _public_ids(con, t) for t in ("consents", "policies", "webhooks", "webhook_deliveries")}
    assert drawn["consents"][1].startswith("cns_") and drawn["policies"][1].startswith("pol_")
    assert drawn["webhooks"][3].startswith("whk_") and drawn["webhook_deliveries"][4].startswith("dlv_")


def test_a_database_at_s0007_is_upgraded_to_amount_paid_keeping_its_reported_events(database):
    """s0008: a reported event may store what was paid of its amount (service_events.amount_paid); the events
    held keep every value and read as before (none said: NULL), and a new one stores it."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    database.create_all()
    with database.engine.begin() as con:
        command.downgrade(schema._alembic(con), "s0007")
    assert "amount_paid" not in {c["name"] for c in inspect(database.engine).get_columns("service_events")}
    with database.engine.begin() as con:
        _merchant_and_policy(con)
        for e in (3, 8):
            _reported_event(con, e, "s1", f"ev-{e}")
            con.execute(text("UPDATE service_events SET public_id = :p WHERE id = :i"), {"p": f"evt_{e}", "i": e})
        before = con.execute(text("SELECT * FROM service_events ORDER BY id")).mappings().all()
    with pytest.raises(schema.SchemaMismatch, match="is at schema s0007"):
        database.create_all()
    done = schema.upgrade(database.engine)
    assert (done.before, done.after) == ("s0007", schema.head())
    database.create_all()
    with database.engine.begin() as con:
        assert not compare_metadata(MigrationContext.configure(con), Base.metadata)  # as a new one is made
        after = con.execute(text("SELECT * FROM service_events ORDER BY id")).mappings().all()
        con.execute(text("UPDATE service_events SET amount_paid = 4.5 WHERE id = 8"))
        paid = con.execute(text("SELECT id, amount_paid FROM service_events ORDER BY id")).all()
    assert [{k: v for k, v in r.items() if k != "amount_paid"} for r in after] == [dict(r) for r in before]
    assert [r["amount_paid"] for r in after] == [None, None]
    assert [tuple(r) for r in paid] == [(3, None), (8, 4.5)]
    if database.is_sqlite:
        assert "AUTOINCREMENT" in _tables_sql(database)["service_events"]
    with database.engine.begin() as con:  # and back: the column goes, the rows stay
        command.downgrade(schema._alembic(con), "s0007")
        assert con.execute(text("SELECT id, amount FROM service_events ORDER BY id")).all() == [(3, 10.0), (8, 10.0)]


def test_a_database_made_before_schema_versions_gets_amount_paid_as_s0008_adds_it(database):
    """Adopting adds service_events.amount_paid, empty (NULL) for the events held, as s0008 does."""
    _before_versions(database, narrow=False, drop="")
    with database.engine.begin() as con:
        con.execute(text("ALTER TABLE service_events DROP COLUMN amount_paid"))  # as before s0008
        _merchant_and_policy(con)
        _reported_event(con, 7, "s1", "ev-7")
    done = schema.upgrade(database.engine)
    assert "added column service_events.amount_paid" in done.changes
    with database.engine.connect() as con:
        assert con.execute(text("SELECT id, amount, amount_paid FROM service_events")).all() == [(7, 10.0, None)]
