"""`deepcredit load`: a bundled name wins over a folder of that name in the current directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset


def test_load_takes_the_bundled_data_set_even_beside_a_folder_of_its_name(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "german").mkdir()
    (tmp_path / "german" / "notes.txt").write_text("mine")
    r = CliRunner().invoke(app, ["load", "german", "--out", "g"])
    assert r.exit_code == 0, r.output
    assert "./german" in r.output  # said which it took, and how to name the folder instead
    assert Dataset(tmp_path / "g").name == "german" and (tmp_path / "german" / "notes.txt").read_text() == "mine"


def test_load_refuses_a_model_directory_as_out(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "manifest.json").write_text('{"artifact_format": 1, "kind": "gbdt"}')
    r = CliRunner().invoke(app, ["load", "german", "--out", str(model)])
    assert r.exit_code == 2 and "refusing to replace it" in " ".join(r.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"] and [p.name for p in model.iterdir()] == ["manifest.json"]
