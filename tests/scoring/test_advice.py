"""Advice that fits the person (audit I): none to move to a category no less risky than their own (F3), the
telling figure's own beside a dimension read as a whole (F5), none where a value already lies on the side
its declared risk direction calls safe (F9)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
from tests.scoring.fake_model import FakeModel

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.features.templates import AGAINST_ADVICE, MISSING_ADVICE
from deepcredit.models.binning import FeatureTable
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.advice import ALREADY_BEST, ALREADY_TOWARDS
from deepcredit.scoring.scorer import AS_A_WHOLE, reason_table

SCALE = ScoreScale()
KEYS = {"as_of": pd.Timestamp("2025-01-01")}


STATUS = FeatureDef("status", Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "status", "your account's balance",
                    "Keep a positive balance.", kind=Kind.CATEGORICAL)
AMOUNT = FeatureDef("amount", Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "amount", "the amount",
                    "Borrow less.")


def _status_input() -> ModelInput:
    frame = pd.DataFrame({"person_id": ["w", "x", "y", "z"], **KEYS, "label": [0, 1, 0, 1],
                          "status": pd.Categorical(["positive", "overdrawn", "none", None]),
                          "amount": [1.0, 1.0, 1.0, 1.0]})
    return ModelInput(FeatureFrame(frame, [STATUS, AMOUNT]))


def _table() -> FeatureTable:
    """A scorecard's characteristic: 'none' holds the fewest defaults for its count, 'overdrawn' the most."""
    return FeatureTable(name="status", kind="categorical", dimension="fulfilment_capacity", description="",
                        improve="", risk_direction=0, direction=0, splits=None,
                        categories=[["none"], ["positive"], ["overdrawn"]], special_codes=[],
                        count=[300, 200, 200, 0, 0, 0], event=[36, 70, 95, 0, 0, 0], woe=[])


def test_no_advice_to_move_to_another_category_where_the_persons_own_is_already_the_least_risky():
    inp = _status_input()
    contrib = np.array([[0.5, 0.0]] * 4)  # the status costs everyone points (a stack's interactions can)
    model = FakeModel(inp.definitions, contrib)
    model.card_ = SimpleNamespace(features=[_table()])  # a scorecard's (the stack's member's, or its own)
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4).set_index("person_id")
    assert reasons.loc["y", "how_to_improve"] == ALREADY_BEST  # 'none': 12% bad, the least of all categories
    assert reasons.loc["w", "how_to_improve"] == "Keep a positive balance."  # 35%: 'none' is less risky
    assert reasons.loc["x", "how_to_improve"] == "Keep a positive balance."  # 47.5%, the worst
    assert reasons.loc["z", "how_to_improve"] == MISSING_ADVICE
    assert reasons.loc["y", "value"] == "none"  # the reason itself is kept
    # training bad rates the model carries itself decide first; a model with neither keeps every advice
    model.category_risk_ = {"status": {"positive": 0.1, "none": 0.2, "overdrawn": 0.5}}
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4).set_index("person_id")
    assert reasons.loc["w", "how_to_improve"] == ALREADY_BEST and reasons.loc["y", "how_to_improve"] != ALREADY_BEST
    plain = FakeModel(inp.definitions, contrib)
    assert ALREADY_BEST not in reason_table(plain, inp, plain.explain(inp), SCALE, top=4)["how_to_improve"].tolist()


def test_a_dimension_as_a_whole_does_not_borrow_advice_from_a_category_already_the_best():
    inp = _status_input()
    model = FakeModel(inp.definitions, np.array([[0.005, 0.0], [0.0, 0.0], [0.005, 0.0], [0.0, 0.0]]),
                   tower={"fulfilment_capacity": 2.0})  # the status costs w and y less than a point: no reason
    model.card_ = SimpleNamespace(features=[_table()])  # a scorecard's (the stack's member's, or its own)
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=2).set_index("person_id")
    assert reasons.loc["y", "feature"] == "fulfilment_capacity_as_a_whole"
    assert reasons.loc["w", "how_to_improve"] == "Keep a positive balance."  # borrowed: 'none' is less risky
    assert reasons.loc["y", "how_to_improve"] == AS_A_WHOLE["fulfilment_capacity"].improve


def test_the_advice_beside_a_telling_figure_is_that_figures_not_another_features():
    """behaviour as a whole: 'util' costs x a little (its advice used to be borrowed), while the figure shown
    is 'active' (3.5 spreads on its risky side): the advice is active's own; where active is not actionable,
    the dimension's general advice, never util's."""
    util = FeatureDef("util", Dimension.BEHAVIOUR_PREFERENCES, Source.DERIVED, "util", "bills paid through us",
                      "Pay your utility bills through your account.")
    active = FeatureDef("active", Dimension.BEHAVIOUR_PREFERENCES, Source.DERIVED, "active",
                        "months you were active", "Use your account regularly.", risk_direction=-1)
    frame = pd.DataFrame({"person_id": ["x"], **KEYS, "label": [1], "util": [0.0], "active": [1.0]})
    for defs, expected in (([util, active], "Use your account regularly."),
                           ([util, replace(active, actionable=False)], AS_A_WHOLE["behaviour_preferences"].improve)):
        inp = ModelInput(FeatureFrame(frame, defs))
        model = FakeModel(defs, np.array([[0.005, 0.0]]), tower={"behaviour_preferences": 2.0})  # util: < 1 point
        model.reference_, model.spread_ = {"util": 1.0, "active": 8.0}, {"util": 1.0, "active": 2.0}
        reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
        assert len(reasons) == 1
        reason = reasons.iloc[0]
        assert reason["feature"] == "behaviour_preferences_as_a_whole"
        assert reason["value"] == "months you were active: 1"
        assert reason["how_to_improve"] == expected


def test_no_advice_contrary_to_a_declared_risk_direction_where_the_value_is_on_its_safe_side():
    """active: higher is less risky. 10 months (a spread above typical) yet costing points is not told to be
    more active; 8.5 (near typical) and 5 (below) keep the advice."""
    active = FeatureDef("active", Dimension.BEHAVIOUR_PREFERENCES, Source.DERIVED, "active",
                        "months you were active", "Use your account regularly.", risk_direction=-1)
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], **KEYS, "label": [0, 0, 1], "active": [10.0, 8.5, 5.0]})
    inp = ModelInput(FeatureFrame(frame, [active]))
    model = FakeModel([active], np.array([[0.1], [0.1], [0.1]]))
    model.reference_, model.spread_ = {"active": 8.0}, {"active": 2.0}
    advice = reason_table(model, inp, model.explain(inp), SCALE, top=4)["how_to_improve"].tolist()
    assert advice == [AGAINST_ADVICE, "Use your account regularly.", "Use your account regularly."]
    model.spread_ = None  # an artifact saved without spreads keeps the advice
    assert reason_table(model, inp, model.explain(inp), SCALE, top=4)["how_to_improve"].tolist() \
        == ["Use your account regularly."] * 3


GUARANTEE = FeatureDef("guarantee", Dimension.SOCIAL_CONNECTIONS, Source.DERIVED, "guarantee",
                       "whether someone backs the loan", "Ask a guarantor or a co-applicant to back the loan.",
                       kind=Kind.CATEGORICAL, improve_towards=("guarantor", "co-applicant"))
ASK = GUARANTEE.improve


def _guarantee_advice(model_setup) -> dict[str, str]:
    frame = pd.DataFrame({"person_id": ["a", "b", "c", "d"], **KEYS, "label": [1, 0, 0, 1],
                          "guarantee": pd.Categorical(["none", "guarantor", "co-applicant", "other"])})
    inp = ModelInput(FeatureFrame(frame, [GUARANTEE]))
    model = FakeModel([GUARANTEE], np.array([[0.5]] * 4))  # the category costs everyone points
    model_setup(model)
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
    return dict(zip(reasons["person_id"], reasons["how_to_improve"], strict=True))


def test_advice_that_names_where_to_move_is_not_given_to_someone_already_there():
    """A guarantor or a co-applicant is not told to get one, whatever the model carries; without rates the
    others keep the advice (the old rule gave it to all four)."""
    assert _guarantee_advice(lambda m: None) == {"a": ASK, "b": ALREADY_TOWARDS, "c": ALREADY_TOWARDS, "d": ASK}


def test_advice_is_withheld_where_the_model_sees_no_less_risk_where_it_points():
    """'none' (20% bad) is no riskier than a guarantor (25%) or a co-applicant (30%) though 'other' is less
    risky still: moving where the advice points would not help (AGAINST_ADVICE); 'other' is the least risky
    (ALREADY_BEST). Where a co-applicant is less risky than 'none', 'none' keeps the advice."""
    def rates(none: float):
        return lambda m: setattr(m, "category_risk_", {"guarantee": {"other": 0.1, "none": none, "guarantor": 0.25,
                                                                     "co-applicant": 0.3}})

    assert _guarantee_advice(rates(0.2)) == {"a": AGAINST_ADVICE, "b": ALREADY_TOWARDS, "c": ALREADY_TOWARDS,
                                             "d": ALREADY_BEST}
    assert _guarantee_advice(rates(0.28))["a"] == ASK  # a guarantor's 25% is less risky


def test_a_scorecard_that_pools_a_category_with_where_the_advice_points_withholds_it():
    """The card holds 'none' in one bin with 'guarantor' (20% bad): it gives 'none' no fewer points, so the
    advice is withheld; split apart (none 30%, guarantor 10%), it is given."""
    def card(categories, count, event):
        table = FeatureTable(name="guarantee", kind="categorical", dimension="social_connections", description="",
                             improve="", risk_direction=0, direction=0, splits=None, categories=categories,
                             special_codes=[], count=[*count, 0, 0, 0], event=[*event, 0, 0, 0], woe=[])
        return lambda m: setattr(m, "card_", SimpleNamespace(features=[table]))

    pooled = card([["other"], ["none", "guarantor"], ["co-applicant"]], [100, 300, 100], [5, 60, 40])
    assert _guarantee_advice(pooled) == {"a": AGAINST_ADVICE, "b": ALREADY_TOWARDS, "c": ALREADY_TOWARDS,
                                         "d": ALREADY_BEST}
    apart = card([["other"], ["guarantor"], ["none"], ["co-applicant"]], [100, 100, 200, 100], [5, 10, 60, 40])
    assert _guarantee_advice(apart)["a"] == ASK


def test_an_ordinals_advice_points_to_its_levels_and_reads_the_rates_by_level():
    """Ranks 0..3 of none < low < mid < high; the advice points to 'high' (30% bad). 'mid' (20%) is no riskier
    than it: withheld; 'low' (40%) keeps it; 'none' (5%) is the least risky of all."""
    grade = FeatureDef("grade", Dimension.IDENTITY, Source.DERIVED, "grade", "your grade", "Raise your grade.",
                       levels=("none", "low", "mid", "high"), improve_towards=("high",))
    frame = pd.DataFrame({"person_id": ["n", "l", "m", "h"], **KEYS, "label": [0, 1, 0, 1],
                          "grade": [0.0, 1.0, 2.0, 3.0]})
    inp = ModelInput(FeatureFrame(frame, [grade]))
    expected = {"n": ALREADY_BEST, "l": "Raise your grade.", "m": AGAINST_ADVICE, "h": ALREADY_TOWARDS}
    by_rates = FakeModel([grade], np.array([[0.5]] * 4))
    by_rates.category_risk_ = {"grade": {"none": 0.05, "low": 0.4, "mid": 0.2, "high": 0.3}}
    by_card = FakeModel([grade], np.array([[0.5]] * 4))
    by_card.card_ = SimpleNamespace(features=[FeatureTable(
        name="grade", kind="numeric", dimension="identity", description="", improve="", risk_direction=0,
        direction=0, splits=[0.5, 1.5, 2.5], categories=None, special_codes=[], count=[100, 100, 100, 100, 0, 0, 0],
        event=[5, 40, 20, 30, 0, 0, 0], woe=[])])
    for model in (by_rates, by_card):
        reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
        assert dict(zip(reasons["person_id"], reasons["how_to_improve"], strict=True)) == expected
