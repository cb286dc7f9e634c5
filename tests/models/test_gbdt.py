"""The LightGBM member: deterministic, explains its logit exactly, and survives a round trip bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from deepcredit.data.schema import Dimension
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models.artifacts import ArtifactError
from deepcredit.models.base import DIMENSIONS, load_model, save_model
from deepcredit.models.gbdt import GBDTModel
from deepcredit.scoring.scorer import Scorer

FAST = {"n_estimators": 300, "learning_rate": 0.08, "early_stopping_rounds": 30}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("gbdt")
    ds = simulate_world(root / "w", people=2000, seed=1, chunk_size=1000)
    inp = build_model_input(ds, views=("tabular",))
    perm = np.random.default_rng(0).permutation(len(inp))
    train, test = np.sort(perm[:1400]), np.sort(perm[1400:])
    model = GBDTModel(**FAST).fit(inp.take(train))
    return {"root": root, "inp": inp, "train": train, "test": test, "model": model}


def test_learns_and_is_deterministic(world):
    inp, model = world["inp"], world["model"]
    held_out = inp.take(world["test"])
    p = model.predict_proba(held_out)
    assert p.shape == (len(held_out), 2) and np.allclose(p.sum(axis=1), 1.0)
    assert roc_auc_score(held_out.y, p[:, 1]) > 0.65
    again = GBDTModel(**FAST).fit(inp.take(world["train"]))
    assert np.array_equal(again.predict_proba(held_out), p)
    assert "education" in model.categories_ and model.categories_["education"] == sorted(model.categories_["education"])


def test_explanation_adds_up_to_the_logit(world):
    inp, model = world["inp"], world["model"]
    rows = inp.take(world["test"])
    ex = model.explain(rows)
    p = model.predict_proba(rows)[:, 1]
    assert list(ex.by_dimension.columns) == DIMENSIONS
    assert list(ex.by_feature.columns) == model.feature_names_
    assert np.abs(ex.logit() - np.log(p / (1 - p))).max() < 1e-6
    assert np.array_equal(ex.decision, model.decision_function(rows))  # the exact score, bit for bit
    unused = set(model.feature_names_) - set(model.used_features_)
    assert all((ex.by_feature[c] == 0).all() for c in unused)  # an unused feature never contributes


def test_no_rows_give_no_scores_and_no_contributions(world):
    model = world["model"]
    none = world["inp"].take(np.array([], dtype=np.int64))
    assert model.predict_proba(none).shape == (0, 2)
    ex = model.explain(none)
    assert ex.by_feature.shape == (0, len(model.feature_names_)) and len(ex.decision) == 0
    assert Scorer(model).report(none).empty


def test_small_inputs_score_on_one_thread_with_the_same_numbers(world, monkeypatch):
    inp, model = world["inp"], world["model"]
    rows = inp.take(world["test"])
    small, ex = model.decision_function(rows), model.explain(rows)
    calls = []
    predict = model.booster_.predict
    monkeypatch.setattr(model.booster_, "predict", lambda *a, **k: calls.append(k) or predict(*a, **k))
    monkeypatch.setattr("deepcredit.models.gbdt.SINGLE_THREAD_ROWS", 1)  # now every input counts as large
    assert np.array_equal(model.decision_function(rows), small)
    assert np.array_equal(model.explain(rows).by_feature.to_numpy(), ex.by_feature.to_numpy())
    assert calls and all("num_threads" not in k for k in calls)
    monkeypatch.setattr("deepcredit.models.gbdt.SINGLE_THREAD_ROWS", 20_000)
    calls.clear()
    model.decision_function(rows)
    assert calls == [{"num_iteration": model._num_iteration(), "raw_score": True, "num_threads": 1}]


def test_round_trip_is_bit_exact_and_tampering_is_refused(world):
    inp, model = world["inp"], world["model"]
    art = save_model(model, world["root"] / "gbdt_art", inp.take(world["train"]))
    loaded = load_model(art)
    assert isinstance(loaded, GBDTModel)
    assert np.array_equal(loaded.predict_proba(inp), model.predict_proba(inp))
    a, b = loaded.explain(inp), model.explain(inp)
    assert np.array_equal(a.by_feature.to_numpy(), b.by_feature.to_numpy()) and np.array_equal(a.base, b.base)

    booster = art / "gbdt_model.txt"
    data = bytearray(booster.read_bytes())
    data[len(data) // 2] ^= 0x01
    booster.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        load_model(art)


def test_unseen_and_missing_categories_score(world):
    inp, model = world["inp"], world["model"]
    rows = inp.take(world["test"][:20])
    frame = rows.tabular.frame.copy()
    frame["education"] = frame["education"].astype(object)  # free to take a category never seen in training
    frame.loc[frame.index[rows.index[:5]], "education"] = "never_seen_before"
    frame.loc[frame.index[rows.index[5:10]], "education"] = None
    changed = type(rows)(type(rows.tabular)(frame, rows.tabular.definitions, rows.tabular.meta), rows=rows.index)
    p = model.predict_proba(changed)[:, 1]
    assert np.isfinite(p).all()
    ex = model.explain(changed)
    assert np.abs(ex.logit() - np.log(p / (1 - p))).max() < 1e-6


def test_protected_attributes_are_never_inputs(world):
    inp = world["inp"]
    assert not {"sex", "age", "marital_status"} & set(world["model"].feature_names_)
    with pytest.raises(ValueError, match="unknown feature"):
        GBDTModel(features=["no_such_feature"]).fit(inp.take(world["train"]))


def test_a_class_of_one_row_fits_without_early_stopping(world):
    """A fold of a small data set may hold a single default: nothing of it can be held out to stop on, so
    every tree is fitted rather than the whole run stopping."""
    inp = world["inp"].take(world["train"][:200])
    y = np.zeros(len(inp), dtype=np.int64)
    y[0] = 1
    model = GBDTModel(**{**FAST, "n_estimators": 5}).fit(inp, y)
    assert not hasattr(model, "best_iteration_")  # no early stop: as many trees as LightGBM can grow
    assert np.isfinite(model.predict_proba(inp)[:, 1]).all()


RATIO_DEFS = [FeatureDef(name, Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "a / b", name, "n/a")
              for name in ("ratio", "other")]


def ratio_input(ratio: np.ndarray, other: np.ndarray, y: np.ndarray | int = 0) -> ModelInput:
    frame = pd.DataFrame({"person_id": [f"p{i:05d}" for i in range(len(ratio))], "as_of": pd.Timestamp("2025-01-01"),
                          "label": y, "ratio": ratio, "other": other})
    return ModelInput(FeatureFrame(frame, RATIO_DEFS))


def extreme_input(n: int = 3000, seed: int = 0) -> ModelInput:
    """`ratio` holds 1e30, -1e30, +-inf (a derived a / b can) and missing values, which are risky."""
    rng = np.random.default_rng(seed)
    ratio, other = rng.normal(size=n), rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(2.0 - ratio - 0.5 * other))).astype(int)
    ratio[:300] = np.nan
    y[:300] = (rng.uniform(size=300) < 0.8).astype(int)
    ratio[300:400], ratio[400:500], ratio[500:600], ratio[600:700] = 1e30, -1e30, np.inf, -np.inf
    return ratio_input(ratio, other, y)


def test_extreme_values_train_and_score_as_the_most_extreme():
    """1e30, -1e30 and +-inf fit, score and explain as they are: LightGBM (4.x) reads an infinity as the
    largest value, on the same side of its thresholds (capped at 1e300) as 1e300, never as a missing one."""
    inp = extreme_input()
    model = GBDTModel(**FAST).fit(inp)
    assert np.isfinite(model.predict_proba(inp)).all()
    assert np.isfinite(model.explain(inp).by_feature.to_numpy()).all()
    score = model.decision_function(ratio_input(np.array([np.inf, 1e300, 5e305, np.nan]), np.zeros(4)))
    assert score[0] == score[1] == score[2] != score[3]
