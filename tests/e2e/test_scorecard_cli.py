"""End to end through the command line: the scorecard is one model among others (`train --model scorecard`,
then the same `score` and `explain` as every model), on a simulated world."""

from __future__ import annotations

import pandas as pd
import typer
from typer.testing import CliRunner

from deepcredit.cli import model_cmds
from deepcredit.data.simulate import simulate_world
from deepcredit.models.base import DIMENSIONS

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False)
model_cmds.register(app)


def _run(args: list[str], code: int = 0) -> str:
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == code, result.output
    return result.output


def test_train_score_and_explain_one_person(tmp_path):
    simulate_world(tmp_path / "w", people=1500, seed=4, chunk_size=750)
    _run(["train", "--model", "scorecard", "--data", str(tmp_path / "w"), "--out", str(tmp_path / "card")])
    assert "(base points)" in (tmp_path / "card" / "scorecard.csv").read_text()  # the printed card
    _run(["score", "--model", str(tmp_path / "card"), "--data", str(tmp_path / "w"),
          "--out", str(tmp_path / "scores.parquet")])
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert (scores[DIMENSIONS].sum(axis=1) == scores["score"]).all()
    worst = scores.sort_values("score").iloc[0]
    shown = _run(["explain", "--model", str(tmp_path / "card"), "--data", str(tmp_path / "w"),
                  "--person", worst["person_id"]])
    assert f"score {worst['score']}" in shown and "sub-scores" in shown
    assert "what lowers the score most" in shown  # the riskiest person has reasons
    missing = _run(["explain", "--model", str(tmp_path / "card"), "--data", str(tmp_path / "w"),
                    "--person", "nobody"], code=2)  # bad input: exit 2, as every command
    assert "'nobody' is not in the data set's people table" in missing and "--as-of" not in missing
