"""A report that says its outcome occurred earlier (occurred_at) is dated, for every point-in-time read, when the
service learnt it: a recomputation, a snapshot or a feature as of a moment before the report never sees it,
while its days late (and due date) stay what the report said, and retention counts its age from when it
occurred."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from service_testkit import scorer_for
from sqlalchemy import select

from deepcredit.data.dataset import Dataset
from deepcredit.service import retention
from deepcredit.service.snapshot import snapshot
from deepcredit.service.store.models import ServiceEvent

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database


def _backdated(service, acme, pid: str, outcome: str, occurred, tx: str = "ev-back", **extra) -> str:
    r = service.client.post(
        "/v1/events",
        json={
            "transaction_id": tx,
            "person_id": pid,
            "outcome": outcome,
            "amount": 300.0,
            "occurred_at": service.iso(occurred),
            **extra,
        },
        headers=acme,
    )
    assert r.status_code == 201, r.text
    return r.json()["event_id"]


def test_a_backdated_report_leaves_a_score_as_of_a_moment_before_it_unchanged(service):
    pid, _, acme = service.decided(skip=0)
    t0 = service.clock.t
    service.clock.advance(days=5)
    mid = service.clock.t
    subject = service.subject(pid)
    before = service.ctx.scorer.score_people([subject], as_of=mid)[0]
    service.clock.advance(days=5)
    reported = service.clock.t
    _backdated(service, acme, pid, "rental_not_returned", t0 + timedelta(days=3))
    after = service.ctx.scorer.score_people([subject], as_of=mid)[0]
    assert (after.score, after.reasons) == (before.score, before.reasons)  # the past stays as it was known
    now = service.score_of(pid)  # the re-score at the report sees it
    assert now.score < before.score and now.as_of > reported


def test_a_backdated_late_report_keeps_its_days_late_and_is_dated_when_it_came(service):
    pid, _, acme = service.decided(skip=0)
    t0 = service.clock.t
    service.clock.advance(days=10)
    reported = service.clock.t
    occurred = t0 + timedelta(days=3)
    event_id = _backdated(service, acme, pid, "rental_returned_late", occurred, days_late=2)
    with service.ctx.db.read() as s:
        row = s.execute(select(ServiceEvent).where(ServiceEvent.public_id == event_id)).scalar_one()
    assert (row.ts, row.due_ts, row.days_late, row.created_at) == (
        occurred,
        occurred - timedelta(days=2),
        2.0,
        reported,
    )  # what the report said, kept
    read = service.ctx.scorer.person_events(service.subject(pid))  # what the score reads
    mine = read[read["event_id"] == event_id].iloc[0]
    assert mine["ts"] == pd.Timestamp(reported)  # known from the report on
    assert (mine["due_ts"], mine["days_late"]) == (pd.Timestamp(occurred - timedelta(days=2)), 2.0)


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_a_snapshot_after_a_backdated_report_gives_the_same_features_before_it(service, tmp_path):
    pid, _, acme = service.decided(skip=0)
    t0 = service.clock.t
    service.clock.advance(days=5)
    mid = service.clock.t
    served = service.world.data
    snapshot(service.ctx, served, tmp_path / "before")
    service.clock.advance(days=5)
    _backdated(service, acme, pid, "rental_not_returned", t0 + timedelta(days=3))
    service.clock.advance(hours=1)
    snapshot(service.ctx, served, tmp_path / "after")
    subject = service.subject(pid)
    first, then = (scorer_for(Dataset(tmp_path / name)) for name in ("before", "after"))
    pd.testing.assert_frame_equal(
        first.model_input([subject], mid).tabular.frame, then.model_input([subject], mid).tabular.frame
    )
    now = service.ctx.now()  # and the report is in the later one
    assert then.score_people([subject], as_of=now)[0].score == service.score_of(pid).score
    assert (
        then.score_people([subject], as_of=now)[0].score != first.score_people([subject], as_of=now)[0].score
    )


@pytest.mark.parametrize("service", ["sqlite"], indirect=True)
def test_retention_counts_a_backdated_reports_age_from_when_it_occurred(service):
    pid, _, acme = service.decided(skip=0)
    t0 = service.clock.t
    service.clock.advance(days=10)
    event_id = _backdated(service, acme, pid, "rental_not_returned", t0 + timedelta(days=3))
    subject = service.subject(pid)
    assert event_id in set(service.ctx.scorer.person_events(subject)["event_id"])
    service.clock.advance(
        days=361
    )  # a year on from t0 + 6 days: occurred before the cutoff, reported after it
    out = retention.run(service.ctx, years=1, recalculate=False)
    assert t0 + timedelta(days=3) < out.cutoff < t0 + timedelta(days=10)
    assert event_id not in set(service.ctx.scorer.person_events(subject)["event_id"])  # retired, as counted


def _at(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text).tz_convert("UTC").tz_localize(None)


def test_the_person_sees_a_backdated_report_at_its_own_date_and_when_it_was_reported(service):
    """The report (JSON and page), the records that cost most and the export give a reported record the date
    it occurred (`ts`) and, beside it, when it was reported (`reported_at`: it counts from then), while the
    score still reads it from its arrival."""
    pid, me, acme = service.decided(skip=0)
    occurred = service.clock.t + timedelta(days=1)
    service.clock.advance(days=19)
    reported = service.clock.t
    event_id = _backdated(service, acme, pid, "rental_not_returned", occurred)
    service.clock.advance(hours=1)
    listed = service.client.get("/v1/me/report", headers=me).json()["events"]
    mine = next(e for e in listed if e["event_id"] == event_id)
    assert (_at(mine["ts"]), _at(mine["reported_at"])) == (occurred, reported)
    assert all(e["reported_at"] is None for e in listed if e["event_id"] != event_id)  # one reported record
    page = service.client.get("/v1/me/report.html", headers=me).text
    said = f'{occurred:%Y-%m-%d}<br><span class="muted reported">reported on {reported:%Y-%m-%d}; counts from then'
    assert said in page
    costly = service.client.get("/v1/me/records", params={"top": 20}, headers=me).json()["records"]
    cost = next(x for x in costly if x["event_id"] == event_id)
    assert (_at(cost["ts"]), _at(cost["reported_at"])) == (occurred, reported)
    exported = service.client.get("/v1/me/export", headers=me).json()["events"]
    row = next(x for x in exported if x["event_id"] == event_id)
    assert (_at(row["ts"]), _at(row["reported_at"])) == (occurred, reported)
    read = service.ctx.scorer.person_events(service.subject(pid))  # the score still reads the arrival
    assert read[read["event_id"] == event_id].iloc[0]["ts"] == pd.Timestamp(reported)
