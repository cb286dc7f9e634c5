"""A reason's text is true of the value beside it, and the value is written in its unit (audit s45 C, items 4
and 5): "your balance growing month by month … Yours: -45.27" and "Yours: 0.05513" were shown."""

from __future__ import annotations

import re
from importlib.resources import files

import numpy as np
import pandas as pd
from tests.scoring.fake_model import FakeModel

from deepcredit.data.spec import builtin_spec, spec_from_toml
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import SIGNED, Kind
from deepcredit.features.templates import features_for
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.scorer import reason_table, shown_value

KEYS = {"as_of": pd.Timestamp("2025-01-01")}
SHOWN = ["bill_slope_180d", "days_late_slope", "mean_bill_90d", "bad_rate_trend", "events_per_month_365d"]
DIRECTION = re.compile(r"\b(growing|rising|falling|shrinking|worse|better|more|less)\b")


def _reasons(spec_text: str | None = None) -> pd.DataFrame:
    spec = builtin_spec("simulator") if spec_text is None else spec_from_toml(spec_text)
    defs = [d for d in features_for(spec) if d.name in SHOWN]
    values = {
        "bill_slope_180d": -45.27,
        "days_late_slope": 0.05513,
        "mean_bill_90d": 437.27,
        "bad_rate_trend": 0.12,
        "events_per_month_365d": 2.5,
    }
    frame = pd.DataFrame(
        {"person_id": ["p"], **KEYS, "label": [1], **{d.name: [values[d.name]] for d in defs}}
    )
    inp = ModelInput(FeatureFrame(frame, defs))
    model = FakeModel(defs, np.full((1, len(defs)), 0.2))
    reasons = reason_table(model, inp, model.explain(inp), ScoreScale(), top=len(defs))
    reasons["shown"] = [shown_value(f, v) for f, v in zip(reasons["feature"], reasons["value"], strict=True)]
    return reasons.set_index("feature")


def test_a_falling_balance_s_reason_does_not_say_it_grows():
    reason = _reasons().loc["bill_slope_180d"]
    assert "growing" not in reason["reason"] and reason["reason"] == "how your balance changed month by month"
    assert reason["shown"] == "-45.27 per month"


def test_a_reason_shows_its_value_in_its_unit():
    shown = _reasons()["shown"].to_dict()
    assert shown["days_late_slope"] == "+0.06 days per month"
    assert shown["mean_bill_90d"] == "437.27"  # the simulator declares no currency
    assert shown["bad_rate_trend"] == "+12 percentage points"
    assert shown["events_per_month_365d"] == "2.5 per month"


def test_money_reads_in_the_currency_the_spec_declares():
    text = (files("deepcredit.data.specs") / "simulator.toml").read_text()
    text = text.replace('role = "credit_line"\n', 'role = "credit_line"\nunit = "EUR"\n', 1)
    shown = _reasons(text)["shown"].to_dict()
    assert shown["mean_bill_90d"] == "437.27 EUR" and shown["bill_slope_180d"] == "-45.27 EUR per month"


def test_every_template_number_declares_a_unit_and_a_signed_one_states_no_direction():
    """Each numeric feature of the bundled specs says how it reads; one whose value can fall as well as rise
    (a signed unit: trends, changes, money in less money out) is worded for either sign."""
    for kind in ("simulator", "uci", "otc", "german"):
        for d in features_for(builtin_spec(kind)):
            if d.kind is Kind.NUMERIC and not d.levels:
                assert d.unit, (kind, d.name)
            if d.unit.startswith(SIGNED + ":"):
                assert not DIRECTION.search(d.description), (kind, d.name, d.description)
