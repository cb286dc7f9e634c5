"""The Spark benchmark's stage summary reads Spark's own event log (one JSON event per line)."""

from __future__ import annotations

import json

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
