"""The hybrid temporal member and the stack's temporal path: one switch, warm starts, exact explanations,
bit-exact artifacts that reproduce the embeddings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import load_model, save_model
from deepcredit.models.hybrid import HybridModel
from deepcredit.models.pretrain import EMBEDDING_PREFIX, histories_of, pretrain
from deepcredit.models.sequence import SequenceModel
from deepcredit.models.stack import TEMPORAL_MEMBERS, StackModel, make_member

torch.set_num_threads(1)
FAST = {"max_epochs": 2, "patience": 1, "seq_hidden": 8, "aggregate_hidden": 8, "hidden": (8,), "batch_size": 256}
TINY = {"epochs": 1, "min_steps": 0, "dim": 8, "kind_dim": 4, "status_dim": 4, "batch_people": 64}
MEMBERS = {"gbdt": {"n_estimators": 40, "early_stopping_rounds": None, "min_child_samples": 10},
           "sequence": {"max_epochs": 1, "hidden": 8, "head_hidden": 8}, "hybrid": FAST}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ds = simulate_world(tmp_path_factory.mktemp("hybrid") / "w", people=600, seed=2, chunk_size=600)
    inp = build_model_input(ds, views=("tabular", "temporal"), threads=1)
    perm = np.random.default_rng(0).permutation(len(inp))
    return inp, np.sort(perm[:400]), np.sort(perm[400:])


@pytest.fixture(scope="module")
def encoder(world):
    inp, train, _ = world
    return pretrain(histories_of(inp.take(train)), TINY, seed=0)


def test_hybrid_is_a_member_kind_that_explains_itself_exactly(world, tmp_path):
    inp, train, test = world
    model = make_member("hybrid", FAST, seed=0).fit(inp.take(train))
    assert isinstance(model, HybridModel) and model.net_.aggregates is not None
    held = inp.take(test)
    e = model.explain(held)
    assert np.allclose(e.logit(), model.decision_function(held), atol=1e-5)
    assert (e.by_dimension["identity"] != 0).any() and (e.by_dimension["credit_history"] != 0).any()
    path = save_model(model, tmp_path / "h", inp)
    assert load_artifact(path).run_facts["device"] == "cpu"  # the device it was fitted on, beside the model
    loaded = load_model(path)
    assert np.array_equal(loaded.predict_proba(held), model.predict_proba(held))
    again = make_member("hybrid", FAST, seed=0).fit(inp.take(train))
    assert np.array_equal(again.predict_proba(held), model.predict_proba(held))


def test_the_pretrained_encoder_initialises_the_recurrent_members(world, encoder):
    inp, train, test = world
    for model in (HybridModel(**{**FAST, "lr": 0.0}), SequenceModel(max_epochs=1, head_hidden=8, lr=0.0)):
        model.warm_start(encoder).fit(inp.take(train))  # lr 0: the tower keeps the weights it started from
        tower = model.net_.sequence if isinstance(model, HybridModel) else model.net_.tower
        state = encoder.tower_state()
        assert all(torch.equal(v, state[k]) for k, v in tower.state_dict().items())
        assert model.predict_proba(inp.take(test)).shape == (len(test), 2)


def test_one_switch_turns_the_temporal_path_off(world):
    inp, train, _ = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        off = StackModel(members=("gbdt", "hybrid"), member_params=MEMBERS, n_folds=2, temporal=False).fit(
            inp.take(train))
    assert off.encoder_ is None and [k for k, _ in off.members_] == ["gbdt"]
    assert "hybrid" in off.skipped_ and TEMPORAL_MEMBERS == ("hybrid",)
    assert not any(c.startswith(EMBEDDING_PREFIX) for c in off.members_[0][1].feature_names_)


def test_the_stack_pretrains_uses_the_embeddings_and_saves_the_encoder(world, tmp_path):
    inp, train, test = world
    stack = StackModel(members=("gbdt", "sequence", "hybrid"), member_params=MEMBERS, n_folds=2, pretrain=TINY,
                       temporal=True)
    stack.fit(inp.take(train))
    assert stack.encoder_ is not None and "temporal" in stack.views
    assert stack.metrics_["pretrain"]["people"] > 0
    gbdt = dict(stack.members_)["gbdt"]
    assert any(c.startswith(EMBEDDING_PREFIX) for c in gbdt.feature_names_)
    held = inp.take(test)
    e = stack.explain(held)
    assert np.allclose(e.logit(), stack.decision_function(held), atol=1e-6)
    loaded = load_model(save_model(stack, tmp_path / "s", inp))
    assert loaded.encoder_ is not None
    assert np.array_equal(loaded.predict_proba(held), stack.predict_proba(held))
    less = stack.without(["hybrid"])  # the kept members read the embeddings: the encoder stays with them
    assert less.encoder_ is stack.encoder_ and [k for k, _ in less.members_] == ["gbdt", "sequence"]
    assert less.predict_proba(held).shape == (len(test), 2)
