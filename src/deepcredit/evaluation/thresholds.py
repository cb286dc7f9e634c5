"""The evaluation's default thresholds: the approval cut-off and the drift alert levels with their exit codes.

Why a module of its own, with no imports: `deepcredit evaluate` and `deepcredit monitor` show these as option
defaults, and the CLI starts without numpy, pandas or scikit-learn (metrics.py and stability.py use them and
re-export these names).
"""

from __future__ import annotations

DEFAULT_CUTOFF = 600
"""Default approval cutoff (score >= cutoff is approved): the scale's base score, 5:1 good:bad odds."""
WATCH = 0.1
ACT = 0.25
LEVELS = ("ok", "watch", "act")
EXIT_CODES = {"ok": 0, "watch": 3, "act": 4}
"""`deepcredit monitor` exit codes: 0 no alert, 3 watch, 4 act (2 stays 'bad input', as everywhere)."""
