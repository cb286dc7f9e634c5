"""A ledger of orders or rentals (made, due, settled) ingests with each row dated when its outcome became
known, so a feature at a date before a late return cannot see that it was late."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import events_by_meaning, ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError
from deepcredit.features.bundle import build_model_input
from deepcredit.features.engine import build_features

SPEC = """spec_version = 1
name = "rentals"

[profile]
id_column = "customer"

[[profile.attributes]]
name = "city"
type = "categorical"
dimension = "identity"

[events.columns]
person_id = "customer"
ts = "rented_at"
kind = "item"
amount = "price"
status = "state"
due_ts = "due_back"
settled_ts = "returned_at"

[events.kinds]
dress = { amount = "owed" }

[events.statuses]
returned = { meaning = "kept" }
returned_late = { meaning = "late" }
not_returned = { meaning = "broken" }
renting = { meaning = "open" }

[outcomes]
person_id = "customer"
label = "defaulted"
as_of_column = "as_of"
window_days = 90
"""
PEOPLE = pd.DataFrame({"customer": ["a", "b"], "city": ["Lyon", "Oslo"]})
LEDGER = pd.DataFrame({  # a: one returned on time, one returned 36 days late; b: one kept, one still out
    "customer": ["a", "a", "b", "b"],
    "rented_at": ["2024-01-01", "2024-01-02", "2024-01-05", "2024-03-20"],
    "due_back": ["2024-01-08", "2024-01-10", "2024-01-12", "2024-04-10"],
    "returned_at": ["2024-01-07", "2024-02-15", "", ""],
    "item": ["dress"] * 4, "price": [40, 55, 30, 60],
    "state": ["returned", "returned_late", "not_returned", "renting"],
})
OUTCOMES = pd.DataFrame({"customer": ["a", "a", "b"], "as_of": ["2024-02-01", "2024-03-01", "2024-03-01"],
                         "defaulted": ["0", "1", "1"]})


def _files(tmp_path, events: pd.DataFrame, name: str = "rentals") -> dict:
    """The people, the events file `name` and the outcomes as CSV files: ingest's sources."""
    for table, frame in (("people", PEOPLE), (name, events), ("outcomes", OUTCOMES)):
        frame.to_csv(tmp_path / f"{table}.csv", index=False)
    return {"people": tmp_path / "people.csv", "events": tmp_path / f"{name}.csv", "outcomes": tmp_path / "outcomes.csv"}


def _ingest(tmp_path, ledger: pd.DataFrame = LEDGER, snapshot: str | None = "2024-03-31"):
    return ingest_with_spec(spec_from_toml(SPEC), _files(tmp_path, ledger), tmp_path / "ds", snapshot_date=snapshot)


def test_each_row_is_dated_when_its_outcome_became_known_with_its_days_late(tmp_path):
    ds = _ingest(tmp_path)
    assert events_by_meaning(ds) == {"kept": 1, "late": 1, "broken": 1, "open": 1}  # what ingest prints
    events = ds.read("events").sort_values("amount")
    assert events["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-31", "2024-01-07", "2024-02-15", "2024-03-20"]
    # settled: when returned; not returned: known unpaid 90 days past its due day (ledger.UNSETTLED_DAYS), here
    # at the snapshot, where the file says so, and 91 days late, never milder than a late return; still out:
    # when rented (due ahead)
    assert events["days_late"].tolist()[:3] == [91.0, 0.0, 36.0] and pd.isna(events["days_late"].iloc[3])


def test_a_rental_never_returned_ranks_above_every_late_return_once_known(tmp_path):
    """It was stored 1 day late for ever, below a return 36 days late: the longest delay read it mildest."""
    ds = _ingest(tmp_path)
    late = ds.read("events").set_index(["person_id", "status"])["days_late"]
    assert late[("b", "not_returned")] > late[("a", "returned_late")] == 36
    features = build_features(ds).frame.set_index(["person_id", "as_of"])
    # on 2024-03-01, 49 days past its due day, b's rental is not yet known lost: it is not seen at all
    assert features.loc[("b", pd.Timestamp("2024-03-01")), "max_days_late_365d"] == 0
    lost_lately = LEDGER.assign(due_back=["2024-01-08", "2024-01-10", "2024-03-28", "2024-04-10"])
    (tmp_path / "late").mkdir()
    events = _ingest(tmp_path / "late", lost_lately).read("events").sort_values("amount")
    # the file says on the snapshot day (3 days past due) that it was not returned: dated then, yet as late as
    # a write-off is (UNSETTLED_DAYS and 1)
    assert events["ts"].dt.strftime("%Y-%m-%d").iloc[0] == "2024-03-31" and events["days_late"].iloc[0] == 91.0


def test_a_late_return_is_not_seen_before_it_happened(tmp_path):
    features = build_features(_ingest(tmp_path)).frame.set_index(["person_id", "as_of"])
    before, after = features.loc[("a", pd.Timestamp("2024-02-01"))], features.loc[("a", pd.Timestamp("2024-03-01"))]
    assert before["n_bad_365d"] == 0 and before["n_outcomes"] == 1 and before["max_days_late_365d"] == 0
    assert after["n_bad_365d"] == 1 and after["n_outcomes"] == 2 and after["max_days_late_365d"] == 36


def test_a_ledger_that_contradicts_itself_is_a_located_error(tmp_path):
    early = LEDGER.assign(returned_at=["2023-12-30", "2024-02-15", "", ""])
    with pytest.raises(DataValidationError, match="settled on 2023-12-30.* before the event's own date") as err:
        _ingest(tmp_path, early)
    assert (err.value.row, err.value.line, err.value.column) == (1, 2, "returned_at")
    ended_later = LEDGER.assign(state=["returned", "returned_late", "not_returned", "not_returned"])
    with pytest.raises(DataValidationError, match="'not_returned' is not an open status") as err:
        _ingest(tmp_path, ended_later)
    assert (err.value.row, err.value.column) == (4, "due_back")
    assert not (tmp_path / "ds").exists()


def test_a_draft_dates_the_rows_by_the_made_column_and_names_the_settled_one(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    LEDGER.to_csv(tmp_path / "rentals.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "rentals", events=tmp_path / "rentals.csv")
    for line in ('ts = "rented_at"', 'due_ts = "due_back"', 'settled_ts = "returned_at"  # check: rows are dated',
                 "# grace_days = 30  # optional"):
        assert line in text


def test_events_without_amounts_ingest_as_neutral_and_a_money_kind_needs_its_amount(tmp_path):
    no_money = SPEC.replace('amount = "price"', 'amount = ""').replace('dress = { amount = "owed" }',
                                                                       'dress = { amount = "neutral" }')
    spec = spec_from_toml(no_money)
    assert spec.events is not None and spec.events.columns.amount is None
    sources = _files(tmp_path, LEDGER.drop(columns="price"))
    ds = ingest_with_spec(spec, sources, tmp_path / "ds", snapshot_date="2024-03-31")
    assert ds.read("events")["amount"].isna().all()  # stored without an amount, not as 0.00
    names = set(build_features(ds).frame.columns)
    assert "n_bad_365d" in names and not {n for n in names if "amount" in n or "paid" in n or "bill" in n}
    seq = build_model_input(ds, views=("tabular", "temporal")).sequences  # a row without money: 0 on its amount channel
    assert seq is not None and seq.lengths.sum() > 0 and np.isfinite(seq.numeric).all()

    with pytest.raises(SpecError, match=r"field 'events.kinds.dress.amount'.*no amount column"):
        spec_from_toml(no_money.replace('dress = { amount = "neutral" }', 'dress = { amount = "owed" }'))
    LEDGER.assign(price=[40, None, 30, 60]).to_csv(tmp_path / "rentals.csv", index=False)
    with pytest.raises(DataValidationError, match="a dress event needs its amount") as err:
        ingest_with_spec(spec_from_toml(SPEC), sources, tmp_path / "ds2", snapshot_date="2024-03-31")
    assert (err.value.row, err.value.column) == (2, "price")


def test_a_draft_of_events_without_amounts_leaves_every_kind_neutral(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    LEDGER.drop(columns="price").to_csv(tmp_path / "rentals.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "rentals", events=tmp_path / "rentals.csv")
    assert 'amount = ""  # none found' in text and '"dress" = { amount = "neutral" }  # no amounts' in text
    spec_from_toml(text.replace("TODO", "x"))  # the draft's own choice is a valid spec


SCHEDULE = SPEC.replace('name = "rentals"', 'name = "instalments"').replace(
    SPEC[SPEC.index("[events.columns]"):SPEC.index("[outcomes]")], """[events.columns]
person_id = "customer"
ts = "issued_on"
kind = ""
amount = "amount_due"
status = ""
due_ts = "due_on"
settled_ts = "paid_on"

[events.kinds]
instalment = { amount = "owed" }

""")
INSTALMENTS = pd.DataFrame({  # paid early, paid 9 days late, never paid, not yet due
    "customer": ["a", "a", "b", "b"], "issued_on": ["2024-01-01"] * 4,
    "due_on": ["2024-02-01", "2024-03-01", "2024-02-01", "2024-05-01"],
    "paid_on": ["2024-01-30", "2024-03-10", "", ""], "amount_due": [50, 50, 80, 80]})


def test_an_instalment_schedule_without_kind_or_status_is_told_from_its_dates(tmp_path):
    spec = spec_from_toml(SCHEDULE)
    assert spec.events is not None and spec.events.only_kind == "instalment"
    assert spec.events.reported("instalment_late") == ("instalment", "late")  # the service holds it as is
    sources = _files(tmp_path, INSTALMENTS, "instalments")
    ds = ingest_with_spec(spec, sources, tmp_path / "ds", snapshot_date="2024-03-31")
    events = ds.read("events").sort_values(["person_id", "due_ts"])
    assert events["status"].tolist() == ["on_time", "late", "missed", "open"]
    assert events["kind"].unique().tolist() == ["instalment"]
    # the missed one is known unpaid 90 days past its due day, here at the snapshot that says so, 91 days late
    assert events["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-30", "2024-03-10", "2024-03-31", "2024-01-01"]
    assert events["days_late"].tolist()[:3] == [0.0, 9.0, 91.0]
    assert ds.spec.events is not None and ds.spec.events.statuses_meaning("broken") == {"missed"}
    with pytest.raises(DataValidationError, match="give the snapshot date"):
        ingest_with_spec(spec, sources, tmp_path / "ds2")
    assert not (tmp_path / "ds2").exists()


@pytest.mark.parametrize("change, field", [
    (("[outcomes]", '[events.statuses]\npaid = { meaning = "kept" }\n\n[outcomes]'), "events.statuses"),
    (('settled_ts = "paid_on"', 'settled_ts = ""'), "events.columns.settled_ts"),
    (('instalment = { amount = "owed" }', 'instalment = { amount = "owed" }\nfee = { amount = "owed" }'),
     "events.kinds"),
])
def test_a_schedule_spec_that_cannot_tell_kinds_or_statuses_names_its_field(change, field):
    with pytest.raises(SpecError, match=f"field '{field}'"):
        spec_from_toml(SCHEDULE.replace(*change))


def test_a_draft_of_a_schedule_tells_statuses_from_its_dates(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    INSTALMENTS.to_csv(tmp_path / "instalments.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "instalments", events=tmp_path / "instalments.csv")
    for line in ('ts = "issued_on"', 'due_ts = "due_on"', 'settled_ts = "paid_on"', 'amount = "amount_due"',
                 'status = ""  # none found: each row\'s status is told from its due and settled dates',
                 'a file of one kind: kind = ""'):
        assert line in text
    assert "[events.statuses]" not in text
    # no money word in any header: the column named for what the money is becomes the amount
    INSTALMENTS.rename(columns={"amount_due": "instalment"}).to_csv(tmp_path / "instalments.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "instalments", events=tmp_path / "instalments.csv")
    assert 'amount = "instalment"' in text and 'name = "instalment"' not in text  # not proposed as a measure


def _relative_schedule(format_lines: str):
    """The schedule's spec dated by its due dates, written relative to a date ([format] `format_lines`), the
    label a column of the people file, scored as of 2024-04-01."""
    text = SCHEDULE.replace('ts = "issued_on"', 'ts = "due_on"').replace(
        "[profile]", f"[format]\n{format_lines}\n\n[profile]").replace(
        'as_of_column = "as_of"', 'as_of = 2024-04-01').replace('person_id = "customer"\nlabel', 'source = "people"\nlabel')
    return spec_from_toml(text.replace('name = "instalments"', 'name = "instalments"\nsnapshot_date = 2024-04-01'))

def test_dates_written_as_days_from_a_reference_date_read_as_dates(tmp_path):
    """Credit data often writes dates as days relative to the application (-30: a month before it)."""
    spec = _relative_schedule("days_from = 2024-04-01")
    assert spec.format.describe() == "dates as days from 2024-04-01"
    people = PEOPLE.assign(defaulted=["0", "1"])
    days = INSTALMENTS.drop(columns="issued_on").assign(due_on=[-60, -31, -60, -10], paid_on=["-62", "-22", "", "-11.5"])
    people.to_csv(tmp_path / "people.csv", index=False)
    days.to_parquet(tmp_path / "instalments.parquet")  # day numbers stored as numbers, and as text
    ds = ingest_with_spec(spec, {"people": tmp_path / "people.csv", "events": tmp_path / "instalments.parquet"},
                          tmp_path / "ds")
    events = ds.read("events").sort_values(["person_id", "due_ts"])
    assert events["due_ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01", "2024-03-01", "2024-02-01", "2024-03-22"]
    assert events["status"].tolist() == ["on_time", "late", "missed", "on_time"]  # paid 2 days early; 9 late
    assert events["ts"].iloc[3] == pd.Timestamp("2024-03-20 12:00")
    bad = days.assign(paid_on=["-62", "soon", "", ""])
    bad.to_csv(tmp_path / "instalments.csv", index=False)
    with pytest.raises(DataValidationError, match=r"'soon' is not a valid timestamp \(expected a number of days "
                                                  r"from 2024-04-01, or an ISO 8601 date"):
        ingest_with_spec(spec, {"people": tmp_path / "people.csv", "events": tmp_path / "instalments.csv"},
                         tmp_path / "ds2")


def test_monthly_balances_dated_in_month_numbers_read_as_dates(tmp_path):
    """Monthly balances count months back from the application (MONTHS_BALANCE -1: the month before it)."""
    spec = _relative_schedule('days_from = 2024-03-31\nmonth_columns = ["due_on"]')
    assert spec.format.describe() == "dates as days from 2024-03-31, due_on as months from it"
    people = PEOPLE.assign(defaulted=["0", "1"])
    months = INSTALMENTS.drop(columns="issued_on").assign(due_on=[-2, -1, -3, -1], paid_on=["-62", "-22", "", "-40"])
    people.to_csv(tmp_path / "people.csv", index=False)
    months.to_csv(tmp_path / "instalments.csv", index=False)
    ds = ingest_with_spec(spec, {"people": tmp_path / "people.csv", "events": tmp_path / "instalments.csv"},
                          tmp_path / "ds")
    events = ds.read("events").sort_values(["person_id", "due_ts"])
    # the last day of each month, as March 31 is (February has 29 days in 2024); paid_on still counts days
    assert events["due_ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-29", "2023-12-31", "2024-02-29"]
    assert events["status"].tolist() == ["on_time", "late", "missed", "on_time"]  # paid 2024-02-20: on time
    with pytest.raises(SpecError, match="'paid' is not a date column the spec names"):
        _relative_schedule('days_from = 2024-03-31\nmonth_columns = ["paid"]')
    fractions = months.assign(due_on=["-2", "-1.5", "-3", "-1"])
    fractions.to_csv(tmp_path / "instalments.csv", index=False)
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\), column 'due_on': '-1.5' is not a valid"):
        ingest_with_spec(spec, {"people": tmp_path / "people.csv", "events": tmp_path / "instalments.csv"},
                         tmp_path / "ds2")

def test_monthly_balances_without_statuses_are_told_by_their_days_past_due(tmp_path):
    """A monthly balance file writes days past due, no status: none on time, some late, 90 or more missed."""
    text = SCHEDULE.replace('ts = "issued_on"', 'ts = "month"').replace('due_ts = "due_on"\n', "").replace(
        'settled_ts = "paid_on"\n', 'days_late = "dpd"\n').replace(
        "[events.columns]", '[events]\nmissed_after_days = 90\nignore = ["issued_on", "due_on", "paid_on"]\n\n'
                            "[events.columns]")
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    OUTCOMES.to_csv(tmp_path / "outcomes.csv", index=False)
    INSTALMENTS.assign(month=["2024-01-31", "2024-02-29", "2024-01-31", "2024-02-29"], dpd=[0, 12, 95, None]).to_csv(
        tmp_path / "balances.csv", index=False)
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "people.csv", "events": tmp_path / "balances.csv",
                                                 "outcomes": tmp_path / "outcomes.csv"}, tmp_path / "ds",
                          snapshot_date="2024-04-01")
    assert ds.read("events").sort_values(["person_id", "ts"])["status"].tolist() == ["on_time", "late", "missed", "open"]
    with pytest.raises(SpecError, match="missed_after_days"):
        spec_from_toml(SCHEDULE.replace("[events.columns]", "[events]\nmissed_after_days = 90\n\n[events.columns]"))


def test_a_draft_of_events_dated_in_day_numbers_says_to_declare_days_from(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    pd.DataFrame({"customer": ["a", "b"], "DAYS_INSTALMENT": [-60, -31], "DAYS_ENTRY_PAYMENT": [-62, -22],
                  "AMT_INSTALMENT": [50.0, 80.0]}).to_csv(tmp_path / "instalments.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "instalments", events=tmp_path / "instalments.csv")
    assert "but DAYS_INSTALMENT, DAYS_ENTRY_PAYMENT look like dates written as numbers of days" in text
    assert "days_from = YYYY-MM-DD under [format]" in text
    # proposed for the date roles by their words: a schedule dated by its due dates, settled when paid
    for line in ('ts = "DAYS_INSTALMENT"', 'due_ts = "DAYS_INSTALMENT"  # check', 'settled_ts = "DAYS_ENTRY_PAYMENT"'):
        assert line in text, line
    spec = spec_from_toml(text.replace("[profile]", "snapshot_date = 2024-04-01\n[profile]", 1)
                          .replace('"TODO"', '"x"').replace('TODO = {', 'x = {'))
    with pytest.raises(DataValidationError, match=r"dates written as numbers of days \(or months\)\? Name the date "
                                                  "they count from as days_from"):
        ingest_with_spec(spec, {"people": tmp_path / "people.csv", "events": tmp_path / "instalments.csv",
                                "outcomes": _files(tmp_path, INSTALMENTS)["outcomes"]}, tmp_path / "ds")
    pd.DataFrame({"customer": ["a", "b"], "MONTHS_BALANCE": [-2, -1], "SK_DPD": [0, 3],
                  "CNT_INSTALMENT": [12.0, 24.0]}).to_csv(tmp_path / "balances.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "balances", events=tmp_path / "balances.csv")
    assert "but MONTHS_BALANCE look like dates written as numbers of months" in text
    assert '# month_columns = ["MONTHS_BALANCE"]' in text


GRACE_SPEC = SPEC.replace("[events.columns]", "[events]\ngrace_days = 14\n\n[events.columns]")
TWINS = pd.DataFrame({  # a and b rent alike; a returns 36 days late, b never; c returns within grace; d is out
    "customer": ["a", "b", "c", "d"],
    "rented_at": ["2024-01-01"] * 3 + ["2024-03-10"],
    "due_back": ["2024-01-10"] * 3 + ["2024-03-25"],
    "returned_at": ["2024-02-15", "", "2024-01-20", ""],
    "item": ["dress"] * 4, "price": [40] * 4,
    "state": ["returned_late", "not_returned", "returned_late", "not_returned"],
})
TWIN_OUTCOMES = pd.DataFrame({"customer": ["a", "b"] * 2, "as_of": ["2024-02-01"] * 2 + ["2024-01-20"] * 2,
                              "defaulted": ["0"] * 4})


def _twins(tmp_path, spec: str):
    people = pd.DataFrame({"customer": list("abcd"), "city": ["Lyon"] * 4})
    files = _files(tmp_path, TWINS)
    people.to_csv(files["people"], index=False)
    TWIN_OUTCOMES.to_csv(files["outcomes"], index=False)
    return ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds", snapshot_date="2024-03-31")


def _event_features(ds, day: str) -> pd.DataFrame:
    frame = build_features(ds).frame
    return frame[frame["as_of"] == pd.Timestamp(day)].set_index("person_id").drop(columns=["as_of", "city"],
                                                                                    errors="ignore")


def test_without_a_grace_period_a_late_return_and_no_return_read_alike_before_the_return(tmp_path):
    """A row never settled is known unpaid only after the longest delay the file shows (a's 36 days): between
    b's due date and a's return the two look alike (b was seen broken the day after its due day before)."""
    ds = _twins(tmp_path, SPEC)
    at = _event_features(ds, "2024-02-01")
    assert at.loc["b", "n_bad_365d"] == 0 and at.loc["a", "n_bad_365d"] == 0


def test_a_row_not_settled_within_its_grace_is_broken_from_then_however_it_ended(tmp_path):
    ds = _twins(tmp_path, GRACE_SPEC)
    events = ds.read("events").set_index("person_id")
    assert events.loc[["a", "b"], "status"].tolist() == ["not_returned"] * 2  # both broken once grace ran out
    assert events.loc[["a", "b"], "ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-25"] * 2
    assert events.loc[["a", "b"], "days_late"].tolist() == [15.0, 15.0]
    assert (events.loc["c", "status"], events.loc["c", "days_late"]) == ("returned_late", 10.0)  # within grace
    assert events.loc["d", "status"] == "renting"  # due 2024-03-25: its grace runs past the snapshot
    for day in ("2024-01-20", "2024-02-01"):  # before and after the grace ran out: a and b read alike
        at = _event_features(ds, day)
        pd.testing.assert_series_equal(at.loc["a"], at.loc["b"], check_names=False)


@pytest.mark.parametrize("grace", [14, None])
def test_a_row_written_in_a_second_broken_status_keeps_it(tmp_path, grace):
    """A spec may declare two statuses meaning broken (not_returned, then written_off): a written_off row
    never settled stays written_off past its grace, as without one and as the scoring service stores a
    reported write-off (it became the first, not_returned, with a grace period); a late return settled after
    the grace still becomes the first status meaning broken. Days late and dating are unchanged."""
    spec = (GRACE_SPEC if grace else SPEC).replace('not_returned = { meaning = "broken" }',
                                                   'not_returned = { meaning = "broken" }\n'
                                                   'written_off = { meaning = "broken" }')
    ledger = TWINS.iloc[:2].assign(state=["returned_late", "written_off"])
    ds = ingest_with_spec(spec_from_toml(spec), _files(tmp_path, ledger), tmp_path / "ds",
                          snapshot_date="2024-03-31")
    events = ds.read("events").set_index("person_id")
    days = (grace or 90) + 1.0
    assert (events.loc["b", "status"], events.loc["b", "days_late"]) == ("written_off", days)
    assert events.loc["a", "status"] == ("not_returned" if grace else "returned_late")  # 36 days late


WRITE_OFFS = pd.DataFrame({  # never returned: a made before its due day, b recorded 10 days after it
    "customer": ["a", "b"], "rented_at": ["2024-01-01", "2024-01-20"], "due_back": ["2024-01-10"] * 2,
    "returned_at": ["", ""], "item": ["dress"] * 2, "price": [40, 40], "state": ["not_returned"] * 2})


def _write_offs(tmp_path, spec: str, as_of: list[str], snapshot: str = "2024-03-31"):
    files = _files(tmp_path, WRITE_OFFS)
    pd.DataFrame({"customer": ["a"] * len(as_of), "as_of": as_of, "defaulted": ["0"] * len(as_of)}).to_csv(
        files["outcomes"], index=False)
    return ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds", snapshot_date=snapshot)


def test_a_broken_row_never_settled_is_late_from_its_due_day_to_when_it_was_known_never_on_time(tmp_path):
    """A write-off was stored 0 days late (known = its due date), so the longest payment delay read it as on
    time; it is known unpaid once 90 days past its due day (UNSETTLED_DAYS) have passed, 91 days late."""
    ds = _write_offs(tmp_path, SPEC, ["2024-04-10", "2024-04-11"], snapshot="2024-06-30")
    events = ds.read("events").set_index("person_id")
    assert events["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-04-10"] * 2  # b's own date is earlier
    assert events["days_late"].tolist() == [91.0, 91.0]
    known_day, day_after = _event_features(ds, "2024-04-10"), _event_features(ds, "2024-04-11")
    assert known_day.loc["a", "n_bad_365d"] == 0  # features at T read what came before T: not before its day
    assert day_after.loc["a", "n_bad_365d"] == 1 and day_after.loc["a", "max_days_late_365d"] == 91


def test_when_a_write_off_is_known_does_not_depend_on_later_settlements(tmp_path):
    """Point in time: a return 200 days late, settled after a write-off became known, leaves its date alone
    (a bound read from the file's longest delay would have moved it)."""
    for sub in ("1", "2"):
        (tmp_path / sub).mkdir()
    first = _write_offs(tmp_path / "1", SPEC, ["2024-04-11"], snapshot="2024-12-31").read("events")
    later = pd.concat([WRITE_OFFS, pd.DataFrame({
        "customer": ["b"], "rented_at": ["2024-04-20"], "due_back": ["2024-05-01"], "returned_at": ["2024-11-17"],
        "item": ["dress"], "price": [40], "state": ["returned_late"]})], ignore_index=True)
    files = _files(tmp_path / "2", later)
    pd.DataFrame({"customer": ["a"], "as_of": ["2024-04-11"], "defaulted": ["0"]}).to_csv(files["outcomes"],
                                                                                          index=False)
    second = ingest_with_spec(spec_from_toml(SPEC), files, tmp_path / "2" / "ds", snapshot_date="2024-12-31")
    moved = second.read("events").query("status == 'not_returned' and due_ts == '2024-01-10'")  # (the late
    # return is broken too, from 2024-07-31: UNSETTLED_DAYS past its due day)
    pd.testing.assert_series_equal(first["ts"].reset_index(drop=True), moved["ts"].reset_index(drop=True))


def test_a_grace_period_leaves_rows_declared_neutral_or_kept_as_the_file_writes_them(tmp_path):
    """A cancelled invoice (neutral) or a row marked paid without a date (kept) never ran late: the grace rule
    made every unsettled row with a due date broken (or open, within its grace), cancelled ones too."""
    spec = GRACE_SPEC.replace('renting = { meaning = "open" }', 'renting = { meaning = "open" }\n'
                              'cancelled = { meaning = "neutral" }')
    rows = pd.DataFrame({"customer": ["a", "a", "a", "b", "b"],
                         "rented_at": ["2024-01-01", "2024-03-10", "2024-03-20", "2024-01-01", "2024-03-10"],
                         "due_back": ["2024-01-10", "2024-03-25", "2024-04-20", "2024-01-10", "2024-03-25"],
                         "returned_at": [""] * 5, "item": ["dress"] * 5, "price": [40] * 5,
                         "state": ["cancelled", "cancelled", "cancelled", "returned", "not_returned"]})
    ds = ingest_with_spec(spec_from_toml(spec), _files(tmp_path, rows), tmp_path / "ds", snapshot_date="2024-03-31")
    events = ds.read("events").sort_values(["person_id", "due_ts"])
    # past its grace, within it, due after the snapshot: cancelled stays cancelled (the last dated at the
    # snapshot, not refused as ended after it); returned stays returned; b's second is still open
    assert events["status"].tolist() == ["cancelled", "cancelled", "cancelled", "returned", "renting"]
    assert events_by_meaning(ds) == {"neutral": 3, "kept": 1, "open": 1}
    assert events["ts"].dt.strftime("%Y-%m-%d").tolist()[:4] == ["2024-01-10", "2024-03-25", "2024-03-31",
                                                                 "2024-01-10"]


def test_a_grace_period_needs_its_dates_a_broken_status_and_the_snapshot(tmp_path):
    with pytest.raises(SpecError, match="grace_days.*name due_ts and settled_ts"):
        spec_from_toml(GRACE_SPEC.replace('settled_ts = "returned_at"\n', ""))
    with pytest.raises(SpecError, match="grace_days.*status meaning broken"):
        spec_from_toml(GRACE_SPEC.replace('not_returned = { meaning = "broken" }', 'not_returned = { meaning = "late" }'))
    with pytest.raises(DataValidationError, match="grace period .*give the snapshot date"):
        ingest_with_spec(spec_from_toml(GRACE_SPEC), _files(tmp_path, LEDGER), tmp_path / "ds", snapshot_date=None)
    assert not (tmp_path / "ds").exists()


PAID_IN_PARTS = SCHEDULE.replace("[events.columns]", '[events]\nparts_of = ["loan", "number"]\n\n[events.columns]')
PARTS = pd.DataFrame({  # a's instalment 1 paid in two parts, the second late; b's instalment 1 half paid
    "customer": ["a", "a", "a", "b", "b"], "loan": ["L1"] * 3 + ["L2"] * 2, "number": ["1", "1", "2", "1", "1"],
    "issued_on": ["2024-01-01"] * 5, "due_on": ["2024-02-01", "2024-02-01", "2024-03-01", "2024-02-01", "2024-02-01"],
    "paid_on": ["2024-01-25", "2024-02-11", "2024-02-28", "2024-01-30", ""], "amount_due": [30, 20, 50, 40, 40]})


def test_a_commitment_paid_in_parts_is_one_event_settled_with_its_last_part(tmp_path):
    ds = ingest_with_spec(spec_from_toml(PAID_IN_PARTS), _files(tmp_path, PARTS, "instalments"), tmp_path / "ds",
                          snapshot_date="2024-03-31")
    events = ds.read("events").sort_values(["person_id", "due_ts"])
    assert events["status"].tolist() == ["late", "on_time", "missed"]  # b's second half was never paid
    assert events["amount"].tolist() == [50.0, 50.0, 80.0]
    assert events["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-11", "2024-02-28", "2024-03-31"]
    assert events["days_late"].tolist() == [10.0, 0.0, 91.0]  # never paid: known at the snapshot, as a write-off
    assert "loan" not in events.columns
    unknown = PARTS.assign(customer=["a", "a", "a", "zz", "zz"])  # merged into the 3rd event: named by its 4th row
    with pytest.raises(DataValidationError, match=r"row 4 \(line 5\), column 'customer'"):
        ingest_with_spec(spec_from_toml(PAID_IN_PARTS), _files(tmp_path, unknown, "instalments"), tmp_path / "ds2",
                         snapshot_date="2024-03-31")
    with pytest.raises(SpecError, match="'customer' is already one of"):
        spec_from_toml(PAID_IN_PARTS.replace('parts_of = ["loan", "number"]', 'parts_of = ["customer"]'))


def test_a_commitment_whose_parts_repeat_its_amount_counts_it_once(tmp_path):
    """Home Credit's instalments repeat the amount owed (AMT_INSTALMENT) on every payment row."""
    once = PAID_IN_PARTS.replace("parts_of = [", 'parts_amount = "once"\nparts_of = [')
    repeated = PARTS.assign(amount_due=[50, 50, 50, 80, 80])
    ds = ingest_with_spec(spec_from_toml(once), _files(tmp_path, repeated, "instalments"), tmp_path / "ds",
                          snapshot_date="2024-03-31")
    assert ds.read("events").sort_values(["person_id", "due_ts"])["amount"].tolist() == [50.0, 50.0, 80.0]
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\).*rows of one commitment \(from row 1\) hold "
                                                  "different amounts"):
        ingest_with_spec(spec_from_toml(once), _files(tmp_path, PARTS, "instalments"), tmp_path / "ds2",
                         snapshot_date="2024-03-31")
    with pytest.raises(SpecError, match="parts_amount"):
        spec_from_toml(SCHEDULE.replace("[events.columns]", '[events]\nparts_amount = "once"\n\n[events.columns]'))

def test_a_commitment_in_parts_takes_its_most_severe_status_as_the_file_writes_it():
    from deepcredit.data.ledger import merged_parts

    ev = spec_from_toml(SPEC).events
    assert ev is not None
    events = pd.DataFrame({"person_id": ["a", "a", "b"], "ts": pd.to_datetime(["2024-01-01", "2024-01-20",
                                                                               "2024-01-05"]),
                           "kind": ["dress"] * 3, "amount": [10.0, 5.0, 7.0],
                           "status": ["returned", "returned_late", "returned"]})
    merged, when = merged_parts(events, pd.DataFrame({"order": ["o1", "o1", "o2"]}), ev)
    assert merged["status"].tolist() == ["returned_late", "returned"] and merged.index.tolist() == [0, 2]
    assert merged["amount"].tolist() == [15.0, 7.0] and when is None
    # no settled dates: the late status is known only with the last part, so the event is dated by it
    assert merged["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-20", "2024-01-05"]


def test_a_draft_of_payments_in_parts_names_the_columns_that_tell_commitments_apart(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    PARTS.rename(columns={"loan": "loan_id", "number": "instalment_number"}).to_csv(tmp_path / "p.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "parts", events=tmp_path / "p.csv")
    assert 'parts_of = ["loan_id", "instalment_number"]  # check' in text and "parts_amount" not in text
    PARTS.assign(amount_due=[50, 50, 50, 80, 80]).to_csv(tmp_path / "r.csv", index=False)
    assert 'parts_amount = "once"  # check' in draft_spec(tmp_path / "people.csv", "r", events=tmp_path / "r.csv")
    assert 'parts_of' not in draft_spec(tmp_path / "people.csv", "one", events=_files(tmp_path, INSTALMENTS)["events"])


def test_a_draft_names_a_code_among_day_numbers_and_does_not_take_its_rows_for_parts(tmp_path):
    """Home Credit's previous applications write 365243 for a first due date that never came."""
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    due = [-10 * i for i in range(1, 41)]
    pd.DataFrame({"SK_ID_PREV": range(40), "customer": ["a", "b"] * 20, "AMT_ANNUITY": 100.0,
                  "DAYS_DECISION": [d - 30 for d in due], "NAME_CONTRACT_STATUS": "Approved",
                  "DAYS_FIRST_DUE": [365243 if i % 5 == 0 else d for i, d in enumerate(due)]}
                 ).to_csv(tmp_path / "previous.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "previous", events=tmp_path / "previous.csv")
    assert "DAYS_FIRST_DUE holds 365243, far beyond its other values" in text
    assert 'missing = ["365243"] under [format]' in text and "parts_of" not in text


def test_a_draft_reads_a_cancelled_order_as_neither_kept_nor_broken(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    LEDGER.assign(state=["returned", "cancelled", "not_returned", "renting"]).to_csv(tmp_path / "r.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", "rentals", events=tmp_path / "r.csv")
    assert ('"cancelled" = { meaning = "neutral", owes_nothing = true }  # guessed from the word: check; called off, '
            'so its amount is not owed') in text
    assert '"not_returned" = { meaning = "broken" }' in text


def test_a_schedule_dated_by_its_due_dates_keeps_the_instalments_not_yet_due_as_open_at_the_snapshot(tmp_path):
    """What `spec draft` proposes for a schedule with no other date (ts = due_ts = the due date): an instalment
    due after the snapshot is open, stored as known at the snapshot (it was refused as a date after it)."""
    spec = spec_from_toml(SCHEDULE.replace('ts = "issued_on"', 'ts = "due_on"'))
    sources = _files(tmp_path, INSTALMENTS.drop(columns="issued_on"), "instalments")
    ds = ingest_with_spec(spec, sources, tmp_path / "ds", snapshot_date="2024-03-31")
    events = ds.read("events").sort_values(["person_id", "due_ts"])
    assert events["status"].tolist() == ["on_time", "late", "missed", "open"]
    assert events["ts"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-30", "2024-03-10", "2024-03-31", "2024-03-31"]
    assert events["due_ts"].dt.strftime("%Y-%m-%d").tolist()[-1] == "2024-05-01"


def test_an_instalment_never_paid_is_bad_once_it_is_bad_days_late_days_past_its_due_day(tmp_path):
    """'90 days past due within the window' from a schedule told from its dates: a missed instalment is 1 day
    late the day it breaks, yet never paid it grows later every day (it never reached 90 before, so a label
    by bad_days_late alone called everyone good)."""
    labels = SCHEDULE[:SCHEDULE.index("[outcomes]")] + """[outcomes]
source = "events"
as_of_dates = [2024-02-15]
window_days = 120
bad_when = []
bad_days_late = 90
"""
    on_books = pd.concat([INSTALMENTS, pd.DataFrame({  # b's first, paid early, puts b on the books by 02-15
        "customer": ["b"], "issued_on": ["2024-01-01"], "due_on": ["2024-01-15"], "paid_on": ["2024-01-14"],
        "amount_due": [80]})], ignore_index=True)
    sources = {k: v for k, v in _files(tmp_path, on_books, "instalments").items() if k != "outcomes"}
    ds = ingest_with_spec(spec_from_toml(labels), sources, tmp_path / "ds", snapshot_date="2024-09-30")
    got = {(r.person_id, str(r.as_of.date())): r.label for r in ds.read("outcomes").itertuples()}
    # b's instalment due 2024-02-01, never paid: 90 days late on 2024-05-01, within 02-15 + 120 days (its
    # next one, due 05-01, only on 07-30, after it); a paid 9 days late at most
    assert got == {("a", "2024-02-15"): 0, ("b", "2024-02-15"): 1}
    days_late = ds.read("events").set_index("due_ts").loc[pd.Timestamp("2024-02-01"), "days_late"]
    assert sorted(days_late) == [0.0, 91.0]  # a's paid early; b's stored as known when it broke: the label reads on
