"""A file that writes what was owed and what was paid on one row (an instalment's amount and its payment):
each payment becomes an event of its own kind, money paid but no commitment, dated when its row's outcome
was known, so the money features see it and nothing is counted twice."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import events_by_meaning, ingest_with_spec, validate_stored
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError
from deepcredit.features.engine import build_features

from .test_ledger import PAID_IN_PARTS, PARTS, SCHEDULE, _files

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")

PAYMENTS = SCHEDULE.replace('settled_ts = "paid_on"', 'settled_ts = "paid_on"\npaid_amount = "amount_paid"').replace(
    "[events.columns]", '[events]\npaid_kind = "payment"\n\n[events.columns]').replace(
    'instalment = { amount = "owed" }', 'instalment = { amount = "owed" }\npayment = { amount = "paid", commitment = false }')
ROWS = pd.DataFrame({  # a: paid in full early, paid 30 of 50 nine days late; b: missed (paid nothing), open with 20 paid
    "customer": ["a", "a", "b", "b"], "issued_on": ["2024-01-01"] * 4,
    "due_on": ["2024-02-01", "2024-03-01", "2024-02-01", "2024-05-01"],
    "paid_on": ["2024-01-30", "2024-03-10", "", ""], "amount_due": [50, 50, 80, 80],
    "amount_paid": [50, 30, None, 20]})


LABELS = pd.DataFrame({"customer": ["a", "b"] * 2, "as_of": ["2024-03-01"] * 2 + ["2024-04-01"] * 2,
                       "defaulted": ["0"] * 4})


def _ingest(tmp_path, rows: pd.DataFrame = ROWS, spec: str = PAYMENTS):
    tmp_path.mkdir(exist_ok=True)
    files = _files(tmp_path, rows, "instalments")
    LABELS.to_csv(files["outcomes"], index=False)
    return ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds", snapshot_date="2024-04-01")


def test_each_payment_is_an_event_of_the_paid_kind_dated_with_its_row(tmp_path):
    ds = _ingest(tmp_path)
    assert events_by_meaning(ds) == {"kept": 1, "late": 1, "broken": 1, "open": 1, "money only": 3}
    events = ds.read("events")
    paid = events[events["kind"] == "payment"].sort_values(["person_id", "ts"])
    assert paid["amount"].tolist() == [50.0, 30.0, 20.0]  # b's missed instalment paid nothing: no payment
    # dated when the row's outcome was known (settled); a payment on a row still open, at the snapshot
    assert paid["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-30", "2024-03-10", "2024-04-01"]
    # a status of their own that reads as paid (not the first kept one: "payment RETURNED" read as bounced),
    # declared meaning kept in the stored spec, so the stored data set validates as it is
    assert set(paid["status"]) == {"paid"} and paid["days_late"].isna().all()
    assert ds.spec.events is not None and ds.spec.events.statuses["paid"].meaning == "kept"
    validate_stored(ds)
    owed = events[events["kind"] == "instalment"].sort_values(["person_id", "due_ts"])
    assert owed["status"].tolist() == ["on_time", "late", "missed", "open"]  # the commitments as before
    assert owed["amount"].tolist() == [50.0, 50.0, 80.0, 80.0]


def test_payments_feed_the_money_features_and_are_never_counted_as_commitments(tmp_path):
    frame = build_features(_ingest(tmp_path)).frame
    at = frame[frame["as_of"] == pd.Timestamp("2024-04-01")].set_index("person_id")
    assert at.loc["a", "amount_paid_180d"] == 80.0
    assert at.loc["a", "paid_to_billed_180d"] == pytest.approx(80 / 100)
    assert at.loc["a", "n_outcomes"] == 2 and at.loc["a", "bad_rate"] == pytest.approx(0.5)  # payments not counted
    # the open one and the payment are no outcomes; the missed one is known unpaid only 90 days past its due
    # day (ledger.UNSETTLED_DAYS), here at the snapshot day, so not yet on it
    assert at.loc["b", "n_outcomes"] == 0


def test_a_connections_record_counts_their_commitments_not_their_payments(tmp_path):
    spec = PAYMENTS.replace("[outcomes]", '[relations]\nfrom_people = ["referred_by"]\n\n[outcomes]')
    tmp_path.mkdir(exist_ok=True)
    files = _files(tmp_path, ROWS, "instalments")
    pd.DataFrame({"customer": ["a", "b"], "city": ["Lyon", "Oslo"], "referred_by": ["", "a"]}).to_csv(
        files["people"], index=False)
    LABELS.to_csv(files["outcomes"], index=False)
    ds = ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds", snapshot_date="2024-04-01")
    frame = build_features(ds).frame
    at = frame[frame["as_of"] == pd.Timestamp("2024-04-01")].set_index("person_id")
    assert at.loc["b", "neighbour_bad_rate"] == pytest.approx(0.5)  # a: one late of two, its payments aside


def test_a_payment_is_not_seen_before_its_row_was_settled(tmp_path):
    frame = build_features(_ingest(tmp_path.joinpath("with"))).frame
    without = build_features(_ingest(tmp_path.joinpath("without"), ROWS.assign(
        amount_paid=[50, 0, None, None]))).frame
    day = pd.Timestamp("2024-03-01")  # before a's late payment (2024-03-10) and before the snapshot
    before = [f[f["as_of"] == day].set_index("person_id").sort_index() for f in (frame, without)]
    pd.testing.assert_frame_equal(*before)


def test_parts_add_up_what_each_paid(tmp_path):
    spec = PAYMENTS.replace("[events]\n", '[events]\nparts_of = ["loan", "number"]\n')
    events = _ingest(tmp_path, PARTS.assign(amount_paid=[30, 20, 50, 40, None]), spec).read("events")
    paid = events[events["kind"] == "payment"].sort_values(["person_id", "ts"])
    assert paid["amount"].tolist() == [50.0, 50.0, 40.0]
    # each when its last paying part was settled: b's half-paid instalment, when its paid part was (2024-01-30)
    assert paid["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-11", "2024-02-28", "2024-01-30"]


GRACE = PAYMENTS.replace('paid_kind = "payment"', 'paid_kind = "payment"\ngrace_days = 30')
LATE = pd.DataFrame({  # a pays 40 days after its due day, past the 30 days of grace; b never pays
    "customer": ["a", "b"], "issued_on": ["2024-01-01"] * 2, "due_on": ["2024-02-01"] * 2,
    "paid_on": ["2024-03-12", ""], "amount_due": [50, 50], "amount_paid": [50, None]})


def test_money_settled_after_the_grace_is_never_seen_not_even_before_it_was_paid(tmp_path):
    """The grace period reads a late settlement as none (docs: its money is not counted). Its payment was
    once dated when the grace ran out, weeks before the money came: a feature between the two saw it."""
    ds = _ingest(tmp_path, LATE, GRACE)
    events = ds.read("events")
    assert (events["kind"] == "payment").sum() == 0
    frame = build_features(ds).frame
    at = frame[frame["as_of"] == pd.Timestamp("2024-03-01")].set_index("person_id")  # grace over, not yet paid
    # no money seen: no record at all (nothing owed is known yet either, so none, not 0: test_owed.py)
    assert at.loc[["a", "b"], "amount_paid_180d"].isna().all()


def test_money_paid_on_a_row_never_settled_is_seen_only_from_the_snapshot(tmp_path):
    """Paid in part and never settled: the file does not say when the money came, so no date before the
    snapshot may see it (it was dated at the row's due date before)."""
    rows = ROWS.assign(amount_paid=[50, 30, 25, 20])  # b's missed instalment: 25 paid, no settled date
    events = _ingest(tmp_path, rows).read("events")
    paid = events[(events["kind"] == "payment") & (events["person_id"] == "b")]
    assert paid["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-04-01", "2024-04-01"]  # the snapshot


def test_a_negative_payment_is_a_located_error(tmp_path):
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\), column 'amount_paid'.*negative"):
        _ingest(tmp_path, ROWS.assign(amount_paid=[50, -5, None, None]))
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("change, match", [
    (('paid_kind = "payment"\n', ""), "paid_amount .* and paid_kind .* go together"),
    (('paid_amount = "amount_paid"', 'paid_amount = ""'), "go together"),
    (("commitment = false", "commitment = true"), r"declare 'payment' in \[events.kinds\]"),
    (('paid_kind = "payment"', 'paid_kind = "refund"'), r"declare 'refund'"),
])
def test_a_payment_spec_that_does_not_hold_together_names_its_field(change, match):
    with pytest.raises(SpecError, match=match):
        spec_from_toml(PAYMENTS.replace(*change))


def test_a_draft_of_a_file_with_owed_and_paid_amounts_proposes_the_payments(tmp_path):
    pd.DataFrame({"SK_ID_CURR": ["a", "b"], "city": ["Lyon", "Oslo"]}).to_csv(tmp_path / "people.csv", index=False)
    frame = pd.DataFrame({"SK_ID_CURR": ["a", "b"], "DAYS_INSTALMENT": [-40, -10], "DAYS_ENTRY_PAYMENT": [-42, -3],
                          "AMT_INSTALMENT": [50.0, 80.0], "AMT_PAYMENT": [50.0, 20.0]})
    frame.to_csv(tmp_path / "installments_payments.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "hc", events=tmp_path / "installments_payments.csv")
    assert 'amount = "AMT_INSTALMENT"' in text and 'paid_amount = "AMT_PAYMENT"  # check' in text
    assert 'paid_kind = "payment"' in text
    assert 'payment = { amount = "paid", commitment = false }' in text
    assert 'installments_payments = { amount = "owed" }' in text
    spec_from_toml(text.replace("TODO", "x"))  # the draft's own choice holds together


def test_a_draft_names_the_payments_kind_apart_from_the_files_own_kinds(tmp_path):
    pd.DataFrame({"customer": ["a"], "city": ["Lyon"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"customer": ["a", "a"], "booked_on": ["2024-01-01", "2024-02-01"], "type": ["payment", "loan"],
                  "scheduled_amount": [50.0, 80.0], "amount_paid": [50.0, 20.0], "state": ["ok", "late"]}
                 ).to_csv(tmp_path / "payment.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "p", events=tmp_path / "payment.csv")
    assert 'paid_kind = "payment_made"' in text and 'payment_made = { amount = "paid", commitment = false }' in text
    assert 'paid_amount = "amount_paid"' in text and 'amount = "scheduled_amount"' in text
    spec_from_toml(text.replace("TODO", "x").replace('"ok" = { meaning = "neutral" }', '"ok" = { meaning = "kept" }'))


def test_a_draft_finds_the_paid_amount_among_several_amounts(tmp_path):
    """A card's monthly statements (Home Credit's credit_card_balance): a balance, a limit, a minimum
    instalment, then what was paid."""
    pd.DataFrame({"customer": ["a"], "city": ["Lyon"]}).to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"customer": ["a", "a"], "MONTHS_BALANCE": [-2, -1], "AMT_BALANCE": [100.0, 80.0],
                  "AMT_CREDIT_LIMIT_ACTUAL": [500.0, 500.0], "AMT_INST_MIN_REGULARITY": [10.0, 8.0],
                  "AMT_PAYMENT_CURRENT": [10.0, 0.0], "SK_DPD": [0, 31]}).to_csv(tmp_path / "cards.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "cards", events=tmp_path / "cards.csv")
    assert 'amount = "AMT_BALANCE"' in text and 'paid_amount = "AMT_PAYMENT_CURRENT"  # check' in text


def test_a_payment_carries_none_of_its_rows_measures(tmp_path):
    """A measure (here what was still owed after the row) is its commitment's, not its payment's."""
    spec = PAYMENTS.replace("[events.columns]", '[[events.measures]]\nname = "owed_after"\n\n[events.columns]')
    events = _ingest(tmp_path, ROWS.assign(owed_after=[0, 20, 80, 60]), spec).read("events")
    assert events.loc[events["kind"] == "instalment", "owed_after"].notna().all()
    assert events.loc[events["kind"] == "payment", "owed_after"].isna().all()


def test_measures_of_commitments_written_in_parts_are_refused():
    spec = PAID_IN_PARTS.replace("[events.columns]", "[[events.measures]]\nname = \"owed_after\"\n\n[events.columns]")
    with pytest.raises(SpecError, match="parts_of.*measures are read from files of one row per event"):
        spec_from_toml(spec)


def test_a_spec_cannot_give_the_payments_status_another_meaning():
    declared = PAYMENTS.replace("[outcomes]", '[events.statuses]\npaid = { meaning = "broken" }\n\n[outcomes]')
    with pytest.raises(SpecError, match="field 'events.statuses.paid'.*it means kept"):
        spec_from_toml(declared)


def test_reported_commitments_get_the_payment_ingest_would_store():
    """ledger.with_payments (the scoring service's reported outcomes): kept or late, paid in full when it
    ended; missed, nothing; a row of a kind that owes nothing (a payment itself) gets no second payment."""
    from deepcredit.data.ledger import with_payments

    ev = spec_from_toml(PAYMENTS).stored().events
    assert ev is not None
    at = pd.Timestamp("2024-03-20")
    rows = pd.DataFrame({"person_id": ["b"] * 4, "ts": [at] * 4, "kind": ["instalment"] * 3 + ["payment"],
                         "amount": [100.0, 60.0, 40.0, 10.0], "status": ["on_time", "late", "missed", "paid"],
                         "due_ts": [at] * 4, "days_late": [0.0, 5.0, 91.0, None], "event_id": ["e1", "e2", "e3", "e4"]})
    out = with_payments(rows, ev)
    added = out.iloc[len(rows):]
    assert added[["kind", "status", "amount", "event_id"]].values.tolist() == [
        ["payment", "paid", 100.0, "e1"], ["payment", "paid", 60.0, "e2"]]
    assert (added["ts"] == at).all() and added["days_late"].isna().all() and added["due_ts"].isna().all()
