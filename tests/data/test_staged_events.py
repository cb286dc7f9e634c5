"""Ingest writes each history file's events as a part of the events table as soon as it is read: the parts
read as one table, a failed ingest leaves nothing behind, month-dated times are capped once the data's last
date is known."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.staged_events import StagedEvents
from deepcredit.data.validate import DataValidationError

from .test_more_events import _files, _spec


def _events(person: list[str], days: list[str], **more) -> pd.DataFrame:
    return pd.DataFrame({"person_id": pd.Series(person, dtype="string[pyarrow]"), "ts": pd.to_datetime(days),
                         "kind": pd.Series(["bill"] * len(person), dtype="string"), **more})


def test_parts_with_different_columns_and_text_types_read_as_one_table(tmp_path):
    staged = StagedEvents(tmp_path / "events")
    staged.add(_events(["b", "a"], ["2024-01-02", "2024-01-01"], days_late=[3.0, 0.0]))
    staged.add(_events(["c"], ["2024-01-03"]))
    staged.same_columns()
    whole = staged.read(["person_id", "ts", "days_late", "kind"])
    assert whole["person_id"].tolist() == ["a", "b", "c"]  # each part sorted by person and time
    assert whole["days_late"].tolist()[:2] == [0.0, 3.0] and pd.isna(whole["days_late"].iloc[2])
    assert staged.first == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-03")]


def test_month_dated_times_move_to_their_months_end_then_are_capped(tmp_path):
    staged = StagedEvents(tmp_path / "events")
    staged.add(_events(["a", "a"], ["2024-01-01", "2024-03-01"]), month_cap=pd.Timestamp("9999-12-31"))
    assert staged.latest_as_read == [pd.Timestamp("2024-03-01")] and staged.latest == [pd.Timestamp("2024-04-01")]
    staged.cap_times(pd.Timestamp("2024-03-15"))
    assert staged.read(["ts"])["ts"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-15")]
    staged.add(_events(["b"], ["2024-01-01"]), month_cap=pd.Timestamp("9999-12-31"))
    staged.same_columns()  # a rewritten part keeps the schema the others have
    assert len({str(pq.read_schema(p)) for p in staged.parts}) == 1


def test_a_bad_second_history_file_leaves_neither_the_data_set_nor_its_staging(tmp_path):
    files = _files(tmp_path)
    pd.read_csv(files["events:bills"]).assign(client="nobody").to_csv(files["events:bills"], index=False)
    with pytest.raises(DataValidationError, match="not a person_id"):
        ingest_with_spec(_spec(), files, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]  # no staging left behind
    with pytest.raises(DataValidationError, match="not a person_id"):
        ingest_with_spec(_spec(), files, tmp_path / "new" / "deeper" / "ds")
    assert not (tmp_path / "new").exists()  # nor the folders made for it
    (tmp_path / "good").mkdir()
    ds = ingest_with_spec(_spec(), _files(tmp_path / "good"), tmp_path / "ds")  # the shop's file, then the bills'
    assert sorted(p.name for p in ds.table_path("events").iterdir()) == ["part-0000.parquet", "part-0001.parquet"]


def test_a_part_written_a_slice_at_a_time_is_whole_and_sorted(tmp_path, monkeypatch):
    import deepcredit.data.staged_events as staged_events

    monkeypatch.setattr(staged_events, "SLICE_ROWS", 2)
    staged = StagedEvents(tmp_path / "events")
    staged.add(_events(["c", "a", "b", "a", "c"], ["2024-01-05", "2024-01-03", "2024-01-01", "2024-01-02",
                                                   "2024-01-04"], amount=[5.0, 3.0, 1.0, 2.0, 4.0]))
    assert pq.read_metadata(staged.parts[0]).num_row_groups == 3
    whole = staged.read(["person_id", "amount"])
    assert whole["person_id"].tolist() == ["a", "a", "b", "c", "c"] and whole["amount"].tolist() == [2, 3, 1, 4, 5]
