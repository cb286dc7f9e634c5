"""Writes run one at a time across processes (store/db.py), and a re-score never replaces a later one
(events.save_scores): the checks a write depends on hold when it commits."""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import TypeAdapter
from service_testkit import NOW, PgSchema, backends
from sqlalchemy import func, select

from deepcredit.service import events, retention
from deepcredit.service.audit import AuditLog
from deepcredit.service.auth import MerchantPrincipal
from deepcredit.service.erasure import _deletions
from deepcredit.service.events import erased_people, save_scores
from deepcredit.service.schemas import EventReport
from deepcredit.service.store import Database
from deepcredit.service.store.models import AuditEntry, ErasedSubject, Meta, Score

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database

PROCESSES, WRITES = 3, 80
CHAIN_KEY = b"chain-key-for-the-write-tests-0123"


def _writer(url: str, connect_args: dict, barrier, writes: int, errors) -> None:
    """One process: `writes` transactions, each counting one up (read, then write) and appending an audit row."""
    db = Database(url, connect_args=connect_args)
    audit = AuditLog(CHAIN_KEY)
    barrier.wait()
    for i in range(writes):
        try:
            with db.write() as s:
                row = s.get(Meta, "counter")
                row.value = str(int(row.value) + 1)
                audit.append(s, NOW, "operator", "probe", None, i=i)
        except Exception as exc:  # noqa: BLE001 - counted: every write must succeed
            errors.put(type(exc).__name__)
    db.dispose()


@pytest.fixture(params=backends())
def database(request, tmp_path):
    """A bare service database (no world) and how another process opens it: (db, url, connect_args)."""
    if request.param == "postgresql":
        schema = PgSchema()
        db, args = schema.database(), {"options": f"-csearch_path={schema.name}"}
    else:
        schema, args = None, {}
        db = Database(f"sqlite:///{tmp_path / 'service.db'}")
    db.create_all()
    yield db, db.url.render_as_string(hide_password=False), args
    db.dispose()
    if schema is not None:
        schema.drop()


def test_writers_in_several_processes_all_succeed_and_the_chain_verifies(database):
    db, url, args = database
    with db.write() as s:
        s.add(Meta(key="counter", value="0"))
    mp = multiprocessing.get_context("spawn")
    barrier, errors = mp.Barrier(PROCESSES), mp.Queue()
    procs = [mp.Process(target=_writer, args=(url, args, barrier, WRITES, errors)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    failed = []
    while not errors.empty():
        failed.append(errors.get())
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert failed == []
    with db.read() as s:
        assert s.get(Meta, "counter").value == str(PROCESSES * WRITES)  # no update lost between read and write
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == PROCESSES * WRITES
        result = AuditLog(CHAIN_KEY).verify(s)
    assert result.ok, result.problems


def test_an_erasure_committed_during_a_rescore_leaves_no_score(service, monkeypatch):
    """Another process (its own Database: its own per-process lock) erases the person between the re-score's
    erased-check and its write; forced by running the erasure inside that check."""
    pid, _ = service.with_score()
    subject = service.subject(pid)
    with service.ctx.db.read() as s:
        stored = s.get(Score, subject)
    new = next(p for p in service.world.scores if p.person_id == subject)
    new = replace(new, score=new.score + 1, as_of=stored.as_of + timedelta(seconds=1))
    operator = copy.copy(service.ctx.db)  # the same database with a lock of its own, as another process has
    operator.write_lock = threading.Lock()

    def erase() -> None:
        with operator.write() as s:
            for stmt in _deletions(subject).values():
                s.execute(stmt)
            s.add(ErasedSubject(subject=subject, erased_at=service.clock.t))
            service.ctx.audit.append(s, service.clock.t, "operator", "person_erased", subject)

    done = threading.Thread(target=erase)

    def checked_then_erased(s):
        out = erased_people(s)
        done.start()
        done.join(timeout=1.0)  # old code: the erasure commits here; now it waits for this write
        return out

    monkeypatch.setattr("deepcredit.service.events.erased_people", checked_then_erased)
    save_scores(service.ctx, [new], cause="an outcome reported")
    done.join(timeout=30)
    assert not done.is_alive()
    with service.ctx.db.read() as s:
        assert s.get(ErasedSubject, subject) is not None
        assert s.get(Score, subject) is None


def test_an_older_rescore_saved_after_a_newer_one_does_not_replace_it(service):
    pid, _ = service.with_score()
    subject = service.subject(pid)
    first = next(p for p in service.world.scores if p.person_id == subject)
    older = replace(first, score=first.score + 7, as_of=first.as_of + timedelta(seconds=1))
    newer = replace(first, score=first.score - 5, as_of=first.as_of + timedelta(seconds=2))
    save_scores(service.ctx, [newer], cause="event s2 reported")
    save_scores(service.ctx, [older], cause="event s1 reported")  # computed first, saved last
    stored = service.score_of(pid)
    assert (stored.score, stored.as_of) == (newer.score, newer.as_of)
    same_time = replace(newer, score=newer.score + 1)  # the clock did not move: the later save wins
    save_scores(service.ctx, [same_time], cause="event s3 reported")
    assert service.score_of(pid).score == same_time.score


def test_retention_rescores_as_of_a_time_after_its_cutoff_committed(service, monkeypatch):
    """A re-score that read the data before the cutoff committed must not outrank retention's (save_scores keeps
    the later as_of), so retention dates its scores after the cutoff's write, not at the run's start."""
    ctx = service.ctx
    service.clock.advance(days=2)
    ctx.settings.recalculation_days = 1  # every score is due
    real = retention._record_cutoff

    def cutoff_then_time_passes(*args):
        out = real(*args)
        service.clock.advance(seconds=5)
        return out

    monkeypatch.setattr(retention, "_record_cutoff", cutoff_then_time_passes)
    assert retention.run(ctx).recalculated > 0
    pid, _ = service.with_score()
    assert service.score_of(pid).as_of == service.clock.t + timedelta(microseconds=1)


def test_a_report_retried_at_once_on_another_worker_is_a_replay(service, monkeypatch):
    """Two workers (each its own Database and per-process lock) get the same report at the same moment; forced:
    each waits in the write, after its check for a prior report, for the other to get there too."""
    pid, _ = service.with_score()
    mid, acme = service.merchant()
    service.policy(acme)
    service.grant(service.person(pid), mid)
    assert service.decide(acme, pid, "order-1").status_code == 200
    req = TypeAdapter(EventReport).validate_python({"transaction_id": "ev-1", "person_id": pid,
                                                    "outcome": "rental_returned_on_time", "amount": 20})
    both = threading.Barrier(2)
    real = events._order

    def meet_then_order(*args):
        with contextlib.suppress(threading.BrokenBarrierError):
            both.wait(timeout=2.0)  # old code: both workers are here, neither saw the other's report
        return real(*args)

    monkeypatch.setattr(events, "_order", meet_then_order)
    acks, errors = [], []

    def worker() -> None:
        db = copy.copy(service.ctx.db)
        db.write_lock = threading.Lock()
        try:
            acks.append(events.report(replace(service.ctx, db=db), MerchantPrincipal(mid, "Acme Rentals"), req))
        except Exception as exc:  # noqa: BLE001 - a 500 on the server
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(a.replayed for a in acks) == [False, True]
    assert len({a.event_id for a in acks}) == 1


def test_a_write_behind_one_that_does_not_finish_fails_after_its_wait_rather_than_hang(database, monkeypatch):
    """PostgreSQL would wait for the write lock for ever: a write stuck behind another fails after
    store.db.WRITE_WAIT_S (here shortened) on either engine (SQLite's busy timeout, PostgreSQL's lock_timeout)."""
    from sqlalchemy.exc import OperationalError

    from deepcredit.service.store import db as db_module

    db, url, args = database
    monkeypatch.setattr(db_module, "WRITE_WAIT_S", 0.2)
    other = Database(url, connect_args=dict(args))  # another process: its own connections, no Python lock shared
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write():
            holding.set()
            release.wait(timeout=30)

    held = threading.Thread(target=hold)
    held.start()
    try:
        assert holding.wait(timeout=30)
        with pytest.raises(OperationalError, match="lock timeout|database is locked"), other.write():
            pass
    finally:
        release.set()
        held.join(timeout=30)
        other.dispose()
