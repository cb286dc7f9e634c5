"""A scoring job's directory (workflows/job.py): published whole, locked against a second run, resumed
from either engine's records, and refused by the project's reader while unfinished."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from deepcredit.config import RunConfig
from deepcredit.data.errors import DataValidationError
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.base import save_model
from deepcredit.workflows import job as job_module
from deepcredit.workflows.evaluate import read_scores_file
from deepcredit.workflows.job import COMMITS, JOB, PENDING, job_lock, sibling
from deepcredit.workflows.score import score_batch

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A gbdt on a small world, and its whole job in 4 chunks: cheap enough for the job's bookkeeping."""
    from deepcredit.models.gbdt import GBDTModel

    root = tmp_path_factory.mktemp("job")
    ds = simulate_world(root / "w", people=240, seed=6, chunk_size=240)
    inp = build_model_input(ds, views=["tabular"])
    art = save_model(GBDTModel(n_estimators=10).fit(inp), root / "model", inp, config={"data": ds.name})
    score_batch(art, ds, root / "whole", _cfg())
    return ds, art, root / "whole"


def _cfg() -> RunConfig:
    return RunConfig(scoring={"chunk_size": 60, "explain": False})


def _parts(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("part-*.parquet"))}


def _rows_a_reader_sees(out: Path) -> int | None:
    """What pandas reads at OUT: its rows, or None where there is nothing to read."""
    try:
        return len(pd.read_parquet(out))
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("kill_before", [1, 2, 3, 4, 5])
def test_a_kill_at_any_step_of_the_finish_shows_all_parts_or_none_and_the_rerun_completes(small, tmp_path,
                                                                                          monkeypatch, kill_before):
    """audit G1: parts moved into OUT one at a time: a kill after two of five left 600 of 1,500 rows that
    read as a complete result (and monitor said ok). Every rename the finish makes is a step a kill can
    land before (the last, 5, is the removal of the old directory)."""
    ds, art, whole = small
    out = tmp_path / "s"
    real_replace, real_rmtree = os.replace, shutil.rmtree
    steps: list[int] = []
    finishing = job_module.Job.finish

    def step() -> None:
        steps.append(1)
        if len(steps) == kill_before:
            raise KeyboardInterrupt

    def replace(src, dst):
        step()
        return real_replace(src, dst)

    def rmtree(path, *args, **kwargs):
        if Path(path).name.endswith(".retiring") and Path(path).exists():
            step()
        return real_rmtree(path, *args, **kwargs)

    def finish(self):
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(shutil, "rmtree", rmtree)
        try:
            return finishing(self)
        finally:
            monkeypatch.setattr(os, "replace", real_replace)
            monkeypatch.setattr(shutil, "rmtree", real_rmtree)

    monkeypatch.setattr(job_module.Job, "finish", finish)
    with pytest.raises(KeyboardInterrupt):
        score_batch(art, ds, out, _cfg())
    monkeypatch.undo()
    assert _rows_a_reader_sees(out) in (0, None, 240), "never some parts but not all"
    if _rows_a_reader_sees(out) != 240:
        with pytest.raises(DataValidationError, match="score` again"):
            read_scores_file(out, "scores (batch)")
    job = score_batch(art, ds, out, _cfg())
    assert job["complete"] and _parts(out) == _parts(whole)
    assert json.loads((out / JOB).read_text())["complete"] and sorted(p.name for p in out.iterdir()) == \
        sorted([JOB, *_parts(whole)])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no sibling left"
    assert len(read_scores_file(out, "scores (batch)")) == 240


def test_a_process_killed_between_the_renames_leaves_no_result_and_the_next_run_completes_it(small, tmp_path):
    """The same with os._exit in a real process: no `finally` runs, and its lock dies with it."""
    ds, art, whole = small
    out = tmp_path / "s"
    script = f"""
import os, sys
from pathlib import Path
from deepcredit.config import RunConfig
from deepcredit.data.dataset import Dataset
from deepcredit.workflows import job
from deepcredit.workflows.score import score_batch
real = os.replace
def replace(src, dst):
    if Path(src).name == {out.name!r}:  # OUT set aside: the result not swapped in yet
        real(src, dst)
        os._exit(9)
    real(src, dst)
finishing = job.Job.finish
def finish(self):
    os.replace = replace
    return finishing(self)
job.Job.finish = finish
score_batch(Path(sys.argv[1]), Dataset(Path(sys.argv[2])), Path(sys.argv[3]),
            RunConfig(scoring={{"chunk_size": 60, "explain": False}}))
"""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", script, str(art), str(ds.root), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 9, done.stderr[-2000:]
    assert not out.exists() and sibling(out, "publishing").is_dir()
    with pytest.raises(DataValidationError, match="finish was interrupted"):
        read_scores_file(out, "scores (batch)")
    assert score_batch(art, ds, out, _cfg())["complete"] and _parts(out) == _parts(whole)
    assert not sibling(out, "publishing").exists() and not sibling(out, "retiring").exists()


def test_the_reader_refuses_an_unfinished_job_saying_so(small, tmp_path):
    """audit G3: a killed job read as an empty table, and monitor said "column 'score' missing"."""
    ds, art, whole = small
    out = tmp_path / "s"
    (out / PENDING).mkdir(parents=True)
    state = json.loads((whole / JOB).read_text())
    first = "part-00000.parquet"
    shutil.copy(whole / first, out / PENDING / first)
    (out / JOB).write_text(json.dumps({**state, "complete": False, "parts": {first: state["parts"][first]}}))
    with pytest.raises(DataValidationError, match=r"unfinished scoring job \(1 of 4 chunks scored; .*complete: false"):
        read_scores_file(out, "scores (batch)")
    partial = tmp_path / "partial"  # a finished job's manifest over a part too few
    shutil.copytree(whole, partial)
    (partial / "part-00003.parquet").unlink()
    with pytest.raises(DataValidationError, match="holds 180 rows where its _job.json records 240"):
        read_scores_file(partial, "scores (batch)")


def test_a_second_run_into_the_same_out_is_refused_naming_the_first(small, tmp_path, held_elsewhere):
    """audit G10: two runs at once: one died with a bare "No such file or directory"."""
    ds, art, whole = small
    out = tmp_path / "s"
    busy = rf"another `deepcredit score` run \(pid {os.getpid()}\) is writing"
    with job_lock(out), pytest.raises(ValueError, match=busy):
        score_batch(art, ds, out, _cfg())
    assert not out.exists(), "refused before anything was written"
    with held_elsewhere(out) as pid, pytest.raises(ValueError, match=rf"\(pid {pid}\)"):
        score_batch(art, ds, out, _cfg())
    assert score_batch(art, ds, out, _cfg())["complete"], "a killed holder leaves no lock"
    assert not sibling(out, "lock").exists()


def test_a_spark_job_killed_part_way_is_resumed_on_duckdb_from_its_commit_records(small, tmp_path):
    """audit G5: DuckDB rescored every chunk of a killed Spark job, left `_commits/` in the result and kept
    `"engine": "spark"`."""
    ds, art, whole = small
    out = tmp_path / "s"
    state = json.loads((whole / JOB).read_text())
    (out / PENDING).mkdir(parents=True)
    (out / COMMITS).mkdir()
    for name in ("part-00000.parquet", "part-00001.parquet"):  # what two Spark tasks left: part and record
        shutil.copy(whole / name, out / PENDING / name)
        (out / COMMITS / f"{name}.json").write_text(json.dumps(state["parts"][name]))
    (out / JOB).write_text(json.dumps({**state, "complete": False, "parts": {}, "engine": "spark",
                                       "master": "local[2]"}))
    kept = {n: (out / PENDING / n).stat().st_ino for n in ("part-00000.parquet", "part-00001.parquet")}
    job = score_batch(art, ds, out, _cfg())
    assert job["complete"] and _parts(out) == _parts(whole)
    assert {n: (out / n).stat().st_ino for n in kept} == kept, "the committed parts are reused, not rescored"
    assert not (out / COMMITS).exists() and not (out / PENDING).exists()
    record = json.loads((out / JOB).read_text())
    assert record["engine"] == "duckdb" and "master" not in record


def test_a_directory_of_parquet_files_that_is_no_job_is_read_as_before(tmp_path):
    folder = tmp_path / "scores"
    folder.mkdir()
    pd.DataFrame({"score": [600, 700]}).to_parquet(folder / "a.parquet")
    assert len(read_scores_file(folder, "scores (batch)")) == 2


def test_a_job_resumed_by_a_version_that_writes_other_columns_is_refused_not_mixed(small, tmp_path):
    """A job started by an older DeepCredit (its parts without a column the newer one writes) and resumed by
    the newer one mixed both kinds of part; a reader took the missing column for false. Now refused."""
    import pyarrow.parquet as pq

    from deepcredit.data.io import file_sha256

    ds, art, _ = small
    out = tmp_path / "resumed"

    def stop(stage: str, done: int, _: int) -> None:
        if stage == "scores" and done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_batch(art, ds, out, _cfg(), on_chunk=stop)  # killed after its first parts
    manifest = json.loads((out / JOB).read_text())
    written = len(manifest["parts"])
    name = sorted(manifest["parts"])[0]
    part = out / PENDING / name
    older = pq.read_table(part)
    older = older.drop_columns([older.column_names[-1]])  # as the older version wrote it
    pq.write_table(older, part)
    manifest["parts"][name]["sha256"] = file_sha256(part)
    del manifest["columns"]  # the older version recorded none
    (out / JOB).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="other columns"):
        score_batch(art, ds, out, _cfg())
    assert 1 <= written < 4 and len(list((out / PENDING).glob("part-*"))) == written  # nothing more written


def test_the_job_records_its_own_settings_and_the_model_s_not_training_defaults(small):
    """The job's record held the whole RunConfig, whose training section ("folds": 5) read as the model's."""
    _, art, whole = small
    manifest = json.loads((whole / JOB).read_text())
    assert set(manifest["config"]) == {"data", "scoring"} and manifest["config"]["scoring"]["chunk_size"] == 60
    assert manifest["model_config"] == json.loads((art / "manifest.json").read_text())["config"]
    assert manifest["model_config"] == {"data": manifest["model_config"]["data"]}  # what this model was saved with


@pytest.mark.parametrize("damage", ["missing", "truncated", "left in _parts"])
def test_a_finished_job_with_a_part_missing_or_damaged_is_scored_again_on_rerun(small, tmp_path, damage):
    """audit O2: a rerun of a finished job whose part file was deleted trusted its manifest: it said it wrote
    240 rows in 4 parts where 180 rows in 3 were there, and the reader refused it ever after."""
    ds, art, whole = small
    out = tmp_path / "s"
    shutil.copytree(whole, out)
    part = out / "part-00002.parquet"
    if damage == "left in _parts":  # where an earlier rerun wrote it, never to be published
        (out / PENDING).mkdir()
        os.replace(part, out / PENDING / part.name)
    elif damage == "missing":
        part.unlink()
    else:
        part.write_bytes(part.read_bytes()[:100])
    job = score_batch(art, ds, out, _cfg())
    assert job["complete"] and _parts(out) == _parts(whole), "the part is scored again, as in the whole run"
    assert len(read_scores_file(out, "scores (batch)")) == 240
    assert not (out / PENDING).exists() and not sibling(out, "publishing").exists()
    assert json.loads((out / JOB).read_text())["parts"] == json.loads((whole / JOB).read_text())["parts"]


def test_a_damaged_job_record_is_named_with_what_to_do_by_score_and_by_the_reader(small, tmp_path):
    """audit O5: with `_job.json` truncated, monitor said "run the same `deepcredit score` again", and score
    then failed with a bare "Unterminated string starting at: line 16 column 5", naming no file and no remedy."""
    ds, art, whole = small
    out = tmp_path / "s"
    shutil.copytree(whole, out)
    text = (out / JOB).read_text()
    (out / JOB).write_text(text[:len(text) // 2])
    advice = r"_job.json: this scoring job's record cannot be read .*remove the folder .* or score into a new --out"
    with pytest.raises(DataValidationError, match=advice):
        score_batch(art, ds, out, _cfg())
    with pytest.raises(DataValidationError, match=advice.split(": ", 1)[1]):
        read_scores_file(out, "scores (batch)")
    shutil.rmtree(out)  # as told: then the job runs anew
    assert score_batch(art, ds, out, _cfg())["complete"] and _parts(out) == _parts(whole)


def test_spark_rescores_a_finished_job_s_missing_part_on_rerun(spark, small, tmp_path):
    """As the in-process engine does (audit O2): the Spark engine's rerun of a finished job whose part file
    was deleted reopens the job and scores that part again, not trusting the manifest's record of it."""
    from deepcredit.workflows.spark_score import score_batch_spark

    ds, art, whole = small
    out = tmp_path / "s"
    shutil.copytree(whole, out)
    (out / "part-00002.parquet").unlink()
    job = score_batch_spark(art, ds, out, _cfg(), master=spark.sparkContext.master)
    assert job["complete"] and _parts(out) == _parts(whole), "the part is scored again, the same bytes"
    assert len(read_scores_file(out, "scores (batch)")) == 240
    assert json.loads((out / JOB).read_text())["parts"] == json.loads((whole / JOB).read_text())["parts"]
