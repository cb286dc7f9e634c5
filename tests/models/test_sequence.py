"""The sequence member learns from fulfilment histories, reproducibly, and explains itself exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.features.sequences import Sequences
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import load_model, save_model
from deepcredit.models.sequence import SequenceModel

torch.set_num_threads(1)
FAST = {"max_epochs": 4, "patience": 2, "hidden": 16, "head_hidden": 16, "batch_size": 256}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ds = simulate_world(tmp_path_factory.mktemp("seq") / "w", people=1500, seed=1, chunk_size=500)
    inp = build_model_input(ds, views=("tabular", "temporal"), threads=1)
    train, test = train_test_split(np.arange(len(inp)), test_size=0.3, random_state=0, stratify=inp.y)
    return inp, train, test


@pytest.fixture(scope="module")
def fitted(world):
    inp, train, _ = world
    return SequenceModel(**FAST).fit(inp.take(train))


def test_learns_from_histories(world, fitted):
    inp, _, test = world
    p = fitted.predict_proba(inp.take(test))
    assert p.shape == (len(test), 2) and np.allclose(p.sum(1), 1.0)
    assert roc_auc_score(inp.take(test).y, p[:, 1]) > 0.6


def test_same_seed_same_model(world, fitted):
    inp, train, test = world
    progress = []
    again = SequenceModel(**FAST).fit(inp.take(train), on_progress=lambda *a: progress.append(a))
    assert np.array_equal(fitted.predict_proba(inp.take(test)), again.predict_proba(inp.take(test)))
    assert progress and progress[0][:2] == (1, FAST["max_epochs"])


def test_artifact_round_trip_is_bit_exact(world, fitted, tmp_path):
    inp, _, test = world
    path = save_model(fitted, tmp_path / "seq", inp)
    assert load_artifact(path).run_facts["device"] == "cpu"  # a lone torch model names its device, as a stack's member does
    loaded = load_model(path)
    assert isinstance(loaded, SequenceModel)
    assert np.array_equal(fitted.predict_proba(inp.take(test)), loaded.predict_proba(inp.take(test)))


def test_explanation_adds_up_to_the_logit(world, fitted):
    inp, _, test = world
    part = inp.take(test[:300])
    ex = fitted.explain(part)
    assert np.allclose(ex.logit(), fitted.decision_function(part), atol=1e-5)
    assert np.array_equal(ex.decision, fitted.decision_function(part))  # the exact score, bit for bit
    assert np.all(ex.base == ex.base[0])
    dims = ex.by_dimension
    assert (dims[["identity", "social_connections"]] == 0).all().all()
    assert dims[["credit_history", "fulfilment_capacity", "behaviour_preferences"]].abs().sum().gt(0).all()


def _with_sequences(inp, seq: Sequences):
    return replace(inp, sequences=seq)


def test_people_without_events(world, fitted):
    inp, _, test = world
    s = inp.sequences
    empty = np.zeros(len(s.lengths), dtype=bool)
    empty[test[:20]] = True
    seq = Sequences(np.where(empty[:, None], 0, s.kind), np.where(empty[:, None], 0, s.status),
                    np.where(empty[:, None, None], 0, s.numeric).astype(np.float32), np.where(empty, 0, s.lengths))
    part = _with_sequences(inp, seq).take(test[:40])
    p = fitted.predict_proba(part)[:, 1]
    assert np.isfinite(p).all()
    assert np.all(p[:20] == p[0])  # no events: every such person gets the learned empty state
    ex = fitted.explain(part)
    assert np.allclose(ex.logit(), fitted.decision_function(part), atol=1e-5)
    assert np.allclose(ex.by_dimension["credit_history"].to_numpy()[:20], 0.0)


def test_padding_does_not_change_predictions(world, fitted):
    inp, _, test = world
    s = inp.sequences
    padded = Sequences(np.pad(s.kind, ((0, 0), (0, 16))), np.pad(s.status, ((0, 0), (0, 16))),
                       np.pad(s.numeric, ((0, 0), (0, 16), (0, 0))), s.lengths)
    part = inp.take(test)
    assert np.array_equal(fitted.predict_proba(part), fitted.predict_proba(_with_sequences(inp, padded).take(test)))


def test_needs_the_temporal_view(world, fitted):
    inp, _, test = world
    with pytest.raises(ValueError, match="temporal view"):
        fitted.predict_proba(_with_sequences(inp, None).take(test))
