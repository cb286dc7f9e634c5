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


def _rewritten(world, out, monkeypatch, shuffle_seed: int = 1):
    """`world`'s rows written again as another library version would write them (other Parquet settings,
    other schema metadata) and in another row order: a re-ingest of the same data."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from deepcredit.data import dataset as module

    def other_writer(path, table):
        table = pa.Table.from_pandas(table, preserve_index=False) if not isinstance(table, pa.Table) else table
        table = table.replace_schema_metadata({"pandas": "another version", "created_by": "another writer"})
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="snappy", row_group_size=100, use_dictionary=False)

    rng = np.random.default_rng(shuffle_seed)
    frames = {}
    for name in [*world.manifest.tables, *world.manifest.extras]:
        frame = world.read(name)
        frames[name] = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    with monkeypatch.context() as patch:
        patch.setattr(module, "atomic_write_parquet", other_writer)
        return module.write_dataset(out, frames, world.name, str(world.snapshot_date.date()),
                                    world.manifest.description, spec=world.spec, time_zone=world.manifest.time_zone)


def test_the_same_rows_written_again_another_way_and_order_are_the_same_data(tmp_path, monkeypatch):
    """The fingerprint was the sha256 of the Parquet bytes, which embed the pyarrow and pandas versions and
    the row order: the same rows re-ingested read as other data (a recorded config refused them), though
    the models trained on them were the same. It now hashes the rows' values; the bytes still differ."""
    world = simulate_world(tmp_path / "world", people=80, seed=2)
    again = _rewritten(world, tmp_path / "again", monkeypatch)
    assert again.fingerprint() == world.fingerprint() == again.checked_fingerprint()
    assert again.byte_fingerprint() != world.byte_fingerprint()
    assert all(again.manifest.tables[t]["sha256"] != world.manifest.tables[t]["sha256"] for t in world.manifest.tables)
    assert world.fingerprints() == (world.fingerprint(), world.byte_fingerprint())


def test_a_changed_value_is_other_data(tmp_path):
    from deepcredit.data.dataset import write_dataset

    world = simulate_world(tmp_path / "world", people=80, seed=2)
    frames = {name: world.read(name) for name in [*world.manifest.tables, *world.manifest.extras]}
    frames["events"].loc[5, "amount"] = frames["events"]["amount"].iloc[5] + 0.01
    changed = write_dataset(tmp_path / "changed", frames, world.name, str(world.snapshot_date.date()),
                            spec=world.spec)
    assert changed.fingerprint() != world.fingerprint()
    assert changed.manifest.tables["people"]["content_sha256"] == world.manifest.tables["people"]["content_sha256"]


def test_a_data_set_written_before_content_hashes_keeps_its_byte_fingerprint_and_records_of_it_match(tmp_path):
    """No stored data set is migrated: one whose manifest has no content hashes is known by the fingerprint
    it always had; and a run recorded with a data set's byte fingerprint (every artifact and config.json
    written before) still names that data set, so re-creating or evaluating it is not refused."""
    import hashlib
    import json

    from deepcredit.config import check_recorded_data, record_differences
    from deepcredit.data.dataset import Dataset, is_recorded_data

    world = simulate_world(tmp_path / "world", people=60, seed=5)
    path = world.root / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["tables"].values():
        del entry["content_sha256"]
    path.write_text(json.dumps(manifest))
    old = Dataset(world.root)
    parts = [f"{n}:{manifest['tables'][n]['sha256']}" for n in sorted(manifest["tables"])] + [f"spec:{manifest['spec']}"]
    as_before = hashlib.sha256("\n".join(parts).encode()).hexdigest()  # the fingerprint as it was computed
    assert old.fingerprint() == old.checked_fingerprint() == old.byte_fingerprint() == as_before
    assert old.fingerprints() == (as_before,) and world.fingerprint() != as_before
    recorded = {"data_fingerprint": world.byte_fingerprint(), "data_path": str(world.root)}
    assert is_recorded_data(world.byte_fingerprint(), world.fingerprints())
    assert check_recorded_data(recorded, world.fingerprints()) is None
    assert record_differences(recorded, world.fingerprints(), versions={}, code={}) == []
    assert not is_recorded_data("", world.fingerprints()) and not is_recorded_data(None, world.fingerprints())
