"""Independent fits on several processes: how the stack fits its members on every fold and on all rows.

Why: the members train on one core each (the torch members run one intra-op thread, see _torch; the
scorecard's binning is single-threaded), so fitting them one after another left every other core idle: the
full stack with pretraining on 100,000 people ran 1,464 s of wall time on 1,479 s of CPU on a 2-core machine.
Once the event encoder is pretrained, every fit of a member on a fold, and each member's refit on all rows,
is independent of the others, so they run on a pool of worker processes (concurrent.futures): 897-979 s
in three runs since (docs/results/train-100k-2026-12-03.json). So do the encoders a stack pretrains for its
folds over time (models.stack, _pretrain_folds), one per fold date.

What it costs and why it is safe:
- The input is written once per fit (joblib.dump) and each worker maps it copy-on-write (mmap_mode="c")
  when it starts: no per-task copy of the features, events and relations, and a member that writes to its
  input only writes to its own pages. Workers are fresh interpreters (a second or two to import torch).
- Memory: each worker holds its own fits, so the peak grows with the processes (100,000 people: 4.8-5.2 GB
  over three processes against 2.9 GB in one).
- Results should not depend on the number of processes (tests/models/test_parallel.py): every fit is
  seeded and runs the same single-threaded code in a worker as in the parent; LightGBM's trees do not
  depend on its threads (models.gbdt). Each worker caps its native thread pools at cores // processes
  (threadpoolctl, OMP_NUM_THREADS), and members that pick their own thread count read `usable_cores()`,
  so two processes on two cores never run four threads.
- Small fits stay in the calling process (PARALLEL_ROWS): starting workers that import torch costs seconds.
- 'spawn' workers re-run the top level of the script that started them: a script without an
  `if __name__ == "__main__":` guard would load its data and start its fit again in every worker, which then
  dies. Such a script fits in its own process, with a warning saying so (unguarded_main).
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")

PARALLEL_ROWS = 10_000
"""Training rows from which a fit runs its tasks on every usable core when the caller does not say (below
it, a worker's start-up, a second or two with torch's import, is a large share of the fits)."""


def usable_cores() -> int:
    """Cores this process may use: OMP_NUM_THREADS when set (run_tasks sets it in its workers, so that n
    processes on c cores take c // n each), else the CPU count."""
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(int(limit), 1) if limit.isdigit() else max(os.cpu_count() or 1, 1)


def processes_for(n_jobs: int | None, rows: int, tasks: int) -> int:
    """How many processes to fit `tasks` fits on `rows` training rows with: n_jobs when given (-1 or 0: every
    usable core), else every usable core from PARALLEL_ROWS rows and one below; never more than the tasks, and
    one from a script without a `__main__` guard (in_one_if_unguarded)."""
    if n_jobs is None:
        wanted = usable_cores() if rows >= PARALLEL_ROWS else 1
    elif n_jobs <= 0:
        wanted = usable_cores()
    else:
        wanted = n_jobs
    return in_one_if_unguarded(max(1, min(wanted, tasks)))


def _guards_main(tree: ast.Module) -> bool:
    """Whether a module's top level holds `if __name__ == "__main__":`."""
    for node in tree.body:
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Compare) and len(test.comparators) == 1 and {
                ast.unparse(test.left), ast.unparse(test.comparators[0])} == {"__name__", "'__main__'"}:
            return True
    return False


def unguarded_main() -> str | None:
    """The script this process runs when it has no `if __name__ == "__main__":` guard (a spawned worker would
    re-run its whole top level); None for a guarded script, an interactive session or `python -c`."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    try:
        tree = ast.parse(Path(path).read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    return None if _guards_main(tree) else str(path)


def in_one_if_unguarded(processes: int) -> int:
    """`processes`, or 1 with a warning saying why when this process runs a script without a `__main__` guard."""
    if processes > 1 and (script := unguarded_main()) is not None:
        warnings.warn(f"{script} has no 'if __name__ == \"__main__\":' guard, which worker processes need (each "
                      f"re-runs the script's top level): fitting in this one process instead of {processes}; put "
                      "the script's work under that guard to fit in parallel", RuntimeWarning, stacklevel=3)
        return 1
    return processes


_shared: Any = None
"""In a worker: the object its fits share, mapped once when the worker starts."""


def _start_worker(path: str, threads: int) -> None:
    """Give this worker its share of the cores (before any native library sizes its thread pool from the
    environment) and map the shared input."""
    global _shared
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import joblib
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    _shared = joblib.load(path, mmap_mode="c")


def _call(fn: Callable[..., R], args: tuple) -> R:
    return fn(_shared, *args)


def run_tasks(fn: Callable[..., R], shared: Any, tasks: Iterable[tuple], processes: int) -> Iterator[R]:
    """fn(shared, *task) for every task, in the order they finish (a result says which task it is when the
    caller needs to know).

    One process: in this process, in the order given, lazily. Several: `shared` is dumped once to a
    temporary folder (removed afterwards) and mapped by each worker when it starts (fresh interpreters:
    'spawn', never a fork of a process whose thread pools are running); `fn` must be a module-level function
    and the tasks picklable. A task is drawn from `tasks` only when a worker is free and the result before
    it has been handled, so a generator can stop yielding work that is no longer needed. An exception in a
    task propagates, and the tasks still queued are cancelled. From a script without a `__main__` guard
    (unguarded_main) the tasks run in this process, with a warning.
    """
    processes = in_one_if_unguarded(processes)
    if processes <= 1:
        for args in tasks:
            yield fn(shared, *args)
        return
    import joblib

    todo = iter(tasks)
    threads = max(usable_cores() // processes, 1)
    with tempfile.TemporaryDirectory(prefix="deepcredit-fits-") as tmp:
        path = str(Path(tmp) / "shared.joblib")
        joblib.dump(shared, path)
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(path, threads))
        pending: set[Future] = set()

        def submit_next() -> None:
            args = next(todo, None)
            if args is not None:
                pending.add(pool.submit(_call, fn, args))

        try:
            for _ in range(processes):
                submit_next()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    submit_next()
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "a worker process of the parallel fits stopped abruptly: it ran out of memory, or the script "
                "that started it runs its work outside an 'if __name__ == \"__main__\":' guard (workers re-run "
                "the script's top level); fit with n_jobs=1, or fewer processes, or add the guard") from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
