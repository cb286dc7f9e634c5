"""The audit log: append-only in the database, hash-chained, and verification catches any tampered row."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _activity(svc) -> str:
    """A little of everything: merchant, policy, consent, decisions, an event, a report view; returns the id."""
    pid, _ = svc.with_score()
    mid, acme = svc.merchant()
    svc.policy(acme)
    me = svc.person(pid)
    svc.grant(me, mid, scope="factors")
    for i, inc in enumerate(("admittance", "band", "factors")):
        assert svc.decide(acme, pid, f"tx-{i}", include=inc).status_code == 200
    nosy = svc.merchant("Nosy Ltd")[1]
    svc.policy(nosy)
    assert svc.decide(nosy, pid, "tx-nosy").status_code == 403  # refused, and audited
    r = svc.client.post("/v1/events", json={"transaction_id": "ev", "person_id": pid,
                                             "outcome": "rental_returned_on_time", "amount": 20}, headers=acme)
    assert r.status_code == 201
    assert svc.client.get("/v1/me/report", headers=me).status_code == 200
    return pid


def _verify(svc) -> dict:
    r = svc.client.get("/v1/admin/audit/verify", headers=svc.admin)
    assert r.status_code == 200
    return r.json()


def _drop_guards(svc) -> None:
    with svc.ctx.db.engine.begin() as con:
        if svc.ctx.db.is_sqlite:
            con.execute(text("DROP TRIGGER audit_log_no_update"))
            con.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            con.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))


def test_chain_verifies_and_the_database_refuses_changes(service):
    _activity(service)
    result = _verify(service)
    assert result["ok"] and result["rows"] >= 10 and result["problems"] == []
    for sql in ("UPDATE audit_log SET action = 'nothing' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), service.ctx.db.engine.begin() as con:
            con.execute(text(sql))
    assert _verify(service)["ok"]


def test_verification_catches_a_tampered_row(service):
    _activity(service)
    _drop_guards(service)  # an attacker with write access to the database
    with service.ctx.db.engine.begin() as con:
        row = con.execute(text("SELECT seq, details FROM audit_log WHERE action = 'decision_refused'")).first()
        forged = json.dumps({**json.loads(row.details), "reason": "nothing happened"})
        con.execute(text("UPDATE audit_log SET details = :d WHERE seq = :s"), {"d": forged, "s": row.seq})
    result = _verify(service)
    assert not result["ok"] and result["problems"][0].startswith(f"row {row.seq}:")


def test_verification_catches_removed_rows(service):
    _activity(service)
    _drop_guards(service)
    with service.ctx.db.engine.begin() as con:
        last = con.execute(text("SELECT MAX(seq) FROM audit_log")).scalar_one()
        con.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": last})
    assert "removed from the end" in _verify(service)["problems"][0]
    with service.ctx.db.engine.begin() as con:
        con.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    assert _verify(service)["problems"][0] == "row 4: row 3 is missing (found 4 next)"


def test_no_personal_data_in_logs_or_database(service, caplog):
    caplog.set_level(logging.DEBUG)
    pid = _activity(service)
    service.client.get(f"/v1/people/{pid}/report", headers=service.person(pid))
    service.client.get("/openapi.json")
    assert service.client.get(f"/v1/no-such-route/{pid}").status_code == 404
    server = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # not the client's
    assert pid not in server
    assert "GET /v1/people/{person_id}/report 200" in server  # the route template, not the path
    assert "GET /openapi.json 200" in server  # a route without parameters: its path is its template
    assert "GET (unmatched) 404" in server  # an unknown path may hold an id: never logged
    with service.ctx.db.engine.connect() as con:
        for table in inspect(con).get_table_names():
            dump = " ".join(str(v) for row in con.execute(text(f"SELECT * FROM {table}")) for v in row)
            assert pid not in dump, f"raw person id stored in {table}"
        details = " ".join(con.execute(text("SELECT details FROM audit_log")).scalars())
    assert service.subject(pid) not in details  # the subject column holds the pseudonym, details never


def test_audit_log_names_who_did_what(service):
    pid = _activity(service)
    report = service.client.get("/v1/me/report", headers=service.person(pid)).json()
    seen = {(a["who"], a["action"]) for a in report["accesses"]}
    assert {("Acme Rentals", "decision"), ("Nosy Ltd", "decision_refused"), ("Acme Rentals", "event_reported")} <= seen
    scopes = [a["scope"] for a in report["accesses"] if a["action"] == "decision"]
    assert sorted(scopes) == ["admittance", "band", "factors"]


def _rows(svc) -> int:
    with svc.ctx.db.engine.connect() as con:
        return con.execute(text("SELECT COUNT(*) FROM audit_log")).scalar_one()


def _append(svc) -> int:
    with svc.ctx.db.write() as s:
        return svc.ctx.audit.append(s, svc.ctx.now(), "operator", "service_initialised")


@pytest.mark.parametrize("tamper", [
    "UPDATE audit_log SET action = 'nothing' WHERE seq = {head}",  # the head row's contents
    "UPDATE audit_head SET mac = '{forged}'",  # the recorded head's mac
    "DELETE FROM audit_log WHERE seq = {head}",  # the row the head names is gone
])
def test_a_tampered_head_row_is_never_built_upon(service, caplog, tamper):
    """Appending checks the head row (one row): a forged head is refused, naming its seq only, and nothing is
    appended; an intact head takes the next row as before."""
    from deepcredit.service.audit import AuditChainBroken

    pid = _activity(service)
    head = _append(service)  # the head verifies: appended as before
    rows = _rows(service)
    _drop_guards(service)
    with service.ctx.db.engine.begin() as con:
        con.execute(text(tamper.replace("{head}", str(head)).replace("{forged}", "f" * 64)))
    before = _rows(service)
    with pytest.raises(AuditChainBroken, match=f"^audit log head row {head}: .*nothing is appended"):
        _append(service)
    assert _rows(service) == before <= rows  # nothing appended on top of it
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"audit log head row {head}" in logged and pid not in logged and service.subject(pid) not in logged


@pytest.mark.parametrize(("tamper", "why"), [
    ("DELETE FROM audit_head", "the log has rows but no recorded head"),
    (f"UPDATE audit_head SET seq = 0, mac = '{'0' * 64}'", "the recorded head says the log is empty"),
])
def test_a_log_whose_recorded_head_was_removed_or_reset_is_not_restarted(service, tamper, why):
    from deepcredit.service.audit import AuditChainBroken

    _activity(service)
    rows = _rows(service)
    with service.ctx.db.engine.begin() as con:
        con.execute(text(tamper))
    with pytest.raises(AuditChainBroken, match=f"^audit log head row 0: {why}"):
        _append(service)
    assert _rows(service) == rows
