"""Progress of a Spark phase from Spark's status tracker: counts of tasks so far that grow with the
plan, never past 100%, ending at 100%; on a real tiny run, the feature table's Spark SQL is counted."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from deepcredit.data.simulate import simulate_world
from deepcredit.features import spark_progress
from deepcredit.features.spark_progress import SPARK_SQL, TaskCount, spark_tasks, task_stage
from deepcredit.workflows.features import feature_table


class FakeTracker:
    """A status tracker whose jobs and stages the test moves along: jobs {id: (status, stage ids)},
    stages {id: (tasks, completed)}."""

    def __init__(self) -> None:
        self.jobs: dict[int, tuple[str, list[int]]] = {}
        self.stages: dict[int, tuple[int, int]] = {}
        self.lock = threading.Lock()
        self.asked: list[int] = []

    def getJobIdsForGroup(self, group: str) -> list[int]:  # noqa: N802 (Spark's names)
        with self.lock:
            return list(self.jobs) if group.startswith("deepcredit-") else []

    def getJobInfo(self, job: int) -> SimpleNamespace | None:  # noqa: N802
        with self.lock:
            if job not in self.jobs:
                return None
            status, stages = self.jobs[job]
            return SimpleNamespace(jobId=job, status=status, stageIds=list(stages))

    def getStageInfo(self, stage: int) -> SimpleNamespace | None:  # noqa: N802
        with self.lock:
            self.asked.append(stage)
            if stage not in self.stages:  # known to a job, not recorded yet: Spark may answer None
                return None
            tasks, completed = self.stages[stage]
            return SimpleNamespace(stageId=stage, numTasks=tasks, numCompletedTasks=completed, numActiveTasks=0)


def test_task_counts_grow_with_the_plan_and_never_pass_the_total() -> None:
    t = FakeTracker()
    count = TaskCount(t, "deepcredit-x")
    seen = [count.update()]
    t.jobs[0] = ("RUNNING", [0, 1])
    t.stages[0] = (8, 3)  # stage 1 not recorded yet
    seen.append(count.update())
    t.stages.update({0: (8, 8), 1: (4, 1)})
    seen.append(count.update())
    t.stages[1] = (4, 6)  # retried or speculative copies: counted once per task
    seen.append(count.update())
    # the job ends; a second job (adaptive execution's next query stage) reads stage 1 again and skips it
    t.jobs[0] = ("SUCCEEDED", [0, 1])
    t.jobs[1] = ("RUNNING", [1, 2, 3])
    t.stages.update({1: (4, 4), 2: (8, 0), 3: (2, 0)})
    seen.append(count.update())
    t.stages[2] = (8, 5)
    seen.append(count.update())
    t.jobs[1] = ("SUCCEEDED", [1, 2, 3])  # stage 3 was skipped: it ran no task and counts none
    t.stages[2] = (8, 8)
    seen.append(count.update())
    assert seen == [(0, 0), (3, 8), (9, 12), (12, 12), (12, 22), (17, 22), (20, 20)]
    assert all(d <= n for d, n in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert count.final(settle_s=0) == 20
    t.asked.clear()
    assert count.update() == (20, 20) and t.asked == []  # finished jobs' stages: not asked again


def test_final_count_waits_for_spark_to_record_the_end_then_trusts_the_action() -> None:
    """The action returned: Spark's listener may lag; unrecorded, the tasks so far are all done."""
    t = FakeTracker()
    t.jobs[0], t.stages[0] = ("RUNNING", [0]), (6, 5)
    count = TaskCount(t, "deepcredit-x")
    assert count.update() == (5, 6)
    assert count.final(settle_s=0.05) == 6
    threading.Timer(0.05, lambda: t.jobs.update({0: ("SUCCEEDED", [0])}) or t.stages.update({0: (6, 6)})).start()
    assert TaskCount(t, "deepcredit-x").final(settle_s=5) == 6


class FakeContext:
    def __init__(self, tracker: FakeTracker) -> None:
        self.tracker, self.props = tracker, {"spark.jobGroup.id": "caller's"}

    def statusTracker(self) -> FakeTracker:  # noqa: N802
        return self.tracker

    def getLocalProperty(self, key: str) -> str | None:  # noqa: N802
        return self.props.get(key)

    def setLocalProperty(self, key: str, value: str | None) -> None:  # noqa: N802
        if value is None:
            self.props.pop(key, None)
        else:
            self.props[key] = value

    def setJobGroup(self, group: str, description: str) -> None:  # noqa: N802
        self.props.update({"spark.jobGroup.id": group, "spark.job.description": description})


def test_spark_tasks_reports_from_a_thread_and_ends_at_100_percent() -> None:
    t = FakeTracker()
    sc = FakeContext(t)
    ticks: list[tuple[str, int, int]] = []
    stage = f"features{SPARK_SQL}"
    with spark_tasks(SimpleNamespace(sparkContext=sc), stage, lambda *a: ticks.append(a), poll_s=0.01):
        assert sc.props["spark.jobGroup.id"].startswith("deepcredit-")
        assert sc.props["spark.job.description"] == "features"
        for step in [("RUNNING", 4, 1), ("RUNNING", 4, 3), ("RUNNING", 10, 3)]:
            status, tasks, done = step
            with t.lock:
                t.jobs[0], t.stages[0] = (status, [0]), (tasks, done)
            deadline = time.monotonic() + 5
            while (not ticks or ticks[-1][1:] != (done, tasks)) and time.monotonic() < deadline:
                time.sleep(0.005)
        with t.lock:
            t.jobs[0], t.stages[0] = ("SUCCEEDED", [0]), (10, 10)
    assert sc.props == {"spark.jobGroup.id": "caller's"}  # the caller's group back, the rest cleared
    assert [a[1:] for a in ticks] == [(1, 4), (3, 4), (3, 10), (10, 10)] and {a[0] for a in ticks} == {stage}
    assert task_stage(stage) and not task_stage("scores")


def test_spark_tasks_without_a_callback_leaves_spark_alone() -> None:
    with spark_tasks(object(), "x", None):
        pass


def test_the_feature_table_on_spark_reports_its_tasks_as_they_finish(spark, tmp_path, monkeypatch) -> None:
    """A real run: the Spark SQL of the feature table is counted in tasks, growing, to done == total."""
    monkeypatch.setattr(spark_progress, "POLL_S", 0.05)
    ds = simulate_world(tmp_path / "w", people=80, seed=3, chunk_size=80)
    ticks: list[tuple[str, int, int]] = []
    ff = feature_table(ds, engine="spark", master=spark.sparkContext.master, on_step=lambda *a: ticks.append(a))
    tasks = [(d, n) for s, d, n in ticks if s == f"features{SPARK_SQL}"]
    assert len(ff.frame) and len(tasks) >= 2, ticks
    assert all(0 <= d <= n for d, n in tasks) and [d for d, _ in tasks] == sorted(d for d, _ in tasks)
    assert tasks[-1][0] == tasks[-1][1] > 0
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None  # the group does not outlive it
