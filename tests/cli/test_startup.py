"""The CLI starts without the benchmark suite, the demo pipeline and the heavy libraries: an operator's command
(serve-*, retention) and every `--help` would otherwise wait seconds for modules they never use."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

HEAVY = ("pandas", "pyarrow", "numpy", "sklearn", "scipy", "matplotlib", "torch", "lightgbm", "duckdb", "pyspark")


def test_the_cli_does_not_import_the_benchmark_or_the_demo_at_start():
    code = ("import sys, deepcredit.cli.app; "
            "print([m for m in ('deepcredit.workflows.benchmark', 'deepcredit.workflows.demo') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_cli_and_its_help_import_no_heavy_library():
    """After `import deepcredit.cli.app`, and after `--help` and every command's `--help` (typer resolves each
    command's signature then), none of HEAVY is loaded: a command imports what it needs when it runs."""
    code = f"""
import sys
HEAVY = {HEAVY!r}
def loaded(when):
    return [f"{{when}}: {{m}}" for m in sorted(sys.modules) if m.split(".")[0] in HEAVY and "." not in m]
import deepcredit.cli.app
from typer.testing import CliRunner
found = loaded("import")
app = deepcredit.cli.app.app
runner = CliRunner()
for args in [["--help"]] + [[c.name, "--help"] for c in app.registered_commands]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
found += loaded("--help")
print(found)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]", f"heavy modules loaded: {out.stdout.strip()}"


def test_help_still_lists_the_commands_and_their_options():
    from deepcredit.cli.app import app

    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0, top.output
    assert all(name in top.output for name in ("evaluate", "monitor", "explain", "peers", "features", "serve"))
    evaluate = runner.invoke(app, ["evaluate", "--help"], terminal_width=200)
    assert evaluate.exit_code == 0, evaluate.output
    assert "--cutoff" in evaluate.output and "600" in evaluate.output
    explain = runner.invoke(app, ["explain", "--help"], terminal_width=200)
    assert explain.exit_code == 0 and "200 records" in explain.output, explain.output
