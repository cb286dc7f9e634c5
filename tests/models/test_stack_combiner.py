"""The stack's combiner: never below its best member, chosen on training rows only, recorded with why."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models import stack as stack_module
from deepcredit.models.base import DIMENSIONS, CreditModel, Explanation
from deepcredit.models.stack import StackModel

SIGNAL = FeatureDef("x", Dimension.CREDIT_HISTORY, Source.PROFILE, "x", "x", "x", risk_direction=1)


class _Signal(CreditModel):
    """A strong member: logistic regression on the one informative column."""

    kind = "signal"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, inp, y=None):
        self.lr_ = LogisticRegression().fit(inp.X[["x"]].to_numpy(), inp.y)
        return self

    def decision_function(self, inp):
        return self.lr_.decision_function(inp.X[["x"]].to_numpy()).astype(np.float64)

    def explain(self, inp):
        contrib = self.lr_.coef_[0, 0] * inp.X[["x"]].to_numpy()[:, 0]
        base = np.full(len(inp), float(self.lr_.intercept_[0]))
        return Explanation.from_features(base, pd.DataFrame({"x": contrib}), [SIGNAL],
                                         decision=base + contrib)

    def to_files(self):  # pragma: no cover - not saved here
        return {}

    @classmethod
    def from_files(cls, files, params):  # pragma: no cover
        raise NotImplementedError


class _Noise(_Signal):
    """A useless member: a fixed pseudo-random logit per (person, as_of, seed), whatever it was fitted on."""

    kind = "noise"

    def fit(self, inp, y=None):
        return self

    def decision_function(self, inp):
        keys = inp.keys
        text = keys["person_id"].astype(str) + "|" + keys["as_of"].astype(str) + f"|{self.seed}"
        u = np.array([zlib.crc32(t.encode()) for t in text], dtype=np.float64) / 2**32
        return 3.0 * (u - 0.5)

    def explain(self, inp):
        z = self.decision_function(inp)
        dims = pd.DataFrame(0.0, index=pd.RangeIndex(len(inp)), columns=DIMENSIONS)
        dims[Dimension.BEHAVIOUR_PREFERENCES.value] = z
        return Explanation(np.zeros(len(inp)), dims, None, z)


class _Overconfident(_Signal):
    """The strong member with its logit stretched: the same ranking, a badly calibrated PD."""

    kind = "overconfident"

    def decision_function(self, inp):
        return 4.0 * super().decision_function(inp) + 1.0


class _Noise2(_Noise):
    kind = "noise2"

    def decision_function(self, inp):
        return super().decision_function(inp) * -0.7 + 0.1


def _world(people: int, dates: int, seed: int) -> ModelInput:
    """People at `dates` quarterly as-of dates; the default logit is 1.3 x - 2 (x drifts per person)."""
    rng = np.random.default_rng(seed)
    person = np.repeat([f"p{i:05d}" for i in range(people)], dates)
    as_of = np.tile(pd.date_range("2024-01-01", periods=dates, freq="QS").to_numpy(), people)
    x = np.repeat(rng.standard_normal(people), dates) + 0.5 * rng.standard_normal(people * dates)
    label = (rng.random(people * dates) < 1 / (1 + np.exp(-(1.3 * x - 2.0)))).astype(np.int64)
    frame = pd.DataFrame({"person_id": person, "as_of": as_of, "x": x, "label": label})
    return ModelInput(FeatureFrame(frame, [SIGNAL]))


@pytest.fixture()
def fake_members(monkeypatch):
    real = stack_module.available_kinds()
    monkeypatch.setattr(stack_module, "available_kinds",
                        lambda: {**real, "signal": _Signal, "noise": _Noise, "noise2": _Noise2,
                                                   "overconfident": _Overconfident})


@pytest.mark.parametrize("dates", [1, 4])
def test_stack_is_never_below_its_best_member(fake_members, dates):
    inp = _world(people=3000 // dates, dates=dates, seed=dates)
    as_of = inp.keys["as_of"]
    # one date: a third of the people held out; several: deployment order, the last date held out
    test = np.arange(len(inp)) % 3 == 0 if dates == 1 else (as_of == as_of.max()).to_numpy()
    train, held = inp.take(np.flatnonzero(~test)), inp.take(np.flatnonzero(test))
    stack = StackModel(members=("noise", "signal", "noise2"), n_folds=3, seed=0).fit(train)
    logits = stack.member_logits(held)
    best = max(roc_auc_score(held.y, logits[k]) for k in logits)
    auc = roc_auc_score(held.y, stack.predict_proba(held)[:, 1])
    assert auc >= best - 0.002
    c = stack.metrics_["combiner"]
    assert c["chosen"] in ("blend", "signal") and set(c["validation_auc"]) == {"blend", "noise", "signal", "noise2"}
    assert c["why"] and c["validation_rows"] > 0
    if c["chosen"] == "signal":  # the fallback: every other weight is 0
        assert stack.metrics_["meta_weights"]["noise"] == stack.metrics_["meta_weights"]["noise2"] == 0.0
    # explanations still add up to the stack's logit
    ex = stack.explain(held)
    assert np.abs(ex.logit() - stack.decision_function(held)).max() < 1e-6


def test_a_stack_of_noise_and_signal_falls_back_to_the_signal_when_the_blend_gains_nothing(fake_members):
    inp = _world(people=2000, dates=1, seed=7)
    stack = StackModel(members=("noise", "signal"), n_folds=3, min_gain=0.05, seed=0).fit(inp)
    assert stack.metrics_["combiner"]["chosen"] == "signal"
    assert stack.metrics_["meta_weights"]["noise"] == 0.0 and stack.metrics_["meta_weights"]["signal"] > 0
    assert "falls back" in stack.metrics_["combiner"]["why"]


# the ten small worlds on which log loss, unlike the ECE, never asked to recalibrate (models/stack.py
# _pass_through), and a larger dated one
WORLDS = [(2000 // d, d, s) for d in (1, 4) for s in range(5)] + [(2000, 4, 5)]


@pytest.mark.parametrize(("people", "dates", "seed"), WORLDS)
def test_a_fallback_to_a_calibrated_member_gives_its_own_pd(fake_members, people, dates, seed):
    inp = _world(people=people, dates=dates, seed=seed)
    stack = StackModel(members=("noise", "signal"), n_folds=3, min_gain=0.05, seed=0).fit(inp)
    assert stack.metrics_["combiner"]["chosen"] == "signal"
    assert stack.metrics_["combiner"]["member_own_pd"] == "yes"
    member = stack.member_logits(inp)["signal"].to_numpy()
    assert np.array_equal(stack.decision_function(inp), member)
    ex = stack.explain(inp)
    assert np.abs(ex.logit() - member).max() < 1e-9


def test_a_fallback_to_a_miscalibrated_member_is_recalibrated(fake_members):
    inp = _world(people=2000, dates=1, seed=5)
    stack = StackModel(members=("noise", "overconfident"), n_folds=3, min_gain=0.05, seed=0).fit(inp)
    c = stack.metrics_["combiner"]
    assert c["chosen"] == "overconfident" and c["member_own_pd"].startswith("no: calibrating lowers its out-of-fold log loss")
    p = stack.predict_proba(inp)[:, 1]
    own = 1 / (1 + np.exp(-stack.member_logits(inp)["overconfident"].to_numpy()))
    assert abs(p.mean() - inp.y.mean()) < abs(own.mean() - inp.y.mean())


def test_without_a_member_equals_refitting_without_it(fake_members):
    inp = _world(people=1500, dates=1, seed=3)
    full = StackModel(members=("signal", "noise"), n_folds=3, seed=0).fit(inp)
    less = full.without(["noise"])
    alone = StackModel(members=("signal",), n_folds=3, seed=0).fit(inp)
    assert [k for k, _ in less.members_] == ["signal"]
    assert np.allclose(less.decision_function(inp), alone.decision_function(inp))
    assert less.metrics_["combiner"]["chosen"] == "signal" and [k for k, _ in full.members_] == ["signal", "noise"]
    with pytest.raises(ValueError, match="no member"):
        full.without(["signal", "noise"])


def test_a_gain_within_its_standard_error_keeps_the_best_member(fake_members):
    inp = _world(people=600, dates=1, seed=11)  # small: the noise member's apparent gain is within noise
    stack = StackModel(members=("noise", "signal"), n_folds=3, min_gain_se=1.0, seed=0).fit(inp)
    c = stack.metrics_["combiner"]
    assert c["gain_standard_error"] > 0 and c["chosen"] == "signal" and "standard error" in c["why"]
    off = StackModel(members=("noise", "signal"), n_folds=3, seed=0).fit(inp)  # off by default
    assert off.metrics_["combiner"]["gain_standard_error"] == 0.0


def test_the_paired_standard_error_shrinks_with_more_rows():
    rng = np.random.default_rng(0)
    ses = []
    for n in (300, 30_000):
        y = rng.integers(0, 2, n)
        a, b = y + rng.normal(0, 2, n), y + rng.normal(0, 2, n)
        ses.append(stack_module._paired_auc_se(y, a, b, seed=0, people=np.arange(n)))
    assert ses[1] < ses[0] / 5


def test_the_paired_standard_error_resamples_people_not_rows():
    """Audit P7: each person's four rows at four as-of dates are one draw, not four: resampling rows
    halved the standard error of a gain measured on people seen four times."""
    rng = np.random.default_rng(1)
    n = 2_000
    y = rng.integers(0, 2, n)
    a, b = y + rng.normal(0, 2, n), y + rng.normal(0, 2, n)
    once = stack_module._paired_auc_se(y, a, b, seed=0, people=np.arange(n))
    four = [np.tile(v, 4) for v in (y, a, b)]
    by_person = stack_module._paired_auc_se(*four, seed=0, people=np.tile(np.arange(n), 4))
    by_row = stack_module._paired_auc_se(*four, seed=0, people=np.arange(4 * n))
    assert by_person == pytest.approx(once, rel=0.25) and by_row < 0.7 * by_person


class _Settling(_Signal):
    """The true logit, stretched 3x before 2025-01-01 and exact after: a member whose calibration was fixed."""

    kind = "settling"

    def fit(self, inp, y=None):
        return self

    def decision_function(self, inp):
        z = 1.3 * inp.X["x"].to_numpy() - 2.0
        early = (pd.to_datetime(inp.keys["as_of"]) < "2025-01-01").to_numpy()
        return np.where(early, 3.0 * z + 1.0, z)


def test_a_dated_fallback_judges_recalibration_on_later_periods(monkeypatch):
    # pooled over every period, a calibrator shrinking the early stretch lowers the log loss; fitted on earlier
    # periods and judged on later ones, as it would be used, it stretches PDs that are right: own PD kept
    real = stack_module.available_kinds()
    monkeypatch.setattr(stack_module, "available_kinds", lambda: {**real, "noise": _Noise, "settling": _Settling})
    inp = _world(people=1000, dates=8, seed=2)
    stack = StackModel(members=("noise", "settling"), n_folds=3, min_gain=0.05, seed=0).fit(inp)
    c = stack.metrics_["combiner"]
    assert c["chosen"] == "settling" and c["member_own_pd"] == "yes"


def test_a_negative_min_gain_keeps_the_blend_whatever_its_gain(fake_members):
    """Audit W: `max(min_gain, 0 x se)` turned a negative min_gain into 0, so it could never force a blend."""
    inp = _world(people=600, dates=1, seed=11)
    stack = StackModel(members=("noise", "signal"), n_folds=3, min_gain=-1.0, seed=0).fit(inp)
    assert stack.metrics_["combiner"]["chosen"] == "blend"
