"""A table's rows in the content hash's canonical order (data/content.py) without DuckDB's sort, where the
stored order nearly is that order already.

Why: sorting every column of the simulator's 5 million events took longer than reading and hashing them,
while they are stored by person and time (ingest and the simulator write them so; only rows that tie on both
may come in another order). So the rows are read in their stored order, a batch at a time, and every row is
checked to come at or after the one before in DuckDB's order (NULLS LAST, NaN above every number, -0.0 and
0.0 alike, text by its bytes): rows in that order are the sorted rows, but for the order of rows that tie,
which hash alike. A batch out of order is sorted on its own (Arrow), the rows of its last first-key value held
back for the next batch (they may continue there). Where the check still fails (the rows are not nearly
sorted, or a column's type is one the check does not know), OutOfOrder says so and the caller sorts in
DuckDB: the hash is the same either way, only the time differs (a table found out of order late was read
twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HELD_ROWS = 1 << 17
"""At most this many rows of one first-key value are held back for the next batch (the memory it takes)."""


class OutOfOrder(Exception):
    """The stored rows are not nearly in the canonical order: sort them."""


def in_canonical_order(batches: Iterable[pa.RecordBatch], schema: pa.Schema, keys: Sequence[str]) -> Iterator[pa.Table]:
    """The rows of `batches` (of `schema`), in the order of `keys` (every column), as tables one after another;
    raises OutOfOrder (maybe after some were given) where they are not nearly in that order."""
    if not keys or not all(_comparable(field.type) for field in schema):
        raise OutOfOrder
    held, last = schema.empty_table(), schema.empty_table()
    for batch in batches:
        rows = pa.concat_tables([held, pa.Table.from_batches([batch], schema)])
        cut = _run_start(rows, keys[0])
        cut = cut if rows.num_rows - cut < HELD_ROWS else rows.num_rows
        ready, held = _checked(rows.slice(0, cut), last, keys), rows.slice(cut)
        if ready.num_rows:
            last = ready.slice(ready.num_rows - 1)
            yield ready
    if held.num_rows:
        yield _checked(held, last, keys)


def may_be_in_order(files: Sequence[Path], key: str) -> bool:
    """False where the files' row-group statistics already show the stored rows out of the order of their first
    `key` (a row group starting below where the one before ends, or values after NULLs): such a table, e.g.
    ingest's events written history file by history file, is sorted at once instead of read twice. True
    where they do not tell (no statistics, types that do not compare)."""
    highest, nulls = None, False
    try:
        for file in files:
            meta = pq.ParquetFile(file).metadata
            where = [j for j in range(meta.num_columns) if meta.schema.column(j).path == key]
            for group in range(meta.num_row_groups) if where else ():
                stats = meta.row_group(group).column(where[0]).statistics
                if stats is None or not stats.has_min_max and not stats.has_null_count:
                    return True
                if stats.has_min_max:
                    if nulls or highest is not None and stats.min < highest:
                        return False
                    highest = stats.max
                nulls = nulls or bool(stats.has_null_count and stats.null_count)
    except (TypeError, ValueError):
        return True
    return True


def _comparable(t: pa.DataType) -> bool:
    return (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_floating(t) or pa.types.is_timestamp(t)
            or pa.types.is_date(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t))


def _run_start(rows: pa.Table, key: str) -> int:
    """Where the run of rows sharing the last row's `key` begins (the rows that may continue in the next batch)."""
    column = rows.column(key)
    if not len(column):
        return 0
    last = column[len(column) - 1]
    same = pc.equal(column, last) if last.is_valid else column.is_null()
    differs = np.flatnonzero(~_bools(same))
    return int(differs[-1]) + 1 if len(differs) else 0


def _checked(rows: pa.Table, last: pa.Table, keys: Sequence[str]) -> pa.Table:
    """`rows`, sorted if they are not in order, after checking that they follow `last` (the row before)."""
    if not rows.num_rows or _ordered(pa.concat_tables([last, rows]), keys):
        return rows
    rows = rows.take(pc.sort_indices(rows, sort_keys=[(key, "ascending", "at_end") for key in keys]))
    if not _ordered(pa.concat_tables([last, rows]), keys):
        raise OutOfOrder
    return rows


def _ordered(rows: pa.Table, keys: Sequence[str]) -> bool:
    """Whether each row comes at or after the one before, comparing the next key only where all before tie."""
    pairs: np.ndarray | None = None  # the rows i whose pair (i, i + 1) ties on the keys so far; None: all
    for key in keys:
        column = rows.column(key)
        if pairs is None or len(pairs) > len(column) // 8:  # most pairs: all of them at once, no copy
            later, tied = _compare(column.slice(0, len(column) - 1), column.slice(1))
            later, tied = (later, tied) if pairs is None else (later[pairs], tied[pairs])
        else:
            later, tied = _compare(column.take(pairs), column.take(pairs + 1))
        if later.any():
            return False
        pairs = np.flatnonzero(tied) if pairs is None else pairs[tied]
        if not len(pairs):
            break
    return True


def _compare(before: pa.ChunkedArray, after: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: whether `before` sorts after `after`, and whether they tie, in DuckDB's order."""
    rank_before, rank_after = _rank(before), _rank(after)
    valued = (rank_before == 0) & (rank_after == 0)
    later = (rank_before > rank_after) | (valued & _bools(pc.greater(before, after)))
    tied = (rank_before == rank_after) & (~valued | _bools(pc.equal(before, after)))
    return later, tied


def _rank(column: pa.ChunkedArray) -> np.ndarray:
    """0 for a value, 1 for NaN (above every number), 2 for NULL (last)."""
    rank = np.zeros(len(column), dtype=np.int8)
    if pa.types.is_floating(column.type):
        rank[_bools(pc.is_nan(column))] = 1
    if column.null_count:
        rank[_bools(column.is_null())] = 2
    return rank


def _bools(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False), dtype=bool)
