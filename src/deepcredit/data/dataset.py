"""A stored data set: a directory holding the four tables as Parquet plus manifest.json.

    DIR/manifest.json        name, snapshot date, per-table rows and sha256 fingerprint
    DIR/people.parquet       one file ...
    DIR/events/part-*.parquet  ... or a directory of parts (large, streamed tables)
    DIR/relations.parquet, DIR/outcomes.parquet, optional extras (truth.parquet for simulated worlds)

Models and features never read files themselves: they go through Dataset, which exposes every table
as a DuckDB view (and, later, a Spark DataFrame) under the table's name.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from deepcredit.data.io import (
    atomic_write_json,
    atomic_write_parquet,
    fingerprint,
    parquet_files,
    replace_directory,
)
from deepcredit.data.schema import TABLES, DatasetManifest
from deepcredit.data.validate import (
    DataValidationError,
    check_known_people,
    read_and_validate,
)

MANIFEST = "manifest.json"


class Dataset:
    """Read access to a stored data set; checks its manifest and table schemas on open."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.exists():
            raise DataValidationError(str(path), "not a DeepCredit data set (manifest.json is missing)")
        try:
            self.manifest = DatasetManifest(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataValidationError(str(path), f"unreadable manifest ({exc})") from None
        for name in TABLES:
            if name not in self.manifest.tables:
                raise DataValidationError(str(path), f"the manifest lists no '{name}' table")
            self._check_columns(name)

    # -- paths and metadata ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def snapshot_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest.snapshot_date)

    def table_path(self, name: str) -> Path:
        entry = self.manifest.tables.get(name) or self.manifest.extras.get(name)
        if entry is None:
            raise KeyError(f"{self.root}: no table named {name!r}")
        return self.root / (entry["path"] if isinstance(entry, dict) else entry)

    def has(self, name: str) -> bool:
        return name in self.manifest.tables or name in self.manifest.extras

    def fingerprint(self) -> str:
        """One hash for the whole data set, from the manifest's per-table hashes."""
        parts = [f"{n}:{self.manifest.tables[n]['sha256']}" for n in sorted(self.manifest.tables)]
        return fingerprint_text("\n".join(parts))

    def _check_columns(self, name: str) -> None:
        spec = TABLES[name]
        files = parquet_files(self.table_path(name))
        if not files or not files[0].exists():
            raise DataValidationError(str(self.table_path(name)), "table file is missing")
        columns = set(pq.read_schema(files[0]).names)
        for col in spec.columns:
            if col.required and col.name not in columns:
                raise DataValidationError(str(files[0]), "required column is missing", column=col.name)

    # -- access -----------------------------------------------------------------------------------
    def scan(self, name: str) -> str:
        """A DuckDB table expression reading the table's Parquet file(s)."""
        path = self.table_path(name)
        pattern = str(path / "*.parquet") if path.is_dir() else str(path)
        return f"read_parquet('{pattern}')"

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per table (people, events, relations, outcomes, extras)."""
        con = con or duckdb.connect()
        for name in [*self.manifest.tables, *self.manifest.extras]:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {self.scan(name)}")
        return con

    def read(self, name: str) -> pd.DataFrame:
        return self.connect().execute(f"SELECT * FROM {name}").df()


def fingerprint_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _table_entry(root: Path, rel: str) -> dict:
    files = parquet_files(root / rel)
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return {"path": rel, "rows": rows, "sha256": fingerprint(files)}


def finalize_dataset(staging: Path, out: Path, name: str, snapshot_date: str, description: str = "",
                     extras: tuple[str, ...] = ()) -> Dataset:
    """Write the manifest for a fully written staging directory and move it into place atomically."""
    tables = {}
    for t in TABLES:
        rel = f"{t}.parquet" if (staging / f"{t}.parquet").exists() else t
        tables[t] = _table_entry(staging, rel)
    extra_entries = {}
    for e in extras:
        rel = f"{e}.parquet" if (staging / f"{e}.parquet").exists() else e
        extra_entries[e] = _table_entry(staging, rel)
    manifest = DatasetManifest(name=name, snapshot_date=str(pd.Timestamp(snapshot_date).date()),
                               description=description, tables=tables, extras=extra_entries)
    atomic_write_json(staging / MANIFEST, asdict(manifest))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_directory(staging, out)
    return Dataset(out)


def staging_dir(out: Path) -> Path:
    out = Path(out)
    path = out.with_name(f".{out.name}.{uuid.uuid4().hex}.staging")
    path.mkdir(parents=True)
    return path


def write_dataset(out: Path, frames: dict[str, pd.DataFrame], name: str, snapshot_date: str,
                  description: str = "") -> Dataset:
    """Write in-memory tables (already validated) as a data set; all or nothing."""
    staging = staging_dir(out)
    try:
        for t, frame in frames.items():
            atomic_write_parquet(staging / f"{t}.parquet", frame)
        extras = tuple(t for t in frames if t not in TABLES)
        return finalize_dataset(staging, out, name, snapshot_date, description, extras)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise


def validate_tables(sources: dict[str, Path], snapshot_date: str) -> dict[str, pd.DataFrame]:
    """Read and validate the four tables from CSV/Parquet files, including cross-table checks."""
    missing = [t for t in TABLES if t not in sources]
    if missing:
        raise DataValidationError(", ".join(missing), "no file was given for this table")
    snapshot = pd.Timestamp(snapshot_date)
    frames = {t: read_and_validate(Path(sources[t]), TABLES[t], snapshot) for t in TABLES}
    people = pd.Index(frames["people"]["person_id"])
    refs = {"events": ("person_id",), "relations": ("source", "target"), "outcomes": ("person_id",)}
    for t, cols in refs.items():
        path = Path(sources[t])
        check_known_people(frames[t], cols, people, str(path), None if path.suffix == ".parquet" else 1)
    return frames


def ingest(sources: dict[str, Path], out: Path, name: str, snapshot_date: str,
           description: str = "") -> Dataset:
    """Validate a user's four tables and store them; on any error nothing is written."""
    frames = validate_tables(sources, snapshot_date)
    return write_dataset(out, frames, name, snapshot_date, description)
