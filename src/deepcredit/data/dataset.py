"""A stored data set: a directory holding the four tables as Parquet plus manifest.json.

    DIR/manifest.json        name, snapshot date, per-table rows, files' sha256 and content hash, spec hash
    DIR/spec.json            what the tables mean (data/spec.py); part of the fingerprint
    DIR/people.parquet       one file ...
    DIR/events/part-*.parquet  ... or a directory of parts (large, streamed tables)
    DIR/relations.parquet, DIR/outcomes.parquet, optional extras (truth.parquet for simulated worlds)

Models and features never read files themselves: they go through Dataset, which exposes every table
as a DuckDB view (and, later, a Spark DataFrame) under the table's name.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.content import content_fingerprint
from deepcredit.data.io import (
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    fingerprint,
    is_manifest_of,
    parquet_files,
    replace_directory,
    writes_out,
)
from deepcredit.data.io import check_replaceable as check_output
from deepcredit.data.io import staging_dir as staging_dir
from deepcredit.data.schema import TABLES, DatasetManifest
from deepcredit.data.spec import BUILTIN, DatasetSpec, builtin_spec, parse_spec
from deepcredit.data.validate import (
    DataValidationError,
    check_known_people,
    line_offset_for,
    read_and_validate,
    with_exact_line,
)

MANIFEST = "manifest.json"
SPEC = "spec.json"
CONTENT = "content_sha256"
"""A table's manifest entry's hash of its rows' values (data.content), beside the files' sha256."""
MAY_BE_EMPTY = frozenset({"relations"})
"""Tables that may have columns but no rows: a data set without a network (UCI) is still a data set."""


def new_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database for DeepCredit's own queries: without DuckDB's progress bar, which it
    prints to stdout for any statement past two seconds and which would cut through the CLI's own progress
    display (a batch job's two feature sessions at once cross that mark)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # set per connection (its cursors inherit it)
    return con


class Dataset:
    """Read access to a stored data set; checks its manifest and table schemas on open."""

    provided_steps: frozenset[str] = frozenset()
    """Steps of the feature plan that `connect` creates as tables itself (a narrowed data set can bring
    results computed beforehand); a stored data set brings none."""

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
    def time_zone(self) -> str | None:
        """The zone whose wall-clock times the tables hold (None: UTC): the scoring service keeps its clock
        in it, so a reported event and the stored ones share one calendar."""
        return self.manifest.time_zone or None

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

    def checked_fingerprint(self) -> str:
        """fingerprint(), once every table's files are checked against the sha256 the manifest records.

        Why: the fingerprint is read from the manifest, so a table file replaced in place (a data set is
        never edited: re-ingest it) would keep the old identity, and a scoring job of the old data would be
        taken as done. Reading every byte costs about a second per 500 MB; scoring and training read them
        anyway."""
        for name, entry in self.manifest.tables.items():
            path = self.table_path(name)
            found = fingerprint(parquet_files(path))
            if found != entry["sha256"]:
                raise DataValidationError(str(path), f"the {name} table changed after the data set was written "
                                                     f"(its files' sha256 is {found[:12]}..., the manifest records "
                                                     f"{entry['sha256'][:12]}...): a data set is never edited in "
                                                     "place; ingest the changed files as a new one")
        return self.fingerprint()

    def fingerprint(self) -> str:
        """One hash for the whole data set: of its tables' content (their rows' values, whatever the order
        and the Parquet bytes that hold them: data.content) and its spec's, trusted as the manifest records
        them (checked_fingerprint reads the files again). A data set written before content hashes keeps its
        byte fingerprint (byte_fingerprint)."""
        tables = self.manifest.tables
        if all(entry.get(CONTENT) for entry in tables.values()):
            return self._hashed(CONTENT, "content")
        return self.byte_fingerprint()

    def byte_fingerprint(self) -> str:
        """The fingerprint from the tables' file bytes (the manifest's sha256): what every record written
        before content hashes names this data set by."""
        return self._hashed("sha256")

    def fingerprints(self) -> tuple[str, ...]:
        """Every fingerprint this data set is known by, its own (fingerprint) first: a recorded run that
        names any of them was run on these data (is_recorded_data)."""
        return tuple(dict.fromkeys((self.fingerprint(), self.byte_fingerprint())))

    def _hashed(self, key: str, kind: str = "") -> str:
        parts = [f"{n}:{self.manifest.tables[n][key]}" for n in sorted(self.manifest.tables)]
        if self.manifest.spec:
            parts.append(f"spec:{self.manifest.spec}")
        if kind:
            parts.append(f"of:{kind}")  # a content fingerprint never equals a byte one
        return fingerprint_text("\n".join(parts))

    @cached_property
    def spec(self) -> DatasetSpec:
        """What the tables mean: the stored spec.json, or for a data set stored without one (before specs
        existed) the built-in spec of its kind (uci, otc, german by name; the simulator's otherwise), cut to
        the columns its tables have."""
        path = self.root / SPEC
        if path.exists():
            try:
                return parse_spec(json.loads(path.read_text()), str(path))
            except json.JSONDecodeError as exc:
                raise DataValidationError(str(path), f"unreadable spec ({exc})") from None
        kind = self.name.split("-")[0]
        con = self.connect()
        columns = {t: {r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()} for t in ("people", "events")}
        return builtin_spec(kind if kind in BUILTIN else "simulator").restricted(columns["people"], columns["events"])

    def _check_columns(self, name: str) -> None:
        spec = TABLES[name]
        files = parquet_files(self.table_path(name))
        if not files or not files[0].exists():
            raise DataValidationError(str(self.table_path(name)), "table file is missing")
        try:
            columns = set(pq.read_schema(files[0]).names)
        except (pa.ArrowException, OSError) as exc:
            raise DataValidationError(str(files[0]), f"not a readable Parquet file ({exc})") from None
        for col in spec.columns:
            if col.required and col.name not in columns:
                raise DataValidationError(str(files[0]), "required column is missing", column=col.name)

    # -- access -----------------------------------------------------------------------------------
    def scan(self, name: str) -> str:
        """A DuckDB table expression reading the table's Parquet file(s)."""
        path = self.table_path(name)
        pattern = str(path / "*.parquet") if path.is_dir() else str(path)
        return f"read_parquet('{pattern}')"

    def sources(self, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        """The SELECT of the people, relations and events tables on `con`: a data set that holds more than its
        files (the service's, with its own events and corrections) gives its own, so a build that rewrites
        these tables (scoring.record_reasons) reads what that data set's scores read."""
        return {name: f"SELECT * FROM {self.scan(name)}" for name in ("people", "relations", "events")}

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per table (people, events, relations, outcomes, extras)."""
        con = con or new_connection()
        for name in [*self.manifest.tables, *self.manifest.extras]:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {self.scan(name)}")
        return con

    def read(self, name: str) -> pd.DataFrame:
        return self.connect().execute(f"SELECT * FROM {name}").df()

    def profile_as_of(self, keys: pd.DataFrame) -> pd.DataFrame:
        """The people table's row valid at each key row's as_of, in the keys' order (one row per key): the
        version with the latest valid_from strictly before the date, as the features read it
        (features.sources); a version without valid_from holds from the start, and before a person's first
        version every column is missing. The one "valid at" rule outside the feature SQL (peers, the fairness
        audit)."""
        con = self.connect()
        try:
            con.register("_keys", pd.DataFrame({"person_id": keys["person_id"].astype(str).to_numpy(),
                                                "as_of": pd.to_datetime(keys["as_of"]).to_numpy(),
                                                "_row": range(len(keys))}))
            rows = con.execute(
                "SELECT k._row, p.* EXCLUDE (_from) FROM _keys k ASOF LEFT JOIN "
                "(SELECT *, coalesce(valid_from, TIMESTAMP '0001-01-01') AS _from FROM people) p "
                "ON k.person_id = p.person_id AND k.as_of > p._from ORDER BY k._row").df()
        finally:
            con.close()
        return rows.drop(columns="_row")

    def persons(self) -> int:
        """How many persons the people table holds: its distinct ids, not its rows (with attribute history it
        has a row per profile version)."""
        con = new_connection()
        try:
            found = con.execute(f"SELECT COUNT(DISTINCT person_id) FROM {self.scan('people')}").fetchone()
        finally:
            con.close()
        return int(found[0]) if found else 0


def fingerprint_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def is_recorded_data(recorded: str | None, fingerprints: Sequence[str]) -> bool:
    """Whether a recorded data fingerprint (an artifact's, a run record's) names the data known by
    `fingerprints` (Dataset.fingerprints): the one comparison of recorded data with a data set, so a record
    written before content fingerprints (it names the byte one) still matches its own data. A bare str is
    refused (TypeError): it is a Sequence[str] too, and `in` would then match any piece of it."""
    if isinstance(fingerprints, str):
        raise TypeError("fingerprints: a sequence of fingerprints (Dataset.fingerprints), not one str")
    return bool(recorded) and recorded in fingerprints


def _table_entry(root: Path, rel: str, table: str | None = None) -> dict:
    """A table's manifest entry: its path, rows, files' sha256 and, for one of the four `table`s, its rows'
    content hash (sorted by the schema's columns first), which the data set's fingerprint is made of
    (extras are outside the fingerprint: their rows are not read a second time)."""
    files = parquet_files(root / rel)
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    entry = {"path": rel, "rows": rows, "sha256": fingerprint(files)}
    if table is not None:
        entry[CONTENT] = content_fingerprint(files, spill=root, lead=[c.name for c in TABLES[table].columns])
    return entry


def finalize_dataset(staging: Path, out: Path, name: str, snapshot_date: str, description: str = "",
                     extras: tuple[str, ...] = (), spec: DatasetSpec | None = None, time_zone: str = "",
                     content: bool = True) -> Dataset:
    """Write the manifest (and spec.json) for a fully written staging directory; move it into place atomically.

    content=False: record the files' sha256 only, not the rows' content hashes, which read every row again
    (the data set is then known by its byte fingerprint): for a rewrite that must cost what it changes, not
    what the data set holds (the service's copy after an erasure)."""
    spec_hash = ""
    if spec is not None:
        text = spec.to_json()
        atomic_write_text(staging / SPEC, text)
        spec_hash = fingerprint_text(text)
    tables = {}
    for t in TABLES:
        rel = f"{t}.parquet" if (staging / f"{t}.parquet").exists() else t
        tables[t] = _table_entry(staging, rel, t if content else None)
    extra_entries = {}
    for e in extras:
        rel = f"{e}.parquet" if (staging / f"{e}.parquet").exists() else e
        extra_entries[e] = _table_entry(staging, rel)
    manifest = DatasetManifest(name=name, snapshot_date=str(pd.Timestamp(snapshot_date).date()),
                               description=description, tables=tables, extras=extra_entries, spec=spec_hash,
                               time_zone=time_zone)
    atomic_write_json(staging / MANIFEST, asdict(manifest))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_directory(staging, out, is_dataset, A_DATASET)
    return Dataset(out)


is_dataset = is_manifest_of("data set")
A_DATASET = "a DeepCredit data set"


def check_replaceable(out: Path) -> None:
    """Refuse to replace anything at `out` but a previous data set or an empty directory (a model artifact,
    a folder of the user's files, a file): io.check_replaceable, before any work is done."""
    check_output(out, is_dataset, A_DATASET)


@writes_out
def write_dataset(out: Path, frames: dict[str, pd.DataFrame], name: str, snapshot_date: str,
                  description: str = "", spec: DatasetSpec | None = None, time_zone: str = "",
                  staging: Path | None = None) -> Dataset:
    """Write in-memory tables (already validated) as a data set; all or nothing. `staging`: a staging
    directory (staging_dir) that already holds the other tables, written as they were read."""
    check_replaceable(out)
    staging = staging or staging_dir(out)
    try:
        for t, frame in frames.items():
            atomic_write_parquet(staging / f"{t}.parquet", frame)
        extras = tuple(t for t in frames if t not in TABLES)
        return finalize_dataset(staging, out, name, snapshot_date, description, extras, spec, time_zone)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def parse_snapshot_date(snapshot_date: str) -> pd.Timestamp:
    """The snapshot date as a Timestamp, or one clear error; text must be ISO 8601 (30/06 vs 06/30)."""
    try:
        if isinstance(snapshot_date, str):
            snapshot = pd.to_datetime(snapshot_date.strip(), format="ISO8601")
        else:
            snapshot = pd.Timestamp(snapshot_date)
    except (ValueError, TypeError):
        snapshot = pd.NaT
    if pd.isna(snapshot):
        raise DataValidationError("snapshot date", f"{str(snapshot_date)!r} is not a date (expected YYYY-MM-DD)")
    return snapshot


def validate_tables(sources: dict[str, Path], snapshot_date: str) -> dict[str, pd.DataFrame]:
    """Read and validate the four tables from CSV/Parquet files, including cross-table checks."""
    missing = [t for t in TABLES if t not in sources]
    if missing:
        raise DataValidationError(", ".join(missing), "no file was given for this table")
    snapshot = parse_snapshot_date(snapshot_date)
    frames = {t: read_and_validate(Path(sources[t]), TABLES[t], snapshot, allow_empty=t in MAY_BE_EMPTY)
              for t in TABLES}
    people = pd.Index(frames["people"]["person_id"])
    refs = {"events": ("person_id",), "relations": ("source", "target"), "outcomes": ("person_id",)}
    for t, cols in refs.items():
        path = Path(sources[t])
        try:
            check_known_people(frames[t], cols, people, str(path), line_offset_for(path))
        except DataValidationError as exc:
            raise with_exact_line(exc, path) from None
    return frames


def ingest(sources: dict[str, Path], out: Path, name: str, snapshot_date: str,
           description: str = "") -> Dataset:
    """Validate a user's four tables and store them; on any error nothing is written."""
    check_replaceable(out)
    frames = validate_tables(sources, snapshot_date)
    return write_dataset(out, frames, name, snapshot_date, description)


def sample_dataset(src: Dataset, out: Path, people: int, seed: int = 0) -> Dataset:
    """A data set of `people` persons drawn at random (seeded) from `src`, with every row of theirs.

    Why: smoke runs and quick benchmarks on a faithful slice of a real data set. Relations are kept where
    both ends were drawn, so the slice stays a closed graph; extras keyed by person_id are filtered too.
    """
    con = src.connect()
    ids = con.execute("SELECT person_id FROM people ORDER BY person_id").df()["person_id"]
    keep = pd.DataFrame({"person_id": ids.sample(n=min(people, len(ids)), random_state=seed).sort_values()})
    con.register("keep_ids", keep)
    frames = {}
    for name in [*src.manifest.tables, *src.manifest.extras]:
        cols = set(con.execute(f"SELECT * FROM {name} LIMIT 0").df().columns)
        if name == "relations":
            where = ("WHERE source IN (SELECT person_id FROM keep_ids) "
                     "AND target IN (SELECT person_id FROM keep_ids)")
        elif "person_id" in cols:
            where = "WHERE person_id IN (SELECT person_id FROM keep_ids)"
        else:
            where = ""
        frames[name] = con.execute(f"SELECT * FROM {name} {where}").df()
    return write_dataset(out, frames, f"{src.name}-sample{len(keep)}-seed{seed}",
                         str(src.snapshot_date.date()), f"{len(keep):,} people drawn from {src.name} (seed {seed})",
                         spec=src.spec, time_zone=src.manifest.time_zone)
