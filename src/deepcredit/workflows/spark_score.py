"""Batch scoring on Apache Spark: the in-process job (workflows/score.py), distributed.

The same job: the same chunks of people (sorted ids, `chunk_size` each), the same feature plan (run by
Spark SQL, features/spark_engine.py), the same Scorer (Scorer.report), the same part files and
`_job.json`; so the parts have the very bytes the in-process path writes, and either engine resumes the
other's job. What Spark adds: features and event sequences are computed by Spark for the whole population
(sequences as sorted arrays per row, collect_list, never one Python call per person), and each chunk is
scored by `mapInPandas` on an executor, with the model broadcast once (a Python worker unpickles it once).

Graph members read neighbours within `hops` relations: as in process, a chunk is scored over its ball,
its people plus everyone within `hops` hops as unscored context rows. Spark builds all balls at once (one
relation hop per step, scope.ring_sql: the statement scope.neighbourhood runs), their rows' features (the
`features` view) and their edges (graph.edges_sql, build_graph's own join, per chunk), and ships a
chunk's node rows and edge rows (one schema, an edge flag) to one task. Where every graph member runs a
layer at a time (models.stack.layer_wise_members), as in process the balls reach one hop only: a first
pass over every chunk stores everyone's output of each layer but the last (`OUT/_states/layer-N`, Parquet,
written by the tasks through Spark), and each chunk's node rows then carry the stored outputs its members'
last layers read (ModelInput.node_states). The stored layers are computed again by a rerun that still has
chunks to score, and removed when the job completes.

Commit protocol (kill -9 safe): a task writes its chunk's part atomically (temp name, then rename; under
OUT/_parts, published as OUT when the job completes, as in process: workflows/job.py) and then its commit
record `_commits/part-NNNNN.parquet.json` (rows, sha256), also atomically. The driver lists a part in
`_job.json` only when its record and file agree; a rerun on either engine first collects the records a
killed run left (Job.open), then schedules only the chunks still missing. A chunk rewritten by a retried or speculative task
gets the same name and the same bytes, so nothing is ever duplicated.

Progress: the driver counts the chunks whose commit record (or, for a stored layer, a task's mark in
`OUT/_states/_done/layer-N`) has landed, in a thread (ticking), and calls on_chunk as the in-process
job does; Spark's own task counts mix every stage of a job. The features of everybody, computed first as
a phase of their own, have no chunks: on_chunk('features (Spark SQL)', tasks done, tasks so far) counts
Spark's tasks from its status tracker (features/spark_progress.py).

Executors write OUT directly: it must be a path every executor sees (local disk in local mode, a shared
file system on a cluster; docs/scale.md).
"""

from __future__ import annotations

import math
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepcredit.config import RunConfig
from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_json, atomic_write_parquet, file_sha256
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame, feature_plan, rows_sql, typed
from deepcredit.features.graph import EDGE_FIELDS, edge_arrays, edges_sql, graph_steps
from deepcredit.features.sequences import coding, from_lists
from deepcredit.features.spark_engine import (
    DEFAULT_MASTER,
    ENGINES,
    SparkFeatureSession,
    open_spark_session,
    sequence_arrays_sql,
    spark_session,
)
from deepcredit.features.spark_progress import SPARK_SQL, polling, spark_tasks
from deepcredit.features.spec import FeatureDef
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import CreditModel, load_model
from deepcredit.models.scale import ScoreScale
from deepcredit.models.stack import graph_hops, layer_wise_members, model_views
from deepcredit.scoring.input_check import SAMPLE_ROWS, check_scoring_input
from deepcredit.scoring.scorer import Scorer
from deepcredit.workflows.job import COMMITS, PENDING, Job, job_lock
from deepcredit.workflows.scope import ring_sql
from deepcredit.workflows.score import (
    STATE_STORE,
    ChunkFn,
    Spine,
    check_model_features,
    job_identity,
    job_record,
    part_name,
    scatter,
    score_batch,
    store_name,
    string_columns,
)
from deepcredit.workflows.spine import spine_sql

RESULT_SCHEMA = "part string, rows long, sha256 string"
EDGE, ROW, OWN, STATE = "node_is_edge", "node_row", "node_own", "node_state_"
"""Columns of a chunk's rows besides its features: edge row or node row, node position, the chunk's own,
and (STATE + a member's kind) a stored layer output that member reads."""
EDGE_COLUMNS = {c: c if c.startswith("edge_") else f"edge_{c}" for c in EDGE_FIELDS}
"""edges_sql's columns, as an edge row carries them."""
MAX_LEN = 64
"""Sequence length: build_model_input's default, which the in-process job uses."""
DONE = "_done"
"""OUT/_states/_done/layer-N/chunk-NNNNN: a task's mark that it computed chunk NNNNN's layer N (progress only)."""
FEATURES = f"features{SPARK_SQL}"
"""The progress stage of the Spark SQL computing everybody's features: its counts are Spark tasks so far."""
POLL_S = 0.5
"""How often the driver looks for the records of finished chunks while Spark runs a stage."""


def score_batch_spark(model_dir: Path, dataset: Dataset, out: Path, cfg: RunConfig | None = None,
                      master: str = DEFAULT_MASTER, location: str | None = None,
                      on_chunk: ChunkFn | None = None) -> dict:
    """Score every row of the spine on Spark into `out` (part files and _job.json); resumes a killed run.

    `location`: where Spark reads the data set's tables (default: the data set's directory; e.g. an s3a://
    copy of it). Returns the job manifest, as score_batch does.
    """
    with job_lock(out):
        return _score_batch_spark(model_dir, dataset, out, cfg, master, location, on_chunk)


def _score_batch_spark(model_dir: Path, dataset: Dataset, out: Path, cfg: RunConfig | None, master: str,
                       location: str | None, on_chunk: ChunkFn | None) -> dict:
    cfg = cfg or RunConfig()
    s = cfg.scoring
    art = load_artifact(Path(model_dir), strict_versions=s.strict_input)  # other library versions: refused
    model = load_model(Path(model_dir))
    defs = [FeatureDef.from_dict(d) for d in art.manifest["features"]]
    check_model_features(art, dataset)  # before Job.open writes anything
    # the same input check as the embedded engine's, on the same sample spread over the whole spine
    spine = Spine(dataset, s.as_of, s.chunk_size)
    try:
        checked = check_scoring_input(art, model, defs, dataset, spine.sample(SAMPLE_ROWS), s.strict_input,
                                      spine.before_joining())
    finally:
        spine.close()
    session = open_spark_session(spark_session(master), dataset, location=location, spine_sql=spine_sql(s.as_of))
    spark = session.spark
    session.view("chunks", session.sql(f"""
        SELECT person_id, CAST(FLOOR((DENSE_RANK() OVER (ORDER BY person_id) - 1) / {int(s.chunk_size)}) AS INT) AS chunk
        FROM (SELECT DISTINCT person_id FROM spine) p"""))
    counts = spark.sql("SELECT COUNT(*) AS n_rows, COUNT(DISTINCT person_id) AS n_people FROM spine").collect()[0]
    n_chunks = math.ceil(counts["n_people"] / s.chunk_size)
    fingerprint = dataset.checked_fingerprint()  # a job of changed data is not the same job
    job = Job.open(out, job_identity(art.sha256, fingerprint, s, n_chunks, counts["n_rows"]),
                   {**job_record(cfg, fingerprint, art.manifest), "engine": "spark", "master": master, "input_check": checked})
    todo = [i for i in range(n_chunks) if not job.done("parts", part_name(i), job.part_path(part_name(i)))]
    if todo:
        views = model_views(model)
        writer = ChunkWriter(spark.sparkContext.broadcast(model), defs, str(job.out), dataset, s.reasons,
                             s.explain, "temporal" in views, "structural" in views)
        hops = graph_hops(model) if n_chunks > 1 else 0
        layered = layer_wise_members(model) if hops > 1 else None
        rows = _chunk_rows(session, defs, writer, todo, hops, layered, n_chunks, job.out / STATE_STORE, on_chunk)
        with ticking("scores", job.out / COMMITS, n_chunks, on_chunk, set(job.manifest["parts"]), ".json"):
            results = rows.mapInPandas(writer, RESULT_SCHEMA).collect()
        for r in results:
            job.record("parts", r["part"], {"rows": int(r["rows"]), "sha256": r["sha256"]})
    if on_chunk:
        on_chunk("scores", n_chunks, n_chunks)
    shutil.rmtree(job.out / STATE_STORE, ignore_errors=True)
    session.close()
    return job.finish()


def score_job(model_dir: Path, dataset: Dataset, out: Path, cfg: RunConfig | None = None,
              on_chunk: ChunkFn | None = None, engine: str = "duckdb", master: str = DEFAULT_MASTER) -> dict:
    """Batch scoring on `engine`: in process (score_batch) or on Spark at `master` (score_batch_spark)."""
    if engine == "spark":
        return score_batch_spark(model_dir, dataset, out, cfg, master, on_chunk=on_chunk)
    if engine != "duckdb":
        raise ValueError(f"--engine: unknown engine {engine!r}: choose from {', '.join(ENGINES)}")
    return score_batch(model_dir, dataset, out, cfg, on_chunk=on_chunk)


@contextmanager
def ticking(stage: str, folder: Path, n: int, tick: ChunkFn | None, done: set[str] | None = None,
            suffix: str = "") -> Iterator[None]:
    """on_chunk(stage, count, n) while Spark runs a stage, from a thread that counts the chunks whose record
    a task has written in `folder` (named the chunk's name + `suffix`), besides those `done` before.

    Why files: a task's record lands when its chunk is done, and the driver sees OUT (it collects the
    commit records there), so the count is of chunks, not of Spark's tasks of every stage."""
    if tick is None:
        yield
        return
    before = set(done or ())

    def poll(stop: threading.Event) -> None:
        last, stopping = -1, False
        while True:  # at once (the chunks done before), then every POLL_S, and once more when stopped
            names = {p.name.removesuffix(suffix) for p in folder.glob("*") if not p.name.startswith(".")}
            count = min(len(before | names), n)
            if count > last:
                tick(stage, count, n)
                last = count
            if stopping:
                return
            stopping = stop.wait(POLL_S)

    with polling(poll, f"deepcredit-progress-{stage}"):
        yield


def _chunk_rows(session: SparkFeatureSession, defs: list[FeatureDef], writer: ChunkWriter, todo: list[int],
                hops: int, layered: dict[str, CreditModel] | None = None, n_chunks: int = 0,
                store: Path | None = None, tick: ChunkFn | None = None) -> Any:
    """Every row of the chunks to do, range-partitioned by chunk so a task holds whole chunks: node rows (a
    chunk's ball: its people and, for a graph member, everyone within `hops` relations, at the chunk's
    as-of dates) with their features and, own rows of temporal models, their sequence arrays; and, for a
    graph member, edge rows (the ball's edges, by the plan's own edges_sql). With `layered` graph members
    (module docstring), every layer but the last is stored first (under `store`, for all `n_chunks`) and
    the balls reach one hop."""
    _, steps = feature_plan(session, defs)
    with spark_tasks(session.spark, FEATURES, tick):  # the features of everybody, before any chunk
        session.materialise(steps)
        session.compute("features")
    edges = graph_steps(session) if writer.graph else []
    session.materialise(edges)
    hops = hops if edges else 0  # no relations declared: every chunk's graph is lone nodes
    states: dict[str, str] = {}
    if layered and hops > 1 and store is not None:
        states = _stored_layers(session, writer, layered, list(range(n_chunks)), store, tick)
        hops = 1
    return _ball_rows(session, writer, todo, hops, bool(edges), states)


def _stored_layers(session: SparkFeatureSession, writer: ChunkWriter, layered: dict[str, CreditModel],
                   chunks: list[int], store: Path, tick: ChunkFn | None = None) -> dict[str, str]:
    """Every row's output of each layer but the last of each graph member, one layer at a time, each
    chunk over its one-hop ball reading the layer before; the view each member's last layer reads, by
    kind. tick: on_chunk('graph layer N', ...) as the tasks finish chunks (ticking)."""
    reads: dict[str, str] = {}
    for layer in range(1, max(graph_hops(m) for m in layered.values())):
        deeper = [kind for kind, m in layered.items() if graph_hops(m) > layer]
        states = StateWriter(writer, layer, deeper)
        rows = _ball_rows(session, states, chunks, 1, True, {k: v for k, v in reads.items() if k in deeper})
        path, marks = store / f"layer-{layer}", store / DONE / f"layer-{layer}"
        shutil.rmtree(marks, ignore_errors=True)  # a killed run's marks: every chunk's layer is computed again
        with ticking(f"graph layer {layer}", marks, len(chunks), tick):
            rows.mapInPandas(states, states.schema).write.mode("overwrite").parquet(str(path))
        if tick:
            tick(f"graph layer {layer}", len(chunks), len(chunks))
        view = f"layer_states_{layer}"
        session.view(view, session.spark.read.parquet(str(path)))
        reads.update(dict.fromkeys(deeper, view))
    return reads


def _ball_rows(session: SparkFeatureSession, writer: ChunkWriter, chunks: list[int], hops: int, edges: bool,
               states: dict[str, str]) -> Any:
    """_chunk_rows' rows of `chunks` over balls of `hops`, node rows carrying the stored layer outputs in
    `states` (member kind: view)."""
    ball = _balls(session, chunks, hops)
    session.sql(f"""
        SELECT b.chunk, s.person_id, s.as_of
        FROM {ball} b JOIN spine s ON s.person_id = b.person_id
        JOIN (SELECT DISTINCT c.chunk, s.as_of FROM spine s JOIN chunks c ON c.person_id = s.person_id) d
          ON d.chunk = b.chunk AND d.as_of = s.as_of""").createOrReplaceTempView("ball_keys")
    session.view("ball_rows", session.sql(rows_sql("ball_keys", by="chunk")))
    seq_cols, seq_join = "", ""
    if writer.temporal and writer.coding is not None:
        session.sql(sequence_arrays_sql(writer.coding, MAX_LEN)).createOrReplaceTempView("sequence_arrays")
        seq_cols = "".join(f", q.seq.{f} AS seq_{f}" for f in writer.coding.fields)
        seq_join = ("LEFT JOIN sequence_arrays q ON c.chunk = n.chunk "
                    "AND q.person_id = n.person_id AND q.as_of = n.as_of")  # own rows' only, as score.scatter
    state_cols = "".join(f", st{i}.`{kind}` AS {STATE}{kind}" for i, kind in enumerate(states))
    state_join = "".join(f" LEFT JOIN {view} st{i} ON st{i}.person_id = n.person_id AND st{i}.as_of = n.as_of"
                         for i, view in enumerate(states.values()))
    rows = session.spark.sql(f"""
        SELECT n.chunk, 0 AS {EDGE}, n.row_id AS {ROW}, c.chunk = n.chunk AS {OWN}, f.*{seq_cols}{state_cols}
        FROM ball_rows n
        JOIN features f ON f.person_id = n.person_id AND f.as_of = n.as_of
        JOIN chunks c ON c.person_id = n.person_id {seq_join}{state_join}""")
    if writer.graph and edges:
        links = session.sql(edges_sql("SELECT * FROM ball_rows", by="chunk", order=False)).selectExpr(
            "chunk", f"1 AS {EDGE}", *(f"{c} AS {name}" for c, name in EDGE_COLUMNS.items()))
        rows = rows.unionByName(links, allowMissingColumns=True)
    return rows.repartitionByRange(len(chunks), "chunk")


def _balls(session: SparkFeatureSession, todo: list[int], hops: int) -> str:
    """The view of (chunk, person_id): each chunk's people and everyone within `hops` relations of them,
    the set workflows/scope.neighbourhood gives, one relation hop (scope.ring_sql) per step for all chunks."""
    session.view("ball_0", session.sql(
        f"SELECT chunk, person_id FROM chunks WHERE chunk IN ({', '.join(str(i) for i in todo)})"))
    frontier = "ball_0"
    for h in range(1, hops + 1):
        session.view(f"ring_{h}", session.sql(ring_sql(frontier, f"ball_{h - 1}")))
        session.view(f"ball_{h}", session.sql(f"SELECT chunk, person_id FROM ball_{h - 1} "
                                              f"UNION ALL SELECT chunk, person_id FROM ring_{h}"))
        frontier = f"ring_{h}"
    return f"ball_{hops}"


class ChunkWriter:
    """The task side: score each whole chunk of a partition through the one Scorer, commit its part."""

    def __init__(self, model: Any, defs: list[FeatureDef], out: str, dataset: Dataset, reasons: int,
                 explain: bool, temporal: bool, graph: bool = False) -> None:
        self.model, self.defs, self.out = model, defs, out  # model: a Broadcast of the CreditModel
        self.reasons, self.explain, self.temporal, self.graph = reasons, explain, temporal, graph
        spec = dataset.spec
        self.coding = coding(spec) if temporal and spec.events is not None else None
        self.meta = {"dataset": dataset.name, "data_fingerprint": dataset.fingerprint(), "engine": "spark"}

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frames = list(batches)
        if not frames:
            return
        data = pd.concat(frames, ignore_index=True)
        for chunk, rows in data.groupby("chunk", sort=True):
            yield self.write(int(chunk), rows)

    def model_input(self, rows: pd.DataFrame) -> ModelInput:
        """The chunk's ModelInput: its ball's node rows in the engine's order (as_of, person_id), which
        `rows=` narrows to the chunk's own; sequences for own rows only; the ball's graph."""
        edge = rows[EDGE].to_numpy() == 1
        nodes = rows[~edge].sort_values(ROW, kind="stable").reset_index(drop=True)
        own = nodes[OWN].to_numpy(dtype=bool)
        positions = np.flatnonzero(own)
        defs = [d for d in self.defs if d.name in nodes.columns]
        frame = typed(nodes[["person_id", "as_of", "label", *(d.name for d in defs)]].copy(), defs)
        sequences = None
        if self.coding is not None:
            lists = {f: nodes[f"seq_{f}"].to_numpy()[positions] for f in self.coding.fields}
            sequences = from_lists(lists, MAX_LEN, self.coding)
            if not own.all():
                sequences = scatter(sequences, positions, len(nodes))
        graph = None
        if self.graph:
            links = rows[edge]  # none, and no edge columns, where the data set declares no relations
            if len(links):
                links = links.sort_values([EDGE_COLUMNS["src"], EDGE_COLUMNS["dst"]], kind="stable")
            graph = edge_arrays({c: links[name].to_numpy() if len(links) else np.zeros(0)
                                 for c, name in EDGE_COLUMNS.items()}, len(nodes))
        states = {c.removeprefix(STATE): np.stack(nodes[c].to_numpy()).astype(np.float32, copy=False)
                  for c in nodes.columns if c.startswith(STATE)}
        return ModelInput(FeatureFrame(frame, defs, self.meta), sequences, graph,
                          rows=None if own.all() else positions, node_states=states or None)

    def write(self, chunk: int, rows: pd.DataFrame) -> pd.DataFrame:
        model: CreditModel = self.model.value
        card = Scorer(model, ScoreScale(), self.reasons).report(self.model_input(rows), explain=self.explain)
        name = part_name(chunk)
        path = Path(self.out) / PENDING / name  # published as OUT when the job completes (Job.finish)
        atomic_write_parquet(path, string_columns(card))
        entry = {"rows": len(card), "sha256": file_sha256(path)}
        atomic_write_json(Path(self.out) / COMMITS / f"{name}.json", entry)
        return pd.DataFrame({"part": [name], "rows": np.array([entry["rows"]], np.int64), "sha256": [entry["sha256"]]})


class StateWriter(ChunkWriter):
    """The task side of a stored layer: each whole chunk's own rows' output of layer `layer` of the graph
    members `kinds` (layer_states), from its one-hop ball."""

    def __init__(self, writer: ChunkWriter, layer: int, kinds: list[str]) -> None:
        self.__dict__.update(vars(writer))  # the same model, features and metadata: nothing read again
        self.temporal, self.coding, self.graph = False, None, True  # a layer reads node inputs and edges only
        self.layer, self.kinds = layer, kinds
        self.schema = "person_id string, as_of timestamp, " + ", ".join(f"`{k}` array<float>" for k in kinds)

    def write(self, chunk: int, rows: pd.DataFrame) -> pd.DataFrame:
        members = layer_wise_members(self.model.value) or {}
        inp = self.model_input(rows)
        own = inp.tabular.frame.iloc[inp.index]
        out = pd.DataFrame({"person_id": own["person_id"].astype(str).to_numpy(), "as_of": own["as_of"].to_numpy()})
        for kind in self.kinds:
            states = members[kind].layer_states(  # type: ignore[attr-defined]
                inp, self.layer, (inp.node_states or {}).get(kind))
            out[kind] = list(states)
        mark = Path(self.out) / STATE_STORE / DONE / f"layer-{self.layer}" / store_name(chunk)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
        return out
