"""Several history files, each with its own grace period and paid_kind: ingest stores each file's rows by
its own rules, and the stored spec keeps each kind's (Events.kind_rules), so the scoring service stores a
reported outcome of a kind as ingest stored that kind's file (its payment, its write-off bound, a late one
past the grace)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from deepcredit.data.dataset import Dataset
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.ledger import settled_as_stored, with_payments, written_off_days
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.service.scoring import OVERLAY_COLUMNS, Overlay
from deepcredit.service.snapshot import write_overlaid

from .test_ledger import _files
from .test_more_events import BILLS
from .test_payments import LABELS, PAYMENTS, ROWS

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*good labels have a performance window", "ignore:.*labels are 0"
)

# [events]: instalments with paid_kind and 10 days' grace; [more_events.bills]: neither (90 days, no payments)
TWO_RULES = PAYMENTS.replace("[events]", "[events]\ngrace_days = 10", 1).replace(
    "[outcomes]", BILLS + "\n[outcomes]"
)
# a: a bill paid early, one paid 25 days late (within 90 days, past 10); b: one never paid
BILL_ROWS = pd.DataFrame(
    {
        "client": ["a", "a", "b"],
        "bill_no": ["b1", "b2", "b3"],
        "issued": ["2024-01-01"] * 3,
        "due": ["2024-01-31"] * 3,
        "paid_on": ["2024-01-20", "2024-02-25", ""],
        "due_amount": [40, 41, 42],
    }
)


def _ingest(tmp_path) -> Dataset:
    files = _files(tmp_path, ROWS, "instalments")
    LABELS.to_csv(files["outcomes"], index=False)
    files["events:bills"] = tmp_path / "bills.csv"
    BILL_ROWS.to_csv(files["events:bills"], index=False)
    return ingest_with_spec(spec_from_toml(TWO_RULES), files, tmp_path / "ds", snapshot_date="2024-06-01")


def test_each_history_files_rows_are_dated_by_its_own_grace_and_paid_kind(tmp_path):
    events = _ingest(tmp_path).read("events")
    bills = events[events["kind"] == "utility_bill"].sort_values("amount")
    # 90 days' grace (none declared): 25 days late stays late; never paid: broken 91 days late, from 1 May
    assert list(
        zip(bills["status"], bills["days_late"], bills["ts"].dt.strftime("%Y-%m-%d"), strict=True)
    ) == [("on_time", 0.0, "2024-01-20"), ("late", 25.0, "2024-02-25"), ("missed", 91.0, "2024-05-01")]
    owed = events[events["kind"] == "instalment"].sort_values(["person_id", "due_ts"])
    # 10 days' grace: b's instalment due 1 February and never paid is broken 11 days late, from 12 February
    assert (owed["status"].iloc[2], owed["days_late"].iloc[2], owed["ts"].iloc[2]) == (
        "missed",
        11.0,
        pd.Timestamp("2024-02-12"),
    )
    paid = events[events["kind"] == "payment"]
    assert sorted(paid["amount"]) == [30.0, 50.0]  # the instalments' payments only: the bills' file has none


def test_the_stored_spec_keeps_each_kinds_own_rules(tmp_path):
    """It kept the first file's grace period and paid_kind for every kind: a reported bill 25 days late was
    stored broken 11 days late, a written-off bill 11 days late, and a bill kept got a payment."""
    stored = _ingest(tmp_path).spec.events
    assert stored is not None
    bill, instalment = stored.for_kind("utility_bill"), stored.for_kind("instalment")
    assert (written_off_days(bill), written_off_days(instalment)) == (91, 11)
    assert settled_as_stored(bill, "late", 25.0) == ("late", 25.0)
    assert settled_as_stored(instalment, "late", 25.0) == ("missed", 11.0)
    reported = pd.DataFrame(
        {
            "person_id": ["a", "a"],
            "ts": [pd.Timestamp("2024-03-20")] * 2,
            "kind": pd.Series(["instalment", "utility_bill"], dtype="string"),
            "amount": [100.0, 40.0],
            "status": pd.Series(["on_time"] * 2, dtype="string"),
            "due_ts": [pd.Timestamp("2024-03-20")] * 2,
            "days_late": [0.0, 0.0],
        }
    )
    out = with_payments(reported, stored)
    assert sorted(zip(out["kind"], out["amount"], strict=True)) == [
        ("instalment", 100.0),
        ("payment", 100.0),
        ("utility_bill", 40.0),
    ]


def test_a_reported_bill_kept_gets_no_payment_in_the_served_snapshot(tmp_path):
    served = _ingest(tmp_path)
    reported = pd.DataFrame(
        [
            (
                "a",
                datetime(2024, 5, 20),
                "utility_bill",
                40.0,
                "on_time",
                datetime(2024, 5, 20),
                0.0,
                "merchant:1",
                "evt_1",
            )
        ],
        columns=list(OVERLAY_COLUMNS),
    )
    events = write_overlaid(served, Overlay(events=reported), tmp_path / "snap", datetime(2024, 6, 1)).read(
        "events"
    )
    assert events[events["ts"] == pd.Timestamp("2024-05-20")]["kind"].tolist() == ["utility_bill"]


def test_one_history_file_keeps_its_stored_spec_as_before():
    """One history file stores no kind_rules: the spec's text, and so the data set's fingerprint, is what it
    was."""
    assert "kind_rules" not in spec_from_toml(PAYMENTS).stored().to_json()


def test_a_kind_in_two_files_with_different_rules_is_refused_at_its_line():
    """Ingest would store the kind's rows of each file by that file's rules; a reported outcome of it could
    be stored by one only."""
    text = TWO_RULES.replace('utility_bill = { amount = "owed" }', 'instalment = { amount = "owed" }')
    with pytest.raises(SpecError, match=r"'instalment' is also a kind of \[events\].*grace_days, paid_kind"):
        spec_from_toml(text)
