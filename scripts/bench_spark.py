"""Thin wrapper: the benchmark runs in the package (deepcredit.workflows.benchmarks.spark); its options are
parsed by deepcredit.cli.bench_scripts.spark. See the runner's docstring, or:

    .venv/bin/python scripts/bench_spark.py --help
"""

import sys

from deepcredit.cli.bench_scripts import spark

if __name__ == "__main__":
    sys.exit(spark())
