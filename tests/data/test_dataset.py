"""Data set slices: a sample keeps every row of the people drawn and nothing of the others."""

from __future__ import annotations

from deepcredit.data.dataset import new_connection, sample_dataset
from deepcredit.data.simulate import simulate_world


def test_sample_keeps_whole_people_and_a_closed_graph(tmp_path):
    src = simulate_world(tmp_path / "world", people=400, seed=3)
    part = sample_dataset(src, tmp_path / "part", people=120, seed=7)
    people = set(part.read("people")["person_id"])
    assert len(people) == 120 and people <= set(src.read("people")["person_id"])
    for table in ("events", "outcomes", "truth"):
        mine = src.read(table)
        mine = mine[mine["person_id"].isin(people)]
        got = part.read(table)
        assert set(got["person_id"]) <= people and len(got) == len(mine)  # every row of theirs, no other
    rel = part.read("relations")
    assert set(rel["source"]) | set(rel["target"]) <= people
    full = src.read("relations")
    assert len(rel) == int((full["source"].isin(people) & full["target"].isin(people)).sum())
    again = sample_dataset(src, tmp_path / "again", people=120, seed=7)
    assert again.fingerprint() == part.fingerprint()  # seeded: the same slice


def test_our_connections_draw_no_duckdb_progress_bar():
    """DuckDB prints a progress bar to stdout for any statement past 2 s; in a batch job it would cut
    through the command's own progress display."""
    con = new_connection()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    assert con.cursor().execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_a_table_file_replaced_in_place_is_found_before_scoring_or_training(tmp_path):
    """The fingerprint is read from the manifest; a part file copied over in place (income tripled, say)
    kept the old identity, and a finished scoring job of the old data was returned as the new one."""
    import pandas as pd
    import pytest

    from deepcredit.data.errors import DataValidationError
    from deepcredit.data.io import parquet_files

    world = simulate_world(tmp_path / "world", people=60, seed=5)
    assert world.checked_fingerprint() == world.fingerprint()
    part = parquet_files(world.table_path("people"))[0]
    people = pd.read_parquet(part)
    people["income"] = people["income"] * 3
    people.to_parquet(part, index=False)
    with pytest.raises(DataValidationError, match="people table changed after the data set was written"):
        world.checked_fingerprint()
