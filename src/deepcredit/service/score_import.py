"""`deepcredit serve-import-scores`: a population re-scored by a batch job becomes the service's scores.

The path past one machine. `serve-snapshot` writes the data as the service holds it; `deepcredit score`
(DuckDB, or Spark with `--engine spark`) scores it; this loads the job's parts. A full re-score inside the
service (`serve-init`, `model-promote`) builds everyone's model input in one process; a batch job
scores any population in chunks, on a cluster.

Checked before anything is written, so a refused import changes nothing:
- the job finished and explained (sub-scores and reasons are what the service serves); its parts are
  the bytes the job recorded (sha256);
- it scored with the served model (the artifact's sha256 is the service's model id);
- it scored a snapshot this service wrote (its data fingerprint is recorded with the time it was
  written and the generation of what was served, events.GENERATION), of what is served now: a snapshot of
  the copy before serve-init ran again (or of the model before a promotion) is refused, and so is one
  written by an earlier DeepCredit, which did not record the generation (write a new snapshot); one row per
  person (`--as-of` given), dated no later than the snapshot: scores dated after it would miss the records
  that came since;
- its people are the service's: pseudonyms of people the service holds, never raw ids.
Then a batch (BATCH_ROWS people of a part) at a time, so the service's writes wait for one batch, never
for the whole import: a batch's scores, sub-scores and reasons are built outside any write; one short write
transaction re-reads, for its people, what may have changed since (an erasure, a score dated later: a
re-score after an event or a dispute, or a full re-score since; the served model and generation), stores the rest (each
person's score replaced and added to their history, "population re-score") and records the batch as done
in the meta table, under a key naming the job (its parts' sha256, model and data), in the same commit. A
crashed or refused import leaves whole batches stored: run it again and it resumes, never storing a batch
twice; a re-run of a finished job imports nothing and says so. One audit row (`scores_imported`), written
when the last batch is in, gives the counts of every run and the model.

The served model is loaded (seconds for the stack) only when some row is to be imported: a job whose every
score is older than the service's imports nothing, checked against the model id serve-init recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from deepcredit.data.io import file_sha256
from deepcredit.service.bootstrap import build_scorer
from deepcredit.service.config import Settings
from deepcredit.service.context import ServiceContext, read_meta, served_context
from deepcredit.service.events import (
    MODEL_ID,
    erased_people,
    replace_scores,
    served_generation,
    served_model_id,
    stored_scores,
)
from deepcredit.service.history import POPULATION
from deepcredit.service.scoring import ModelScorer
from deepcredit.service.snapshot import written_snapshot
from deepcredit.service.store.models import Meta, Score

JOB = "_job.json"
BATCH_ROWS = 5_000
"""People stored per write transaction: the service's writes wait for one batch's replace (a fraction of a
second), never for the whole import."""


@dataclass(frozen=True)
class Imported:
    model_id: str
    as_of: datetime
    imported: int
    kept_newer: int
    """People the service re-scored after the job's date: their newer score stays."""
    erased: int
    resumed: int = 0
    """Batches an earlier run of the same job had stored (it stopped part-way): the counts include theirs."""
    done_before: str | None = None
    """When an earlier run finished this job (then nothing is imported)."""
    finished_meanwhile: bool = False
    """Another run of the same job, at the same time as this one, finished it: batches this run stored are
    in that run's totals (its audit row)."""


def import_scores(settings: Settings, scores: Path) -> Imported:
    """Load a finished `deepcredit score` job into the service `serve-init` set up (module docstring)."""
    with served_context(settings) as (ctx, _):
        return load_job(ctx, None, Path(scores))


def _served(ctx: ServiceContext) -> ModelScorer:
    scorer = build_scorer(ctx)
    if not isinstance(scorer, ModelScorer):
        raise ValueError("the service serves no model yet: run serve-init first")
    return scorer


def load_job(ctx: ServiceContext, scorer: ModelScorer | None, scores: Path) -> Imported:
    """Load the job at `scores` with `scorer`, the served model (None: loaded from what serve-init recorded,
    only if some row is to be imported), a batch at a time; a re-run resumes where an earlier one stopped."""
    job = _finished_job(scores)
    model_id = scorer.model_id if scorer is not None else read_meta(ctx).get(MODEL_ID)
    if model_id is None:
        scorer = _served(ctx)  # a service set up before model ids were recorded
        model_id = scorer.model_id
    if job["model_sha256"] != model_id:
        raise ValueError(f"{scores}: scored with model {job['model_sha256'][:12]}, but the service serves "
                         f"{model_id[:12]}: score with the served model (or promote this one first)")
    loaded: list[ModelScorer] = [scorer] if scorer is not None else []

    def served() -> ModelScorer:
        if not loaded:
            loaded.append(_served(ctx))
        return loaded[0]
    parts = [scores / name for name in sorted(job["parts"])]
    if parts and job["reasons"] and "reason_1_value" not in pq.read_schema(parts[0]).names:
        raise ValueError(f"{scores}: written by an earlier DeepCredit, without the reasons' values: score again")
    keys = pd.concat([pd.read_parquet(p, columns=["person_id", "as_of"]) for p in parts], ignore_index=True)
    if keys["person_id"].duplicated().any():
        raise ValueError(f"{scores}: some people are scored at several dates: score with one --as-of")
    with ctx.db.read() as s:
        written, generation = written_snapshot(s, job["data_fingerprint"]), served_generation(s)
    if written is None:
        raise ValueError(f"{scores}: not scored from a snapshot of this service: write one with `deepcredit "
                         "serve-snapshot` and score that")
    if written.generation is None:
        raise ValueError(f"{scores}: scored from a snapshot written by an earlier DeepCredit, which did not record "
                         "the data set copy it was taken from: write a new snapshot with `deepcredit "
                         "serve-snapshot` and score that")
    if written.generation != generation:
        raise ValueError(f"{scores}: scored from a snapshot of what was served before serve-init or model-promote "
                         "ran again (another data set copy or model): write a new snapshot and score that")
    taken = written.at
    latest = pd.Timestamp(keys["as_of"].max()).to_pydatetime() if len(keys) else taken
    if latest > taken:
        raise ValueError(f"{scores}: scores dated {latest:%Y-%m-%d %H:%M}, after the snapshot was written "
                         f"({taken:%Y-%m-%d %H:%M}), would miss what came since: score with --as-of "
                         f"{taken:%Y-%m-%d} or earlier, or write a new snapshot")
    key = _progress_key(job)
    with ctx.db.read() as s:
        held = set(s.execute(select(Score.subject)).scalars())
        erased = erased_people(s)
        progress = _progress(s.get(Meta, key))
    ids = keys["person_id"].astype(str)
    unknown = int((~ids.isin(held) & ~ids.isin(erased)).sum())
    if unknown:
        raise ValueError(f"{scores}: {unknown:,} of {len(keys):,} people are not the service's (scores keyed by "
                         "raw ids?): score the data as the service holds it, from `deepcredit serve-snapshot`")
    del held, ids
    if progress.finished:
        return Imported(model_id, latest, 0, 0, 0, done_before=progress.finished)
    resumed = len(progress.done)
    for part in parts:  # a part (a chunk of the job) at a time: peak memory follows the chunk size
        frame: pd.DataFrame | None = None
        for start in range(0, pq.read_metadata(part).num_rows, progress.rows):
            batch = f"{part.name}:{start}"
            if batch in progress.done:
                continue
            frame = pd.read_parquet(part) if frame is None else frame
            progress = _import_batch(ctx, frame.iloc[start:start + progress.rows], batch, key, job, generation,
                                     served)
    now = ctx.now()
    with ctx.db.write() as s:  # the one audit row, with the counts of every run that imported a batch
        progress = _progress(s.get(Meta, key))
        if progress.finished:  # another run of the same job finished it meanwhile
            return Imported(model_id, latest, 0, 0, 0, done_before=progress.finished, finished_meanwhile=True)
        ctx.audit.append(s, now, "operator", "scores_imported", None, model=model_id, people=progress.imported,
                         kept_newer=progress.kept_newer, erased=progress.erased, data=job["data_fingerprint"],
                         batches=len(progress.done), resumed=resumed)
        s.merge(Meta(key=key, value=json.dumps({**progress.__dict__, "finished": now.isoformat()})))
    return Imported(model_id, latest, progress.imported, progress.kept_newer, progress.erased, resumed=resumed)


def _import_batch(ctx: ServiceContext, rows: pd.DataFrame, batch: str, key: str, job: dict, generation: str,
                  served: Callable[[], ModelScorer]) -> Progress:
    """Score `rows` outside any write (the slow part), then store them in one short write transaction that
    re-checks, for these people, what may have changed since (erased? a later score?) and records the batch
    as done in the same commit: a crash leaves each batch all in or all out."""
    who = rows["person_id"].astype(str).tolist()
    dated = [pd.Timestamp(a).to_pydatetime() for a in rows["as_of"]]
    with ctx.db.read() as s:
        held, erased = _held(s, who), erased_people(s)
    wanted = [p not in erased and not (p in held and held[p] > a) for p, a in zip(who, dated, strict=True)]
    scored = served().scored(rows[wanted], top=job["reasons"]) if any(wanted) else []
    with ctx.db.write() as s:
        progress = _progress(s.get(Meta, key))
        if batch in progress.done:  # another run of the same job stored it meanwhile
            return progress
        model = served_model_id(s)
        if model and model != job["model_sha256"]:
            raise ValueError(f"the service was promoted to model {model[:12]} during the import, which stopped "
                             f"after {len(progress.done):,} batches: score a new snapshot with the served model")
        if served_generation(s) != generation:
            raise ValueError(f"serve-init or model-promote ran again during the import (another data set copy), which "
                             f"stopped after {len(progress.done):,} batches: score a new snapshot")
        held, erased = _held(s, who), erased_people(s)
        stored = [p for p in scored if p.person_id not in erased and not (p.person_id in held
                                                                          and held[p.person_id] > p.as_of)]
        replace_scores(s, stored, POPULATION, ctx.now())
        gone = sum(p in erased for p in who)
        progress = replace(progress, done=[*progress.done, batch], imported=progress.imported + len(stored),
                           kept_newer=progress.kept_newer + len(who) - len(stored) - gone,
                           erased=progress.erased + gone)
        s.merge(Meta(key=key, value=json.dumps(progress.__dict__)))
    return progress


def _held(s: Session, who: list[str]) -> dict[str, datetime]:
    """The as_of of these people's stored scores."""
    return {p: r.as_of for p, r in stored_scores(s, who).items()}


@dataclass(frozen=True)
class Progress:
    """What the runs of one job have stored so far, kept in the meta table (`_progress_key`)."""

    rows: int = BATCH_ROWS
    """People per batch, as the first run cut them: a re-run cuts the same batches."""
    done: list[str] = field(default_factory=list)
    """The batches stored, "part:first row"."""
    imported: int = 0
    kept_newer: int = 0
    erased: int = 0
    finished: str | None = None


def _progress(row: Meta | None) -> Progress:
    return Progress(rows=BATCH_ROWS) if row is None else Progress(**json.loads(row.value))


def _progress_key(job: dict) -> str:
    """The meta key of this job's progress: its parts' bytes, the model and the data it scored."""
    what = json.dumps([job["model_sha256"], job["data_fingerprint"], job["reasons"],
                       sorted((name, part["sha256"]) for name, part in job["parts"].items())])
    return f"score import {hashlib.sha256(what.encode()).hexdigest()[:48]}"


def _finished_job(scores: Path) -> dict:
    path = scores / JOB
    if not path.exists():
        raise ValueError(f"{scores}: not the output of `deepcredit score` ({JOB} is missing)")
    job = json.loads(path.read_text())
    if not job.get("complete"):
        raise ValueError(f"{scores}: the job has not finished: run the same `deepcredit score` again to resume it")
    if not job.get("explain"):
        raise ValueError(f"{scores}: scored with --no-explain: the service serves sub-scores and reasons")
    for name, part in job["parts"].items():
        if file_sha256(scores / name) != part["sha256"]:
            raise ValueError(f"{scores / name}: not the bytes the job recorded (sha256 differs)")
    return job

