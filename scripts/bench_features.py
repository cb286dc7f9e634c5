"""Thin wrapper: the benchmark runs in the package (deepcredit.workflows.benchmarks.features); its options are
parsed by deepcredit.cli.bench_scripts.features. See the runner's docstring, or:

    .venv/bin/python scripts/bench_features.py --help
"""

import sys

from deepcredit.cli.bench_scripts import features

if __name__ == "__main__":
    sys.exit(features())
