"""End to end through the command line: simulate, load the bundled data, build features for all three."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.features.engine import FeatureFrame

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_features_for_simulated_uci_and_otc(tmp_path):
    _ok(["simulate", "--people", "800", "--seed", "3", "--chunk-size", "400", "--out", str(tmp_path / "sim")])
    _ok(["load", "uci", "--out", str(tmp_path / "uci")])
    _ok(["load", "otc", "--out", str(tmp_path / "otc")])
    expected_rows = {"sim": 800, "uci": 30_000, "otc": 48_423}
    for name, rows in expected_rows.items():
        out = tmp_path / f"{name}.parquet"
        _ok(["features", "--data", str(tmp_path / name), "--out", str(out)])
        ff = FeatureFrame.load(out)
        assert len(ff.frame) == rows
        assert set(ff.meta) >= {"data_fingerprint", "versions", "dataset"}
        assert not set(ff.names) & {"sex", "age", "marital_status"}  # protected: never features


def test_features_as_of_a_chosen_date(tmp_path):
    _ok(["simulate", "--people", "300", "--seed", "1", "--out", str(tmp_path / "sim")])
    out = tmp_path / "today.parquet"
    _ok(["features", "--data", str(tmp_path / "sim"), "--out", str(out), "--as-of", "2025-06-01",
         "--features", "n_bad_90d,degree"])
    frame = pd.read_parquet(out)
    assert len(frame) == 300 and (frame["as_of"] == pd.Timestamp("2025-06-01")).all()
    assert list(frame.columns) == ["person_id", "as_of", "label", "n_bad_90d", "degree"]


def test_unknown_data_set_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["features", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "f.parquet")])
    assert result.exit_code == 2
    assert "manifest.json is missing" in result.output
    assert not (tmp_path / "f.parquet").exists()
