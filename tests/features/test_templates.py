"""Features from declarations: attribute history is point in time, undeclared events/relations give no
features at all, a broken status is never money repaid, and the shipped specs reproduce the catalogue."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
import worlds

from deepcredit.data.dataset import write_dataset
from deepcredit.data.ingest import empty_table
from deepcredit.data.schema import EVENTS, RELATIONS
from deepcredit.data.spec import SpecError, builtin_spec, spec_from_toml
from deepcredit.features.bundle import build_model_input
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.engine import build_features
from deepcredit.features.spec import Source
from deepcredit.features.templates import features_for

AS_OF = worlds.AS_OF
HISTORY = """spec_version = 1
name = "history"

[profile]
valid_from = "valid_from"

[[profile.attributes]]
name = "income"
type = "numeric"
dimension = "fulfilment_capacity"

[[profile.attributes]]
name = "segment"
type = "categorical"
dimension = "identity"

[outcomes]
window_days_column = "window_days"
"""
CATALOGUE = [f.name for f in ALL_FEATURES]


def _history_world(tmp_path, change_day: float):
    """Person a earns 100 since always; a second version (income 900, segment 'vip') from `change_day`."""
    people = pd.DataFrame({"person_id": ["a", "a", "b"], "income": [100.0, 900.0, 50.0],
                           "segment": ["std", "vip", "std"],
                           "valid_from": [pd.NaT, worlds.ts(change_day), pd.NaT]})
    people["valid_from"] = people["valid_from"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ["a", "b"], "as_of": pd.Series([AS_OF, AS_OF], dtype="datetime64[us]"),
                             "label": [0, 1], "window_days": [90, 90]})
    frames = {"people": people, "events": empty_table(EVENTS), "relations": empty_table(RELATIONS), "outcomes": outcomes}
    ds = write_dataset(tmp_path / f"h{change_day}", frames, "history", "2026-01-01", spec=spec_from_toml(HISTORY))
    return build_features(ds).frame.set_index("person_id")


def test_a_profile_change_after_as_of_changes_nothing_and_one_before_does(tmp_path):
    after = _history_world(tmp_path, change_day=10)
    assert after.loc["a", "income"] == 100.0 and after.loc["a", "segment"] == "std"
    on_the_day = _history_world(tmp_path, change_day=0)  # known from as_of on: not strictly before it
    assert on_the_day.loc["a", "income"] == 100.0
    before = _history_world(tmp_path, change_day=-10)
    assert before.loc["a", "income"] == 900.0 and before.loc["a", "segment"] == "vip"
    assert before.loc["b", "income"] == 50.0 and len(before) == 2


def test_no_events_and_no_relations_means_no_such_features_and_no_sequences(tmp_path):
    spec = spec_from_toml(HISTORY.replace('valid_from = "valid_from"', ""))
    people = pd.DataFrame({"person_id": ["a", "b"], "income": [1.0, 2.0], "segment": ["x", "y"]})
    outcomes = pd.DataFrame({"person_id": ["a", "b"], "as_of": pd.Series([AS_OF, AS_OF], dtype="datetime64[us]"),
                             "label": [0, 1], "window_days": [90, 90]})
    ds = write_dataset(tmp_path / "p", {"people": people, "events": empty_table(EVENTS),
                                        "relations": empty_table(RELATIONS), "outcomes": outcomes},
                       "profile-only", "2026-01-01", spec=spec)
    inp = build_model_input(ds)
    assert inp.tabular.names == ["segment", "income"]
    assert {f.source for f in inp.definitions} == {Source.PROFILE}
    assert inp.sequences is None and inp.graph.edge_index.shape == (2, 0)


OWN_WORDS = """spec_version = 1
name = "own-words"

[events.kinds]
invoice = { amount = "owed" }
payment = { amount = "paid" }

[events.statuses]
settled = { meaning = "kept" }
slow = { meaning = "late" }
bounced = { meaning = "broken" }
pending = { meaning = "open" }

[outcomes]
window_days_column = "window_days"
"""


def test_a_status_declared_broken_never_counts_as_money_repaid(tmp_path):
    events = pd.DataFrame([
        ("a", worlds.ts(-100), "invoice", 500.0, "pending"),
        ("a", worlds.ts(-90), "payment", 100.0, "settled"),
        ("a", worlds.ts(-60), "payment", 200.0, "slow"),
        ("a", worlds.ts(-30), "payment", 400.0, "bounced"),
        ("a", worlds.ts(-20), "payment", 800.0, "pending"),
    ], columns=["person_id", "ts", "kind", "amount", "status"])
    events["ts"] = events["ts"].astype("datetime64[us]")
    outcomes = pd.DataFrame({"person_id": ["a"], "as_of": pd.Series([AS_OF], dtype="datetime64[us]"),
                             "label": [1], "window_days": [90]})
    ds = write_dataset(tmp_path / "w", {"people": pd.DataFrame({"person_id": ["a"]}), "events": events,
                                        "relations": empty_table(RELATIONS), "outcomes": outcomes},
                       "own-words", "2026-01-01", spec=spec_from_toml(OWN_WORDS))
    inp = build_model_input(ds)
    row = inp.tabular.frame.iloc[0]
    assert inp.sequences.kind_vocab == ("<pad>", "invoice", "payment")  # the spec's own words
    assert inp.sequences.status_vocab == ("<pad>", "bounced", "pending", "settled", "slow")
    assert inp.sequences.lengths.tolist() == [5]
    assert row["amount_paid_180d"] == 300.0  # settled + slow; never the bounced or the pending payment
    assert row["n_bad_365d"] == 2 and row["n_severe_365d"] == 1 and row["n_outcomes"] == 3
    assert row["amount_billed_180d"] == 500.0
    assert "last_days_late" not in row and "degree" not in row and "mean_rating_received" not in row


def test_the_simulator_spec_produces_the_reference_catalogue():
    assert len(CATALOGUE) == 66 and len(set(CATALOGUE)) == 66
    assert [f.name for f in features_for(builtin_spec("simulator"))] == CATALOGUE
    assert not {"sex", "age", "marital_status"} & set(CATALOGUE)  # protected: never features by default


PER_KIND = {"connections_contact", "connections_transfer", "connections_shared_device", "connections_rating",
            "connections_guarantee"}
"""The simulator's connections counted by relation kind (it declares five kinds)."""


@pytest.mark.parametrize("kind, dropped", [
    # UCI has no relations, ratings or rentals/orders/utilities, nor statuses meaning broken.
    ("uci", {"degree", "new_connections_90d", *PER_KIND, "share_neighbours_bad", "share_neighbours_severe",
             "neighbour_bad_rate", "incoming_negative_share", "mean_incoming_weight", "mean_rating_received",
             "n_severe_365d", "days_since_last_severe", "share_rental_365d", "share_order_365d",
             "share_utility_365d", "identity_verified", "occupation", "city_tier", "tenure_days", "log_income"}),
    # OTC has ratings only: no money, no delays, no profile, one kind of relation (its degree is the count).
    ("otc", {*PER_KIND, "identity_verified", "education", "occupation", "city_tier", "tenure_days", "credit_limit",
             "log_income", "amount_paid_180d", "amount_billed_180d", "paid_to_billed_180d", "last_bill_amount",
             "bill_slope_180d", "amount_paid_30d", "amount_paid_90d", "paid_to_prior_billed_90d", "mean_bill_90d",
             "mean_bill_91_180d", "min_paid_to_prev_bill_3c", "mean_paid_to_prev_bill_6c", "unpaid_cycles_6c",
             "utilisation", "headroom", "mean_utilisation_180d", "balance_trend", "paid_to_limit_180d",
             "last_days_late", "max_days_late_90d", "max_days_late_365d", "mean_days_late_180d",
             "days_late_slope", "share_rental_365d", "share_order_365d", "share_utility_365d",
             "share_paid_full_180d", "share_revolving_180d", "share_unused_180d"}),
])
def test_bundled_specs_keep_the_catalogue_definitions_of_what_they_have(kind, dropped):
    """Same names and texts as the reference catalogue, less the features of what the data set lacks (the SQL
    names the data set's own kinds and statuses, and so does the text of commitments not kept at all)."""
    reference = {f.name: f for f in ALL_FEATURES}
    own = features_for(builtin_spec(kind))
    assert [f.name for f in own] == [n for n in CATALOGUE if n not in dropped]
    for f in own:
        said = {"description": ""} if f.name == "n_severe_365d" else {}
        assert replace(f, sql="", **said) == replace(reference[f.name], sql="", **said), f.name


def test_a_data_set_stored_without_a_spec_builds_the_catalogue_as_before(tmp_path):
    tables = worlds.frames(n_people=40, seed=2)
    legacy = build_features(worlds.store(tmp_path / "legacy", {k: v.copy() for k, v in tables.items()}))
    frames = {k: v.copy() for k, v in tables.items()}
    for t in frames.values():
        for c in t.columns:
            if pd.api.types.is_datetime64_any_dtype(t[c]):
                t[c] = t[c].astype("datetime64[us]")
    with_spec = write_dataset(tmp_path / "spec", frames, "tiny", "2026-01-01", spec=builtin_spec("simulator"))
    declared = build_features(with_spec)
    assert legacy.names == declared.names == [n for n in CATALOGUE if n not in {"occupation", "city_tier",
                                                                              "log_income"}]
    pd.testing.assert_frame_equal(legacy.frame, declared.frame)


def test_an_ordinal_feature_holds_the_rank_and_reads_as_its_declared_level():
    from deepcredit.features.templates import attribute_feature

    spec = builtin_spec("german")
    feat = attribute_feature(spec.attribute("present_employment_since"))
    order = spec.attribute("present_employment_since").order
    assert feat.levels == tuple(order) and feat.label(0.0) == order[0] and feat.label(4) == order[4]
    assert feat.label(None) is None and feat.label(7) == 7  # out of range: left as it is
    assert type(feat).from_dict(feat.to_dict()) == feat


def test_special_values_read_as_missing_and_their_meaning_is_a_feature_of_its_own(tmp_path):
    """96 and 98 in a count are codes: no feature reads them as a quantity, and `late_code` says which."""
    text = HISTORY.replace('valid_from = "valid_from"', "").replace(
        'name = "income"', 'name = "late"\nspecial = { 96 = "not reported", 98 = "refused" }')
    spec = spec_from_toml(text)
    people = pd.DataFrame({"person_id": ["a", "b", "c", "d"], "late": [2.0, 96.0, 98.0, None],
                           "segment": ["x"] * 4})
    outcomes = pd.DataFrame({"person_id": list("abcd"), "as_of": pd.Series([AS_OF] * 4, dtype="datetime64[us]"),
                             "label": [0, 1, 1, 0], "window_days": [90] * 4})
    ds = write_dataset(tmp_path / "p", {"people": people, "events": empty_table(EVENTS),
                                        "relations": empty_table(RELATIONS), "outcomes": outcomes},
                       "codes", "2026-01-01", spec=spec)
    frame = build_features(ds).frame.set_index("person_id")
    assert frame["late"].tolist()[:1] == [2.0] and frame["late"].iloc[1:].isna().all()
    assert frame["late_code"].tolist()[1:3] == ["not reported", "refused"]
    assert pd.isna(frame.loc["a", "late_code"]) and pd.isna(frame.loc["d", "late_code"])
    code = next(f for f in features_for(spec) if f.name == "late_code")
    assert code.description == "what was recorded instead of your late" and code.dimension == "fulfilment_capacity"
    assert next(f for f in features_for(spec) if f.name == "late").codes == "late_code"  # reasons show it


@pytest.mark.parametrize(("attribute", "special", "words"), [
    ("segment", 'special = { 96 = "x" }', "`special` applies to numeric attributes only"),
    ("income", 'special = { abc = "x" }', "'abc' is not a number"),
    ("income", 'special = { 96 = " " }', "say what the value means"),
])
def test_a_bad_special_value_names_its_field(attribute, special, words):
    from deepcredit.data.spec import SpecError

    text = HISTORY.replace(f'name = "{attribute}"', f'name = "{attribute}"\n{special}')
    with pytest.raises(SpecError, match=words) as err:
        spec_from_toml(text)
    assert "special" in str(err.value.field)


def test_an_improve_direction_declared_in_a_spec_reaches_the_feature():
    """German credit says "Borrow a smaller amount." lowers the amount; no risk direction is declared."""
    feats = {f.name: f for f in features_for(builtin_spec("german"))}
    assert feats["credit_amount"].improve_direction == -1 and feats["credit_amount"].risk_direction == 0
    simulator = {f.name: f for f in features_for(builtin_spec("simulator"))}
    assert simulator["days_since_last_event"].improve_direction == -1  # "use your account regularly"
    assert simulator["events_per_month_365d"].improve_direction == 1


def test_advice_texts_follow_the_spec_s_own_words_and_speak_of_the_future():
    """OWN_WORDS declares bills and payments, no credit line and no returns: no balance to bring down, no
    return to skip; amounts owed in the past get advice about what comes next."""
    defs = {f.name: f for f in features_for(spec_from_toml(OWN_WORDS))}
    texts = [t for f in defs.values() for t in (f.description, f.improve)]
    assert not any("balance" in t.lower() for t in texts)
    assert not any("return" in t.lower() for t in texts)
    assert defs["n_severe_365d"].description == "commitments not kept at all in the last 12 months (recorded as bounced)"
    assert defs["bill_slope_180d"].description == "how the amounts you were asked to pay changed month by month"
    for name in ("mean_bill_90d", "mean_bill_91_180d", "last_bill_amount", "bill_slope_180d"):
        assert "from now on" in defs[name].improve, name
    # a share repaid meets 'pay in full' at 1 (the scorer gives no reason at or past it)
    assert defs["paid_to_billed_180d"].met_at == 1.0 and defs["paid_to_prior_billed_90d"].met_at == 1.0


def test_the_simulator_spec_advises_nothing_about_where_or_who_someone_is():
    defs = {f.name: f for f in features_for(builtin_spec("simulator"))}
    for name in ("city_tier", "education", "occupation"):
        assert not defs[name].actionable, name
    texts = " ".join(f.improve for f in defs.values())
    assert "address" not in texts and "account settings" not in texts and "education details" not in texts
    assert defs["neighbour_bad_rate"].missing == "no connections with commitments on record"
    assert defs["share_neighbours_bad"].missing == "no connections on record"
    assert defs["mean_utilisation_180d"].missing == "no amount due or no credit line on record"


def test_improve_towards_declared_in_a_spec_reaches_the_feature_and_its_stored_form():
    """German credit's guarantor advice points to having one; an attribute that declares none has ()."""
    import json

    from deepcredit.features.spec import FeatureDef

    feats = {f.name: f for f in features_for(builtin_spec("german"))}
    guarantee = feats["other_debtors_or_guarantors"]
    assert guarantee.improve_towards == ("guarantor", "co-applicant")
    assert feats["purpose"].improve_towards == () and feats["credit_amount"].improve_towards == ()
    assert FeatureDef.from_dict(json.loads(json.dumps(guarantee.to_dict()))) == guarantee  # as an artifact keeps it
    old = {k: v for k, v in feats["purpose"].to_dict().items() if k != "improve_towards"}  # stored before it existed
    assert FeatureDef.from_dict(old) == feats["purpose"]


def test_the_history_texts_say_the_spec_s_own_word_for_a_commitment():
    """A rental's late return is no late payment: [events] commitment_word words the delay and streak texts;
    left out, every text is as before (and the stored spec does not name it)."""
    base = builtin_spec("simulator")
    rental = base.model_copy(update={"events": base.events.model_copy(update={"commitment_word": "return"})})
    before, after = {f.name: f for f in features_for(base)}, {f.name: f for f in features_for(rental)}
    assert list(before) == list(after) and "commitment_word" not in base.to_json()
    assert after["last_days_late"].description == "how late your most recent return was"
    assert after["current_bad_streak"].improve == "Your next on-time return ends this streak."
    assert after["n_bad_runs_365d"].description == "separate episodes of late returns in the last 12 months"
    assert before["last_days_late"].description == "how late your most recent payment was"
    assert before["current_bad_streak"].improve == "Your next on-time payment ends this streak."
    changed = [n for n in before if before[n] != after[n]]
    assert changed and all("payment" not in after[n].description + after[n].improve for n in changed)
    worded = ("n_outcomes", "last_days_late", "neighbour_bad_rate")  # said of paying before, of the word now
    assert set(worded) <= set(changed)
    assert not [n for n in worded if any(w in after[n].description + after[n].improve
                                         for w in (" paid ", "repay", "your account"))]
    assert after["neighbour_bad_rate"].description == "how often your connections' returns were late or missed"
    assert before["neighbour_bad_rate"].description == "how often your connections paid late or missed"
    assert all(replace(before[n], description="", improve="") == replace(after[n], description="", improve="")
               for n in changed)
    plural = rental.events.model_copy(update={"commitment_word": "delivery", "commitment_plural": "deliveries"})
    assert "late deliveries" in {f.name: f for f in features_for(rental.model_copy(
        update={"events": plural}))}["n_bad_runs_365d"].description


def test_commitment_word_is_declared_under_events_and_its_plural_only_beside_it():
    worded = OWN_WORDS.replace("[events.kinds]", '[events]\ncommitment_word = "return"\n\n[events.kinds]')
    defs = {f.name: f for f in features_for(spec_from_toml(worded))}
    assert defs["current_bad_streak"].improve == "Your next on-time return ends this streak."
    with pytest.raises(SpecError, match="events.commitment_plural"):
        spec_from_toml(OWN_WORDS.replace("[events.kinds]", '[events]\ncommitment_plural = "returns"\n\n[events.kinds]'))
