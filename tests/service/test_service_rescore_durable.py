"""A change to a person's own record (a reported event, a corrected dispute, records retired by the retention
job) is stored with the person listed for their re-score in the same transaction: a process that stops between
that commit and the re-score loses neither the person's re-score nor their connections'. The next serving process re-scores them (with the
change's cause) and queues their connections; a replay of the report re-scores them at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deepcredit.service import events, retention
from deepcredit.service.history import RETENTION
from deepcredit.service.neighbours import neighbour_queue
from deepcredit.service.store.models import AuditEntry, PendingRescore, Score, ScoreHistory

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _best_connected(service) -> str:
    rel = service.world.raw.read("relations")
    counts = rel["source"].value_counts().add(rel["target"].value_counts(), fill_value=0)
    return str(counts.sort_values(ascending=False, kind="stable").index[0])


def _dies(*args, **kwargs):
    raise SystemError("stopped")


def _stopped_after_commit(monkeypatch) -> None:
    """The process stops once the change committed, before any re-score is stored."""
    monkeypatch.setattr(events, "score_and_save", _dies)


def _causes(service, subject: str) -> list[str]:
    with service.ctx.db.read() as s:
        return list(
            s.execute(
                select(ScoreHistory.cause).where(ScoreHistory.subject == subject).order_by(ScoreHistory.id)
            ).scalars()
        )


def _listed(service) -> dict[str, str | None]:
    with service.ctx.db.read() as s:
        return dict(s.execute(select(PendingRescore.subject, PendingRescore.cause)).tuples().all())


def _report(service, acme, pid):
    return service.client.post(
        "/v1/events",
        json={"transaction_id": "ev-1", "person_id": pid, "outcome": "rental_not_returned", "amount": 300},
        headers=acme,
    )


def _decided(service, pid: str) -> dict:
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.clock.advance(days=1)  # an item not returned is at least a day late
    return acme


def _fresh(service, subjects: list[str]) -> dict[str, int]:
    later = service.ctx.now() + timedelta(microseconds=1)
    return {p.person_id: p.score for p in service.ctx.scorer.score_people(subjects, as_of=later)}


def _stored(service, subjects: list[str]) -> dict[str, int]:
    with service.ctx.db.read() as s:
        return dict(
            s.execute(select(Score.subject, Score.score).where(Score.subject.in_(subjects))).tuples().all()
        )


def test_an_event_whose_rescore_never_ran_is_rescored_by_the_next_process(service, monkeypatch):
    pid = _best_connected(service)
    subject = service.subject(pid)
    connections = service.ctx.scorer.neighbourhood([subject], hops=1)[1:]
    acme = _decided(service, pid)
    before = service.score_of(pid).score
    with monkeypatch.context() as m:
        _stopped_after_commit(m)
        r = _report(service, acme, pid)
    assert r.status_code == 201 and r.json()["rescored"] is False
    event = r.json()["event_id"]
    assert _listed(service) == {subject: f"event {event} reported"}  # stored with the event: nobody lost
    assert service.score_of(pid).score == before

    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)  # what the next process builds
    assert restarted.drain(timeout=30.0)
    assert _causes(service, subject)[-1] == f"event {event} reported"
    assert _stored(service, [subject, *connections]) == _fresh(service, [subject, *connections])
    assert service.score_of(pid).score != before  # the missed return counts now
    assert not _listed(service)  # the person and their connections: done, unlisted


def test_a_replayed_event_whose_rescore_never_ran_rescores_the_person(service, monkeypatch):
    pid = _best_connected(service)
    subject = service.subject(pid)
    acme = _decided(service, pid)
    with monkeypatch.context() as m:
        _stopped_after_commit(m)
        first = _report(service, acme, pid).json()
    again = _report(service, acme, pid)  # the merchant, who got no answer, retries
    assert again.status_code == 201
    assert again.json() == {**first, "rescored": True, "replayed": True}
    assert _causes(service, subject)[-1] == f"event {first['event_id']} reported"
    assert _stored(service, [subject]) == _fresh(service, [subject])
    assert service.ctx.neighbours.drain(timeout=30.0)
    assert not _listed(service)
    third = _report(service, acme, pid).json()  # once re-scored, a replay is only a replay
    assert third["rescored"] is False and third["replayed"] is True
    assert _causes(service, subject).count(f"event {first['event_id']} reported") == 1


def test_a_rescore_stopped_after_its_save_is_not_stored_twice(service, monkeypatch):
    """Stopped after the save, before the person was unlisted: the next process stores no second history row."""
    pid = _best_connected(service)
    subject = service.subject(pid)
    acme = _decided(service, pid)
    with monkeypatch.context() as m:
        m.setattr(service.ctx.neighbours, "after_change", _dies)  # saved; stopped before the unlisting
        r = _report(service, acme, pid).json()
    assert r["rescored"] is False and subject in _listed(service)
    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)
    assert restarted.drain(timeout=30.0)
    assert _causes(service, subject).count(f"event {r['event_id']} reported") == 1
    assert not _listed(service)


def _person_with_a_missed_event(service) -> tuple[str, dict, dict]:
    for i in range(60):
        pid, _ = service.with_score(skip=i)
        me = service.person(pid)
        events_ = service.client.get("/v1/me/report", headers=me).json()["events"]
        missed = [e for e in events_ if e["status"] in ("missed", "not_returned")]
        if missed:
            return pid, me, missed[0]
    pytest.fail("no person with a missed commitment in the test world")


def test_a_correction_whose_rescore_never_ran_is_rescored_by_the_next_process(service, monkeypatch):
    pid, me, bad = _person_with_a_missed_event(service)
    subject = service.subject(pid)
    r = service.client.post(
        "/v1/me/disputes", json={"event_id": bad["event_id"], "reason": "I returned it."}, headers=me
    )
    d = r.json()
    service.client.post(f"/v1/admin/disputes/{d['id']}/review", headers=service.admin)
    with monkeypatch.context() as m:
        _stopped_after_commit(m)
        r = service.client.post(
            f"/v1/admin/disputes/{d['id']}/resolve",
            headers=service.admin,
            json={"outcome": "corrected", "note": "confirmed", "correction": {"action": "remove"}},
        )
    assert r.status_code == 200
    assert _listed(service) == {subject: f"dispute {d['id']} corrected"}
    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)
    assert restarted.drain(timeout=30.0)
    assert _causes(service, subject)[-1] == f"dispute {d['id']} corrected"
    assert _stored(service, [subject]) == _fresh(service, [subject])
    assert not _listed(service)


def test_an_erased_persons_connections_survive_a_stop_after_the_erasure(service, monkeypatch):
    """The erasure's connections are listed in its own transaction: stopped before they were queued, the next
    process re-scores them without the erased person."""
    from deepcredit.service.erasure import erase

    pid = _best_connected(service)
    subject = service.subject(pid)
    connections = service.ctx.scorer.neighbourhood([subject], hops=1)[1:]
    with monkeypatch.context() as m:
        m.setattr(service.ctx.neighbours, "enqueue", _dies)
        m.setattr(service.ctx.neighbours, "after_change", _dies)
        with pytest.raises(SystemError):
            erase(service.ctx, subject)
    assert set(_listed(service)) == set(connections)
    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)
    assert restarted.drain(timeout=30.0)
    assert not _listed(service)


def _audited(service, action: str) -> list[str | None]:
    with service.ctx.db.read() as s:
        return list(
            s.execute(
                select(AuditEntry.subject).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            ).scalars()
        )


def test_a_retention_run_stopped_after_its_cutoff_loses_no_rescore(service, monkeypatch):
    """The cutoff, the retired people's listing and the audit rows commit together: stopped before any re-score,
    the next process re-scores every retired person once, and no audit row is lost or written twice."""
    with monkeypatch.context() as m:
        m.setattr(retention, "score_and_save", _dies)
        with pytest.raises(SystemError):
            retention.run(service.ctx, years=1, recalculate=False)
    listed = _listed(service)
    assert listed and set(listed.values()) == {RETENTION}
    assert sorted(_audited(service, "records_retired")) == sorted(listed)
    assert len(_audited(service, "retention_run")) == 1

    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)
    assert restarted.drain(timeout=120.0)
    assert all(_causes(service, p).count(RETENTION) == 1 for p in listed)
    assert not _listed(service)
    again = retention.run(
        service.ctx, years=1, recalculate=False
    )  # nobody newly retired: nothing audited twice
    assert again.retired_people == 0
    assert sorted(_audited(service, "records_retired")) == sorted(listed)


def test_a_retention_run_stopped_after_its_saves_stores_no_second_history_row(service, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(retention, "_unlist", _dies)  # the first batch saved; stopped before it was unlisted
        with pytest.raises(SystemError):
            retention.run(service.ctx, years=1, recalculate=False)
    listed = _listed(service)
    saved = [p for p in listed if RETENTION in _causes(service, p)]
    assert saved
    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)
    assert restarted.drain(timeout=120.0)
    assert all(_causes(service, p).count(RETENTION) == 1 for p in listed)
    assert not _listed(service)


def test_a_listed_cause_already_in_the_history_before_the_listing_is_stored_again(service):
    """A cause that recurs (retention's, every run) counts as stored only where its history row is newer than the
    listing: a person listed again for it gets their row even where their score did not move."""
    pid, _ = service.with_score()
    subject = service.subject(pid)
    events.score_and_save(service.ctx, [subject], RETENTION, service.ctx.now())  # an earlier run's re-score
    service.clock.advance(days=1)
    with service.ctx.db.write() as s:
        events.list_rescore(s, subject, RETENTION, service.ctx.now())
    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)
    assert restarted.drain(timeout=30.0)
    assert _causes(service, subject).count(RETENTION) == 2
    assert not _listed(service)
