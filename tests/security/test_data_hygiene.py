"""Ingest refuses meaningless event values and duplicates; killed writes leave no temporaries behind (item 9)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepcredit.data.dataset import validate_tables
from deepcredit.data.io import atomic_write_bytes, atomic_write_parquet, remove_stale_temps
from deepcredit.data.validate import DataValidationError

SNAPSHOT = "2024-06-30"
HEADER = "person_id,ts,kind,amount,status,due_ts,days_late,counterparty\n"
GOOD = ("p1,2024-01-05,repayment,120.5,on_time,2024-01-05,0,bank_a\n"
        "p2,2024-02-01,bill,-60,late,2024-01-25,7,utility_co\n"      # a credit balance: negative is meaningful
        "p1,2024-02-03,rating,-3,negative,,,p2\n")                    # so is a negative rating
OTHERS = {"people": "person_id\np1\np2\n", "relations": "source,target,kind,weight,ts\n",
          "outcomes": "person_id,as_of,label,window_days\np1,2024-01-01,0,90\n"}


def _tables(tmp_path: Path, events: str) -> dict[str, Path]:
    files = {}
    for name, text in {**OTHERS, "events": HEADER + events}.items():
        files[name] = tmp_path / f"{name}.csv"
        files[name].write_text(text)
    return files


def test_meaningful_negative_amounts_are_accepted(tmp_path):
    assert len(validate_tables(_tables(tmp_path, GOOD), SNAPSHOT)["events"]) == 3


@pytest.mark.parametrize("row, line, column, fragment", [
    ("p1,2024-03-01,rental,20,returned_late,2024-02-20,-4,shop\n", 5, "days_late", "negative"),
    ("p1,2024-03-01,instalment,-50,on_time,2024-03-01,0,bank\n", 5, "amount", "means nothing for an instalment"),
    ("p1,2024-01-05,repayment,120.5,on_time,2024-01-05,0,bank_a\n", 5, None, "exact duplicate of row 1"),
])
def test_meaningless_values_and_duplicate_rows_are_refused(tmp_path, row, line, column, fragment):
    with pytest.raises(DataValidationError) as err:
        validate_tables(_tables(tmp_path, GOOD + row), SNAPSHOT)
    e = err.value
    assert fragment in str(e) and e.line == line and e.column == column and "events.csv" in str(e)


def test_a_killed_writes_temporary_is_removed_by_the_next_write(tmp_path):
    out = tmp_path / "X.parquet"
    stale = tmp_path / ".X.parquet.0123456789abcdef0123456789abcdef.tmp"
    stale.write_bytes(b"PAR1 half a file")  # what kill -9 in the middle of a write leaves
    other = tmp_path / ".Y.parquet.0123456789abcdef0123456789abcdef.tmp"  # another file's: not ours to remove
    other.write_bytes(b"x")
    atomic_write_parquet(out, pd.DataFrame({"a": [1, 2]}))
    assert not stale.exists() and other.exists() and pd.read_parquet(out)["a"].tolist() == [1, 2]
    stale.write_bytes(b"x")
    atomic_write_bytes(out, b"y")
    assert not stale.exists()
    assert remove_stale_temps(tmp_path / "nowhere" / "Z.parquet") == []
