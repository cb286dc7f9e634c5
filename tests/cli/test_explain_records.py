"""`deepcredit explain --records K`: the person's own records that weigh most, after the reasons, then the
groups of them that weigh most taken together; off with 0."""

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
    # then the groups of records that cost most taken together, costliest first
    groups = re.findall(r"your (\d+) ([\w ]+?) records? taken together: -(\d+) points", table)
    assert 1 <= len(groups) <= 2 and ("3", "late", groups[0][2]) == groups[0] and int(groups[0][2]) > int(rows[0][3])
    assert all(int(a[2]) >= int(b[2]) >= 1 for a, b in zip(groups, groups[1:], strict=False))
    assert TITLE not in _explain(root, "s1-p0000293", "--records", "0")
    assert TITLE in _explain(root, "s1-p0000293")  # on by default where the data set has events


def test_a_person_without_records_is_told_so(world):
    root, ds = world
    events = ds.read("events")
    person = sorted(set(ds.read("people")["person_id"]) - set(events.loc[events["ts"] < pd.Timestamp("2026-01-01"),
                                                                        "person_id"]))[0]
    out = _explain(root, person)
    assert "no records of yours before 2026-01-01" in out and TITLE not in out


def test_records_that_weigh_little_alone_are_shown_taken_together(capsys):
    """342 late records, none worth a point alone, 85 points together: the person reads both."""
    from deepcredit.cli.common import print_records
    from deepcredit.scoring.record_reasons import RecordWeights

    singles = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=200, freq="D"), "kind": "bill",
                            "status": "late", "points": 0.3})
    groups = pd.DataFrame({"by": ["meaning", "kind", "meaning"], "name": ["late", "bill", "kept"],
                           "label": ["late", "bill", "kept"], "count": [342, 400, 58], "points": [85.2, 80.0, -4.0]})
    print_records(RecordWeights(singles, 400, 600.0, groups), 3, "2026-01-01")
    out = capsys.readouterr().err
    assert "no single record lowers this score by a whole point" in out
    assert out.index("your 342 late records taken together: -85 points") < out.index(
        "your 400 bill records taken together: -80 points") and "kept records" not in out


def test_explain_refuses_a_data_set_edited_after_it_was_written(world, tmp_path):
    """As score, train, features and validate do: an explanation of edited rows is not the score they give
    (it used to score the edited row without a word). The peers comparison refuses it too."""
    import shutil

    from deepcredit.data.dataset import Dataset
    from deepcredit.data.errors import DataValidationError
    from deepcredit.workflows.peers import compare_with_peers

    root, _ = world
    edited = tmp_path / "w"
    shutil.copytree(root / "w", edited)
    people_file = Dataset(edited).table_path("people")
    people_file = people_file if people_file.is_file() else sorted(people_file.glob("*.parquet"))[0]
    people = pd.read_parquet(people_file)
    numeric = people.select_dtypes("number").columns[0]
    people.loc[0, numeric] = 1e6
    people.to_parquet(people_file, index=False)
    result = runner.invoke(app, ["explain", "--model", str(root / "m"), "--data", str(edited), "--person",
                                 str(people.loc[0, "person_id"]), "--records", "0"], terminal_width=200)
    assert result.exit_code == 2, result.output
    assert "people table changed after the data set was written" in " ".join(result.output.split())
    with pytest.raises(DataValidationError, match="changed after the data set was written"):
        compare_with_peers(Dataset(edited), tmp_path / "peers")
