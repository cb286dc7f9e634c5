"""The scoring adapter: a narrow Scorer interface over a stored data set, the service's events and a model.

    scorer.score_people(person_ids, as_of) -> list[ScoredPerson]

The service keeps each person's latest ScoredPerson in its database, so a merchant's admittance decision
is a lookup; a Scorer runs only when something changed (a reported event, a corrected dispute, a full
re-score). `ModelScorer` serves any CreditModel artifact (the stack by default) through the one
scoring.Scorer, so the service's numbers are batch scoring's.

Events the service learnt (merchant feedback) and corrections (disputes) are not written into the data
set: `ScopedDataset` is a Dataset view that unions them in when DuckDB opens the tables, and, for one
person, reads only what that person's features can see (their profile, their events, their edges and
their neighbours' events), so re-scoring one person does not scan everyone's history. The feature
engine itself is unchanged: it receives a Dataset, whatever builds its views.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset, new_connection
from deepcredit.data.ledger import with_payments
from deepcredit.data.spec_events import Events
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import Session, build_features
from deepcredit.features.graph import Graph, build_graph
from deepcredit.features.sequences import Sequences, build_sequences
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import DIMENSIONS, CreditModel, load_model
from deepcredit.models.scale import ScoreScale
from deepcredit.models.stack import graph_hops, model_views
from deepcredit.scoring.input_check import check_model_features
from deepcredit.scoring.scorer import Scorer as ReportScorer
from deepcredit.scoring.scorer import input_dimensions, no_record_column, used_features
from deepcredit.service.attribute_fixes import FIX_COLUMNS, corrected_people, disputable
from deepcredit.service.lookup import PersonIndex, connected
from deepcredit.service.pseudodata import without_erased

OVERLAY_COLUMNS = {"person_id": "VARCHAR", "ts": "TIMESTAMP", "kind": "VARCHAR", "amount": "DOUBLE",
                   "status": "VARCHAR", "due_ts": "TIMESTAMP", "days_late": "DOUBLE", "counterparty": "VARCHAR",
                   "event_id": "VARCHAR"}
OCCURRED = "occurred_at"
"""The column of reported outcomes (Overlay.events) saying when each occurred, as the report said: its `ts` is
when the service learnt it. Retention counts a record's age from it; it is never a column of the events read."""
log = logging.getLogger("deepcredit.service")
RECYCLE_AFTER = 25
"""Uses of the scorer's DuckDB database (about one per re-score) before it moves on to a new one (see
`ModelScorer.cursors`)."""
HISTORY = "your payment and fulfilment history"
SOURCE_LABELS = {"profile": "your profile", "events": HISTORY, "bad_runs": HISTORY, "cycles": HISTORY,
                 "neighbours": "your connections", "derived": "figures derived from the above"}
"""Plain-language names of feature sources (by value, so a source added later reads as 'your records')."""


@dataclass(frozen=True)
class Reason:
    feature: str
    dimension: str
    value: str
    points_lost: int
    reason: str
    how_to_improve: str


@dataclass(frozen=True)
class DimensionScore:
    name: str
    points: int | None
    """None: the model has no input data for this dimension ("no data")."""
    lo: int
    hi: int
    no_record: bool = False
    """The person has no record in this dimension: the points are anyone's without history (Scorer.report)."""


@dataclass(frozen=True)
class ScoredPerson:
    person_id: str
    """As the data set knows the person (inside the service: the pseudonym)."""
    as_of: datetime
    score: int
    band: str
    dimensions: list[DimensionScore]
    reasons: list[Reason]
    model_id: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Overlay:
    """What the service knows beyond the data set: extra events, and corrections of existing ones.

    events: OVERLAY_COLUMNS (event_id: the reported event's public id, 'evt_…'; ts: when the service learnt it,
    so a recomputation as of an earlier moment never sees it), and optionally paid_amount (what the report said
    was paid, NaN where it did not: ledger.with_payments reads it) and OCCURRED (when it occurred: retention
    counts from it), neither ever a column of the events read; corrections: event_ref, action ('remove' | 'restatus'), status, days_late; attributes:
    corrected profile attributes (attribute_fixes.FIX_COLUMNS).
    """

    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(OVERLAY_COLUMNS)))
    corrections: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["event_ref", "action", "status", "days_late"]))
    attributes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FIX_COLUMNS))
    retire_before: datetime | None = None
    """Negative records (statuses the spec says mean late or broken) dated before this no longer count
    (service/retention.py); None: every record counts."""
    erased: frozenset[str] = frozenset()
    """People the operator erased (service/erasure.py): their profile, events and relations are left out, and
    their mentions in others' records (a counterparty) masked."""
    as_of: datetime | None = None
    """The service's now: with attribute history, a correction applies to the profile version valid then
    (None: to the latest version)."""


@dataclass
class WhatIf:
    """Simulated futures for one model run: copies of people (clone id -> person id: their profile, events and
    edges) and events to add (OVERLAY_COLUMNS, `person_id` a clone's or a real person's id). Nothing stored
    changes: the rows exist only in the run's temp tables."""

    clones: dict[str, str] = field(default_factory=dict)
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(OVERLAY_COLUMNS)))
    as_of: dict[str, datetime] = field(default_factory=dict)
    """A clone's own as-of (the end of its future); others are scored as of the run's."""


@dataclass(frozen=True)
class Held:
    """What the service holds about one person: their events (newest first), their profile's versions
    (newest first; corrections in place) and their relations."""

    events: pd.DataFrame
    profile: pd.DataFrame
    relations: pd.DataFrame

    def latest_profile(self, at: datetime | None = None) -> dict[str, object]:
        """The profile version valid at `at` (None: the latest), as plain values (None where missing): with
        attribute history, a version dated after the service's now is not yet the person's profile."""
        rows = self.profile
        if at is not None and "valid_from" in rows:
            rows = rows[rows["valid_from"].isna() | (rows["valid_from"] <= pd.Timestamp(at))]
        if rows.empty:
            return {}
        return {k: (None if pd.isna(v) else v) for k, v in rows.iloc[0].items()}


OverlaySource = Callable[[Sequence[str] | None], Overlay]
"""Given person ids (None: everyone), the overlay for them."""


class Scorer(Protocol):
    model_id: str

    def score_people(self, person_ids: Sequence[str], as_of: datetime | None = None) -> list[ScoredPerson]:
        """Score each person as of `as_of` (default: the data set's snapshot), in the order given."""
        ...

    def data_categories(self) -> list[dict]:
        """What kinds of data the model reads, per dimension, in plain language."""
        ...

    def warm(self) -> None:
        """Load what the first request would otherwise load (indexes, caches)."""
        ...


class GraphScorer(Scorer, Protocol):
    """A Scorer whose scores read people's connections (ModelScorer): its graph depth and who lies within
    it; what re-scoring a person's connections needs."""

    hops: int

    def neighbourhood(self, person_ids: Sequence[str], hops: int | None = None) -> list[str]:
        """The people within `hops` connections of `person_ids`, those first."""
        ...


def sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "NULL"


class ScopedDataset(Dataset):
    """The base data set plus an overlay, optionally narrowed to the rows some people's features need.

    `sources(con)` gives the SELECT of each table (`people`, `relations`, `events`), so the one-person path
    can run everything as one query; `connect` turns them into TEMP views (several scopes can share one
    DuckDB database through separate cursors), which is what the feature engine expects of a Dataset.
    """

    def __init__(self, base: Dataset, focus: Sequence[str] | None = None,
                 overlay: Overlay | OverlaySource | None = None, event_columns: set[str] | None = None,
                 index: PersonIndex | None = None) -> None:
        self.root, self.manifest = base.root, base.manifest  # already validated when `base` was opened
        self.base, self.focus = base, list(focus) if focus is not None else None
        self._overlay = overlay
        self.event_columns = event_columns
        self.index = index
        """The base's rows by person (lookup.PersonIndex): a focus reads its rows through it (by offset where
        it is held); None: through one of the scope's own that reads the focus's rows alone (held=False)."""
        self.scoped_event_columns: set[str] = set()
        """Columns of the `events` source once the overlay is in (set by `sources`)."""
        self.erased: frozenset[str] = frozenset()
        """The erased people among those the scope read (set by `sources`): nobody scores them."""

    def overlay_for(self, people: Sequence[str] | None) -> Overlay:
        """The overlay for everyone whose events the scope reads (focus and neighbours), fetched once."""
        if callable(self._overlay):
            return self._overlay(people)
        return self._overlay or Overlay()

    def sources(self, con: duckdb.DuckDBPyConnection, neighbours: bool = True) -> dict[str, str]:
        """SELECT statements for people, relations and events; registers the overlay's frames on `con`.

        neighbours=False: the focus's own events only (what a person's list of records shows), so neither
        the neighbours' rows nor their overlay are fetched."""
        scan = self.base.scan
        if self.focus is not None:  # the focus's rows through the person index: the one way to read them
            index = self.index or PersonIndex(self.base, held=False)
            relations = index.relations(self.focus)  # read once: the neighbours are found in it too
            scope = sorted(set(self.focus) | (connected(relations, self.focus) if neighbours else set()))
            for name, rows in (("people", index.people(self.focus)), ("relations", relations),
                               ("events", index.events(scope))):
                con.register(f"_scope_{name}", rows)
            people, rel, events = "SELECT * FROM _scope_people", "SELECT * FROM _scope_relations", \
                "SELECT * FROM _scope_events"
            overlay = self.overlay_for(scope)
        else:
            rel, people, events = (f"SELECT * FROM {scan(t)}" for t in ("relations", "people", "events"))
            overlay = self.overlay_for(None)
        self.erased = overlay.erased
        columns = self.event_columns
        if columns is None:
            columns = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan('events')}").fetchall()}
        if overlay.erased:  # their rows left out, their mentions in others' rows masked (pseudodata.without_erased)
            con.register("_erased", pd.DataFrame({"subject": sorted(overlay.erased)}, dtype=object))
            people = without_erased(people, "people", ["person_id"])
            events = without_erased(events, "events", columns)
            rel = without_erased(rel, "relations", ["source", "target"])
        if len(overlay.attributes):
            spec = self.base.spec
            people = corrected_people(con, people, overlay.attributes, disputable(spec), bool(spec.profile.valid_from),
                                      overlay.as_of)
        corr = overlay.corrections
        if len(corr) and "event_id" in columns:
            con.register("_corrections_in", corr[["event_ref", "action", "status", "days_late"]])
            fixes = ("SELECT CAST(event_ref AS VARCHAR) AS event_ref, CAST(action AS VARCHAR) AS action, "
                     "CAST(status AS VARCHAR) AS status, CAST(days_late AS DOUBLE) AS days_late FROM _corrections_in")
            late = (", CASE WHEN c.action = 'restatus' THEN COALESCE(c.days_late, e.days_late) "
                    "ELSE e.days_late END AS days_late") if "days_late" in columns else ""
            if "due_ts" in columns:  # corrected to on time (0 days late): due no earlier than the record's date
                late += (", CASE WHEN c.action = 'restatus' AND c.days_late = 0 AND e.due_ts < e.ts "
                         "THEN e.ts ELSE e.due_ts END AS due_ts")
            events = (f"SELECT e.* REPLACE (COALESCE(c.status, e.status) AS status{late}) "
                      f"FROM ({events}) e LEFT JOIN ({fixes}) c ON c.event_ref = e.event_id "
                      f"WHERE c.action IS NULL OR c.action <> 'remove'")
        extra = overlay.events
        if len(extra) and self.base.spec.events is not None:  # each reported outcome's payment, as ingest stores it
            extra = with_payments(extra, self.base.spec.events)
        negative = sorted(self.base.spec.negative_statuses) if overlay.retire_before is not None else []
        if len(extra) and negative and OCCURRED in extra:  # a reported record's age counts from when it occurred
            old = extra["status"].isin(negative) & (pd.to_datetime(extra[OCCURRED]) < pd.Timestamp(overlay.retire_before))
            extra = extra[~old.to_numpy(bool)]  # (the filter below reads ts, learnt no earlier: it retires no more)
        if len(extra):
            con.register("_overlay_events", extra)
            cast = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in OVERLAY_COLUMNS.items())
            events = f"({events}) UNION ALL BY NAME (SELECT {cast} FROM _overlay_events)"
            columns = columns | set(OVERLAY_COLUMNS)
        if negative:
            stamp = pd.Timestamp(overlay.retire_before).isoformat(sep=" ")
            events = (f"SELECT * FROM ({events}) WHERE NOT (ts < TIMESTAMP '{stamp}' "
                      f"AND status IN ({sql_list(negative)}))")
        self.scoped_event_columns = set(columns)
        return {"people": people, "relations": rel, "events": events}

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        con = con or new_connection()
        for name, sql in self.sources(con).items():
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        if self.focus is None:
            for name in ("outcomes", *(e for e in self.manifest.extras if e != "relations_by_target")):
                con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {self.base.scan(name)}")
        return con

    def person_events(self, person_id: str, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
        """The events one person's score reads, newest first (with `event_id` where the data set has one)."""
        con = con or new_connection()
        return self._events_of(con, self.sources(con, neighbours=False)["events"], person_id)

    def _events_of(self, con: duckdb.DuckDBPyConnection, events: str, person_id: str) -> pd.DataFrame:
        cols = self.scoped_event_columns
        select = ", ".join(c if c in cols else f"NULL AS {c}" for c in OVERLAY_COLUMNS)
        return con.execute(f"SELECT {select} FROM ({events}) e WHERE person_id = ? ORDER BY ts DESC",
                           [person_id]).df()

    def held(self, person_id: str, con: duckdb.DuckDBPyConnection | None = None) -> Held:
        """Everything the data set (with the service's overlay) holds about one person, from one read of
        the sources: what their report and their export show."""
        con = con or new_connection()
        sql = self.sources(con, neighbours=False)
        newest = " ORDER BY valid_from DESC NULLS LAST" if self.base.spec.profile.valid_from else ""
        profile = con.execute(f"SELECT * FROM ({sql['people']}) p WHERE person_id = ?{newest}", [person_id]).df()
        relations = con.execute(f"SELECT * FROM ({sql['relations']}) WHERE source = ? OR target = ?",
                                [person_id, person_id]).df()
        return Held(self._events_of(con, sql["events"], person_id), profile, relations)

def needed_definitions(used: Sequence[str], definitions: Sequence[FeatureDef]) -> list[FeatureDef]:
    """The definitions a model uses, plus those its derived features compute from (closed transitively)."""
    by_name = {d.name: d for d in definitions}
    need, todo = set(), list(used)
    while todo:
        name = todo.pop()
        if name in need or name not in by_name:
            continue
        need.add(name)
        d = by_name[name]
        if d.source is Source.DERIVED:
            todo.extend(n for n in by_name if re.search(rf"\b{re.escape(n)}\b", d.sql))
    return [d for d in definitions if d.name in need]


def data_categories(definitions: Sequence[FeatureDef]) -> list[dict]:
    out: dict[str, dict] = {}
    for d in definitions:
        entry = out.setdefault(str(d.dimension), {"dimension": str(d.dimension), "sources": [], "uses": []})
        label = SOURCE_LABELS.get(str(d.source), "your records")
        if label not in entry["sources"]:
            entry["sources"].append(label)
        entry["uses"].append(d.description)
    return list(out.values())


class ModelScorer:
    """A service Scorer over any CreditModel artifact and the data set it serves.

    For given people it builds their ModelInput from a ScopedDataset (their rows plus the service's
    overlay events and dispute corrections): the tabular, temporal and structural views the model reads,
    with the people within `hops` of them as further spine rows (a graph tower passes messages from
    them; their own features read their neighbours' events, which the scope includes), and scores the
    focus rows through scoring.Scorer: the same numbers as batch scoring on the same data and as-of.
    """

    def __init__(self, dataset: Dataset, model: CreditModel, overlay: OverlaySource | None = None,
                 top_reasons: int = 4, model_id: str | None = None, threads: int | None = 1,
                 definitions: Sequence[FeatureDef] | None = None, held_index: bool = True) -> None:
        self.dataset, self.model, self.overlay = dataset, model, overlay
        self.scorer = ReportScorer(model, top=top_reasons)
        self.model_id = model_id or "unsaved-model"
        self.generation: str | None = None
        """The meta table's generation of what is served when this scorer was built from it (bootstrap.
        build_scorer); None where it was not: its scores are then checked by their model only (save_scores)."""
        self.definitions = list(definitions if definitions is not None else model.definitions_ or [])
        self.views = tuple(model_views(model))
        self.hops = graph_hops(model)
        self.threads = threads
        self.dimensions = input_dimensions(model, self.definitions)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="scope-views")
        self._db, self._uses = self._database(), 0
        self._next_db: Future[duckdb.DuckDBPyConnection] | None = None
        self.index = PersonIndex(dataset, held=held_index)
        """held_index=False (a one-off command re-scoring a few people): rows read per person, not held."""
        self._categories: list[dict] | None = None
        events, people = ({r[0]: r[1] for r in self._db.execute(f"DESCRIBE SELECT * FROM {dataset.scan(t)}").fetchall()}
                          for t in ("events", "people"))
        self._event_columns, self._people_columns = set(events), set(people)
        self.people_types: dict[str, str] = people
        """Each profile column's DuckDB type (a corrected value must fit it)."""

    @property
    def scale(self) -> ScoreScale:
        return self.scorer.scale

    def dimension_range(self) -> tuple[int, int]:
        """The scale of every sub-score's 0-100 rating: the score scale's range shared by the dimensions with
        data. Not the points' range: a sub-score can lie outside it, its rating then clipped (Dimension.clipped)."""
        k = max(len(self.dimensions), 1)
        return int(self.scale.lo // k), int(-(-self.scale.hi // k))

    def data_categories(self) -> list[dict]:
        """Fixed per model (every person report shows it): worked out once."""
        if self._categories is None:
            used = set(used_features(self.model)) or {d.name for d in self.definitions}
            self._categories = data_categories([d for d in self.definitions if d.name in used])
        return [dict(c) for c in self._categories]

    def warm(self) -> None:
        """Load the person index now (seconds for a large world) instead of in the first re-score."""
        self.index.load()

    def scope(self, person_ids: Sequence[str] | None) -> ScopedDataset:
        return ScopedDataset(self.dataset, person_ids, self.overlay, self._event_columns, self.index)

    def _database(self) -> duckdb.DuckDBPyConnection:
        db = new_connection()
        if self.threads:  # one-person scopes are tiny: DuckDB's parallel operators only add CPU time
            db.execute(f"SET threads = {int(self.threads)}")
        return db

    @property
    def database(self) -> duckdb.DuckDBPyConnection:
        """The in-memory database new cursors open on; a new one every RECYCLE_AFTER uses (`cursors`)."""
        return self._db

    def settle_renewal(self) -> None:
        """Wait for a new database a worker is opening, if any (open or failed): the tests that must know which
        database the next use gets (tests/service/test_service_stack.py) wait here instead of racing the worker;
        serving never needs to."""
        pending = self._next_db
        if pending is not None:
            wait([pending])

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.cursors(1)[0]

    def cursors(self, k: int) -> list[duckdb.DuckDBPyConnection]:
        """`k` cursors on one database (a scope's tables are shared by its cursors).

        A long-lived DuckDB database runs the same feature statement slower the more it has run: 51 ms at
        first, 65 ms after 300 re-scores, 51 again on a new database (a profile shows glibc's malloc taking
        twice its first share of the time, the heap fragmented around what the database keeps). So after
        RECYCLE_AFTER uses a worker opens a new in-memory database (`_renew_when_due`) and the next use
        once it is open moves to it. Cursors still open on the old one keep it alive until they close; it
        holds no tables of its own."""
        with self._lock:
            self._uses += 1
            if self._next_db is not None and self._next_db.done():
                opened, self._next_db = self._next_db, None
                if opened.exception() is None:
                    self._db, self._uses = opened.result(), 1
                else:  # the current database still serves; the next request that builds views tries again
                    log.warning("could not open a new DuckDB database for the scorer: %s", opened.exception())
            return [self._db.cursor() for _ in range(k)]

    def _renew_when_due(self) -> None:
        """Open the next database in a worker once this one has had RECYCLE_AFTER uses: called when a
        re-score's views are built, so its 20 ms run on the core the explanations leave idle."""
        with self._lock:
            if self._uses >= RECYCLE_AFTER and self._next_db is None:
                self._next_db = self._pool.submit(self._database)

    def held(self, person_id: str) -> Held:
        con = self.cursor()
        try:
            return self.scope([person_id]).held(person_id, con)
        finally:
            con.close()

    def person_events(self, person_id: str) -> pd.DataFrame:
        con = self.cursor()
        try:
            return self.scope([person_id]).person_events(person_id, con)
        finally:
            con.close()

    def neighbourhood(self, person_ids: Sequence[str], hops: int | None = None) -> list[str]:
        """The people within `hops` connections of `person_ids` (any time: the graph view keeps only edges
        first seen before as_of), themselves first."""
        hops = self.hops if hops is None else hops
        seen = list(dict.fromkeys(person_ids))
        frontier = set(seen)
        for _ in range(hops):
            if not frontier:
                break
            new = self.index.neighbours(sorted(frontier)) - set(seen)
            seen.extend(sorted(new))
            frontier = new
        return seen

    def model_input(self, person_ids: Sequence[str] | None, as_of: datetime, whatif: WhatIf | None = None
                    ) -> ModelInput:
        """The views the model reads for these people (None: everyone the data set or the service knows).

        The engine's own plan (features, sequences, graph) runs on cursors of the scorer's in-memory
        DuckDB database (a new one every RECYCLE_AFTER uses, see `cursors`): for given people the scoped tables are copied once into a schema of the request's
        own (a few hundred rows, dropped after), so no step rescans the data set's files and no new
        database is opened per request.
        """
        if whatif is not None and person_ids is None:
            raise ValueError("a what-if is scored for given people, not for everyone")
        if person_ids is None:
            con = self.cursor()
            try:
                scoped = self.scope(None)
                scoped.connect(con)
                ids = con.execute("SELECT person_id FROM people UNION SELECT person_id FROM events "
                                  "ORDER BY person_id").df()["person_id"].tolist()
                return self._views(scoped, self._spined(con, scoped, ids, [as_of] * len(ids)))
            finally:
                con.close()
        return self._scoped_input(person_ids, as_of, whatif)

    def _scoped_input(self, person_ids: Sequence[str], as_of: datetime, whatif: WhatIf | None) -> ModelInput:
        """model_input for given people: their scope copied into tables of a schema of its own, so that a
        second cursor builds the sequences and the graph while the first runs the feature query (DuckDB
        leaves the GIL while a query runs: a re-score's two largest statements overlap on two cores)."""
        ids = self.neighbourhood(person_ids)
        scoped = self.scope(ids)
        schema = f"scope_{uuid.uuid4().hex}"
        con, other = self.cursors(2)
        try:
            con.execute(f"CREATE SCHEMA {schema}")
            for c in (con, other):
                c.execute(f"SET search_path = '{schema}'")
            for name, sql in scoped.sources(con).items():
                con.execute(f"CREATE TABLE {schema}.{name} AS {sql}")
            ids = [i for i in ids if i not in scoped.erased]  # an erased person is nobody's row, not even context
            stamps = [as_of] * len(ids)
            if whatif is not None:
                _add_whatif(con, whatif, self.dataset.spec.events)
                ids = ids + list(whatif.clones)
                stamps += [whatif.as_of.get(c, as_of) for c in whatif.clones]
            session = self._spined(con, scoped, ids, stamps, schema)
            return self._views(scoped, session, other)
        finally:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            con.close()
            other.close()
            self._renew_when_due()

    def _spined(self, con: duckdb.DuckDBPyConnection, scoped: ScopedDataset, ids: list[str], stamps: list[datetime],
                schema: str | None = None) -> Session:
        """The `spine` (each person and their as-of) beside the scope's tables, and a feature Session on it
        (inline, one statement per view, where the scope is a handful of people in a schema of its own). The
        tables' columns are known: the data set's people, and the events the scope's sources selected."""
        con.register("spine_input", pd.DataFrame({"person_id": ids, "as_of": pd.to_datetime(stamps)}))
        table = f"TABLE {schema}.spine" if schema else "TEMP TABLE spine"
        con.execute(f"CREATE OR REPLACE {table} AS SELECT CAST(person_id AS VARCHAR) AS person_id, "
                    "CAST(as_of AS TIMESTAMP) AS as_of, CAST(NULL AS INTEGER) AS label FROM spine_input")
        return Session(con, self._people_columns, scoped.scoped_event_columns,
                       spec=self.dataset.spec,  # what the data set's own statuses and amounts mean
                       inline=schema is not None)

    def _views(self, scoped: ScopedDataset, session: Session, other: duckdb.DuckDBPyConnection | None = None
               ) -> ModelInput:
        """The tabular view on `session`; the temporal and structural ones too, or, given `other` (a second
        cursor on the same tables), on it in a worker thread meanwhile."""
        def rest(s: Session) -> tuple[Sequences | None, Graph | None]:
            return (build_sequences(s) if "temporal" in self.views else None,
                    build_graph(s) if "structural" in self.views else None)

        if other is None:
            tabular = build_features(scoped, self.definitions or None, session=session)
            return ModelInput(tabular, *rest(session))
        second = replace(session, con=other)
        later = self._pool.submit(rest, second)
        try:
            tabular = build_features(scoped, self.definitions or None, session=session)
        except BaseException:
            wait([later])  # the caller drops the scope's tables: not while the worker still reads them
            raise
        return ModelInput(tabular, *later.result())

    def score_futures(self, person_id: str, futures: Sequence[tuple[pd.DataFrame, datetime]]) -> pd.DataFrame:
        """The person's score under each simulated future, in one model run: each future is a frame of events
        (OVERLAY_COLUMNS but person_id) added to a copy of the person, scored as of the future's end. One row
        per future: pd, score, band, then the tabular features the model read (to check what a future moved)."""
        clones = {f"~whatif{k}~{person_id}": person_id for k in range(len(futures))}
        frames = [f.assign(person_id=c) for c, (f, _) in zip(clones, futures, strict=True) if len(f)]
        events = pd.concat(frames, ignore_index=True) if frames else WhatIf().events
        ends = {c: end for c, (_, end) in zip(clones, futures, strict=True)}
        inp = self.model_input([person_id], min(ends.values()), WhatIf(clones, events, ends))
        keys = inp.keys["person_id"].to_numpy()
        rows = inp.take(pd.Series(np.arange(len(keys)), index=keys).loc[list(clones)].to_numpy())
        card = self.scorer.report(rows, explain=False)
        return pd.concat([card[["pd", "score", "band"]], rows.X], axis=1)

    def score_with(self, person_id: str, events: pd.DataFrame, as_of: datetime) -> tuple[int, str]:
        """(score, band) of the person as of `as_of` with these events (OVERLAY_COLUMNS but person_id) added
        to their own record: the what-if of one future, on the same path as a re-score."""
        inp = self.model_input([person_id], as_of, WhatIf(events=events.assign(person_id=person_id)))
        keys = inp.keys["person_id"].to_numpy()
        card = self.scorer.report(inp.take([int(np.flatnonzero(keys == person_id)[0])]), explain=False)
        return int(card["score"].iloc[0]), str(card["band"].iloc[0])

    def score_people(self, person_ids: Sequence[str] | None, as_of: datetime | None = None) -> list[ScoredPerson]:
        if person_ids is not None and not len(person_ids):
            return []
        as_of = as_of or self.dataset.snapshot_date.to_pydatetime()
        inp = self.model_input(person_ids, as_of)
        keys = inp.keys["person_id"].to_numpy()
        at = pd.Series(np.arange(len(keys)), index=keys)
        ids = list(dict.fromkeys(person_ids)) if person_ids is not None else list(keys)
        pos = at.loc[[i for i in ids if i in at.index]].to_numpy()  # all but the erased
        return self._score(inp.take(pos), as_of)

    def score_everyone(self, as_of: datetime, chunk: int = 50_000) -> Iterator[list[ScoredPerson]]:
        """Everyone in the data set (plus the service's own people): the views are built once (a graph
        needs all its nodes), explanations and ScoredPerson objects a chunk of rows at a time."""
        inp = self.model_input(None, as_of)
        for start in range(0, len(inp), chunk):
            yield self._score(inp.take(np.arange(start, min(start + chunk, len(inp)))), as_of)

    def _score(self, inp: ModelInput, as_of: datetime) -> list[ScoredPerson]:
        return self.scored(self.scorer.report(inp), as_of)

    def scored(self, card: pd.DataFrame, as_of: datetime | None = None, top: int | None = None
               ) -> list[ScoredPerson]:
        """The ScoredPerson of each row of a Scorer report (`top` reasons, default the scorer's): this
        scorer's own or a batch job's (service/score_import.py), so both are stored alike. as_of: the
        scores' time (None: each row's own)."""
        lo, hi = self.dimension_range()
        top = self.scorer.top if top is None else top
        out = []
        for r in card.to_dict("records"):
            reasons = [Reason(feature=r[f"reason_{i}"], dimension=str(r[f"reason_{i}_dimension"]),
                              value=str(r[f"reason_{i}_value"]), points_lost=int(r[f"reason_{i}_points"]),
                              reason=str(r[f"reason_{i}_text"]), how_to_improve=str(r[f"reason_{i}_improve"]))
                       for i in range(1, top + 1) if isinstance(r.get(f"reason_{i}"), str)]
            out.append(ScoredPerson(
                person_id=str(r["person_id"]), as_of=as_of or pd.Timestamp(r["as_of"]).to_pydatetime(),
                score=int(r["score"]), band=str(r["band"]),
                dimensions=[DimensionScore(d, None if pd.isna(r[d]) else int(r[d]), lo, hi,
                                           no_record=said(r.get(no_record_column(d)))) for d in DIMENSIONS],
                reasons=reasons, model_id=self.model_id))
        return out


def said(flag: object) -> bool:
    """A card's boolean as stored: absent or missing (a batch card written before the column) is False."""
    return flag is not None and not pd.isna(flag) and bool(flag)


def _add_whatif(con: duckdb.DuckDBPyConnection, whatif: WhatIf, ev: Events | None) -> None:
    """Copy the clones' people into the scoped temp tables (profile rows, events, both ends of their edges)
    and add the simulated events, each with the payment ingest stores beside it where the data set's spec
    (`ev`) declares paid_kind (ledger.with_payments, as for a reported outcome): a plan's on-time
    commitment moves the money-paid features as the same commitment reported would."""
    if whatif.clones:
        con.register("_whatif_clones", pd.DataFrame({"clone_id": list(whatif.clones),
                                                     "person_id": list(whatif.clones.values())}))
        for table, col in (("people", "person_id"), ("events", "person_id"), ("relations", "source"),
                           ("relations", "target")):
            con.execute(f"INSERT INTO {table} BY NAME SELECT t.* REPLACE (c.clone_id AS {col}) "
                        f"FROM {table} t JOIN _whatif_clones c ON t.{col} = c.person_id")
    events = with_payments(whatif.events, ev) if ev is not None else whatif.events
    if len(events):
        have = {r[0] for r in con.execute("DESCRIBE events").fetchall()}
        con.register("_whatif_events", events[list(OVERLAY_COLUMNS)])
        cast = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in OVERLAY_COLUMNS.items() if c in have)
        con.execute(f"INSERT INTO events BY NAME SELECT {cast} FROM _whatif_events")


def load_scorer(model_path: Path, dataset: Dataset, overlay: OverlaySource | None = None,
                threads: int | None = 1, strict_versions: bool = False, held_index: bool = True) -> ModelScorer:
    """The service Scorer for any model artifact (hashes verified on load); its id is the artifact's sha256.
    A model trained on data of another spec is refused here, naming both data sets, before anyone is scored;
    one written under other library versions is warned of, or refused where strict_versions."""
    art = load_artifact(Path(model_path), strict_versions=strict_versions)
    check_model_features(art, dataset, advice="serve a model trained on a data set of the served one's spec")
    defs = [FeatureDef.from_dict(d) for d in art.manifest.get("features", []) if isinstance(d, dict)]
    return ModelScorer(dataset, load_model(Path(model_path)), overlay, model_id=art.sha256, threads=threads,
                       definitions=defs or None, held_index=held_index)
