"""Thin wrapper: the benchmark lives in the package (deepcredit.workflows.benchmarks.scorecards); see its docstring.

    .venv/bin/python scripts/bench_scorecard.py --help
"""

import sys

from deepcredit.workflows.benchmarks.scorecards import main

if __name__ == "__main__":
    sys.exit(main())
