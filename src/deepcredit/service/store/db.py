"""Engines and sessions: an SQLite file by default, PostgreSQL by URL; the same tables on both.

SQLite runs in WAL mode (readers never wait for the writer) with synchronous=NORMAL (a commit is durable
against a crashed process, and against power loss up to the last checkpoint), which is what lets a decision
commit in well under a millisecond.

Every write goes through `Database.write()`, and writes run one at a time, across threads and processes (the
server, a second worker, an operator command such as `person-erase` or `retention`): the transaction takes the
database's write lock before its first statement (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped
advisory lock on one constant key), so the reads inside a write see every earlier write and nothing commits
between a check and the act it guards (a person erased, a transaction id replayed, a limit counted). Why one
at a time: the service's writes are short (well under a millisecond to a few), SQLite admits one writer
anyway, and a single rule is simpler to get right than a lock per kind of check. A writer waits for the one
before it, up to WRITE_WAIT_S (SQLite's busy timeout, PostgreSQL's lock_timeout), then fails rather than hang;
`write_lock` is the per-process part of the same queue, so threads of one process do not busy-wait on SQLite.
Reads never wait.

The audit log is append-only in the database itself: a trigger refuses UPDATE and DELETE on it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from deepcredit.service.store import schema

APPEND_ONLY_SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]
APPEND_ONLY_POSTGRES = [
    """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
    """CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
]


WRITE_WAIT_S = 30
"""How long a write waits for the one before it, on either engine, before it fails (a 500 the client may
retry) rather than hang: SQLite's busy timeout, PostgreSQL's lock_timeout for the write lock."""
WRITE_LOCK_KEY = 0x6463_7772_6974_65
"""The PostgreSQL advisory lock every service write takes (any constant: one lock for all writes)."""
_PG_WRITE_LOCK = text("SELECT pg_advisory_xact_lock(:key) FROM (SELECT set_config('lock_timeout', :wait, true)) AS wait")
"""The write lock, waited for at most `wait` (this transaction's lock_timeout, set first: the subquery in FROM
runs before the outer select), in one round trip (two statements cost 65 µs more per write locally)."""


def updated_one(s: Session, stmt: Executable, params: Mapping[str, Any] | None = None) -> bool:
    """Run a conditional UPDATE of one row (a compare-and-set: a consent's one use, a webhook's cursor, a
    delivery's claim) and say whether it matched: of two transactions that both read the row as it was, only
    the first to write changes it."""
    done = s.execute(stmt, dict(params or {}), execution_options={"synchronize_session": False})
    return cast(CursorResult, done).rowcount == 1


class Database:
    """An engine, a session factory and the write transaction (`write`)."""

    def __init__(self, url: str, echo: bool = False, **engine_kwargs) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict = {"echo": echo, **engine_kwargs}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("connect_args", {}).update({"timeout": WRITE_WAIT_S, "check_same_thread": False})
            kwargs.setdefault("pool_size", 10)  # one per concurrently served request (the threadpool has 40)
            kwargs.setdefault("max_overflow", 30)
        else:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 10)
            kwargs.setdefault("pool_recycle", 1800)  # not pre_ping: a round trip on every checkout
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_lock = threading.Lock()

    def create_all(self) -> None:
        """Create the tables in an empty database, stamped with their schema version, or check that an
        existing one is at it (schema.SchemaMismatch otherwise); then the append-only triggers (idempotent)."""
        if schema.is_empty(self.engine):
            schema.create(self.engine)
        else:
            schema.check(self.engine)
        with self.engine.begin() as con:
            for sql in APPEND_ONLY_SQLITE if self.is_sqlite else APPEND_ONLY_POSTGRES:
                con.execute(text(sql))

    def initialised(self) -> bool:
        return inspect(self.engine).has_table("service_meta")

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction holding the database's write lock from its first statement (module docstring):
        committed on success, rolled back on any error. Do every check a write depends on inside it."""
        with self.write_lock, self.sessions() as session, session.begin():
            if self.is_sqlite:  # not the driver's deferred BEGIN, which takes the lock only at the first INSERT
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            else:
                # never wait for ever behind a writer that does not finish
                session.execute(_PG_WRITE_LOCK, {"key": WRITE_LOCK_KEY, "wait": f"{round(WRITE_WAIT_S * 1000)}ms"})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def scrub(self, tries: int = 10) -> bool:
        """After deleting a person's rows, leave none of their bytes in the database's files (SQLite): the
        deletions zero what they free (secure_delete), and the write-ahead log, which still holds the pages
        as they were before, is copied into the database and truncated. A reader holding an old snapshot
        keeps the log alive, so this retries a moment later; False if it never got through (then the next
        checkpoint does it). PostgreSQL keeps deleted rows in its files until autovacuum reuses the space
        (docs/security.md); nothing is done there."""
        if not self.is_sqlite:
            return True
        with self.write_lock:
            for attempt in range(tries):
                with self.engine.connect() as con:
                    busy = con.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy is None or busy[0] == 0:
                    return True
                time.sleep(0.05 * (attempt + 1))
        return False


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")  # a deleted row's bytes are zeroed, not left in free pages (erasure)
    cur.close()
