"""Thin wrapper: the benchmark runs in the package (deepcredit.workflows.benchmarks.scorecards); its options are
parsed by deepcredit.cli.bench_scripts.scorecards. See the runner's docstring, or:

    .venv/bin/python scripts/bench_scorecard.py --help
"""

import sys

from deepcredit.cli.bench_scripts import scorecards

if __name__ == "__main__":
    sys.exit(scorecards())
