"""The graph member learns from relations, never sees a neighbour's future, and explains itself exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepcredit.data.dataset import write_dataset
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.features.graph import Graph
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.base import DIMENSIONS, load_model, save_model
from deepcredit.models.graph import Adjacency, GraphModel, GraphSAGETower, NodeEncoder, sample_blocks

torch.set_num_threads(1)
FAST = {"hidden": 32, "batch_size": 128, "max_epochs": 12, "patience": 3}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 1,500-person simulated world (with events and edges after as_of), a 70/30 split, a fitted model."""
    root = tmp_path_factory.mktemp("graph")
    ds = simulate_world(root / "w", people=1500, seed=1, chunk_size=500)
    inp = build_model_input(ds, views=("tabular", "structural"))
    perm = np.random.default_rng(0).permutation(len(inp))
    train, test = np.sort(perm[:1050]), np.sort(perm[1050:])
    model = GraphModel(**FAST).fit(inp.take(train))
    return {"root": root, "ds": ds, "inp": inp, "train": train, "test": test, "model": model}


def test_learns_from_a_simulated_world(world):
    inp, model = world["inp"], world["model"]
    held_out = inp.take(world["test"])
    p = model.predict_proba(held_out)
    assert p.shape == (len(held_out), 2) and np.allclose(p.sum(axis=1), 1.0)
    assert roc_auc_score(held_out.y, p[:, 1]) > 0.6


def test_same_seed_same_model(world):
    inp = world["inp"]
    params = {**FAST, "max_epochs": 3}
    epochs = []
    a = GraphModel(**params).fit(inp.take(world["train"]), on_progress=lambda e, n, msg: epochs.append(e))
    b = GraphModel(**params).fit(inp.take(world["train"]))
    assert np.array_equal(a.predict_proba(inp), b.predict_proba(inp))
    assert epochs == [1, 2, 3]


def test_explanation_adds_up_to_the_logit(world):
    inp, model = world["inp"], world["model"]
    rows = inp.take(world["test"][:200])
    ex = model.explain(rows)
    p = model.predict_proba(rows)[:, 1]
    assert list(ex.by_dimension.columns) == DIMENSIONS
    assert np.ptp(ex.base) == 0.0  # one base for everyone: the average applicant in an average neighbourhood
    assert np.abs(ex.logit() - np.log(p / (1 - p))).max() < 1e-9
    assert np.array_equal(ex.decision, model.decision_function(rows))  # the exact score, bit for bit
    assert ex.by_dimension["social_connections"].abs().sum() > 0
    assert ex.by_dimension["credit_history"].abs().sum() > 0


def test_artifact_round_trip_is_bit_exact(world, tmp_path):
    inp, model = world["inp"], world["model"]
    rows = inp.take(world["test"])
    loaded = load_model(save_model(model, tmp_path / "graph-model", inp))
    assert isinstance(loaded, GraphModel)
    assert load_artifact(tmp_path / "graph-model").run_facts["device"] == "cpu"  # the device it was fitted on
    assert np.array_equal(model.predict_proba(rows), loaded.predict_proba(rows))
    a, b = model.explain(rows), loaded.explain(rows)
    assert np.array_equal(a.base, b.base) and a.by_dimension.equals(b.by_dimension)


def test_a_neighbours_future_never_reaches_the_prediction(world, tmp_path):
    """Fit once; then delete everything at or after as_of and flip every other row's label: same scores."""
    ds, inp, model, test = world["ds"], world["inp"], world["model"], world["test"]
    tables = {t: ds.read(t) for t in ("people", "events", "relations", "outcomes")}
    as_of = tables["outcomes"]["as_of"]
    assert as_of.nunique() == 1
    as_of = as_of.iloc[0]
    assert (tables["events"]["ts"] >= as_of).sum() > 1000 and (tables["relations"]["ts"] >= as_of).sum() > 10
    tables["events"] = tables["events"][tables["events"]["ts"] < as_of]
    tables["relations"] = tables["relations"][tables["relations"]["ts"] < as_of]
    predicted = set(inp.keys.iloc[test]["person_id"])
    outcomes = tables["outcomes"]
    others = ~outcomes["person_id"].isin(predicted)
    outcomes.loc[others, "label"] = 1 - outcomes.loc[others, "label"]
    for t in tables.values():
        for c in t.columns:
            if str(t[c].dtype).startswith("datetime64"):
                t[c] = t[c].astype("datetime64[us]")
    cut = build_model_input(write_dataset(tmp_path / "cut", tables, "cut", ds.manifest.snapshot_date),
                            views=("tabular", "structural"))
    assert cut.keys.equals(inp.keys)
    flipped = ~np.isin(np.arange(len(inp)), test)
    old, new = inp.tabular.frame["label"].to_numpy(), cut.tabular.frame["label"].to_numpy()
    assert (old[flipped] != new[flipped]).all()
    assert np.array_equal(model.predict_proba(inp.take(test)), model.predict_proba(cut.take(test)))
    assert model.explain(inp.take(test)).by_dimension.equals(model.explain(cut.take(test)).by_dimension)


def test_no_relations_is_a_clear_error(world):
    inp = world["inp"]
    empty = Graph(np.zeros((2, 0), np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32), len(inp))
    for graph in (None, empty):
        with pytest.raises(ValueError, match="no relations"):
            GraphModel(**FAST).fit(replace(inp, graph=graph))


def test_sampled_blocks_respect_fanouts_and_match_the_full_graph(world):
    inp = world["inp"]
    adj = Adjacency.from_graph(inp.graph)
    seeds = np.arange(0, len(inp), 7)
    blocks = sample_blocks(adj, seeds, [3, 2], np.random.default_rng(0))
    assert np.array_equal(blocks[-1].src_nodes[: len(seeds)], seeds)  # the seeds lead, in order
    assert blocks[0].n_dst == len(blocks[1].src_nodes)
    deg = np.diff(adj.indptr)[seeds]
    drawn = np.bincount(blocks[-1].edge_dst.numpy(), minlength=len(seeds))
    assert np.array_equal(drawn, np.minimum(deg, 3))
    nb = set(map(tuple, inp.graph.edge_index.T))
    last = blocks[-1]
    edges = zip(last.src_nodes[last.edge_src.numpy()], seeds[last.edge_dst.numpy()], strict=True)
    assert all((int(s), int(d)) in nb for s, d in edges)

    torch.manual_seed(0)
    tower = GraphSAGETower(5, hidden=8, layers=2).eval()
    x = torch.randn(len(inp), 5)
    exact = sample_blocks(adj, seeds, [None, None])
    with torch.no_grad():
        via_blocks = tower(x[torch.from_numpy(exact[0].src_nodes)], exact)
        whole = tower(x, torch.from_numpy(inp.graph.edge_index))[torch.from_numpy(seeds)]
    assert via_blocks.shape == (len(seeds), 8)
    assert torch.allclose(via_blocks, whole, atol=1e-5)


def test_a_layer_at_a_time_gives_the_scores_of_the_whole_network(world):
    """Layer-wise inference (batch scoring): the first layer's output for every node, then the last layer
    alone on it, is the network's logit."""
    inp, model = world["inp"], world["model"]
    everyone = model.layer_states(inp, 1)  # the rows of this bundle are every node
    assert everyone.shape == (len(inp.tabular.frame), model.hidden) and everyone.dtype == np.float32
    rows = inp.take(world["test"])
    staged = replace(rows, node_states={"graph": everyone})
    assert np.allclose(model.decision_function(staged), model.decision_function(rows), rtol=1e-5, atol=1e-6)
    explained = model.explain(staged)
    assert np.allclose(explained.logit(), explained.decision) and np.allclose(explained.decision,
                                                                              model.decision_function(rows), atol=1e-5)
    with pytest.raises(ValueError, match="layers 1 to 1"):
        model.layer_states(inp, 2)


def test_node_encoder_codes_categories_by_their_text_whatever_their_type():
    """A value is the category whose text it has, however the column holds it (categorical of numbers,
    booleans or text, plain objects, missing values, values never seen in training)."""
    raw = [1, 2.5, "a", None, float("nan"), 7, "<missing>"]
    enc = NodeEncoder([], [], [], [], [], [], [], {"c": ["1", "2.5", "True", "a", "<missing>", "99"]}, {"c": "x"})
    expected = np.array([[str(v) == c if v is not None and v == v else c == "<missing>"
                          for c in enc.categories["c"]] for v in raw], dtype=np.float32)
    for column in (pd.Series(raw, dtype=object), pd.Series(raw, dtype=object).astype("category")):
        out = enc.transform(pd.DataFrame({"c": column}))
        assert out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, expected)
    ints = pd.Series([1, 99, 3], dtype="category")
    np.testing.assert_array_equal(enc.transform(pd.DataFrame({"c": ints}))[:, [0, 5]], [[1, 0], [0, 1], [0, 0]])
    flags = pd.Series([True, False, None], dtype="category")
    np.testing.assert_array_equal(enc.transform(pd.DataFrame({"c": flags}))[:, [2, 4]], [[1, 0], [0, 0], [0, 1]])


def test_node_encoder_reads_an_infinity_as_the_most_extreme_value_not_as_missing():
    from deepcredit.data.schema import Dimension
    from deepcredit.features.spec import FeatureDef, Source

    d = FeatureDef("x", Dimension.CREDIT_HISTORY, Source.PROFILE, "x", "x", "x")
    train = pd.DataFrame({"x": np.r_[np.arange(1000.0), np.inf, -np.inf]})
    enc = NodeEncoder.fit(train, [d], np.arange(len(train)))
    assert enc.missing == []  # no value was missing in training
    out = enc.transform(pd.DataFrame({"x": [np.inf, -np.inf, 1e30, 500.0]}))[:, 0]
    assert np.isfinite(out).all() and out[0] == out[2] == out.max() and out[1] == out.min()
