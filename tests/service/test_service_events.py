"""Fulfilment feedback: events re-score the person incrementally, exactly as a full rebuild would."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pandas as pd
from service_testkit import scorer_for, world
from sqlalchemy import func, select

from deepcredit.data.dataset import write_dataset
from deepcredit.service.app import settle
from deepcredit.service.store.models import AuditEntry, Decision, ScoreHistory, ServiceEvent

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _report(svc, merchant, pid, tx, outcome, amount=50.0, **extra):
    return svc.client.post("/v1/events", json={"transaction_id": tx, "person_id": pid, "outcome": outcome,
                                                "amount": amount, **extra}, headers=merchant)


def test_events_rescore_the_person_and_match_a_full_rebuild(service, tmp_path):
    pid, before = service.with_score(lo=640)
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid, scope="score")
    assert service.decide(acme, pid, "order-1").status_code == 200  # outcomes conclude a decided order
    service.clock.advance(days=1)  # an item not returned is at least a day late
    r = _report(service, acme, pid, "ev-1", "rental_not_returned", amount=300)
    assert r.status_code == 201 and r.json()["rescored"] is True and r.json()["event_id"].startswith("evt_")
    service.clock.advance(days=12, hours=1)  # 12 days late: due after the order was decided
    r = _report(service, acme, pid, "ev-2", "rental_returned_late", days_late=12, amount=80)
    assert r.status_code == 201
    after = service.score_of(pid)
    assert after.score < before
    with service.ctx.db.read() as s:
        causes = list(s.execute(select(ScoreHistory.cause).where(ScoreHistory.subject == service.subject(pid))
                                .order_by(ScoreHistory.id)).scalars())
    assert causes[0] == "initial score" and len(causes) == 3 and "reported" in causes[-1]
    # the same person scored from a data set that simply contains the two events
    w = service.world
    frames = {t: w.data.read(t) for t in ("people", "events", "relations", "outcomes")}
    with service.ctx.db.read() as s:
        rows = s.execute(select(ServiceEvent).order_by(ServiceEvent.id)).scalars().all()
    extra = pd.DataFrame([{"person_id": e.subject, "ts": e.ts, "kind": e.kind, "amount": e.amount,
                           "status": e.status, "due_ts": e.due_ts, "days_late": e.days_late,
                           "counterparty": f"merchant:{e.merchant_id}", "event_id": e.public_id} for e in rows])
    frames["events"] = pd.concat([frames["events"], extra.astype({"ts": "datetime64[us]", "due_ts": "datetime64[us]"})],
                                 ignore_index=True)
    rebuilt = write_dataset(tmp_path / "rebuilt", frames, "rebuilt", str(w.data.snapshot_date.date()))
    full = scorer_for(rebuilt).score_people([service.subject(pid)], as_of=after.as_of)[0]
    assert full.score == after.score
    assert [d.__dict__ for d in full.dimensions] == after.dimensions
    # and a decision now sees the new score at once
    assert service.decide(acme, pid, "tx-after", include="score").json()["score"] == after.score


def test_events_need_a_decided_order_and_are_idempotent(service):
    pid, _ = service.with_score(skip=2)
    mid, acme = service.merchant()
    _, other = service.merchant("Stranger Ltd")
    service.policy(acme)
    service.grant(service.person(pid), mid)
    r = _report(service, acme, pid, "ev-0", "instalment_missed")
    assert r.status_code == 403 and r.json()["type"].endswith("/no-order")  # consent alone is not an order
    assert service.decide(acme, pid, "order-1").status_code == 200
    r = _report(service, other, pid, "ev-1", "instalment_missed")
    assert r.status_code == 403 and r.json()["type"].endswith("/no-order")
    first = _report(service, acme, pid, "ev-1", "instalment_paid")
    again = _report(service, acme, pid, "ev-1", "instalment_paid")
    assert again.status_code == 201 and again.json()["replayed"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    assert _report(service, acme, pid, "ev-1", "instalment_missed").status_code == 409
    with service.ctx.db.read() as s:
        assert s.execute(select(func.count()).select_from(ServiceEvent)).scalar_one() == 1



def test_a_commitment_cannot_fall_due_before_its_order(service):
    """A merchant decides an order, then reports it 120 days late a day later: its due date would come
    before the order existed. Refused (422, audited) and nothing stored; a write-off reported without a
    delay is as late as the order allows; a delay that fits is stored with its due date after the order."""
    pid, _ = service.with_score(skip=2)
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    decided = service.decide(acme, pid, "order-1").json()
    service.clock.advance(days=1)
    r = _report(service, acme, pid, "ev-1", "instalment_late", days_late=120)
    assert r.status_code == 422 and r.json()["type"].endswith("/due-before-order")
    assert pid not in r.text
    r = _report(service, acme, pid, "ev-2", "instalment_missed")
    assert r.status_code == 201
    service.clock.advance(days=5)
    assert _report(service, acme, pid, "ev-3", "instalment_late", days_late=6,
                   decision_id=decided["decision_id"]).status_code == 201
    with service.ctx.db.read() as s:
        stored = {e.transaction_id: e for e in s.execute(select(ServiceEvent)).scalars()}
        refused = s.execute(select(AuditEntry.details).where(AuditEntry.action == "event_refused")).scalars().all()
        decided_at = s.execute(select(Decision.created_at)).scalar_one()
    assert set(stored) == {"ev-2", "ev-3"}
    assert stored["ev-2"].days_late == 1.0 and stored["ev-2"].due_ts == decided_at  # not the 60-day default
    assert stored["ev-3"].due_ts >= decided_at
    assert len(refused) == 1 and '"reason":"due-before-order"' in refused[0]

def test_event_validation(service):
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert _report(service, acme, pid, "a", "rental_returned_late").status_code == 422  # needs days_late
    assert _report(service, acme, pid, "b", "instalment_paid", days_late=3).status_code == 422
    assert _report(service, acme, pid, "c", "rental_lost").status_code == 422
    future = service.iso(service.clock.t + pd.Timedelta(days=1))
    r = _report(service, acme, pid, "d", "instalment_paid", occurred_at=future)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-event")
    r = _report(service, acme, pid, "e", "instalment_paid", surprise=1)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-request")


def test_a_stated_delay_is_a_whole_number_of_days(service):
    """12.5 days late is refused (422, naming days_late, nothing stored); 13.0 is 13 whole days and taken."""
    pid, _ = service.with_score(skip=2)
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.clock.advance(days=20)
    for outcome in ("instalment_late", "instalment_missed"):
        r = _report(service, acme, pid, f"ev-{outcome}", outcome, days_late=12.5)
        assert r.status_code == 422 and r.json()["type"].endswith("/invalid-event")
        assert "days_late" in r.json()["detail"] and "12.5" not in r.text and pid not in r.text
    with service.ctx.db.read() as s:
        assert s.execute(select(func.count()).select_from(ServiceEvent)).scalar_one() == 0
    assert _report(service, acme, pid, "ev-whole", "instalment_late", days_late=13.0).status_code == 201


def test_a_settled_worker_has_its_index_loaded_and_its_heap_frozen():
    """What `deepcredit serve` does once a worker has loaded its scorer (service.app.settle)."""
    ctx = SimpleNamespace(scorer=scorer_for(world().data))
    assert ctx.scorer.index._tables is None  # otherwise loaded by the first re-score
    try:
        settle(ctx)
        assert ctx.scorer.index._tables is not None and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on building services


def test_scoring_nobody_gives_no_scores(service):
    assert service.ctx.scorer.score_people([], as_of=service.ctx.now()) == []


def test_an_event_older_than_the_configured_retention_is_refused(service):
    """Review: reports older than a hard-coded 5 years were refused, whatever DEEPCREDIT_RETENTION_YEARS said,
    while the retention job retires records by the setting; one rule (config.retention_start) for both."""
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.ctx.settings.retention_years = 2
    three_years = service.iso(service.clock.t - pd.Timedelta(days=3 * 365))
    r = _report(service, acme, pid, "old", "instalment_paid", occurred_at=three_years)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-event"), r.text
    assert "more than 2 years ago" in r.json()["detail"]
    service.ctx.settings.retention_years = 7
    six_years = service.iso(service.clock.t - pd.Timedelta(days=6 * 365))
    r = _report(service, acme, pid, "older", "instalment_paid", occurred_at=six_years)
    assert "years ago" not in r.text, r.text  # within a 7-year retention: not refused for its age
