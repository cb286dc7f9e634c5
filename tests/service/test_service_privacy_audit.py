"""Privacy audit fixes: no raw id in the service's data copy or a snapshot, erasure reaches the copy, the
pseudonym key is checked, refused accesses are audited, merchants get reason codes without the person's
values, an amount-less data set's plan says nothing about money, a write-off needs a whole day."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import typer
from fastapi.testclient import TestClient
from service_testkit import ADMIN_KEY, KEY, NOW, scorer_for, world
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from deepcredit.cli import serve_cmds
from deepcredit.data.dataset import Dataset, write_dataset
from deepcredit.service import recourse
from deepcredit.service.app import create_app
from deepcredit.service.config import Settings
from deepcredit.service.events import held_amount
from deepcredit.service.keycheck import KEY_CHECK, KeyMismatch
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.pseudodata import raw_references
from deepcredit.service.snapshot import snapshot
from deepcredit.service.store.models import AuditEntry, ServiceEvent

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database
OTHER_KEY = "another-pseudonym-key-0123456789abcdef"


def _app() -> typer.Typer:
    app = typer.Typer()
    serve_cmds.register(app)
    return app


def _values(data: Dataset) -> set[str]:
    """Every text value of every table of a data set."""
    out: set[str] = set()
    for name in [*data.manifest.tables, *data.manifest.extras]:
        frame = data.read(name)
        for col in frame.columns:
            if frame[col].dtype == object or str(frame[col].dtype).startswith("string"):
                out |= set(frame[col].dropna().astype(str))
    return out


def _env(tmp_path, key: str = KEY.decode()) -> dict[str, str]:
    return {"DEEPCREDIT_PSEUDONYM_KEY": key, "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
            "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}


def _init(tmp_path, env: dict[str, str]) -> None:
    w = world()
    r = CliRunner().invoke(_app(), ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state",
                                    str(tmp_path / "state"), "--as-of", "2026-07-01 12:00"], env=env)
    assert r.exit_code == 0, r.output


def test_the_copy_holds_no_raw_person_id_in_any_column():
    """The simulated world's transfers name another person as counterparty: the copy held those raw ids."""
    w = world()
    raw_ids = set(w.ids)
    counterparties = set(w.raw.read("events")["counterparty"].dropna().astype(str))
    assert counterparties & raw_ids  # the check below checks something
    assert not _values(w.data) & raw_ids
    pseudonym = Pseudonymiser(KEY)
    held = set(w.data.read("events")["counterparty"].dropna())
    assert {pseudonym(c) for c in counterparties} == held  # the same people, under their pseudonyms


def test_an_erased_person_is_nowhere_in_the_copy_or_a_snapshot(tmp_path):
    w = world()
    events = w.raw.read("events")
    pid = next(p for p in w.ids if p in set(events["counterparty"].astype(str)) and (events["person_id"] == p).any())
    env = _env(tmp_path)
    _init(tmp_path, env)
    runner = CliRunner()
    r = runner.invoke(_app(), ["person-erase", pid, "--yes"], env=env)
    assert r.exit_code == 0, r.output
    assert "data copy" in r.output and "source data set" in r.output and "exported before" in r.output
    subject = Pseudonymiser(KEY)(pid)
    copy = Dataset(tmp_path / "state" / "data")
    assert subject not in _values(copy) and pid not in _values(copy)
    assert "erased" in set(copy.read("events")["counterparty"].dropna())  # others' records keep their rows
    assert len(copy.read("people")) == len(w.ids) - 1
    second = next(p for p in w.ids if p != pid)  # and through the running service's operator route
    with TestClient(create_app(Settings.from_env(env))) as client:
        r = client.post("/v1/admin/erasures", json={"person_id": second},
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert r.status_code == 201, r.text
    assert Pseudonymiser(KEY)(second) not in _values(Dataset(tmp_path / "state" / "data"))
    r = runner.invoke(_app(), ["serve-snapshot", "--out", str(tmp_path / "snap")], env=env)
    assert r.exit_code == 0, r.output
    snap = _values(Dataset(tmp_path / "snap"))
    assert subject not in snap and Pseudonymiser(KEY)(second) not in snap and not snap & set(w.ids)
    _init(tmp_path, env)  # the copy made again from the source: still without them
    assert subject not in _values(Dataset(tmp_path / "state" / "data"))


def test_a_changed_pseudonym_key_is_refused_before_anything_is_written(tmp_path):
    env = _env(tmp_path)
    _init(tmp_path, env)
    eng = create_engine(env["DEEPCREDIT_DATABASE_URL"])
    with eng.connect() as con:
        recorded = con.execute(text("SELECT value FROM service_meta WHERE key = :k"), {"k": KEY_CHECK}).scalar_one()
        rows = con.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    assert KEY.decode() not in recorded and len(recorded) == 64
    wrong, runner = _env(tmp_path, OTHER_KEY), CliRunner()
    for args in (["person-token", world().ids[0]], ["merchant-add", "Acme"], ["person-erase", world().ids[1], "--yes"],
                 ["serve-snapshot", "--out", str(tmp_path / "snap")], ["serve", "--port", "1"]):
        r = runner.invoke(_app(), args, env=wrong)
        assert r.exit_code == 2 and "DEEPCREDIT_PSEUDONYM_KEY is not the key" in r.output, (args, r.output)
        assert OTHER_KEY not in r.output
    with pytest.raises(KeyMismatch):
        create_app(Settings.from_env(wrong))
    with eng.connect() as con:
        assert con.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == rows
    # a database from before check values: recorded on first start, but only under a key its log verifies with
    with eng.begin() as con:
        con.execute(text("DELETE FROM service_meta WHERE key = :k"), {"k": KEY_CHECK})
    r = runner.invoke(_app(), ["person-token", world().ids[0]], env=wrong)
    assert r.exit_code == 2 and "last row does not verify" in r.output
    assert runner.invoke(_app(), ["person-token", world().ids[0]], env=env).exit_code == 0
    with eng.connect() as con:
        assert con.execute(text("SELECT value FROM service_meta WHERE key = :k"), {"k": KEY_CHECK}).scalar_one() \
            == recorded
    assert json.loads(runner.invoke(_app(), ["audit-verify", "--json"], env=env).stdout)["ok"]
    eng.dispose()


def _refusals(svc, subject: str) -> list[dict]:
    with svc.ctx.db.read() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.details).where(AuditEntry.subject == subject)
                         .order_by(AuditEntry.seq)).all()
    return [{"action": a, **json.loads(d)} for a, d in rows if a in ("decision_refused", "access_refused")]


def test_refused_accesses_are_audited(service):
    pid, me, acme = service.decided()
    other, _ = service.with_score(skip=5)
    assert service.decide(acme, other, "tx-1").status_code == 409  # tx-1 was about pid
    assert _refusals(service, service.subject(other)) == [{"action": "decision_refused",
                                                           "reason": "transaction-conflict"}]
    page = service.client.get("/v1/me/report", headers=service.person(other)).json()
    assert any(a["action"] == "decision_refused" for a in page["accesses"])  # the person sees who asked
    intruder, _ = service.with_score(skip=6)
    theirs = service.person(intruder)
    assert service.client.get(f"/v1/people/{pid}/report", headers=theirs).status_code == 403
    consent_id = service.client.get("/v1/me/consents", headers=me).json()[0]["id"]
    assert service.client.delete(f"/v1/me/consents/{consent_id}", headers=theirs).status_code == 404
    assert service.client.delete("/v1/me/webhooks/999", headers=theirs).status_code == 404
    refused = _refusals(service, service.subject(intruder))
    assert refused == [{"action": "access_refused", "what": "report", "reason": "not-your-report"},
                       {"action": "access_refused", "what": "consent", "reason": "not-found"},
                       {"action": "access_refused", "what": "webhook", "reason": "not-found"}]
    with service.ctx.db.read() as s:
        logged = " ".join(s.execute(select(AuditEntry.details)).scalars())
    assert pid not in logged and intruder not in logged and other not in logged
    assert service.client.get("/v1/me/consents", headers=me).json()[0]["state"] == "active"


def test_a_merchant_with_factors_consent_gets_reason_codes_not_the_person_s_values(service):
    pid, _ = service.with_score(lo=0, hi=700)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    service.grant(me, mid, scope="factors")
    body = service.decide(acme, pid, "tx-f", include="factors").json()
    reasons = body["factors"]["reasons"]
    assert reasons and all("value" not in r and {"feature", "reason", "points_lost"} <= set(r) for r in reasons)
    assert "value" not in json.dumps(service.decide(acme, pid, "tx-f", include="factors").json())  # a replay too
    own = service.client.get("/v1/me/report", headers=me).json()["reasons"]
    assert own and all("value" in r for r in own)  # the person's own report keeps them


def test_a_data_set_without_amounts_gets_a_plan_without_money(tmp_path):
    w = world()
    frames = {t: w.data.read(t) for t in ("people", "events", "relations", "outcomes")}
    frames["events"]["amount"] = 0.0
    zero = write_dataset(tmp_path / "zero", frames, "zero", str(w.data.snapshot_date.date()), spec=w.data.spec)
    sc = scorer_for(zero)
    person = sorted(w.scores, key=lambda p: p.score)[0].person_id
    options = recourse.behaviours(sc, person, NOW)
    assert options and all(b.amount is None and not b.priced for b in options)
    assert not any("about" in recourse.Step(b, 3).text() for b in options)
    plan = recourse.Plan(3, tuple(recourse.Step(b, 1) for b in options))
    assert (plan.events(NOW)["amount"] == 0.0).all()  # simulated as the data set stores them
    assert any(b.amount for b in recourse.behaviours(scorer_for(w.data), person, NOW))  # amounts where there are


def test_a_write_off_needs_a_whole_day_after_its_order(service):
    pid, _ = service.with_score(skip=3)
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.clock.advance(seconds=4)
    report = {"transaction_id": "ev-1", "person_id": pid, "outcome": "rental_not_returned", "amount": 25}
    r = service.client.post("/v1/events", json=report, headers=acme)
    assert r.status_code == 422 and r.json()["type"].endswith("/due-before-order") and pid not in r.text
    r = service.client.post("/v1/events", json={**report, "days_late": 0}, headers=acme)
    assert r.status_code == 422
    service.clock.advance(days=2, hours=5)
    assert service.client.post("/v1/events", json=report, headers=acme).status_code == 201
    with service.ctx.db.read() as s:
        stored = s.execute(select(ServiceEvent)).scalar_one()
        refused = s.execute(select(AuditEntry.details).where(AuditEntry.action == "event_refused")).scalars().all()
    assert stored.days_late == 2.0 and stored.due_ts >= NOW  # whole days, never before the order
    assert len(refused) == 2 and all('"due-before-order"' in d for d in refused)
    assert timedelta(days=stored.days_late) <= stored.ts - NOW


def test_a_snapshot_of_a_copy_with_raw_references_is_refused(service, tmp_path):
    """A copy written before counterparties were pseudonymised: the snapshot would ship the raw ids."""
    w = service.world
    frames = {t: w.data.read(t) for t in ("people", "events", "relations", "outcomes")}
    frames["events"]["counterparty"] = w.ids[0]  # a raw person id, as such a copy kept it
    old = write_dataset(tmp_path / "old", frames, "old", str(w.data.snapshot_date.date()), spec=w.data.spec)
    assert raw_references(old) == ["events.counterparty"] and raw_references(w.data) == []
    with pytest.raises(ValueError, match="serve-init"):
        snapshot(service.ctx, old, tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def test_a_reported_amount_is_stored_as_0_where_the_data_set_holds_no_amounts():
    spec = world().data.spec
    events = spec.events.model_copy(update={"columns": spec.events.columns.model_copy(update={"amount": ""})})
    assert held_amount(25, spec.model_copy(update={"events": events})) == 0.0
    assert held_amount(25, spec) == 25.0


def test_the_person_s_records_show_no_amount_where_the_data_set_holds_none(service, monkeypatch):
    pid, _ = service.with_score()
    me = service.person(pid)
    assert any(e["amount"] for e in service.client.get("/v1/me/report", headers=me).json()["events"])
    spec = service.world.data.spec
    events = spec.events.model_copy(update={"columns": spec.events.columns.model_copy(update={"amount": ""})})
    monkeypatch.setattr(service.ctx.scorer.dataset, "spec", spec.model_copy(update={"events": events}))
    shown = service.client.get("/v1/me/report", headers=me).json()["events"]
    assert shown and all(e["amount"] is None for e in shown)  # not "0.00" for every record
