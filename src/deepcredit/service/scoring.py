"""The scoring adapter: a narrow Scorer interface over a stored data set, the service's events and a model.

    scorer.score_people(person_ids, as_of) -> list[ScoredPerson]

The service keeps each person's latest ScoredPerson in its database, so a merchant's admittance decision
is a lookup; a Scorer runs only when something changed (a reported event, a corrected dispute, a full
re-score). Any model kind can serve behind the interface; `ScorecardScorer` wraps the WoE scorecard.

Events the service learnt (merchant feedback) and corrections (disputes) are not written into the data
set: `ScopedDataset` is a Dataset view that unions them in when DuckDB opens the tables, and, for one
person, reads only what that person's features can see (their profile, their events, their edges and
their neighbours' events), so re-scoring one person does not scan everyone's history. The feature
engine itself is unchanged: it receives a Dataset, whatever builds its views.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset
from deepcredit.features.spec import FeatureDef, Source

OVERLAY_COLUMNS = {"person_id": "VARCHAR", "ts": "TIMESTAMP", "kind": "VARCHAR", "amount": "DOUBLE",
                   "status": "VARCHAR", "due_ts": "TIMESTAMP", "days_late": "DOUBLE", "counterparty": "VARCHAR",
                   "event_id": "VARCHAR"}
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
    points: int
    lo: int
    hi: int


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

    events: OVERLAY_COLUMNS (event_id 's<n>'); corrections: event_ref, action ('remove' | 'restatus'),
    status, days_late.
    """

    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(OVERLAY_COLUMNS)))
    corrections: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["event_ref", "action", "status", "days_late"]))


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


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "NULL"


class ScopedDataset(Dataset):
    """The base data set plus an overlay, optionally narrowed to the rows some people's features need.

    `sources(con)` gives the SELECT of each table (`people`, `relations`, `events`), so the one-person path
    can run everything as one query; `connect` turns them into TEMP views (several scopes can share one
    DuckDB database through separate cursors), which is what the feature engine expects of a Dataset.
    """

    def __init__(self, base: Dataset, focus: Sequence[str] | None = None,
                 overlay: Overlay | OverlaySource | None = None, event_columns: set[str] | None = None) -> None:
        self.root, self.manifest = base.root, base.manifest  # already validated when `base` was opened
        self.base, self.focus = base, list(focus) if focus is not None else None
        self._overlay = overlay
        self.event_columns = event_columns
        self.scoped_event_columns: set[str] = set()
        """Columns of the `events` source once the overlay is in (set by `sources`)."""

    def overlay_for(self, people: Sequence[str] | None) -> Overlay:
        """The overlay for everyone whose events the scope reads (focus and neighbours), fetched once."""
        if callable(self._overlay):
            return self._overlay(people)
        return self._overlay or Overlay()

    def sources(self, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        """SELECT statements for people, relations and events; registers the overlay's frames on `con`."""
        scan = self.base.scan
        if self.focus is not None:
            ids = _sql_list(self.focus)
            if "relations_by_target" in self.manifest.extras:  # a copy sorted by target: both sides prune
                rel = (f"SELECT * FROM {scan('relations')} WHERE source IN ({ids}) UNION ALL "
                       f"SELECT * FROM {scan('relations_by_target')} WHERE target IN ({ids}) "
                       f"AND source NOT IN ({ids})")
            else:
                rel = f"SELECT * FROM {scan('relations')} WHERE source IN ({ids}) OR target IN ({ids})"
            edges = con.execute(f"SELECT source, target FROM ({rel})").fetchall()
            scope = sorted(set(self.focus) | {x for e in edges for x in e})
            people = f"SELECT * FROM {scan('people')} WHERE person_id IN ({ids})"
            events = f"SELECT * FROM {scan('events')} WHERE person_id IN ({_sql_list(scope)})"
            overlay = self.overlay_for(scope)
        else:
            rel, people, events = (f"SELECT * FROM {scan(t)}" for t in ("relations", "people", "events"))
            overlay = self.overlay_for(None)
        columns = self.event_columns
        if columns is None:
            columns = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan('events')}").fetchall()}
        corr = overlay.corrections
        if len(corr) and "event_id" in columns:
            con.register("_corrections_in", corr[["event_ref", "action", "status", "days_late"]])
            fixes = ("SELECT CAST(event_ref AS VARCHAR) AS event_ref, CAST(action AS VARCHAR) AS action, "
                     "CAST(status AS VARCHAR) AS status, CAST(days_late AS DOUBLE) AS days_late FROM _corrections_in")
            late = (", CASE WHEN c.action = 'restatus' THEN COALESCE(c.days_late, e.days_late) "
                    "ELSE e.days_late END AS days_late") if "days_late" in columns else ""
            events = (f"SELECT e.* REPLACE (COALESCE(c.status, e.status) AS status{late}) "
                      f"FROM ({events}) e LEFT JOIN ({fixes}) c ON c.event_ref = e.event_id "
                      f"WHERE c.action IS NULL OR c.action <> 'remove'")
        extra = overlay.events
        if len(extra):
            con.register("_overlay_events", extra)
            cast = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in OVERLAY_COLUMNS.items())
            events = f"({events}) UNION ALL BY NAME (SELECT {cast} FROM _overlay_events)"
            columns = columns | set(OVERLAY_COLUMNS)
        self.scoped_event_columns = set(columns)
        return {"people": people, "relations": rel, "events": events}

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        con = con or duckdb.connect()
        for name, sql in self.sources(con).items():
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        if self.focus is None:
            for name in ("outcomes", *(e for e in self.manifest.extras if e != "relations_by_target")):
                con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {self.base.scan(name)}")
        return con

    def person_events(self, person_id: str, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
        """The events one person's score reads, newest first (with `event_id` where the data set has one)."""
        con = con or duckdb.connect()
        events = self.sources(con)["events"]
        cols = self.scoped_event_columns
        select = ", ".join(c if c in cols else f"NULL AS {c}" for c in OVERLAY_COLUMNS)
        return con.execute(f"SELECT {select} FROM ({events}) e WHERE person_id = ? ORDER BY ts DESC",
                           [person_id]).df()


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


class ScorecardScorer:
    """A Scorer over the WoE scorecard (models.scorecard.WoEScorecard) and the data set it was built for."""

    def __init__(self, dataset: Dataset, model, overlay: OverlaySource | None = None, top_reasons: int = 4,
                 model_id: str | None = None, threads: int | None = 1) -> None:
        self.dataset, self.model, self.overlay, self.top = dataset, model, overlay, top_reasons
        card = model._card()
        self.card = card
        art = getattr(model, "artifact_", None)
        self.model_id = model_id or (art.sha256 if art is not None else "unsaved-scorecard")
        self.definitions = needed_definitions(card.names, model.definitions_)
        self.ranges = self._dimension_ranges()
        self._db = duckdb.connect()
        if threads:  # one core per request by default: the server already runs requests in parallel
            self._db.execute(f"SET threads = {int(threads)}")
        self._lock = threading.Lock()
        self._event_columns = {r[0] for r in self._db.execute(
            f"DESCRIBE SELECT * FROM {dataset.scan('events')}").fetchall()}
        self._people_columns = {r[0] for r in self._db.execute(
            f"DESCRIBE SELECT * FROM {dataset.scan('people')}").fetchall()}

    def _dimension_ranges(self) -> dict[str, tuple[int, int]]:
        card = self.card
        k = len(card.dimensions)
        q, r = divmod(int(card.base_points), k)
        out = {}
        for i, dim in enumerate(card.dimensions):
            share = q + (1 if i < r else 0)
            feats = [f for f in card.features if f.dimension == dim]
            lo = share + sum(min(f.points) for f in feats)
            hi = share + sum(max(f.points) for f in feats)
            out[dim] = (int(lo), int(hi))
        return out

    def data_categories(self) -> list[dict]:
        used = set(self.card.names)
        return data_categories([d for d in self.definitions if d.name in used])

    def scope(self, person_ids: Sequence[str] | None) -> ScopedDataset:
        return ScopedDataset(self.dataset, person_ids, self.overlay, self._event_columns)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection to the scorer's DuckDB database (cheap; a new database costs ~15 ms)."""
        with self._lock:
            return self._db.cursor()

    def person_events(self, person_id: str) -> pd.DataFrame:
        con = self.cursor()
        try:
            return self.scope([person_id]).person_events(person_id, con)
        finally:
            con.close()

    def features(self, person_ids: Sequence[str] | None, as_of: datetime) -> pd.DataFrame:
        """The model's features for these people (None: everyone in the data set) as of `as_of`.

        The feature engine's own plan (features.engine.plan), run on a cursor of a long-lived DuckDB
        database. For given people the whole plan is one query of CTEs over the narrowed sources: each
        statement costs DuckDB a millisecond or two whatever its size, and a person's rows are a few hundred.
        Everyone (None) goes through the engine's materialised steps instead, which suit large tables.
        """
        from deepcredit.features.engine import Session, applicable, plan

        con = self.cursor()
        try:
            scoped = self.scope(person_ids)
            stamp = f"TIMESTAMP '{pd.Timestamp(as_of).isoformat(sep=' ')}'"
            if person_ids is None:  # everyone the data set or the service knows
                scoped.connect(con)
                spine = (f"SELECT person_id, {stamp} AS as_of, CAST(NULL AS INTEGER) AS label FROM "
                         "(SELECT person_id FROM people UNION SELECT person_id FROM events) ORDER BY person_id")
            else:
                sources = scoped.sources(con)
                ids = list(dict.fromkeys(person_ids)) or [""]
                values = ", ".join(f"({_sql_list([i])})" for i in ids)
                spine = (f"SELECT CAST(person_id AS VARCHAR) AS person_id, {stamp} AS as_of, "
                         f"CAST(NULL AS INTEGER) AS label FROM (VALUES {values}) t(person_id)")
            people_cols = self._people_columns
            defs = applicable(self.definitions, people_cols)
            if person_ids is None:
                con.execute(f"CREATE OR REPLACE TEMP TABLE spine AS {spine}")
                event_cols = {r[0] for r in con.execute("DESCRIBE events").fetchall()}
                Session(con, people_cols, event_cols).materialise(plan(defs, people_cols, event_cols))
                frame = con.execute("SELECT * FROM features").df()
            else:
                steps = [("spine", spine), *sources.items(), *plan(defs, people_cols, scoped.scoped_event_columns)]
                ctes = ",\n".join(f"{name} AS ({sql})" for name, sql in steps[:-1])
                frame = con.execute(f"WITH {ctes}\n{steps[-1][1]}").df()
        finally:
            con.close()
        for d in defs:  # the dtypes build_features gives, so models see what they were trained on
            frame[d.name] = frame[d.name].astype("float64" if str(d.kind) == "numeric" else "category")
        return frame.set_index("person_id")

    def score_people(self, person_ids: Sequence[str] | None, as_of: datetime | None = None) -> list[ScoredPerson]:
        as_of = as_of or self.dataset.snapshot_date.to_pydatetime()
        frame = self.features(person_ids, as_of)
        ids = list(dict.fromkeys(person_ids)) if person_ids is not None else list(frame.index)
        return self._score_frame(frame.loc[ids], as_of)

    def score_everyone(self, as_of: datetime, chunk: int = 50_000) -> Iterator[list[ScoredPerson]]:
        """Everyone in the data set (plus the service's own people), in chunks: features are computed once,
        ScoredPerson objects (and their rows) a chunk at a time, so a million people fit in memory."""
        frame = self.features(None, as_of)
        for start in range(0, len(frame), chunk):
            yield self._score_frame(frame.iloc[start:start + chunk], as_of)

    def _score_frame(self, frame: pd.DataFrame, as_of: datetime) -> list[ScoredPerson]:
        ids = list(frame.index)
        X = frame.reset_index(drop=True)
        sub = self.model.subscores(X)
        bands = self.card.scale.band(sub["score"].to_numpy())
        reasons: dict[int, list[Reason]] = {}
        for row in self.model.explain(X, top=self.top).itertuples(index=False):
            reasons.setdefault(int(row.row), []).append(Reason(
                feature=str(row.feature), dimension=str(row.dimension), value=str(row.value),
                points_lost=int(row.points_lost), reason=str(row.reason), how_to_improve=str(row.how_to_improve)))
        dims = list(self.card.dimensions)
        values = sub[dims].to_numpy(dtype=np.int64)
        scores = sub["score"].to_numpy(dtype=np.int64)
        return [ScoredPerson(person_id=pid, as_of=as_of, score=int(scores[i]), band=str(bands[i]),
                             dimensions=[DimensionScore(d, int(values[i, j]), *self.ranges[d])
                                         for j, d in enumerate(dims)],
                             reasons=reasons.get(i, []), model_id=self.model_id)
                for i, pid in enumerate(ids)]


def load_scorer(model_path: Path, dataset: Dataset, overlay: OverlaySource | None = None,
                threads: int | None = 1) -> Scorer:
    """The Scorer for a model artifact, chosen by the artifact's kind (hashes verified on load)."""
    from deepcredit.scoring.artifacts import SCORECARD_KIND, load_artifact

    kind = load_artifact(Path(model_path)).kind
    if kind == SCORECARD_KIND:
        from deepcredit.models.scorecard import WoEScorecard

        return ScorecardScorer(dataset, WoEScorecard.load(Path(model_path)), overlay, threads=threads)
    raise ValueError(f"{model_path}: the service cannot serve a {kind!r} model yet "
                     f"(supported: {SCORECARD_KIND!r}); add a Scorer for it in service/scoring.py")
