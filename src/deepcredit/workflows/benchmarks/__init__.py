"""The comparisons `deepcredit benchmark` runs, as package modules (scripts/ holds thin command wrappers):

- models: every stack member, the stack and LightGBM defaults on UCI, OTC and a simulated world;
- scorecards: our scorecard against the peer scorecard libraries on UCI's raw columns;
- features: simulation and feature building, each in a child process (its peak memory alone).
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time


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
