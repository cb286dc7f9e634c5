"""The comparisons `deepcredit benchmark` runs, as package modules (scripts/ holds thin command wrappers):

- models: every stack member, the stack and LightGBM defaults on UCI, OTC and a simulated world;
- scorecards: our scorecard against the peer scorecard libraries on UCI's raw columns;
- features: feature building, engine against a hand-written query, each in a child process (its peak
  memory alone);
- child: a stage in a child process (run_child), and the speed worlds every timed benchmark runs on
  (speed_world: reused only when this code built them).

code_provenance() says which code measured a figure or built a work data set.
"""

from __future__ import annotations

import contextlib
import functools
import resource
import subprocess
import sys
import time
from pathlib import Path

from deepcredit.data.io import code_record


def peak_rss_mb() -> int:
    """This process's peak resident memory in MB.

    Linux's VmHWM belongs to the process image, so a spawned child reports its own peak; getrusage's
    ru_maxrss survives exec and would report the parent's size at fork (the fallback elsewhere).
    """
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024))


def machine_check_ms(repeats: int = 5) -> float:
    """Median milliseconds of a fixed single-threaded loop: how fast this machine runs Python right now.

    Why: on a shared virtual machine the same code on the same data ran a re-score up to 75% slower from
    one minute to the next with nothing else running here. Recorded before and after a latency measurement, it
    tells a slow machine apart from slow code; it is not used to adjust any number.
    """
    times = []
    for _ in range(repeats):
        t0, total = time.perf_counter(), 0
        for i in range(1_000_000):
            total += i * i % 7
        times.append(time.perf_counter() - t0)
    return round(sorted(times)[len(times) // 2] * 1000, 1)


@functools.cache
def code_provenance() -> dict:
    """The code of this process: code_record() (the package's source fingerprint, Python) plus the git commit
    and whether the work tree had changes (None for both outside a git checkout).

    Why: a benchmark figure that moved must be traceable to the code that made it; the fingerprint identifies
    the code exactly (a dirty tree included), the commit is what a reader can check out."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {**code_record(), "commit": commit, "dirty": None if status is None else bool(status)}
