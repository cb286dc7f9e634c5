"""The stack: out-of-fold members, a calibrated meta-model, exact explanations, bit-exact artifacts."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from fold_leaks import check_folds
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.models import stack as stack_module
from deepcredit.models.artifacts import ArtifactError, load_artifact
from deepcredit.models.base import DIMENSIONS, CreditModel, MemberCannotFit, load_model, save_model
from deepcredit.models.calibration import Calibrator, expected_calibration_error
from deepcredit.models.splits import stacking_folds
from deepcredit.models.stack import (
    ALL_MEMBERS,
    MemberUnavailable,
    StackModel,
    available_kinds,
    default_members,
    make_member,
)

CARD_FEATURES = ["identity_verified", "n_bad_365d", "bad_rate", "days_since_last_bad", "neighbour_bad_rate"]
PARAMS = {"scorecard": {"features": CARD_FEATURES},
          "gbdt": {"n_estimators": 200, "learning_rate": 0.1, "early_stopping_rounds": 20}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    ds = simulate_world(root / "w", people=2000, seed=1, chunk_size=1000)
    inp = build_model_input(ds, views=("tabular",))
    perm = np.random.default_rng(0).permutation(len(inp))
    train, test = np.sort(perm[:1400]), np.sort(perm[1400:])
    steps: list[tuple[str, int, int]] = []
    model = StackModel(members=("scorecard", "gbdt"), member_params=PARAMS, n_folds=3, seed=0).fit(
        inp.take(train), on_progress=lambda k, i, n: steps.append((k, i, n)))
    return {"root": root, "inp": inp, "train": train, "test": test, "model": model, "steps": steps}


def test_fits_members_out_of_fold_and_predicts(world):
    inp, model = world["inp"], world["model"]
    assert [k for k, _ in model.members_] == ["scorecard", "gbdt"]
    assert (model.meta_weights_ >= 0).all() and model.meta_weights_.sum() > 0
    # the one way to a combination's members: kind, fitted model and weight; a member itself has none
    assert [(m.kind, m.model, m.weight) for m in model.fitted_members()] == \
        [(k, member, w) for (k, member), w in zip(model.members_, model.meta_weights_, strict=True)]
    assert all(m.model.fitted_members() == [] for m in model.fitted_members())
    assert StackModel().fitted_members() == []
    m = model.metrics_
    assert m["oof_rows"] == len(world["train"]) and m["folds"] == 3
    assert set(m["oof_auc"]) == {"scorecard", "gbdt", "stack"}
    assert 0 <= m["oof_ece_after_calibration"] < 0.1
    assert world["steps"][-1] == ("gbdt", 4, 4) and ("scorecard", 0, 4) in world["steps"]
    held_out = inp.take(world["test"])
    p = model.predict_proba(held_out)
    assert p.shape == (len(held_out), 2) and np.allclose(p.sum(axis=1), 1.0)
    assert roc_auc_score(held_out.y, p[:, 1]) > 0.65
    # the out-of-fold table: every training row, each member's logit from a fit that did not see it
    assert len(model.oof_) == len(world["train"]) and not model.oof_[["scorecard", "gbdt"]].isna().any().any()


def test_the_folds_the_stack_uses_never_leak(world):
    inp = world["inp"].take(world["train"])
    check_folds(inp.keys, stacking_folds(inp.keys, inp.y, 3, 0))
    # several as-of dates: the same person at three dates, folds are time-aware and grouped
    keys = pd.concat([inp.keys.assign(as_of=pd.Timestamp(d)) for d in ("2025-01-01", "2025-04-01", "2025-07-01")],
                     ignore_index=True)
    folds = stacking_folds(keys, np.tile(inp.y, 3), 3, 0, time_groups=2)
    check_folds(keys, folds)
    check_folds(keys, stacking_folds(keys, np.tile(inp.y, 3), 3, 0), grouped=False)  # the default
    assert all(keys["as_of"].iloc[f.train].max() < keys["as_of"].iloc[f.predict].min() for f in folds)


def test_explanation_adds_up_to_the_calibrated_logit(world):
    inp, model = world["inp"], world["model"]
    rows = inp.take(world["test"])
    ex = model.explain(rows)
    p = model.predict_proba(rows)[:, 1]
    assert list(ex.by_dimension.columns) == DIMENSIONS
    assert np.abs(ex.logit() - np.log(p / (1 - p))).max() < 1e-6
    assert np.array_equal(ex.decision, model.decision_function(rows))  # the exact score, bit for bit
    assert set(ex.by_feature.columns) <= {d.name for d in inp.definitions}
    assert set(model.used_features_) <= set(ex.by_feature.columns)
    # before calibration the dimensions are exactly the weighted members' dimensions: signs survive
    members = [m.explain(rows).by_dimension.to_numpy() for _, m in model.members_]
    raw = sum(w * d for w, d in zip(model.meta_weights_, members, strict=True))
    same_sign = np.sign(raw) == np.sign(ex.by_dimension.to_numpy())
    assert same_sign[np.abs(raw) > 1e-9].all()


def test_round_trip_is_bit_exact_and_tampering_is_refused(world):
    inp, model = world["inp"], world["model"]
    art = save_model(model, world["root"] / "stack_art", inp.take(world["train"]), metrics=model.metrics_)
    loaded = load_model(art)
    assert isinstance(loaded, StackModel) and [k for k, _ in loaded.members_] == ["scorecard", "gbdt"]
    assert [(m.kind, m.weight) for m in loaded.fitted_members()] == \
        [(m.kind, m.weight) for m in model.fitted_members()]
    assert np.array_equal(loaded.predict_proba(inp), model.predict_proba(inp))
    a, b = loaded.explain(inp), model.explain(inp)
    assert np.array_equal(a.by_dimension.to_numpy(), b.by_dimension.to_numpy())
    assert loaded.used_features_ == model.used_features_

    target = art / "stack.json"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x20
    target.write_bytes(bytes(data))
    with pytest.raises(ArtifactError):
        load_model(art)


def test_members_that_do_not_exist_or_lack_their_view(world):
    inp = world["inp"].take(world["train"][:400])
    assert set(default_members()) <= set(available_kinds()) and set(default_members()) <= set(ALL_MEMBERS)
    with pytest.raises(MemberUnavailable, match="no_such_member"):
        StackModel(members=("gbdt", "no_such_member")).fit(inp)
    if "graph" in available_kinds():  # no structural view in this bundle: skipped with a warning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = StackModel(members=("gbdt", "graph"), member_params={"gbdt": PARAMS["gbdt"]}, n_folds=2).fit(inp)
        assert [k for k, _ in model.members_] == ["gbdt"] and "graph" in model.metrics_["skipped"]
        assert any("skipping member 'graph'" in str(w.message) for w in caught)


class _NeverFits(CreditModel):
    """A member that can never be fitted on any data (as a scorecard with no characteristic above IV)."""

    kind = "never_fits"

    def fit(self, inp, y=None):
        raise MemberCannotFit("never_fits: no characteristic reaches IV 0.02")

    def decision_function(self, inp):  # pragma: no cover - never fitted
        raise AssertionError

    explain = to_files = decision_function

    @classmethod
    def from_files(cls, files, params):  # pragma: no cover
        raise AssertionError


def test_a_member_that_cannot_fit_leaves_the_stack_with_a_recorded_reason(world, monkeypatch, tmp_path, caplog):
    real = stack_module.available_kinds()
    monkeypatch.setattr(stack_module, "available_kinds", lambda: {**real, "never_fits": _NeverFits})
    inp = world["inp"].take(world["train"][:600])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = StackModel(members=("never_fits", "gbdt"), member_params={"gbdt": PARAMS["gbdt"]},
                           n_folds=2).fit(inp)
    assert [k for k, _ in model.members_] == ["gbdt"]
    assert "no characteristic reaches IV" in model.metrics_["skipped"]["never_fits"]
    assert "never_fits" in caplog.text  # logged, not only warned
    art = save_model(model, tmp_path / "m", inp, metrics=model.metrics_)
    assert "never_fits" in load_artifact(art).manifest["metrics"]["skipped"]  # the artifact records why
    with warnings.catch_warnings(), pytest.raises(ValueError, match="no member could be fitted.*never_fits"):
        warnings.simplefilter("ignore")
        StackModel(members=("never_fits",), n_folds=2).fit(inp)


def test_member_params_reach_the_member():
    card = make_member("scorecard", {"iv_min": 0.01})
    assert card.get_params()["iv_min"] == 0.01
    assert make_member("gbdt", {"n_estimators": 7}, seed=3).get_params()["seed"] == 3
    with pytest.raises(ValueError, match="no_such_param"):
        make_member("gbdt", {"no_such_param": 1})


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("scorecard", {"iv_min": "abc"}, "member 'scorecard', parameter 'iv_min': expected float, got the text 'abc'"),
    ("scorecard", {"iv_min": "0.1"}, "parameter 'iv_min': expected float, got the text '0.1'"),  # quoted in a file
    ("scorecard", {"monotonic": "yes"}, "parameter 'monotonic': expected bool, got the text 'yes'"),
    ("scorecard", {"max_n_bins": 2.5}, "parameter 'max_n_bins': expected int | None, got 2.5 (float)"),
    ("gbdt", {"n_estimators": "300"}, "member 'gbdt', parameter 'n_estimators': expected int"),
])
def test_a_member_parameter_of_the_wrong_type_is_named_before_fitting(kind, params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_member(kind, params)


def test_member_parameters_of_the_right_type_pass_and_every_default_does():
    make_member("scorecard", {"iv_min": 1, "max_n_bins": None, "special_codes": [-1, -2], "monotonic": False})
    for kind, cls in stack_module.available_kinds().items():
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if name in cls._get_param_names() and param.default not in (inspect.Parameter.empty, None):
                assert stack_module.param_type_problem(cls, name, param.default) is None, (kind, name)


def test_calibrators_keep_the_ranking_and_calibrate():
    rng = np.random.default_rng(0)
    z = rng.normal(-2.0, 1.2, 20_000)
    y = (rng.random(z.size) < expit(0.7 * z - 0.4)).astype(int)
    grid = np.linspace(-12, 8, 500)
    for method in ("isotonic", "platt"):
        cal = Calibrator(method).fit(z, y)
        assert (np.diff(cal.transform(grid)) > 0).all()  # strictly increasing: no ties, no lost AUC
        assert expected_calibration_error(y, cal.predict(z)) < expected_calibration_error(y, expit(z))
        again = Calibrator.from_dict(cal.to_dict())
        assert np.array_equal(again.transform(grid), cal.transform(grid))
    assert Calibrator("isotonic").fit(z, y).predict(np.array([-50.0]))[0] > 0  # never a PD of exactly 0
    identity = Calibrator.from_dict(Calibrator("none").to_dict())  # a stack that keeps its member's own PD
    assert identity.method == "none" and np.array_equal(identity.transform(grid), grid)


def test_expected_calibration_error_by_hand():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.1, 0.6, 0.8])
    # two quantile bins: {0.1, 0.1} vs labels {0, 0}: gap 0.1; {0.6, 0.8} vs {1, 1}: gap 0.3
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx((2 * 0.1 + 2 * 0.3) / 4)


def test_several_as_of_dates_fit_time_aware(world):
    """With two as-of dates, only the later one gets out-of-fold logits, from fits on the earlier one."""
    inp = world["inp"]
    frame = inp.tabular.frame.copy()
    later = (np.arange(len(frame)) % 3) == 0
    frame.loc[later, "as_of"] = frame.loc[later, "as_of"] + pd.Timedelta(days=90)
    dated = ModelInput(FeatureFrame(frame, inp.definitions, inp.tabular.meta), rows=world["train"])
    model = StackModel(members=("gbdt",), member_params=PARAMS, n_folds=3).fit(dated)
    is_later = later[world["train"]]
    assert model.metrics_["oof_rows"] == is_later.sum()
    assert model.oof_["gbdt"].notna().to_numpy().tolist() == is_later.tolist()
    assert model.metrics_["folds"] == 1  # one time block, fitted on every earlier row
    grouped = StackModel(members=("gbdt",), member_params=PARAMS, n_folds=3, time_groups=2).fit(dated)
    assert grouped.metrics_["folds"] == 2  # one time block x two person groups


def test_person_folds_across_dates_are_told_to_the_user(world):
    """Audit P4: two as-of dates 90 days apart with 400-day performance windows: no outcome is known by the
    later date, so the stack folds over people, training on later dates too; the fit says so (train prints
    it), where time folds (windows shorter than the gap) say nothing."""
    inp = world["inp"]
    frame = inp.tabular.frame.copy()
    later = (np.arange(len(frame)) % 3) == 0
    frame.loc[later, "as_of"] = frame.loc[later, "as_of"] + pd.Timedelta(days=90)
    as_of = frame["as_of"].to_numpy()
    long = ModelInput(FeatureFrame(frame, inp.definitions, inp.tabular.meta),
                      known_at=as_of + np.timedelta64(400, "D"), rows=world["train"])
    model = StackModel(members=("gbdt",), member_params=PARAMS, n_folds=3).fit(long)
    assert any("person folds across 2 as-of dates" in note for note in model.fit_notes())
    short = ModelInput(FeatureFrame(frame, inp.definitions, inp.tabular.meta),
                       known_at=as_of + np.timedelta64(30, "D"), rows=world["train"])
    assert not any("person folds" in note
                   for note in StackModel(members=("gbdt",), member_params=PARAMS, n_folds=3).fit(short).fit_notes())


def test_fold_members_settle_automatic_choices_on_every_training_row(world, monkeypatch):
    """Audit P5: whether the scorecard uses its small-data settings was decided inside each fit, so a fold
    (fewer rows of the rarer outcome) could fit the small-data card while the refit that scores did not."""
    from deepcredit.models import scorecard as scorecard_module

    train = world["inp"].take(world["train"])
    rarer = int(min(train.y.sum(), len(train.y) - train.y.sum()))
    monkeypatch.setattr(scorecard_module, "SMALL_DATA_MAX_RARER", rarer - 1)  # the folds have fewer, all do not
    used: list[bool] = []
    fit = scorecard_module.ScorecardModel.fit

    def spy(self, *args, **kwargs):
        out = fit(self, *args, **kwargs)
        used.append(bool(self.small_data_))
        return out

    monkeypatch.setattr(scorecard_module.ScorecardModel, "fit", spy)
    StackModel(members=("scorecard",), n_folds=3, seed=0, n_jobs=1).fit(train)
    assert used == [False] * 4  # three folds and the refit: one card
    assert scorecard_module.ScorecardModel().settled_params(train.y) == {"small_data": "never"}
    assert scorecard_module.ScorecardModel(small_data="always").settled_params(train.y) == {}


def test_the_refit_members_train_as_long_as_their_folds_did(world):
    """Audit F6: the member that scores stopped early on its own 15% of the rows (a sequence net at epoch 4
    where the folds, whose out-of-fold PDs the calibration judged, went to ~8): its PDs stopped at 0.13."""
    model = world["model"]
    length = model.metrics_["refit_length"]
    gbdt = dict(model.members_)["gbdt"]
    assert length["scorecard"] == {}
    assert length["gbdt"]["early_stopping_rounds"] is None and 1 <= length["gbdt"]["n_estimators"] < 200
    assert gbdt.booster_.num_trees() == length["gbdt"]["n_estimators"]  # every row, no early stopping
    spread = model.metrics_["pd_spread"]
    assert set(spread) == {"out_of_fold", "refit_in_sample"} and 0 < spread["out_of_fold"]["p99"] <= 1


def test_refit_length_is_the_folds_median_rounded_up():
    folds = [{"max_epochs": e, "val_fraction": 0.0} for e in (4, 8, 9)]
    assert stack_module.refit_length(folds) == {"max_epochs": 8, "val_fraction": 0.0}
    assert stack_module.refit_length(folds[:2]) == {"max_epochs": 6, "val_fraction": 0.0}
    assert stack_module.refit_length([*folds, {}]) == {}  # a fold that did not stop early: its own defaults


def test_the_reports_member_rows_of_a_stack_and_of_a_single_model(world):
    """Pinned: the evaluation report's member rows (pipeline._member_pds) are a stack's members' PDs as the
    stack reads them (member_logits: kind and order of its members), and a single model has none."""
    from types import SimpleNamespace

    from deepcredit.evaluation.pipeline import _member_pds
    from deepcredit.models.base import proba_columns

    model, inp = world["model"], world["inp"].take(world["test"])
    pds = _member_pds(SimpleNamespace(model=model), inp)
    logits = model.member_logits(inp)
    assert list(pds) == ["member: scorecard", "member: gbdt"] == [f"member: {k}" for k in logits.columns]
    for kind in ("scorecard", "gbdt"):
        np.testing.assert_array_equal(pds[f"member: {kind}"], proba_columns(logits[kind].to_numpy())[:, 1])
        assert len(pds[f"member: {kind}"]) == len(inp)
    for single in (m.model for m in model.fitted_members()):
        assert _member_pds(SimpleNamespace(model=single), inp) == {}


def test_every_model_answers_for_its_members_logits(world):
    """The model contract, not the stack alone, answers member_logits: a single model with no columns (one row
    per input row), a stack with one per member; so the evaluation layer asks any model the same question."""
    model, inp = world["model"], world["inp"].take(world["test"][:50])
    for single in (m.model for m in model.fitted_members()):
        frame = single.member_logits(inp)
        assert isinstance(frame, pd.DataFrame) and list(frame.columns) == [] and len(frame) == 50
    assert list(model.member_logits(inp).columns) == ["scorecard", "gbdt"]
