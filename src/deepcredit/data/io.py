"""Storage: atomic Parquet writes, resumable part-wise writers, fingerprints, library versions.

Why atomic: a crash must never leave a half-written table that a later run would trust. Every file is
written under a temporary name in the same directory and renamed into place (rename is atomic on POSIX);
a data set directory is assembled in a sibling staging directory and renamed as a whole.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{32}\.tmp$")


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temporary files an earlier, killed write of `path` left behind (`.NAME.<uuid>.tmp`).

    Why: os.replace never runs in a killed process, and its `finally` never cleans up, so without this the
    hidden temporary of every interrupted run would stay forever. Called before each atomic write of the
    same path; a writer of one path at a time is assumed (as for every output here).
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp")
             if (m := TEMP_RE.match(p.name)) and m["name"] == path.name]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: Path, table: pa.Table | pd.DataFrame) -> None:
    """Write one Parquet file atomically (zstd-compressed)."""
    path = Path(path)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_parquet_slices(path: Path, schema: pa.Schema, slices: Iterable[pa.Table]) -> None:
    """Write one Parquet file atomically from tables of `schema` given one after another (a row group or
    more each), so that only one slice need be in memory at a time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for table in slices:
                writer.write_table(table)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace_directory(staging: Path, final: Path) -> None:
    """Move a fully written staging directory into place, replacing any previous version."""
    final = Path(final)
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
    had_old = final.exists()
    if had_old:
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except BaseException:
        if had_old:
            os.replace(old, final)  # put the previous version back: never leave `final` missing
        raise
    shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def parquet_files(path: Path) -> list[Path]:
    """A table is one Parquet file or a directory of part files; list them in a stable order."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
    return [path]


def fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the bytes of every file, in order: identical data gives an identical fingerprint."""
    h = hashlib.sha256()
    for p in paths:
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def library_versions(names: Iterable[str] = (
    "deepcredit", "numpy", "pandas", "pyarrow", "duckdb", "scikit-learn", "optbinning", "lightgbm", "torch",
)) -> dict[str, str]:
    return dict(_versions(tuple(names)))


@functools.lru_cache(maxsize=16)
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Read once per process: installed versions do not change under a running process, and reading package
    metadata costs a third of a one-person re-score (the feature engine records them on every frame)."""
    versions: list[tuple[str, str]] = []
    for name in names:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(versions)
