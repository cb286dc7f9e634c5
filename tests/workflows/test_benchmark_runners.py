"""The benchmark runners are typed functions the benchmark workflow calls directly; command lines are parsed in
the CLI layer (cli/bench_scripts.py), never inside workflows/."""

from __future__ import annotations

import ast
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parents[2] / "src" / "deepcredit" / "workflows"
WORKER = WORKFLOWS / "benchmarks" / "scorecards.py"
"""The one documented script entry: the peers' worker, run by its path in an interpreter without deepcredit."""


def _main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def test_no_workflow_module_parses_a_command_line():
    offenders = []
    for path in sorted(WORKFLOWS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(WORKFLOWS).as_posix()
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{rel}: imports {n}" for n in names if n.split(".")[0] in ("argparse", "optparse", "typer")]
        if path != WORKER:
            offenders += [f"{rel}: has a __main__ entry" for node in tree.body if _main_guard(node)]
            offenders += [f"{rel}: defines main()" for node in tree.body
                          if isinstance(node, ast.FunctionDef) and node.name == "main"]
    assert offenders == []


def test_the_benchmark_runs_the_scorecard_comparison_as_a_function_with_the_plans_options(tmp_path, monkeypatch):
    from deepcredit.workflows import benchmark as bench
    from deepcredit.workflows.benchmarks import scorecards as bs

    seen = []

    def run(opts: bs.ScorecardsRun) -> dict:
        seen.append(opts)
        card = {"split": {"auc": 0.71234, "ks": 0.3}, "fit_s": 1.26, "cv": []}
        return {"deepcredit scorecard": card, "optbinning": {"error": "not here"},
                "_meta": {"rows": 10, "bad_rate": 0.2}, "_table": "| table |"}

    monkeypatch.setattr(bs, "run", run)
    monkeypatch.setattr(bs, "_importable", lambda name: name == "optbinning")
    skipped: dict = {}
    got = bench._uci_scorecards(bench.QUICK, tmp_path, skipped)
    assert seen == [bs.ScorecardsRun(data=tmp_path / "uci", rows=0, folds=0, peers=("optbinning",))]
    assert got["models"] == {"scorecard_standalone": {"auc": 0.7123, "ks": 0.3, "fit_seconds": 1.3}}
    assert skipped["peer:optbinning"] == "not here" and "not importable" in skipped["peer:toad"]
