"""Access and export (everything held about me, JSON and CSV), deletion of what no rule requires, and the
retention job (old negative records stop counting, people re-scored, audited)."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from sqlalchemy import select

from deepcredit.service import export, retention
from deepcredit.service.history import RETENTION
from deepcredit.service.store.models import AuditEntry, Consent, ScoreHistory, Webhook

pytest_plugins = ("service_testkit",)


def _busy_person(svc):
    pid, me, acme = svc.decided(skip=2)
    svc.clock.advance(days=2, hours=1)  # a return 2 days late: due at least a day after the order
    r = svc.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid,
                                             "outcome": "rental_returned_late", "days_late": 2, "amount": 30},
                        headers=acme)
    event = r.json()["event_id"]
    svc.client.post("/v1/me/disputes", json={"event_id": event, "reason": "my own words"}, headers=me)
    svc.ctx.settings.webhook_allow_http = True
    svc.client.post("/v1/me/webhooks", json={"url": "https://example.invalid/hook"}, headers=me)
    return pid, me, acme


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_export_holds_every_section(service):
    pid, me, acme = _busy_person(service)
    r = service.client.get("/v1/me/export", headers=me)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    data = r.json()
    assert list(data) == list(export.SECTIONS)
    for section in ("profile", "events", "score", "score_history", "accesses", "consents", "disputes", "webhooks",
                    "alerts"):
        assert data[section], section
    assert any(e.get("event_id", "").startswith("evt_") for e in data["events"])
    assert {"decision", "event_reported", "dispute_opened"} <= {a["action"] for a in data["accesses"]}
    assert data["disputes"][0]["reason"] == "my own words"
    assert "secret" not in data["webhooks"][0]
    assert all("source" not in x and "target" not in x for x in data["relations"])  # others are never named
    assert pid not in r.text
    z = zipfile.ZipFile(io.BytesIO(service.client.get("/v1/me/export.zip", headers=me).content))
    assert set(z.namelist()) == {"export.json", *(f"{s}.csv" for s in export.SECTIONS)}
    assert json.loads(z.read("export.json"))["score"] == data["score"]
    assert z.read("events.csv").decode().count("\n") == len(data["events"]) + 1
    nothing = zipfile.ZipFile(io.BytesIO(export.as_zip({s: [] for s in export.SECTIONS})))
    assert all(nothing.read(f"{s}.csv") == b"" for s in export.SECTIONS)  # no made-up header such as "(none)"
    # an empty section whose columns are known is its header row, not 0 bytes
    headers = zipfile.ZipFile(io.BytesIO(export.as_zip({s: [] for s in export.SECTIONS}, export.COLUMNS)))
    assert headers.read("webhooks.csv").decode().splitlines() == ["id,url,created_at,active"]
    assert service.client.get("/v1/me/export", headers=acme).status_code == 401  # never a merchant's
    assert service.client.get("/v1/me/export.zip").status_code == 401


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_deletion_removes_only_what_no_rule_requires(service):
    pid, me, acme = _busy_person(service)
    mid, shop = service.merchant("Other Shop")
    service.policy(shop)
    grant = service.grant(me, mid)
    service.client.delete(f"/v1/me/consents/{grant['id']}", headers=me)  # ended, never used
    out = service.client.post("/v1/me/deletion", headers=me).json()
    assert out["deleted"]["webhooks"] == 1 and out["deleted"]["ended_consents"] == 1 and out["kept"]
    subject = service.subject(pid)
    with service.ctx.db.read() as s:
        assert not s.execute(select(Webhook).where(Webhook.subject == subject)).all()
        assert len(s.execute(select(Consent).where(Consent.subject == subject)).all()) == 1  # a decision's
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "deletion_requested")).first()
    assert service.client.get("/v1/me/report", headers=me).json()["score"] is not None  # the score stays


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_retention_retires_old_negative_records_and_rescores(service):
    scorer = service.ctx.scorer
    spec = scorer.dataset.spec
    negative = spec.negative_statuses
    out = retention.run(service.ctx, years=1, recalculate=False)
    assert out.retired_people > 0
    with service.ctx.db.read() as s:
        retired = s.execute(select(ScoreHistory.subject).where(ScoreHistory.cause == RETENTION)).scalars().all()
        audit = s.execute(select(AuditEntry.action).where(AuditEntry.action.in_(
            ["records_retired", "retention_run"]))).scalars().all()
    assert len(retired) == out.retired_people and audit.count("records_retired") == out.retired_people
    subject = retired[0]
    events = scorer.person_events(subject)  # what the score reads now
    old = events[events["ts"] < out.cutoff]
    assert not old["status"].isin(negative).any()  # old negatives no longer count
    assert len(scorer.dataset.read("events").query("person_id == @subject")) >= len(events)  # nothing deleted
    again = retention.run(service.ctx, years=1, recalculate=False)
    assert again.retired_people == 0  # each record is retired once


RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def _times(value, path=""):
    """(path, value) of every string in `value` that looks like a date-time."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _times(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", value) else []


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_every_export_time_carries_its_offset_and_empty_tables_their_header(service):
    """The audit found events.ts, due_ts, score.as_of, score_history.as_of, accesses.at and profile.joined_at
    without an offset ("2026-06-30T00:00:28.207") beside consents and disputes with one, and webhooks.csv 0 bytes."""
    pid, me, acme = service.decided(skip=2)
    service.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid, "outcome":
                                            "rental_returned_late", "days_late": 2, "amount": 30}, headers=acme)
    data = service.client.get("/v1/me/export", headers=me).json()
    times = _times(data)
    where = {p for p, _ in times}
    for key in (".events", ".score[0].as_of", ".score_history", ".accesses", ".consents"):
        assert any(p.startswith(key) for p in where), key
    assert any(p.endswith(".ts") for p in where) and any(p.endswith(".due_ts") for p in where)
    bad = [(p, v) for p, v in times if not RFC3339_Z.match(v)]
    assert not bad, bad[:5]
    report = service.client.get("/v1/me/report", headers=me).json()
    assert data["score"][0]["as_of"] == report["scored_at"]  # written the same way as the rest of the API
    z = zipfile.ZipFile(io.BytesIO(service.client.get("/v1/me/export.zip", headers=me).content))
    assert z.read("webhooks.csv").decode().splitlines() == ["id,url,created_at,active"]  # none: the header alone
    assert z.read("disputes.csv").decode().splitlines()[0].startswith("id,event_id,attribute,state")
    events = z.read("events.csv").decode()
    assert "Z," in events and json.loads(z.read("export.json"))["events"] == data["events"]
