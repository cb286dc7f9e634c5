"""The service's own copy of a data set: person ids replaced by their pseudonyms, protected attributes dropped.

The copy keeps the data set's spec (less the dropped attributes), so a data set its user declared is read
by the service with the same meanings, texts and features as by training.

Why a copy: the service never holds a raw person id, so the data it scores from must be keyed the way its
requests are (HMAC of the id). Every column that holds person ids is pseudonymised, not only the keys: the
tables' schema says which (person_columns), so an event's counterparty, which may name another person, is
too, and no raw id of anyone is left in the copy or in the snapshots written from it. The copy is also the place to minimise: protected attributes the model does
not read are left out, and every event gets a stable `event_id` ('b1', 'b2', ... in (person, time) order)
so that a person can dispute it. Events are sorted by person, and relations are stored twice (by source,
and as the extra table `relations_by_target` by target), so DuckDB reads one person's rows from a few
Parquet row groups (their min/max statistics) instead of whole tables.

Each table is a folder of part files (`part-00000.parquet`, ..., PART_ROW_GROUPS row groups each, in the
table's order), so that an erasure rewrites the few parts that hold or name the person and keeps the others
as they are (without_people): its cost follows the person's rows, not the population's. A copy written
before parts (one file per table) is read the same way; an erasure rewrites its tables whole.

Everything streams through DuckDB into a staging directory that is renamed into place (data.dataset), so
a crash leaves the previous copy intact.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.dataset import Dataset, finalize_dataset, new_connection, staging_dir
from deepcredit.data.io import output_lock, parquet_files, writes_out
from deepcredit.data.schema import PROTECTED_ATTRIBUTES, TABLES
from deepcredit.service.privacy import Pseudonymiser

ROW_GROUP = 8192
PART_ROW_GROUPS = 8
"""Row groups per part file of a copy's table (65,536 rows): what an erasure rewrites for each part that
holds or names the person; the other parts are kept (hard links into the staged copy)."""
ERASED = "erased"
"""What an erased person's id reads as where another person's record mentions them (a counterparty)."""
SCHEMA_OF = {"relations_by_target": "relations"}
"""Stored tables that are another table's rows in another order."""


def quoted_path(path: Path) -> str:
    """A file path as a DuckDB string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def person_columns(table: str, columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """(key columns, reference columns) of a stored table that hold person ids, of those it has.

    Found from the tables' schema (data/schema.py: an `identifier` column names a person or a record), not by
    name: key columns (person_id, source, target) say whose row it is; reference columns (an event's
    counterparty: another person, or a merchant) mention someone else. Both are personal data.
    """
    present = set(columns)
    schema = TABLES.get(SCHEMA_OF.get(table, table))
    if schema is None:  # an extra table (a simulated world's truth): keyed by person_id where it has one
        return [c for c in ("person_id",) if c in present], []
    ids = [c for c in schema.columns if c.identifier and c.name in present]
    return [c.name for c in ids if c.required], [c.name for c in ids if not c.required]


def without_erased(sql: str, table: str, columns: Iterable[str], erased: str = "_erased") -> str:
    """`sql` (rows of `table`) less the rows of the people in the registered relation `erased` (a column
    `subject`), and with their mentions in others' rows (a counterparty) replaced by ERASED: an erased
    person appears nowhere, while their former counterparties keep their own records."""
    keys, refs = person_columns(table, columns)
    gone = f"IN (SELECT subject FROM {erased})"
    where = " AND ".join(f"CAST({c} AS VARCHAR) NOT {gone}" for c in keys) or "TRUE"
    masks = ", ".join(f"CASE WHEN CAST({c} AS VARCHAR) {gone} THEN '{ERASED}' ELSE {c} END AS {c}" for c in refs)
    return f"SELECT *{f' REPLACE ({masks})' if masks else ''} FROM ({sql}) WHERE {where}"


def parquet_options() -> str:
    """The options of every Parquet file the copy's writers write."""
    return f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP}"


def write_parts(con: duckdb.DuckDBPyConnection, sql: str, folder: Path) -> None:
    """Write the rows of `sql`, in its order, as the part files of one table in `folder` (new):
    `part-00000.parquet` on, PART_ROW_GROUPS row groups each, so that their names' order is the rows' order.

    DuckDB writes the rows into one file first, which keeps their order, and the file is cut into parts by
    row groups after: its own writer of several files (ROW_GROUPS_PER_FILE) puts row groups out of order
    when it writes in parallel, and the person index reads a person's events in the files' order."""
    folder.mkdir()
    whole = folder / ".whole.parquet"  # a hidden name: no reader of the table takes it for a part
    con.execute(f"COPY ({sql}) TO {quoted_path(whole)} ({parquet_options()})")
    source = pq.ParquetFile(whole)
    groups = source.metadata.num_row_groups
    for n, first in enumerate(range(0, max(groups, 1), PART_ROW_GROUPS)):
        rows = (source.read_row_groups(range(first, min(first + PART_ROW_GROUPS, groups))) if groups
                else source.schema_arrow.empty_table())
        pq.write_table(rows, folder / f"part-{n:05d}.parquet", compression="zstd", row_group_size=ROW_GROUP)
    source.close()
    whole.unlink()


def raw_references(copy: Dataset) -> list[str]:
    """The reference columns ('events.counterparty') of a service copy that hold a value other than a
    pseudonym or ERASED: a copy written before references were pseudonymised, with raw ids in them."""
    con = new_connection()
    found = []
    for name in copy.manifest.tables:
        rows = f"SELECT * FROM {copy.scan(name)}"
        _, refs = person_columns(name, [r[0] for r in con.execute(f"DESCRIBE {rows}").fetchall()])
        for c in refs:
            raw = con.execute(f"SELECT 1 FROM ({rows}) WHERE {c} IS NOT NULL AND CAST({c} AS VARCHAR) <> '{ERASED}' "
                              f"AND NOT regexp_full_match(CAST({c} AS VARCHAR), '[0-9a-f]{{64}}') LIMIT 1").fetchall()
            if raw:
                found.append(f"{name}.{c}")
    con.close()
    return found


def _keyed(table: str, columns: list[str], drop: Iterable[str] = ()) -> str:
    """SELECT of `table` (a view) with every column that holds person ids replaced by the ids' pseudonyms
    (the registered `_ids`): rows whose key names nobody are left out, a reference without a value stays NULL."""
    keys, refs = person_columns(table, columns)
    joins, swaps = [], []
    for i, c in enumerate([*keys, *refs]):
        joins.append(f"{'JOIN' if c in keys else 'LEFT JOIN'} _ids m{i} ON m{i}.raw = CAST(t.{c} AS VARCHAR)")
        swaps.append(f"m{i}.pid AS {c}")
    left_out = [c for c in drop if c in columns]
    exclude = f" EXCLUDE ({', '.join(left_out)})" if left_out else ""
    return f"SELECT t.*{exclude} REPLACE ({', '.join(swaps)}) FROM {table} t {' '.join(joins)}"


@writes_out  # from the first read to the rename: a second writer of `out` is refused at once
def pseudonymise_dataset(src: Dataset, out: Path, pseudonym: Pseudonymiser,
                         keep_protected: Iterable[str] = ()) -> Dataset:
    """Write `src` to `out` keyed by pseudonyms; returns the new Dataset.

    Every value of every column that holds person ids (person_columns) becomes its pseudonym, a merchant
    named as a counterparty included: no raw id of anyone survives in the copy."""
    out = Path(out)
    con = src.connect()
    columns = {t: [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()] for t in TABLES}
    named = [f"SELECT CAST({c} AS VARCHAR) FROM {t} WHERE {c} IS NOT NULL" for t in TABLES
             for c in sum(person_columns(t, columns[t]), [])]
    raw = [r[0] for r in con.execute(" UNION ".join(named)).fetchall()]
    con.register("_ids", pa.table({"raw": pa.array([str(r) for r in raw], pa.string()),
                                   "pid": pa.array([pseudonym(str(r)) for r in raw], pa.string())}))
    people_cols = columns["people"]
    protected = {*src.spec.protected, *PROTECTED_ATTRIBUTES}  # what the data set's spec declares protected
    drop = [c for c in people_cols if c in protected and c not in set(keep_protected)]
    event_cols = columns["events"]
    spec = src.spec.restricted([c for c in people_cols if c not in drop], event_cols)
    staging = staging_dir(out)
    try:
        write_parts(con, f"{_keyed('people', people_cols, drop)} ORDER BY person_id", staging / "people")
        write_parts(con, f"""SELECT *, 'b' || CAST(row_number() OVER (ORDER BY person_id, ts, kind, status, amount)
                                                  AS VARCHAR) AS event_id
                             FROM ({_keyed("events", event_cols)}) x
                             ORDER BY person_id, ts""", staging / "events")
        write_parts(con, f"{_keyed('relations', columns['relations'])} ORDER BY source, target",
                    staging / "relations")
        write_parts(con, f"SELECT * FROM read_parquet({quoted_path(staging / 'relations' / '*.parquet')}) "
                         "ORDER BY target, source", staging / "relations_by_target")
        write_parts(con, f"{_keyed('outcomes', columns['outcomes'])} ORDER BY person_id, as_of", staging / "outcomes")
        con.close()
        return finalize_dataset(staging, out, name=f"{src.name}-pseudonymised",
                                snapshot_date=src.manifest.snapshot_date,
                                description=f"{src.name} keyed by HMAC-SHA256 pseudonyms for the scoring service; "
                                            f"source fingerprint {src.fingerprint()}",
                                extras=("relations_by_target",), spec=spec, time_zone=src.manifest.time_zone)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def without_people(copy: Dataset, erased: Iterable[str]) -> Dataset:
    """Rewrite the service's copy without these people (pseudonyms): their rows of every table go (profile,
    events, relations either way, labels), and their mentions in others' rows read ERASED (without_erased).

    Only the part files that hold or name one of them are rewritten (naming_parts); the others go into the
    staged copy as hard links, unchanged. The manifest records the files' sha256, not the rows' content
    hashes (finalize_dataset, content=False), which would read every row. Staged and renamed into place, so a
    crash leaves the previous copy whole and a rerun does it all again; rows keep their order and their event
    ids, so the disputes that name a record still find it."""
    with output_lock(copy.root):  # from the first read to the rename, as every writer of a whole directory
        return _without_people(copy, erased)


def naming_parts(con: duckdb.DuckDBPyConnection, files: list[Path], table: str, columns: list[str],
                 erased: str = "_erased") -> set[Path]:
    """The files of `table` with a row that holds or names someone in the registered relation `erased`
    (any column that holds person ids: person_columns). Reads those columns only; on a key the table is
    sorted by, DuckDB skips the row groups whose statistics leave the people out."""
    keys, refs = person_columns(table, columns)
    if not keys and not refs:
        return set()
    names = {str(f): f for f in files}
    where = " OR ".join(f"CAST({c} AS VARCHAR) IN (SELECT subject FROM {erased})" for c in [*keys, *refs])
    found = con.execute(f"SELECT DISTINCT _part FROM read_parquet([{', '.join(map(quoted_path, files))}], "
                        f"filename = '_part') WHERE {where}").fetchall()  # a data set's own `filename` column stays
    return {names[f] for (f,) in found}


def _kept(src: Path, dst: Path) -> None:
    """An unchanged part into the staged copy: a hard link (no byte copied), or a copy where the file
    system has none."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _without_people(copy: Dataset, erased: Iterable[str]) -> Dataset:
    con = new_connection()
    con.register("_erased", pa.table({"subject": pa.array(sorted(set(erased)), pa.string())}))
    staging = staging_dir(copy.root)
    try:
        for name in [*copy.manifest.tables, *copy.manifest.extras]:
            files = parquet_files(copy.table_path(name))
            columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {copy.scan(name)}").fetchall()]
            touched = naming_parts(con, files, name, columns)
            for f in files:
                out = staging / f.relative_to(copy.root)
                out.parent.mkdir(parents=True, exist_ok=True)
                if f in touched:
                    rows = f"SELECT * FROM read_parquet({quoted_path(f)})"
                    con.execute(f"COPY ({without_erased(rows, name, columns)}) TO {quoted_path(out)} ({parquet_options()})")
                else:
                    _kept(f, out)
        con.close()
        return finalize_dataset(staging, copy.root, name=copy.name, snapshot_date=copy.manifest.snapshot_date,
                                description=copy.manifest.description, extras=tuple(copy.manifest.extras),
                                spec=copy.spec, time_zone=copy.manifest.time_zone, content=False)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
