"""Champion and challenger: score everyone with a new model in shadow, compare, promote; every step audited.

    register(settings, ART)   verify the artifact, score everyone with it as of now (the service's own
                              events and corrections included), keep those scores beside the service's
                              state (never used for a decision), record the challenger in the meta table
    compare(settings)         champion (the stored scores) against challenger (the shadow scores): how
                              many people change band, score differences, approval rates at each policy's
                              threshold (`deepcredit evaluate` measures each artifact on labelled data)
    promote(settings)         the challenger becomes the served model: its scores replace the current
                              ones (each person's history says so); a running server adopts it (served_model.py)

A promotion that has not finished (`model-promote` killed part-way, or still running) is told wherever an
operator looks (unfinished_promotion): `/v1/health`, `serve`'s start-up log, `model-challenger`; `model-compare`
refuses to compare while it lasts: the stored scores are then partly the previous model's, under the new
model's id.

Shadow scores are a Parquet file (atomic write) under the state directory, keyed by the model's sha256, so
a challenger never touches the tables decisions read. The audit log records `challenger_registered`,
`challenger_compared` and `model_promoted` with both model ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from deepcredit.data.dataset import Dataset
from deepcredit.data.io import atomic_write_parquet
from deepcredit.service.config import Settings
from deepcredit.service.context import ServiceContext, served_context, write_meta
from deepcredit.service.events import SERVED_SINCE, overlay_source, record_served, save_scores_bulk
from deepcredit.service.scoring import ModelScorer, ScoredPerson, load_scorer
from deepcredit.service.store.models import Policy, Score

SHADOW = "shadow_scores.parquet"
PROMOTED = "model promoted"
PROMOTION_MODEL, PROMOTION_AS_OF = "promotion_model_id", "promotion_as_of"
"""Meta keys of a promotion under way: the model and the time everyone is re-scored as of (promote)."""


def unfinished_promotion(meta: Mapping[str, str]) -> str | None:
    """What an operator must be told while a promotion has not finished (its flag, set by `promote`'s first
    write and cleared by its last, is in the meta table), else None. Nothing personal: model ids and a time."""
    model = meta.get(PROMOTION_MODEL)
    if not model:
        return None
    return (f"the promotion of model {model[:12]} (everyone re-scored as of {meta.get(PROMOTION_AS_OF) or '?'}) "
            "has not finished: it is the served model, but some people still hold the previous model's score; "
            "unless a `deepcredit model-promote` is running now, run `deepcredit model-promote` again to finish it")


class PromotionStopped(RuntimeError):
    """The promotion stopped after the new model became the served one, before everyone was re-scored:
    run it again to finish it (promote resumes)."""


@dataclass
class Registered:
    model_id: str
    people: int
    path: Path
    resumed: str | None = None
    """promote: the time a promotion that had stopped part-way was started at (this run finished it)."""
    unfinished: str | None = None
    """register: a promotion that has not finished (unfinished_promotion), what model-promote does next."""


def _scorer(ctx: ServiceContext, meta: dict[str, str], model_path: Path) -> ModelScorer:
    return load_scorer(Path(model_path), Dataset(meta["data_dir"]), overlay_source(ctx.db, ctx.now), threads=None,
                       strict_versions=ctx.settings.strict_versions)


def _frame(scored: list[ScoredPerson]) -> pd.DataFrame:
    return pd.DataFrame({"subject": [p.person_id for p in scored], "score": [p.score for p in scored],
                         "band": [p.band for p in scored]})


def register(settings: Settings, model_path: Path) -> Registered:
    """Score everyone with the challenger in shadow and record it (hashes verified on load)."""
    with served_context(settings) as (ctx, meta):
        model_path = Path(model_path).resolve()
        scorer = _scorer(ctx, meta, model_path)
        now = ctx.now()
        frame = pd.concat([_frame(batch) for batch in scorer.score_everyone(now)], ignore_index=True)
        out = Path(meta["data_dir"]).parent / "challenger" / scorer.model_id[:16] / SHADOW
        atomic_write_parquet(out, frame)
        write_meta(ctx, {"challenger_model_path": str(model_path), "challenger_model_id": scorer.model_id,
                         "challenger_scores": str(out), "challenger_as_of": now.isoformat()})
        with ctx.db.write() as s:
            ctx.audit.append(s, now, "operator", "challenger_registered", None, challenger=scorer.model_id,
                             champion=meta.get("model_id"), people=len(frame))
        note = unfinished_promotion(meta)
        if note is not None and meta.get(PROMOTION_MODEL) != scorer.model_id:
            note += (f"; with this challenger registered, `model-promote` promotes {scorer.model_id[:12]} instead, "
                     "re-scoring everyone with it")
        return Registered(scorer.model_id, len(frame), out, unfinished=note)


def compare(settings: Settings) -> dict:
    """Champion against challenger on the same people (see the module docstring)."""
    with served_context(settings) as (ctx, meta):
        if not meta.get("challenger_scores"):
            raise ValueError("no challenger registered: run model-challenger first")
        note = unfinished_promotion(meta)
        if note is not None:  # the stored scores are partly the old model's, under the new one's id
            raise ValueError(f"{note}; model-compare compares the stored scores with the challenger's once it has")
        shadow = pd.read_parquet(meta["challenger_scores"])
        with ctx.db.read() as s:
            champion = pd.DataFrame(s.execute(select(Score.subject, Score.score, Score.band)).all(),
                                    columns=["subject", "score", "band"])
            thresholds = sorted({t for t in s.execute(select(Policy.threshold)).scalars() if t is not None})
        both = champion.merge(shadow, on="subject", suffixes=("_champion", "_challenger"))
        diff = both["score_challenger"] - both["score_champion"]
        result: dict = {"champion": meta.get("model_id"), "challenger": meta["challenger_model_id"],
                        "people": len(both), "band_changed": int((both["band_champion"] != both["band_challenger"]).sum()),
                        "mean_score_change": float(diff.mean()) if len(both) else 0.0,
                        "mean_abs_score_change": float(diff.abs().mean()) if len(both) else 0.0,
                        "approval_rate": {str(t): {"champion": float((both["score_champion"] >= t).mean()),
                                                   "challenger": float((both["score_challenger"] >= t).mean())}
                                          for t in thresholds}}
        with ctx.db.write() as s:
            ctx.audit.append(s, ctx.now(), "operator", "challenger_compared", None, challenger=result["challenger"],
                             champion=result["champion"], band_changed=result["band_changed"])
        return result


def promote(settings: Settings) -> Registered:
    """The challenger becomes the champion: the meta table points to it, then everyone is re-scored with it
    as of one time. Resumable: the model and that time are recorded in the first write, so a promotion that
    stopped part-way (a crash, an error) is finished by running it again, as of the same time, and people
    already re-scored then keep their score (no second history row)."""
    with served_context(settings) as (ctx, meta):
        if not meta.get("challenger_model_path"):
            raise ValueError("no challenger registered: run model-challenger first")
        scorer = _scorer(ctx, meta, Path(meta["challenger_model_path"]))
        started = meta.get(PROMOTION_AS_OF) if meta.get(PROMOTION_MODEL) == scorer.model_id else None
        old = meta.get("previous_model_id") if meta.get("model_id") == scorer.model_id else meta.get("model_id")
        now = datetime.fromisoformat(started) if started else ctx.now()
        # served first: from this commit on a running server's saves of the old model's scores are refused
        # and it adopts this one (served_model.py); everyone is then scored as of `now`, and a score by this
        # model as of `now` or later stored since the first run's commit is kept (a re-run's people done
        # before, or a server's re-score since): record_served's mark, kept by a re-run (0: a promotion
        # stopped by a DeepCredit that recorded none keeps any such score, as that one did)
        since = int(meta.get(SERVED_SINCE) or 0) if started else None
        mark = record_served(ctx, {"model_path": meta["challenger_model_path"], "model_id": scorer.model_id,
                                   "previous_model_id": old or "", PROMOTION_MODEL: scorer.model_id,
                                   PROMOTION_AS_OF: now.isoformat()}, since=since)
        people = 0
        try:
            for scored in scorer.score_everyone(now):
                save_scores_bulk(ctx, scored, cause=PROMOTED, keep_since=mark)
                people += len(scored)
        except Exception as exc:
            raise PromotionStopped(f"{type(exc).__name__}: {exc}") from exc
        write_meta(ctx, {"challenger_model_path": "", "challenger_model_id": "", "challenger_scores": "",
                         PROMOTION_MODEL: "", PROMOTION_AS_OF: ""})
        with ctx.db.write() as s:
            ctx.audit.append(s, ctx.now(), "operator", "model_promoted", None, model=scorer.model_id,
                             previous=old, people=people, as_of=now.isoformat(), resumed=bool(started))
        return Registered(scorer.model_id, people, Path(meta["challenger_model_path"]), resumed=started)
