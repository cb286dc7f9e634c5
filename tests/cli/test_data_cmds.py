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


HISTORY_SPEC = """
spec_version = 1
name = "hist"
snapshot_date = 2025-01-01

[profile]
valid_from = "since"

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"
description = "your income"
improve = "Keep your income details up to date."

[outcomes]
label = "bad"
window_days = 30
"""


def test_the_ingest_summary_counts_persons_and_says_how_many_profile_versions(tmp_path: Path) -> None:
    """With attribute history the people table has a row per version: 'people: 3' would have read 'people: 5'."""
    import pandas as pd

    (tmp_path / "spec.toml").write_text(HISTORY_SPEC)
    pd.DataFrame({"person_id": ["a", "b", "c", "a", "b"], "since": ["", "", "", "2024-03-01", "2024-04-01"],
                  "income": [1, 2, 3, 4, 5]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"person_id": ["a", "b", "c"], "as_of": "2024-06-01", "bad": [0, 1, 0]}).to_csv(
        tmp_path / "outcomes.csv", index=False)
    r = CliRunner().invoke(app, ["ingest", "--spec", str(tmp_path / "spec.toml"), "--people",
                                 str(tmp_path / "people.csv"), "--outcomes", str(tmp_path / "outcomes.csv"),
                                 "--out", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    assert "people: 3 (5 profile versions)" in " ".join(r.output.split())
    once = tmp_path / "once.csv"  # one version each: the count is the rows, said once
    pd.read_csv(tmp_path / "people.csv").drop_duplicates("person_id").to_csv(once, index=False)
    r = CliRunner().invoke(app, ["ingest", "--spec", str(tmp_path / "spec.toml"), "--people", str(once),
                                 "--outcomes", str(tmp_path / "outcomes.csv"), "--out", str(tmp_path / "ds1")])
    assert r.exit_code == 0, r.output
    assert "people: 3," in r.output and "profile versions" not in r.output


def test_load_takes_cadence_quarter_as_the_readme_writes_it(tmp_path: Path) -> None:
    """README: `load PATH --cadence quarter`; it used to be refused as "not a pandas frequency" (audit K, F2)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 600
    t0 = int(pd.Timestamp("2014-01-01").timestamp())
    src = tmp_path / "net.csv"
    pd.DataFrame({"SOURCE": rng.integers(1, 40, n), "TARGET": rng.integers(1, 40, n),
                  "RATING": rng.choice([-10, -6, 1, 5, 10], n),
                  "TIME": np.sort(t0 + rng.integers(0, 730 * 86400, n))}).to_csv(src, index=False)
    runs = {}
    for cadence in ("quarter", "QS"):
        r = CliRunner().invoke(app, ["load", str(src), "--out", str(tmp_path / cadence), "--cadence", cadence])
        assert r.exit_code == 0, r.output
        runs[cadence] = Dataset(tmp_path / cadence).read("outcomes")
    assert runs["quarter"]["as_of"].nunique() >= 6
    pd.testing.assert_frame_equal(runs["quarter"], runs["QS"])
