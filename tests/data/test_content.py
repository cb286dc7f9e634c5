"""A table's content fingerprint: the same rows give the same hash however the Parquet was written (writer
settings, metadata, row groups, parts, types' widths) and in whatever order; any changed value changes it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.content import content_fingerprint
from deepcredit.data.io import fingerprint


def _rows(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "person_id": [f"p{i % 97:03d}" for i in range(n)],
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        "amount": rng.normal(100, 30, n).round(2),
        "days": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 90, n)), dtype="Int64"),
        "status": pd.Series(rng.choice(["ok", "late", None], n), dtype="string"),
        "flag": rng.random(n) < 0.5,
        "note": ["é" * (i % 4) for i in range(n)],
    })


def _write(table: pa.Table, path, **settings) -> list:
    pq.write_table(table, path, **settings)
    return [path]


def test_the_same_rows_written_another_way_have_one_content_fingerprint_and_other_bytes(tmp_path):
    """Another pyarrow or pandas version writes other bytes (metadata, row groups, encodings); so do other
    settings, a column order, parts, narrower types, nanoseconds, dictionaries: the content is the same."""
    frame = _rows()
    plain = _write(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "a.parquet", compression="zstd")
    table = pa.Table.from_pandas(frame.iloc[::-1][list(reversed(frame.columns))], preserve_index=False)
    table = table.replace_schema_metadata({"pandas": "written by another version", "writer": "x"})
    other = _write(table, tmp_path / "b.parquet", compression="snappy", row_group_size=33, use_dictionary=False,
                   write_statistics=False, data_page_version="2.0", store_schema=False)
    narrow = pa.table({"person_id": pa.array(frame["person_id"]).dictionary_encode(),
                       "ts": pa.array(frame["ts"]).cast(pa.timestamp("ns")),
                       "amount": frame["amount"], "days": pa.array(frame["days"], pa.int16()),
                       "status": pa.array(frame["status"], pa.large_string()), "flag": frame["flag"],
                       "note": pa.array(frame["note"], pa.large_string())})
    (tmp_path / "parts").mkdir()
    parts = [_write(narrow.slice(0, 200), tmp_path / "parts" / "part-0.parquet")[0],
             _write(narrow.slice(200), tmp_path / "parts" / "part-1.parquet", row_group_size=50)[0]]
    found = {content_fingerprint(files, spill=tmp_path) for files in (plain, other, parts)}
    assert len(found) == 1
    assert len({fingerprint(files) for files in (plain, other, parts)}) == 3  # the bytes all differ
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".content-")] == []  # its spill is gone


def test_any_changed_value_row_or_column_changes_the_content_fingerprint(tmp_path):
    frame = _rows()
    base = content_fingerprint(_write(pa.Table.from_pandas(frame), tmp_path / "base.parquet"))
    changed = {
        "a value": frame.assign(amount=frame["amount"].where(frame.index != 7, 0.5)),
        "a null": frame.assign(days=frame["days"].where(frame.index != 3, pd.NA)),
        "a text": frame.assign(note=[*frame["note"][:-1], "e"]),
        "a sub-microsecond time": frame.assign(ts=frame["ts"] + pd.to_timedelta([1] + [0] * (len(frame) - 1),
                                                                              unit="ns")),
        "a repeated row": pd.concat([frame, frame.iloc[:1]]),
        "a row less": frame.iloc[1:],
        "a column renamed": frame.rename(columns={"note": "notes"}),
        "a type": frame.assign(flag=frame["flag"].astype("int64")),
    }
    for what, other in changed.items():
        path = tmp_path / f"{what}.parquet"
        pq.write_table(pa.Table.from_pandas(other, preserve_index=False), path)
        assert content_fingerprint([path]) != base, what


def test_an_empty_table_has_a_content_fingerprint_of_its_columns(tmp_path):
    empty = _rows().iloc[:0]
    one = content_fingerprint(_write(pa.Table.from_pandas(empty), tmp_path / "a.parquet"))
    assert one == content_fingerprint(_write(pa.Table.from_pandas(empty), tmp_path / "b.parquet", row_group_size=1))
    assert one != content_fingerprint(_write(pa.Table.from_pandas(empty.drop(columns="note")), tmp_path / "c.parquet"))


def test_floats_the_sort_takes_for_equal_hash_alike_whatever_their_order(tmp_path):
    """-0.0 and 0.0 (and NaNs of other bits) tie in the canonical sort, so their order among ties is the
    input's: they are hashed as one value, or the same rows in another order would hash differently."""
    values = [0.0, -0.0, float("nan"), 1.5]
    a = content_fingerprint(_write(pa.table({"x": values, "k": [1, 1, 2, 2]}), tmp_path / "a.parquet"))
    b = content_fingerprint(_write(pa.table({"x": values[::-1], "k": [2, 2, 1, 1]}), tmp_path / "b.parquet"))
    assert a == b


def test_instants_hash_alike_whatever_the_machines_time_zone(tmp_path, monkeypatch):
    """DuckDB hands instants (times with a zone) over in its session's zone, the machine's by default: the
    zone's name must not enter the hash, or one data set would fingerprint differently on two machines."""
    import duckdb

    from deepcredit.data import content

    times = pd.to_datetime(["2024-01-01 10:00", "2024-06-30 23:30"]).tz_localize("Europe/Berlin")
    files = _write(pa.table({"t": pa.array(times), "k": [1, 2]}), tmp_path / "a.parquet")
    found, real = set(), duckdb.connect
    for zone in ("UTC", "America/New_York"):
        def connect(zone=zone):
            con = real()
            con.execute(f"SET TimeZone = '{zone}'")
            return con
        monkeypatch.setattr(content.duckdb, "connect", connect)
        found.add(content_fingerprint(files))
    assert len(found) == 1


def test_a_table_sorted_range_by_range_hashes_as_sorted_at_once(tmp_path, monkeypatch):
    """A large table is sorted a range of its first key at a time (within DuckDB's memory, not spilled);
    the ranges one after another are the whole order, so where they are cut changes nothing."""
    from deepcredit.data import content

    frame = _rows(2_000)
    frame.loc[frame.index % 13 == 0, "person_id"] = None  # rows without a key come last
    parts = [_write(pa.Table.from_pandas(frame.iloc[i::3], preserve_index=False), tmp_path / f"p{i}.parquet")[0]
             for i in range(3)]
    for lead in (["person_id", "ts"], ["ts"], ["days"], ["amount"]):
        whole = content_fingerprint(parts, lead=lead)
        monkeypatch.setattr(content, "CHUNK_ROWS", 90)
        assert len(content._ranges(content.duckdb.connect(), "read_parquet(['" + "', '".join(map(str, parts)) + "'])",
                                   lead[0], 2_000)) > (lead[0] != "amount")  # text, time, integer: in ranges
        assert content_fingerprint(parts, lead=lead) == whole, lead
        monkeypatch.setattr(content, "CHUNK_ROWS", 4_000_000)
