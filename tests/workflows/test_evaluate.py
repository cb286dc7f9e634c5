"""evaluate_model's --out: written whole or not at all, replacing only an earlier report (never a model,
a data set, a folder of the user's files or a file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepcredit.data.errors import DataValidationError
from deepcredit.evaluation.report import REPORT, RESULTS
from deepcredit.workflows import evaluate as evaluate_module
from deepcredit.workflows.evaluate import evaluate_model


class _Data:
    root, name = Path("/nowhere/ds"), "ds"

    def fingerprint(self) -> str:
        return "f" * 64

    checked_fingerprint = fingerprint


def _fake_evaluate(calls: list[Path], fail: bool = False):
    def run(model, dataset, out, **_) -> Path:
        calls.append(Path(out))
        if fail:
            raise RuntimeError("scoring failed")
        (Path(out) / RESULTS).write_text(json.dumps({"evaluation": {"n": 1}}))
        (Path(out) / REPORT).write_text("<html></html>")
        return Path(out) / REPORT
    return run


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("what", ["model", "folder", "file"])
def test_evaluate_refuses_an_out_that_is_not_an_earlier_report_before_scoring(tmp_path, monkeypatch, what):
    calls: list[Path] = []
    monkeypatch.setattr(evaluate_module, "evaluate_artifact", _fake_evaluate(calls))
    out = tmp_path / "x"
    if what == "file":
        out.write_text("mine")
    else:
        out.mkdir()
        (out / "config.json").write_text("the model's own")
        if what == "model":
            (out / "manifest.json").write_text(json.dumps({"artifact_format": 1, "kind": "gbdt"}))
    with pytest.raises(DataValidationError, match="refusing to replace it"):
        evaluate_model(tmp_path / "m", _Data(), out)
    assert calls == [], "nothing was scored"
    assert (out.read_text() == "mine") if what == "file" else (out / "config.json").read_text() == "the model's own"
    assert names(tmp_path) == ["x"]


def test_evaluate_writes_in_a_staging_directory_and_replaces_an_earlier_report_whole(tmp_path, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(evaluate_module, "evaluate_artifact", _fake_evaluate(calls))
    out = tmp_path / "ev"
    first = evaluate_model(tmp_path / "m", _Data(), out)
    assert calls[0] != out and calls[0].parent == tmp_path, "written beside --out, then moved into place"
    assert first["report"] == str(out / "report.html") and "config.json" in names(out)
    (out / "stale.txt").write_text("from the earlier run")
    evaluate_model(tmp_path / "m", _Data(), out)  # an earlier report may be replaced
    assert "stale.txt" not in names(out) and names(tmp_path) == ["ev"]


def test_a_failed_evaluation_leaves_the_earlier_report_and_no_staging(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate_module, "evaluate_artifact", _fake_evaluate([]))
    out = tmp_path / "ev"
    evaluate_model(tmp_path / "m", _Data(), out)
    before = {n: (out / n).read_bytes() for n in names(out)}
    monkeypatch.setattr(evaluate_module, "evaluate_artifact", _fake_evaluate([], fail=True))
    with pytest.raises(RuntimeError, match="scoring failed"):
        evaluate_model(tmp_path / "m", _Data(), out)
    assert {n: (out / n).read_bytes() for n in names(out)} == before and names(tmp_path) == ["ev"]


def test_evaluate_and_features_refuse_a_data_set_changed_in_place(tmp_path, monkeypatch):
    """audit G2: both ran on files edited in place and recorded the untouched data's fingerprint."""
    import pandas as pd
    from typer.testing import CliRunner

    from deepcredit.cli.app import app
    from deepcredit.data.io import parquet_files
    from deepcredit.data.simulate import simulate_world

    world = simulate_world(tmp_path / "world", people=80, seed=3)
    part = parquet_files(world.table_path("people"))[0]
    people = pd.read_parquet(part)
    people["income"] = people["income"] * 3
    people.to_parquet(part, index=False)
    calls: list[Path] = []
    monkeypatch.setattr(evaluate_module, "evaluate_artifact", _fake_evaluate(calls))
    with pytest.raises(DataValidationError, match="changed after the data set was written"):
        evaluate_model(tmp_path / "m", world, tmp_path / "ev")
    assert calls == [] and not (tmp_path / "ev").exists()
    res = CliRunner().invoke(app, ["features", "--data", str(world.root), "--out", str(tmp_path / "f.parquet")])
    assert res.exit_code == 2 and "changed after the data set was written" in " ".join(res.output.split())
    assert not (tmp_path / "f.parquet").exists()
