"""The ids the service hands out for decisions, reported events, disputes, consents, policies and webhooks are
opaque tokens: a merchant (a person) learns no count of the others' rows from them, and cannot guess one; the
row keys stay internal, and an old-form id (a decision's, a consent's, a policy's, a webhook's number, an
event's s<n>) is still taken for the caller's own row only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from deepcredit.service.store import public_ids
from deepcredit.service.store.models import (
    AuditEntry,
    Consent,
    Decision,
    Dispute,
    Policy,
    ScoreHistory,
    ServiceEvent,
    Webhook,
)

pytest_plugins = ("service_testkit",)


def _event(svc, merchant, pid, tx, outcome="rental_returned_late", **extra):
    body = {"transaction_id": tx, "person_id": pid, "outcome": outcome, "amount": 20.0, **extra}
    if outcome == "rental_returned_late":
        body.setdefault("days_late", 1)
    return svc.client.post("/v1/events", json=body, headers=merchant)


def _two_merchants(svc):
    """Acme and Bolt, each deciding about its own customer under their consent."""
    (a, _), (b, _) = svc.with_score(skip=1), svc.with_score(skip=2)
    shops = []
    for pid, name in ((a, "Acme Rentals"), (b, "Bolt Bikes")):
        mid, key = svc.merchant(name)
        svc.policy(key)
        svc.grant(svc.person(pid), mid)
        shops.append((pid, key))
    return shops


def test_two_merchants_decisions_and_reports_reveal_no_count(service):
    """Acme's ids before and after Bolt's ten decisions and reports tell nothing of them: not numbers, not in
    sequence, each an unguessable token of its kind."""
    (a, acme), (b, bolt) = _two_merchants(service)
    first = service.decide(acme, a, "a-0").json()["decision_id"]
    others = [service.decide(bolt, b, f"b-{i}").json()["decision_id"] for i in range(10)]
    last = service.decide(acme, a, "a-1").json()["decision_id"]
    service.clock.advance(days=2)
    events = [_event(service, acme, a, "ea-0").json()["event_id"]]
    events += [_event(service, bolt, b, f"eb-{i}").json()["event_id"] for i in range(3)]
    events.append(_event(service, acme, a, "ea-1").json()["event_id"])
    decisions = [first, *others, last]
    assert all(isinstance(d, str) and re.match(public_ids.DECISION_ID, d) for d in decisions), decisions
    assert all(isinstance(e, str) and re.match(public_ids.EVENT_ID, e) for e in events), events
    assert len(set(decisions)) == 12 and len(set(events)) == 5
    assert not any(given[4:].isdigit() for given in (*decisions, *events))
    with service.ctx.db.read() as s:  # the row keys, which do count, are not what was handed out
        keys = dict(s.execute(select(Decision.public_id, Decision.id)).all())
    assert keys[last] - keys[first] == 11 and str(keys[last]) not in last


def test_an_outcome_reported_with_a_decision_id_finds_that_decision(service):
    """The decision_id the answer gave names that order: a delay that fits it is stored, one that does not fit a
    later order is refused naming it; another merchant's id (new or old form) is no order of this one."""
    (a, acme), (b, bolt) = _two_merchants(service)
    early = service.decide(acme, a, "order-1").json()["decision_id"]
    service.clock.advance(days=10)
    late = service.decide(acme, a, "order-2").json()["decision_id"]
    service.clock.advance(days=1)
    r = _event(service, acme, a, "ev-late", days_late=5, decision_id=late)
    assert r.status_code == 422 and r.json()["type"].endswith("/due-before-order")
    r = _event(service, acme, a, "ev-early", days_late=5, decision_id=early)
    assert r.status_code == 201, r.text
    with service.ctx.db.read() as s:
        audit = s.execute(select(AuditEntry.details).where(AuditEntry.action == "event_reported")).scalar_one()
        key = s.execute(select(Decision.id).where(Decision.public_id == early)).scalar_one()
    assert f'"decision":"{early}"' in audit and f'"event":"{r.json()["event_id"]}"' in audit
    service.decide(bolt, b, "b-1")
    for theirs in (early, key):  # Acme's decision, by its public id and by its row key
        r = _event(service, bolt, b, f"x-{theirs}", days_late=1, decision_id=theirs)
        assert r.status_code == 403 and r.json()["type"].endswith("/no-order")
    assert _event(service, acme, a, "ev-key", days_late=5, decision_id=key).status_code == 201  # its own: taken


@pytest.mark.parametrize("bad", ["dec_short", "1.5", "evt_AAAAAAAAAAAAAAAAAAAAAA", True])
def test_a_decision_id_of_another_shape_is_a_422(service, bad):
    (a, acme), _ = _two_merchants(service)
    assert _event(service, acme, a, "ev", decision_id=bad).status_code == 422


def _two_people_with_reported_events(service):
    """Two people, each with one decision by their own merchant and one reported event: the first person, both
    people's headers and both events' ids (the first person's, then the other's)."""
    (a, acme), (b, bolt) = _two_merchants(service)
    service.decide(acme, a, "o-1")
    service.decide(bolt, b, "o-2")
    service.clock.advance(days=2)
    mine = _event(service, acme, a, "ev-1").json()["event_id"]
    theirs = _event(service, bolt, b, "ev-2").json()["event_id"]
    return a, service.person(a), service.person(b), mine, theirs


def test_a_person_disputes_a_reported_event_by_its_id_and_by_its_old_form(service):
    """The event_id the merchant's ack gave is the one the person's report lists and a dispute names; the old
    form s<n> is taken for the person's own event (and stored as its public id), never for someone else's."""
    a, me, them, mine, theirs = _two_people_with_reported_events(service)
    listed = {e["event_id"] for e in service.client.get("/v1/me/report", headers=me).json()["events"]}
    assert mine in listed and theirs not in listed
    r = service.client.post("/v1/me/disputes", json={"event_id": mine, "reason": "returned on time"}, headers=me)
    assert r.status_code == 201, r.text
    assert r.json()["event_id"] == mine
    marked = {e["event_id"]: e for e in service.client.get("/v1/me/report", headers=me).json()["events"]}
    assert marked[mine]["disputed"] is True
    with service.ctx.db.read() as s:
        keys = dict(s.execute(select(ServiceEvent.public_id, ServiceEvent.id)).all())
    assert service.client.post("/v1/me/disputes", json={"event_id": theirs, "reason": "?"},
                               headers=me).status_code == 404
    assert service.client.post("/v1/me/disputes", json={"event_id": f"s{keys[theirs]}", "reason": "?"},
                               headers=me).status_code == 404
    r = service.client.post("/v1/me/disputes", json={"event_id": f"s{keys[mine]}", "reason": "again"}, headers=me)
    assert r.status_code == 409  # the same event as the open dispute: the old form names it too
    r = service.client.post("/v1/me/disputes", json={"event_id": f"s{keys[theirs]}", "reason": "mine"},
                            headers=them)
    assert r.status_code == 201 and r.json()["event_id"] == theirs


def test_disputes_are_known_by_opaque_ids_the_operator_names_them_by(service):
    """A person's dispute ids count nobody's disputes; the operator reviews and resolves by that id (or by the
    number a dispute had before public ids), and the re-score's cause names the same id."""
    a, me, them, mine, theirs = _two_people_with_reported_events(service)
    first = service.client.post("/v1/me/disputes", json={"event_id": mine, "reason": "on time"}, headers=me).json()
    service.client.post("/v1/me/disputes", json={"event_id": theirs, "reason": "on time"}, headers=them)
    held = [e["event_id"] for e in service.client.get("/v1/me/report", headers=me).json()["events"]
            if e["event_id"] and e["event_id"].startswith("b")]
    last = service.client.post("/v1/me/disputes", json={"event_id": held[0], "reason": "not mine"}, headers=me).json()
    assert all(isinstance(d["id"], str) and re.match(public_ids.DISPUTE_ID, d["id"]) for d in (first, last))
    assert first["id"] != last["id"]
    with service.ctx.db.read() as s:
        key = s.execute(select(Dispute.id).where(Dispute.public_id == last["id"])).scalar_one()
    admin = service.admin
    assert service.client.post(f"/v1/admin/disputes/{first['id']}/review", headers=admin).json()["id"] == first["id"]
    r = service.client.post(f"/v1/admin/disputes/{first['id']}/resolve", headers=admin,
                            json={"outcome": "corrected", "note": "n", "correction": {"action": "remove"}})
    assert r.status_code == 200, r.text
    with service.ctx.db.read() as s:
        causes = s.execute(select(ScoreHistory.cause).where(ScoreHistory.subject == service.subject(a))).scalars()
        assert f"dispute {first['id']} corrected" in set(causes)
    assert service.client.get(f"/v1/admin/disputes/{key}", headers=admin).json()["id"] == last["id"]
    assert service.client.get("/v1/admin/disputes/dsp_AAAAAAAAAAAAAAAAAAAAAA", headers=admin).status_code == 404


def _key(svc, model, public_id: str) -> int:
    with svc.ctx.db.read() as s:
        return s.execute(select(model.id).where(model.public_id == public_id)).scalar_one()


def test_a_persons_consents_are_tokens_revoked_by_them_and_never_by_another(service):
    """Consent ids count nobody's grants; a person revokes their own by its id (or by the number it had before
    public ids), never another person's by either; the audit rows name the token."""
    (a, acme), (b, bolt) = _two_merchants(service)
    me, them = service.person(a), service.person(b)
    mine = service.client.get("/v1/me/consents", headers=me).json()
    theirs = service.client.get("/v1/me/consents", headers=them).json()
    ids = [c["id"] for c in (*mine, *theirs)]
    assert all(isinstance(i, str) and re.match(public_ids.CONSENT_ID, i) for i in ids), ids
    assert not any(i[4:].isdigit() for i in ids)
    their_key = _key(service, Consent, theirs[0]["id"])
    for other in (theirs[0]["id"], str(their_key)):
        assert service.client.delete(f"/v1/me/consents/{other}", headers=me).status_code == 404
    assert service.client.get("/v1/me/consents", headers=them).json()[0]["state"] == "active"
    r = service.client.delete(f"/v1/me/consents/{mine[0]['id']}", headers=me)
    assert r.status_code == 200 and r.json()["id"] == mine[0]["id"] and r.json()["state"] == "revoked"
    r = service.client.delete(f"/v1/me/consents/{their_key}", headers=them)  # their own, by its number
    assert r.status_code == 200 and r.json()["id"] == theirs[0]["id"] and r.json()["state"] == "revoked"
    with service.ctx.db.read() as s:
        audit = s.execute(select(AuditEntry.details).where(AuditEntry.action.in_(
            ("consent_granted", "consent_revoked")))).scalars().all()
    assert len(audit) == 4 and all(f'"consent":"{c}"' in "".join(audit) for c in (mine[0]["id"], theirs[0]["id"]))
    assert service.client.delete("/v1/me/consents/cns_short", headers=me).status_code == 422


def test_a_decision_names_its_policy_and_consent_by_their_tokens_in_the_audit(service):
    (a, acme), _ = _two_merchants(service)
    decided = service.decide(acme, a, "o-1").json()["decision_id"]
    service.decide(acme, a, "o-1")  # a replay
    grant = service.client.get("/v1/me/consents", headers=service.person(a)).json()[0]["id"]
    policy = service.client.get("/v1/policies", headers=acme).json()[0]["id"]
    with service.ctx.db.read() as s:
        rows = dict(s.execute(select(AuditEntry.action, AuditEntry.details).where(AuditEntry.action.in_(
            ("decision", "decision_replayed")))).all())
    assert f'"policy":"{policy}"' in rows["decision"] and f'"consent":"{grant}"' in rows["decision"]
    assert f'"decision":"{decided}"' in rows["decision_replayed"] and f'"policy":"{policy}"' in rows["decision_replayed"]


def test_a_merchants_policies_are_tokens_changed_by_them_and_never_by_another(service):
    """Policy ids count no other merchant's policies; a merchant changes its own by its id (or its old number),
    never another's by either."""
    _, acme = service.merchant("Acme Rentals")
    _, bolt = service.merchant("Bolt Bikes")
    first = service.policy(acme, "one")
    others = [service.policy(bolt, f"b-{i}") for i in range(3)]
    last = service.policy(acme, "two")
    ids = [p["id"] for p in (first, *others, last)]
    assert all(isinstance(i, str) and re.match(public_ids.POLICY_ID, i) for i in ids), ids
    assert [p["id"] for p in service.client.get("/v1/policies", headers=acme).json()] == [first["id"], last["id"]]
    theirs = others[0]["id"]
    for other in (theirs, str(_key(service, Policy, theirs))):
        assert service.client.patch(f"/v1/policies/{other}", json={"threshold": 500}, headers=acme).status_code == 404
    r = service.client.patch(f"/v1/policies/{first['id']}", json={"threshold": 500}, headers=acme)
    assert r.status_code == 200 and r.json()["id"] == first["id"] and r.json()["threshold"] == 500
    key = _key(service, Policy, last["id"])
    r = service.client.patch(f"/v1/policies/{key}", json={"threshold": 600}, headers=acme)  # its own, by number
    assert r.status_code == 200 and r.json()["id"] == last["id"]
    with service.ctx.db.read() as s:
        audit = "".join(s.execute(select(AuditEntry.details).where(AuditEntry.action.in_(
            ("policy_created", "threshold_changed")))).scalars())
    assert all(f'"policy":"{i}"' in audit for i in ids)


def test_a_persons_webhooks_are_tokens_removed_by_them_and_never_by_another(service):
    (a, _), (b, _) = _two_merchants(service)
    me, them = service.person(a), service.person(b)
    mine = service.client.post("/v1/me/webhooks", json={"url": "https://example.invalid/a"}, headers=me).json()
    theirs = service.client.post("/v1/me/webhooks", json={"url": "https://example.invalid/b"}, headers=them).json()
    assert all(re.match(public_ids.WEBHOOK_ID, h["id"]) for h in (mine, theirs))
    assert [h["id"] for h in service.client.get("/v1/me/webhooks", headers=me).json()] == [mine["id"]]
    their_key = _key(service, Webhook, theirs["id"])
    for other in (theirs["id"], str(their_key)):
        assert service.client.delete(f"/v1/me/webhooks/{other}", headers=me).status_code == 404
    r = service.client.delete(f"/v1/me/webhooks/{mine['id']}", headers=me)
    assert r.status_code == 200 and r.json()["id"] == mine["id"] and r.json()["active"] is False
    r = service.client.delete(f"/v1/me/webhooks/{their_key}", headers=them)  # their own, by its number
    assert r.status_code == 200 and r.json()["id"] == theirs["id"] and r.json()["active"] is False
    with service.ctx.db.read() as s:
        audit = "".join(s.execute(select(AuditEntry.details).where(AuditEntry.action.like("webhook_%"))).scalars())
    assert all(f'"webhook":"{h["id"]}"' in audit for h in (mine, theirs))
