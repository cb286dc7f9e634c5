"""The standalone benchmarks' command lines (scripts/bench_*.py) parse into the runners' typed options."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from deepcredit.cli import bench_scripts

ROOT = Path(__file__).resolve().parents[2]


def test_the_scorecard_command_runs_the_comparison_with_its_options(tmp_path, monkeypatch, capsys):
    from deepcredit.workflows.benchmarks import scorecards

    seen = []
    monkeypatch.setattr(scorecards, "run", lambda opts, out: seen.append((opts, out)) or {"_table": "| t |"})
    argv = ["--json", str(tmp_path / "o.json"), "--data", str(tmp_path), "--rows", "0", "--folds", "0",
            "--peers", "optbinning,toad", "--peers-python", "/py", "--params", '{"max_n_prebins": 5}']
    assert bench_scripts.scorecards(argv) == 0
    assert seen == [(scorecards.ScorecardsRun(data=tmp_path, rows=0, folds=0, peers=("optbinning", "toad"),
                                              peers_python="/py", params={"max_n_prebins": 5}), tmp_path / "o.json")]
    assert capsys.readouterr().out == "| t |\n"


def test_the_models_command_refuses_an_unknown_part_before_running(monkeypatch, capsys):
    from deepcredit.workflows.benchmarks import models

    monkeypatch.setattr(models, "run", lambda *a: pytest.fail("ran"))
    with pytest.raises(SystemExit) as exc:
        bench_scripts.models(["--parts", "uci-split,nope"])
    assert exc.value.code == 2 and "unknown part(s) ['nope']" in capsys.readouterr().err


def test_the_models_command_runs_the_parts_with_its_options(tmp_path, monkeypatch, capsys):
    from deepcredit.workflows.benchmarks import models

    seen = []
    monkeypatch.setattr(models, "run", lambda args, parts, out: seen.append((args, parts, out)) or {})
    argv = ["--parts", "otc, sim", "--members", "scorecard,gbdt", "--member-params", '{"gbdt": {"n_estimators": 5}}',
            "--folds", "2", "--no-ablation", "--people", "500", "--workdir", str(tmp_path), "--json",
            str(tmp_path / "m.json")]
    assert bench_scripts.models(argv) == 0
    assert seen == [(models.ModelsRun(workdir=tmp_path, members=["scorecard", "gbdt"],
                                      member_params={"gbdt": {"n_estimators": 5}}, folds=2, ablation=False,
                                      people=500), ["otc", "sim"], tmp_path / "m.json")]


def test_the_batch_command_refuses_an_unknown_stage_by_name(tmp_path):
    with pytest.raises(SystemExit, match=r"--stages: unknown \['scroe'\]"):
        bench_scripts.batch(["--model", str(tmp_path), "--workdir", str(tmp_path), "--stages", "score,scroe"])


def test_the_batch_command_runs_with_its_options(tmp_path, monkeypatch):
    from deepcredit.workflows.benchmarks import batch

    seen = []
    monkeypatch.setattr(batch, "run", lambda opts: seen.append(opts) or {})
    argv = ["--model", str(tmp_path / "m"), "--workdir", str(tmp_path), "--sizes", "1000,2000", "--stages",
            "features", "--service", "300", "--trained-on", "900", "--record", str(tmp_path / "r.json")]
    assert bench_scripts.batch(argv) == 0
    assert seen == [batch.BatchRun(model=tmp_path / "m", workdir=tmp_path, sizes=(1000, 2000), stages=("features",),
                                   service_people=300, trained_on=900, record=tmp_path / "r.json")]


def test_the_spark_command_picks_parity_or_speed(tmp_path, monkeypatch, capsys):
    from deepcredit.workflows.benchmarks import spark

    seen = []
    monkeypatch.setattr(spark, "parity_run", lambda *a: seen.append(("parity", a)) or {"rows": 1})
    monkeypatch.setattr(spark, "run", lambda *a, **k: seen.append(("run", a, k)) or {"speed": {}})
    assert bench_scripts.spark(["--parity", "--people", "60", "--workdir", str(tmp_path)]) == 0
    assert bench_scripts.spark(["--people", "70", "--workdir", str(tmp_path), "--engines", "spark", "--event-log"]) == 0
    assert seen == [("parity", (60, tmp_path, "local[2]", None)),
                    ("run", (70, tmp_path, "local[2]", 100_000), {"engines": ("spark",), "event_log": True, "out": None})]


def test_the_features_command_fails_when_a_stage_fails(tmp_path, monkeypatch, capsys):
    from deepcredit.workflows.benchmarks import features

    monkeypatch.setattr(features, "run", lambda *a: {"people": 60, "simulate": {"error": "no memory"}})
    assert bench_scripts.features(["--people", "60", "--workdir", str(tmp_path)]) == 1
    assert '"error": "no memory"' in capsys.readouterr().out


@pytest.mark.parametrize("script", ["bench_features", "bench_batch", "bench_models", "bench_scorecard", "bench_spark"])
def test_every_documented_benchmark_script_still_answers_help(script, monkeypatch, capsys):
    """As `python scripts/<script>.py --help` runs it (in this process: the runners are imported already)."""
    monkeypatch.setattr(sys, "argv", [f"{script}.py", "--help"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(ROOT / "scripts" / f"{script}.py"), run_name="__main__")
    assert exc.value.code == 0 and capsys.readouterr().out.startswith(f"usage: {script}.py")


def test_the_peers_worker_entry_says_how_it_is_called():
    from deepcredit.workflows.benchmarks import scorecards

    done = subprocess.run([sys.executable, scorecards.__file__, "--json", "x"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "--worker SPEC OUT" in done.stderr
