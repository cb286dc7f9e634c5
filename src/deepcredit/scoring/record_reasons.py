"""Which of a person's own records weigh most on their score: each one left out, through the whole model.

Why: the sequence, hybrid and wide & deep towers read a person's events as a whole, so their share of a
score lands on a dimension ("your record of keeping commitments read as a whole"), not on a feature, and a
person cannot act on a dimension. What they can act on, or dispute, is a record: "the instalment due
2024-03-01, paid 45 days late". So for one person as of T, every event of theirs dated before T (as the
feature build sees them; the latest RECORD_CAP of them) is left out in turn, their features are rebuilt
without it and the same model, whatever it is (a scorecard, a GBDT, a tower, the stack), scores them again:
the points the score gains without a record are what that record costs. No model internals are read, so the
answer holds for every model.

All the variants are built in one feature build: `LeftOut` is a data set holding this person's rows once
per variant, under ids of its own, each copy without its one record (and one copy whole, the baseline of
the same build), with their relations and their neighbours' events, so that the neighbours' aggregates read
as they do for the person. A model that reads the graph gets each variant as one more node receiving the
messages the person receives in the whole population's graph; the neighbours' own rows, which also read the
person, stay as they are (what a record does to a score through the neighbours is not counted).

The rows are read through the data set's `sources` (the SELECT of its people, relations and events), so a
data set that holds more than its files (the service's, with the events merchants reported and the records
disputes corrected) is read as its own scores read it: `deepcredit explain` and the person's records in the
service (service/records.py) are this one mechanism, which is why it lives in scoring/, below both.

Records taken together: one record alone often weighs little where many of its kind weigh a lot (342 late
records, a 91-point reason, no single one worth a point). So the same build holds a few more variants, each
leaving out a GROUP of the person's records before T together (all of them, not only the latest RECORD_CAP):
those of each status meaning the spec declares (late, broken, late or broken, ...) and those of each kind.
A group is one more row of the build, whatever its size.

Point in time: only events strictly before T are considered, shown or built. Privacy: what is shown is the
person's own records (no counterparty, no other person's id); the variants' ids never leave the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from deepcredit.data.dataset import Dataset, new_connection
from deepcredit.data.spec import DatasetSpec
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.graph import Graph
from deepcredit.features.spec import FeatureDef, Kind
from deepcredit.models.base import CreditModel
from deepcredit.models.stack import model_views
from deepcredit.scoring.record_cap import RECORD_CAP
from deepcredit.scoring.scorer import Scorer

SHOWN = ("event_id", "ts", "kind", "status", "amount", "due_ts", "days_late")
"""The columns of a record a person reads about it (the counterparty is left out: it may name someone); the
record's own id where the data holds one (the service's copy does), which a dispute names."""
KIND_GROUPS = 10
"""The most groups by kind (the person's most frequent kinds): a spec with many kinds adds no more rows."""
WHOLE = -1
"""The variant that leaves nothing out: the baseline, built with the others."""
MEANING_GROUPS: tuple[tuple[str, ...], ...] = (("late",), ("broken",), ("late", "broken"), ("open",), ("kept",),
                                               ("neutral",))
"""The groups of records by what their status means (the spec's status meanings): the late and broken ones
also together, as a reason about keeping commitments reads them."""
MEANING_WORDS = {"kept": "kept", "late": "late", "broken": "missed", "open": "open", "neutral": "other"}
"""A status meaning as a person reads it of their records ("your 342 late records")."""
GROUP_COLUMNS = ("by", "name", "label", "count", "points")


@dataclass
class RecordWeights:
    """What each considered record costs: `weights`, one row per record (SHOWN columns that the data set
    has, `points`: the score gained without it, negative where the record helps), latest first."""

    weights: pd.DataFrame
    records: int
    """How many of the person's events are dated before T (the considered ones are the latest RECORD_CAP)."""
    baseline: float = float("nan")
    """The unrounded score of the person whole, in the same build (the score they were told, to float noise)."""
    groups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(GROUP_COLUMNS)))
    """What groups of the records cost together, one row per group: `by` ("meaning": of a status meaning,
    "kind": of a kind), `name` (the meanings joined by " or ", or the kind), `label` (as a person reads it:
    "late", "late or missed", the kind), `count` (its records before T) and `points` (the score gained
    without all of them at once). Groups of the same records are listed once."""

    @property
    def considered(self) -> int:
        return len(self.weights)

    def top(self, k: int = 3) -> pd.DataFrame:
        """The k records that lower the score most, each by at least a whole point (rounded, as reasons are)."""
        costly = self.weights[np.rint(self.weights["points"]) >= 1]
        return costly.sort_values("points", ascending=False, kind="stable").head(max(0, k)).reset_index(drop=True)

    def top_groups(self, k: int = 5) -> pd.DataFrame:
        """The k groups that lower the score most, each by at least a whole point, costliest first."""
        costly = self.groups[np.rint(self.groups["points"].astype(float)) >= 1]
        return costly.sort_values("points", ascending=False, kind="stable").head(max(0, k)).reset_index(drop=True)


class LeftOut(Dataset):
    """`base` narrowed to one person as of one date, their rows copied once per variant: the person whole,
    without each of their latest `cap` records before `as_of`, and without each group of their records
    before `as_of` (group_definitions; module docstring). Tables other than people, events and relations are
    the base's own."""

    def __init__(self, base: Dataset, person: str, as_of: pd.Timestamp, cap: int = RECORD_CAP) -> None:
        self.root, self.manifest, self.base = base.root, base.manifest, base  # validated when base was opened
        self.person, self.as_of, self.cap = person, pd.Timestamp(as_of).as_unit("us"), int(cap)

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        con = con or new_connection()
        scan = self.base.scan
        source = {name: f"({sql})" for name, sql in self.base.sources(con).items()}  # the base's own rows
        con.register("_lo_in", pa.table({"person_id": pa.array([self.person], pa.string()),
                                         "as_of": pa.array([self.as_of.to_datetime64()], pa.timestamp("us"))}))
        con.execute("CREATE OR REPLACE TEMP TABLE _lo_person AS SELECT * FROM _lo_in")
        con.unregister("_lo_in")
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source['events']} e").fetchall()]
        order = ", ".join(["ts DESC", *(f'"{c}"' for c in columns if c not in ("ts", "person_id"))])
        # the person's records before T, numbered latest first (identical rows: either is the same record)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _lo_records AS
                        SELECT *, ROW_NUMBER() OVER (ORDER BY {order}) - 1 AS _record FROM {source['events']} e
                        WHERE person_id = (SELECT person_id FROM _lo_person)
                          AND ts < (SELECT as_of FROM _lo_person)""")
        self._groups(con)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _lo_variants AS
                        SELECT {WHOLE} AS left_out UNION ALL
                        SELECT _record FROM _lo_records WHERE _record < {self.cap} UNION ALL
                        SELECT left_out FROM _lo_groups""")
        # ids of the build's own: the person's id and a separator no id is written with (they never leave it)
        variant = "(SELECT person_id FROM _lo_person) || chr(31) || CAST(v.left_out AS VARCHAR)"
        person = "(SELECT person_id FROM _lo_person)"
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _lo_relations AS
                        SELECT r.* REPLACE (CASE WHEN r.source = {person} THEN {variant} ELSE r.source END AS source,
                                            CASE WHEN r.target = {person} THEN {variant} ELSE r.target END AS target)
                        FROM {source['relations']} r, _lo_variants v
                        WHERE r.source = {person} OR r.target = {person}""")
        neighbours = (f"SELECT source FROM {source['relations']} r WHERE target = {person} UNION "
                      f"SELECT target FROM {source['relations']} r WHERE source = {person}")
        views = {"people": f"SELECT p.* REPLACE ({variant} AS person_id) FROM {source['people']} p, _lo_variants v "
                           f"WHERE p.person_id = {person}",
                 "events": f"SELECT e.* EXCLUDE (_record) REPLACE ({variant} AS person_id) "
                           "FROM _lo_records e JOIN _lo_variants v ON e._record <> v.left_out "
                           "AND NOT EXISTS (SELECT 1 FROM _lo_members m "
                           "WHERE m.left_out = v.left_out AND m._record = e._record) "
                           f"UNION ALL SELECT * FROM {source['events']} e WHERE person_id IN ({neighbours}) "
                           f"AND person_id <> {person}",
                 "relations": "SELECT * FROM _lo_relations"}
        for name in [*self.manifest.tables, *self.manifest.extras]:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {views.get(name, f'SELECT * FROM {scan(name)}')}")
        return con

    def _groups(self, con: duckdb.DuckDBPyConnection) -> None:
        """_lo_groups (left_out, basis, name, label, count: one row per group of distinct records, numbered
        below WHOLE) and _lo_members (left_out, _record): the groups of the person's records before T."""
        kinds = sorted(r[0] for r in con.execute(  # the person's most frequent kinds: each group is one more row
            "SELECT kind FROM _lo_records WHERE kind IS NOT NULL GROUP BY kind ORDER BY COUNT(*) DESC, kind "
            f"LIMIT {KIND_GROUPS}").fetchall())
        rows = [(g, by, name, label, column, value)
                for g, (by, name, label, column, values) in enumerate(group_definitions(self.base.spec, kinds))
                for value in sorted(values)]
        con.register("_lo_def_in", pa.table({k: pa.array(v, t) for k, v, t in zip(
            ("g", "basis", "name", "label", "field", "value"), zip(*rows, strict=True) if rows else [()] * 6,
            (pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string()), strict=True)}))
        con.execute("CREATE OR REPLACE TEMP TABLE _lo_def AS SELECT * FROM _lo_def_in")
        con.unregister("_lo_def_in")
        con.execute("""CREATE OR REPLACE TEMP TABLE _lo_all_members AS
                       SELECT DISTINCT d.g, r._record FROM _lo_records r JOIN _lo_def d
                         ON (d.field = 'status' AND r.status = d.value) OR (d.field = 'kind' AND r.kind = d.value)""")
        # a group of the same records as an earlier one is the same variant: listed once, the earlier's words
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _lo_groups AS
                        WITH sig AS (SELECT g, COUNT(*) AS count,
                                            string_agg(CAST(_record AS VARCHAR), ',' ORDER BY _record) AS records
                                     FROM _lo_all_members GROUP BY g),
                             firsts AS (SELECT MIN(g) AS g, ANY_VALUE(count) AS count FROM sig GROUP BY records)
                        SELECT {WHOLE} - 1 - f.g AS left_out, f.g, d.basis, d.name, d.label, f.count
                        FROM firsts f JOIN (SELECT DISTINCT g, basis, name, label FROM _lo_def) d USING (g)""")
        con.execute("""CREATE OR REPLACE TEMP TABLE _lo_members AS
                       SELECT g.left_out, m._record FROM _lo_all_members m JOIN _lo_groups g USING (g)""")

    def variants(self) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """(variants: left_out, person_id, and for a group's (by, name, label, count); the considered records,
        latest first, with `_record`; how many records the person has before T)."""
        con = self.connect()
        try:
            variants = con.execute("SELECT v.left_out, p.person_id || chr(31) || CAST(v.left_out AS VARCHAR) "
                                   "AS person_id, g.basis AS \"by\", g.name, g.label, g.count FROM _lo_variants v "
                                   "CROSS JOIN _lo_person p LEFT JOIN _lo_groups g USING (left_out) "
                                   "ORDER BY v.left_out").df()
            records = con.execute(f"SELECT * EXCLUDE (person_id) FROM _lo_records WHERE _record < {self.cap} "
                                  "ORDER BY _record").df()
            (total,) = con.execute("SELECT COUNT(*) FROM _lo_records").fetchone() or (0,)
        finally:
            con.close()
        return variants, records, int(total)


def record_weights(model: CreditModel, definitions: list[FeatureDef], dataset: Dataset, person: str,
                   as_of: object, cap: int = RECORD_CAP, context: tuple[ModelInput, int] | None = None
                   ) -> RecordWeights:
    """What each of `person`'s latest `cap` records before `as_of` costs their score under `model`.

    context: (the bundle the person was scored in, their position among its rows): what a model that reads
    the graph takes each variant's incoming messages from (workflows.explain.Explained.input and .row; in the
    service, the person's own scope)."""
    as_of = pd.Timestamp(as_of)
    data = LeftOut(dataset, person, as_of, cap)
    variants, records, total = data.variants()
    shown = [c for c in SHOWN if c in records.columns]
    if records.empty:
        return RecordWeights(pd.DataFrame(columns=[*shown, "points"]), total)
    views = model_views(model)
    spine = pd.DataFrame({"person_id": variants["person_id"].astype(str),
                          "as_of": pd.Series(as_of, index=variants.index).astype("datetime64[us]")})
    inp = build_model_input(data, spine=spine, views=[v for v in views if v != "structural"],
                            definitions=definitions)
    if "structural" in views:
        if context is None:
            raise ValueError(f"{model.kind} reads the graph: the records' weights need the bundle the person was "
                             "scored in (context)")
        inp = with_incoming_messages(*context, inp)
    scorer = Scorer(model)
    raw = scorer.scale.raw_score(scorer.probability(inp))
    by_id = dict(zip(inp.keys["person_id"], raw, strict=True))
    score = variants["person_id"].map(by_id).to_numpy(dtype=float)
    whole = score[variants["left_out"].to_numpy() == WHOLE][0]
    gained = dict(zip(variants["left_out"], score - whole, strict=True))
    weights = records[shown].assign(points=records["_record"].map(gained).to_numpy(dtype=float))
    grouped = variants[variants["left_out"] < WHOLE].sort_values("left_out", ascending=False)
    groups = grouped[["by", "name", "label"]].astype(str).assign(
        count=grouped["count"].astype(int).to_numpy(), points=grouped["left_out"].map(gained).to_numpy(dtype=float))
    return RecordWeights(weights.reset_index(drop=True), total, float(whole), groups.reset_index(drop=True))


def group_definitions(spec: DatasetSpec, kinds: list[str]) -> list[tuple[str, str, str, str, frozenset[str]]]:
    """The groups of a person's records left out together: (by, name, label, the column it reads, its values)
    for each status meaning (MEANING_GROUPS) the spec gives statuses, then for each of `kinds` (the person's)."""
    events = spec.events
    groups = []
    for meanings in MEANING_GROUPS:
        statuses = events.statuses_meaning(*meanings) if events is not None else frozenset()
        if statuses:
            groups.append(("meaning", " or ".join(meanings), " or ".join(MEANING_WORDS[m] for m in meanings),
                           "status", statuses))
    return groups + [("kind", k, k.replace("_", " "), "kind", frozenset([k])) for k in kinds]


def with_incoming_messages(base: ModelInput, row: int, variants: ModelInput) -> ModelInput:
    """`base` (the whole population's bundle) with the variants' rows appended, each receiving a copy of every
    edge into the person's row (`row`, a position among base's rows); no edge leaves a variant, so nobody
    else's score moves. The bundle's rows are the variants'."""
    frame = pd.concat(aligned(base.tabular.frame, variants.tabular.frame), ignore_index=True)
    for d in base.tabular.definitions:  # one category set over all rows, as when the engine builds them at once
        if d.kind is not Kind.NUMERIC and d.name in frame:
            frame[d.name] = frame[d.name].astype(object).astype("category")
    n, m = len(base.tabular.frame), len(variants.tabular.frame)
    graph = base.graph
    sequences = base.sequences
    if graph is not None:
        me = int(base.index[row])
        into = np.flatnonzero(graph.edge_index[1] == me)
        src = np.tile(graph.edge_index[0, into], m)
        dst = np.repeat(np.arange(n, n + m), len(into))
        graph = Graph(np.hstack([graph.edge_index, np.vstack([src, dst])]),
                      np.concatenate([graph.edge_weight, np.tile(graph.edge_weight[into], m)]),
                      np.concatenate([graph.edge_age_days, np.tile(graph.edge_age_days[into], m)]), n + m)
    if sequences is not None and variants.sequences is not None:
        v = variants.sequences
        sequences = replace(sequences, kind=np.concatenate([sequences.kind, v.kind]),
                            status=np.concatenate([sequences.status, v.status]),
                            numeric=np.concatenate([sequences.numeric, v.numeric]),
                            lengths=np.concatenate([sequences.lengths, v.lengths]))
    tabular = FeatureFrame(frame, base.tabular.definitions, base.tabular.meta)
    return ModelInput(tabular, sequences, graph, rows=np.arange(n, n + m))


def aligned(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two frames of the same columns, a column that is all missing on one side cast to the other side's
    dtype: what concatenating them then gives is the dtype of the side with values (pandas deprecates
    leaving all-missing columns out of the choice, and a numeric feature read as text is refused)."""
    def holding_na(dtype: object) -> object:  # a numpy integer or bool column cannot hold a missing value
        return np.dtype("float64") if isinstance(dtype, np.dtype) and dtype.kind in "iub" else dtype

    def cast(x: pd.DataFrame, y: pd.DataFrame) -> pd.DataFrame:
        empty = {c: holding_na(y[c].dtype) for c in x.columns if c in y and len(x) and x[c].isna().all()
                 and x[c].dtype != y[c].dtype and not (len(y) and y[c].isna().all())}
        return x.astype(empty) if empty else x

    return cast(a, b), cast(b, a)
