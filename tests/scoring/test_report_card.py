"""Report cards: sub-scores add up to the score exactly; reasons come only from features the model uses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from deepcredit.data.schema import Dimension
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.features.templates import AGAINST_ADVICE, MISSING_ADVICE, NO_RECORD, NOT_ACTIONABLE
from deepcredit.models.base import DIMENSIONS, Explanation
from deepcredit.models.gbdt import GBDTModel
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.scorer import AS_A_WHOLE, Scorer, apportion, reason_table, subscores, top_losses

SCALE = ScoreScale()


def test_top_losses_orders_by_loss_then_column():
    loss = np.array([[5, 9, 9, 0, 1],
                     [0, 0, 0, 0, 0],
                     [3, 3, 3, 3, 3]])
    cols, valid = top_losses(loss, 4)
    assert cols[0].tolist() == [1, 2, 0, 4] and valid[0].all()
    assert not valid[1].any()
    assert cols[2].tolist() == [0, 1, 2, 3]  # ties: the catalogue's order


def test_apportion_rounds_to_an_exact_total():
    rng = np.random.default_rng(0)
    real = rng.normal(0, 40, (500, 5))
    total = np.rint(real.sum(axis=1)).astype(np.int64) + rng.integers(-1, 2, 500)
    out = apportion(real, total)
    assert np.array_equal(out.sum(axis=1), total)
    assert np.abs(out - real).max() < 2.0
    assert np.array_equal(apportion(real, total), out)  # deterministic


@pytest.mark.parametrize("spread", [0.3, 3.0, 30.0])  # 30: far past 350 and 950, so the total is clipped
def test_subscores_add_up_to_the_score_of_the_pd(spread):
    rng = np.random.default_rng(1)
    n = 2000
    dims = pd.DataFrame(rng.normal(0, spread, (n, 5)), columns=DIMENSIONS)
    base = np.full(n, -2.0)
    ex = Explanation(base, dims)
    pd_ = expit(ex.logit())
    score, sub = subscores(ex, pd_, SCALE)
    assert np.array_equal(score, SCALE.score(pd_))
    assert np.array_equal(sub.sum(axis=1), score)
    assert score.min() >= SCALE.lo and score.max() <= SCALE.hi
    if spread == 0.3:  # unclipped: a riskier dimension never gets more points than a safer one, within a row
        order_risk = np.argsort(dims.to_numpy(), axis=1)
        pts = np.take_along_axis(sub, order_risk, axis=1)
        assert (np.diff(pts, axis=1) <= 1).all()


class _FakeModel:
    """A model whose contributions are given: two features used, a third unused but 'contributing'."""

    views = ("tabular",)

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def __init__(self, inp: ModelInput, contrib: np.ndarray, used: list[str]) -> None:
        self.contrib, self.used_features_ = contrib, used
        self.definitions_ = inp.definitions

    def fitted_members(self) -> list:
        return []

    def explain(self, inp: ModelInput) -> Explanation:
        by_feature = pd.DataFrame(self.contrib, columns=[d.name for d in self.definitions_])
        return Explanation.from_features(np.full(len(inp), -2.0), by_feature, self.definitions_)

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return self.explain(inp).logit()


def _tiny_input() -> ModelInput:
    defs = [FeatureDef(name, dim, Source.DERIVED, name, f"text of {name}", f"improve {name}")
            for name, dim in (("a", Dimension.CREDIT_HISTORY), ("b", Dimension.IDENTITY),
                              ("c", Dimension.SOCIAL_CONNECTIONS), ("d", Dimension.FULFILMENT_CAPACITY))]
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], "as_of": pd.Timestamp("2025-01-01"), "label": [0, 1, 0],
                          "a": [1.0, 2.0, 3.0], "b": [4.0, np.nan, 6.0], "c": [7.0, 8.0, 9.0], "d": [0.0, 0.0, 1.0]})
    return ModelInput(FeatureFrame(frame, defs))


def test_reasons_are_used_features_in_a_fixed_order():
    inp = _tiny_input()
    contrib = np.array([[0.5, 0.5, 2.0, -1.0],    # tie a/b: catalogue order; c is unused, never a reason
                        [0.001, 0.8, 0.0, 0.0],  # a is worth less than a point: not a reason
                        [-0.5, -0.5, 0.0, 0.0]])  # nothing lowers the score
    model = _FakeModel(inp, contrib, used=["a", "b", "d"])
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
    assert reasons[["row", "rank", "feature"]].values.tolist() == [[0, 1, "a"], [0, 2, "b"], [1, 1, "b"]]
    assert reasons["points_lost"].tolist() == [36, 36, 58]
    assert reasons["reason"].tolist()[0] == "text of a" and reasons["how_to_improve"].tolist()[1] == "improve b"
    # the person's own value; y's b is missing: the reason says there is no record, with no advice to change it
    assert reasons["value"].tolist() == [1.0, 4.0, NO_RECORD]
    assert reasons["how_to_improve"].tolist()[2] == MISSING_ADVICE
    card = Scorer(model, SCALE, top=2).report(inp)
    assert card["reason_1"].tolist()[:2] == ["a", "b"] and pd.isna(card["reason_1"].iloc[2])
    assert card["reason_2"].tolist()[0] == "b" and pd.isna(card["reason_2"].iloc[1])
    assert card["reason_1_points"].iloc[0] == 36
    assert np.array_equal(card[DIMENSIONS].sum(axis=1).to_numpy(), card["score"].to_numpy())
    # social connections: its only feature (c) is unused, so no data there, not a neutral share of the base
    assert card["social_connections"].isna().all() and card["identity"].notna().all()


def test_a_value_missing_because_it_was_a_code_shows_what_the_code_means():
    inp = _tiny_input()  # y's b is missing; with b's codes in c ("refused" for y), the reason says so
    defs = [replace(d, codes="c") if d.name == "b" else d for d in inp.definitions]
    frame = inp.tabular.frame.assign(c=[None, "refused", None])
    inp = ModelInput(FeatureFrame(frame, [replace(d, kind=Kind.CATEGORICAL) if d.name == "c" else d for d in defs]))
    model = _FakeModel(inp, np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.8, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
                       used=["a", "b", "d"])
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
    assert reasons[["feature", "value"]].values.tolist() == [["b", "refused"]]


def test_a_feature_where_higher_is_riskier_is_no_reason_at_zero_or_below():
    inp = _tiny_input()
    riskier = [replace(d, risk_direction=1) if d.name == "d" else d for d in inp.definitions]
    inp = ModelInput(FeatureFrame(inp.tabular.frame, riskier))
    contrib = np.array([[0.0, 0.0, 0.0, 1.0],   # d is 0: nothing lower to move to, no reason
                        [0.0, 0.0, 0.0, 1.0],   # the same
                        [0.0, 0.0, 0.0, 1.0]])  # d is 1: a reason
    model = _FakeModel(inp, contrib, used=["a", "b", "d"])
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
    assert reasons[["row", "feature"]].values.tolist() == [[2, "d"]]


def test_advice_that_would_move_a_value_the_riskier_way_is_not_given():
    """a's advice raises it (improve_direction +1) and its risk direction is not declared. The model's
    typical a is 2: x's 1 costs points for being low, so raising it helps and the advice stays; z's 3
    costs points for being high, so raising it would not. y's a equals the typical value: advice kept."""
    inp = _tiny_input()
    inp = ModelInput(FeatureFrame(inp.tabular.frame, [replace(d, improve_direction=1) if d.name == "a" else d
                                                      for d in inp.definitions]))
    model = _FakeModel(inp, np.array([[1.0, 0.0, 0.0, 0.0]] * 3), used=["a", "b", "d"])
    model.reference_ = {"a": 2.0, "b": 5.0}
    advice = reason_table(model, inp, model.explain(inp), SCALE, top=4)["how_to_improve"].tolist()
    assert advice == ["improve a", "improve a", AGAINST_ADVICE]
    model.reference_ = None  # a model saved before references were stored keeps every advice
    assert reason_table(model, inp, model.explain(inp), SCALE, top=4)["how_to_improve"].tolist() == ["improve a"] * 3
    declared = ModelInput(FeatureFrame(inp.tabular.frame, [replace(d, risk_direction=-1) if d.name == "a" else d
                                                           for d in inp.definitions]))
    model = _FakeModel(declared, np.array([[1.0, 0.0, 0.0, 0.0]] * 3), used=["a", "b", "d"])
    model.reference_ = {"a": 2.0}  # a declared risk direction decides on its own: nothing is taken away
    assert reason_table(model, declared, model.explain(declared), SCALE, top=4)["how_to_improve"].tolist() \
        == ["improve a"] * 3


def test_what_a_dimension_holds_beyond_its_features_is_a_reason_of_its_own():
    inp = _tiny_input()
    model = _FakeModel(inp, np.array([[0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
                       used=["a", "b", "d"])
    ex = model.explain(inp)
    tower = pd.DataFrame(0.0, index=ex.by_dimension.index, columns=DIMENSIONS)
    tower.loc[0, "credit_history"] = 1.0  # a tower's part, in a's dimension
    tower.loc[1, "social_connections"] = 2.0  # no used feature there: "no data", so no reason either
    ex = replace(ex, by_dimension=ex.by_dimension + tower)
    reasons = reason_table(model, inp, ex, SCALE, top=4)
    assert reasons[["row", "rank", "feature", "dimension"]].values.tolist() == [
        [0, 1, "credit_history_as_a_whole", "credit_history"], [0, 2, "a", "credit_history"]]
    assert reasons["points_lost"].tolist() == [72, 36] and reasons["value"].tolist() == [None, 1.0]
    assert reasons["reason"].iloc[0].startswith("your record of keeping commitments read as a whole")
    # a model explained per dimension only (the sequence or graph member alone) names its reasons this way
    alone = reason_table(model, inp, replace(ex, by_feature=None), SCALE, top=4)
    assert alone[["row", "feature"]].values.tolist() == [[0, "credit_history_as_a_whole"]]
    assert alone["points_lost"].tolist() == [108]
    # at most half the places: three dimensions' towers cost more than any feature, two of them are named
    tower.loc[2, ["identity", "fulfilment_capacity", "behaviour_preferences"]] = [3.0, 2.0, 1.0]
    ex = replace(ex, by_dimension=ex.by_dimension + tower)
    third = reason_table(model, inp, replace(ex, by_feature=ex.by_feature.assign(d=[0.0, 0.0, 0.5])), SCALE, top=4)
    assert third.loc[third["row"] == 2, "feature"].tolist() == ["identity_as_a_whole",
                                                                "fulfilment_capacity_as_a_whole", "d"]


def test_a_dimension_as_a_whole_takes_the_advice_of_its_costliest_feature_not_yet_named():
    defs = [FeatureDef(name, Dimension.FULFILMENT_CAPACITY, Source.DERIVED, name, f"text of {name}", f"improve {name}",
                       actionable=name != "fixed")
            for name in ("amount", "length", "fixed")]
    defs.append(FeatureDef("purpose", Dimension.BEHAVIOUR_PREFERENCES, Source.DERIVED, "purpose", "text of purpose",
                           NOT_ACTIONABLE, actionable=False))
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], "as_of": pd.Timestamp("2025-01-01"), "label": [0, 1, 0],
                          "amount": [1.0, 2.0, 3.0], "length": [1.0, 2.0, 3.0], "fixed": [1.0, 1.0, 1.0],
                          "purpose": [1.0, 2.0, 3.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    contrib = np.array([[0.6, 0.3, 0.9, 0.0],   # length costs most among the actionable not yet named (amount is)
                        [0.0, 0.0, 0.0, 0.0],   # no feature costs y anything: the dimension's general advice
                        [0.0, 0.0, 0.0, 0.0]])
    model = _FakeModel(inp, contrib, used=["amount", "length", "fixed", "purpose"])
    ex = model.explain(inp)
    tower = pd.DataFrame(0.0, index=ex.by_dimension.index, columns=DIMENSIONS)
    tower.loc[[0, 1], "fulfilment_capacity"] = 2.0
    tower.loc[2, "behaviour_preferences"] = 2.0  # a dimension with nothing actionable in it: no advice
    reasons = reason_table(model, inp, replace(ex, by_dimension=ex.by_dimension + tower), SCALE, top=3)
    assert reasons.loc[reasons["row"] == 0, "feature"].tolist() == ["fulfilment_capacity_as_a_whole", "fixed", "amount"]
    whole = reasons[reasons["feature"].str.endswith("_as_a_whole")].set_index("row")["how_to_improve"]
    assert whole.loc[0] == "improve length"  # amount is named already; fixed is not actionable
    assert whole.loc[1] == AS_A_WHOLE["fulfilment_capacity"].improve
    assert whole.loc[2] == NOT_ACTIONABLE
    assert "Bring your balance down." not in reasons["how_to_improve"].tolist()
    # length's advice raises it, and x's length lies above the model's typical one: x is not told to
    # raise it further; nothing else actionable costs x anything, so the dimension's general advice
    lengthen = [replace(d, improve_direction=1) if d.name == "length" else d for d in defs]
    model = _FakeModel(ModelInput(FeatureFrame(frame, lengthen)), contrib, used=["amount", "length", "fixed", "purpose"])
    model.reference_ = {"length": 0.5}
    reasons = reason_table(model, inp, replace(ex, by_dimension=ex.by_dimension + tower), SCALE, top=3)
    whole = reasons[reasons["feature"].str.endswith("_as_a_whole")].set_index("row")["how_to_improve"]
    assert whole.loc[0] == AS_A_WHOLE["fulfilment_capacity"].improve


def test_report_card_of_a_real_model(tmp_path):
    ds = simulate_world(tmp_path / "w", people=2000, seed=1, chunk_size=1000)
    inp = build_model_input(ds, views=("tabular",))
    model = GBDTModel(n_estimators=150, learning_rate=0.1, early_stopping_rounds=None).fit(inp.take(np.arange(1500)))
    rows = inp.take(np.arange(1500, 2000))
    card = Scorer(model, SCALE).report(rows)
    p = model.predict_proba(rows)[:, 1]
    assert card[["person_id", "as_of"]].equals(rows.keys)
    assert np.array_equal(card["pd"].to_numpy(), p)
    assert np.array_equal(card["score"].to_numpy(), SCALE.score(p))
    assert np.array_equal(card[DIMENSIONS].sum(axis=1).to_numpy(), card["score"].to_numpy())
    assert set(card["band"]) <= {name for name, _ in SCALE.bands}
    ex = model.explain(rows)
    assert np.abs(ex.logit() - np.log(p / (1 - p))).max() < 1e-6
    named = pd.unique(card[[f"reason_{i}" for i in range(1, 5)]].to_numpy().ravel())
    named = {r for r in named if isinstance(r, str)}
    assert named and named <= set(model.used_features_)
    assert (card["reason_1_points"].dropna() >= card["reason_2_points"].dropna().reindex(
        card["reason_1_points"].dropna().index).fillna(0)).all()
    # the riskiest people have reasons; every reason costs at least a point
    assert card.loc[card["score"] < 550, "reason_1"].notna().all()
    assert (card["reason_1_points"].dropna() >= 1).all()
    quick = Scorer(model, SCALE).report(rows, explain=False)  # scores only: the same numbers, no explanation
    assert list(quick.columns) == ["person_id", "as_of", "pd", "score", "band"]
    assert quick.equals(card[list(quick.columns)])


def test_a_share_that_already_meets_its_advice_is_no_reason():
    """d is a share repaid whose advice ('pay in full') is met at 1: 118% and 100% are no reasons, 60% is."""
    inp = _tiny_input()
    frame = inp.tabular.frame.assign(d=[1.18, 1.0, 0.6])
    repaid = [replace(d, risk_direction=-1, unit="share", met_at=1.0) if d.name == "d" else d
              for d in inp.definitions]
    inp = ModelInput(FeatureFrame(frame, repaid))
    model = _FakeModel(inp, np.array([[0.0, 0.0, 0.0, 1.0]] * 3), used=["a", "b", "d"])
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
    assert reasons[["row", "feature", "value"]].values.tolist() == [[2, "d", "60%"]]


def test_a_reason_on_a_missing_value_says_what_is_missing_and_advises_no_change():
    """x has no connections: c (a share of connections) is missing; the reason reads the feature's own words
    and no advice to change a value x does not have; the dimension as a whole does not borrow c's advice."""
    inp = _tiny_input()
    frame = inp.tabular.frame.assign(c=[np.nan, 0.5, 0.5])
    shares = [replace(d, missing="no connections on record") if d.name == "c" else d for d in inp.definitions]
    inp = ModelInput(FeatureFrame(frame, shares))
    model = _FakeModel(inp, np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0] * 4]),
                       used=["a", "b", "c", "d"])
    reasons = reason_table(model, inp, model.explain(inp), SCALE, top=4)
    assert reasons[["row", "value", "how_to_improve"]].values.tolist() == [
        [0, "no connections on record", MISSING_ADVICE], [1, 0.5, "improve c"]]
    card = Scorer(model, SCALE, top=1).report(inp)
    assert card["reason_1_value"].iloc[0] == "no connections on record"
    # a social tower's part, the one reason of x and y (top=1): it borrows the advice of c where c is known
    # (y), the dimension's general advice where c is missing (x), not advice to change what x does not have
    ex = model.explain(inp)
    tower = pd.DataFrame(0.0, index=ex.by_dimension.index, columns=DIMENSIONS)
    tower.loc[[0, 1], "social_connections"] = 2.0
    whole = reason_table(model, inp, replace(ex, by_dimension=ex.by_dimension + tower), SCALE, top=1)
    assert whole[["row", "feature", "how_to_improve"]].values.tolist() == [
        [0, "social_connections_as_a_whole", AS_A_WHOLE["social_connections"].improve],
        [1, "social_connections_as_a_whole", "improve c"]]


def test_a_dimension_as_a_whole_shows_the_persons_most_telling_figure_of_it():
    """Two items never returned are named beside "your record ... read as a whole", with their advice."""
    defs = [FeatureDef("late", Dimension.CREDIT_HISTORY, Source.DERIVED, "late", "late returns in 90 days",
                       "improve late", risk_direction=1),
            FeatureDef("lost", Dimension.CREDIT_HISTORY, Source.DERIVED, "lost", "items never returned",
                       "improve lost", risk_direction=1),
            FeatureDef("tenure", Dimension.CREDIT_HISTORY, Source.DERIVED, "tenure", "months with us",
                       "improve tenure", risk_direction=-1, actionable=False)]
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], "as_of": pd.Timestamp("2025-01-01"), "label": [1, 0, 1],
                          "late": [3.0, 0.0, 1.0], "lost": [2.0, 0.0, 0.0], "tenure": [20.0, 20.0, 1.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    model = _FakeModel(inp, np.zeros((3, 3)), used=["late", "lost", "tenure"])
    ex = model.explain(inp)
    tower = pd.DataFrame(0.0, index=ex.by_dimension.index, columns=DIMENSIONS)
    tower["credit_history"] = 2.0  # the sequence member alone: everything per dimension
    ex = replace(ex, by_feature=None, by_dimension=ex.by_dimension + tower)
    model.reference_ = {"late": 0.5, "lost": 0.0, "tenure": 20.0}
    model.spread_ = {"late": 2.0, "lost": 0.5, "tenure": 8.0}
    reasons = reason_table(model, inp, ex, SCALE, top=4).set_index("row")
    assert reasons.loc[0, "value"] == "items never returned: 2"  # 4 spreads beyond typical, late only 1.25
    assert reasons.loc[0, "how_to_improve"] == "improve lost"
    assert pd.isna(reasons.loc[1, "value"])  # y is typical everywhere: no figure to tell
    assert reasons.loc[1, "how_to_improve"] == AS_A_WHOLE["credit_history"].improve
    assert reasons.loc[2, "value"] == "months with us: 1"  # 2.4 spreads short; not actionable: general advice
    assert reasons.loc[2, "how_to_improve"] == AS_A_WHOLE["credit_history"].improve
    model.spread_ = None  # an artifact saved before spreads were stored tells none
    assert reason_table(model, inp, ex, SCALE, top=4)["value"].isna().all()


def test_a_telling_figure_is_not_one_the_person_already_reads_as_a_reason_of_its_own():
    defs = [FeatureDef("late", Dimension.CREDIT_HISTORY, Source.DERIVED, "late", "late returns in 90 days",
                       "improve late", risk_direction=1),
            FeatureDef("lost", Dimension.CREDIT_HISTORY, Source.DERIVED, "lost", "items never returned",
                       "improve lost", risk_direction=1)]
    frame = pd.DataFrame({"person_id": ["x"], "as_of": pd.Timestamp("2025-01-01"), "label": [1],
                          "late": [3.0], "lost": [2.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    model = _FakeModel(inp, np.array([[0.0, 0.5]]), used=["late", "lost"])  # lost is a reason of its own
    ex = model.explain(inp)
    tower = pd.DataFrame(0.0, index=ex.by_dimension.index, columns=DIMENSIONS)
    tower["credit_history"] = 2.0
    model.reference_, model.spread_ = {"late": 0.5, "lost": 0.0}, {"late": 2.0, "lost": 0.5}
    reasons = reason_table(model, inp, replace(ex, by_dimension=ex.by_dimension + tower), SCALE, top=4)
    whole = reasons[reasons["feature"] == "credit_history_as_a_whole"].iloc[0]
    assert "lost" in reasons["feature"].tolist()
    assert whole["value"] == "late returns in 90 days: 3" and whole["how_to_improve"] == "improve late"
