"""A population re-scored by a batch job on a snapshot becomes the service's scores: the same scores and
reasons the service computes itself, newer ones kept, the erased left out, anything doubtful refused."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.service import score_import
from deepcredit.service.erasure import erase
from deepcredit.service.events import score_and_save
from deepcredit.service.history import POPULATION
from deepcredit.service.score_import import load_job
from deepcredit.service.snapshot import snapshot
from deepcredit.service.store.models import AuditEntry, Score, ScoreHistory

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _batch(data: Path, model: Path, out: Path, as_of: str, chunk: int = 100_000) -> Path:
    r = CliRunner().invoke(app, ["score", "--data", str(data), "--model", str(model), "--out", str(out),
                                 "--as-of", as_of, "--chunk-size", str(chunk)])
    assert r.exit_code == 0, r.output
    return out


def _stored(svc) -> dict:
    with svc.ctx.db.read() as s:
        return {r.subject: (r.score, r.as_of) for r in s.execute(select(Score)).scalars()}


def _parts(service, tmp_path) -> Path:
    """A day on, a snapshot scored by a batch job in four parts of 100 people."""
    service.clock.advance(days=1)  # 2026-07-02 12:00: the job's scores (midnight) are later than the initial ones
    held = snapshot(service.ctx, service.world.data, tmp_path / "held").data
    return _batch(held.root, service.world.model, tmp_path / "scores", "2026-07-02", chunk=100)


def _imported(svc) -> dict[str, int]:
    """How many times each person's score was imported (their history rows of the population re-score)."""
    with svc.ctx.db.read() as s:
        subjects = s.execute(select(ScoreHistory.subject).where(ScoreHistory.cause == POPULATION)).scalars()
        out: dict[str, int] = {}
        for p in subjects:
            out[p] = out.get(p, 0) + 1
        return out


def _audits(svc) -> list[str]:
    with svc.ctx.db.read() as s:
        return list(s.execute(select(AuditEntry.details).where(AuditEntry.action == "scores_imported")).scalars())


def test_the_services_writes_go_on_while_an_import_runs(service, tmp_path, monkeypatch):
    """No write transaction (the one write lock every process shares) is held while a batch is built: a
    write of the service gets in between batches, not after the whole import. Counted on the import's own
    database object, so other tests' writes to a shared PostgreSQL database cannot make it flaky."""
    from contextlib import contextmanager

    ctx = service.ctx
    scores = _parts(service, tmp_path)
    write, held = ctx.db.write, [0]

    @contextmanager
    def counted():
        with write() as s:
            held[0] += 1
            try:
                yield s
            finally:
                held[0] -= 1
    monkeypatch.setattr(ctx.db, "write", counted)
    seen: list[tuple[int, int]] = []
    real = ctx.scorer.scored

    def scored(card, *args, **kwargs):  # a batch being built: no write may be held meanwhile
        seen.append((held[0], sum(_imported(service).values())))
        return real(card, *args, **kwargs)
    monkeypatch.setattr(ctx.scorer, "scored", scored)
    done = load_job(ctx, ctx.scorer, scores)
    assert seen == [(0, 0), (0, 100), (0, 200), (0, 300)]  # no write held; each batch committed alone
    assert done.imported == len(service.world.ids)


def test_an_import_stopped_part_way_resumes_and_imports_each_person_once(service, tmp_path, monkeypatch):
    ids, ctx = service.world.ids, service.ctx
    scores = _parts(service, tmp_path)
    monkeypatch.setattr(score_import, "BATCH_ROWS", 30, raising=False)  # four batches a part, the last of 10
    real, calls = score_import.replace_scores, []

    def crash(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the import's process died")
        real(*args)
    monkeypatch.setattr(score_import, "replace_scores", crash)
    with pytest.raises(RuntimeError, match="died"):
        load_job(ctx, ctx.scorer, scores)
    assert sum(_imported(service).values()) == 60 and _audits(service) == []  # two batches in, the third not
    monkeypatch.setattr(score_import, "replace_scores", real)
    monkeypatch.setattr(score_import, "BATCH_ROWS", 1000, raising=False)  # the re-run cuts the batches as recorded
    done = load_job(ctx, ctx.scorer, scores)
    assert (done.imported, done.kept_newer, done.erased, done.resumed) == (len(ids), 0, 0, 2)
    assert _imported(service) == {service.subject(p): 1 for p in ids}
    assert len(_audits(service)) == 1 and f'"people":{len(ids)}' in _audits(service)[0]
    again = load_job(ctx, ctx.scorer, scores)  # a finished job: nothing imported, said so
    assert (again.imported, again.done_before is not None) == (0, True)
    assert _imported(service) == {service.subject(p): 1 for p in ids} and len(_audits(service)) == 1


def test_two_runs_of_one_import_at_once_store_each_batch_once_and_the_loser_says_so(service, tmp_path, monkeypatch):
    """A second run of the same job while the first runs: each batch is stored once, one audit row holds the
    job's totals, and the run that did not write it does not claim the job was imported before it began."""
    ctx = service.ctx
    scores = _parts(service, tmp_path)
    real, raced = score_import._import_batch, []

    def racing(*args, **kwargs):
        progress = real(*args, **kwargs)
        if not raced:  # after this run's first batch, another run of the job does the whole of it
            raced.append(1)
            other = load_job(ctx, ctx.scorer, scores)
            assert other.imported == len(service.world.ids) and not other.finished_meanwhile
        return progress
    monkeypatch.setattr(score_import, "_import_batch", racing)
    loser = load_job(ctx, ctx.scorer, scores)
    assert loser.finished_meanwhile and loser.done_before is not None
    assert _imported(service) == {service.subject(p): 1 for p in service.world.ids} and len(_audits(service)) == 1


def test_an_erasure_or_a_later_score_during_an_import_is_respected(service, tmp_path, monkeypatch):
    """The erased and the later scores are checked again in each batch's write, not only when the import began."""
    ids, ctx = service.world.ids, service.ctx
    scores = _parts(service, tmp_path)
    real, changed, done_in_time = ctx.scorer.scored, [], []

    def scored(card, *args, **kwargs):
        if not changed:  # while the first batch is built: one of its people erased, another re-scored now
            changed.extend(card["person_id"].astype(str).iloc[:2])
            meanwhile = threading.Thread(target=lambda: (erase(ctx, changed[0]),
                                                         score_and_save(ctx, [changed[1]], "event", ctx.now())))
            meanwhile.start()
            meanwhile.join(timeout=10)
            done_in_time.append(not meanwhile.is_alive())
        return real(card, *args, **kwargs)
    monkeypatch.setattr(ctx.scorer, "scored", scored)
    done = load_job(ctx, ctx.scorer, scores)
    ctx.neighbours.drain(timeout=30.0)
    assert done_in_time == [True]  # the import held no write while it built the batch
    gone, rescored = changed
    with ctx.db.read() as s:
        assert s.get(Score, gone) is None
        assert s.get(Score, rescored).as_of == datetime(2026, 7, 2, 12)  # the later score stays
    assert gone not in _imported(service) and rescored not in _imported(service)
    assert done.erased == 1 and done.kept_newer >= 1 and done.imported + done.kept_newer + done.erased == len(ids)


def test_a_promotion_during_an_import_stops_it(service, tmp_path, monkeypatch):
    """The served model is checked again in each batch's write: the old model's scores never replace the
    promoted model's."""
    from deepcredit.service.context import write_meta

    ctx = service.ctx
    scores = _parts(service, tmp_path)
    real, calls, done_in_time = ctx.scorer.scored, [], []

    def scored(card, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # model-promote, while the second batch is built
            promote = threading.Thread(target=write_meta, args=(ctx, {"model_id": "f" * 64}))
            promote.start()
            promote.join(timeout=10)
            done_in_time.append(not promote.is_alive())
        return real(card, *args, **kwargs)
    monkeypatch.setattr(ctx.scorer, "scored", scored)
    with pytest.raises(ValueError, match="promoted to model ffffffffffff during the import"):
        load_job(ctx, ctx.scorer, scores)
    assert done_in_time == [True] and sum(_imported(service).values()) == 100 and _audits(service) == []


def test_batch_scores_of_a_snapshot_become_the_services_own(service, tmp_path):
    w, ctx = service.world, service.ctx
    newer, me, acme = service.decided(skip=2)
    service.clock.advance(days=1)  # 2026-07-02 12:00
    held = snapshot(ctx, w.data, tmp_path / "held").data
    scores = _batch(held.root, w.model, tmp_path / "scores", "2026-07-02")
    assert service.client.post("/v1/events", json={"transaction_id": "ev-1", "person_id": newer, "amount": 40.0,
                                                    "outcome": "rental_returned_late", "days_late": 1},
                               headers=acme).status_code == 201  # after the snapshot: a newer score
    gone = w.ids[5]
    erase(ctx, service.subject(gone))
    ctx.neighbours.drain(timeout=30.0)  # their connections re-scored too: newer scores, dated after midnight
    kept = _stored(service)
    later = {p for p, (_, as_of) in kept.items() if as_of > datetime(2026, 7, 2)}
    assert service.subject(newer) in later

    done = load_job(ctx, ctx.scorer, scores)
    assert (done.imported, done.kept_newer, done.erased) == (len(w.ids) - 1 - len(later), len(later), 1)
    assert {p: v for p, v in _stored(service).items() if p in later} == {p: kept[p] for p in later}
    assert service.score_of(gone) is None
    first = {p.person_id: p.score for p in w.scores}
    untouched = [pid for pid in w.ids if service.subject(pid) not in later and pid != gone]
    moved = next(pid for pid in untouched if service.score_of(pid).score != first[service.subject(pid)])
    report = service.client.get("/v1/me/report", headers=service.person(moved)).json()
    assert report["history"][-1]["reasons"] == ["the regular recalculation of everyone's scores"]  # in words
    someone = service.subject(untouched[0])
    own = ctx.scorer.score_people([someone], as_of=datetime(2026, 7, 2))[0]  # the service's own computation
    with ctx.db.read() as s:
        row = s.get(Score, someone)
        history = s.execute(select(ScoreHistory).where(ScoreHistory.subject == someone)
                            .order_by(ScoreHistory.id.desc())).scalars().first()
        audit = s.execute(select(AuditEntry).where(AuditEntry.action == "scores_imported")).scalars().one()
    assert (row.score, row.band, row.as_of) == (own.score, own.band, datetime(2026, 7, 2))
    assert row.dimensions == [d.__dict__ for d in own.dimensions] and row.reasons == [r.__dict__ for r in own.reasons]
    assert history.cause == POPULATION and f"\"people\":{done.imported}" in audit.details


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_doubtful_batch_is_refused_and_changes_nothing(service, tmp_path):
    from service_testkit import FEATURES

    from deepcredit.features.bundle import build_model_input
    from deepcredit.features.definitions import ALL_FEATURES
    from deepcredit.models.base import save_model
    from deepcredit.models.gbdt import GBDTModel

    w, ctx = service.world, service.ctx
    service.clock.advance(days=1)
    held = snapshot(ctx, w.data, tmp_path / "held").data
    before = _stored(service)
    inp = build_model_input(held, views=("tabular",), definitions=[d for d in ALL_FEATURES if d.name in FEATURES])
    other = save_model(GBDTModel(n_estimators=20, early_stopping_rounds=None).fit(inp), tmp_path / "gbdt", inp)
    tampered = _batch(held.root, w.model, tmp_path / "tampered", "2026-07-02")
    part = next(tampered.glob("part-*.parquet"))
    part.write_bytes(part.read_bytes()[:-3] + b"xyz")
    for out, says in ((_batch(w.raw.root, w.model, tmp_path / "raw", "2026-07-02"), "not scored from a snapshot"),
                      (_batch(held.root, other, tmp_path / "other", "2026-07-02"), "but the service serves"),
                      (_batch(held.root, w.model, tmp_path / "later", "2026-07-03"), "after the snapshot"),
                      (tampered, "not the bytes the job recorded"), (tmp_path / "held", "not the output")):
        with pytest.raises(ValueError, match=says):
            load_job(ctx, ctx.scorer, out)
    assert _stored(service) == before


def test_the_documented_loop_imports_on_a_service_served_as_of(tmp_path):
    """serve-init --as-of D, serve-snapshot, `score` at the date it suggests, serve-import-scores: the batch's
    scores are imported (serve-init's are dated D itself, not the moment its copying ended, a little after)."""
    import re

    from service_testkit import KEY, world

    w = world()
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    runner = CliRunner()
    r = runner.invoke(app, ["serve-init", "--data", str(w.raw.root), "--model", str(w.model), "--state",
                            str(tmp_path / "state"), "--as-of", "2026-07-01"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["serve-snapshot", "--out", str(tmp_path / "held")], env=env)
    assert r.exit_code == 0, r.output
    suggested = re.search(r"--as-of\s+(\S+)", r.output.replace("\n", " "))
    assert suggested is not None and suggested.group(1) == "2026-07-01", r.output
    _batch(tmp_path / "held", w.model, tmp_path / "scores", suggested.group(1))
    r = runner.invoke(app, ["serve-import-scores", "--scores", str(tmp_path / "scores")], env=env)
    assert r.exit_code == 0, r.output
    assert f"imported {len(w.ids)} scores" in r.output and "kept 0 newer" in r.output, r.output
    r = runner.invoke(app, ["serve-import-scores", "--scores", str(tmp_path / "scores")], env=env)
    assert r.exit_code == 0 and "imported already" in r.output, r.output  # a re-run imports nothing, and says so


def test_scores_of_a_snapshot_of_an_older_copy_are_refused(service, tmp_path, monkeypatch):
    """serve-snapshot records the generation of what is served: a job scored from a snapshot taken before
    serve-init wrote a new copy (same model) is refused before anything is stored, and an import under way
    when it does stops at the next batch; a snapshot recorded without it (an earlier DeepCredit) is refused."""
    from deepcredit.service.context import write_meta
    from deepcredit.service.events import served_meta
    from deepcredit.service.snapshot import snapshot_key

    ctx = service.ctx
    scores = _parts(service, tmp_path)
    job = score_import._finished_job(scores)
    real, calls = ctx.scorer.scored, []

    def scored(card, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # serve-init run again (the same model), while the second batch is built
            write_meta(ctx, served_meta({}))  # a new generation (the new copy's paths are the same)
        return real(card, *args, **kwargs)
    monkeypatch.setattr(ctx.scorer, "scored", scored)
    with pytest.raises(ValueError, match="ran again during the import"):
        load_job(ctx, ctx.scorer, scores)
    assert sum(_imported(service).values()) == 100 and _audits(service) == []
    before = _stored(service)
    with pytest.raises(ValueError, match="of what was served before serve-init or model-promote ran again"):
        load_job(ctx, ctx.scorer, scores)  # the rest of the job, from the old copy: refused
    write_meta(ctx, {snapshot_key(job["data_fingerprint"]): "2026-07-02T12:00:00"})  # as an earlier one wrote it
    with pytest.raises(ValueError, match="written by an earlier DeepCredit"):
        load_job(ctx, ctx.scorer, scores)
    assert _stored(service) == before and _audits(service) == []
