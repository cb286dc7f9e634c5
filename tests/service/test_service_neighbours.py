"""A changed record re-scores the person's connections too: queued off the request, drained in seconds,
shown in their history as a change in a connection's record."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from deepcredit.service.neighbours import CONNECTION_CHANGED, PendingRescores, neighbour_queue
from deepcredit.service.store.models import PendingRescore, Score, ScoreHistory

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _best_connected(service) -> str:
    """The raw id of the person with the most connections (their neighbours' social features read them)."""
    rel = service.world.raw.read("relations")
    counts = rel["source"].value_counts().add(rel["target"].value_counts(), fill_value=0)
    return str(counts.sort_values(ascending=False, kind="stable").index[0])


def test_an_event_rescores_the_connections_in_the_background(service):
    scorer = service.ctx.scorer
    assert "social_connections" in scorer.dimensions  # the test world's card reads its neighbours
    pid = _best_connected(service)
    subject = service.subject(pid)
    connections = scorer.neighbourhood([subject], hops=1)[1:]
    assert connections
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200  # outcomes conclude a decided order
    service.clock.advance(days=1)  # an item not returned is at least a day late
    for i in range(3):  # a run of defaults: the neighbours' share of bad connections moves
        r = service.client.post("/v1/events", json={"transaction_id": f"ev-{i}", "person_id": pid,
                                                    "outcome": "rental_not_returned", "amount": 300},
                                headers=acme)
        assert r.status_code == 201 and r.json()["rescored"] is True
    assert service.ctx.neighbours.drain(timeout=5.0)  # bounded delay: every connection done within 5 s
    later = service.ctx.now() + timedelta(microseconds=1)  # the events, stamped now, are strictly before
    fresh = {p.person_id: p for p in scorer.score_people(connections, as_of=later)}
    with service.ctx.db.read() as s:
        stored = {r.subject: r.score for r in s.execute(select(Score).where(Score.subject.in_(connections))
                                                        ).scalars()}
        causes = {r.subject: r.cause for r in s.execute(select(ScoreHistory).where(
            ScoreHistory.subject.in_(connections), ScoreHistory.cause == CONNECTION_CHANGED)).scalars()}
    assert stored == {c: fresh[c].score for c in connections}  # each connection is up to date
    assert causes  # and those whose score moved show why in their history


def _listed(service) -> set[str]:
    with service.ctx.db.read() as s:
        return set(s.execute(select(PendingRescore.subject)).scalars())


def test_connections_queued_by_a_process_that_stopped_are_rescored_by_the_next(service):
    """The queue is kept in the database: a batch that never finished (the process died, or it failed)
    stays listed, and the next process that serves re-scores those people and unlists them."""
    scorer = service.ctx.scorer
    pid = _best_connected(service)
    connections = scorer.neighbourhood([service.subject(pid)], hops=1)[1:]
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200
    service.clock.advance(days=1)
    stopped = service.ctx.neighbours

    def dies(subjects: list[str]) -> None:  # the process stops before any re-score is stored
        raise SystemError("stopped")

    stopped.work = dies
    for i in range(3):
        r = service.client.post("/v1/events", json={"transaction_id": f"ev-{i}", "person_id": pid,
                                                    "outcome": "rental_not_returned", "amount": 300},
                                headers=acme)
        assert r.status_code == 201
    assert stopped.drain(timeout=5.0)
    assert set(connections) <= _listed(service)  # nobody lost
    with service.ctx.db.read() as s:
        assert not s.execute(select(ScoreHistory).where(ScoreHistory.cause == CONNECTION_CHANGED)).first()

    service.ctx.neighbours = restarted = neighbour_queue(service.ctx)  # what the next process builds
    assert restarted.drain(timeout=5.0)
    later = service.ctx.now() + timedelta(microseconds=1)
    fresh = {p.person_id: p.score for p in scorer.score_people(connections, as_of=later)}
    with service.ctx.db.read() as s:
        stored = {r.subject: r.score for r in s.execute(select(Score).where(Score.subject.in_(connections))
                                                        ).scalars()}
    assert stored == fresh  # every connection is up to date
    assert not _listed(service)


def test_a_person_queued_again_while_their_rescore_runs_stays_listed(service):
    ledger = PendingRescores(service.ctx)
    a, b = (service.subject(p) for p in service.world.ids[:2])
    ledger.add([a, b])
    taken = ledger.taken()  # a re-score of a and b begins
    service.clock.advance(seconds=1)
    ledger.add([a])  # a's connection changes again meanwhile
    ledger.done([a, b], taken)
    assert _listed(service) == {a}
