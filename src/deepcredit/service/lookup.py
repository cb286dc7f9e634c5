"""The data set's person-keyed rows held once, sorted by person: what makes re-scoring one person cheap.

Why: re-scoring a person after an event reads their profile, the relations that touch them and the events of
everyone within the model's graph depth (a few dozen people). Filtering the data set's Parquet files for
them scans every file on every request (about a million events for 20,000 people: most of a request's
time). `PersonIndex` reads `people`, `events` and `relations` once (lazily, on the first re-score), sorts
them by person with a stable sort (so a person's rows keep the order a filtered scan returns them in),
and answers "the rows of these people" by offsets: work in proportion to the rows returned.

Memory: the three tables in Arrow form (about 60 MB for a 20,000-person simulated world); the service
holds them for the data set it serves. Batch scoring does not use this (it reads chunks of people).

A one-off command that re-scores a few people (`person-erase`) would spend most of its time reading and
sorting the whole copy: there the index is built with held=False and reads, per question, only the rows of
the people asked about (DuckDB prunes the copy's person-sorted part files by their statistics), sorted the
same way, so it answers with the same rows in the same order as a held index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepcredit.data.dataset import Dataset, new_connection


class _Sorted:
    """A table sorted (stably) by one key column, with each key's [start, stop) rows."""

    def __init__(self, table: pa.Table, key: str) -> None:
        order = pc.sort_indices(table, [(key, "ascending")])  # stable: ties keep the file order
        self.table = table.take(order)
        self.key = key
        runs = pc.run_end_encode(self.table.column(key).combine_chunks()) if self.table.num_rows else None
        self.span: dict[str, tuple[int, int]] = {}
        if runs is not None:
            ends = runs.run_ends.to_numpy()
            starts = np.concatenate([[0], ends[:-1]])
            self.span = dict(zip(runs.values.to_pylist(), zip(starts.tolist(), ends.tolist(), strict=True),
                                 strict=True))

    def positions(self, keys: Iterable[str]) -> np.ndarray:
        """Row positions of these keys, in the order given (a key without rows contributes none)."""
        parts = [np.arange(*self.span[k]) for k in keys if k in self.span]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def rows(self, keys: Iterable[str]) -> pa.Table:
        return self.table.take(pa.array(self.positions(keys), pa.int64()))


def _quoted(ids: Iterable[str]) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids) or "NULL"


class PersonIndex:
    """`people`, `events` and `relations` of a data set by person (relations both by source and by target).

    held=False: nothing is read up front or kept; each question reads only the asked-about people's rows."""

    def __init__(self, dataset: Dataset, held: bool = True) -> None:
        self.dataset = dataset
        self.held = held
        self._lock = threading.Lock()
        self._tables: dict[str, _Sorted] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None

    def _read(self, sql: str) -> pa.Table:
        with self._lock:  # one database for every question (opening one costs more than a pruned read)
            if self._con is None:
                self._con = new_connection()
                self._con.execute("SET preserve_insertion_order = true")  # the files' order, as held
            cur = self._con.cursor()
        try:
            return cur.sql(sql).to_arrow_table()
        finally:
            cur.close()

    def _of(self, kinds: Sequence[str], ids: Sequence[str]) -> dict[str, _Sorted]:
        """The sorted tables `kinds` name: held, or (held=False) read for `ids` only. A subset of a table,
        sorted stably by the same key, gives each of these people the rows the whole table gives them."""
        if self.held:
            return self._load()
        scan, keys = self.dataset.scan, _quoted(ids)
        out: dict[str, _Sorted] = {}
        for table in dict.fromkeys("relations" if k.startswith("by_") else k for k in kinds):
            if table == "relations":
                rows = self._read(f"SELECT * FROM {scan(table)} WHERE source IN ({keys}) OR target IN ({keys})")
                out["by_source"], out["by_target"] = _Sorted(rows, "source"), _Sorted(rows, "target")
            else:
                out[table] = _Sorted(self._read(f"SELECT * FROM {scan(table)} WHERE person_id IN ({keys})"),
                                     "person_id")
        return out

    def _load(self) -> dict[str, _Sorted]:
        with self._lock:
            if self._tables is None:
                con = new_connection()
                scan = self.dataset.scan
                con.execute("SET preserve_insertion_order = true")
                read = {t: con.sql(f"SELECT * FROM {scan(t)}").to_arrow_table() for t in ("people", "events", "relations")}
                con.close()
                self._tables = {"people": _Sorted(read["people"], "person_id"),
                                "events": _Sorted(read["events"], "person_id"),
                                "by_source": _Sorted(read["relations"], "source"),
                                "by_target": _Sorted(read["relations"], "target")}
            return self._tables

    def load(self) -> None:
        """Read and sort the tables now rather than on the first re-score (held=False: nothing to read)."""
        if self.held:
            self._load()

    def people(self, ids: Sequence[str]) -> pa.Table:
        return self._of(["people"], ids)["people"].rows(ids)

    def events(self, ids: Sequence[str]) -> pa.Table:
        return self._of(["events"], ids)["events"].rows(ids)

    def relations(self, ids: Sequence[str]) -> pa.Table:
        """Every relation with `ids` at either end, once: those from them, then those only towards them."""
        t = self._of(["by_source", "by_target"], ids)
        out = t["by_source"].rows(ids)
        towards = t["by_target"].rows(ids)
        if towards.num_rows:
            towards = towards.filter(pc.invert(pc.is_in(towards.column("source"), pa.array(list(ids), pa.string()))))
        return pa.concat_tables([out, towards]) if towards.num_rows else out

    def neighbours(self, ids: Iterable[str]) -> set[str]:
        """Everyone connected to `ids` (either direction, at any time), themselves included where connected."""
        ids = list(ids)
        t = self._of(["by_source", "by_target"], ids)
        a = t["by_source"].rows(ids).column("target").to_pylist()
        b = t["by_target"].rows(ids).column("source").to_pylist()
        return set(a) | set(b)
