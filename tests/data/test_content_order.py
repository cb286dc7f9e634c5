"""Rows stored (nearly) in the content hash's canonical order are hashed in their stored order, without DuckDB's
sort; the hash is the sorted one's to the byte, whichever way it was reached."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepcredit.data import content, content_order
from deepcredit.data.content import content_fingerprint

KEYS = ["person_id", "ts", "kind", "amount", "day", "flag", "blob", "ns", "nanos"]


def _rows(n: int = 3_000) -> pa.Table:
    """Few distinct values per column, so rows tie on the first keys and differ later; NULLs, NaN, -0.0
    and 0.0, text by its bytes (é after z), sub-microsecond times; some rows repeated whole."""
    rng = np.random.default_rng(1)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    table = pa.table({
        "person_id": pa.array(pick(["a", "b", "é", "z", "E", None]), pa.string()),
        "ts": pa.array(pick([0, 1, None]), pa.int64()).cast(pa.timestamp("us")),
        "kind": pa.array(pick(["order", "bill", "", None]), pa.string()),
        "amount": pa.array(pick([0.0, -0.0, float("nan"), 1.5, -2.0, float("inf"), None]), pa.float64()),
        "day": pa.array(pick([0, 19_000, None]), pa.int32()).cast(pa.date32()),
        "flag": pa.array(pick([True, False, None]), pa.bool_()),
        "blob": pa.array(pick([b"\x00", b"\xff", b"", None]), pa.binary()),
        "ns": pa.array(pick([5, 1_000, 1_001, None]), pa.int64()).cast(pa.timestamp("ns")),
        "nanos": pa.array(pick([1, -1, None]), pa.int8()),
    })
    return pa.concat_tables([table, table.slice(0, 50)])


def _canonical(table: pa.Table, keys: list[str] = KEYS, seed: int = 0) -> pa.Table:
    """`table` in DuckDB's order of `keys` (the sorted path's), rows that tie on them in a random order."""
    rows = table.append_column("random", pa.array(np.random.default_rng(seed).random(table.num_rows)))
    order = ", ".join(f'"{k}" ASC NULLS LAST' for k in keys)
    con = duckdb.connect()
    con.register("stored", rows)
    return con.sql(f"SELECT * EXCLUDE (random) FROM stored ORDER BY {order}, random").to_arrow_table()


def _write(table: pa.Table, path, **settings) -> list:
    pq.write_table(table, path, **settings)
    return [path]


def _sorted_path(files: list, monkeypatch) -> str:
    def out_of_order(*args, **kwargs):
        raise content_order.OutOfOrder
        yield
    with monkeypatch.context() as m:
        m.setattr(content, "in_canonical_order", out_of_order)
        return content_fingerprint(files, lead=KEYS)


def _stored_path(files: list, monkeypatch) -> str:
    def refused(*args, **kwargs):
        raise AssertionError("sorted in DuckDB")
    with monkeypatch.context() as m:
        m.setattr(content, "_ranges", refused)
        return content_fingerprint(files, lead=KEYS)


def test_rows_stored_in_canonical_order_hash_without_the_sort_as_sorted(tmp_path, monkeypatch):
    """Ties in any order (the -0.0s and 0.0s, the NaNs, repeated rows): the stored order is hashed as is."""
    table = _canonical(_rows())
    stored = _write(table, tmp_path / "a.parquet")
    again = _write(_canonical(table, seed=1), tmp_path / "b.parquet")  # the same order, but ties in another
    parts = [_write(table.slice(0, 1_000), tmp_path / "p0.parquet", row_group_size=77)[0],
             _write(table.slice(1_000), tmp_path / "p1.parquet")[0]]
    sorted_once = _sorted_path(stored, monkeypatch)
    assert {_stored_path(files, monkeypatch) for files in (stored, again, parts)} == {sorted_once}
    assert _sorted_path(parts, monkeypatch) == sorted_once


def test_rows_out_of_order_within_batches_and_across_them_are_put_in_order_batch_by_batch(tmp_path, monkeypatch):
    """Stored by the first key only (the rows of one person in any order, running across batches): each
    batch is sorted on its own, the last person's rows held back for the next one."""
    by_person = _canonical(_rows(), ["person_id"])
    files = _write(by_person, tmp_path / "a.parquet")
    sorted_once = _sorted_path(files, monkeypatch)
    for batch, held in ((1 << 17, 1 << 17), (97, 1_000), (97, 10)):  # one batch; several; a person too many
        monkeypatch.setattr(content, "BATCH_ROWS", batch)
        monkeypatch.setattr(content_order, "HELD_ROWS", held)
        if held == 10:  # a person's rows run past what is held: found out of order, sorted in DuckDB
            assert content_fingerprint(files, lead=KEYS) == sorted_once
            with pytest.raises(AssertionError, match="sorted in DuckDB"):
                _stored_path(files, monkeypatch)
        else:
            assert _stored_path(files, monkeypatch) == sorted_once


def test_rows_not_nearly_in_order_or_of_types_the_check_does_not_know_are_sorted_in_duckdb(tmp_path, monkeypatch):
    table = _canonical(_rows())
    shuffled = _write(table.take(np.random.default_rng(4).permutation(table.num_rows)), tmp_path / "a.parquet")
    late = _write(pa.concat_tables([table.slice(1), table.slice(0, 1)]), tmp_path / "b.parquet")  # found last
    sorted_once = _sorted_path(shuffled, monkeypatch)
    for files in (shuffled, late):
        assert content_fingerprint(files, lead=KEYS) == sorted_once
        with pytest.raises(AssertionError, match="sorted in DuckDB"):
            _stored_path(files, monkeypatch)
    decimals = _write(pa.table({"x": pa.array([1, 2], pa.decimal128(5, 2))}), tmp_path / "c.parquet")
    with pytest.raises(AssertionError, match="sorted in DuckDB"):
        _stored_path(decimals, monkeypatch)


@pytest.mark.parametrize("key", KEYS)
def test_the_order_check_takes_duckdbs_sorted_rows_and_refuses_any_pair_swapped(key):
    """The check's order is DuckDB's: it accepts DuckDB's sorted rows, and refuses them with two rows that
    do not tie swapped, whatever column first tells them apart."""
    table = _canonical(_rows(400).select([key]), [key])
    assert content_order._ordered(table, [key])
    values = table[key].to_pylist()
    distinct = [i for i in range(1, len(values)) if repr(values[i]) != repr(values[i - 1])
                and not (values[i] == 0 and values[i - 1] == 0)]  # -0.0 and 0.0 tie
    for i in distinct:
        swapped = np.arange(len(values))
        swapped[[i - 1, i]] = [i, i - 1]
        assert not content_order._ordered(table.take(swapped), [key]), (values[i - 1], values[i])


def test_the_hashes_are_the_ones_the_sort_always_gave(tmp_path):
    """Stored data sets and records name these hashes: skipping the sort changed none (the values below are
    what the code before it gave, on the sorted rows, on them shuffled, and with the columns' names' order)."""
    table = _canonical(_rows())
    shuffled = table.take(np.random.default_rng(4).permutation(table.num_rows))
    sorted_hash = "167f3bea7be276a0779ff6c303fbc0d09e330de56d99504f9a042ef8555e3b68"
    assert content_fingerprint(_write(table, tmp_path / "a.parquet"), lead=KEYS) == sorted_hash
    assert content_fingerprint(_write(shuffled, tmp_path / "b.parquet"), lead=KEYS) == sorted_hash
    assert content_fingerprint(_write(table, tmp_path / "c.parquet")) == (
        "7d6721fb4cb4075f83e3691393f0952f7f9b2b0405a3de57a1fe6c5659235e77")


def test_parts_whose_statistics_show_them_out_of_order_are_sorted_without_a_first_read(tmp_path, monkeypatch):
    """Ingest writes its events history file by history file, each part by person: the person ids start over
    in the second part, which its row groups' statistics tell before a row is read."""
    table = _canonical(_rows())
    restarting = [_write(table.take(np.arange(i, table.num_rows, 2)), tmp_path / f"p{i}.parquet", row_group_size=100)[0]
                  for i in (0, 1)]  # each part in order, the two one after another not
    unknown = _write(table, tmp_path / "a.parquet", write_statistics=False)
    assert not content_order.may_be_in_order(restarting, "person_id")
    last = table.slice(table.num_rows - 600)  # the last person's rows, then those without one
    assert not content_order.may_be_in_order(_write(last.take(np.arange(599, -1, -1)), tmp_path / "b.parquet",
                                                    row_group_size=50), "person_id")  # NULLs first
    assert content_order.may_be_in_order(unknown, "person_id")
    assert content_order.may_be_in_order(_write(table, tmp_path / "c.parquet", row_group_size=100), "person_id")

    def read(*args, **kwargs):
        raise AssertionError("read in the stored order")
    sorted_once = _sorted_path(unknown, monkeypatch)
    assert _stored_path(unknown, monkeypatch) == sorted_once
    monkeypatch.setattr(content, "in_canonical_order", read)
    assert content_fingerprint(restarting, lead=KEYS) == sorted_once
