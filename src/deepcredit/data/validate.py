"""Validation of the four tables: every bad input gets one clear error naming file, row and column.

Files are read in chunks (CSV or Parquet), each chunk is coerced to the canonical types of its
TableSpec with vectorised checks, and the first offending row is reported. Cross-table checks (unknown
people, duplicate keys) run after all tables are read. Nothing is written here: callers write only after
every table passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.schema import ColumnType, TableSpec

CHUNK_ROWS = 500_000


class DataValidationError(ValueError):
    """A data problem, located precisely enough for a person to open the file and fix it."""

    def __init__(self, file: str, problem: str, row: int | None = None, column: str | None = None,
                 line_offset: int | None = None) -> None:
        self.file, self.problem, self.row, self.column = file, problem, row, column
        where = [file]
        if row is not None:
            where.append(f"row {row}" + (f" (line {row + line_offset})" if line_offset else ""))
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(": ".join([", ".join(where), problem]))


@dataclass
class _Chunk:
    frame: pd.DataFrame
    first_row: int  # 1-based number of the chunk's first data row
    line_offset: int | None  # CSV: line = row + 1 (the header); Parquet: no lines


def _chunks(path: Path) -> Iterator[_Chunk]:
    """Yield raw chunks of a CSV (all strings) or Parquet file; fail clearly on anything else."""
    name = str(path)
    if not path.exists():
        raise DataValidationError(name, "file not found")
    if path.is_dir() or path.suffix == ".parquet":
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        row = 1
        for f in files:
            try:
                pf = pq.ParquetFile(f)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataValidationError(str(f), f"not a readable Parquet file ({exc})") from None
            for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
                frame = batch.to_pandas()
                yield _Chunk(frame, row, None)
                row += len(frame)
        return
    if path.stat().st_size == 0:
        raise DataValidationError(name, "the file is empty: expected a header row and data rows")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\x00" in head:
        raise DataValidationError(name, "this is not a CSV text file (it contains binary data)")
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS,
                             skipinitialspace=True, encoding="utf-8")
        row = 1
        for frame in reader:
            yield _Chunk(frame, row, 1)
            row += len(frame)
    except pd.errors.EmptyDataError:
        raise DataValidationError(name, "the file is empty: expected a header row and data rows") from None
    except pd.errors.ParserError as exc:
        raise DataValidationError(name, f"not a well-formed CSV file ({str(exc).strip()})") from None
    except UnicodeDecodeError:
        raise DataValidationError(name, "not a UTF-8 CSV text file") from None


def _first_bad(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _is_blank(values: pd.Series) -> np.ndarray:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        s = values.astype("string")
        return (s.isna() | (s.str.strip() == "")).to_numpy(dtype=bool)
    return values.isna().to_numpy()


def _coerce_column(values: pd.Series, ctype: ColumnType) -> tuple[pd.Series, np.ndarray]:
    """Return the typed column and a mask of non-blank values that could not be converted."""
    blank = _is_blank(values)
    if ctype is ColumnType.STRING:
        out = values.astype("string").str.strip()
        out[blank] = pd.NA
        return out, np.zeros(len(values), dtype=bool)
    if ctype in (ColumnType.INT, ColumnType.FLOAT):
        if pd.api.types.is_bool_dtype(values):
            values = values.astype(int)
        num = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = num.isna().to_numpy() & ~blank
        if ctype is ColumnType.INT:
            frac = num.notna().to_numpy() & np.isfinite(num.to_numpy()) & (num.to_numpy() % 1 != 0)
            bad |= frac
        return num, bad
    if ctype is ColumnType.BOOL:
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean"), np.zeros(len(values), dtype=bool)
        s = values.astype("string").str.strip().str.lower()
        mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False,
                   "1.0": True, "0.0": False}
        out = s.map(mapping).astype("boolean")
        bad = out.isna().to_numpy() & ~blank
        return out, bad
    if ctype is ColumnType.TIMESTAMP:
        if pd.api.types.is_datetime64_any_dtype(values):
            out = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
            return out.astype("datetime64[us]"), np.zeros(len(values), dtype=bool)
        out = pd.to_datetime(values.where(~blank), errors="coerce", format="ISO8601")
        bad = out.isna().to_numpy() & ~blank
        return out.astype("datetime64[us]"), bad
    raise AssertionError(ctype)


def validate_chunk(chunk: _Chunk, spec: TableSpec, file: str,
                   snapshot: pd.Timestamp | None) -> pd.DataFrame:
    """Coerce one chunk to canonical types; raise on the first problem found."""
    frame = chunk.frame

    def fail(problem: str, i: int | None = None, column: str | None = None) -> None:
        row = None if i is None else chunk.first_row + i
        raise DataValidationError(file, problem, row, column,
                                  chunk.line_offset if i is not None else None)

    present = set(frame.columns)
    for col in spec.columns:
        if col.required and col.name not in present:
            fail(f"required column is missing (the header has: {', '.join(map(str, frame.columns))})",
                 column=col.name)
    if not spec.extra_columns_allowed:
        unknown = [c for c in frame.columns if c not in spec.names]
        if unknown:
            fail(f"unknown column (expected some of: {', '.join(spec.names)})", column=str(unknown[0]))
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name not in present:
            continue
        raw = frame[col.name]
        typed, bad = _coerce_column(raw, col.type)
        i = _first_bad(bad)
        if i is not None:
            fail(f"{raw.iloc[i]!r} is not a valid {col.type.value}", i, col.name)
        if col.type is ColumnType.FLOAT:
            arr = typed.to_numpy(dtype="float64", na_value=np.nan)
            i = _first_bad(np.isinf(arr))
            if i is not None:
                fail(f"{raw.iloc[i]!r} is infinite: amounts must be finite numbers", i, col.name)
            nan_mask = np.isnan(arr) & ~_is_blank(raw)
            i = _first_bad(nan_mask)
            if i is not None:
                fail("NaN is not a number: leave the cell empty where a value is unknown", i, col.name)
        if not col.nullable:
            i = _first_bad(typed.isna().to_numpy())
            if i is not None:
                fail("a value is required here but the cell is empty", i, col.name)
        if col.allowed is not None:
            as_text = typed.astype("Int64").astype("string") if col.type is ColumnType.INT else typed
            ok = as_text.isna().to_numpy() | as_text.isin(col.allowed).to_numpy(dtype=bool)
            i = _first_bad(~ok)
            if i is not None:
                fail(f"{raw.iloc[i]!r} is not one of {', '.join(sorted(col.allowed))}", i, col.name)
        if col.type is ColumnType.TIMESTAMP and snapshot is not None:
            late = (typed > snapshot).to_numpy(dtype=bool, na_value=False)
            i = _first_bad(late)
            if i is not None:
                fail(f"{typed.iloc[i]} is after the data set's snapshot date {snapshot.date()}",
                     i, col.name)
        if col.type is ColumnType.INT:
            typed = typed.astype("Int64")
        out[col.name] = typed.reset_index(drop=True)
    return pd.DataFrame(out)


def read_and_validate(path: Path, spec: TableSpec, snapshot: pd.Timestamp | None = None) -> pd.DataFrame:
    """Read a whole CSV/Parquet table, validated and typed; raise DataValidationError on bad input."""
    path = Path(path)
    parts = [validate_chunk(c, spec, str(path), snapshot) for c in _chunks(path)]
    if not parts or sum(len(p) for p in parts) == 0:
        raise DataValidationError(str(path), "the table has a header but no data rows")
    frame = pd.concat(parts, ignore_index=True)
    if spec.key:
        check_unique(frame, spec.key, str(path), line_offset=None if path.suffix == ".parquet" else 1)
    return frame


def check_unique(frame: pd.DataFrame, key: tuple[str, ...], file: str, line_offset: int | None) -> None:
    dup = frame.duplicated(list(key), keep="first").to_numpy()
    i = _first_bad(dup)
    if i is not None:
        first = int(np.flatnonzero(
            (frame[list(key)] == frame.loc[i, list(key)]).all(axis=1).to_numpy())[0])
        value = ", ".join(str(frame.at[i, k]) for k in key)
        raise DataValidationError(file, f"duplicate {'/'.join(key)} {value!r} (first seen in row {first + 1})",
                                  i + 1, key[0], line_offset)


def check_known_people(frame: pd.DataFrame, columns: tuple[str, ...], people: pd.Index, file: str,
                       line_offset: int | None) -> None:
    """Every person referred to must exist in the people table."""
    for col in columns:
        unknown = ~frame[col].isin(people).to_numpy(dtype=bool)
        i = _first_bad(unknown)
        if i is not None:
            raise DataValidationError(
                file, f"{frame.at[i, col]!r} is not a person_id in the people table", i + 1, col, line_offset)
