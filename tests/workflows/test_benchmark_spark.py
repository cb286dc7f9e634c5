"""The Spark benchmark's stage summary reads Spark's own event log (one JSON event per line)."""

from __future__ import annotations

import json
from pathlib import Path

from deepcredit.workflows.benchmarks.spark import stage_summary


def _stage(stage_id: int, operators: list[str], start_ms: int, end_ms: int, tasks: int,
           accumulables: tuple[tuple[int, str], ...] = ()) -> dict:
    rdds = [{"RDD ID": i, "Scope": json.dumps({"id": str(i), "name": op})} for i, op in enumerate(operators)]
    return {"Event": "SparkListenerStageCompleted",
            "Stage Info": {"Stage ID": stage_id, "Number of Tasks": tasks, "RDD Info": rdds,
                           "Submission Time": start_ms, "Completion Time": end_ms,
                           "Accumulables": [{"ID": i, "Name": "x", "Value": v} for i, v in accumulables]}}


PLAN = {"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLAdaptiveExecutionUpdate", "sparkPlanInfo": {
    "nodeName": "HashAggregate", "metrics": [
        {"name": "number of output rows", "accumulatorId": 7, "metricType": "sum"},
        {"name": "time in aggregation build", "accumulatorId": 8, "metricType": "timing"}],
    "children": [{"nodeName": "Expand", "children": [],
                  "metrics": [{"name": "number of output rows", "accumulatorId": 9, "metricType": "sum"}]}]}}


def _task(stage_id: int, run_ms: int, cpu_ns: int, read: int = 0, written: int = 0) -> dict:
    return {"Event": "SparkListenerTaskEnd", "Stage ID": stage_id,
            "Task Metrics": {"Executor Run Time": run_ms, "Executor CPU Time": cpu_ns,
                             "Shuffle Read Metrics": {"Remote Bytes Read": 0, "Local Bytes Read": read},
                             "Shuffle Write Metrics": {"Shuffle Bytes Written": written}}}


def test_stage_summary_splits_python_scoring_from_spark_sql(tmp_path):
    events = [{"Event": "SparkListenerLogStart"},
              _task(1, 4000, 3_000_000_000, written=2**20), _task(1, 2000, 1_000_000_000),
              _stage(1, ["Exchange", "HashAggregate"], 0, 3500, 2, ((7, "40"), (8, "2500"), (9, "120"))),
              _task(2, 9000, 500_000_000, read=2**21), _stage(2, ["Exchange", "MapInPandas"], 3500, 12500, 1)]
    log = tmp_path / "app-1" / "eventlog"
    log.parent.mkdir()
    log.write_text("\n".join(json.dumps(e) for e in [*events, PLAN]) + '\n{"Event": "SparkListenerTaskE')
    # a plan logged after its stage; a last line half written (a job in progress)
    (tmp_path / ".hidden.crc").write_text("not json")
    summary = stage_summary(tmp_path)
    assert summary["stages"] == 2 and summary["task_s"] == 15.0 and summary["wall_s"] == 12.5
    assert summary["python_task_s"] == 9.0 and summary["sql_task_s"] == 6.0 and summary["python_wall_s"] == 9.0
    first = summary["top"][0]
    assert first["stage"] == 2 and first["operators"] == ["Exchange", "MapInPandas"]
    assert first["shuffle_read_mb"] == 2.0 and summary["top"][1]["shuffle_write_mb"] == 1.0
    assert summary["top"][1]["cpu_s"] == 4.0
    assert summary["top"][1]["nodes"] == {"rows": {"Expand": 120, "HashAggregate": 40},
                                          "seconds": {"HashAggregate: time in aggregation build": 2.5}}


def test_the_spark_benchmarks_worlds_are_reused_only_when_this_code_built_them(tmp_path, monkeypatch, capsys):
    """A world older code left (no stamp, or another code's) is simulated again, not timed as this code's;
    the scoring itself is left out here (no Spark needed: only the world path is under test)."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.workflows.benchmarks import spark
    from deepcredit.workflows.benchmarks.models import BUILT_BY, built_by

    monkeypatch.setattr(spark, "fit_model", lambda workdir, seed=0: workdir / "model")
    monkeypatch.setattr(spark, "run_child", lambda *a, **k: {"error": "not scored in this test"})
    data = tmp_path / "world-60"
    simulate_world(data, people=60, seed=0)  # as older code left it
    (data / "marker").write_text("")
    spark.run(60, tmp_path, engines=("spark",))
    assert not (data / "marker").exists() and "no record of the code" in capsys.readouterr().out
    stamp = built_by(data)
    assert stamp is not None and stamp["what"] == {"simulated": 60, "seed": 0, "temporal": 0.0}

    (data / "marker").write_text("")  # built by this code as this world: reused
    spark.run(60, tmp_path, engines=("spark",))
    assert (data / "marker").exists()

    monkeypatch.setattr(spark, "parity", lambda ds, master: {"rows": len(ds.read("outcomes"))})
    stale = {**stamp, "code": {**stamp["code"], "fingerprint": "0" * 64, "commit": "abc1234"}}
    data.with_name(data.name + BUILT_BY).write_text(json.dumps(stale))
    spark.parity_run(60, tmp_path)  # the parity path's world too
    assert not (data / "marker").exists() and "built by other code (commit abc1234" in capsys.readouterr().out


def test_the_spark_benchmarks_model_is_fitted_again_when_its_world_is_rebuilt(tmp_path, monkeypatch):
    """The scoring model is reused only while its world is: a world rebuilt for this code means the model
    beside it was fitted by other code."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.workflows.benchmarks import spark

    fitted: list[Path] = []

    class Fitted:
        def __init__(self, **_: object) -> None:
            pass

        def fit(self, inp: object) -> Fitted:
            return self

    def save(model: object, path: Path, inp: object) -> Path:
        fitted.append(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "manifest.json").write_text("{}")
        return path

    monkeypatch.setattr(spark, "MODEL_PEOPLE", 60)
    monkeypatch.setattr(spark, "StackModel", Fitted)
    monkeypatch.setattr(spark, "save_model", save)
    simulate_world(tmp_path / "model-world", people=60, seed=0)  # older code's world and model
    save(None, tmp_path / "model", None)
    fitted.clear()
    assert spark.fit_model(tmp_path) == tmp_path / "model" and fitted == [tmp_path / "model"]
    assert spark.fit_model(tmp_path) == tmp_path / "model" and fitted == [tmp_path / "model"]  # reused now
