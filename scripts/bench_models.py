"""Thin wrapper: the benchmark runs in the package (deepcredit.workflows.benchmarks.models); its options are
parsed by deepcredit.cli.bench_scripts.models. See the runner's docstring, or:

    .venv/bin/python scripts/bench_models.py --help
"""

import sys

from deepcredit.cli.bench_scripts import models

if __name__ == "__main__":
    sys.exit(models())
