"""Thin wrapper: the benchmark lives in the package (deepcredit.workflows.benchmarks.features); see its docstring.

    .venv/bin/python scripts/bench_features.py --help
"""

import sys

from deepcredit.workflows.benchmarks.features import main

if __name__ == "__main__":
    sys.exit(main())
