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
  written), one row per person (`--as-of` given), dated no later than the snapshot: scores dated after it
  would miss the records that came since;
- its people are the service's: pseudonyms of people the service holds, never raw ids.
Then, in one transaction: each person's score is replaced and added to their history ("population
re-score"), except where the service holds a score dated later (a re-score after an event or a
dispute, or a full re-score since) and except for the erased. One audit row (`scores_imported`) gives the counts and the model.

The served model is loaded (seconds for the stack) only when some row is to be imported: a job whose every
score is older than the service's imports nothing, checked against the model id serve-init recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import select

from deepcredit.data.io import file_sha256
from deepcredit.service.bootstrap import build_scorer
from deepcredit.service.config import Settings
from deepcredit.service.context import ServiceContext, read_meta, served_context
from deepcredit.service.events import erased_people, replace_scores
from deepcredit.service.history import POPULATION
from deepcredit.service.scoring import ModelScorer
from deepcredit.service.snapshot import snapshot_key
from deepcredit.service.store.models import Meta, Score

JOB = "_job.json"


@dataclass(frozen=True)
class Imported:
    model_id: str
    as_of: datetime
    imported: int
    kept_newer: int
    """People the service re-scored after the job's date: their newer score stays."""
    erased: int


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
    only if some row is to be imported)."""
    job = _finished_job(scores)
    model_id = scorer.model_id if scorer is not None else read_meta(ctx).get("model_id")
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
    now = ctx.now()
    with ctx.db.read() as s:
        written = s.get(Meta, snapshot_key(job["data_fingerprint"]))
    if written is None:
        raise ValueError(f"{scores}: not scored from a snapshot of this service: write one with `deepcredit "
                         "serve-snapshot` and score that")
    taken = datetime.fromisoformat(written.value)
    latest = pd.Timestamp(keys["as_of"].max()).to_pydatetime() if len(keys) else taken
    if latest > taken:
        raise ValueError(f"{scores}: scores dated {latest:%Y-%m-%d %H:%M}, after the snapshot was written "
                         f"({taken:%Y-%m-%d %H:%M}), would miss what came since: score with --as-of "
                         f"{taken:%Y-%m-%d} or earlier, or write a new snapshot")
    with ctx.db.read() as s:  # the model is loaded outside the write transaction, where anything is to import
        if _importable(keys, dict(s.execute(select(Score.subject, Score.as_of)).all()), erased_people(s)):
            served()
    imported = newer = gone = 0
    with ctx.db.write() as s:  # one transaction: a failure part-way imports nothing
        held = dict(s.execute(select(Score.subject, Score.as_of)).all())
        erased = erased_people(s)
        ids = keys["person_id"].astype(str)
        unknown = int((~ids.isin(held.keys()) & ~ids.isin(erased)).sum())
        if unknown:
            raise ValueError(f"{scores}: {unknown:,} of {len(keys):,} people are not the service's (scores keyed by "
                             "raw ids?): score the data as the service holds it, from `deepcredit serve-snapshot`")
        for part in parts:  # a part (a chunk of the job) at a time: peak memory follows the chunk size
            frame = pd.read_parquet(part)
            who = frame["person_id"].astype(str)
            dated = [pd.Timestamp(a).to_pydatetime() for a in frame["as_of"]]
            later = pd.Series([p in held and held[p] > a for p, a in zip(who, dated, strict=True)], index=frame.index)
            out = who.isin(erased)
            taken = frame[~later & ~out]
            scored = served().scored(taken, top=job["reasons"]) if len(taken) else []
            replace_scores(s, scored, POPULATION, now)
            imported, newer, gone = imported + len(scored), newer + int(later.sum()), gone + int(out.sum())
        done = Imported(model_id, latest, imported, newer, gone)
        ctx.audit.append(s, now, "operator", "scores_imported", None, model=model_id, people=imported,
                         kept_newer=newer, erased=gone, data=job["data_fingerprint"])
    return done


def _importable(keys: pd.DataFrame, held: dict[str, datetime], erased: set[str]) -> bool:
    """Whether any (person_id, as_of) of `keys` would be imported: not erased, no later score held."""
    return any(p not in erased and not (p in held and held[p] > pd.Timestamp(a).to_pydatetime())
               for p, a in zip(keys["person_id"].astype(str), keys["as_of"], strict=True))


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

