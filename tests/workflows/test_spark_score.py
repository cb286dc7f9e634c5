"""Batch scoring on Spark writes the in-process job's very parts (the same bytes), with graph members too
(each chunk's neighbours as context rows), resumes after kill -9 with nobody missing or duplicated, and
runs on a real standalone cluster (a master and two workers on loopback, started with pyspark's own
spark-class)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from deepcredit.config import RunConfig
from deepcredit.data.simulate import simulate_world
from deepcredit.features import spark_progress
from deepcredit.features.bundle import build_model_input
from deepcredit.models.base import save_model
from deepcredit.models.stack import StackModel, graph_hops, model_views
from deepcredit.workflows import spark_score
from deepcredit.workflows.job import JOB
from deepcredit.workflows.score import STATE_STORE, read_scores, score_batch
from deepcredit.workflows.spark_score import COMMITS, score_batch_spark

PEOPLE = 600
PARAMS = {"gbdt": {"n_estimators": 20}, "sequence": {"max_epochs": 1}}
KEY = ["person_id", "as_of"]
GRAPH_PEOPLE = 300
KILL_CHUNK = 50  # twelve chunks: the kill lands after the first commit, with most of the job still to run
GRAPH_CHUNK = 50  # six chunks of the graph world: a kill after two commits leaves four to do
GRAPH_PARAMS = {**PARAMS, "graph": {"max_epochs": 2}}
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A stack reading the tabular and temporal views."""
    root = tmp_path_factory.mktemp("spark-score")
    ds = simulate_world(root / "w", people=PEOPLE, seed=5, chunk_size=PEOPLE)
    inp = build_model_input(ds, views=("tabular", "temporal"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = StackModel(members=("scorecard", "gbdt", "sequence"), member_params=PARAMS, n_folds=2).fit(inp)
    return ds, save_model(model, root / "model", inp)


@pytest.fixture(scope="module")
def fitted_graph(tmp_path_factory):
    """A stack with a GraphSAGE member (two hops) and a sequence member, on a smaller world."""
    root = tmp_path_factory.mktemp("spark-graph")
    ds = simulate_world(root / "w", people=GRAPH_PEOPLE, seed=7, chunk_size=GRAPH_PEOPLE)
    inp = build_model_input(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = StackModel(members=("gbdt", "sequence", "graph"), member_params=GRAPH_PARAMS, n_folds=2).fit(inp)
    assert graph_hops(model) == 2 and model_views(model) == ["tabular", "temporal", "structural"]
    return ds, save_model(model, root / "model", inp)


def _cfg(chunk: int, explain: bool = True) -> RunConfig:
    return RunConfig(scoring={"chunk_size": chunk, "explain": explain})


def _parts(out: Path) -> dict:
    return json.loads((out / JOB).read_text())["parts"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC, "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from deepcredit.cli.app import main; main()", "score", *args]


def test_spark_writes_the_parts_of_the_in_process_job(spark, fitted, tmp_path, monkeypatch):
    """The same bytes; and the Spark SQL computing everybody's features, before any chunk, reports its
    tasks as they finish (a total of tasks so far, never passed, reached when the phase ends)."""
    ds, art = fitted
    local = score_batch(art, ds, tmp_path / "local", _cfg(150))
    monkeypatch.setattr(spark_progress, "POLL_S", 0.05)
    ticks: list[tuple[str, int, int]] = []
    job = score_batch_spark(art, ds, tmp_path / "spark", _cfg(150), master=spark.sparkContext.master,
                            on_chunk=lambda *t: ticks.append(t))
    assert job["complete"] and job["engine"] == "spark" and job["chunks"] == 4
    stages = list(dict.fromkeys(s for s, _, _ in ticks))
    assert stages == [spark_score.FEATURES, "scores"]  # the features' phase first, then the chunks
    tasks = [(done, total) for s, done, total in ticks if s == spark_score.FEATURES]
    assert len(tasks) >= 2 and all(0 <= d <= n for d, n in tasks) and tasks[-1][0] == tasks[-1][1] > 0
    assert [d for d, _ in tasks] == sorted(d for d, _ in tasks)
    assert job["parts"] == local["parts"]  # the same names, rows and sha256: every score, sub-score, reason
    assert job["input_check"] == local["input_check"]  # one input check, whichever engine scores
    assert not (tmp_path / "spark" / COMMITS).exists()
    # a rerun is a no-op, and the in-process engine accepts the Spark job as its own
    assert score_batch(art, ds, tmp_path / "spark", _cfg(150))["parts"] == local["parts"]


def test_spark_scores_a_graph_member_with_each_chunks_neighbours_as_context(spark, fitted_graph, tmp_path,
                                                                          monkeypatch):
    """Chunks of 70 among 300 people: most neighbours of a chunk's people are in other chunks, so the
    scores are right only if Spark's balls, context features and edges are the in-process job's. The
    graph member runs a layer at a time, as in process: its first layer stored for every chunk, then each
    chunk over its one-hop ball."""
    ds, art = fitted_graph
    stored: list[list[int]] = []
    real = spark_score._stored_layers
    monkeypatch.setattr(spark_score, "_stored_layers", lambda *a: stored.append(a[3]) or real(*a))
    local = score_batch(art, ds, tmp_path / "local", _cfg(70))
    job = score_batch_spark(art, ds, tmp_path / "spark", _cfg(70), master=spark.sparkContext.master)
    assert job["complete"] and job["chunks"] == local["chunks"] == 5
    assert stored == [[0, 1, 2, 3, 4]]
    assert not (tmp_path / "spark" / COMMITS).exists() and not (tmp_path / "spark" / STATE_STORE).exists()
    a, b = (read_scores(tmp_path / d).sort_values(KEY).reset_index(drop=True) for d in ("local", "spark"))
    assert len(b) == local["rows"] and not b.duplicated(KEY).any()
    pd.testing.assert_frame_equal(a, b)
    assert job["parts"] == local["parts"]  # hence the same bytes: every score, sub-score and reason


def _kill_9_after_commits(args: list[str], out: Path, commits: int) -> None:
    """Run `deepcredit score ARGS` on Spark and kill -9 it once `commits` parts are committed."""
    proc = subprocess.Popen(_cli(*args), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while len(list((out / COMMITS).glob("part-*.json"))) < commits and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"the job ended before {commits} part(s) were committed: " \
                                    f"{proc.stderr.read()[-2000:]}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, its JVM and its Python workers, at once
        proc.wait()


def test_kill_9_of_the_driver_then_rerun_gives_the_uninterrupted_output(spark, fitted, tmp_path):
    ds, art = fitted
    whole = score_batch(art, ds, tmp_path / "whole", _cfg(KILL_CHUNK, explain=False))
    out = tmp_path / "killed"
    args = ["--model", str(art), "--data", str(ds.root), "--chunk-size", str(KILL_CHUNK), "--no-explain",
            "--engine", "spark", "--master", "local[1]", "--out", str(out)]
    _kill_9_after_commits(args, out, 1)
    committed = len(list((out / COMMITS).glob("part-*.json")))
    assert 0 < committed < whole["chunks"]
    assert not json.loads((out / JOB).read_text())["complete"]
    job = score_batch_spark(art, ds, out, _cfg(KILL_CHUNK, explain=False), master=spark.sparkContext.master)
    assert job["parts"] == whole["parts"]
    scores = read_scores(out)
    assert len(scores) == whole["rows"] and not scores.duplicated(KEY).any()


def test_a_killed_spark_job_of_a_graph_member_resumes_on_duckdb(spark, fitted_graph, tmp_path):
    """Spark leaves its own `part-*` files of the stored layer in OUT/_states/layer-1; the in-process
    resume writes its chunk files beside them and must read only its own (it read every row twice and
    failed on every rerun)."""
    ds, art = fitted_graph
    whole = score_batch(art, ds, tmp_path / "whole", _cfg(GRAPH_CHUNK, explain=False))
    out = tmp_path / "killed"
    args = ["--model", str(art), "--data", str(ds.root), "--chunk-size", str(GRAPH_CHUNK), "--no-explain",
            "--engine", "spark", "--master", "local[2]", "--out", str(out)]
    _kill_9_after_commits(args, out, 2)
    assert list((out / STATE_STORE / "layer-1").glob("part-*"))  # Spark's own files of the stored layer
    assert 0 < len(list((out / COMMITS).glob("part-*.json"))) < whole["chunks"]
    job = score_batch(art, ds, out, _cfg(GRAPH_CHUNK, explain=False))
    assert job["complete"] and job["parts"] == whole["parts"]  # the uninterrupted run's bytes


def test_spark_resumes_a_killed_in_process_graph_job_and_reports_progress_as_chunks_finish(
        spark, fitted_graph, tmp_path, monkeypatch):
    """The reverse resume; and on_chunk is called while Spark runs each long stage (the stored layer, the
    scores), with counts that grow, not only once at the end."""
    ds, art = fitted_graph
    whole = score_batch(art, ds, tmp_path / "whole", _cfg(GRAPH_CHUNK, explain=False))
    out = tmp_path / "killed"

    def kill(stage: str, done: int, total: int) -> None:
        if stage == "scores" and done == 2:
            raise KeyboardInterrupt  # as a kill: the stores of the run stay behind

    with pytest.raises(KeyboardInterrupt):
        score_batch(art, ds, out, _cfg(GRAPH_CHUNK, explain=False), on_chunk=kill)
    assert list((out / STATE_STORE / "layer-1").glob("chunk-*"))
    monkeypatch.setattr(spark_score, "POLL_S", 0.05)
    ticks: list[tuple[str, int, int]] = []
    job = score_batch_spark(art, ds, out, _cfg(GRAPH_CHUNK, explain=False), master=spark.sparkContext.master,
                            on_chunk=lambda *t: ticks.append(t))
    assert job["parts"] == whole["parts"]
    n = whole["chunks"]
    for stage, first in (("graph layer 1", 0), ("scores", 2)):
        counts = [done for s, done, total in ticks if s == stage and total == n]
        assert counts[0] >= first and counts[-1] == n and counts == sorted(counts)
        assert any(first < c < n for c in counts), (stage, counts)  # a count of chunks done before the end


def test_ticking_counts_the_chunks_whose_records_land_while_the_stage_runs(tmp_path, monkeypatch):
    """No Spark needed: records landing one by one in the watched folder are counted as they land, with
    the chunks done before, temporaries ('.' names) left out."""
    monkeypatch.setattr(spark_score, "POLL_S", 0.01)
    ticks: list[tuple[str, int, int]] = []
    folder = tmp_path / COMMITS
    folder.mkdir()
    with spark_score.ticking("scores", folder, 5, lambda *t: ticks.append(t), {"part-00000.parquet"}, ".json"):
        for i in (1, 2, 3):
            while not ticks:  # the count of chunks done before comes first, at once
                time.sleep(0.005)
            (folder / f".part-0000{i}.parquet.json.tmp").touch()
            (folder / f"part-0000{i}.parquet.json").touch()
            deadline = time.monotonic() + 10
            while (not ticks or ticks[-1][1] < i + 1) and time.monotonic() < deadline:
                time.sleep(0.005)
    assert [t[1] for t in ticks] == [1, 2, 3, 4] and {t[0] for t in ticks} == {"scores"} and ticks[-1][2] == 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


def test_scoring_through_a_standalone_cluster(spark, fitted, tmp_path):
    """A master and two one-core workers on loopback; the driver is the CLI, in its own process."""
    import pyspark

    ds, art = fitted
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    port = _free_port()
    env = {**_env(), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m",
           "SPARK_WORKER_DIR": str(tmp_path / "work"), "SPARK_LOG_DIR": str(tmp_path / "logs")}
    master_url = f"spark://127.0.0.1:{port}"
    daemons = []
    try:
        daemons.append(subprocess.Popen([str(spark_class), "org.apache.spark.deploy.master.Master", "--host",
                                         "127.0.0.1", "--port", str(port), "--webui-port", str(_free_port())],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True))
        _wait_port(port, 180)
        for _ in range(2):
            daemons.append(subprocess.Popen([str(spark_class), "org.apache.spark.deploy.worker.Worker", "--host",
                                             "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port",
                                             str(_free_port()), master_url],
                                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True))
        args = ["--model", str(art), "--data", str(ds.root), "--chunk-size", "150", "--engine", "spark",
                "--master", master_url, "--out", str(tmp_path / "cluster")]
        done = subprocess.run(_cli(*args), env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        for d in daemons:
            os.killpg(d.pid, signal.SIGTERM)
        for d in daemons:
            try:
                d.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(d.pid, signal.SIGKILL)
                d.wait()
    local = score_batch(art, ds, tmp_path / "local", _cfg(150))
    assert _parts(tmp_path / "cluster") == local["parts"]
    assert json.loads((tmp_path / "cluster" / JOB).read_text())["master"] == master_url
