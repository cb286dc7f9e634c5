"""`spec check` and `ingest` warn about the draft's TODO markers left in a spec (audit K, F5)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from deepcredit.cli.app import app

SPEC = """spec_version = 1
name = "todo"
snapshot_date = 2025-01-01

[profile]

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "identity"  # TODO: choose the dimension this attribute speaks to
description = "your income"

[outcomes]
label = "bad"  # TODO: check which value means bad
window_days = 30
"""


def _said(args: list[str]) -> str:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output  # a warning, never an error
    return " ".join(r.output.split())


def test_spec_check_and_ingest_say_how_many_todo_markers_are_left_and_where(tmp_path: Path) -> None:
    spec = tmp_path / "draft.toml"
    spec.write_text(SPEC)
    assert "2 TODO markers left in the spec (lines 10, 14)" in _said(["spec", "check", str(spec)])
    pd.DataFrame({"person_id": ["a", "b", "c"], "income": [1, 2, 3]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"person_id": ["a", "b", "c"], "as_of": "2024-06-01", "bad": [0, 1, 0]}).to_csv(
        tmp_path / "outcomes.csv", index=False)
    tables = ["--people", str(tmp_path / "people.csv"), "--outcomes", str(tmp_path / "outcomes.csv"), "--out"]
    said = _said(["ingest", "--spec", str(spec), *tables, str(tmp_path / "ds")])
    assert "2 TODO markers left in the spec (lines 10, 14)" in said
    finished = tmp_path / "finished.toml"
    finished.write_text(SPEC.replace('"identity"  # TODO: choose the dimension this attribute speaks to',
                                     '"fulfilment_capacity"').replace("  # TODO: check which value means bad", ""))
    assert "TODO" not in _said(["spec", "check", str(finished)])
    assert "TODO" not in _said(["ingest", "--spec", str(finished), *tables, str(tmp_path / "ds2")])
