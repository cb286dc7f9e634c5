"""`deepcredit explain --records K`: the person's own records that weigh most, after the reasons; off with 0."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from deepcredit.cli import model_cmds
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.base import save_model
from deepcredit.models.gbdt import GBDTModel

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False)
model_cmds.register(app)
TITLE = "records that weigh most"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_records")
    ds = simulate_world(root / "w", people=300, seed=1, chunk_size=300)
    inp = build_model_input(ds, views=["tabular"])
    save_model(GBDTModel(n_estimators=50).fit(inp), root / "m", inp)
    return root, ds


def _explain(root, person: str, *more: str) -> str:
    result = runner.invoke(app, ["explain", "--model", str(root / "m"), "--data", str(root / "w"), "--person", person,
                                 *more], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_shows_the_records_that_weigh_most_after_the_reasons(world):
    root, _ = world
    out = _explain(root, "s1-p0000293", "--records", "2")
    assert out.index("what lowers the score most") < out.index(TITLE)
    table = out[out.index(TITLE):]
    assert "your 25 records before 2026-01-01" in table
    rows = re.findall(r"│ (2\d{3}-\d\d-\d\d) │ (\w+) +│ (\w+) +│.*│ -(\d+) +│", table)
    assert len(rows) == 2 and all(status in ("late", "overdue", "missed") for _, _, status, _ in rows)
    assert int(rows[0][3]) >= int(rows[1][3]) >= 1 and all(date < "2026-01-01" for date, *_ in rows)
    assert "m0" not in table  # no counterparty
    assert TITLE not in _explain(root, "s1-p0000293", "--records", "0")
    assert TITLE in _explain(root, "s1-p0000293")  # on by default where the data set has events


def test_a_person_without_records_is_told_so(world):
    root, ds = world
    events = ds.read("events")
    person = sorted(set(ds.read("people")["person_id"]) - set(events.loc[events["ts"] < pd.Timestamp("2026-01-01"),
                                                                        "person_id"]))[0]
    out = _explain(root, person)
    assert "no records of yours before 2026-01-01" in out and TITLE not in out
