"""Thin wrapper: the benchmark lives in the package (deepcredit.workflows.benchmarks.models); see its docstring.

    .venv/bin/python scripts/bench_models.py --help
"""

import sys

from deepcredit.workflows.benchmarks.models import main

if __name__ == "__main__":
    sys.exit(main())
