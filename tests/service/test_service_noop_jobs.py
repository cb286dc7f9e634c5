"""Operator jobs with nothing to change do not load the served model (seconds for the stack: torch and every
member); with something to change they load it and do the work, audited either way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.service import retention, score_import
from deepcredit.service.app import serving_context
from deepcredit.service.config import Settings
from deepcredit.service.store.models import AuditEntry

pytest_plugins = ("service_testkit",)


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A service set up by serve-init --as-of, and a counter of the times its model is loaded."""
    from service_testkit import KEY, world

    w = world()
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    r = CliRunner().invoke(app, ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state",
                                 str(tmp_path / "state"), "--as-of", "2026-07-01"], env=env)
    assert r.exit_code == 0, r.output
    loads: list[int] = []
    for module in (retention, score_import):
        real = getattr(module, "build_scorer", None)
        monkeypatch.setattr(module, "build_scorer", lambda ctx, real=real: loads.append(1) or real(ctx), raising=False)
    return w, env, loads


def _actions(ctx) -> list[str]:
    with ctx.db.read() as s:
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def test_retention_loads_the_model_only_to_rescore(served):
    w, env, loads = served
    ctx = serving_context(Settings.from_env(env), load_scorer_from_meta=False)
    out = retention.run(ctx)  # nothing retired, nothing due: no model
    assert (out.retired_people, out.recalculated, loads) == (0, 0, [])
    assert _actions(ctx)[-1] == "retention_run"
    ctx.settings.clock.offset -= timedelta(days=2)  # two days on: every score is due for recalculation
    ctx.settings.recalculation_days = 1
    out = retention.run(ctx)
    assert out.recalculated == len(w.ids) and loads == [1]
    ctx.db.dispose()


def test_an_import_of_nothing_does_not_load_the_model(served, tmp_path):
    w, env, loads = served
    runner = CliRunner()
    assert runner.invoke(app, ["serve-snapshot", "--out", str(tmp_path / "held")], env=env).exit_code == 0
    for day, scores in (("2026-06-30", "older"), ("2026-07-01", "same")):
        r = runner.invoke(app, ["score", "--data", str(tmp_path / "held"), "--model", str(w.model), "--out",
                                str(tmp_path / scores), "--as-of", day])
        assert r.exit_code == 0, r.output
    done = score_import.import_scores(Settings.from_env(env), tmp_path / "older")  # every held score is newer
    assert (done.imported, done.kept_newer, loads) == (0, len(w.ids), [])
    done = score_import.import_scores(Settings.from_env(env), tmp_path / "same")
    assert (done.imported, done.kept_newer, loads) == (len(w.ids), 0, [1])
    ctx = serving_context(Settings.from_env(env), load_scorer_from_meta=False)
    assert _actions(ctx)[-2:] == ["scores_imported", "scores_imported"]
    ctx.db.dispose()
