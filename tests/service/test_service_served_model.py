"""A promoted model takes over a running server (service/served_model.py): no restart, and a server still
holding the old model never replaces a promoted score with one of its own."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from service_testkit import ADMIN_KEY, FEATURES, KEY, NOW, FakeClock, Service, world
from sqlalchemy import select

from deepcredit.data.dataset import write_dataset
from deepcredit.features.bundle import build_model_input
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import save_model
from deepcredit.models.scorecard import ScorecardModel
from deepcredit.service import challenger
from deepcredit.service.app import create_app
from deepcredit.service.bootstrap import build_scorer, initialise
from deepcredit.service.config import Clock, Settings
from deepcredit.service.store.models import AuditEntry, Score, ScoreHistory

pytest_plugins = ("service_testkit",)


@contextmanager
def running(tmp_path, check_s: float) -> Iterator[tuple[Service, Settings, str]]:
    """A service set up by serve-init and running (TestClient), with a challenger registered but not yet
    promoted: (the service, its settings, the challenger's path)."""
    w = world()
    clock = FakeClock()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", pseudonym_key=KEY, admin_key=ADMIN_KEY,
                        clock=Clock(source=clock))
    initialise(settings, w.raw, w.model, tmp_path / "state", as_of=NOW)
    inp = build_model_input(w.raw, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
    new = save_model(ScorecardModel(max_n_prebins=8).fit(inp), tmp_path / "challenger", inp)
    challenger.register(settings, new)
    settings.model_check_s = check_s
    app = create_app(settings)
    with TestClient(app) as client:
        yield Service(client, app.state.ctx, clock, w), settings, str(new)
    if app.state.ctx.neighbours is not None:
        app.state.ctx.neighbours.drain(timeout=30.0)
    app.state.ctx.db.dispose()


def _actions(svc: Service) -> list[str]:
    with svc.ctx.db.read() as s:
        return list(s.execute(select(AuditEntry.action).order_by(AuditEntry.seq)).scalars())


def _report(svc: Service, merchant: dict, pid: str):
    svc.clock.advance(days=2)  # an item not returned is at least a day late
    return svc.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": pid,
                                                "outcome": "rental_not_returned", "amount": 300}, headers=merchant)


def test_a_rescore_by_the_old_model_never_replaces_the_promoted_score(tmp_path):
    """A server that has not looked for the promoted model yet re-scores a person after an event: its old
    model's score is refused inside the save, it adopts the promoted model and the event is reflected in a
    score by that model."""
    with running(tmp_path, check_s=3600) as (svc, settings, new_path):
        old = svc.ctx.scorer.model_id
        pid, _, acme = svc.decided()
        new = challenger.promote(settings).model_id
        assert svc.ctx.scorer.model_id == old  # not looked yet (an hour between looks)
        r = _report(svc, acme, pid)
        assert r.status_code == 201 and r.json()["rescored"] is True, r.text
        stored = svc.score_of(pid)
        assert stored.model_id == new and stored.as_of > svc.clock.t - timedelta(seconds=1)  # after the event
        with svc.ctx.db.read() as s:
            since = s.execute(select(ScoreHistory.model_id, ScoreHistory.cause)
                              .where(ScoreHistory.subject == svc.subject(pid), ScoreHistory.cause != "initial score")
                              .order_by(ScoreHistory.id)).all()
        assert [m for m, _ in since] == [new, new] and since[-1][1].startswith("event evt_")
        assert svc.ctx.scorer.model_id == new and "model_served" in _actions(svc)


def test_a_running_server_serves_the_promoted_model_without_a_restart(tmp_path):
    with running(tmp_path, check_s=0) as (svc, settings, new_path):
        old = svc.client.get("/v1/health").json()["model_id"]
        new = challenger.promote(settings).model_id
        assert new != old
        assert svc.ctx.models.idle()  # the look the request above started is over
        assert svc.client.get("/v1/health").status_code == 200  # this request starts a look beside it
        assert svc.ctx.models.idle()
        assert svc.client.get("/v1/health").json()["model_id"] == new  # the same app, not re-created
        assert svc.ctx.scorer.model_id == new == load_artifact(new_path).sha256
        assert svc.ctx.bands == [(n, int(b)) for n, b in svc.ctx.scorer.scale.bands]  # the new model's scale
        assert _actions(svc)[-1] == "model_served"


def test_a_promoted_model_that_fails_to_load_leaves_the_old_one_serving(tmp_path):
    with running(tmp_path, check_s=0) as (svc, settings, new_path):
        old = svc.ctx.scorer.model_id
        pid, _, acme = svc.decided()
        new = challenger.promote(settings).model_id
        shutil.rmtree(new_path)  # the artifact gone from under the server
        for _ in range(2):  # two looks, one audit
            assert svc.ctx.models.idle()
            assert svc.client.get("/v1/health").json()["model_id"] == old  # still serving
        assert svc.ctx.models.idle()
        assert _actions(svc).count("model_load_failed") == 1  # audited once, not on every look
        r = _report(svc, acme, pid)  # the event is kept; the old model's score of it is not
        assert r.status_code == 201 and r.json()["rescored"] is False, r.text
        assert svc.score_of(pid).model_id == new
        assert svc.client.get("/v1/health").json()["model_id"] == old
        assert _actions(svc).count("model_load_failed") == 1


def test_a_promotion_keeps_a_later_score_of_the_promoted_model(service):
    """model-promote serves the new model first, then stores everyone's score by it: a person a running
    server already re-scored with the new model as of a later time (after an event) keeps that score;
    a later score of another model is replaced."""
    from dataclasses import replace

    from deepcredit.service.events import save_scores_bulk

    first, second = service.world.scores[:2]
    later = service.clock.t + timedelta(hours=1)
    save_scores_bulk(service.ctx, [replace(first, model_id="new", as_of=later, score=first.score + 7),
                                   replace(second, model_id="old", as_of=later)], cause="event")
    promoted = [replace(p, model_id="new", as_of=service.clock.t) for p in (first, second)]
    save_scores_bulk(service.ctx, promoted, cause="model promoted", keep_later=True)
    with service.ctx.db.read() as s:
        kept = {r.subject: r for r in s.execute(select(Score)).scalars()}
    assert kept[first.person_id].score == first.score + 7 and kept[first.person_id].as_of == later
    assert kept[second.person_id].model_id == "new" and kept[second.person_id].as_of == service.clock.t


def test_a_model_that_failed_to_load_is_not_loaded_again_in_a_request(tmp_path):
    """After a promoted model failed to load, a refused save does not load it again in its request's thread
    (each such request would wait for a load that fails): only the background looks try it again."""
    with running(tmp_path, check_s=3600) as (svc, settings, new_path):
        pid, _, acme = svc.decided()
        challenger.promote(settings)
        shutil.rmtree(new_path)
        loads: list[int] = []
        load = svc.ctx.models.load

        def counted(ctx):
            loads.append(1)
            return load(ctx)
        svc.ctx.models.load = counted
        assert _report(svc, acme, pid).json()["rescored"] is False  # the first refused save tries the load
        r = svc.client.post("/v1/events", json={"transaction_id": "ev-2", "person_id": pid,
                                                "outcome": "rental_not_returned", "amount": 200}, headers=acme)
        assert r.status_code == 201 and r.json()["rescored"] is False, r.text
        assert len(loads) == 1  # not again in the second request
        look = svc.ctx.models
        look.every_s = 0
        assert look.poll() is not None and look.idle()
        assert len(loads) == 2  # the background look tries it again


def _corrected(tmp_path, pid: str):
    """The test world's source data set less one person's events (a corrected extract): the same spec and
    people, so the same model serves it."""
    raw = world().raw
    frames = {t: raw.read(t) for t in ("people", "events", "relations", "outcomes")}
    frames["events"] = frames["events"][frames["events"]["person_id"].astype(str) != pid]
    return write_dataset(tmp_path / "corrected", frames, raw.name, str(raw.snapshot_date.date()), spec=raw.spec,
                         time_zone=raw.manifest.time_zone)


def _busiest(svc: Service) -> tuple[str, dict, dict]:
    """The person with the most records, decided about by Acme under their consent: (id, token, Acme's key)."""
    events = world().raw.read("events")
    return svc.decided(pid=str(events["person_id"].astype(str).value_counts().index[0]))


def _served_from_the_new_copy(svc: Service, pid: str) -> None:
    """The person's stored score is what a scorer loaded now (the meta table's copy) computes."""
    stored = svc.score_of(pid)
    fresh = build_scorer(svc.ctx)
    assert fresh is not None
    assert fresh.score_people([svc.subject(pid)], as_of=stored.as_of)[0].score == stored.score


def test_a_running_server_reads_the_data_copy_serve_init_wrote_again(tmp_path):
    """serve-init run again with the same model and a corrected data set: after its next look a running
    server reads the new copy (what it holds about a person, a re-score), not the one it loaded at start."""
    with running(tmp_path, check_s=0) as (svc, settings, _):
        pid, me, acme = _busiest(svc)
        loaded = svc.ctx.scorer
        assert svc.client.get("/v1/me/export", headers=me).json()["events"]  # the records loaded at start
        before = svc.score_of(pid).score
        initialise(settings, _corrected(tmp_path, pid), world().model, tmp_path / "state", as_of=NOW)
        assert svc.score_of(pid).score != before  # serve-init stored everyone's scores from the new copy
        assert svc.ctx.models.idle()
        assert svc.client.get("/v1/health").json()["model_id"] == loaded.model_id  # this request starts a look
        assert svc.ctx.models.idle()
        assert svc.ctx.scorer is not loaded and svc.ctx.scorer.model_id == loaded.model_id
        assert svc.client.get("/v1/me/export", headers=me).json()["events"] == []  # the new copy's records
        r = _report(svc, acme, pid)
        assert r.status_code == 201 and r.json()["rescored"] is True, r.text
        _served_from_the_new_copy(svc, pid)
        assert _actions(svc).count("model_served") == 1


def test_a_rescore_from_the_old_copy_never_replaces_a_score_from_the_new_one(tmp_path):
    """Before its next look, a server re-scoring a person after an event would store a score from the copy
    it loaded: refused inside the save, as a score by a model no longer served is; it loads the new copy and
    re-scores the person from it, the event included."""
    with running(tmp_path, check_s=3600) as (svc, settings, _):
        pid, me, acme = _busiest(svc)
        loaded = svc.ctx.scorer
        assert svc.client.get("/v1/me/export", headers=me).json()["events"]  # read, as a server warmed has
        initialise(settings, _corrected(tmp_path, pid), world().model, tmp_path / "state", as_of=NOW)
        assert svc.ctx.scorer is loaded  # not looked yet (an hour between looks)
        r = _report(svc, acme, pid)
        assert r.status_code == 201 and r.json()["rescored"] is True, r.text
        assert svc.ctx.scorer is not loaded and "model_served" in _actions(svc)
        _served_from_the_new_copy(svc, pid)


def test_a_score_computed_under_another_generation_is_not_stored(service):
    """The save's check, on either database: a score by the served model, but computed under another
    generation of what is served (from a copy serve-init replaced since), is refused and stores nothing;
    one under the current generation is stored."""
    from dataclasses import replace

    from deepcredit.service.context import read_meta, write_meta
    from deepcredit.service.events import GENERATION, ModelChanged, save_scores, served_meta

    first = service.world.scores[0]
    write_meta(service.ctx, served_meta({"model_id": first.model_id}))
    current = read_meta(service.ctx)[GENERATION]
    assert len(current) == 32 and served_meta({})[GENERATION] != current  # a new one from every write
    later = replace(first, as_of=service.clock.t + timedelta(hours=1), score=first.score + 5)
    with pytest.raises(ModelChanged, match="another data set copy"):
        save_scores(service.ctx, [later], cause="event", generation="an older one")
    with service.ctx.db.read() as s:
        assert s.get(Score, first.person_id).score == first.score
    assert save_scores(service.ctx, [later], cause="event", generation=current) == 1
    assert save_scores(service.ctx, [replace(later, score=first.score)], cause="event") == 1  # a scorer not built
    # from the meta table (generation None) is checked by its model only, as before
