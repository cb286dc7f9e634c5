"""Progress of Spark's own work: the tasks of the jobs a phase runs, read from Spark's status tracker.

Why: Spark SQL is lazy; a plan of many steps runs as one action of many jobs, and until it ends nothing
of ours lands that could be counted (no chunk is done). Spark knows each stage's tasks: the phase's
jobs are put in a job group of their own (this thread's; Spark passes it to the threads it starts for
a query), so other work on the same SparkContext does not count, and a thread polls
`SparkContext.statusTracker()`. The count is of tasks so far: the total grows as Spark plans further
stages (adaptive execution plans a query's stages one at a time), so it is never a promise of the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

TickFn = Callable[[str, int, int], None]
"""tick(stage, tasks done, tasks so far): the workflows' progress callback type."""
SPARK_SQL = " (Spark SQL)"
"""The end of a stage name whose counts are Spark tasks so far, not chunks (e.g. 'features (Spark SQL)')."""
POLL_S = 0.5
"""How often the thread reads the status tracker while the phase runs."""
SETTLE_S = 5.0
"""How long, after the phase's action returned, the count waits for Spark's listener (asynchronous) to
record its jobs' end."""
FINISHED = frozenset({"SUCCEEDED", "FAILED"})
"""Job statuses (JobExecutionStatus) after which a job's stages run no more tasks."""
GROUP_PROPERTIES = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")
"""The thread's local properties setJobGroup sets: restored when the phase ends."""


def task_stage(stage: str) -> bool:
    """Whether a progress stage counts Spark tasks (a growing total) rather than chunks."""
    return stage.endswith(SPARK_SQL)


class TaskCount:
    """The tasks of one job group's jobs: done, and in all so far. A stage counts once however many jobs
    read it; a stage of a finished job counts only the tasks it ran (a skipped stage, whose output an
    earlier job had made, none). Reported counts: done never falls, and never exceeds the total."""

    def __init__(self, tracker: Any, group: str) -> None:
        self.tracker, self.group = tracker, group
        self.done = self.total = 0
        # finished jobs' stage ids, and the tasks run by stages only finished jobs read: read once, so a
        # poll asks Spark (a py4j call each) only about what still runs, however long the plan
        self.ended: dict[int, list[int]] = {}
        self.ran: dict[int, int] = {}

    def read(self) -> tuple[int, int, bool]:
        """(tasks done, tasks so far, whether every job of the group has finished), as Spark knows them now
        (weakly consistent: a job or stage it has forgotten or not recorded yet is left out)."""
        running: dict[int, bool] = {}
        finished = True
        for job_id in self.tracker.getJobIdsForGroup(self.group):
            stage_ids, live = self.ended.get(job_id), False
            if stage_ids is None:
                job = self.tracker.getJobInfo(job_id)
                if job is None:
                    continue
                stage_ids, live = list(job.stageIds), job.status not in FINISHED
                if not live:
                    self.ended[job_id] = stage_ids
            finished = finished and not live
            for stage_id in stage_ids:
                running[stage_id] = running.get(stage_id, False) or live
        done = total = 0
        for stage_id, live in running.items():
            if not live and stage_id in self.ran:
                done, total = done + self.ran[stage_id], total + self.ran[stage_id]
                continue
            stage = self.tracker.getStageInfo(stage_id)
            if stage is None:
                continue
            completed = min(stage.numCompletedTasks, stage.numTasks)  # a speculative copy counts once
            done += completed
            total += stage.numTasks if live else completed
            if not live:
                self.ran[stage_id] = completed
        return done, total, finished

    def update(self) -> tuple[int, int]:
        """The counts to report now: (done, total), done never below the last, total never below done."""
        done, total, _ = self.read()
        self.done = max(self.done, done)
        self.total = max(total, self.done)
        return self.done, self.total

    def final(self, settle_s: float = SETTLE_S) -> int:
        """The phase's tasks, once it has ended well: every task it needed is done. Waits (at most
        settle_s) for Spark to record its jobs' end; if it has not, the tasks so far are all done."""
        deadline = time.monotonic() + settle_s
        done, total, finished = self.read()
        while not finished and time.monotonic() < deadline:
            time.sleep(0.02)
            done, total, finished = self.read()
        self.done = self.total = max(self.done, done if finished else total)
        return self.done


@contextmanager
def polling(poll: Callable[[threading.Event], None], name: str) -> Iterator[None]:
    """poll(stop) in a daemon thread while the body runs; then stop is set and the thread joined (its last
    report is in before the caller goes on)."""
    stop = threading.Event()
    watcher = threading.Thread(target=poll, args=(stop,), name=name, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


@contextmanager
def spark_tasks(spark: Any, stage: str, tick: TickFn | None, poll_s: float | None = None) -> Iterator[None]:
    """tick(stage, done, so far) while the Spark actions run inside run, from a thread polling every
    poll_s (default POLL_S), and tick(stage, n, n) when they end well. The jobs are in a job group of
    their own for the while (the thread's own group, if any, is restored after)."""
    if tick is None:
        yield
        return
    sc = spark.sparkContext
    group = f"deepcredit-{uuid.uuid4().hex}"
    before = {key: sc.getLocalProperty(key) for key in GROUP_PROPERTIES}
    sc.setJobGroup(group, stage.removesuffix(SPARK_SQL))
    count = TaskCount(sc.statusTracker(), group)
    wait = POLL_S if poll_s is None else poll_s

    def poll(stop: threading.Event) -> None:
        last = (0, 0)
        while not stop.wait(wait):
            now = count.update()
            if now != last and now[1]:
                tick(stage, *now)
                last = now

    try:
        with polling(poll, f"deepcredit-spark-tasks-{stage}"):
            yield
    finally:
        for key, value in before.items():
            sc.setLocalProperty(key, value)  # None removes it
    n = count.final()
    tick(stage, n, n)
