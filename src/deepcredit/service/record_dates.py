"""A reported record's two dates as the person reads them: when it occurred, and when it was reported.

Scoring dates a merchant's report at its arrival (service_events.created_at, events.overlay_source), so a
score recomputed as of an earlier moment never reads it: the rows a scope gives carry that arrival as `ts`.
Shown as the record's date, a bill due 1 March, paid 3 March and reported on 20 March, would read 20 March.
What the person reads (their report and page, their costliest records, their export) gives each reported
record its own date instead, when it occurred (service_events.ts, the report's `occurred_at`), and beside it
REPORTED_AT, the arrival: from then it counts towards the score. A data set's record has one date only (its
REPORTED_AT is empty). Scoring is not touched: only what is shown is re-dated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from deepcredit.service.store.models import ServiceEvent

REPORTED_AT = "reported_at"
"""The column (and response field) with a reported record's arrival; empty for the data set's records."""


def occurred(s: Session, subject: str) -> dict[str, datetime]:
    """When each of the person's reported records occurred, by its public id (evt_…)."""
    rows = s.execute(select(ServiceEvent.public_id, ServiceEvent.ts).where(ServiceEvent.subject == subject))
    return dict(rows.tuples().all())


def own_dates(events: pd.DataFrame, when: Mapping[str, datetime]) -> pd.DataFrame:
    """`events` (event_id, ts: the date scoring reads) with each reported record's `ts` its own date (`when`,
    by event_id) and its arrival in REPORTED_AT (NaT for the others); other columns and the order unchanged."""
    out = events.copy()
    ids = out["event_id"] if "event_id" in out else pd.Series(None, index=out.index, dtype=object)
    own = pd.to_datetime(ids.map(lambda ref: when.get(ref) if isinstance(ref, str) else None))
    reported = own.notna().to_numpy(bool)
    ts = pd.to_datetime(out["ts"])
    out["ts"] = ts.mask(reported, own)
    out[REPORTED_AT] = ts.where(reported)
    return out
