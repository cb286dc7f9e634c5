"""End to end through the command line: train a stack, batch-score a data set, explain one person."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from deepcredit.cli import model_cmds
from deepcredit.data.simulate import simulate_world
from deepcredit.models.base import DIMENSIONS
from deepcredit.models.scale import ScoreScale

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False)
model_cmds.register(app)  # the same registration the main app does


def _run(args: list[str], code: int = 0) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_models")
    simulate_world(root / "w", people=1200, seed=2, chunk_size=600)
    out = _run(["train", "--data", str(root / "w"), "--out", str(root / "model"), "--members", "gbdt",
                "--folds", "2"])
    return root, out


def test_train_writes_a_verified_artifact(trained):
    root, out = trained
    assert "OOF AUC" in out and "wrote" in out
    assert (root / "model" / "manifest.json").exists() and (root / "model" / "stack.json").exists()


def test_score_writes_scores_that_add_up(trained):
    root, _ = trained
    out = root / "scores.parquet"
    _run(["score", "--model", str(root / "model"), "--data", str(root / "w"), "--out", str(out)])
    card = pd.read_parquet(out)
    assert len(card) == 1200
    assert {"person_id", "as_of", "pd", "score", "band", *DIMENSIONS, "reason_1"} <= set(card.columns)
    assert (card[DIMENSIONS].sum(axis=1) == card["score"]).all()
    assert (card["score"] == ScoreScale().score(card["pd"].to_numpy())).all()
    # as of another date: everybody in the people table, scored from data strictly before it
    later = root / "later.parquet"
    _run(["score", "--model", str(root / "model"), "--data", str(root / "w"), "--out", str(later),
          "--as-of", "2025-07-01"])
    assert (pd.read_parquet(later)["as_of"] == pd.Timestamp("2025-07-01")).all()


def test_train_steered_from_a_config_file_and_options(trained, tmp_path):
    root, _ = trained
    (tmp_path / "run.toml").write_text(f"""
data = "{root / 'w'}"
members = ["gbdt", "scorecard"]
exclude_members = ["scorecard"]
exclude_dimensions = ["social_connections"]
[member_params.gbdt]
n_estimators = 20
[stack]
folds = 2
""")
    out = _run(["train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "m"), "--holdout", "0.3",
                "--seed", "3", "--member-param", "gbdt.learning_rate=0.2"])
    assert "held out (holdout" in out and "AUC" in out and "Gini" in out
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    run = manifest["config"]["run"]
    assert run["split"] == {"kind": "holdout", "fraction": 0.3, "seed": None, "test_from": None} and run["seed"] == 3
    assert run["member_params"]["gbdt"] == {"n_estimators": 20, "learning_rate": 0.2}
    assert 0.5 < manifest["metrics"]["holdout"]["auc"] <= 1
    assert not any(f["dimension"] == "social_connections" for f in manifest["features"])
    assert json.loads((tmp_path / "m" / "config.json").read_text())["config"] == run
    bad = _run(["train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "m2"),
                "--member-param", "gbdt.no_such_param=1"], code=2)
    assert "no_such_param" in bad and not (tmp_path / "m2").exists()


def test_explain_one_person(trained):
    root, _ = trained
    out = _run(["explain", "--model", str(root / "model"), "--data", str(root / "w"), "--person", "s2-p0000011"])
    assert "s2-p0000011" in out and "sub-scores" in out
    bad = runner.invoke(app, ["explain", "--model", str(root / "model"), "--data", str(root / "w"),
                              "--person", "nobody"])
    assert bad.exit_code == 2 and "nobody" in bad.output


def test_clear_errors(trained, tmp_path):
    root, _ = trained
    out = _run(["train", "--data", str(root / "w"), "--out", str(tmp_path / "m"), "--members", "gbdt,no_such_member"],
               code=2)
    assert "no_such_member" in out and not (tmp_path / "m").exists()
    # a tampered artifact is refused before it scores anyone
    target = root / "model" / "stack.json"
    original = target.read_bytes()
    target.write_bytes(original.replace(b'"meta_intercept"', b'"meta_intercepT"'))
    try:
        out = _run(["score", "--model", str(root / "model"), "--data", str(root / "w"),
                    "--out", str(tmp_path / "s.parquet")], code=2)
        assert "sha256 mismatch" in out and not (tmp_path / "s.parquet").exists()
    finally:
        target.write_bytes(original)
