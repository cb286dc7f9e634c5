"""data.ingest.file_columns: a file that is not readable Parquet is one error naming it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepcredit.data.errors import DataValidationError
from deepcredit.data.ingest import file_columns


def test_a_truncated_parquet_file_is_named_and_said_unreadable(tmp_path: Path) -> None:
    whole = tmp_path / "people.parquet"
    pd.DataFrame({"person_id": ["p1", "p2"], "age": [30, 40]}).to_parquet(whole)
    assert file_columns(whole) == ["person_id", "age"]
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    with pytest.raises(DataValidationError, match=r"cut\.parquet: not a readable Parquet file") as err:
        file_columns(cut)
    assert str(err.value).startswith(str(cut))
