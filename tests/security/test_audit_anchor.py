"""Audit anchors (issue 15, item 7) and a tampered or truncated audit log, with and without an anchor."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from deepcredit.cli import serve_cmds
from deepcredit.service.config import Settings
from deepcredit.service.context import make_context

KEY = "audit-test-pseudonym-key-0123456789abcdef"


@pytest.fixture
def log(tmp_path):
    """A service database with 20 audit rows; returns (env, context)."""
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY, "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    ctx = make_context(Settings.from_env(env))
    ctx.db.create_all()
    t0 = datetime(2026, 7, 1)
    for i in range(20):
        with ctx.db.write() as s:
            ctx.audit.append(s, t0 + timedelta(minutes=i), "merchant:1", "decision", "ab" * 32, decision=i)
    yield env, ctx
    ctx.db.dispose()


def _cli(args, env):
    app = typer.Typer()
    serve_cmds.register(app)
    return CliRunner().invoke(app, args, env=env)


def _truncate(ctx, keep: int) -> None:
    """A database administrator cuts rows from the end and rewrites the head to match: the chain stays valid."""
    with ctx.db.engine.begin() as con:
        con.execute(text("DROP TRIGGER audit_log_no_delete"))
        con.execute(text("DELETE FROM audit_log WHERE seq > :k"), {"k": keep})
        mac = con.execute(text("SELECT mac FROM audit_log WHERE seq = :k"), {"k": keep}).scalar_one()
        con.execute(text("UPDATE audit_head SET seq = :k, mac = :m"), {"k": keep, "m": mac})


def test_anchor_command_then_verify_against_it(log, tmp_path):
    env, _ = log
    out = tmp_path / "audit.anchor"
    r = _cli(["audit-anchor", "--out", str(out)], env)
    assert r.exit_code == 0, r.output
    anchor = r.stdout.strip()
    assert anchor.startswith("20:") and len(anchor) == 3 + 64 and out.read_text().strip() == anchor
    assert _cli(["audit-verify", "--anchor", anchor], env).exit_code == 0
    r = _cli(["audit-verify", "--anchor-file", str(out), "--json"], env)
    assert r.exit_code == 0 and json.loads(r.stdout)["anchor_checked"] is True


@pytest.mark.parametrize("bad", ["", "  ", "20:", ":abc", "0:" + "0" * 64, "20:" + "g" * 64])
def test_an_empty_or_malformed_anchor_is_refused(log, bad):
    env, _ = log
    r = _cli(["audit-verify", "--anchor", bad], env)
    assert r.exit_code == 2 and "SEQ:MAC" in r.output


def test_truncation_is_caught_only_with_an_anchor(log):
    env, ctx = log
    anchor = _cli(["audit-anchor"], env).stdout.strip()
    _truncate(ctx, keep=15)
    assert _cli(["audit-verify"], env).exit_code == 0  # without an anchor a consistent cut is invisible
    r = _cli(["audit-verify", "--anchor", anchor], env)
    assert r.exit_code == 1 and "anchor names row 20" in r.output


def test_a_tampered_row_is_caught_with_and_without_an_anchor(log):
    env, ctx = log
    anchor = _cli(["audit-anchor"], env).stdout.strip()
    with ctx.db.engine.begin() as con:
        con.execute(text("DROP TRIGGER audit_log_no_update"))
        con.execute(text("UPDATE audit_log SET details = :d WHERE seq = 7"), {"d": '{"decision":99}'})
    for args in (["audit-verify"], ["audit-verify", "--anchor", anchor]):
        r = _cli(args, env)
        assert r.exit_code == 1 and "row 7" in r.output
    assert _cli(["audit-anchor"], env).exit_code == 1  # a broken chain is never anchored


def test_anchoring_an_empty_log_is_refused(tmp_path):
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY, "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    ctx = make_context(Settings.from_env(env))
    ctx.db.create_all()
    assert _cli(["audit-anchor"], env).exit_code == 2


def test_an_existing_anchor_file_is_never_overwritten(log, tmp_path):
    """Review: `audit-anchor --out` replaced an existing file; an anchor's value is its history (an older
    anchor is what catches rows cut since), so an existing file is refused as `serve-backup` refuses one."""
    env, _ = log
    out = tmp_path / "audit.anchor"
    out.write_text("7:" + "a" * 64 + "\n")
    r = _cli(["audit-anchor", "--out", str(out)], env)
    assert r.exit_code == 2 and "exists: an anchor never overwrites a file" in " ".join(r.output.split()), r.output
    assert out.read_text() == "7:" + "a" * 64 + "\n"


def test_an_anchor_file_made_while_the_chain_is_verified_is_not_overwritten(log, tmp_path, monkeypatch):
    """Review: the existing-file check ran before the verification, and the write replaced whatever was there
    by then; a second run (or anyone) that made the file meanwhile lost it. The write itself now refuses."""
    env, _ = log
    out = tmp_path / "audit.anchor"
    verified = serve_cmds._verified

    def verify_while_another_run_writes(anchor=None):
        out.write_text("7:" + "a" * 64 + "\n")
        return verified(anchor)

    monkeypatch.setattr(serve_cmds, "_verified", verify_while_another_run_writes)
    r = _cli(["audit-anchor", "--out", str(out)], env)
    assert r.exit_code == 2 and "exists: an anchor never overwrites a file" in " ".join(r.output.split()), r.output
    assert out.read_text() == "7:" + "a" * 64 + "\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
