"""A table's content fingerprint: a hash of its rows' values, not of the Parquet bytes that hold them.

Why: the bytes embed the writer (pyarrow and pandas versions in the schema metadata, row-group sizes,
encodings) and the row order, so the same rows re-ingested under other library versions, or given in another
order, read as other data, although the features (aggregates over point-in-time views, read back in the
spine's order) and the models trained on them are the same (a shuffled copy of a simulated world trained
byte-identical model files; only float sums may differ in their last digit). So the rows are read back
through DuckDB, which sees only the Parquet logical types (no Arrow or pandas metadata), in a canonical
order: sorted by every column (rows that tie are identical), NULLs last; columns hashed by name. Rows stored
in that order already, or nearly (ingest and the simulator write events by person and time), are hashed in
their stored order, each checked to follow the one before (data/content_order.py): sorting 5 million events
took longer than reading and hashing them. A table found out of order is sorted by DuckDB, a range of the
first sort key at a time (_ranges), in MEMORY_LIMIT (spilling under `spill` past it); the hash is the same
either way. Arrow batches are hashed as they come, so a table of any size streams.

Each column is hashed as plain value streams that do not depend on how the batches are cut or on the Arrow
type widths a library version picks: which values are null; integers and booleans as int64, floats as
float64, timestamps as int64 microseconds (a nanosecond remainder where one is held), dates as int64 days,
text and bytes as their lengths and their bytes; any other type as its text. Hashlib's sha256 over those
streams is the only hand-made part: no library offers a hash of values stable across its versions (DuckDB's
hash() is not).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from deepcredit.data.content_order import OutOfOrder, in_canonical_order, may_be_in_order

FORMAT = 1
"""Bumped whenever the canonical form changes (a content hash of another format is other data)."""
BATCH_ROWS = 1 << 17
"""Rows fetched from DuckDB at a time: the memory of the hashing side, whatever the table's size."""
MEMORY_LIMIT = "1GB"
"""DuckDB's memory while it sorts: past it, the sort spills to disk (a table of 50 million events hashes in
about the memory a simulation of it takes; DuckDB's default would take most of the machine's)."""
CHUNK_ROWS = 4_000_000
"""Rows sorted at a time (_ranges): a range of a table's widest tables' rows sorts within MEMORY_LIMIT."""
UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}
OFFSET_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
"""Text types whose offsets and bytes are hashed as they are (other text is cast to large_binary first)."""


def content_fingerprint(files: list[Path], spill: Path | None = None, lead: Sequence[str] = ()) -> str:
    """sha256 of the rows the Parquet `files` hold (one table: a file or its parts), in the canonical form
    above; `spill`: where DuckDB may write while sorting (a temporary folder inside it, removed after).
    `lead`: the columns to sort by first, in this order (the table schema's: person, then time), then the
    rest by name. Any fixed order is canonical; one the stored parts are already nearly sorted by (ingest
    and the simulator write events by person and time) spares the sort."""
    folder = Path(tempfile.mkdtemp(prefix=".content-", dir=spill))
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = '{_quoted_text(str(folder))}'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        source = "read_parquet([" + ", ".join(f"'{_quoted_text(str(f))}'" for f in files) + "], union_by_name = true)"
        names = sorted(r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall())
        columns = ", ".join(_quoted_name(n) for n in names)
        keys = [n for n in lead if n in names] + [n for n in names if n not in lead]
        order = " ORDER BY " + ", ".join(f"{_quoted_name(n)} ASC NULLS LAST" for n in keys) if names else ""
        con.execute("SET preserve_insertion_order = true")  # the stored order, to hash it where it is canonical
        schema = con.sql(f"SELECT {columns} FROM {source} LIMIT 0").to_arrow_table().schema
        try:
            if not keys or not may_be_in_order(files, keys[0]):
                raise OutOfOrder
            with con.sql(f"SELECT {columns} FROM {source}").to_arrow_reader(BATCH_ROWS) as stored:
                tables = in_canonical_order(stored, schema, keys)
                hashers, rows = _hashed(schema, (batch for table in tables for batch in table.to_batches()))
        except OutOfOrder:
            ordered = (con.sql(f"SELECT {columns} FROM {source}{where}{order}", params=params).to_arrow_reader(BATCH_ROWS)
                       for where, params in _ranges(con, source, keys[0] if keys else None, _rows(files)))
            hashers, rows = _hashed(schema, (batch for reader in ordered for batch in reader))
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    head = {"format": FORMAT, "rows": rows, "columns": [[n, h.kind] for n, h in zip(names, hashers, strict=True)]}
    whole = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    for hasher in hashers:
        whole.update(hasher.digest().encode())
    return whole.hexdigest()


def _hashed(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> tuple[list[_ColumnHash], int]:
    """Each column's hash over the rows of `batches`, one after another, and how many rows there were."""
    hashers = [_ColumnHash(field.type) for field in schema]
    rows = 0
    for batch in batches:
        for hasher, column in zip(hashers, batch.columns, strict=True):
            hasher.update(column, rows)
        rows += batch.num_rows
    return hashers, rows


def _rows(files: list[Path]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _ranges(con: duckdb.DuckDBPyConnection, source: str, key: str | None, rows: int) -> list[tuple[str, list]]:
    """WHERE clauses (with their parameters) cutting the table into ranges of its first sort key of about
    CHUNK_ROWS rows each, in the key's order, the rows without a key last: each range sorts in memory, and
    the ranges one after another are the whole table's order, wherever the cuts fall (they come from a
    sample). Why: sorting 50 million events at once spilled gigabytes and took longer than simulating them;
    a range reads only the row groups whose statistics reach into it (the stored events are sorted by person
    within each part). One range where the table is small or the key is not text, a whole number or a time."""
    if key is None or rows <= CHUNK_ROWS:
        return [("", [])]
    name = _quoted_name(key)
    kind = str(con.execute(f"DESCRIBE SELECT {name} FROM {source}").fetchall()[0][1])
    if not (kind in ("VARCHAR", "DATE") or kind.startswith(("TIMESTAMP", "BIGINT", "INTEGER"))):
        return [("", [])]
    pieces = -(-rows // CHUNK_ROWS)
    sample = sorted(v for (v,) in con.execute(f"SELECT {name} FROM {source} USING SAMPLE reservoir({pieces * 100} "
                                              "ROWS) REPEATABLE (0)").fetchall() if v is not None)
    cuts = sorted({sample[len(sample) * i // pieces] for i in range(1, pieces)}) if sample else []
    if not cuts:
        return [("", [])]
    ranges = [(f" WHERE {name} < ?", [cuts[0]])]
    ranges += [(f" WHERE {name} >= ? AND {name} < ?", [lo, hi]) for lo, hi in zip(cuts, cuts[1:], strict=False)]
    return [*ranges, (f" WHERE {name} >= ?", [cuts[-1]]), (f" WHERE {name} IS NULL", [])]


def _quoted_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quoted_text(text: str) -> str:
    return text.replace("'", "''")


class _ColumnHash:
    """One column's value streams (nulls, values, and for text the lengths; for nanosecond times the
    remainders with their row numbers), each hashed as one byte stream across batches."""

    def __init__(self, arrow_type: pa.DataType) -> None:
        self.kind, self._values = _kind(arrow_type)
        self.streams = {"nulls": hashlib.sha256(), "values": hashlib.sha256(), "extra": hashlib.sha256()}

    def update(self, column: pa.Array, first_row: int) -> None:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        nulls = np.asarray(column.is_null(), dtype=np.uint8) if column.null_count else np.zeros(len(column), np.uint8)
        self.streams["nulls"].update(nulls.data)
        values, extra = self._values(column, first_row)
        self.streams["values"].update(values)
        self.streams["extra"].update(extra)

    def digest(self) -> str:
        return hashlib.sha256("".join(h.hexdigest() for h in self.streams.values()).encode()).hexdigest()


Bytes = bytes | memoryview
Streams = Callable[[pa.Array, int], tuple[Bytes, Bytes]]


def _kind(t: pa.DataType) -> tuple[str, Streams]:
    """The type's family (what the header records: a changed family is changed content) and its streams."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "integer" if pa.types.is_integer(t) else "boolean", _integers
    if pa.types.is_floating(t):
        return "float", _floats
    if pa.types.is_timestamp(t):  # an instant (its zone is DuckDB's session's, not the data's) or wall-clock
        return "timestamp[instant]" if t.tz else "timestamp", _times
    if pa.types.is_date(t):
        return "date", _dates
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", bool)(t):
        return "text", _text
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or getattr(pa.types, "is_binary_view", bool)(t):
        return "bytes", _text
    return f"other[{t}]", _as_text


def _plain(values: np.ndarray, dtype: str) -> memoryview:
    """The values' bytes as `dtype` (little-endian), without a copy where they are so already."""
    return np.ascontiguousarray(values, dtype=dtype).data


def _integers(column: pa.Array, first_row: int) -> tuple[Bytes, Bytes]:
    filled = pc.fill_null(column.cast(pa.int64(), safe=False), 0)
    return _plain(filled.to_numpy(zero_copy_only=False), "<i8"), b""


def _floats(column: pa.Array, first_row: int) -> tuple[Bytes, Bytes]:
    """float64; -0.0 as 0.0 and every NaN as one, since the sort takes them for equal (their order among
    ties would depend on the input's)."""
    values = pc.fill_null(column.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False) + 0.0  # a copy of its own
    values[np.isnan(values)] = np.nan
    return _plain(values, "<f8"), b""


def _times(column: pa.Array, first_row: int) -> tuple[Bytes, Bytes]:
    """Microseconds since the epoch; where nanoseconds are held, the rows and remainders that are not 0."""
    unit = column.type.unit
    raw = pc.fill_null(column.view(pa.int64()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if unit != "ns":
        return _plain(raw * UNITS[unit], "<i8"), b""
    micros, rest = np.divmod(raw, 1000)
    held = np.flatnonzero(rest)
    extra = np.stack([held + first_row, rest[held]]).T.astype("<i8").tobytes() if len(held) else b""
    return _plain(micros, "<i8"), extra


def _dates(column: pa.Array, first_row: int) -> tuple[Bytes, Bytes]:
    days = pc.fill_null(column.cast(pa.date32()).view(pa.int32()), 0)
    return _plain(days.to_numpy(zero_copy_only=False), "<i8"), b""


def _text(column: pa.Array, first_row: int) -> tuple[Bytes, Bytes]:
    """The bytes of every value one after another, and their lengths (which say where each ends)."""
    plain = column
    if column.null_count or not any(is_(column.type) for is_ in OFFSET_TYPES):  # a NULL may hold bytes
        plain = pc.fill_null(column.cast(pa.large_binary()), b"")
    width = "<i4" if pa.types.is_string(plain.type) or pa.types.is_binary(plain.type) else "<i8"
    offsets = np.frombuffer(plain.buffers()[1], dtype=width)[plain.offset:plain.offset + len(plain) + 1]
    data = plain.buffers()[2]
    body = memoryview(data)[offsets[0]:offsets[-1]] if data is not None and len(plain) else b""
    return body, _plain(np.diff(offsets), "<i8")


def _as_text(column: pa.Array, first_row: int) -> tuple[Bytes, Bytes]:
    """A type without a stream of its own (decimals, intervals, lists): each value's text."""
    return _text(pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.large_string()), first_row)
