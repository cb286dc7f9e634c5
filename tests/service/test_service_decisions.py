"""Replay idempotency and the limits that stop a merchant probing an exact score through its threshold."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select

from deepcredit.service.store.models import AuditEntry, Decision, Score

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _count(svc, model) -> int:
    with svc.ctx.db.read() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _actions(svc) -> list[str]:
    with svc.ctx.db.read() as s:
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def _set_score(svc, pid: str, value: int) -> None:
    with svc.ctx.db.write() as s:
        s.get(Score, svc.subject(pid)).score = value


def test_replay_within_24h_returns_the_same_answer_without_evaluating(service):
    pid, score = service.with_score(lo=620)
    mid, acme = service.merchant()
    service.policy(acme, threshold=600)
    service.grant(service.person(pid), mid, scope="score")
    first = service.decide(acme, pid, "tx-1", include="score")
    assert first.status_code == 200 and first.json()["admitted"] is True and not first.json()["replayed"]
    assert first.json()["model_id"] == service.ctx.scorer.model_id  # each decision names the model version
    _set_score(service, pid, 400)  # the person's score drops: a *new* evaluation would decline
    service.clock.advance(hours=23)
    again = service.decide(acme, pid, "tx-1", include="score")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert _count(service, Decision) == 1
    assert _actions(service).count("decision_replayed") == 1
    with service.ctx.db.read() as s:  # the replay's audit row says why, as the decision's did
        rows = dict(s.execute(select(AuditEntry.action, AuditEntry.details)
                              .where(AuditEntry.action.in_(["decision", "decision_replayed"]))).all())
    assert json.loads(rows["decision_replayed"])["purpose"] == json.loads(rows["decision"])["purpose"] != ""
    # a new transaction id is a new evaluation, on the new score
    fresh = service.decide(acme, pid, "tx-2", include="score").json()
    assert fresh["admitted"] is False and fresh["score"] == 400
    # after the window the same id is evaluated again
    service.clock.advance(hours=2)
    late = service.decide(acme, pid, "tx-1", include="score").json()
    assert late["replayed"] is False and late["admitted"] is False


def test_replay_with_a_different_request_conflicts_and_revocation_stops_replays(service):
    pid, _ = service.with_score(skip=3)
    other, _ = service.with_score(skip=4)
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    grant = service.grant(me, mid, scope="band")
    service.grant(service.person(other), mid, scope="band")
    assert service.decide(acme, pid, "tx-9").status_code == 200
    r = service.decide(acme, other, "tx-9")
    assert r.status_code == 409 and r.json()["type"].endswith("/transaction-conflict")
    assert service.decide(acme, pid, "tx-9", include="band").status_code == 409
    service.client.delete(f"/v1/me/consents/{grant['id']}", headers=me)
    r = service.decide(acme, pid, "tx-9")
    assert r.status_code == 403 and "admitted" not in r.json()


def test_thresholds_are_coarse_and_changes_are_rate_limited_and_audited(service):
    _, acme = service.merchant()
    bad = service.client.post("/v1/policies", json={"name": "p", "scenario": "deposit_free_rental",
                                                     "threshold": 613}, headers=acme)
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-policy")
    policy = service.policy(acme, threshold=600)  # setting 1 of 3 today
    for t in (610, 620):  # settings 2 and 3
        r = service.client.patch(f"/v1/policies/{policy['id']}", json={"threshold": t}, headers=acme)
        assert r.status_code == 200 and r.json()["threshold"] == t
    r = service.client.patch(f"/v1/policies/{policy['id']}", json={"threshold": 630}, headers=acme)
    assert r.status_code == 429 and r.json()["type"].endswith("/threshold-change-limit")
    assert int(r.headers["Retry-After"]) > 0
    new = service.client.post("/v1/policies", json={"name": "q", "scenario": "threshold", "threshold": 500,
                                                     "purpose": "gym"}, headers=acme)
    assert new.status_code == 429  # a new policy is a threshold setting too
    assert service.client.get("/v1/merchant", headers=acme).json()["threshold_changes_left_today"] == 0
    with service.ctx.db.read() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.action == "threshold_changed")
                         .order_by(AuditEntry.seq)).scalars().all()
    assert [(json.loads(e.details)["old"], json.loads(e.details)["new"]) for e in rows] == [(600, 610), (610, 620)]
    service.clock.advance(hours=24, seconds=1)
    r = service.client.patch(f"/v1/policies/{policy['id']}", json={"threshold": 630}, headers=acme)
    assert r.status_code == 200


def test_one_person_sees_at_most_three_distinct_thresholds_per_merchant(service):
    pid, score = service.with_score(lo=500, hi=900)
    mid, acme = service.merchant()
    me = service.person(pid)
    thresholds = [500, 600, 700, 800]
    for i, t in enumerate(thresholds):  # four policies on four days: the change limit alone would allow it
        service.policy(acme, name=f"p{t}", scenario="threshold", threshold=t, purpose="probe")
        if i == 0:  # a grant names a purpose the merchant's policies use
            service.grant(me, mid, scope="admittance", purpose="probe", days=90)
        service.clock.advance(hours=25)
        r = service.decide(acme, pid, f"tx-{t}", policy=f"p{t}")
        if i < 3:
            assert r.status_code == 200 and r.json()["admitted"] == (score >= t)
        else:
            assert r.status_code == 429 and r.json()["type"].endswith("/threshold-probing-limit")
            assert "admitted" not in r.json()
    # a threshold already used stays usable (it reveals nothing new), and the window ends
    assert service.decide(acme, pid, "tx-again", policy="p500").status_code == 200
    service.clock.advance(days=31)
    assert service.decide(acme, pid, "tx-later", policy="p800").status_code == 200
    assert "threshold-probing-limit" in {json.loads(d).get("reason") for d in _details(service, "decision_refused")}


def _details(svc, action: str) -> list[str]:
    with svc.ctx.db.read() as s:
        return list(s.execute(select(AuditEntry.details).where(AuditEntry.action == action)).scalars())


def test_unknown_policy_and_person_without_a_score(service):
    mid, acme = service.merchant()
    service.policy(acme)
    newcomer, _ = service.with_score(skip=5)  # in the data set, not yet scored by the service
    with service.ctx.db.write() as s:
        s.execute(delete(Score).where(Score.subject == service.subject(newcomer)))
    service.grant(service.person(newcomer), mid)
    r = service.decide(acme, newcomer, "tx-1")
    assert r.status_code == 200 and r.json()["result"] == "no_score" and r.json()["admitted"] is False
    r = service.decide(acme, newcomer, "tx-2", policy="nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_a_decision_under_an_unknown_policy_is_audited_under_the_person(service):
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    me = service.person(pid)
    r = service.decide(acme, pid, "tx-1", policy="secret-probe-name", include="score")
    assert r.status_code == 404 and "secret-probe-name" not in r.text
    with service.ctx.db.read() as s:
        rows = s.execute(select(AuditEntry.subject, AuditEntry.actor, AuditEntry.details)
                         .where(AuditEntry.action == "decision_refused")).all()
    assert [(subject, actor) for subject, actor, _ in rows] == [(service.subject(pid), f"merchant:{mid}")]
    details = json.loads(rows[0].details)
    assert details == {"reason": "no-such-policy", "scope": "score"}  # no policy name the merchant typed
    assert pid not in rows[0].details
    # the person sees the merchant asked, and why it was refused
    seen = service.client.get("/v1/me/report", headers=me).json()["accesses"]
    assert [(a["action"], a["result"]) for a in seen] == [("decision_refused", "no-such-policy")]
    page = service.client.get("/v1/me/report.html", headers=me)
    assert "it named a policy it does not have" in page.text
    # nothing was decided, and the transaction id stays free for the merchant's real request
    assert _count(service, Decision) == 0
    service.grant(me, mid)
    assert service.decide(acme, pid, "tx-1").status_code == 200
