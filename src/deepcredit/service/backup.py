"""`deepcredit serve-backup`: a consistent copy of the service's SQLite database, taken while it serves.

Why not copy the file: SQLite runs in WAL mode (store/db.py), so committed rows can sit in
`deepcredit.db-wal` until a checkpoint; a copy of `deepcredit.db` alone can miss them, and a copy of both
taken mid-write can be torn. SQLite's online backup API (Python's `sqlite3.Connection.backup`) copies the
database as one read transaction sees it, WAL included, while the service keeps writing.

PostgreSQL is backed up with its own tools (`pg_dump`); this refuses it, saying so. The copy is written
beside its destination and renamed into place, then audited (`database_backed_up`), so a failure leaves no
half-written backup. The copy holds what the database holds (pseudonyms, never the keys): keep it as safe
as the database, and restore it with the same DEEPCREDIT_PSEUDONYM_KEY (service/keycheck.py).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deepcredit.service.config import Settings
from deepcredit.service.context import checked_key, make_context, sync_clock


@dataclass(frozen=True)
class Backup:
    path: Path
    bytes: int
    at: datetime
    """When it was taken, on the service's clock."""


def backup_database(settings: Settings, out: Path) -> Backup:
    """Copy the service's SQLite database to `out` with the online backup API; audited. A ValueError that says
    what to do for PostgreSQL, a database that is not there, or an `out` that exists."""
    ctx = make_context(settings)
    try:
        if not ctx.db.is_sqlite:
            raise ValueError("serve-backup copies an SQLite database; back PostgreSQL up with its own tools, e.g. "
                             "`pg_dump --format=custom --file deepcredit.dump \"$DATABASE\"` (restore: pg_restore)")
        source = ctx.db.url.database
        if not source or source == ":memory:" or not Path(source).is_file() or not ctx.db.initialised():
            raise ValueError(f"no service database at {ctx.db.url.render_as_string()}: nothing to back up")
        out = Path(out)
        if out.exists():
            raise ValueError(f"{out} exists: a backup never overwrites a file; name a new one")
        if out.resolve() == Path(source).resolve():
            raise ValueError("the backup cannot be the database itself")
        checked_key(ctx)
        sync_clock(ctx)
        staging = out.with_name(f".{out.name}.partial")
        staging.unlink(missing_ok=True)
        try:
            with ctx.db.write_lock:  # this process's writers wait; the backup reads one consistent snapshot
                _copy(Path(source), staging)
            now = ctx.now()
            size = staging.stat().st_size
            with ctx.db.write() as s:
                ctx.audit.append(s, now, "operator", "database_backed_up", None, bytes=size)
            os.replace(staging, out)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        return Backup(out, size, now)
    finally:
        ctx.db.dispose()


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup of `source` into a new file `target`, checked before it is kept."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        ok = dst.execute("PRAGMA integrity_check").fetchone()
        if not ok or ok[0] != "ok":
            raise RuntimeError(f"the backup failed its integrity check: {ok}")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()
