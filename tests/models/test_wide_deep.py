"""Wide & Deep, alone and with its sequence and graph towers: learns, reproduces, saves and explains exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from deepcredit.data.schema import Dimension
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput, build_model_input
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.sequences import Sequences
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import load_model, save_model
from deepcredit.models.wide_deep import WideDeepModel

torch.set_num_threads(1)
FAST = {"max_epochs": 5, "patience": 2, "hidden": (32, 16), "seq_hidden": 16, "graph_hidden": 16,
        "batch_size": 256}
TOWERS = {"plain": {}, "sequence": {"use_sequence_tower": True},
          "both": {"use_sequence_tower": True, "use_graph_tower": True}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ds = simulate_world(tmp_path_factory.mktemp("wd") / "w", people=1500, seed=1, chunk_size=500)
    inp = build_model_input(ds, threads=1)
    train, test = train_test_split(np.arange(len(inp)), test_size=0.3, random_state=0, stratify=inp.y)
    return inp, train, test


@pytest.fixture(scope="module")
def models(world):
    inp, train, _ = world
    return {name: WideDeepModel(**FAST, **kw).fit(inp.take(train)) for name, kw in TOWERS.items()}


@pytest.mark.parametrize("name", list(TOWERS))
def test_learns(world, models, name):
    inp, _, test = world
    p = models[name].predict_proba(inp.take(test))
    assert p.shape == (len(test), 2) and np.isfinite(p).all()
    assert roc_auc_score(inp.take(test).y, p[:, 1]) > 0.6


@pytest.mark.parametrize("name", ["plain", "both"])
def test_same_seed_same_model(world, models, name):
    inp, train, test = world
    again = WideDeepModel(**FAST, **TOWERS[name]).fit(inp.take(train))
    assert np.array_equal(models[name].predict_proba(inp.take(test)), again.predict_proba(inp.take(test)))


@pytest.mark.parametrize("name", list(TOWERS))
def test_artifact_round_trip_is_bit_exact(world, models, name, tmp_path):
    inp, _, test = world
    path = save_model(models[name], tmp_path / name, inp)
    assert load_artifact(path).run_facts["device"] == "cpu"  # the device it was fitted on, beside the model
    loaded = load_model(path)
    assert isinstance(loaded, WideDeepModel) and loaded.use_graph_tower == models[name].use_graph_tower
    assert np.array_equal(models[name].predict_proba(inp.take(test)), loaded.predict_proba(inp.take(test)))
    a, b = models[name].explain(inp.take(test[:50])), loaded.explain(inp.take(test[:50]))
    assert np.array_equal(a.by_dimension.to_numpy(), b.by_dimension.to_numpy())


@pytest.mark.parametrize("name", list(TOWERS))
def test_explanation_adds_up_to_the_logit(world, models, name):
    inp, _, test = world
    m, part = models[name], inp.take(test[:300])
    ex = m.explain(part)
    logit = m.decision_function(part)
    assert np.allclose(ex.logit(), logit, atol=1e-4)
    assert np.array_equal(ex.decision, logit)  # the exact score, bit for bit
    assert np.all(ex.base == ex.base[0])
    assert (ex.by_dimension.abs().sum() > 0).all()  # every dimension has inputs in the simulated world
    # the wide part is the per-feature explanation reason codes are drawn from (the deep part is per dimension)
    assert ex.by_feature is not None and list(ex.by_feature.columns) == m.prep_.names
    assert np.isfinite(ex.by_feature.to_numpy()).all()
    assert m.used_features_ == m.prep_.names


def test_a_person_scored_by_wide_and_deep_alone_gets_reason_codes(world, models):
    from deepcredit.scoring.scorer import Scorer

    inp, _, test = world
    _, reasons = Scorer(models["both"]).explain(inp.take(test[:200]))
    wide = reasons["feature"].isin(models["both"].prep_.names)  # the wide part's features; the rest, its deep
    assert wide.any() and reasons.loc[~wide, "feature"].str.endswith("_as_a_whole").all()  # part by dimension
    assert (reasons["points_lost"] >= 1).all()


def test_sequence_tower_ignores_padding_and_handles_empty_histories(world, models):
    inp, _, test = world
    m, s = models["sequence"], inp.sequences
    padded = Sequences(np.pad(s.kind, ((0, 0), (0, 8))), np.pad(s.status, ((0, 0), (0, 8))),
                       np.pad(s.numeric, ((0, 0), (0, 8), (0, 0))), s.lengths)
    assert np.array_equal(m.predict_proba(inp.take(test)), m.predict_proba(replace(inp, sequences=padded).take(test)))
    empty = Sequences(np.zeros_like(s.kind), np.zeros_like(s.status), np.zeros_like(s.numeric),
                      np.zeros_like(s.lengths))
    part = replace(inp, sequences=empty).take(test[:50])
    ex = m.explain(part)
    assert np.isfinite(m.predict_proba(part)).all()
    assert np.allclose(ex.logit(), m.decision_function(part), atol=1e-4)


def test_unseen_and_missing_categories(world, models):
    inp, _, test = world
    frame = inp.tabular.frame.copy()
    frame["education"] = frame["education"].astype(object)
    frame.loc[frame.index[: len(frame) // 2], "education"] = "never seen before"
    frame.loc[frame.index[len(frame) // 2:], "education"] = None
    changed = replace(inp, tabular=replace(inp.tabular, frame=frame))
    p = models["plain"].predict_proba(changed.take(test))
    assert np.isfinite(p).all()


def test_protected_attributes_stay_out_and_features_restrict(world):
    inp, train, _ = world
    frame = inp.tabular.frame.copy()
    frame["age"] = np.random.default_rng(0).uniform(20, 70, len(frame))
    age = FeatureDef("age", Dimension.IDENTITY, Source.PROFILE, "MAX(age)", "age", "-")
    with_age = replace(inp, tabular=replace(inp.tabular, frame=frame, definitions=[*inp.definitions, age]))
    m = WideDeepModel(**FAST).fit(with_age.take(train))
    assert "age" not in m.prep_.names and "n_bad_365d" in m.prep_.names
    m = WideDeepModel(**FAST, features=["education", "n_bad_365d"]).fit(inp.take(train))
    assert m.prep_.names == ["education", "n_bad_365d"]
    with pytest.raises(ValueError, match="unknown feature"):
        WideDeepModel(**FAST, features=["no_such_feature"]).fit(inp.take(train))


def test_needs_the_views_its_towers_read(world, models):
    inp, _, test = world
    with pytest.raises(ValueError, match="temporal view"):
        models["sequence"].predict_proba(replace(inp, sequences=None).take(test))
    with pytest.raises(ValueError, match="structural view"):
        models["both"].predict_proba(replace(inp, graph=None).take(test))


def test_the_graph_tower_a_layer_at_a_time_gives_the_whole_networks_scores(world, models):
    """Layer-wise inference (batch scoring), as the graph model's: the tower's first layer for every node,
    then the network with the last layer alone reading it, scores and explains as the whole network."""
    inp, _, test = world
    m = models["both"]
    everyone = m.layer_states(inp, 1)  # the rows of this bundle are every node
    assert everyone.shape == (len(inp.tabular.frame), 16) and everyone.dtype == np.float32
    rows = inp.take(test[:300])
    staged = replace(rows, node_states={"wide_deep": everyone})
    assert np.allclose(m.decision_function(staged), m.decision_function(rows), rtol=1e-5, atol=1e-5)
    a, b = m.explain(staged), m.explain(rows)
    assert np.allclose(a.by_dimension.to_numpy(), b.by_dimension.to_numpy(), atol=1e-5)
    assert np.allclose(a.logit(), m.decision_function(staged), atol=1e-4)
    with pytest.raises(ValueError, match="layers 1 to 1"):
        m.layer_states(inp, 2)
    with pytest.raises(ValueError, match="layers 1 to 0"):
        models["sequence"].layer_states(inp, 1)


def test_extreme_values_give_finite_standardised_inputs():
    """1e30 (and -1e30) scale in float64 before the float32 cast; an infinity reads as the most extreme value,
    not a missing one; and a column holding 1e200, whose squares overflow float64, keeps its spread (it
    used to standardise to 0 everywhere)."""
    rng = np.random.default_rng(0)
    n = 1500
    ratio, other = rng.normal(size=n), rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(1.5 - ratio - other))).astype(int)
    ratio[:100], ratio[100:150], ratio[150:200] = 1e30, -1e30, np.inf
    other[:75] = 1e200
    model = WideDeepModel(**FAST).fit(frame_input(ratio, other, y))
    prep = model.prep_
    num, _ = prep.deep(frame_input(ratio, other).X)
    assert num.dtype == np.float32 and np.isfinite(num).all() and np.abs(num).max() < 100
    assert np.ptp(num[:, prep.numeric.index("other")]) > 1
    assert np.isfinite(model.predict_proba(frame_input(ratio, other, y))).all()
    probe, _ = prep.deep(frame_input(np.array([np.inf, 1e300, 1e30, -np.inf, -1e30]), np.zeros(5)).X)
    j = prep.numeric.index("ratio")
    assert probe[0, j] == probe[1, j] >= probe[2, j] > 0 > probe[3, j] == probe[4, j]
    assert "ratio" not in prep.missing  # inf is a value, not a missing one


def frame_input(ratio: np.ndarray, other: np.ndarray, y: np.ndarray | int = 0) -> ModelInput:
    """Two numeric features over a plain frame (the plain member reads the tabular view only)."""
    defs = [FeatureDef(name, Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "a / b", name, "n/a")
            for name in ("ratio", "other")]
    frame = pd.DataFrame({"person_id": [f"p{i:05d}" for i in range(len(ratio))], "as_of": pd.Timestamp("2025-01-01"),
                          "label": y, "ratio": ratio, "other": other})
    return ModelInput(FeatureFrame(frame, defs))
