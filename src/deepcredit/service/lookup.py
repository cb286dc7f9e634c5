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
the people asked about, sorted the same way, so it answers with the same rows in the same order as a held
index. Each read filters a table by the key it is sorted on, so DuckDB skips the part files and row groups
whose statistics cannot hold these people: people and events by person, relations from them by source in
`relations` and relations towards them by target in `relations_by_target` (the service's copy keeps both,
service/pseudodata.py; a data set without the second reads `relations` for both ends). This is the one way
to read some people's rows: a ScopedDataset for some people given no index makes one of these.

Order: a person's profile versions and events keep the file's order (a stable sort by person). A pair of
people may be related more than once (the same pair observed again, with another weight, date or kind), and
the two files of the copy order such rows differently (each sorted by its own key only), so relations are
ordered by every column: those from a person by (source, target, ts, kind, weight), those towards a person by
(target, source, ts, kind, weight), whichever file they were read from (RELATION_ORDER).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from deepcredit.data.dataset import Dataset, new_connection

RELATION_ORDER = ("ts", "kind", "weight")
"""What orders a pair's relations after its two ends (module docstring: rows alike in all are the same row)."""


class _Sorted:
    """A table sorted (stably) by one key column, then by the `then` columns it has, with each key's
    [start, stop) rows."""

    def __init__(self, table: pa.Table, key: str, then: Sequence[str] = ()) -> None:
        by = [(c, "ascending") for c in (key, *then) if c in table.column_names]
        order = pc.sort_indices(table, by)  # stable: ties keep the file order
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


def _by_source(relations: pa.Table) -> _Sorted:
    return _Sorted(relations, "source", ("target", *RELATION_ORDER))


def _by_target(relations: pa.Table) -> _Sorted:
    return _Sorted(relations, "target", ("source", *RELATION_ORDER))


def _quoted(ids: Iterable[str]) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids) or "NULL"


class PersonIndex:
    """`people`, `events` and `relations` of a data set by person (relations both by source and by target).

    held=False: nothing is read up front or kept; each question reads only the asked-about people's rows,
    from the files sorted by the key it asks by (module docstring)."""

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
        by_target = "relations_by_target" if "relations_by_target" in self.dataset.manifest.extras else "relations"
        out: dict[str, _Sorted] = {}
        for kind in dict.fromkeys(kinds):
            if kind == "by_source":
                out[kind] = _by_source(self._read(f"SELECT * FROM {scan('relations')} WHERE source IN ({keys})"))
            elif kind == "by_target":
                out[kind] = _by_target(self._read(f"SELECT * FROM {scan(by_target)} WHERE target IN ({keys})"))
            else:
                out[kind] = _Sorted(self._read(f"SELECT * FROM {scan(kind)} WHERE person_id IN ({keys})"),
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
                                "by_source": _by_source(read["relations"]),
                                "by_target": _by_target(read["relations"])}
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
        """Every relation with `ids` at either end, once: those from them, then those only towards them, each
        part in its RELATION_ORDER."""
        t = self._of(["by_source", "by_target"], ids)
        out = t["by_source"].rows(ids)
        towards = t["by_target"].rows(ids)
        if towards.num_rows:
            towards = towards.filter(pc.invert(pc.is_in(towards.column("source"), pa.array(list(ids), pa.string()))))
        return pa.concat_tables([out, towards]) if towards.num_rows else out

    def neighbours(self, ids: Iterable[str]) -> set[str]:
        """Everyone connected to `ids` (either direction, at any time), themselves included where connected."""
        ids = list(ids)
        return connected(self.relations(ids), ids)


def connected(relations: pa.Table, ids: Iterable[str]) -> set[str]:
    """Everyone at the other end of `relations` (PersonIndex.relations of `ids`) from `ids`, themselves included
    where connected: a scope that has read its relations finds its neighbours in them, not in a second read."""
    ids = pa.array(list(ids), pa.string())
    src, tgt = relations.column("source"), relations.column("target")
    out = pc.filter(tgt, pc.is_in(src, ids)).to_pylist()
    return set(out) | set(pc.filter(src, pc.is_in(tgt, ids)).to_pylist())
