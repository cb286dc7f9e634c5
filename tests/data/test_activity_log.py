"""A bank's transaction log: no status column and nothing that tells how a commitment ended. Each row is
recorded activity (no commitment), and what came in and what went out become the money-flow features."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import events_by_meaning, ingest_with_spec
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.data.validate import DataValidationError
from deepcredit.features.engine import build_features
from deepcredit.features.templates import features_for

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")

SPEC = """spec_version = 1
name = "bank"

[profile]
id_column = "account"

[[profile.attributes]]
name = "branch"
type = "categorical"
dimension = "identity"

[[events.measures]]
name = "balance"
description = "your account balance"
risk_direction = -1
unit = "money"

[events.columns]
person_id = "account"
ts = "booked"
kind = "type"
amount = "amount"
status = ""

[events.kinds]
credit = { amount = "received" }
debit = { amount = "spent" }

[outcomes]
person_id = "account"
label = "defaulted"
as_of_column = "as_of"
window_days = 90
"""
PEOPLE = pd.DataFrame({"account": ["a", "b"], "branch": ["north", "south"]})
TRANSACTIONS = pd.DataFrame({  # a: salary in each month, spends less; b: one salary, spends more
    "account": ["a", "a", "a", "a", "b", "b", "b"],
    "booked": ["2024-01-05", "2024-01-20", "2024-02-05", "2024-02-25", "2024-01-05", "2024-01-10", "2024-02-20"],
    "type": ["credit", "debit", "credit", "debit", "credit", "debit", "debit"],
    "amount": [1000, 300, 1000, 500, 800, 700, 400],
    "balance": [1000, 700, 1700, 1200, 800, 100, -300],
})
OUTCOMES = pd.DataFrame({"account": ["a", "b", "a", "b"], "as_of": ["2024-02-01"] * 2 + ["2024-03-01"] * 2,
                         "defaulted": ["0", "0", "0", "1"]})


def _ingest(tmp_path, rows: pd.DataFrame = TRANSACTIONS, spec: str = SPEC):
    tmp_path.mkdir(exist_ok=True)
    for name, frame in (("people", PEOPLE), ("transactions", rows), ("outcomes", OUTCOMES)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    files = {"people": tmp_path / "people.csv", "events": tmp_path / "transactions.csv",
             "outcomes": tmp_path / "outcomes.csv"}
    return ingest_with_spec(spec_from_toml(spec), files, tmp_path / "ds")


def _at(frame: pd.DataFrame, date: str) -> pd.DataFrame:
    return frame[frame["as_of"] == pd.Timestamp(date)].set_index("person_id")


def test_a_log_without_statuses_is_recorded_activity_not_commitments():
    ev = spec_from_toml(SPEC).events
    assert ev is not None and {s: v.meaning for s, v in ev.statuses.items()} == {"recorded": "neutral"}
    assert ev.flow_kinds == {"credit", "debit"}  # no kind of it is a commitment
    names = {f.name for f in features_for(spec_from_toml(SPEC))}
    assert "n_outcomes" not in names and "bad_rate" not in names  # no commitment, so no record of kept ones
    assert {"amount_received_90d", "amount_spent_90d", "net_flow_90d", "spent_to_received_90d",
            "months_with_money_in_180d", "received_change_90d", "history_days", "balance_last", "balance_min_90d",
            "balance_trend_180d"} <= names


def test_what_came_in_and_went_out_before_the_as_of_date(tmp_path):
    ds = _ingest(tmp_path)
    assert events_by_meaning(ds) == {"money only": 7}
    assert set(ds.read("events")["status"]) == {"recorded"}
    at = _at(build_features(ds).frame, "2024-03-01")
    assert at.loc["a", "amount_received_90d"] == 2000 and at.loc["a", "amount_spent_90d"] == 800
    assert at.loc["b", "net_flow_90d"] == 800 - 1100
    assert at.loc["b", "spent_to_received_90d"] == pytest.approx(1100 / 800)
    assert at.loc["a", "months_with_money_in_180d"] == 2 and at.loc["b", "months_with_money_in_180d"] == 1
    before = _at(build_features(ds).frame, "2024-02-01")  # February's rows are not seen on 1 February
    assert before.loc["a", "amount_received_90d"] == 1000 and before.loc["b", "amount_spent_90d"] == 700


def test_a_future_transaction_changes_no_past_feature(tmp_path):
    later = pd.DataFrame({"account": ["b"], "booked": ["2024-02-01"], "type": ["debit"], "amount": [9999],
                          "balance": [0]})
    base = _at(build_features(_ingest(tmp_path / "base")).frame, "2024-02-01")
    more = _at(build_features(_ingest(tmp_path / "more", pd.concat([TRANSACTIONS, later]))).frame, "2024-02-01")
    pd.testing.assert_frame_equal(base, more)  # dated on the as-of day: not before it


def test_a_signed_amount_is_money_in_above_zero_and_out_below(tmp_path):
    spec = SPEC.replace('kind = "type"', 'kind = ""').replace(
        'credit = { amount = "received" }\ndebit = { amount = "spent" }', 'transaction = { amount = "signed" }')
    signed = TRANSACTIONS.assign(amount=TRANSACTIONS["amount"].where(TRANSACTIONS["type"] == "credit",
                                                                     -TRANSACTIONS["amount"])).drop(columns="type")
    at = _at(build_features(_ingest(tmp_path, signed, spec)).frame, "2024-03-01")
    assert at.loc["a", "amount_received_90d"] == 2000 and at.loc["a", "amount_spent_90d"] == 800
    assert at.loc["b", "net_flow_90d"] == -300


def test_a_negative_amount_of_money_received_is_refused_at_its_row(tmp_path):
    with pytest.raises(DataValidationError, match=r"row 3.*'amount'.*negative") as err:
        _ingest(tmp_path, TRANSACTIONS.assign(amount=[1000, 300, -1000, 500, 800, 700, 400]))
    assert "transactions.csv" in str(err.value) and not (tmp_path / "ds").exists()


def test_money_that_did_not_move_is_not_counted(tmp_path):
    spec = SPEC.replace('status = ""', 'status = "state"').replace(
        "[outcomes]", '[events.statuses]\nbooked = { meaning = "neutral" }\ndeclined = { meaning = "broken" }\n\n'
                      "[outcomes]")
    rows = TRANSACTIONS.assign(state=["booked", "booked", "declined", "booked", "booked", "booked", "booked"])
    at = _at(build_features(_ingest(tmp_path, rows, spec)).frame, "2024-03-01")
    assert at.loc["a", "amount_received_90d"] == 1000  # the declined salary never came in


@pytest.mark.parametrize(("change", "field", "words"), [
    ('debit = { amount = "spent", commitment = true }', "commitment", "records no commitments"),
    ('status = ""\ndue_ts = "booked"', "settled_ts", "name both"),
])
def test_a_contradictory_activity_log_is_refused_at_its_field(change, field, words):
    spec = SPEC.replace('debit = { amount = "spent" }', change) if "debit" in change else \
        SPEC.replace('status = ""', change)
    with pytest.raises(SpecError, match=words) as err:
        spec_from_toml(spec)
    assert field in str(err.value)


def test_the_draft_reads_a_transaction_log(tmp_path):
    rows = TRANSACTIONS.assign(type=TRANSACTIONS["type"].map({"credit": "salary", "debit": "card_purchase"}))
    rows.to_csv(tmp_path / "transactions.csv", index=False)
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    loans = OUTCOMES.assign(defaulted=["A", "C", "B", "D"]).rename(columns={"defaulted": "loan_status"})
    loans.to_csv(tmp_path / "loans.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", events=tmp_path / "transactions.csv", outcomes=tmp_path / "loans.csv")
    assert 'status = ""  # none found: an activity log' in text and "[events.statuses]" not in text
    assert '"salary" = { amount = "received" }' in text and '"card_purchase" = { amount = "spent" }' in text
    assert 'label = "loan_status"' in text  # codes the user sorts into bad and good
    assert '[[events.measures]]\nname = "balance"' in text  # a number each row records besides its amount
    assert [m.name for m in spec_from_toml(text).events.measures] == ["balance"]
    one_kind = rows.drop(columns="type").assign(amount=[1000, -300, 1000, -500, 800, -700, -400])
    one_kind.to_csv(tmp_path / "transactions.csv", index=False)
    text = draft_spec(tmp_path / "people.csv", events=tmp_path / "transactions.csv")
    assert '{ amount = "signed" }' in text


def test_a_measure_each_row_records_gives_its_latest_level_and_trend_before_the_as_of_date(tmp_path):
    ds = _ingest(tmp_path)
    assert ds.read("events")["balance"].notna().all()
    at = _at(build_features(ds).frame, "2024-03-01")
    assert at.loc["a", "balance_last"] == 1200 and at.loc["b", "balance_last"] == -300
    assert at.loc["b", "balance_min_90d"] == -300 and at.loc["b", "balance_max_90d"] == 800
    assert at.loc["a", "balance_mean_90d"] == pytest.approx((1000 + 700 + 1700 + 1200) / 4)
    assert at.loc["b", "balance_trend_180d"] < 0 < at.loc["a", "balance_trend_180d"]
    before = _at(build_features(ds).frame, "2024-02-01")  # February's balances are not seen on 1 February
    assert before.loc["a", "balance_last"] == 700 and before.loc["b", "balance_min_90d"] == 100


@pytest.mark.parametrize(("measure", "field", "words"), [
    ('name = "amount"', "events.measures[0].name", "a column of the events table"),
    ('name = "cash"\ncolumn = "amount"', "events.measures[0].column", "already read"),
])
def test_a_measure_that_cannot_be_read_apart_is_refused_at_its_field(measure, field, words):
    with pytest.raises(SpecError, match=words) as err:
        spec_from_toml(SPEC.replace('name = "balance"', measure))
    assert f"field '{field}'" in str(err.value)
