"""A ledger's rows dated after a date T change nothing as of T: the same book, once as it stood and once with
a settlement or a part written after T, gives the same features at T and the same labels known by T.

Why a file of its own: these are the project's point-in-time rule ("a feature at T uses only what was known
before T") checked on the two ledger paths that broke it: a settlement more than UNSETTLED_DAYS late without
a declared grace period (ledger._after_grace), and a commitment paid in parts (ledger.merged_parts)."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.features.engine import build_features

from .test_ledger import PAID_IN_PARTS, SCHEDULE, SPEC
from .test_payments import PAYMENTS

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*good labels have a performance window", "ignore:.*labels are"
)

PEOPLE = pd.DataFrame({"customer": ["a", "b"], "city": ["Lyon", "Oslo"]})
OUTCOMES = pd.DataFrame({"customer": ["a", "b"], "as_of": ["2024-02-01"] * 2, "defaulted": ["0", "0"]})
# due 2024-01-10: known unpaid from 2024-04-10 (UNSETTLED_DAYS past its due day); settled 2024-06-01 in B
BEFORE_SETTLED = ["2024-01-20", "2024-04-09", "2024-04-10", "2024-04-11", "2024-05-01", "2024-05-31"]


def _ingest(tmp_path, spec: str, rows: pd.DataFrame, outcomes: pd.DataFrame | None = OUTCOMES,
            snapshot: str = "2024-12-31"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    rows.to_csv(tmp_path / "events.csv", index=False)
    files = {"people": tmp_path / "people.csv", "events": tmp_path / "events.csv"}
    if outcomes is not None:
        outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
        files["outcomes"] = tmp_path / "outcomes.csv"
    return ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds", snapshot_date=snapshot)


def _as_of(ds, days: list[str]) -> pd.DataFrame:
    """Every feature of a and b at each of `days` (the engine's own spine, not the outcomes')."""
    spine = pd.DataFrame(
        [(p, pd.Timestamp(d)) for d in days for p in ("a", "b")], columns=["person_id", "as_of"]
    )
    return build_features(ds, spine=spine).frame.sort_values(["as_of", "person_id"]).reset_index(drop=True)


def _same_as_of(tmp_path, spec: str, a: pd.DataFrame, b: pd.DataFrame, days: list[str]) -> pd.DataFrame:
    first, later = _ingest(tmp_path / "A", spec, a), _ingest(tmp_path / "B", spec, b)
    one, two = _as_of(first, days), _as_of(later, days)
    pd.testing.assert_frame_equal(one, two)
    return one


RENTALS = pd.DataFrame(
    {
        "customer": ["a", "b"],
        "rented_at": ["2024-01-01"] * 2,
        "due_back": ["2024-01-10"] * 2,
        "returned_at": ["", "2024-01-09"],
        "item": ["dress"] * 2,
        "price": [40, 40],
        "state": ["not_returned", "returned"],
    }
)
RETURNED_LATE = RENTALS.assign(returned_at=["2024-06-01", "2024-01-09"], state=["returned_late", "returned"])


def test_a_return_after_t_does_not_hide_a_rental_known_unpaid_before_t(tmp_path):
    """Without grace_days, a rental never returned is broken from 90 days past its due day; one returned
    later still (after T) was stored whole at its return, so at T it did not exist (22 features changed)."""
    at = _same_as_of(tmp_path, SPEC, RENTALS, RETURNED_LATE, BEFORE_SETTLED).set_index(["person_id", "as_of"])
    seen = at.loc[("a", pd.Timestamp("2024-05-01"))]
    assert (seen["n_bad_365d"], seen["max_days_late_365d"], seen["amount_billed_180d"]) == (1, 91, 40)
    assert at.loc[("a", pd.Timestamp("2024-04-10")), "n_bad_365d"] == 0  # not before it was known


def test_a_return_more_than_90_days_late_is_stored_as_the_write_off_it_was_by_then(tmp_path):
    events = _ingest(tmp_path, SPEC, RETURNED_LATE).read("events").set_index("person_id")
    assert (events.loc["a", "status"], events.loc["a", "days_late"]) == ("not_returned", 91.0)
    assert events.loc["a", "ts"] == pd.Timestamp("2024-04-10")
    within = RETURNED_LATE.assign(returned_at=["2024-04-09", "2024-01-09"])  # 90 days late: still late
    kept = _ingest(tmp_path / "within", SPEC, within).read("events").set_index("person_id")
    assert (kept.loc["a", "status"], kept.loc["a", "days_late"]) == ("returned_late", 90.0)


SCHEDULED = pd.DataFrame(
    {
        "customer": ["a", "b"],
        "issued_on": ["2024-01-01"] * 2,
        "due_on": ["2024-01-10"] * 2,
        "paid_on": ["", "2024-01-09"],
        "amount_due": [50, 50],
    }
)


def test_an_instalment_paid_after_t_does_not_hide_one_known_missed_before_t(tmp_path):
    """Statuses told from the dates: unpaid is missed from 2024-04-10; paid on 2024-06-01 was late, unseen."""
    paid = SCHEDULED.assign(paid_on=["2024-06-01", "2024-01-09"])
    at = _same_as_of(tmp_path, SCHEDULE, SCHEDULED, paid, BEFORE_SETTLED).set_index(["person_id", "as_of"])
    assert at.loc[("a", pd.Timestamp("2024-05-01")), "n_bad_365d"] == 1


def test_money_paid_more_than_90_days_late_is_not_seen_before_it_came(tmp_path):
    """With paid_amount, the late settlement's money is forgotten as a grace period forgets it: the unpaid
    instalment and the one paid after T read alike at T, money features included."""
    unpaid = SCHEDULED.assign(amount_paid=[None, 50])
    paid = unpaid.assign(paid_on=["2024-06-01", "2024-01-09"], amount_paid=[50, 50])
    _same_as_of(tmp_path, PAYMENTS, unpaid, paid, BEFORE_SETTLED)


EVENT_LABELS = (
    SPEC[: SPEC.index("[outcomes]")]
    + """[outcomes]
source = "events"
as_of_dates = [2024-01-05]
window_days = 120
"""
)


def test_a_label_told_from_the_events_is_not_rewritten_by_a_return_after_its_window(tmp_path):
    """a's label at 2024-01-05 is known on 2024-05-04: its rental due 2024-01-10 was known unpaid on
    2024-04-10, inside the window; a return on 2024-06-01 flipped it to good."""
    before = pd.DataFrame(
        {
            "customer": ["a", "b"],
            "rented_at": ["2023-12-20"] * 2,
            "due_back": ["2023-12-27"] * 2,
            "returned_at": ["2023-12-26"] * 2,
            "item": ["dress"] * 2,
            "price": [40, 40],
            "state": ["returned"] * 2,
        }
    )
    labels = []
    for sub, rentals in (("A", RENTALS), ("B", RETURNED_LATE)):
        ds = _ingest(tmp_path / sub, EVENT_LABELS, pd.concat([before, rentals.iloc[:1]]), outcomes=None)
        labels.append(ds.read("outcomes").set_index("person_id")["label"].to_dict())
    assert labels[0] == labels[1] == {"a": 1, "b": 0}


PARTS = pd.DataFrame(
    {
        "customer": ["a", "b"],
        "loan": ["L1", "L2"],
        "number": ["1", "1"],
        "issued_on": ["2024-01-01"] * 2,
        "due_on": ["2024-02-01"] * 2,
        "paid_on": ["2024-01-25", "2024-01-25"],
        "amount_due": [30, 30],
        "amount_paid": [30, 30],
    }
)
ONCE = PAYMENTS.replace("[events]", '[events]\nparts_of = ["loan", "number"]\nparts_amount = "once"', 1)


@pytest.mark.parametrize("paid_on, amount_paid", [("2024-06-10", 5), ("", 0), ("2024-03-10", 5)])
def test_a_part_after_t_leaves_a_commitment_paid_in_full_before_t_as_it_was(tmp_path, paid_on, amount_paid):
    """The amount owed (parts_amount = "once") and each part's payment are known: an instalment paid in full
    on 2024-01-25 was settled then, whatever a later part says (money on top, a part with no date): it took
    the date and the status of its last part, so at 2024-03-01 it vanished (11 features changed)."""
    more = pd.concat(
        [PARTS, PARTS.iloc[:1].assign(paid_on=paid_on, amount_paid=amount_paid)], ignore_index=True
    )
    at = _same_as_of(tmp_path, ONCE, PARTS, more, ["2024-01-26", "2024-03-01", "2024-07-01", "2024-12-31"])
    assert at.set_index(["person_id", "as_of"]).loc[("a", pd.Timestamp("2024-03-01")), "n_outcomes"] == 1


@pytest.mark.parametrize("paid_on", ["2024-03-10", "2024-06-10"])
def test_a_commitment_not_paid_in_full_at_t_reads_alike_however_it_is_completed_later(tmp_path, paid_on):
    """Part paid before T (20 of 30), the rest after T: at T the instalment is due and not paid in full in both
    books; completed more than 90 days late it is the write-off it was by then."""
    short = PARTS.assign(amount_paid=[20, 30])
    rest = pd.concat([short, short.iloc[:1].assign(paid_on=paid_on, amount_paid=10)], ignore_index=True)
    first, later = _ingest(tmp_path / "A", ONCE, short), _ingest(tmp_path / "B", ONCE, rest)
    pd.testing.assert_frame_equal(
        _as_of(first, ["2024-01-26", "2024-03-01"]), _as_of(later, ["2024-01-26", "2024-03-01"])
    )


def test_a_part_settled_more_than_90_days_late_makes_its_commitment_broken_from_then(tmp_path):
    """Without the amount owed (parts each hold their share) a commitment is complete only with its last
    part, an inherent limit (docs/bring-your-own-data.md); the 90-day rule still bounds it."""
    rows = pd.DataFrame(
        {
            "customer": ["a", "a", "b"],
            "loan": ["L1", "L1", "L2"],
            "number": ["1", "1", "1"],
            "issued_on": ["2024-01-01"] * 3,
            "due_on": ["2024-02-01"] * 3,
            "paid_on": ["2024-01-25", "2024-06-10", "2024-01-25"],
            "amount_due": [30, 20, 30],
        }
    )
    events = _ingest(tmp_path, PAID_IN_PARTS, rows).read("events").set_index("person_id")
    assert (events.loc["a", "status"], events.loc["a", "days_late"]) == ("missed", 91.0)
    assert events.loc["a", "ts"] == pd.Timestamp("2024-05-02")


def test_a_days_late_column_reads_a_return_after_t_as_the_write_off_it_was_at_t(tmp_path):
    """The file's own days late (as at its extract: 356 for the one never back) do not tell the two apart."""
    days_late = SPEC.replace(
        'settled_ts = "returned_at"', 'settled_ts = "returned_at"\ndays_late = "late_days"'
    )
    _same_as_of(
        tmp_path,
        days_late,
        RENTALS.assign(late_days=[356, 0]),
        RETURNED_LATE.assign(late_days=[143, 0]),
        BEFORE_SETTLED,
    )


def test_without_settled_dates_a_part_after_t_leaves_a_commitment_paid_in_full_as_it_was(tmp_path):
    """Parts dated by their own date (no settled column): paid in full by the first, a later part (money on
    top) no longer moves the commitment to its date."""
    spec = ONCE.replace('settled_ts = "paid_on"', 'days_late = "late_days"').replace(
        'ts = "issued_on"', 'ts = "paid_on"'
    )
    rows = PARTS.drop(columns="issued_on").assign(late_days=0)
    more = pd.concat(
        [rows, rows.iloc[:1].assign(paid_on="2024-06-10", amount_paid=5, late_days=130)], ignore_index=True
    )
    at = _same_as_of(tmp_path, spec, rows, more, ["2024-01-26", "2024-03-01", "2024-07-01"])
    assert at.set_index(["person_id", "as_of"]).loc[("a", pd.Timestamp("2024-03-01")), "amount_paid_30d"] == 0


RETURNED_AS_KEPT = RENTALS.assign(returned_at=["2024-05-09", "2024-01-09"], state=["returned", "returned"])
GRACE = SPEC.replace("[events.columns]", "[events]\ngrace_days = 10\n\n[events.columns]", 1)


def test_a_return_120_days_late_written_kept_does_not_hide_a_rental_known_unpaid_before_t(tmp_path):
    """The file writes 'returned' (kept) for a rental back 120 days late: a contradiction kept as written
    once read its rental as on time at every date, yet before the return it was unpaid past 90 days, as the
    file written then says (22 features changed at 2024-05-01). It is stored as the late status is."""
    at = _same_as_of(tmp_path, SPEC, RENTALS, RETURNED_AS_KEPT, BEFORE_SETTLED[:-1]).set_index(
        ["person_id", "as_of"]
    )
    assert at.loc[("a", pd.Timestamp("2024-05-01")), ["n_bad_365d", "max_days_late_365d"]].tolist() == [1, 91]
    events = _ingest(tmp_path / "C", SPEC, RETURNED_AS_KEPT).read("events").set_index("person_id")
    assert (events.loc["a", "status"], events.loc["a", "days_late"]) == ("not_returned", 91.0)
    on_time = _ingest(
        tmp_path / "D", SPEC, RENTALS.assign(returned_at=["2024-04-09", "2024-01-09"], state="returned")
    ).read("events")
    assert on_time["status"].tolist() == ["returned"] * 2  # within the 90 days: as the file writes it


def test_with_grace_days_a_return_written_kept_after_the_grace_reads_as_unpaid_before_it(tmp_path):
    """grace_days = 10, returned 30 days late yet written 'returned': broken from 2024-01-21, as the rental
    not back is, so as of T before the return the two files read alike."""
    late = RENTALS.assign(returned_at=["2024-02-09", "2024-01-09"], state="returned")
    at = _same_as_of(tmp_path, GRACE, RENTALS, late, ["2024-01-20", "2024-01-21", "2024-01-22", "2024-02-01"])
    assert at.set_index(["person_id", "as_of"]).loc[("a", pd.Timestamp("2024-02-01")), "n_bad_365d"] == 1
    events = _ingest(tmp_path / "C", GRACE, late).read("events").set_index("person_id")
    assert (events.loc["a", "status"], events.loc["a", "days_late"], events.loc["a", "ts"]) == (
        "not_returned",
        11.0,
        pd.Timestamp("2024-01-21"),
    )


def test_an_extract_written_while_a_rental_was_open_past_90_days_reads_as_the_later_file(tmp_path):
    """Extracted on 2024-05-01 the file writes the rental due 2024-01-10 'renting' (open, 112 days past due);
    the file written later says it came back on 2024-06-01. As of any date up to the first extract both must
    read alike: without a declared grace the open row is broken from due + 91, as the late return is (it
    was kept open, so 19 features differed at 2024-05-01)."""
    open_then = RENTALS.assign(returned_at=["", "2024-01-09"], state=["renting", "returned"])
    days = ["2024-01-20", "2024-04-10", "2024-04-11", "2024-05-01"]
    one = _as_of(_ingest(tmp_path / "A", SPEC, open_then, snapshot="2024-05-01"), days)
    two = _as_of(_ingest(tmp_path / "B", SPEC, RETURNED_LATE), days)
    pd.testing.assert_frame_equal(one, two)
    assert one.set_index(["person_id", "as_of"]).loc[("a", pd.Timestamp("2024-05-01")), "n_bad_365d"] == 1
    still = RENTALS.assign(returned_at=["", "2024-01-09"], state=["renting", "returned"])
    events = _ingest(tmp_path / "C", SPEC, still, snapshot="2024-03-01").read("events").set_index("person_id")
    assert events.loc["a", "status"] == "renting"  # 51 days past due at the snapshot: still open
