"""Champion and challenger: a new model scores everyone in shadow, is compared with the champion and
promoted, and every step is in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from deepcredit.cli import serve_cmds
from deepcredit.features.bundle import build_model_input
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import save_model
from deepcredit.models.gbdt import GBDTModel
from deepcredit.service.app import create_app
from deepcredit.service.challenger import PROMOTED
from deepcredit.service.config import Settings
from deepcredit.service.context import make_context
from deepcredit.service.store.models import AuditEntry, Score, ScoreHistory

pytest_plugins = ("service_testkit",)


def _operator(tmp_path) -> tuple[dict[str, str], typer.Typer, CliRunner]:
    """The operator's environment (a service database under tmp_path), the serve commands and a runner."""
    from service_testkit import ADMIN_KEY, KEY

    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    app = typer.Typer()
    serve_cmds.register(app)
    return env, app, CliRunner()


def _with_challenger(tmp_path) -> tuple[dict[str, str], typer.Typer, CliRunner, Path]:
    """_operator's, with the test world served as of 2026-07-01 12:00 and a small GBDT registered as its
    challenger (the challenger's path last)."""
    from service_testkit import FEATURES, world

    w = world()
    inp = build_model_input(w.raw, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
    challenger = save_model(GBDTModel(n_estimators=20, early_stopping_rounds=None).fit(inp), tmp_path / "gbdt", inp)
    env, app, runner = _operator(tmp_path)
    assert runner.invoke(app, ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state",
                               str(tmp_path / "state"), "--as-of", "2026-07-01 12:00"], env=env).exit_code == 0
    assert runner.invoke(app, ["model-challenger", "--model", str(challenger)], env=env).exit_code == 0
    return env, app, runner, challenger


def test_register_compare_promote_a_challenger(tmp_path):
    from service_testkit import FEATURES, world

    w = world()
    inp = build_model_input(w.raw, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
    challenger = save_model(GBDTModel(n_estimators=40, early_stopping_rounds=None).fit(inp), tmp_path / "gbdt", inp)
    env, app, runner = _operator(tmp_path)

    def run(*args: str) -> str:
        r = runner.invoke(app, list(args), env=env)
        assert r.exit_code == 0, r.output
        return r.stdout

    assert runner.invoke(app, ["model-compare"], env=env).exit_code == 2  # nothing registered yet: clear error
    run("serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state", str(tmp_path / "state"),
        "--as-of", "2026-07-01 12:00")
    champion, new = load_artifact(w.model).sha256, load_artifact(challenger).sha256
    settings = Settings.from_env(env)
    ctx = make_context(settings)
    with ctx.db.read() as s:
        before = dict(s.execute(select(Score.subject, Score.score)).all())
    run("model-challenger", "--model", str(challenger))
    with ctx.db.read() as s:  # shadow: decisions still read the champion's scores
        assert dict(s.execute(select(Score.subject, Score.score)).all()) == before
    result = json.loads(run("model-compare", "--json"))
    assert result["champion"] == champion and result["challenger"] == new and result["people"] == 400
    assert 0 <= result["band_changed"] <= 400
    run("model-promote")
    with ctx.db.read() as s:
        models = set(s.execute(select(Score.model_id)).scalars())
        promoted = s.execute(select(ScoreHistory).where(ScoreHistory.cause == PROMOTED)).scalars().all()
        actions = [a for a in s.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars()]
    assert models == {new} and len(promoted) == 400
    assert actions[-3:] == ["challenger_registered", "challenger_compared", "model_promoted"]
    with TestClient(create_app(Settings.from_env(env))) as client:  # a restarted server serves the new model
        assert client.get("/v1/health").json()["model_id"] == new
    ctx.db.dispose()


def test_a_snapshot_of_the_served_data_is_batch_scored_and_trains_a_challenger(tmp_path):
    """serve-snapshot writes the served data (pseudonymised, as held) as a data set: `score` reads it like
    any other, and a model trained on it is registered as the challenger of the same service."""
    from service_testkit import ADMIN_KEY, FEATURES, KEY, world

    from deepcredit.cli.app import app as cli
    from deepcredit.data.dataset import Dataset

    w = world()
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    runner = CliRunner()
    assert runner.invoke(cli, ["serve-snapshot", "--out", str(tmp_path / "held")], env=env).exit_code == 2
    r = runner.invoke(cli, ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state",
                            str(tmp_path / "state"), "--as-of", "2026-07-01 12:00"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["serve-snapshot", "--out", str(tmp_path / "held")], env=env)
    assert r.exit_code == 0, r.output
    assert "held on 2026-07-01 12:00" in r.output and "people: 400" in r.output
    held = Dataset(tmp_path / "held")
    assert set(held.read("people")["person_id"]).isdisjoint(w.ids)  # keyed by pseudonyms, never raw ids
    r = runner.invoke(cli, ["score", "--data", str(held.root), "--model", str(w.model), "--out",
                            str(tmp_path / "scores"), "--as-of", "2026-07-01"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["serve-import-scores", "--scores", str(tmp_path / "scores")], env=env)
    assert r.exit_code == 0 and "imported 0 scores" in r.output and "kept 400 newer" in r.output, r.output  # 12:00
    r = runner.invoke(cli, ["serve-import-scores", "--scores", str(tmp_path / "held")], env=env)
    assert r.exit_code == 2 and "not the output of `deepcredit score`" in r.output, r.output
    inp = build_model_input(held, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
    model = save_model(GBDTModel(n_estimators=40, early_stopping_rounds=None).fit(inp), tmp_path / "gbdt", inp)
    r = runner.invoke(cli, ["model-challenger", "--model", str(model)], env=env)
    assert r.exit_code == 0 and "scored 400 people in shadow" in r.output, r.output


def test_a_challenger_trained_on_another_data_set_is_refused_naming_both(tmp_path):
    """A model of another spec is refused before anyone is scored, with the data set it was trained on (from its
    manifest) and the served one, not as one missing column a newcomer would look for in their data (audit K, F12)."""
    from service_testkit import world

    from deepcredit.data.dataset import Dataset
    from deepcredit.data.datasets import load_bundled
    from deepcredit.features.templates import features_for

    w = world()
    german = load_bundled("german", tmp_path / "german")
    inp = build_model_input(german, views=("tabular",), definitions=features_for(german.spec))
    other = save_model(GBDTModel(n_estimators=5, early_stopping_rounds=None).fit(inp), tmp_path / "gm", inp,
                       config={"data": german.name})
    env, app, runner = _operator(tmp_path)
    r = runner.invoke(app, ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state",
                            str(tmp_path / "state"), "--as-of", "2026-07-01 12:00"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["model-challenger", "--model", str(other)], env=env)
    said = " ".join(r.output.split())
    assert r.exit_code == 2, said
    assert "was trained on data set 'german'" in said and "lacks 17 of its 17 features" in said, said
    assert f"'{Dataset(w.raw.root).name}" in said  # the served data set (its pseudonymised copy)
    assert "served one's spec" in said and "missing from the input" not in said
    ctx = make_context(Settings.from_env(env))
    with ctx.db.read() as s:  # refused before anything was registered
        assert "challenger_registered" not in set(s.execute(select(AuditEntry.action)).scalars())
    ctx.db.dispose()


def test_strict_versions_refuse_to_serve_a_model_of_other_library_versions(tmp_path, monkeypatch):
    """DEEPCREDIT_STRICT_VERSIONS=1: serve-init, a challenger (so a promotion) and a start refuse a model
    written under other library versions, naming them; without it the service serves it, with a warning."""
    import warnings

    from service_testkit import FEATURES, world

    from deepcredit.models import artifacts
    from deepcredit.models.scorecard import ScorecardModel
    from deepcredit.service.bootstrap import build_scorer

    w = world()
    inp = build_model_input(w.raw, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
    real = artifacts.library_versions
    with monkeypatch.context() as m:
        m.setattr(artifacts, "library_versions", lambda names=None: {**real(), "numpy": "1.26.4"})
        old = save_model(ScorecardModel(max_n_prebins=8).fit(inp), tmp_path / "old", inp)
    env, app, runner = _operator(tmp_path)
    strict = {**env, "DEEPCREDIT_STRICT_VERSIONS": "1"}
    init = ["serve-init", "--data", str(w.raw.root), "--state", str(tmp_path / "state"), "--as-of", "2026-07-01 12:00"]
    r = runner.invoke(app, [*init, "--model", str(old)], env=strict)
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and "other library versions" in said and "numpy" in said, said
    assert runner.invoke(app, [*init, "--model", str(w.model)], env=strict).exit_code == 0
    r = runner.invoke(app, ["model-challenger", "--model", str(old)], env=strict)
    assert r.exit_code == 2 and "numpy" in " ".join(r.output.split()), r.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", artifacts.LibraryVersionWarning)
        r = runner.invoke(app, [*init, "--model", str(old)], env=env)  # not strict: served, with a warning
        assert r.exit_code == 0, r.output
        strict_ctx, ctx = make_context(Settings.from_env(strict)), make_context(Settings.from_env(env))
        try:
            with pytest.raises(artifacts.ArtifactError, match="numpy"):  # a strict start refuses it
                build_scorer(strict_ctx)
            assert build_scorer(ctx) is not None
        finally:
            strict_ctx.db.dispose()
            ctx.db.dispose()


def test_a_promotion_stopped_part_way_is_finished_by_running_it_again(tmp_path, monkeypatch):
    """The new model is served from the promotion's first write: one that stops half-way says so, and a re-run
    resumes as of the same time, every person promoted once (no second history row for those done before)."""
    from deepcredit.service.scoring import ModelScorer

    env, app, runner, challenger = _with_challenger(tmp_path)
    real = ModelScorer.score_everyone

    def stops(self, as_of, chunk=50_000):  # 150 people a batch; the process "dies" after the first
        batches = real(self, as_of, chunk=150)
        yield next(batches)
        raise MemoryError("killed")
    with monkeypatch.context() as m:
        m.setattr(ModelScorer, "score_everyone", stops)
        r = runner.invoke(app, ["model-promote"], env=env)
    said = " ".join(r.output.split())
    assert r.exit_code == 1 and "stopped part-way" in said and "run `deepcredit model-promote` again" in said, said
    new = load_artifact(challenger).sha256
    ctx = make_context(Settings.from_env(env))
    try:
        with ctx.db.read() as s:
            assert len(s.execute(select(Score.subject).where(Score.model_id == new)).scalars().all()) == 150
        monkeypatch.setattr(ModelScorer, "score_everyone", lambda self, as_of, chunk=50_000: real(self, as_of, chunk=150))
        r = runner.invoke(app, ["model-promote"], env=env)
        assert r.exit_code == 0 and "finished the promotion started as of" in " ".join(r.output.split()), r.output
        with ctx.db.read() as s:
            models = set(s.execute(select(Score.model_id)).scalars())
            promoted = s.execute(select(ScoreHistory.subject).where(ScoreHistory.cause == PROMOTED)).scalars().all()
            as_of = set(s.execute(select(ScoreHistory.as_of).where(ScoreHistory.cause == PROMOTED)).scalars())
            actions = list(s.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())
        assert models == {new} and sorted(promoted) == sorted(set(promoted)) and len(promoted) == 400
        assert len(as_of) == 1 and actions.count("model_promoted") == 1  # one time, one promotion
    finally:
        ctx.db.dispose()


def test_an_unfinished_promotion_is_told_everywhere_and_compare_refuses(tmp_path, caplog):
    """A promotion killed part-way leaves the new model served and the stored scores mixed: `/v1/health`, the
    server's start-up log and `model-challenger` say so and what finishes it; `model-compare` refuses to
    compare the new model with scores partly the old model's (it printed 'champion X vs challenger X')."""
    from deepcredit.service.challenger import PROMOTION_AS_OF, PROMOTION_MODEL
    from deepcredit.service.events import record_served

    env, app, runner, challenger = _with_challenger(tmp_path)
    new = load_artifact(challenger).sha256
    ctx = make_context(Settings.from_env(env))
    try:
        with TestClient(create_app(Settings.from_env(env))) as client:
            assert client.get("/v1/health").json()["promotion_unfinished"] is None
        # model-promote's first write, then a kill -9: nobody re-scored yet
        record_served(ctx, {"model_path": str(challenger), "model_id": new, PROMOTION_MODEL: new,
                            PROMOTION_AS_OF: "2026-07-01T12:00:00"})
        told = f"promotion of model {new[:12]}"
        r = runner.invoke(app, ["model-compare"], env=env)
        said = " ".join(r.output.split())
        assert r.exit_code == 2 and told in said and "run `deepcredit model-promote` again" in said, said
        r = runner.invoke(app, ["model-challenger", "--model", str(challenger)], env=env)
        said = " ".join(r.output.split())
        assert r.exit_code == 0 and told in said and "run `deepcredit model-promote` again" in said, said
        with caplog.at_level("WARNING", logger="deepcredit.service"):
            started = create_app(Settings.from_env(env))
        assert any(told in rec.getMessage() for rec in caplog.records)  # serve's start-up log
        with TestClient(started) as client:
            health = client.get("/v1/health").json()
        assert told in health["promotion_unfinished"] and "model-promote" in health["promotion_unfinished"]
        assert runner.invoke(app, ["model-promote"], env=env).exit_code == 0  # finishes it
        with TestClient(create_app(Settings.from_env(env))) as client:
            assert client.get("/v1/health").json()["promotion_unfinished"] is None  # nothing left to tell
    finally:
        ctx.db.dispose()
