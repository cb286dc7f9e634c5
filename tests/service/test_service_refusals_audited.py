"""Every refusal docs/security.md promises to audit leaves a row (ctx.refused / refusals_audited), naming the
caller and the subject's pseudonym only, once; and audit-verify never calls an emptied or headless log intact."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, text

from deepcredit.service.store.models import AuditEntry

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _rows(svc, action: str) -> list[tuple[str, str | None, dict]]:
    with svc.ctx.db.read() as s:
        found = s.execute(
            select(AuditEntry.actor, AuditEntry.subject, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        ).all()
    return [(actor, subject, json.loads(details)) for actor, subject, details in found]


def test_refusing_a_token_or_an_erasure_for_an_erased_person_is_audited_once(service):
    pid, _ = service.with_score()
    assert (
        service.client.post("/v1/admin/erasures", json={"person_id": pid}, headers=service.admin).status_code
        == 201
    )
    for path, action in (
        ("/v1/admin/person-tokens", "person_token_refused"),
        ("/v1/admin/erasures", "erasure_refused"),
    ):
        r = service.client.post(path, json={"person_id": pid}, headers=service.admin)
        assert r.status_code == 409 and r.json()["type"].endswith("/erased"), r.text
        assert _rows(service, action) == [("operator", service.subject(pid), {"reason": "erased"})]
        assert pid not in str(_rows(service, action))


def test_a_refused_threshold_setting_is_audited(service):
    _, acme = service.merchant()
    policy = service.policy(acme)  # the first of 3 settings a day
    for threshold in (610, 620):
        assert (
            service.client.patch(
                f"/v1/policies/{policy['id']}", json={"threshold": threshold}, headers=acme
            ).status_code
            == 200
        )
    r = service.client.patch(f"/v1/policies/{policy['id']}", json={"threshold": 630}, headers=acme)
    assert r.status_code == 429 and r.json()["type"].endswith("/threshold-change-limit")
    r = service.client.post(
        "/v1/policies",
        json={"name": "other", "scenario": "deposit_free_rental", "threshold": 640},
        headers=acme,
    )
    assert r.status_code == 429
    refused = _rows(service, "policy_refused")
    assert [d for _, _, d in refused] == [{"reason": "threshold-change-limit"}] * 2
    assert {actor for actor, _, _ in refused} == {_rows(service, "policy_created")[0][0]} and {
        subject for _, subject, _ in refused
    } == {None}


def test_disputing_another_persons_event_is_audited_under_the_caller_only(service):
    (a, _), (b, _) = service.with_score(skip=5), service.with_score(skip=6)
    me_a, me_b = service.person(a), service.person(b)
    theirs = service.client.get("/v1/me/report", headers=me_b).json()["events"][0]["event_id"]
    r = service.client.post("/v1/me/disputes", json={"event_id": theirs, "reason": "not mine"}, headers=me_a)
    assert r.status_code == 404
    assert _rows(service, "access_refused") == [
        ("person", service.subject(a), {"reason": "not-found", "what": "event"})
    ]


def test_a_refused_dispute_is_audited_once(service):
    """An unknown attribute (404) and a record whose dispute is still open (409) are `dispute_refused`, with
    the reason only (the attribute sent is not written), or the event's id; someone else's event stays an
    `access_refused` only."""
    (a, _), (b, _) = service.with_score(skip=5), service.with_score(skip=6)
    me = service.person(a)
    mine = service.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    theirs = service.client.get("/v1/me/report", headers=service.person(b)).json()["events"][0]["event_id"]
    bodies = [
        {"attribute": "no_such_detail"},
        {"attribute": "credit_limit"},
        {"attribute": "credit_limit"},
        {"event_id": mine},
        {"event_id": mine},
        {"event_id": theirs},
    ]
    codes = [
        service.client.post("/v1/me/disputes", json={**body, "reason": "wrong"}, headers=me).status_code
        for body in bodies
    ]
    assert codes == [404, 201, 409, 201, 409, 404]
    assert _rows(service, "dispute_refused") == [
        ("person", service.subject(a), {"reason": "not-found"}),
        ("person", service.subject(a), {"reason": "dispute-exists"}),
        ("person", service.subject(a), {"reason": "dispute-exists", "event": mine}),
    ]
    assert len(_rows(service, "access_refused")) == 1 and "no_such_detail" not in str(
        _rows(service, "dispute_refused")
    )


def test_a_refused_consent_is_audited(service):
    pid, _ = service.with_score()
    me = service.person(pid)
    mid, _ = service.merchant()
    later = service.iso(service.clock.t + timedelta(days=30))
    body = {
        "merchant_id": mid + 1000,
        "scope": "admittance",
        "purpose": "deposit_free_rental",
        "mode": "standing",
        "expires_at": later,
    }
    assert service.client.post("/v1/me/consents", json=body, headers=me).status_code == 404
    past = {**body, "merchant_id": mid, "expires_at": service.iso(service.clock.t - timedelta(days=1))}
    r = service.client.post("/v1/me/consents", json=past, headers=me)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-consent")
    assert _rows(service, "consent_refused") == [
        ("person", service.subject(pid), {"reason": "not-found", "merchant": mid + 1000}),
        ("person", service.subject(pid), {"reason": "invalid-consent", "merchant": mid}),
    ]


def _drop_guards(svc) -> None:
    with svc.ctx.db.engine.begin() as con:
        if svc.ctx.db.is_sqlite:
            con.execute(text("DROP TRIGGER audit_log_no_update"))
            con.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            con.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))


def _verify(svc) -> dict:
    r = svc.client.get("/v1/admin/audit/verify", headers=svc.admin)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_emptied_log_beside_merchants_and_scores_is_not_intact(service):
    service.merchant()
    assert _verify(service)["ok"]
    _drop_guards(service)
    with service.ctx.db.engine.begin() as con:
        con.execute(text("DELETE FROM audit_log"))
        con.execute(text("DELETE FROM audit_head"))
    result = _verify(service)
    assert not result["ok"] and result["rows"] == 0
    assert "the log is empty or its head is missing" in result["problems"][0]


def test_a_dropped_audit_head_table_is_a_verdict_not_a_traceback(service):
    service.merchant()
    with service.ctx.db.engine.begin() as con:
        con.execute(text("DROP TABLE audit_head"))
    result = _verify(service)
    assert not result["ok"] and result["problems"] == [
        "row 0: the table audit_head is missing (dropped): the log cannot be verified"
    ]


def test_health_says_degraded_while_the_audit_head_does_not_verify(service):
    service.merchant()
    healthy = service.client.get("/v1/health")
    assert (
        healthy.status_code == 200
        and healthy.json()["status"] == "ok"
        and healthy.json()["audit_head_intact"]
    )
    _drop_guards(service)
    with service.ctx.db.engine.begin() as con:
        con.execute(text("UPDATE audit_head SET mac = :m"), {"m": "f" * 64})
    r = service.client.get("/v1/health")
    assert (
        r.status_code == 200 and r.json()["status"] == "degraded" and r.json()["audit_head_intact"] is False
    )
