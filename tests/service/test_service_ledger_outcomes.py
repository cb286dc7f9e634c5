"""A reported outcome is stored as ingest stores the same outcome of a ledger: beside the commitment, the
payment where the spec declares paid money as events of its own (paid_kind), and a write-off as late as
ingest counts one. So the model reads the same rows in training and in service."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sqlalchemy import select

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.ledger import written_off_days
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.engine import build_features
from deepcredit.service.scoring import OVERLAY_COLUMNS, Overlay
from deepcredit.service.snapshot import write_overlaid
from deepcredit.service.store.models import ServiceEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data.test_ledger import _files  # noqa: E402
from data.test_more_events import BILLS  # noqa: E402
from data.test_payments import LABELS, PAYMENTS, ROWS, _ingest  # noqa: E402

pytest_plugins = ("service_testkit",)  # the `service` fixture: a fresh service on each database
pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window",
                                        "ignore:.*labels are 0")

AS_OF = pd.Timestamp("2024-04-01")
# b returns an instalment of 100 on time on 20 March: reported to the service, or written in the ledger
REPORTED = pd.DataFrame([("b", datetime(2024, 3, 20), "instalment", 100.0, "on_time", datetime(2024, 3, 20), 0.0,
                          "merchant:1", "evt_1")], columns=list(OVERLAY_COLUMNS))
WRITTEN = pd.DataFrame({"customer": ["b"], "issued_on": ["2024-03-01"], "due_on": ["2024-03-20"],
                        "paid_on": ["2024-03-20"], "amount_due": [100], "amount_paid": [100]})


def _features(ds) -> pd.Series:
    frame = build_features(ds).frame
    return frame[frame["as_of"] == AS_OF].set_index("person_id").loc["b"]


def test_a_reported_outcome_holds_the_payment_ingest_would_store_and_reads_the_same(tmp_path):
    served = _ingest(tmp_path / "served")
    held = write_overlaid(served, Overlay(events=REPORTED), tmp_path / "snap", datetime(2024, 4, 1))
    events = held.read("events")
    mine = events[(events["person_id"] == "b") & (events["ts"] == pd.Timestamp("2024-03-20"))]
    assert sorted(zip(mine["kind"], mine["status"], mine["amount"], strict=True)) == [
        ("instalment", "on_time", 100.0), ("payment", "paid", 100.0)]
    ingested = _ingest(tmp_path / "ingested", pd.concat([ROWS, WRITTEN], ignore_index=True))
    reported, written = _features(held), _features(ingested)
    assert reported["amount_paid_30d"] == 100.0 and reported["paid_to_billed_180d"] == pytest.approx(1.0)
    pd.testing.assert_series_equal(reported, written, check_names=False)


def test_a_reported_outcome_not_kept_pays_nothing(tmp_path):
    served = _ingest(tmp_path / "served")
    late = REPORTED.assign(status="late", days_late=5.0, due_ts=datetime(2024, 3, 15))
    missed = REPORTED.assign(status="missed", days_late=91.0, event_id="evt_2", amount=40.0)
    held = write_overlaid(served, Overlay(events=pd.concat([late, missed])), tmp_path / "snap", datetime(2024, 4, 1))
    events = held.read("events")
    paid = events[(events["kind"] == "payment") & (events["ts"] == pd.Timestamp("2024-03-20"))]
    assert paid["amount"].tolist() == [100.0]  # the late one paid in full, the missed one nothing


@pytest.mark.parametrize("grace", [None, 14])
def test_a_reported_write_off_is_as_late_as_ingest_counts_one(service, monkeypatch, grace):
    """A ledger's write-off (never settled) is its grace period, or 90 days, plus 1 late at ingest: a
    reported one too, stated shorter or left out, so it never ranks below a late return of 70 days."""
    import deepcredit.service.events as events

    spec = service.world.data.spec
    assert spec.events is not None
    ledger = spec.events.model_copy(update={
        "columns": spec.events.columns.model_copy(update={"days_late": None, "due_ts": "due", "settled_ts": "done"}),
        "grace_days": grace})
    assert written_off_days(ledger) == (grace or 90) + 1
    monkeypatch.setattr(events, "spec_of", lambda scorer: spec.model_copy(update={"events": ledger}))
    pid, _, acme = service.decided()
    service.clock.advance(days=10)
    stored = _reported_and_replayed(service, acme, pid, "rental_not_returned", {"w1": {}, "w2": {"days_late": 5}})
    assert [e.days_late for e in stored] == [float((grace or 90) + 1)] * 2
    # due no earlier than the order: the one left out as late as the order allows, the stated one as stated
    assert [(e.ts - e.due_ts).days for e in stored] == [10, 5]


def test_a_data_set_of_several_history_files_keeps_what_a_reported_outcome_is_stored_by(tmp_path):
    """The stored spec of several history files is one [events]: it keeps paid_kind (with its paid_amount
    column) and the grace period, so a reported outcome there still gets its payment, as on one file."""
    text = PAYMENTS.replace("[events]", "[events]\ngrace_days = 14", 1).replace("[outcomes]", BILLS + "\n[outcomes]")
    spec = spec_from_toml(text)
    stored = spec.stored().events
    assert stored is not None and (stored.paid_kind, stored.columns.paid_amount, stored.grace_days) == (
        "payment", "amount_paid", 14)
    files = _files(tmp_path, ROWS, "instalments")
    LABELS.to_csv(files["outcomes"], index=False)
    files["events:bills"] = tmp_path / "bills.csv"
    pd.DataFrame({"client": ["a"], "bill_no": ["b1"], "issued": ["2024-01-01"], "due": ["2024-01-31"], "paid_on": ["2024-01-20"],
                  "due_amount": [40]}).to_csv(files["events:bills"], index=False)
    served = ingest_with_spec(spec, files, tmp_path / "ds", snapshot_date="2024-04-01")
    held = write_overlaid(served, Overlay(events=REPORTED), tmp_path / "snap", datetime(2024, 4, 1))
    events = held.read("events")
    mine = events[(events["person_id"] == "b") & (events["ts"] == pd.Timestamp("2024-03-20"))]
    assert sorted(zip(mine["kind"], mine["status"], mine["amount"], strict=True)) == [
        ("instalment", "on_time", 100.0), ("payment", "paid", 100.0)]


@pytest.mark.parametrize("grace", [14, None])
def test_a_late_outcome_past_the_grace_period_is_stored_broken_as_ingest_stores_it(service, monkeypatch, grace):
    """On a ledger with a grace period, ingest stores a row settled after the grace as broken (the first
    status meaning broken), the grace and 1 days late, with no payment: a late return reported so late is
    stored the same way (ledger.settled_as_stored, ingest's own rule); one within the grace stays late.
    Without grace_days the grace is 90 days (ledger.UNSETTLED_DAYS), in ingest and service alike."""
    import deepcredit.service.events as events

    spec = service.world.data.spec
    assert spec.events is not None
    ledger = spec.events.model_copy(update={
        "columns": spec.events.columns.model_copy(update={"days_late": None, "due_ts": "due", "settled_ts": "done"}),
        "grace_days": grace})
    broken = next(s for s, v in ledger.statuses.items() if v.meaning == "broken")
    monkeypatch.setattr(events, "spec_of", lambda scorer: spec.model_copy(update={"events": ledger}))
    pid, _, acme = service.decided()
    service.clock.advance(days=120)
    days = grace or 90
    stored = _reported_and_replayed(service, acme, pid, "rental_returned_late",
                                    {"l1": {"days_late": days}, "l2": {"days_late": days + 6}})
    assert [(e.status, e.days_late) for e in stored] == [("returned_late", float(days)), (broken, days + 1.0)]
    assert [(e.ts - e.due_ts).days for e in stored] == [days, days + 6]  # due when it fell due, as stated


def test_a_plans_on_time_commitment_carries_the_payment_ingest_would_store(tmp_path):
    """A recourse plan's simulated events (a what-if) are read as reported outcomes are: an on-time
    instalment with its payment where the spec declares paid_kind, so the plan moves the paid share as the
    same commitment kept would (scoring._add_whatif through ledger.with_payments)."""
    from deepcredit.service.recourse import Behaviour, Plan, Step
    from deepcredit.service.scoring import WhatIf, _add_whatif

    served = _ingest(tmp_path / "served")
    con = duckdb.connect()
    con.register("_stored", served.read("events"))
    con.execute("CREATE TABLE events AS SELECT * FROM _stored")
    start = datetime(2024, 4, 1)
    plan = Plan(months=3, steps=(Step(Behaviour("instalment", "on_time", 100.0), 2),))
    _add_whatif(con, WhatIf(events=plan.events(start).assign(person_id="b")), served.spec.events)
    added = con.execute("SELECT kind, status, amount, ts FROM events WHERE person_id = 'b' AND ts > ? ORDER BY ts, kind",
                        [start]).df()
    assert list(zip(added["kind"], added["status"], added["amount"], strict=True)) == [
        ("instalment", "on_time", 100.0), ("payment", "paid", 100.0)] * 2
    assert (added["ts"].iloc[0::2].to_numpy() == added["ts"].iloc[1::2].to_numpy()).all()  # paid when kept


def _reported_and_replayed(service, acme: dict, pid: str, outcome: str, reports: dict[str, dict]) -> list:
    """Report each of `reports` (transaction id: extra fields; amount 30), send the last again (a replay, not a
    conflict), and return every stored reported event in order."""
    for tx, extra in reports.items():
        r = service.client.post("/v1/events", headers=acme, json={
            "transaction_id": tx, "person_id": pid, "outcome": outcome, "amount": 30, **extra})
        assert r.status_code == 201, r.text
    r = service.client.post("/v1/events", headers=acme, json={
        "transaction_id": tx, "person_id": pid, "outcome": outcome, "amount": 30, **extra})
    assert r.status_code == 201 and r.json()["replayed"] is True, r.text
    with service.ctx.db.read() as s:
        return s.execute(select(ServiceEvent).order_by(ServiceEvent.id)).scalars().all()
