"""Disputes: open -> under review -> corrected | upheld, a deadline, a marked event, a re-score on correction."""

from __future__ import annotations

import pandas as pd
import pytest

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _bad_event(svc, me) -> dict:
    """One of the person's records that hurts their score (late, missed...)."""
    events = svc.client.get("/v1/me/report", headers=me).json()["events"]
    return next(e for e in events if e["status"] in ("missed", "not_returned", "late", "overdue"))


def _open(svc, me, event_id, reason="I paid this on time; I have the receipt.") -> dict:
    r = svc.client.post("/v1/me/disputes", json={"event_id": event_id, "reason": reason}, headers=me)
    assert r.status_code == 201, r.text
    return r.json()


def _person_with_a_missed_event(svc) -> tuple[str, dict]:
    for i in range(60):
        pid, _ = svc.with_score(skip=i)
        me = svc.person(pid)
        events = svc.client.get("/v1/me/report", headers=me).json()["events"]
        if any(e["status"] in ("missed", "not_returned") for e in events):
            return pid, me
    pytest.fail("no person with a missed commitment in the test world")


def test_dispute_state_machine_and_deadline(service):
    pid, me = _person_with_a_missed_event(service)
    event = _bad_event(service, me)
    d = _open(service, me, event["event_id"])
    assert d["state"] == "open" and d["overdue"] is False
    assert d["deadline_at"].startswith("2026-07-21")  # 20 days by default
    admin = service.admin
    # open -> resolved directly is not allowed: it must be reviewed first
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", json={"outcome": "upheld", "note": "x"},
                            headers=admin)
    assert r.status_code == 409 and r.json()["type"].endswith("/invalid-transition")
    # the event is marked while the dispute is open
    marked = {e["event_id"]: e for e in service.client.get("/v1/me/report", headers=me).json()["events"]}
    assert marked[event["event_id"]]["disputed"] is True and marked[event["event_id"]]["dispute_state"] == "open"
    assert _open_twice(service, me, event["event_id"]) == 409
    service.clock.advance(days=21)
    listed = service.client.get("/v1/admin/disputes", params={"state": "open"}, headers=admin).json()
    assert [x["id"] for x in listed] == [d["id"]] and listed[0]["overdue"] is True
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=admin)
    assert r.status_code == 200 and r.json()["state"] == "under_review"
    assert service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=admin).status_code == 409
    before = service.score_of(pid).score
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=admin,
                            json={"outcome": "upheld", "note": "The merchant's records confirm it."})
    assert r.status_code == 200 and r.json()["state"] == "upheld"
    assert service.score_of(pid).score == before  # upheld: nothing changes
    for move in ("review", "resolve"):
        r = service.client.post(f"/v1/admin/disputes/{d['id']}/{move}", headers=admin,
                                json={"outcome": "upheld", "note": "again"})
        assert r.status_code == 409
    report = service.client.get("/v1/me/report", headers=me).json()
    assert not any(e["disputed"] for e in report["events"])
    # a person cannot see or act as an operator
    assert service.client.get("/v1/admin/disputes", headers=me).status_code == 401


def _open_twice(svc, me, event_id) -> int:
    return svc.client.post("/v1/me/disputes", json={"event_id": event_id, "reason": "again"},
                           headers=me).status_code


@pytest.mark.parametrize("action", ["remove", "restatus"])
def test_correction_rescores_and_shows_in_history(service, action):
    pid, me = _person_with_a_missed_event(service)
    # dispute every hurting record, so that the correction must move the score up
    report = service.client.get("/v1/me/report", headers=me).json()
    bad = [e for e in report["events"] if e["status"] in ("missed", "not_returned")]
    before = service.score_of(pid).score
    admin = service.admin
    for e in bad:
        d = _open(service, me, e["event_id"])
        service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=admin)
        fix = {"action": "remove"} if action == "remove" else {"action": "restatus", "status": "on_time"}
        r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=admin,
                                json={"outcome": "corrected", "note": "The merchant confirmed the error.",
                                      "correction": fix})
        assert r.status_code == 200 and r.json()["state"] == "corrected"
    after = service.client.get("/v1/me/report", headers=me).json()
    assert after["score"] > before
    assert after["history"][-1]["cause"].startswith("dispute") and after["history"][-1]["score"] == after["score"]
    statuses = {e["event_id"]: e["status"] for e in after["events"]}
    for e in bad:
        assert (e["event_id"] not in statuses) if action == "remove" else statuses[e["event_id"]] == "on_time"


def test_disputes_only_on_ones_own_events_and_valid_corrections(service):
    (a, _), (b, _) = service.with_score(skip=5), service.with_score(skip=6)
    me_a, me_b = service.person(a), service.person(b)
    theirs = service.client.get("/v1/me/report", headers=me_b).json()["events"][0]["event_id"]
    r = service.client.post("/v1/me/disputes", json={"event_id": theirs, "reason": "not mine"}, headers=me_a)
    assert r.status_code == 404
    r = service.client.post("/v1/me/disputes", json={"event_id": "b999999999", "reason": "?"}, headers=me_a)
    assert r.status_code == 404
    mine = service.client.get("/v1/me/report", headers=me_a).json()["events"][0]["event_id"]
    d = _open(service, me_a, mine)
    service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=service.admin)
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=service.admin,
                            json={"outcome": "corrected", "note": "n",
                                  "correction": {"action": "restatus", "status": "great"}})
    assert r.status_code == 422
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=service.admin,
                            json={"outcome": "corrected", "note": "n"})
    assert r.status_code == 422  # a correction must say what changes
    r = service.client.post(f"/v1/admin/disputes/{d['id']}/resolve", headers=service.admin,
                            json={"outcome": "corrected", "note": "n",
                                  "correction": {"action": "restatus", "status": "late", "days_late": 12.5}})
    assert r.status_code == 422 and "days_late" in r.text  # a delay is counted in whole days
    assert service.client.get("/v1/me/disputes", headers=me_b).json() == []


def _resolve(svc, dispute_id: int, correction: dict | None) -> object:
    body = {"outcome": "corrected", "note": "The bank's statement shows the right figure.", "correction": correction}
    return svc.client.post(f"/v1/admin/disputes/{dispute_id}/resolve", headers=svc.admin,
                           json={k: v for k, v in body.items() if v is not None})


def test_a_wrong_profile_detail_is_disputed_corrected_and_scored_with_the_right_value(service):
    pid, _ = service.with_score(skip=3)
    me = service.person(pid)
    held = {a["attribute"]: a for a in service.client.get("/v1/me/report", headers=me).json()["profile"]}
    assert held["credit_limit"]["text"] == "the size of your credit line" and held["credit_limit"]["value"]
    assert "sex" not in held  # the service's pseudonymised copy holds no protected attribute
    r = service.client.post("/v1/me/disputes", json={"attribute": "credit_limit", "reason": "My limit was raised."},
                            headers=me)
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["attribute"], d["event_id"], d["state"]) == ("credit_limit", None, "open")
    again = service.client.post("/v1/me/disputes", json={"attribute": "credit_limit", "reason": "again"}, headers=me)
    assert again.status_code == 409
    marked = {a["attribute"]: a for a in service.client.get("/v1/me/report", headers=me).json()["profile"]}
    assert marked["credit_limit"]["disputed"] is True and marked["credit_limit"]["dispute_state"] == "open"
    service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=service.admin)
    for wrong in ({"action": "remove"}, {"action": "set", "value": "a lot"}, {"action": "set", "value": True},
                  {"action": "restatus", "status": "on_time"}):
        r = _resolve(service, d["id"], wrong)
        assert r.status_code == 422, (wrong, r.text)
    assert service.client.get("/v1/me/disputes", headers=me).json()[0]["state"] == "under_review"  # nothing moved
    right = float(held["credit_limit"]["value"]) * 4 + 1000
    r = _resolve(service, d["id"], {"action": "set", "value": right})
    assert r.status_code == 200 and r.json()["state"] == "corrected"

    after = service.client.get("/v1/me/report", headers=me).json()
    fixed = {a["attribute"]: a for a in after["profile"]}["credit_limit"]
    assert fixed["value"] == str(int(right)) and fixed["disputed"] is False
    assert after["history"][-1]["cause"] == f"dispute {d['id']} corrected"
    assert "your dispute was accepted and the record corrected: the size of your credit line" in \
        after["history"][-1]["reasons"]
    scorer, subject = service.ctx.scorer, service.subject(pid)
    one = scorer.model_input([subject], service.ctx.now())  # the re-score's path: one person's scope
    assert one.X["credit_limit"].iloc[0] == right
    everyone = scorer.model_input(None, service.ctx.now())  # a full re-score's path reads it too
    assert everyone.X["credit_limit"].to_numpy()[everyone.keys["person_id"].to_numpy() == subject].tolist() == [right]
    assert service.score_of(pid).score == scorer.score_people([subject], as_of=service.ctx.now())[0].score
    export = service.client.get("/v1/me/export", headers=me).json()
    assert export["profile"][0]["credit_limit"] == right
    assert [x["attribute"] for x in export["disputes"]] == ["credit_limit"]


def test_only_the_served_profile_attributes_can_be_disputed_and_events_are_not_set(service):
    pid, _ = service.with_score(skip=4)
    me = service.person(pid)
    for body in ({"attribute": "shoe_size", "reason": "?"}, {"attribute": "person_id", "reason": "?"}):
        assert service.client.post("/v1/me/disputes", json=body, headers=me).status_code == 404
    both = {"attribute": "income", "event_id": "b1", "reason": "?"}
    assert service.client.post("/v1/me/disputes", json=both, headers=me).status_code == 422
    event = service.client.get("/v1/me/report", headers=me).json()["events"][0]["event_id"]
    d = _open(service, me, event)
    service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=service.admin)
    assert _resolve(service, d["id"], {"action": "set", "value": 3}).status_code == 422
    flag = service.client.post("/v1/me/disputes", json={"attribute": "identity_verified", "reason": "I sent them"},
                               headers=me).json()
    service.client.post(f"/v1/admin/disputes/{flag['id']}/review", headers=service.admin)
    assert _resolve(service, flag["id"], {"action": "set", "value": "yes"}).status_code == 422
    assert _resolve(service, flag["id"], {"action": "set", "value": True}).status_code == 200
    tier = service.client.post("/v1/me/disputes", json={"attribute": "city_tier", "reason": "I moved"},
                               headers=me).json()
    service.client.post(f"/v1/admin/disputes/{tier['id']}/review", headers=service.admin)
    refused = _resolve(service, tier["id"], {"action": "set", "value": 2.5})  # the data set holds whole tiers
    assert refused.status_code == 422 and "whole numbers" in refused.json()["detail"]
    assert _resolve(service, tier["id"], {"action": "set", "value": 2}).status_code == 200
    profile = {a["attribute"]: a["value"] for a in service.client.get("/v1/me/report", headers=me).json()["profile"]}
    assert profile["identity_verified"] == "yes" and profile["city_tier"] == "2"


def test_the_reviewer_reads_the_persons_reason_and_the_person_sees_that_they_did(service):
    pid, _ = service.with_score(skip=7)
    me = service.person(pid)
    d = service.client.post("/v1/me/disputes", json={"attribute": "income", "reason": "My salary rose in March."},
                            headers=me).json()
    r = service.client.get(f"/v1/admin/disputes/{d['id']}", headers=service.admin)
    assert r.status_code == 200
    assert (r.json()["reason"], r.json()["attribute"], r.json()["state"]) == ("My salary rose in March.", "income",
                                                                               "open")
    assert "reason" not in service.client.get("/v1/admin/disputes", headers=service.admin).json()[0]  # listed: no words
    looked = service.client.get("/v1/me/report", headers=me).json()["accesses"]
    assert [(a["who"], a["action"]) for a in looked] == [("operator", "dispute_read")]
    assert service.client.get(f"/v1/admin/disputes/{d['id']}", headers=me).status_code == 401
    assert service.client.get("/v1/admin/disputes/999999", headers=service.admin).status_code == 404


def _corrected(svc, me, event_id: str, correction: dict):
    d = _open(svc, me, event_id, reason="I returned it on time.")
    svc.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=svc.admin)
    return _resolve(svc, d["id"], correction)


def _record(svc, pid: str, event_id: str):
    rows = svc.ctx.scorer.person_events(svc.subject(pid))
    return rows[rows["event_id"] == event_id].iloc[0]


def test_a_late_record_corrected_to_on_time_is_on_time_in_every_field_and_in_the_features(service):
    """A kept status is 0 days late and due no earlier than its date: the correction moves the due date
    forward to the record's date where it was before (the record says when it was settled, the correction
    that it was settled by its due date), and the features read it as kept."""
    events = service.world.data.read("events")
    now = pd.Timestamp(service.ctx.now())
    late = events[(events["status"] == "late") & events["ts"].between(now - pd.Timedelta(days=300), now)]
    subject = late["person_id"].value_counts().index[0]
    pid = next(p for p in service.world.ids if service.subject(p) == subject)
    me, ref = service.person(pid), late[late["person_id"] == subject]["event_id"].iloc[0]
    before = _record(service, pid, ref)
    assert before["due_ts"] < before["ts"] and before["days_late"] >= 1  # the record as the data set holds it
    n_bad = service.ctx.scorer.model_input([subject], service.ctx.now()).X["n_bad_365d"].iloc[0]

    r = _corrected(service, me, ref, {"action": "restatus", "status": "on_time", "days_late": 3})
    assert r.status_code == 422 and "days_late" in r.text  # on time and 3 days late: not both
    d = service.client.get("/v1/me/disputes", headers=me).json()[0]
    assert _resolve(service, d["id"], {"action": "restatus", "status": "on_time"}).status_code == 200
    after = _record(service, pid, ref)
    assert (after["status"], after["days_late"], after["ts"]) == ("on_time", 0.0, before["ts"])
    assert after["due_ts"] >= after["ts"]
    X = service.ctx.scorer.model_input([subject], service.ctx.now()).X
    assert X["n_bad_365d"].iloc[0] == n_bad - 1


def test_a_reported_late_return_corrected_to_returned_is_due_no_earlier_than_it_was_returned(service):
    pid, _ = service.with_score(skip=2)
    mid, acme = service.merchant()
    me = service.person(pid)
    service.policy(acme)
    service.grant(me, mid, scope="score")
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.clock.advance(days=5)
    assert service.client.post("/v1/events", headers=acme, json={
        "transaction_id": "ev-1", "person_id": pid, "amount": 20.0, "outcome": "rental_returned_late",
        "days_late": 3}).status_code == 201
    ref = next(e["event_id"] for e in service.client.get("/v1/me/report", headers=me).json()["events"]
               if e["event_id"].startswith("evt_"))
    assert _record(service, pid, ref)["due_ts"] < _record(service, pid, ref)["ts"]
    assert _corrected(service, me, ref, {"action": "restatus", "status": "returned"}).status_code == 200
    after = _record(service, pid, ref)
    assert after["status"] == "returned" and after["days_late"] == 0.0 and after["due_ts"] >= after["ts"]
    r = _corrected(service, me, ref, {"action": "restatus", "status": "returned_late", "days_late": 0})
    assert r.status_code == 422 and "days_late" in r.text  # late and 0 days late: not both
