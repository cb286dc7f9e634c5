"""The CLI starts without the benchmark suite and the demo pipeline: an operator's command (serve-*, retention)
would otherwise wait seconds for modules it never uses."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_does_not_import_the_benchmark_or_the_demo_at_start():
    code = ("import sys, deepcredit.cli.app; "
            "print([m for m in ('deepcredit.workflows.benchmark', 'deepcredit.workflows.demo') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
