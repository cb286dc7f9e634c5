"""The records that cost me most: which of a person's own records lower their score, and by how many points.

A reason names a dimension ("your record of keeping commitments"); what a person can dispute or act on is a
record. This is `deepcredit explain --records` for the person themself, on the service's data (its events
and corrections in: ScopedDataset) and model: each of their events dated strictly before their score's
as-of is left out in turn, and the same model scores them again (scoring/record_reasons.py, one mechanism
for the CLI and the service). It is computed on request, not with the report: the report stays a read of
stored rows, while this rebuilds the person's features once per record (about a second for 200 records), so
it has its own endpoint (GET /v1/me/records) and the person's page, which computes its what-if on request
too, shows it. Both are kept until the person's score changes (answers.py), so a second view is a read. Beside single records it gives groups of them left out together (all the late ones, all of
one kind: what many records that each weigh little cost together). Only the person's own token reaches it;
the records carry no counterparty and no other person's id.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from deepcredit.data.spec import DatasetSpec
from deepcredit.scoring.record_reasons import RECORD_CAP, RecordWeights, record_weights
from deepcredit.service.context import ServiceContext
from deepcredit.service.history import spec_of, status_meaning
from deepcredit.service.problems import Problem
from deepcredit.service.record_dates import REPORTED_AT, occurred, own_dates
from deepcredit.service.schemas import RecordCost, RecordGroupCost, RecordsOut
from deepcredit.service.scoring import ModelScorer
from deepcredit.service.store.models import Score

SHOWN = 5
"""Records shown when the caller asks for no number."""


def amounts_held(spec: DatasetSpec | None) -> bool:
    """Whether the data set holds amounts at all: without an amount column every stored amount is a 0, which
    the person is not shown as if it were money."""
    return spec is None or spec.events is None or bool(spec.events.columns.amount)


def weights_of(scorer: ModelScorer, subject: str, as_of: datetime, cap: int = RECORD_CAP) -> RecordWeights:
    """What each of the person's records before `as_of` costs under the scorer's model, on the service's data.
    A model that reads the graph gets the person's messages from their own scope (what a re-score builds)."""
    context = None
    if "structural" in scorer.views:
        inp = scorer.model_input([subject], as_of)
        row = int(inp.keys.index[inp.keys["person_id"] == subject].to_numpy()[0])
        context = (inp, row)
    return record_weights(scorer.model, scorer.definitions, scorer.scope([subject]), subject, as_of, cap, context)


def person_records(ctx: ServiceContext, subject: str, top: int = SHOWN) -> RecordsOut:
    """The person's own `top` costliest records and groups of records (each at least a whole point), as of
    their stored score; each record says what its status means (the spec's), since a record kept on time can
    cost points too (the model reads the mix and amounts of activity, not only missed payments)."""
    with ctx.db.read() as s:
        score = s.get(Score, subject)
        when = occurred(s, subject)
    if score is None:
        return RecordsOut(as_of=None, held=0, considered=0, records=[], model_id=None)
    scorer = ctx.scorer
    if not isinstance(scorer, ModelScorer):
        raise Problem(501, "records-unavailable", "the records behind a score need a model scorer")
    weights = ctx.answers.get("records", score, scorer.model_id, lambda: weights_of(scorer, subject, score.as_of))
    spec = spec_of(scorer)
    priced = amounts_held(spec)
    records = [RecordCost(event_id=_text(r.get("event_id")), ts=pd.Timestamp(r["ts"]).to_pydatetime(), kind=str(r["kind"]), status=str(r["status"]),
                          amount=_number(r.get("amount")) if priced else None, due_ts=_time(r.get("due_ts")),
                          days_late=_number(r.get("days_late")), points=float(r["points"]),
                          reported_at=_time(r.get(REPORTED_AT)),
                          meaning=status_meaning(str(r["status"]), spec))  # type: ignore[arg-type]
               for r in own_dates(weights.top(top), when).to_dict("records")]  # each at its own date (record_dates)
    groups = [RecordGroupCost(by=g["by"], name=g["name"], label=g["label"], count=int(g["count"]),
                              points=float(g["points"])) for g in weights.top_groups(top).to_dict("records")]
    return RecordsOut(as_of=score.as_of, held=weights.records, considered=weights.considered, records=records,
                      groups=groups, model_id=scorer.model_id)


def _time(value: object) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()  # type: ignore[arg-type]


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)  # type: ignore[arg-type]


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(np.float64(value))  # type: ignore[arg-type]
