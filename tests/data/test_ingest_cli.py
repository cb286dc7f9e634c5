"""`deepcredit ingest` and `deepcredit validate`: valid input is stored; bad input exits 2 with one clear
error line, no traceback, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from deepcredit.cli.app import app
from deepcredit.data.dataset import Dataset

SNAPSHOT = "2024-06-30"
TABLES = {
    "people": "person_id,age,joined_at\np1,34,2020-01-15\np2,51,2021-03-01\n",
    "events": ("person_id,ts,kind,amount,status\n"
               "p1,2024-01-05,repayment,120.5,on_time\n"
               "p2,2024-02-01,bill,60,late\n"),
    "relations": "source,target,kind,weight,ts\np1,p2,contact,1,2023-05-01\n",
    "outcomes": "person_id,as_of,label,window_days\np1,2024-01-01,0,90\np2,2024-01-01,1,90\n",
}


def inputs(root: Path, **override: str) -> list[str]:
    """The four CSV files under root as ingest options."""
    root.mkdir(parents=True, exist_ok=True)
    args = []
    for table, text in TABLES.items():
        (root / f"{table}.csv").write_text(override.get(table, text))
        args += [f"--{table}", str(root / f"{table}.csv")]
    return args


def squeeze(text: str) -> str:
    """Without any whitespace: the console may wrap a long line at its width."""
    return "".join(text.split())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_ingest_valid_input(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "ds"
    result = runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", SNAPSHOT,
                                 "--name", "mine", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert squeeze(f"wrote {out}") in squeeze(result.output)
    ds = Dataset(out)
    assert ds.name == "mine" and ds.manifest.tables["events"]["rows"] == 2


@pytest.mark.parametrize(("override", "message"), [
    ({"events": TABLES["events"].replace("120.5", "inf")},
     "events.csv, row 1 (line 2), column 'amount': 'inf' is infinite: numbers must be finite"),
    ({"relations": TABLES["relations"].replace("p2,contact", "p7,contact")},
     "relations.csv, row 1 (line 2), column 'target': the value (not shown: an identifier) is not a person_id in the people table"),
    ({"people": '{"person_id": ["p1"]}'}, "people.csv: this looks like JSON, not CSV"),
    ({"outcomes": ""}, "outcomes.csv: the file is empty"),
], ids=["infinite amount", "unknown person", "JSON", "empty file"])
def test_ingest_bad_input(tmp_path: Path, runner: CliRunner, override: dict[str, str], message: str) -> None:
    out = tmp_path / "store" / "ds"
    result = runner.invoke(app, ["ingest", *inputs(tmp_path / "in", **override), "--snapshot-date", SNAPSHOT,
                                 "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert squeeze(f"error: {tmp_path / 'in'}/{message}") in squeeze(result.output), result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert squeeze(result.output).count("error:") == 1
    assert not out.exists() and not (tmp_path / "store").exists()


def test_ingest_missing_file(tmp_path: Path, runner: CliRunner) -> None:
    args = inputs(tmp_path / "in")
    (tmp_path / "in" / "relations.csv").unlink()
    result = runner.invoke(app, ["ingest", *args, "--snapshot-date", SNAPSHOT, "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert squeeze(f"{tmp_path / 'in' / 'relations.csv'}: file not found") in squeeze(result.output)
    assert not (tmp_path / "ds").exists()


def test_ingest_bad_snapshot_date(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", "30/06/2024",
                                 "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert squeeze("snapshot date: '30/06/2024' is not a date") in squeeze(result.output)
    assert not (tmp_path / "ds").exists()


def test_validate_a_stored_data_set(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "ds"
    assert runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", SNAPSHOT,
                               "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert squeeze(f"{out}: valid") in squeeze(result.output)


def test_validate_finds_a_damaged_table(tmp_path: Path, runner: CliRunner) -> None:
    """A stored table edited behind DeepCredit's back is checked row by row again."""
    out = tmp_path / "ds"
    runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", SNAPSHOT, "--out", str(out)])
    events = pq.read_table(out / "events.parquet")
    amount = events.schema.get_field_index("amount")
    pq.write_table(events.set_column(amount, "amount", pa.array([1.0, float("inf")])), out / "events.parquet")
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert squeeze(f"{out / 'events.parquet'}, row 2, column 'amount': 'inf' is infinite") \
        in squeeze(result.output), result.output


def test_validate_a_folder_that_is_no_data_set(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert squeeze("not a DeepCredit data set (manifest.json is missing)") in squeeze(result.output)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda ds: (ds / "events.parquet").write_bytes((ds / "events.parquet").read_bytes()[:100]),
     "events.parquet: not a readable Parquet file"),
    (lambda ds: (ds / "manifest.json").write_text("{not json"), "manifest.json: unreadable manifest"),
    (lambda ds: (ds / "outcomes.parquet").unlink(), "outcomes.parquet: table file is missing"),
], ids=["truncated table", "broken manifest", "missing table"])
def test_validate_a_broken_data_set(tmp_path: Path, runner: CliRunner, damage, message: str) -> None:
    out = tmp_path / "ds"
    runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", SNAPSHOT, "--out", str(out)])
    damage(out)
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert squeeze(f"{out}/{message}") in squeeze(result.output), result.output


@pytest.mark.parametrize("status", ["[/red]", "[bold]x"])
def test_error_shows_user_data_verbatim(tmp_path: Path, runner: CliRunner, status: str) -> None:
    events = TABLES["events"].replace("on_time", status)
    result = runner.invoke(app, ["ingest", *inputs(tmp_path / "in", events=events), "--snapshot-date", SNAPSHOT,
                                 "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert squeeze(f"column 'status': '{status}' is not one of") in squeeze(result.output), result.output


def test_validate_finds_a_table_replaced_by_valid_rows(tmp_path: Path, runner: CliRunner) -> None:
    """Valid rows that are not the ones written: the manifest's sha256 says so (a finished scoring job of the
    old data would otherwise be taken for one of these)."""
    out = tmp_path / "ds"
    runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", SNAPSHOT, "--out", str(out)])
    events = pq.read_table(out / "events.parquet")
    amount = events.schema.get_field_index("amount")
    pq.write_table(events.set_column(amount, "amount", pa.array([1.0, 2.0])), out / "events.parquet")
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 2
    assert squeeze("the events table changed after the data set was written") in squeeze(result.output)


@pytest.mark.parametrize(("rows", "problem"), [
    ([("p1", "p2"), ("p2", "p2")], "row 2, column 'target': the value (not shown: an identifier) names the same "
                                   "person as column 'source': a person is not their own connection"),
    ([("p1", "p2"), ("p1", "p2")], "row 2: an exact duplicate of row 1: one relation recorded twice"),
], ids=["self-loop", "duplicate"])
def test_validate_finds_a_self_loop_or_a_relation_recorded_twice(tmp_path: Path, runner: CliRunner, rows,
                                                                 problem: str) -> None:
    """Ingest refuses both; `validate` re-checked every other rule of a stored data set but these."""
    out = tmp_path / "ds"
    runner.invoke(app, ["ingest", *inputs(tmp_path / "in"), "--snapshot-date", SNAPSHOT, "--out", str(out)])
    relations = pq.read_table(out / "relations.parquet")
    pq.write_table(pa.concat_tables([relations, relations]).set_column(
        0, "source", pa.array([s for s, _ in rows])).set_column(1, "target", pa.array([t for _, t in rows])),
        out / "relations.parquet")
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert squeeze(f"{out / 'relations.parquet'}, {problem}") in squeeze(result.output), result.output
