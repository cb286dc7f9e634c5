"""`train --config ART/config.json`: re-creation reads the recorded data wherever it runs, refuses other data
unless --allow-other-data, and refuses a manifest.json given as config, saying to pass config.json."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from deepcredit.cli import model_cmds
from deepcredit.data.simulate import simulate_world

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False)
model_cmds.register(app)
GBDT = ["--model", "gbdt", "--member-param", "gbdt.n_estimators=20"]


def _run(args: list[str], code: int = 0) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def test_recreating_from_config_json(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    simulate_world(tmp_path / "here" / "w", people=300, seed=2, chunk_size=300)
    other = simulate_world(tmp_path / "other", people=300, seed=3, chunk_size=300)
    monkeypatch.chdir(tmp_path / "here")
    _run(["train", "--data", "w", "--out", str(tmp_path / "a"), *GBDT])  # a relative path, as typed
    record = json.loads((tmp_path / "a" / "config.json").read_text())
    assert record["config"]["data"] == "w" and record["data_path"] == str((tmp_path / "here" / "w").resolve())
    monkeypatch.chdir(tmp_path / "elsewhere")  # where "w" names nothing: the recorded absolute path is read
    _run(["train", "--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b")])
    a, b = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in ("a", "b"))
    assert a["sha256"] == b["sha256"]
    out = _run(["train", "--config", str(tmp_path / "a" / "config.json"), "--data", str(other.root),
                "--out", str(tmp_path / "c")], code=2)
    assert f"fingerprint {other.fingerprint()}" in out and f"fingerprint {a['data_fingerprint']}" in out
    assert "--allow-other-data" in out and not (tmp_path / "c").exists()
    _run(["train", "--config", str(tmp_path / "a" / "config.json"), "--data", str(other.root),
          "--out", str(tmp_path / "c"), "--allow-other-data"])
    said = json.loads((tmp_path / "c" / "manifest.json").read_text())["config"]["other_data_than_config"]
    assert said["config_data_fingerprint"] == a["data_fingerprint"]
    out = _run(["train", "--config", str(tmp_path / "a" / "manifest.json"), "--out", str(tmp_path / "d")], code=2)
    assert "pass the config.json beside it" in out


def test_strict_input_refuses_a_model_written_under_other_library_versions(tmp_path, monkeypatch):
    from deepcredit.models import artifacts

    world = simulate_world(tmp_path / "w", people=300, seed=2, chunk_size=300)
    real = artifacts.library_versions
    with monkeypatch.context() as m:
        m.setattr(artifacts, "library_versions", lambda names=None: {**real(), "numpy": "1.26.4"})
        _run(["train", "--data", str(world.root), "--out", str(tmp_path / "a"), *GBDT])
    out = _run(["score", "--model", str(tmp_path / "a"), "--data", str(world.root), "--out", str(tmp_path / "s"),
                "--strict-input"], code=2)
    assert "other library versions" in out and "numpy" in out and "1.26.4" in out
