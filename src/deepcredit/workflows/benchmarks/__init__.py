"""The comparisons `deepcredit benchmark` runs, as package modules (scripts/ holds thin command wrappers):

- models: every stack member, the stack and LightGBM defaults on UCI, OTC and a simulated world;
- scorecards: our scorecard against the peer scorecard libraries on UCI's raw columns;
- features: simulation and feature building, each in a child process (its peak memory alone).
"""

from __future__ import annotations

import contextlib
import resource
import sys


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
