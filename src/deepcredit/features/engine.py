"""Runs feature definitions as of each (person, as_of) with DuckDB: one grouped query per source.

The plan is a list of named SELECT statements (sources.py stages, then one aggregate per source, then
one final join) in SQL that Spark also accepts. A session is what runs it: `Session` here materialises
each statement as a DuckDB temp table; features/spark_engine.py's session registers each as a cached Spark temp
view. Features, sequences and graphs only talk to the session (its dialect, `materialise`, `frame`,
`numpy`), so the same code builds them on either engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.dataset import Dataset, new_connection
from deepcredit.data.errors import DataValidationError
from deepcredit.data.io import (
    atomic_write_parquet,
    check_replaceable,
    check_writable,
    library_versions,
    output_lock,
)
from deepcredit.data.spec import DatasetSpec
from deepcredit.features.slopes import centred
from deepcredit.features.sources import DUCKDB, FRAME_ORDER, Dialect, legacy_spec, stages
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.features.templates import features_for


def rows_sql(table: str = "spine", by: str | None = None) -> str:
    """Each row's position in the feature frame's order (as_of, person_id), within its `by` group when
    given (a batch job's chunk): what sequences and graphs are aligned by."""
    keep, over = (f"{by}, ", f"PARTITION BY {by} ") if by else ("", "")
    return (f"SELECT {keep}person_id, as_of, ROW_NUMBER() OVER ({over}ORDER BY {FRAME_ORDER}) - 1 AS row_id "
            f"FROM {table}")


SPINE_ROWS = rows_sql()
"""Each spine row's position in the feature frame's order."""


def check_numeric(X: pd.DataFrame, definitions: Sequence[FeatureDef], frame: pd.DataFrame) -> None:
    """Refuse a numeric feature's column holding values that are not numbers, naming the column and a row
    of `frame` (aligned with X) that holds one; numbers in an object column pass (they read as numbers)."""
    for d in definitions:
        col = X[d.name]
        if d.kind is Kind.CATEGORICAL or pd.api.types.is_numeric_dtype(col.dtype) \
                or pd.api.types.is_bool_dtype(col.dtype):
            continue
        rows = np.flatnonzero(col.notna().to_numpy())
        present = col.iloc[rows]
        bad = pd.to_numeric(present, errors="coerce").isna().to_numpy() if not \
            pd.api.types.is_datetime64_any_dtype(col.dtype) else np.ones(len(present), dtype=bool)
        if bad.any():
            at = int(rows[np.flatnonzero(bad)[0]])
            row = frame.iloc[at]
            who = f" for person {row['person_id']} as of {pd.Timestamp(row['as_of']).date()}" \
                if {"person_id", "as_of"} <= set(frame.columns) else f" in row {at}"
            raise ValueError(f"column {d.name!r} must be numeric (its feature is numeric), got {col.dtype}: "
                             f"e.g. {col.iloc[at]!r}{who}; convert it first (pd.to_numeric, with the decimal "
                             "mark the file uses)")


LABEL_DTYPE = "Int32"
"""A feature file's label: 0 / 1, missing where the outcome is not known (a spine --as-of a date)."""


@dataclass
class FeatureFrame:
    """Features for each (person_id, as_of), with the label when the spine came from outcomes."""

    frame: pd.DataFrame
    definitions: list[FeatureDef]
    meta: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.definitions]

    @property
    def X(self) -> pd.DataFrame:
        """The declared feature columns, refused by name when the frame lacks one or holds a numeric
        feature as text (every model reads its features here: one check instead of each model's coercion
        turning '0,0170' into a missing value without a word)."""
        absent = [n for n in self.names if n not in self.frame.columns]
        if absent:
            raise ValueError(f"the feature frame lacks column(s) its definitions declare: {', '.join(absent)} "
                             "(drop a feature from the definitions, not only from the frame)")
        X = self.frame[self.names]
        check_numeric(X, self.definitions, self.frame)
        return X

    @property
    def y(self) -> pd.Series:
        return self.frame["label"]

    def save(self, path: Path) -> None:
        """One Parquet file holding the frame and, in its key-value metadata (META_KEY), the definitions,
        data fingerprint and versions. The label is written as LABEL_DTYPE whatever the engine gave (DuckDB
        int64, Spark int32; all missing: Int32 or float64), so both engines write one schema.

        Why one file: a table and a .json sidecar beside it were two writes (a kill between them left a new
        table beside an old sidecar, which `monitor` trusted), and `--out f.json` wrote the sidecar over the
        table. Only an earlier feature file is replaced (check_features_out)."""
        path = Path(path)
        frame = self.frame
        if "label" in frame:
            frame = frame.assign(label=frame["label"].astype(LABEL_DTYPE))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = json.dumps({**self.meta, "features": [f.to_dict() for f in self.definitions]}, sort_keys=True,
                          default=str)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: meta.encode()})
        with output_lock(path):
            check_features_out(path)
            stale = path.exists() and _sidecar(path) is not None  # the sidecar of the feature file replaced
            atomic_write_parquet(path, table)
            if stale:  # an older DeepCredit's: the file holds its own definitions now
                path.with_suffix(".json").unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> FeatureFrame:
        path = Path(path)
        meta = feature_meta(path)
        if meta is None:
            raise DataValidationError(str(path), "not a feature file (no feature definitions in it, nor a .json "
                                                 "sidecar beside it): make it with `deepcredit features`")
        defs = [FeatureDef.from_dict(d) for d in meta.pop("features")]
        return cls(pd.read_parquet(path), defs, meta)


META_KEY = b"deepcredit.features"
"""The key of a feature file's Parquet metadata holding its definitions, data fingerprint and versions (JSON)."""


def feature_meta(path: Path) -> dict | None:
    """What FeatureFrame.save recorded of a feature file (its "features": the definitions as dicts), read from
    the Parquet file's metadata, or, for a file of an older DeepCredit, from its .json sidecar; None where
    neither is there (not a feature file, or not a Parquet file)."""
    try:
        stored = (pq.read_schema(path).metadata or {}).get(META_KEY)
    except (OSError, pa.ArrowException):
        return None
    if stored is None:
        return _sidecar(path)
    try:
        meta = json.loads(stored)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("features"), list) else None


def _sidecar(path: Path) -> dict | None:
    """An older DeepCredit's .json sidecar of feature file `path` (a dict with a "features" list), or None."""
    try:
        meta = json.loads(Path(path).with_suffix(".json").read_bytes())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("features"), list) else None


def check_features_out(out: Path) -> None:
    """Refuse an `out` for a feature file that is not one: a .json name, or what io.check_replaceable refuses
    for an output that is one file (a directory, a symbolic link, a file that `deepcredit features` did not
    write; an earlier feature file is replaced). Why: a command replaces only its own earlier output (README);
    `--out mine.parquet` replaced the user's table silently."""
    out = Path(out)
    check_writable(out)
    if out.suffix.lower() == ".json":
        raise DataValidationError(str(out), "a feature file is Parquet: name it .parquet, not .json")
    check_replaceable(out, lambda path: feature_meta(path) is not None, "the Parquet file",
                      written_by="`deepcredit features`")


def applicable(definitions: Sequence[FeatureDef], people_columns: set[str]) -> list[FeatureDef]:
    """Drop definitions whose people columns this data set lacks (e.g. no education in OTC)."""
    return [f for f in definitions if set(f.requires) <= people_columns]


SOURCE_STAGE = {Source.PROFILE: "profile", Source.EVENTS: "events_before", Source.BAD_RUNS: "bad_runs",
                Source.CYCLES: "cycles", Source.NEIGHBOURS: "neighbours"}
STAGE_NEEDS = {"profile": {Source.PROFILE}, "events_before": {Source.EVENTS, Source.BAD_RUNS, Source.CYCLES},
               "bad_runs": {Source.BAD_RUNS}, "cycle": {Source.CYCLES}, "neighbour": {Source.NEIGHBOURS}}
"""Which sources need a staged step (by name prefix); spine_d is always staged."""


def plan(definitions: Sequence[FeatureDef], people_columns: set[str], event_columns: set[str],
         dialect: Dialect = DUCKDB, spec: DatasetSpec | None = None) -> list[tuple[str, str]]:
    """The full list of (name, SELECT) statements computing `definitions` over the `spine` view.

    `spec` says what the data set's statuses and amounts mean (default: the simulator's vocabulary).
    """
    needed = {f.source for f in definitions}
    steps = list(stages(dialect, people_columns, event_columns, spec))
    have = {name for name, _ in steps}
    missing = [f.name for f in definitions if f.source in SOURCE_STAGE and SOURCE_STAGE[f.source] not in have]
    if missing:
        raise ValueError(f"feature(s) {', '.join(missing)} need events or relations that this data set's spec "
                         "does not declare")
    steps = [s for s in steps if s[0] == "spine_d" or any(
        s[0].startswith(prefix) and needs & needed for prefix, needs in STAGE_NEEDS.items())]
    joins, selects = [], []
    for source, stage in SOURCE_STAGE.items():
        defs = [f for f in definitions if f.source is source]
        if not defs:
            continue
        alias = f"agg_{source.value}"
        sqls, rows = centred([f.sql for f in defs], stage, dialect.name, dialect.key)  # regr_slope: engine-stable
        exprs = ",\n       ".join(f"{sql} AS {f.name}" for f, sql in zip(defs, sqls, strict=True))
        steps.append((alias, f"SELECT {dialect.keys()},\n       {exprs}\nFROM {rows} GROUP BY {dialect.keys()}"))
        joins.append(f"LEFT JOIN {alias} ON {dialect.same_key(alias, 's')}")
        for f in defs:
            col = f"{alias}.{f.name}"
            selects.append(f"COALESCE({col}, {f.fill}) AS {f.name}" if f.fill is not None else f"{col} AS {f.name}")
    base = "SELECT s.person_id, s.as_of, s.label,\n       " + ",\n       ".join(selects) + \
        "\nFROM spine_d s\n" + "\n".join(joins)
    derived = [f for f in definitions if f.source is Source.DERIVED]
    if derived:
        steps.append(("base_features", base))
        cols = ", ".join(f"({f.sql}) AS {f.name}" for f in derived)
        base = f"SELECT *, {cols} FROM base_features"
    order = ", ".join(["person_id", "as_of", "label", *(f.name for f in definitions)])
    steps.append(("features", f"SELECT {order} FROM ({base}) t ORDER BY {FRAME_ORDER}"))
    return steps


def with_steps(steps: Sequence[tuple[str, str]], sql: str) -> str:
    """`sql` preceded by the plan `steps` as common table expressions (one WITH list: a `sql` that starts
    with its own WITH keeps its expressions after the steps')."""
    if not steps:
        return sql
    ctes = ",\n".join(f"{name} AS ({body})" for name, body in steps)
    head = sql.lstrip()
    if head[:5].upper() == "WITH ":
        return f"WITH {ctes},\n{head[5:]}"
    return f"WITH {ctes}\n{head}"


def as_one_query(steps: Sequence[tuple[str, str]]) -> str:
    """The plan as one statement: every step but the last a common table expression, then the last."""
    *before, (_, last) = steps
    return with_steps(before, last)


def over_steps(session: FeatureSession, steps: Sequence[tuple[str, str]], sql: str) -> dict[str, np.ndarray]:
    """`sql`'s result (numpy per column), reading the plan `steps` by name.

    An inline session (Session.inline: a handful of people) runs it as one statement with the steps as
    common table expressions, since each statement's fixed cost is most of the work there; any other
    session materialises the steps once, so the features, sequences and graph share them.
    """
    if getattr(session, "inline", False):
        provided: frozenset[str] = getattr(session, "provided", frozenset())
        return session.numpy(with_steps([s for s in steps if s[0] not in provided], sql))
    session.materialise(steps)
    return session.numpy(sql)


StepFn = Callable[[str, int, int], None]


class FeatureSession(Protocol):
    """What builds features, sequences and graphs: a data set's tables and the `spine` in one engine."""

    people_columns: set[str]
    event_columns: set[str]
    spec: DatasetSpec | None
    dialect: Dialect
    engine: str

    def materialise(self, steps: Sequence[tuple[str, str]], on_step: StepFn | None = None) -> dict[str, float]:
        """Run each named SELECT once, in order, as a table later statements read; seconds per step."""
        ...

    def frame(self, sql: str) -> pd.DataFrame:
        """A query's result as pandas."""
        ...

    def numpy(self, sql: str) -> dict[str, np.ndarray]:
        """A query's result as one numpy array per column."""
        ...

    def close(self) -> None:
        """Release what the session holds (temp tables, cached views)."""
        ...


@dataclass
class Session:
    """A DuckDB connection with the data set's views and the as-of `spine` table in place."""

    con: duckdb.DuckDBPyConnection
    people_columns: set[str]
    event_columns: set[str]
    created: dict[str, str] = field(default_factory=dict)
    """SQL of each step already materialised: the tabular, temporal and structural views share the staged
    sources instead of rebuilding them; a step whose SQL changed (other definitions) is rebuilt."""
    spec: DatasetSpec | None = None
    """What the data set declares (None: the simulator's canonical vocabulary, cut to its columns)."""
    dialect: Dialect = DUCKDB
    engine: str = "duckdb"
    provided: frozenset[str] = frozenset()
    """Plan steps the data set supplies as tables already (Dataset.provided_steps): never rebuilt here."""
    inline: bool = False
    """Run the feature plan as one query (its steps as common table expressions) instead of a temp table
    per step: for a handful of people (the service re-scoring one person) each statement's fixed cost is
    most of the work; for many people the staged temp tables are shared with the sequences and the graph.
    A session that builds one view only (a batch chunk's sequences, or its graph) is inline too: a step
    read once is not worth writing (a chunk of 100,000 people's sequences: 1.4 CPU seconds instead of 2.1-3)."""

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def numpy(self, sql: str) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.con.execute(sql).fetchnumpy().items()}

    def close(self) -> None:
        self.con.close()

    def materialise(self, steps: Sequence[tuple[str, str]], on_step: StepFn | None = None) -> dict[str, float]:
        """Create each named step as a temp table, in order, once per session; return seconds per step."""
        timings: dict[str, float] = {}
        for i, (name, sql) in enumerate(steps):
            t0 = time.perf_counter()
            if name not in self.provided and self.created.get(name) != sql:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
                self.created[name] = sql
            timings[name] = round(time.perf_counter() - t0, 3)
            if on_step:
                on_step(name, i + 1, len(steps))
        return timings


def open_session(dataset: Dataset, spine: pd.DataFrame | None = None, threads: int | None = None,
                 inline: bool = False) -> Session:
    """Connect, and fix the spine: (person_id, as_of, label) from outcomes, or a given frame. inline: see
    Session.inline."""
    con = dataset.connect(new_connection())
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    if spine is None:
        con.execute("CREATE TEMP TABLE spine AS SELECT person_id, as_of, label FROM outcomes")
    else:
        spine = spine.copy()
        if "label" not in spine:
            spine["label"] = pd.NA
        spine["as_of"] = pd.to_datetime(spine["as_of"]).astype("datetime64[us]")
        con.register("spine_input", spine[["person_id", "as_of", "label"]])
        con.execute("CREATE TEMP TABLE spine AS SELECT person_id, as_of, CAST(label AS INTEGER) AS label "
                    "FROM spine_input")
    return Session(con, {r[0] for r in con.execute("DESCRIBE people").fetchall()},
                   {r[0] for r in con.execute("DESCRIBE events").fetchall()}, spec=dataset.spec,
                   provided=dataset.provided_steps, inline=inline)


def build_features(dataset: Dataset, definitions: Sequence[FeatureDef] | None = None,
                   spine: pd.DataFrame | None = None, threads: int | None = None,
                   on_step: StepFn | None = None,
                   session: FeatureSession | None = None) -> FeatureFrame:
    """Compute features for every (person_id, as_of) of `spine` (default: the outcomes table).

    Without `definitions`, the features are those the data set's spec declares (features.templates).
    A custom spine (person_id, as_of[, label]) scores people as of any date, e.g. today. Rows come
    ordered by (as_of, person_id): sequences and graphs built for the same spine align with them.
    """
    session = session or open_session(dataset, spine, threads)
    defs, steps = feature_plan(session, definitions)
    if getattr(session, "inline", False):  # a handful of people: one statement (see Session.inline)
        timings: dict[str, float] = {}
        provided: frozenset[str] = getattr(session, "provided", frozenset())
        frame = typed(session.frame(as_one_query([s for s in steps if s[0] not in provided])), defs)
    else:
        timings = session.materialise(steps, on_step)
        # ordered here, not by the table: with preserve_insertion_order off (the memory it saves), DuckDB
        # keeps no stored order past one row group (122,880 rows), and sequences and graphs are aligned by
        # position with the spine's (as_of, person_id) order
        frame = typed(session.frame(f"SELECT * FROM features ORDER BY {FRAME_ORDER}"), defs)
    meta = {"dataset": dataset.name, "data_fingerprint": dataset.fingerprint(), "rows": len(frame),
            "engine": session.engine, "stage_seconds": timings, "versions": library_versions()}
    return FeatureFrame(frame, list(defs), meta)


def feature_plan(session: FeatureSession, definitions: Sequence[FeatureDef] | None = None
                 ) -> tuple[list[FeatureDef], list[tuple[str, str]]]:
    """The definitions the session's data set can compute (default: its spec's) and the plan computing
    them into the `features` step, in the session's dialect."""
    spec = session.spec or legacy_spec(session.people_columns, session.event_columns)
    defs = applicable(definitions if definitions is not None else features_for(spec), session.people_columns)
    return defs, plan(defs, session.people_columns, session.event_columns, session.dialect, spec=spec)


NEIGHBOUR_HISTORY = "neighbour_history"
"""The plan step that reads neighbours' events: (nb, as_of) -> that neighbour's counts before as_of."""


def neighbour_histories(session: Session) -> pa.Table | None:
    """Each spine person's own row of the `neighbour_history` step (nb = the person, at the spine row's
    as_of), or None when the data set declares no relations.

    Why: a person's neighbour aggregates read their neighbours' histories, so a job that builds features
    chunk by chunk would rescan most of the population's events for every chunk. Computed once per person
    by the plan's own SQL, these rows are what every chunk that has the person as a neighbour reads
    instead (Dataset.provided_steps), with the same numbers.
    """
    spec = session.spec or legacy_spec(session.people_columns, session.event_columns)
    steps = dict(stages(session.dialect, session.people_columns, session.event_columns, spec))
    if NEIGHBOUR_HISTORY not in steps:
        return None
    session.con.execute("CREATE OR REPLACE TEMP TABLE neighbour_pairs AS "
                        "SELECT DISTINCT person_id AS nb, as_of FROM spine")
    return session.con.sql(steps[NEIGHBOUR_HISTORY]).to_arrow_table()


SIGNIFICANT_DIGITS = 9
"""Numeric features are rounded to this many significant digits (round_significant)."""
ROUNDING_BLOCK = 2_000_000
"""Values rounded per block of columns: one block for a handful of people (each block costs ~1 ms of pandas
on a one-person re-score), a few columns at a time for a million."""


_POW10 = 10.0 ** np.arange(0, 300)
_LOG10_2 = np.log10(2.0)


def round_significant(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """`values` rounded to `digits` significant decimal digits (`digits` + 1 where the binary exponent
    underestimates the decimal one); NaN, infinities, 0 and magnitudes outside 1e-280..1e280 unchanged.

    Why: an engine's parallel aggregates add partial sums in whatever order its threads finish, so the same
    features built twice differed in their last bits (on a 20,000-person world: 4,268 values of one neighbour
    average and a few others, by ~1e-16 relative), and a model fitted on them could differ too (GBDT's
    held-out AUC moved by 0.0001 between two identical builds). Rounded far above that noise and far below
    any meaningful difference, repeated builds (and both engines) give the same bits, unless a value lies
    within that noise of a rounding boundary (about one in 10^7 of the values that differ). Decimal, not
    binary, rounding: 0.1 stays the double nearest 0.1."""
    x = np.asarray(values, dtype=np.float64)
    out = x.copy()
    magnitude = np.abs(x)
    part = (magnitude >= 1e-280) & (magnitude <= 1e280)
    if part.any():
        v = x[part]
        _, e2 = np.frexp(v)  # |v| in [2^(e2-1), 2^e2): its decimal exponent is floor((e2-1) log10 2) or one more
        shift = digits - 1 - np.floor((e2 - 1) * _LOG10_2).astype(np.int64)
        # scale by 10^shift, round to an integer, scale back; a negative shift divides by 10^-shift instead, so
        # no factor is an inexact tiny power of ten (multiplying or dividing by 1.0 changes nothing)
        up, down = _POW10[np.maximum(shift, 0)], _POW10[np.maximum(-shift, 0)]
        out[part] = np.round(v * up / down) / up * down
    return out


def typed(frame: pd.DataFrame, defs: Sequence[FeatureDef]) -> pd.DataFrame:
    """One dtype per kind, whatever the engine inferred: as_of in microseconds, numeric features float64
    rounded to SIGNIFICANT_DIGITS (so they do not depend on the engine's thread order), the others pandas
    categories (what LightGBM expects, 3x faster scorecard lookups than strings)."""
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[us]")
    # one dtype per kind, whatever SQL inferred (counts come back as integers, nullable ones with <NA>). The
    # typed columns are gathered, then the frame is built once: a pandas step per column (an astype, an
    # assignment) costs about 0.1 ms, most of the typing of a one-person re-score's 30-odd rows.
    numeric = [f.name for f in defs if f.kind is Kind.NUMERIC]
    columns: dict[str, object] = {}
    step = max(1, ROUNDING_BLOCK // max(len(frame), 1))  # a few columns at a time: bounded copies of big frames
    for i in range(0, len(numeric), step):
        names = numeric[i:i + step]
        rounded = round_significant(frame[names].to_numpy(dtype=np.float64, na_value=np.nan))
        columns.update(zip(names, rounded.T, strict=True))
    for f in defs:
        if f.kind is not Kind.NUMERIC:
            values = frame[f.name]
            columns[f.name] = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    return pd.DataFrame({c: columns[c] if c in columns else frame[c] for c in frame.columns}, index=frame.index)
