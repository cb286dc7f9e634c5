"""Batch scoring in chunks: equal to scoring everyone at once (graph neighbours as context), resumable after
kill -9 with the very bytes of an uninterrupted run, and refusing to mix two jobs in one directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepcredit.config import RunConfig
from deepcredit.data.io import atomic_write_parquet
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.features.engine import build_features, neighbour_histories, open_session
from deepcredit.features.sequences import build_sequences
from deepcredit.models.base import DIMENSIONS, save_model
from deepcredit.models.stack import StackModel, graph_hops, layer_wise_members, model_views
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows import score as score_module
from deepcredit.workflows.job import JOB, PENDING
from deepcredit.workflows.scope import ScopedData
from deepcredit.workflows.score import Spine, prefetched, read_scores, score_batch

PARAMS = {"gbdt": {"n_estimators": 30}, "sequence": {"max_epochs": 1}, "graph": {"max_epochs": 2}}
KEY = ["person_id", "as_of"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    ds = simulate_world(root / "w", people=600, seed=5, chunk_size=600)
    inp = build_model_input(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = StackModel(members=("gbdt", "sequence", "graph"), member_params=PARAMS, n_folds=2).fit(inp)
    return root, ds, model, save_model(model, root / "model", inp), inp


def _cfg(chunk: int, explain: bool = True) -> RunConfig:
    return RunConfig(scoring={"chunk_size": chunk, "explain": explain})


def test_prefetching_keeps_order_holds_two_results_at_most_and_raises_where_taken():
    alive: list[int] = []
    peak = 0

    def make(i: int) -> int:
        nonlocal peak
        if i == 3:
            raise ValueError("chunk 3 is broken")
        alive.append(i)
        peak = max(peak, len(alive))
        return i * 10

    got = []
    with pytest.raises(ValueError, match="chunk 3"):
        for i, value in prefetched([0, 1, 2, 3, 4], make):
            got.append((i, value))
            time.sleep(0.01)  # the next one is made meanwhile
            alive.remove(i)
    assert got == [(0, 0), (1, 10), (2, 20)] and peak <= 2
    assert list(prefetched([], make)) == []


def test_chunked_scores_equal_scoring_everyone_at_once(fitted, tmp_path):
    """PD may differ in the last float32 bits: the sequence tower pads each batch to its longest history
    and DuckDB sums neighbours' weights in no fixed order, so other batch compositions round differently."""
    root, ds, model, art, inp = fitted
    assert graph_hops(model) == 2 and model_views(model) == ["tabular", "temporal", "structural"]
    whole = Scorer(model).report(inp).sort_values(KEY).reset_index(drop=True)
    job = score_batch(art, ds, tmp_path / "s", _cfg(130))
    assert job["complete"] and len(job["parts"]) == 5 and job["chunks"] == 5
    assert sum(p["rows"] for p in job["parts"].values()) == len(whole) == job["rows"]
    assert len(job["history_parts"]) == 5  # every person's own history once, for the chunks that neighbour them
    assert len(job["state_parts"]) == 5  # the graph member's first layer for everyone: chunks read one hop only
    assert not (tmp_path / "s" / "_features").exists()  # the job's stores are removed when done
    assert not (tmp_path / "s" / "_states").exists()
    assert not (tmp_path / "s" / "_neighbour_histories").exists()
    chunked = read_scores(tmp_path / "s").sort_values(KEY).reset_index(drop=True)
    assert not chunked.duplicated(KEY).any()
    for col in whole.columns:  # the same scores, bands, sub-scores and reasons; the same PD to float32 rounding
        a, b = whole[col], chunked[col]
        if col.startswith("reason_") and not col.endswith("_points"):
            a, b = a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None)
        pd.testing.assert_series_equal(a, b, check_dtype=False, check_exact=col != "pd", rtol=1e-6, atol=0,
                                       check_categorical=False)
    record = json.loads((tmp_path / "s" / JOB).read_text())
    assert record["model_sha256"] and record["data_fingerprint"] == ds.fingerprint() and record["chunk_size"] == 130
    # another job into the same directory is refused, the same one is a no-op
    with pytest.raises(ValueError, match="another scoring job.*chunk_size"):
        score_batch(art, ds, tmp_path / "s", _cfg(100))
    assert score_batch(art, ds, tmp_path / "s", _cfg(130))["parts"] == job["parts"]


def test_wide_and_deeps_graph_tower_is_scored_a_layer_at_a_time_too(fitted, tmp_path):
    """A stack whose Wide & Deep reads the graph as well: both graph readers store their first layer, chunks
    read one hop, and the report cards equal scoring everyone at once."""
    root, ds, _, _, inp = fitted
    params = {"wide_deep": {"use_graph_tower": True, "max_epochs": 1}, "graph": {"max_epochs": 1}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = StackModel(members=("wide_deep", "graph"), member_params=params, n_folds=2).fit(inp)
    assert set(layer_wise_members(model) or {}) == {"wide_deep", "graph"}
    art = save_model(model, tmp_path / "model", inp)
    whole = Scorer(model).report(inp).sort_values(KEY).reset_index(drop=True)
    job = score_batch(art, ds, tmp_path / "s", _cfg(200))
    assert job["complete"] and len(job["state_parts"]) == 3
    chunked = read_scores(tmp_path / "s").sort_values(KEY).reset_index(drop=True)
    assert set(DIMENSIONS) <= set(whole.columns)  # the sub-scores
    for col in ("score", "band", *DIMENSIONS):
        pd.testing.assert_series_equal(whole[col], chunked[col], check_dtype=False, check_categorical=False)
    assert np.allclose(whole["pd"], chunked["pd"], rtol=1e-5)


def test_the_spine_is_read_chunk_by_chunk_on_id_ranges(fitted):
    """Chunk i holds the people ranked i*size..(i+1)*size-1 by id with all their rows, as one sorted
    frame of the whole spine would cut them; every person as of a date works the same way."""
    _, ds, _, _, _ = fitted
    whole = ds.connect().execute("SELECT person_id, as_of FROM outcomes").df()
    people = np.sort(whole["person_id"].unique().astype(object))
    spine = Spine(ds, None, 130)
    assert len(spine) == 5 and spine.n_rows == len(whole)
    chunks = [spine.rows(i) for i in range(len(spine))]
    for i, rows in enumerate(chunks):
        assert list(rows["person_id"].unique()) == list(people[i * 130:(i + 1) * 130])
        assert rows.equals(rows.sort_values(["person_id", "as_of"]))
    assert sum(len(r) for r in chunks) == len(whole)
    dated = Spine(ds, "2024-01-01", 200)
    assert dated.n_dates == 1 and dated.rows(0)["label"].isna().all() and len(dated) == -(-dated.n_rows // 200)
    spine.close()
    dated.close()


def test_a_chunk_reads_stored_neighbour_histories_instead_of_their_events(fitted, tmp_path):
    """The same features whether a chunk scans its neighbours' events or reads their stored histories."""
    _, ds, _, _, _ = fitted
    people = np.array(sorted(ds.read("people")["person_id"].astype(str)), dtype=object)
    spine = pd.DataFrame({"person_id": people, "as_of": ds.snapshot_date})
    store = tmp_path / "histories"
    for i, part in enumerate(np.array_split(people, 3)):
        session = open_session(ScopedData(ds, part, own_events=True, relations=False),  # as the job builds them
                               spine[spine["person_id"].isin(part)])
        table = neighbour_histories(session)
        session.close()
        assert table is not None and table.num_rows > 0
        atomic_write_parquet(store / f"part-{i}.parquet", table)
    chunk = people[200:320]
    rows = spine[spine["person_id"].isin(chunk)]
    scanned = build_features(ScopedData(ds, chunk), spine=rows).frame
    stored = build_features(ScopedData(ds, chunk, neighbour_histories=store), spine=rows).frame
    assert scanned["degree"].gt(0).any() and scanned["share_neighbours_bad"].notna().any()
    pd.testing.assert_frame_equal(scanned, stored)


def test_a_session_of_own_histories_scans_no_relations_and_codes_the_same_sequences(fitted):
    _, ds, _, _, _ = fitted
    people = np.array(sorted(ds.read("people")["person_id"].astype(str)), dtype=object)[100:250]
    spine = pd.DataFrame({"person_id": people, "as_of": ds.snapshot_date})
    with closing(open_session(ScopedData(ds, people, own_events=True), spine)) as scanned, \
            closing(open_session(ScopedData(ds, people, own_events=True, relations=False), spine)) as own:
        count = "SELECT COUNT(*) FROM relations"
        assert scanned.con.execute(count).fetchall()[0][0] > 0 and own.con.execute(count).fetchall()[0][0] == 0
        assert own.con.execute("DESCRIBE relations").fetchall() == scanned.con.execute("DESCRIBE relations").fetchall()
        a, b = build_sequences(scanned), build_sequences(own)
    assert a is not None and b is not None and a.lengths.sum() > 0
    for name in ("kind", "status", "numeric", "lengths"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from deepcredit.cli.app import main; main()", "score", *args]


def test_a_report_card_that_fails_to_be_written_stops_the_job_with_the_parts_before_it(fitted, tmp_path,
                                                                                       monkeypatch):
    """Report cards are written beside the next chunk's explanation: an error there still stops the job, with
    every part before it recorded, and a rerun finishes it."""
    root, ds, _, art, _ = fitted
    written = []

    report = Scorer.report

    def failing(*args, **kwargs):
        written.append(1)
        if len(written) == 3:
            raise OSError("no space left on device")
        return report(*args, **kwargs)

    monkeypatch.setattr(score_module.Scorer, "report", failing)
    with pytest.raises(OSError, match="no space left"):
        score_batch(art, ds, tmp_path / "s", _cfg(130))
    state = json.loads((tmp_path / "s" / JOB).read_text())
    assert sorted(state["parts"]) == ["part-00000.parquet", "part-00001.parquet"] and not state["complete"]
    monkeypatch.undo()
    assert score_batch(art, ds, tmp_path / "s", _cfg(130))["complete"]


def test_kill_9_then_rerun_gives_the_bytes_of_an_uninterrupted_run(fitted, tmp_path):
    root, ds, _, art, _ = fitted
    args = ["--model", str(art), "--data", str(ds.root), "--chunk-size", "50", "--no-explain"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(_cli(*args, "--out", str(tmp_path / "whole")), env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "12 part(s)" in done.stderr, done.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(*args, "--out", str(killed)), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # kill once a few score parts are recorded
        try:
            if len(json.loads((killed / JOB).read_text())["parts"]) >= 2:
                break
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = json.loads((killed / JOB).read_text())
    assert not state["complete"] and 2 <= len(state["parts"]) < state["chunks"]
    subprocess.run(_cli(*args, "--out", str(killed)), check=True, env=env, capture_output=True)
    names = sorted(p.name for p in (tmp_path / "whole").glob("part-*.parquet"))
    assert names == sorted(p.name for p in killed.glob("part-*.parquet")) and len(names) == 12
    for name in names:
        assert (tmp_path / "whole" / name).read_bytes() == (killed / name).read_bytes(), name
    assert not [p for p in killed.iterdir() if p.name.endswith(".tmp")]



@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A gbdt on a small world: cheap enough for the job's bookkeeping tests."""
    root = tmp_path_factory.mktemp("small")
    ds = simulate_world(root / "w", people=240, seed=6, chunk_size=240)
    inp = build_model_input(ds, views=["tabular"])
    from deepcredit.models.gbdt import GBDTModel

    return ds, save_model(GBDTModel(n_estimators=10).fit(inp), root / "model", inp, config={"data": ds.name})


def test_a_killed_job_is_not_readable_as_a_result_and_its_resume_equals_a_whole_run(small, tmp_path, monkeypatch):
    ds, art = small
    whole = tmp_path / "whole"
    score_batch(art, ds, whole, _cfg(60, explain=False))
    written = []

    report = Scorer.report

    def killed_after_two(*args, **kwargs):  # a kill after 2 of the 4 chunks
        written.append(1)
        if len(written) == 3:
            raise KeyboardInterrupt
        return report(*args, **kwargs)

    monkeypatch.setattr(score_module.Scorer, "report", killed_after_two)
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        score_batch(art, ds, out, _cfg(60, explain=False))
    monkeypatch.undo()
    assert len(json.loads((out / JOB).read_text())["parts"]) == 2
    assert not list(out.glob("part-*")), "no part where readers of OUT look"
    try:
        partial = pd.read_parquet(out)
    except (OSError, ValueError):
        partial = pd.DataFrame()
    assert len(partial) == 0, "an unfinished job reads as no rows (or an error), never as some of them"
    job = score_batch(art, ds, out, _cfg(60, explain=False))
    assert job["complete"] and not (out / PENDING).exists()
    names = sorted(p.name for p in whole.glob("part-*.parquet"))
    assert len(names) == 4 and names == sorted(p.name for p in out.glob("part-*.parquet"))
    for name in names:
        assert (whole / name).read_bytes() == (out / name).read_bytes(), name
    pd.testing.assert_frame_equal(read_scores(out), read_scores(whole))


def test_a_job_written_before_parts_waited_in_a_folder_still_resumes(small, tmp_path):
    ds, art = small
    whole = tmp_path / "whole"
    score_batch(art, ds, whole, _cfg(60, explain=False))
    old = tmp_path / "old"  # the earlier layout: finished parts in OUT, the job not complete
    old.mkdir()
    state = json.loads((whole / JOB).read_text())
    state["complete"] = False
    state["parts"] = {"part-00000.parquet": state["parts"]["part-00000.parquet"]}
    (old / JOB).write_text(json.dumps(state))
    (old / "part-00000.parquet").write_bytes((whole / "part-00000.parquet").read_bytes())
    assert score_batch(art, ds, old, _cfg(60, explain=False))["complete"]
    for name in sorted(p.name for p in whole.glob("part-*.parquet")):
        assert (whole / name).read_bytes() == (old / name).read_bytes(), name


def test_a_model_of_another_data_set_is_refused_before_the_job_is_written(small, tmp_path):
    from deepcredit.data.datasets import load_bundled
    from deepcredit.data.errors import DataValidationError

    ds, art = small
    german = load_bundled("german", tmp_path / "german")
    out = tmp_path / "s"
    with pytest.raises(DataValidationError, match=r"was trained on data set 'simulated-240-seed6'; 'german' lacks"):
        score_batch(art, german, out, _cfg(500, explain=False))
    assert not out.exists(), "nothing written: the corrected rerun into the same --out is a fresh job"
    assert score_batch(art, ds, out, _cfg(500, explain=False))["complete"]



def test_a_finished_job_is_not_returned_for_data_changed_in_place(tmp_path):
    """audit: scoring into the same --out after a table file was replaced in place gave the old scores."""
    from deepcredit.data.errors import DataValidationError
    from deepcredit.data.io import parquet_files
    from deepcredit.models.gbdt import GBDTModel

    world = simulate_world(tmp_path / "world", people=150, seed=11)
    inp = build_model_input(world, views=["tabular"])
    model_dir = save_model(GBDTModel(n_estimators=20).fit(inp), tmp_path / "model", inp)
    score_batch(model_dir, world, tmp_path / "scores")
    part = parquet_files(world.table_path("people"))[0]
    people = pd.read_parquet(part)
    people["income"] = people["income"] * 3
    people.to_parquet(part, index=False)
    with pytest.raises(DataValidationError, match="changed after the data set was written"):
        score_batch(model_dir, world, tmp_path / "scores")
