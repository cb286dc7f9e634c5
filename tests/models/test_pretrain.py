"""Self-supervised pretraining: point in time, reproducible, and its embeddings explained through dimensions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from deepcredit.data.dataset import write_dataset
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_histories, build_model_input
from deepcredit.features.sequences import NUMERIC, PERIODIC, with_periodic
from deepcredit.models.base import DIMENSIONS
from deepcredit.models.gbdt import GBDTModel
from deepcredit.models.pretrain import (
    EMBEDDING_PREFIX,
    EventEncoder,
    PretrainSettings,
    contrastive_loss,
    histories_of,
    latest_per_person,
    pretrain,
    with_embeddings,
)

torch.set_num_threads(1)
TINY = {"epochs": 1, "min_steps": 0, "dim": 8, "kind_dim": 4, "status_dim": 4, "batch_people": 64}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    ds = simulate_world(root / "w", people=400, seed=3, chunk_size=400)
    return root, ds, build_model_input(ds, views=("tabular", "temporal"), threads=1)


@pytest.fixture(scope="module")
def encoder(world):
    _, _, inp = world
    return pretrain(histories_of(inp), TINY, seed=0)


def _rewritten(root, ds, name, events: pd.DataFrame):
    tables = {t: ds.read(t) for t in ds.manifest.tables}
    tables["events"] = events
    return write_dataset(root / name, tables, name=name, snapshot_date=ds.manifest.snapshot_date, spec=ds.spec)


def test_an_event_at_or_after_as_of_never_changes_an_embedding(world, encoder):
    root, ds, inp = world
    events, outcomes = ds.read("events"), ds.read("outcomes")
    first = outcomes.groupby("person_id", as_index=False)["as_of"].min()
    template = events.groupby("person_id").head(1).drop(columns=["ts"]).merge(first, on="person_id")

    def shifted(days: float) -> pd.DataFrame:
        new = template.assign(ts=template["as_of"] + pd.Timedelta(days=days)).drop(columns=["as_of"])
        new["amount"] = new["amount"] * 7 + 1000.0
        return pd.concat([events, new[events.columns]], ignore_index=True)

    base = encoder.embed(inp)
    future = build_model_input(_rewritten(root, ds, "future", shifted(0.0)), views=("tabular", "temporal"), threads=1)
    assert np.array_equal(base, encoder.embed(future))
    future_later = build_model_input(_rewritten(root, ds, "later", shifted(30.0)), views=("tabular", "temporal"),
                                     threads=1)
    assert np.array_equal(base, encoder.embed(future_later))
    # and pretraining on them is pretraining on the same histories: the same encoder, bit for bit
    again = pretrain(histories_of(future), TINY, seed=0)
    assert np.array_equal(base, again.embed(inp))
    past = build_model_input(_rewritten(root, ds, "past", shifted(-1.0)), views=("tabular", "temporal"), threads=1)
    assert not np.array_equal(base, encoder.embed(past))  # the guard is not vacuous


def test_same_seed_same_embeddings_other_seed_others(world, encoder):
    _, _, inp = world
    again = pretrain(histories_of(inp), TINY, seed=0)
    assert np.array_equal(encoder.embed(inp), again.embed(inp))
    other = pretrain(histories_of(inp), TINY, seed=1)
    assert not np.array_equal(encoder.embed(inp), other.embed(inp))


def test_round_trip_through_files_reproduces_embeddings(world, encoder):
    _, _, inp = world
    loaded = EventEncoder.from_files(encoder.to_files())
    assert np.array_equal(encoder.embed(inp), loaded.embed(inp))
    assert loaded.dimensions == encoder.dimensions


def test_unlabelled_histories_join_the_pretraining(world):
    _, ds, inp = world
    as_of = inp.tabular.frame["as_of"].max()
    extra = build_histories(ds, as_of, threads=1)
    assert extra is not None and len(extra.person_id) == len(ds.read("people"))
    both = histories_of(inp.take(np.arange(50)), extra)
    rows = latest_per_person(both.person_id, both.as_of)
    assert len(rows) == len(set(both.person_id))  # one history per person: never their own negative
    enc = pretrain(both, TINY, seed=0)
    assert enc.info["people"] > 50


def test_people_left_out_are_not_in_the_pretrainings_histories(world):
    _, ds, inp = world
    people = ds.read("people")["person_id"].astype(str)
    held = set(people.iloc[:40])
    extra = build_histories(ds, inp.tabular.frame["as_of"].max(), threads=1, leave_out=held)
    assert extra is not None and not held & set(extra.person_id.astype(str))
    assert len(extra.person_id) == len(people) - len(held)


def test_periodic_channels_read_only_the_row_and_pad_with_zeros(world):
    _, _, inp = world
    seq = with_periodic(inp.sequences, inp.tabular.frame["as_of"].to_numpy())
    assert seq.numeric.shape[-1] == len(NUMERIC) + len(PERIODIC)
    pad = seq.kind == 0
    assert (seq.numeric[pad] == 0).all()
    s, c = seq.numeric[~pad][:, len(NUMERIC)], seq.numeric[~pad][:, len(NUMERIC) + 1]
    assert np.allclose(s ** 2 + c ** 2, 1.0, atol=1e-5)


@pytest.mark.parametrize(("params", "named"), [
    ({"dim": 0}, "'dim'"), ({"slices": 1}, "'slices'"), ({"cell": "rnn"}, "'cell'"), ({"lr": "fast"}, "'lr'"),
    ({"min_slice": 8, "max_slice": 4}, "max_slice (4) must be at least min_slice (8)"),
    ({"epoch": 2}, "no setting 'epoch' (known: batch_people"),
    ({"min_steps": -1}, "'min_steps'"), ({"max_epochs": 0}, "'max_epochs'"),
])
def test_a_bad_setting_is_refused_before_any_work_naming_it(world, params, named):
    _, _, inp = world
    with pytest.raises(ValueError, match="^pretrain: .*" + re.escape(named)):
        pretrain(histories_of(inp), {**TINY, **params}, seed=0)


def test_settings_round_trip_and_take_the_seed():
    s = PretrainSettings.of({"dim": 16}, seed=7)
    assert (s.dim, s.seed, s.epochs) == (16, 7, 6)
    assert PretrainSettings(**s.model_dump()) == s


def test_contrastive_loss_prefers_own_slices():
    z = torch.eye(4).repeat_interleave(2, dim=0)  # two identical slices per owner, owners orthogonal
    good = contrastive_loss(z, 2, 0.1)
    bad = contrastive_loss(z[torch.randperm(8, generator=torch.Generator().manual_seed(0))], 2, 0.1)
    assert float(good) < float(bad)


def test_embedding_features_are_explained_through_dimensions(world, encoder):
    _, _, inp = world
    aug = with_embeddings(inp, encoder)
    names = [d.name for d in aug.definitions if d.name.startswith(EMBEDDING_PREFIX)]
    assert len(names) == encoder.dim
    assert {d.dimension.value for d in aug.definitions if d.name in names} <= {
        "credit_history", "fulfilment_capacity", "behaviour_preferences"}
    gbdt = GBDTModel(n_estimators=60, early_stopping_rounds=None, min_child_samples=10).fit(aug)
    e = gbdt.explain(aug)
    assert np.allclose(e.logit(), gbdt.decision_function(aug), atol=1e-9)
    assert set(names) <= set(e.by_feature.columns)
    dim_of = {d.name: d.dimension.value for d in aug.definitions}
    for dim in DIMENSIONS:
        cols = [c for c in e.by_feature.columns if dim_of[c] == dim]
        assert np.allclose(e.by_dimension[dim], e.by_feature[cols].sum(axis=1), atol=1e-9)


def _run(inp, params: dict) -> tuple[EventEncoder, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    enc = pretrain(histories_of(inp), params, seed=0, on_progress=lambda i, n, _msg: calls.append((i, n)))
    return enc, calls


def test_a_small_world_runs_more_epochs_to_reach_min_steps(world):
    _, _, inp = world
    enc, calls = _run(inp, {**TINY, "min_steps": 20})
    s = PretrainSettings.of({**TINY, "min_steps": 20})
    per_epoch = s.steps_per_epoch(enc.info["people"])
    assert per_epoch >= 2 and enc.info["epochs"] == -(-20 // per_epoch) > 1
    assert enc.info["steps"] == enc.info["epochs"] * per_epoch >= 20
    assert len(enc.info["history"]) == enc.info["epochs"] and calls[-1] == (enc.info["epochs"],) * 2


def test_the_raised_epochs_are_capped_at_max_epochs(world):
    _, _, inp = world
    enc, calls = _run(inp, {**TINY, "min_steps": 10_000, "max_epochs": 3})
    assert enc.info["epochs"] == 3 and len(calls) == 3 and calls[-1] == (3, 3)


def test_a_world_large_enough_for_min_steps_runs_exactly_epochs(world):
    _, _, inp = world
    enc, _ = _run(inp, {**TINY, "epochs": 2, "min_steps": 3})
    assert enc.info["epochs"] == 2 and enc.info["steps"] == 2 * PretrainSettings.of(TINY).steps_per_epoch(
        enc.info["people"])


def test_the_default_budget_raises_small_worlds_and_leaves_large_ones():
    s = PretrainSettings()
    assert (s.min_steps, s.max_epochs, s.epochs) == (1000, 48, 6)
    assert s.steps_per_epoch(2_100) == 17 and s.epochs_for(2_100) == 48  # 17 steps a pass: capped
    assert s.epochs_for(12_800) == 10  # 100 steps a pass
    assert s.epochs_for(21_334) == 6 and s.epochs_for(50_000) == 6  # 6 passes already make 1,000 steps
    assert PretrainSettings(batch_people=10).steps_per_epoch(21) == 2  # a last batch of one is skipped
    assert PretrainSettings(batch_people=1).epochs_for(100) == 6  # no step can be taken: nothing to raise


def test_the_default_budget_on_a_tiny_world_stays_within_max_epochs(world):
    _, _, inp = world
    tiny = {"dim": 4, "layers": 1, "kind_dim": 2, "status_dim": 2, "pair_dim": 0, "max_len": 16, "max_slice": 8,
            "batch_people": 1024}  # one step a pass: 48 steps in all
    enc, _ = _run(inp, tiny)
    assert enc.info["epochs"] == 48 and enc.info["steps"] == 48 * PretrainSettings.of(tiny).steps_per_epoch(
        enc.info["people"])
