"""Thin wrapper: the benchmark runs in the package (deepcredit.workflows.benchmarks.batch); its options are
parsed by deepcredit.cli.bench_scripts.batch. See the runner's docstring, or:

    .venv/bin/python scripts/bench_batch.py --help
"""

import sys

from deepcredit.cli.bench_scripts import batch

if __name__ == "__main__":
    sys.exit(batch())
