"""A category each history row records (the channel a transaction went through): stored as text, its latest
value and the share of each declared value become features before the as-of date, and a draft proposes it."""

from __future__ import annotations

import pandas as pd
import pytest

from deepcredit.data.draft import draft_spec
from deepcredit.data.draft.measures import MAX_DECLARED_VALUES
from deepcredit.data.spec import SpecError, spec_from_toml
from deepcredit.features.engine import build_features
from deepcredit.features.sequences import coding
from deepcredit.features.spec import Kind
from deepcredit.features.templates import features_for

from .test_activity_log import OUTCOMES, PEOPLE, SPEC, TRANSACTIONS, _at, _ingest

pytestmark = pytest.mark.filterwarnings("ignore:.*good labels have a performance window")

CHANNEL = """[[events.measures]]
name = "channel"
type = "categorical"
dimension = "behaviour_preferences"
description = "the channel of your transactions"
values = { atm = { description = "how often you used a cash machine", risk_direction = 1 } }

"""
WITH_CHANNEL = SPEC.replace("[[events.measures]]", CHANNEL + "[[events.measures]]", 1)
CHANNELS = ["branch", "atm", "online", "atm", "branch", "atm", None]  # b's last row records none
BUCKETED = WITH_CHANNEL.replace("values = {", "buckets = 64\nvalues = {", 1)
"""WITH_CHANNEL whose channel also reaches the sequence members through 64 hash buckets."""


def test_a_category_gives_its_latest_value_and_the_share_of_each_declared_value():
    defs = {f.name: f for f in features_for(spec_from_toml(WITH_CHANNEL))}
    assert defs["channel_last"].kind is Kind.CATEGORICAL and defs["channel_last"].dimension.value == \
        "behaviour_preferences"
    assert defs["share_atm_365d"].description == "how often you used a cash machine"
    assert defs["share_atm_365d"].risk_direction == 1 and defs["share_atm_365d"].unit == "share"


def test_a_category_is_stored_as_text_and_read_before_the_as_of_date(tmp_path):
    ds = _ingest(tmp_path, TRANSACTIONS.assign(channel=CHANNELS), WITH_CHANNEL)
    assert ds.read("events")["channel"].tolist().count("atm") == 3
    frame = build_features(ds).frame
    at = _at(frame, "2024-03-01")
    assert at.loc["a", "channel_last"] == "atm" and at.loc["b", "channel_last"] == "atm"  # b's last: no channel
    assert at.loc["a", "share_atm_365d"] == pytest.approx(2 / 4)
    assert at.loc["b", "share_atm_365d"] == pytest.approx(1 / 2)  # of the two rows recording a channel
    before = _at(frame, "2024-02-01")  # February's rows are not seen on 1 February
    assert before.loc["a", "channel_last"] == "atm" and before.loc["a", "share_atm_365d"] == pytest.approx(1 / 2)
    assert before.loc["b", "channel_last"] == "atm" and before.loc["b", "share_atm_365d"] == pytest.approx(1 / 2)


@pytest.mark.parametrize(("change", "field", "words"), [
    ('type = "categorical"\ndimension = "behaviour', "events.measures[0].values", "applies to categorical measures"),
    ('values = {', "events.measures[0].risk_direction", "no direction of risk", ),
])
def test_a_category_declared_as_a_number_or_with_a_direction_is_refused_at_its_field(change, field, words):
    spec = WITH_CHANNEL.replace(change, 'dimension = "behaviour') if change.startswith("type") else WITH_CHANNEL.replace(
        change, "risk_direction = 1\n" + change)
    with pytest.raises(SpecError, match=words) as err:
        spec_from_toml(spec)
    assert f"field '{field}'" in str(err.value)


def test_a_share_label_of_a_category_value_may_not_repeat_another_shares(tmp_path):
    twice = WITH_CHANNEL.replace('debit = { amount = "spent" }', 'debit = { amount = "spent", share = { label = '
                                 '"atm", description = "how often you paid out" } }')
    with pytest.raises(SpecError, match="share label 'atm' is used twice"):
        spec_from_toml(twice)


def _drafted(tmp_path, channels, rows: pd.DataFrame = TRANSACTIONS) -> str:
    named = {"account": "account_id"}  # an id the draft recognises by its name
    rows.assign(channel=channels).rename(columns=named).to_csv(tmp_path / "transactions.csv", index=False)
    PEOPLE.rename(columns=named).to_csv(tmp_path / "people.csv", index=False)
    OUTCOMES.rename(columns=named).to_csv(tmp_path / "outcomes.csv", index=False)
    return draft_spec(tmp_path / "people.csv", events=tmp_path / "transactions.csv", outcomes=tmp_path / "outcomes.csv")


def test_the_draft_proposes_a_text_column_of_few_values_as_a_category_with_every_value_declared(tmp_path):
    text = _drafted(tmp_path, CHANNELS)
    assert '[[events.measures]]\nname = "channel"\ntype = "categorical"' in text
    assert ('values."atm" = { label = "channel_atm", description = "how often your channel is atm", '
            'risk_direction = 0 }') in text
    spec = spec_from_toml(text)
    assert spec.events is not None and [m.type for m in spec.events.measures] == ["numeric", "categorical"]
    assert list(spec.events.measures[1].values) == ["atm", "branch", "online"]
    # so the sequence members read it: one 0/1 channel per value
    assert [m.name for m in coding(spec).measures if m.column == "channel"] == \
        ["measure:channel=channel_atm", "measure:channel=channel_branch", "measure:channel=channel_online"]
    defs = {f.name for f in features_for(spec)}
    assert {"share_channel_atm_365d", "share_channel_online_365d"} <= defs


def test_the_draft_leaves_the_values_of_a_category_with_many_to_the_user(tmp_path):
    shops = [f"shop {i}" for i in range(MAX_DECLARED_VALUES + 1)]
    rows = pd.concat([TRANSACTIONS.assign(booked=pd.to_datetime(TRANSACTIONS["booked"]) + pd.Timedelta(days=d))
                      for d in (0, 1)], ignore_index=True)  # 14 rows: room for more values than the draft declares
    text = _drafted(tmp_path, (shops * 2)[: len(rows)], rows)
    spec = spec_from_toml(text)
    assert spec.events is not None and spec.events.measures[1].values == {}
    assert '# values seen: "shop 0", "shop 1", "shop 2", ...; declare those that matter' in text
    assert spec.events.measures[1].buckets == 32  # every value still reaches the sequence members: 9 values
    assert [m.name for m in coding(spec).measures if m.column == "channel"] == ["measure:channel"]


def test_the_draft_gives_a_category_of_many_repeated_values_buckets_and_leaves_out_free_text(tmp_path):
    """A trade code of 100 values over 2,800 rows repeats (a category the sequence members learn through
    buckets); a text that is new on almost every row is not a category."""
    rows = pd.concat([TRANSACTIONS.assign(booked=pd.to_datetime(TRANSACTIONS["booked"]) + pd.Timedelta(hours=h))
                      for h in range(400)], ignore_index=True)
    trades = [f"trade {i % 100}" for i in range(len(rows))]
    text = _drafted(tmp_path, trades, rows.assign(note=[f"note {i}" for i in range(len(rows))]))
    spec = spec_from_toml(text)
    assert spec.events is not None
    measures = {m.name: m for m in spec.events.measures}
    assert measures["channel"].buckets == 256 and "note" not in measures


@pytest.mark.parametrize(("change", "words"), [
    (('type = "categorical"\ndimension = "behaviour_preferences"\ndescription = "the channel', "values = { atm"),
     "applies to categorical measures"),
    (("buckets = 64",), "must lie between 2 and 65536"),
])
def test_buckets_on_a_number_or_out_of_range_are_refused_at_their_field(change, words):
    numeric = ('dimension = "behaviour_preferences"\ndescription = "the channel', "# values = { atm")
    spec = BUCKETED
    for old, new in zip(change, numeric if len(change) > 1 else ("buckets = 1",), strict=True):
        spec = spec.replace(old, new, 1)
    with pytest.raises(SpecError, match=words) as err:
        spec_from_toml(spec)
    assert "field 'events.measures[0].buckets'" in str(err.value)
