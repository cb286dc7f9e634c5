"""Declared windows ([windows]) reach every template: the features count over the declared days, cycle
over the declared period, and their names and texts say those windows in words."""

from __future__ import annotations

import pandas as pd
import pytest
import worlds

from deepcredit.data.dataset import write_dataset
from deepcredit.data.ingest import empty_table
from deepcredit.data.schema import RELATIONS
from deepcredit.data.spec import builtin_spec, spec_from_toml
from deepcredit.features.engine import build_features
from deepcredit.features.templates import features_for
from deepcredit.features.window_words import between, span

WEEKLY = """spec_version = 1
name = "weekly"

[windows]
period = 7
recent = 14
medium = 28
long = 56

[events.kinds]
bill = { amount = "owed" }
payment = { amount = "paid" }

[events.statuses]
ok = { meaning = "kept" }
late = { meaning = "late" }

[outcomes]
window_days_column = "window_days"
"""


@pytest.mark.parametrize(("days", "words"), [(30, "month"), (90, "3 months"), (365, "12 months"), (730, "2 years"),
                                             (7, "week"), (14, "2 weeks"), (1, "day"), (45, "45 days")])
def test_a_window_is_said_in_its_largest_whole_unit(days, words):
    assert span(days) == words


def test_a_span_between_two_windows_says_a_shared_unit_once():
    assert between(90, 180) == "3 to 6 months"
    assert between(14, 90) == "2 weeks to 3 months"


def test_declared_windows_name_and_word_every_windowed_feature():
    defs = {f.name: f for f in features_for(spec_from_toml(WEEKLY))}
    assert {"n_bad_14d", "n_bad_56d", "amount_paid_7d", "amount_paid_28d", "mean_bill_15_28d",
            "unpaid_cycles_4c", "events_per_week_56d", "active_weeks_56d"} <= set(defs)
    assert not any(name.endswith(("_90d", "_180d", "_365d")) for name in defs)
    assert defs["n_bad_14d"].description == "late or missed commitments in the last 2 weeks"
    assert defs["mean_bill_15_28d"].description == "the average amount you were asked to pay 2 to 4 weeks ago"
    assert defs["active_weeks_56d"].description == "in how many of the last 8 weeks you were active"
    # no credit line declared: amounts owed are bills, not a balance
    assert defs["bill_slope_28d"].description == "how the amounts you were asked to pay changed week by week"
    assert "7 * regr_slope(" in defs["bill_slope_28d"].sql and "MIN(" in defs["bill_slope_28d"].sql  # a week apart


def test_the_default_windows_keep_the_catalogue_names():
    names = {f.name for f in features_for(builtin_spec("simulator"))}
    assert {"n_bad_90d", "mean_days_late_180d", "n_bad_365d", "events_per_month_365d", "mean_bill_91_180d",
            "min_paid_to_prev_bill_3c", "new_connections_90d"} <= names


def test_features_count_over_the_declared_days_and_periods(tmp_path):
    events = pd.DataFrame([
        ("a", worlds.ts(-5), "bill", 10.0, "ok"),
        ("a", worlds.ts(-10), "payment", 20.0, "late"),  # in the recent two weeks
        ("a", worlds.ts(-20), "payment", 40.0, "late"),  # within four weeks, not two
        ("a", worlds.ts(-40), "payment", 80.0, "late"),  # within eight weeks only
        ("a", worlds.ts(-70), "payment", 160.0, "late"),  # beyond every window
        ("a", worlds.ts(+3), "payment", 320.0, "late"),  # after as_of: never seen
    ], columns=["person_id", "ts", "kind", "amount", "status"])
    events["ts"] = events["ts"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ["a"], "as_of": pd.Series([worlds.AS_OF], dtype="datetime64[us]"),
                             "label": [1], "window_days": [90]})
    ds = write_dataset(tmp_path / "w", {"people": pd.DataFrame({"person_id": ["a"]}), "events": events,
                                        "relations": empty_table(RELATIONS), "outcomes": outcomes},
                       "weekly", "2026-01-01", spec=spec_from_toml(WEEKLY))
    row = build_features(ds).frame.iloc[0]
    assert row["n_bad_14d"] == 1 and row["n_bad_56d"] == 3
    assert row["amount_paid_7d"] == 0 and row["amount_paid_14d"] == 20 and row["amount_paid_28d"] == 60
    assert row["active_weeks_56d"] == 4  # weeks 0, 1, 2 and 5 back from as_of
    assert row["events_per_week_56d"] == 4 / 8
