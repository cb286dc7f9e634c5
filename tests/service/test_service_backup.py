"""`serve-backup`: a backup taken while the service holds committed rows in its WAL file holds them (a copy
of the .db file alone does not); audited; PostgreSQL is refused with the pg_dump hint."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import typer
from typer.testing import CliRunner

from deepcredit.cli import serve_cmds
from deepcredit.service.backup import backup_database
from deepcredit.service.config import Settings
from deepcredit.service.context import make_context, write_meta

pytest_plugins = ("service_testkit",)


def _app() -> typer.Typer:
    app = typer.Typer()
    serve_cmds.register(app)
    return app


def _meta(path, key: str) -> str | None:
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT value FROM service_meta WHERE key = ?", (key,)).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def test_a_backup_holds_the_rows_still_in_the_wal(tmp_path):
    from service_testkit import KEY

    db = tmp_path / "deepcredit.db"
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_DATABASE_URL": f"sqlite:///{db}"}
    ctx = make_context(Settings.from_env(env))
    ctx.db.create_all()
    write_meta(ctx, {"checkpointed": "yes"})
    with ctx.db.engine.connect() as con:
        con.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    with ctx.db.engine.connect() as held:  # an open connection: the next commit stays in the WAL file
        held.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        write_meta(ctx, {"in the wal": "committed"})
        assert (tmp_path / "deepcredit.db-wal").stat().st_size > 0
        shutil.copy(db, tmp_path / "copied.db")  # what "copy the file" gets
        assert _meta(tmp_path / "copied.db", "in the wal") is None

        r = CliRunner().invoke(_app(), ["serve-backup", "--out", str(tmp_path / "backup.db")], env=env)
        assert r.exit_code == 0, r.output
        assert "backed the database up" in r.output
    ctx.db.dispose()
    backup = tmp_path / "backup.db"
    assert _meta(backup, "in the wal") == "committed" and _meta(backup, "checkpointed") == "yes"
    assert not (tmp_path / "backup.db-wal").exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'database_backed_up'").fetchone()[0] == 1
    con.close()
    r = CliRunner().invoke(_app(), ["serve-backup", "--out", str(backup)], env=env)
    assert r.exit_code == 2 and "never overwrites" in r.output  # an existing backup is kept


def test_postgres_and_a_missing_database_are_refused(tmp_path):
    from service_testkit import KEY

    pg = Settings(database_url="postgresql+psycopg://u@localhost/deepcredit", pseudonym_key=KEY)
    with pytest.raises(ValueError, match="pg_dump"):
        backup_database(pg, tmp_path / "b.db")
    none = Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}", pseudonym_key=KEY)
    with pytest.raises(ValueError, match="nothing to back up"):
        backup_database(none, tmp_path / "b.db")
    assert not (tmp_path / "b.db").exists()
