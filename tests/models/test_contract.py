"""What every model kind shares through models/base.py: labels checked once, a ModelInput required, the
same 'call fit first', scikit-learn's predict / classes_, and numeric features refused when held as text."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.models.base import fit_labels, load_model, save_model
from deepcredit.models.stack import StackModel, make_member

MEMBERS = {"scorecard": {"features": ["n_bad_365d", "bad_rate", "days_since_last_bad"]},
           "gbdt": {"n_estimators": 20, "early_stopping_rounds": None, "min_child_samples": 10},
           "sequence": {"max_epochs": 1, "hidden": 8, "head_hidden": 8},
           "wide_deep": {"max_epochs": 1, "hidden": (8,)},
           "graph": {"max_epochs": 1, "hidden": 8},
           "hybrid": {"max_epochs": 1, "seq_hidden": 8, "aggregate_hidden": 8, "hidden": (8,)}}
NAMES = {"sequence": "sequence model", "graph": "graph model"}
"""How a kind names itself in its messages, where that is not its kind."""
TABULAR = ["scorecard", "gbdt", "wide_deep", "graph", "hybrid"]
"""The kinds that read the tabular features."""


@pytest.fixture(scope="module")
def inp(tmp_path_factory) -> ModelInput:
    ds = simulate_world(tmp_path_factory.mktemp("contract") / "w", people=400, seed=2, chunk_size=400)
    return build_model_input(ds, views=("tabular", "temporal", "structural"), threads=1)


def with_frame(inp: ModelInput, frame: pd.DataFrame) -> ModelInput:
    return replace(inp, tabular=replace(inp.tabular, frame=frame))


def model(kind: str):
    if kind == "stack":
        return StackModel(members=["gbdt"], member_params={"gbdt": MEMBERS["gbdt"]}, n_folds=2, n_jobs=1)
    return make_member(kind, MEMBERS[kind], seed=1)


@pytest.mark.parametrize("kind", [*MEMBERS, "stack"])
def test_rows_without_a_label_are_refused_by_every_model(inp, kind):
    frame = inp.tabular.frame.copy()
    frame["label"] = frame["label"].astype("Int64")
    frame.loc[frame.index[-30:], "label"] = pd.NA
    first = frame.iloc[-30]
    with pytest.raises(ValueError, match=rf"30 of {len(frame)} rows have no label \(the first: person "
                                         rf"{first['person_id']} as of"):
        model(kind).fit(with_frame(inp, frame))


@pytest.mark.parametrize("kind", MEMBERS)
def test_labels_given_beside_the_input_are_checked_by_every_member(inp, kind):
    y = inp.y.astype(float)
    y[5] = np.nan
    with pytest.raises(ValueError, match=r"the label must be 0 \(good\) or 1 \(bad\)"):
        model(kind).fit(inp, y)


def test_fit_labels_say_what_is_wrong(inp):
    y = inp.y
    assert np.array_equal(fit_labels(inp, None, "m"), y) and np.array_equal(fit_labels(inp, y.astype(float), "m"), y)
    with pytest.raises(ValueError, match=r"m: .* 1 of \d+ labels are missing or other values \(first at row 3\)"):
        fit_labels(inp, np.where(np.arange(len(y)) == 3, 2, y), "m")
    with pytest.raises(ValueError, match="m: 2 labels for"):
        fit_labels(inp, [0, 1], "m")
    with pytest.raises(ValueError, match="need both outcomes"):
        fit_labels(inp, np.zeros(len(y)), "m")


@pytest.mark.parametrize("kind", [*MEMBERS, "stack"])
def test_a_dataframe_is_refused_with_how_to_build_a_model_input(inp, kind):
    m = model(kind)
    for call in (lambda: m.fit(inp.X, inp.y), lambda: m.predict_proba(inp.X), lambda: m.explain(inp.X)):
        with pytest.raises(TypeError, match=r"expected a ModelInput \(build one .*build_model_input.*got DataFrame"):
            call()


@pytest.mark.parametrize("kind", [*MEMBERS, "stack"])
def test_an_unfitted_model_says_call_fit_first_and_names_itself(inp, kind):
    with pytest.raises(RuntimeError, match=rf"^{NAMES.get(kind, kind)}: call fit"):
        model(kind).predict_proba(inp)


def test_the_hybrid_names_itself_not_wide_and_deep(inp):
    one_class = inp.take(np.flatnonzero(inp.y == 0))
    with pytest.raises(ValueError, match="^hybrid: the training rows need both outcomes"):
        model("hybrid").fit(one_class)


@pytest.mark.parametrize("kind", TABULAR)
def test_a_numeric_feature_held_as_text_is_refused_by_every_model_that_reads_it(inp, kind):
    frame = inp.tabular.frame.copy()
    frame["bad_rate"] = frame["bad_rate"].map(lambda v: None if pd.isna(v) else f"{v:.4f}".replace(".", ","))
    with pytest.raises(ValueError, match=r"column 'bad_rate' must be numeric .*e\.g\. '[0-9]+,[0-9]{4}' for person "):
        model(kind).fit(with_frame(inp, frame))


def test_a_fitted_model_refuses_text_where_it_read_numbers_and_a_frame_lacking_a_declared_column(inp):
    m = model("gbdt").fit(inp)
    frame = inp.tabular.frame.copy()
    frame["bad_rate"] = frame["bad_rate"].astype(object)
    frame.loc[frame.index[7], "bad_rate"] = "x0.0"
    with pytest.raises(ValueError, match=r"column 'bad_rate' must be numeric .*got object: e\.g\. 'x0\.0' for person"):
        m.decision_function(with_frame(inp, frame))
    numbers = inp.tabular.frame.assign(bad_rate=inp.tabular.frame["bad_rate"].astype(object))
    assert np.array_equal(m.decision_function(with_frame(inp, numbers)), m.decision_function(inp))
    with pytest.raises(ValueError, match="the feature frame lacks column.* its definitions declare: bad_rate"):
        m.decision_function(with_frame(inp, inp.tabular.frame.drop(columns=["bad_rate"])))


def test_models_are_scikit_learn_classifiers_with_predict_and_classes(inp):
    m = model("gbdt").fit(inp)
    p = m.predict_proba(inp)[:, 1]
    assert is_classifier(m) and list(m.classes_) == [0, 1]
    assert np.array_equal(m.predict(inp), (p >= 0.5).astype(np.int64))
    assert m.score(inp, inp.y) == pytest.approx(float(np.mean(m.predict(inp) == inp.y)))


def test_stack_member_params_of_an_unknown_kind_are_refused(inp):
    with pytest.raises(ValueError, match=r"member_params: unknown member kind\(s\) 'gbdts' \(known: .*gbdt"):
        StackModel(members=["gbdt"], member_params={"gbdts": {"n_estimators": 5}}, n_folds=2).fit(inp)


def test_without_on_a_loaded_stack_says_it_needs_a_fitted_one(inp, tmp_path):
    fitted = model("stack").fit(inp)
    path = save_model(fitted, tmp_path / "art", inp)
    with pytest.raises(ValueError, match="stack: without\\(\\) .* an artifact does not keep"):
        load_model(path).without(["gbdt"])
