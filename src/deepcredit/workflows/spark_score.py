"""Batch scoring on Apache Spark: the in-process job (workflows/score.py), distributed.

The same job: the same chunks of people (sorted ids, `chunk_size` each), the same feature plan (run by
Spark SQL, features/spark_engine.py), the same Scorer through report_card, the same part files and
`_job.json`; so the parts have the very bytes the in-process path writes, and either engine resumes the
other's job. What Spark adds: features and event sequences are computed by Spark for the whole population
(sequences as sorted arrays per row, collect_list, never one Python call per person), and each chunk is
scored by `mapInPandas` on an executor, with the model broadcast once (a Python worker unpickles it once).

Commit protocol (kill -9 safe): a task writes its chunk's part atomically (temp name, then rename) and
then its commit record `_commits/part-NNNNN.json` (rows, sha256), also atomically. The driver lists a
part in `_job.json` only when its record and file agree; a rerun first collects the records a killed run
left, then schedules only the chunks still missing. A chunk rewritten by a retried or speculative task
gets the same name and the same bytes, so nothing is ever duplicated.

Executors write OUT directly: it must be a path every executor sees (local disk in local mode, a shared
file system on a cluster; docs/scale.md).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepcredit.config import RunConfig, run_record
from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_json, atomic_write_parquet, file_sha256
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame, feature_plan, typed
from deepcredit.features.sequences import NUMERIC, from_lists, vocabularies
from deepcredit.features.spark_engine import (
    DEFAULT_MASTER,
    ENGINES,
    SparkFeatureSession,
    open_spark_session,
    sequence_arrays_sql,
    spark_session,
)
from deepcredit.features.spec import FeatureDef
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import CreditModel, load_model
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.report_card import report_card
from deepcredit.workflows.score import (
    ChunkFn,
    Job,
    graph_hops,
    job_identity,
    model_views,
    part_name,
    score_batch,
    string_columns,
)

COMMITS = "_commits"
SEQ_FIELDS = ("rn", "k", "s", *NUMERIC)
RESULT_SCHEMA = "part string, rows long, sha256 string"
MAX_LEN = 64
"""Sequence length: build_model_input's default, which the in-process job uses."""


def spine_sql(as_of: object | None) -> str:
    """The rows to score: the outcomes' rows, or every person as of a date (the in-process full_spine)."""
    if as_of is None:
        return "SELECT person_id, as_of, CAST(label AS INT) AS label FROM outcomes"
    return f"SELECT person_id, TIMESTAMP '{pd.Timestamp(as_of)}' AS as_of, CAST(NULL AS INT) AS label FROM people"


def score_batch_spark(model_dir: Path, dataset: Dataset, out: Path, cfg: RunConfig | None = None,
                      master: str = DEFAULT_MASTER, location: str | None = None,
                      on_chunk: ChunkFn | None = None) -> dict:
    """Score every row of the spine on Spark into `out` (part files and _job.json); resumes a killed run.

    `location`: where Spark reads the data set's tables (default: the data set's directory; e.g. an s3a://
    copy of it). Returns the job manifest, as score_batch does.
    """
    cfg = cfg or RunConfig()
    s = cfg.scoring
    art = load_artifact(Path(model_dir))
    model = load_model(Path(model_dir))
    if graph_hops(model):
        raise ValueError("this model reads relations (a graph member): Spark scoring covers models without one "
                         "so far; score it with the in-process engine (--engine duckdb)")
    defs = [FeatureDef.from_dict(d) for d in art.manifest["features"]]
    session = open_spark_session(spark_session(master), dataset, location=location, spine_sql=spine_sql(s.as_of))
    spark = session.spark
    session.view("chunks", session.sql(f"""
        SELECT person_id, CAST(FLOOR((DENSE_RANK() OVER (ORDER BY person_id) - 1) / {int(s.chunk_size)}) AS INT) AS chunk
        FROM (SELECT DISTINCT person_id FROM spine) p"""))
    counts = spark.sql("SELECT COUNT(*) AS n_rows, COUNT(DISTINCT person_id) AS n_people FROM spine").collect()[0]
    n_chunks = math.ceil(counts["n_people"] / s.chunk_size)
    fingerprint = dataset.fingerprint()
    job = Job.open(out, job_identity(art.sha256, fingerprint, s, n_chunks, counts["n_rows"]),
                   {**run_record(cfg, fingerprint), "engine": "spark", "master": master})
    collect_commits(job)
    todo = [i for i in range(n_chunks) if not job.done("parts", part_name(i), job.out / part_name(i))]
    if todo:
        writer = ChunkWriter(spark.sparkContext.broadcast(model), defs, str(job.out), dataset, s.reasons,
                             s.explain, "temporal" in model_views(model))
        rows = _chunk_rows(session, defs, writer, todo)
        for r in rows.mapInPandas(writer, RESULT_SCHEMA).collect():
            job.record("parts", r["part"], {"rows": int(r["rows"]), "sha256": r["sha256"]})
    if on_chunk:
        on_chunk("scores", n_chunks, n_chunks)
    shutil.rmtree(job.out / COMMITS, ignore_errors=True)
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


def collect_commits(job: Job) -> None:
    """List in the manifest every part a previous (killed) run committed: record and file agree."""
    for path in sorted((job.out / COMMITS).glob("part-*.json")):
        entry = json.loads(path.read_text())
        name = path.name.removesuffix(".json")
        part = job.out / name
        if part.exists() and file_sha256(part) == entry["sha256"]:
            job.record("parts", name, entry)


def _chunk_rows(session: SparkFeatureSession, defs: list[FeatureDef], writer: ChunkWriter, todo: list[int]) -> Any:
    """Every row of the chunks to do: its chunk, its features and (temporal models) its sequence arrays,
    range-partitioned by chunk so a task holds whole chunks."""
    defs, steps = feature_plan(session, defs)
    session.materialise(steps)
    seq_cols, seq_join = "", ""
    if writer.temporal and writer.vocabs is not None:
        session.sql(sequence_arrays_sql(*writer.vocabs, MAX_LEN)).createOrReplaceTempView("sequence_arrays")
        seq_cols = "".join(f", q.seq.{f} AS seq_{f}" for f in SEQ_FIELDS)
        seq_join = "LEFT JOIN sequence_arrays q ON q.person_id = f.person_id AND q.as_of = f.as_of"
    rows = session.spark.sql(f"""
        SELECT c.chunk, f.*{seq_cols}
        FROM features f JOIN chunks c ON c.person_id = f.person_id {seq_join}
        WHERE c.chunk IN ({", ".join(str(i) for i in todo)})""")
    return rows.repartitionByRange(len(todo), "chunk")


class ChunkWriter:
    """The task side: score each whole chunk of a partition through the one Scorer, commit its part."""

    def __init__(self, model: Any, defs: list[FeatureDef], out: str, dataset: Dataset, reasons: int,
                 explain: bool, temporal: bool) -> None:
        self.model, self.defs, self.out = model, defs, out  # model: a Broadcast of the CreditModel
        self.reasons, self.explain, self.temporal = reasons, explain, temporal
        spec = dataset.spec
        self.vocabs = vocabularies(spec) if temporal and spec.events is not None else None
        self.meta = {"dataset": dataset.name, "data_fingerprint": dataset.fingerprint(), "engine": "spark"}

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frames = list(batches)
        if not frames:
            return
        data = pd.concat(frames, ignore_index=True)
        for chunk, rows in data.groupby("chunk", sort=True):
            yield self.write(int(chunk), rows)

    def model_input(self, rows: pd.DataFrame) -> ModelInput:
        """The chunk's ModelInput, rows in the engine's order (as_of, person_id)."""
        rows = rows.sort_values(["as_of", "person_id"], kind="stable").reset_index(drop=True)
        defs = [d for d in self.defs if d.name in rows.columns]
        frame = typed(rows[["person_id", "as_of", "label", *(d.name for d in defs)]].copy(), defs)
        sequences = None
        if self.vocabs is not None:
            lists = {f: rows[f"seq_{f}"].to_numpy() for f in SEQ_FIELDS}
            sequences = from_lists(lists, MAX_LEN, self.vocabs)
        return ModelInput(FeatureFrame(frame, defs, self.meta), sequences, None)

    def write(self, chunk: int, rows: pd.DataFrame) -> pd.DataFrame:
        model: CreditModel = self.model.value
        card = report_card(model, self.model_input(rows), ScoreScale(), top=self.reasons, explain=self.explain)
        name = part_name(chunk)
        path = Path(self.out) / name
        atomic_write_parquet(path, string_columns(card))
        entry = {"rows": len(card), "sha256": file_sha256(path)}
        atomic_write_json(Path(self.out) / COMMITS / f"{name}.json", entry)
        return pd.DataFrame({"part": [name], "rows": np.array([entry["rows"]], np.int64), "sha256": [entry["sha256"]]})
