"""`deepcredit serve-init`: make a data set and a model servable.

1. copy the data set keyed by pseudonyms (pseudodata.py) under the state directory;
2. verify and record the model artifact (any kind: a scorecard, one member, the stack);
3. score everyone as of now (or as of a given date: the service clock then runs from that date, see
   config.Clock) and store the scores, so that decisions are lookups from the first request on.

Running it again re-copies the data and re-scores everyone (a new model, new data), and a running server
loads both again (a new generation of what is served: events.GENERATION, served_model.py); the service's own
events, consents, disputes and audit log stay. Run again with an earlier `--as-of` (as its own note asks
when the data end long before today), it drops the score history dated after the new clock's now: a
person's history never holds a score from the future.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select

from deepcredit.data.dataset import Dataset
from deepcredit.data.schema import PROTECTED_ATTRIBUTES
from deepcredit.scoring.scorer import used_features
from deepcredit.service.config import Settings, utcnow
from deepcredit.service.context import (
    ServiceContext,
    checked_key,
    make_context,
    read_meta,
    sync_clock,
)
from deepcredit.service.events import (
    GENERATION,
    erased_people,
    overlay_source,
    record_served,
    save_scores_bulk,
    unreported_outcomes,
)
from deepcredit.service.pseudodata import pseudonymise_dataset, without_people
from deepcredit.service.scoring import ModelScorer, Scorer, load_scorer, needed_definitions
from deepcredit.service.store import schema
from deepcredit.service.store.models import ScoreHistory
from deepcredit.service.store.schema import Upgrade


@dataclass
class InitSummary:
    people: int
    data_dir: Path
    model_id: str
    as_of: datetime
    seconds: float
    refused_outcomes: list[str]
    """Reported outcomes the data set's spec does not say how to hold: the service refuses them."""
    snapshot_date: datetime
    """When the data set was extracted: scores far after it see no recent history."""
    histories: bool = True
    """Whether the data set holds histories (events or relations) whose recent windows can be empty."""
    events: bool = True
    """Whether it holds events at all (a profile-only data set takes no reported outcomes)."""

    STALE_DAYS = 90

    @property
    def stale_days(self) -> int | None:
        """Days from the data set's snapshot to the scores' as-of, where more than STALE_DAYS (historical data
        served as of now, its windows of recent behaviour empty); else None."""
        days = (self.as_of - self.snapshot_date).days
        return days if days > self.STALE_DAYS else None


class ModelMismatch(RuntimeError):
    """The model artifact on disk is not the one `serve-init` recorded: refuse to serve it."""


def build_scorer(ctx: ServiceContext, held_index: bool = True) -> Scorer | None:
    """The scorer `serve-init` recorded in the database (data set copy + model artifact), if any, with the
    generation of what is served it was built under (events.GENERATION). held_index=False: for a one-off
    command re-scoring a few people, whose rows are read for them alone (lookup.PersonIndex).

    The artifact's signature is checked when it loads (models/artifacts.py); its identity must also equal
    the model id `serve-init` recorded, so a different (even validly signed) model swapped in on disk is
    refused rather than served under the scores of another.
    """
    meta = read_meta(ctx)
    if "data_dir" not in meta or "model_path" not in meta:
        return None
    scorer = load_scorer(Path(meta["model_path"]), Dataset(meta["data_dir"]), overlay_source(ctx.db, ctx.now),
                         strict_versions=ctx.settings.strict_versions, held_index=held_index)
    recorded = meta.get("model_id")
    if recorded and scorer.model_id != recorded:
        raise ModelMismatch(f"the model at {meta['model_path']} is {scorer.model_id[:12]}..., but serve-init "
                            f"recorded {recorded[:12]}...; run `deepcredit serve-init` again to serve this model")
    # read with the paths, before the copy: a copy written since is of a later generation, which a running
    # server then loads again (served_model.py); never a generation newer than the data read
    scorer.generation = meta.get(GENERATION, "")
    return scorer


def protected_columns_read(scorer: ModelScorer, data: Dataset) -> set[str]:
    """The protected people columns the model's features read (kept in the copy; every other one is dropped):
    those the data set's spec declares protected, and the simulator vocabulary's fixed ones."""
    used = used_features(scorer.model) or [d.name for d in scorer.definitions if not d.is_protected()]
    protected = {*data.spec.protected, *PROTECTED_ATTRIBUTES}
    return {c for d in needed_definitions(used, scorer.definitions) for c in d.requires} & protected


def initialise(settings: Settings, data: Dataset, model_path: Path, state_dir: Path,
               as_of: datetime | None = None) -> InitSummary:
    t0 = time.perf_counter()
    ctx = make_context(settings)
    ctx.db.create_all()
    checked_key(ctx)  # a new database records its key's check value; one set up before must have the same key
    model_path = Path(model_path).resolve()
    # verifies the artifact (and, strict, its library versions) before anything is copied
    scorer = load_scorer(model_path, data, threads=None, strict_versions=settings.strict_versions)
    keep = protected_columns_read(scorer, data)
    copy = pseudonymise_dataset(data, Path(state_dir).resolve() / "data", ctx.pseudonym, keep_protected=keep)
    with ctx.db.read() as s:
        erased = erased_people(s)
    if erased:  # the people erased before are in the source again: a copy never holds them
        copy = without_people(copy, erased)
    settings.clock.zone = data.time_zone
    offset = timedelta(0) if as_of is None else settings.clock.unshifted() - as_of
    settings.clock.offset = offset
    # the scores are dated the --as-of itself, not the clock's now a few seconds of copying later: a batch
    # re-score of a snapshot at the date `serve-snapshot` suggests is then no older than them (score_import.py)
    now = ctx.now() if as_of is None else as_of
    with ctx.db.write() as s:  # a clock set back: what was scored after its now belongs to no timeline
        later = ScoreHistory.as_of > now
        dropped = s.scalar(select(func.count()).select_from(ScoreHistory).where(later)) or 0
        if dropped:
            s.execute(delete(ScoreHistory).where(later))
    # A new generation, recorded as soon as the new copy is whole (written, renamed into place, the erased left
    # out) and before anyone is scored, as model-promote does. Not before the copy: a running server would
    # load the old files, or a copy mid-rename, as the new generation. Not after the scores: until this commit
    # a server's re-score from the old copy (its person index read at load; the files at this path are the new
    # copy's already) is stored, and it would stay over the new score. From this commit such a save is refused
    # and the server loads this copy (served_model.py); everyone's score from it then replaces the stored one,
    # but for a score a server stored since this commit by the same model as of the same time or later (after
    # an event). A run that stops part-way serves the new copy with some scores from the old: run it again.
    mark = record_served(ctx, {"data_dir": str(copy.root), "model_path": str(model_path),
                               "model_id": scorer.model_id, "clock_offset_seconds": str(offset.total_seconds()),
                               "time_zone": data.time_zone or "", "source_data": data.name,
                               "source_fingerprint": data.fingerprint(), "initialised_at": utcnow().isoformat()})
    scorer = load_scorer(model_path, copy, overlay_source(ctx.db, ctx.now), threads=None,
                         strict_versions=settings.strict_versions)
    people = 0
    for scored in scorer.score_everyone(now):
        save_scores_bulk(ctx, scored, cause="initial score", keep_since=mark)
        people += len(scored)
    with ctx.db.write() as s:
        ctx.audit.append(s, now, "operator", "service_initialised", None, people=people,
                         model=scorer.model_id, data=data.name,
                         **({"history_dropped": dropped} if dropped else {}))
    ctx.db.dispose()
    return InitSummary(people, copy.root, scorer.model_id, now, time.perf_counter() - t0,
                       unreported_outcomes(copy.spec), data.snapshot_date.to_pydatetime(),
                       histories=copy.spec.events is not None or copy.spec.relations is not None,
                       events=copy.spec.events is not None)


def upgrade_database(settings: Settings) -> Upgrade:
    """Bring the service database to this DeepCredit's schema (store/schema.py), recorded in the audit log."""
    ctx = make_context(settings)
    try:
        done = schema.upgrade(ctx.db.engine)
        ctx.db.create_all()
        checked_key(ctx)  # a database from before key check values gets one here, under a key that verifies
        if done.before == done.after:
            return done  # nothing changed: nothing to record
        sync_clock(ctx)
        with ctx.db.write() as s:
            ctx.audit.append(s, ctx.now(), "operator", "schema_upgraded", None, before=done.before or "unversioned",
                             after=done.after, changes=list(done.changes))
    finally:
        ctx.db.dispose()
    return done
