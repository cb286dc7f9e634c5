"""The stack's pretraining when its folds run over time: each fold's encoder knows only what was known by
the first date it predicts, so its out-of-fold rows are point in time; person folds share the one encoder."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from deepcredit.data.dataset import write_dataset
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.stack import StackModel

torch.set_num_threads(1)
TINY = {"epochs": 1, "min_steps": 0, "dim": 8, "kind_dim": 4, "status_dim": 4, "batch_people": 64, "pair_dim": 0}
MEMBERS = {"gbdt": {"n_estimators": 30, "early_stopping_rounds": None, "min_child_samples": 10},
           "sequence": {"max_epochs": 1, "hidden": 8, "head_hidden": 8}}
DATES = pd.to_datetime(["2024-10-01", "2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01", "2026-01-01"])
CUT = DATES[3]
"""Events on or after it are rewritten: the folds predicting CUT and earlier dates must not notice."""


def _dataset(root, ds, name: str, events: pd.DataFrame, dates=DATES, window_days: int = 60):
    """The simulated people at every date of `dates` (their outcome known `window_days` later), with `events`."""
    outcomes = ds.read("outcomes")
    rng = np.random.default_rng(0)
    dated = pd.concat([outcomes.assign(as_of=d, window_days=window_days) for d in dates], ignore_index=True)
    dated["label"] = np.where(rng.random(len(dated)) < 0.15, 1 - dated["label"], dated["label"])
    tables = {t: ds.read(t) for t in ds.manifest.tables} | {"outcomes": dated, "events": events}
    return write_dataset(root / name, tables, name=name, snapshot_date=ds.manifest.snapshot_date, spec=ds.spec)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack_pretrain")
    ds = simulate_world(root / "w", people=250, seed=3, chunk_size=250)
    events = ds.read("events")
    later = events["ts"] >= CUT
    changed = events.assign(amount=np.where(later, events["amount"] * 3 + 500.0, events["amount"]))
    return [build_model_input(_dataset(root, ds, name, ev), views=("tabular", "temporal"), threads=1)
            for name, ev in (("base", events), ("changed", changed))]


def test_person_folds_across_dates_never_show_a_held_out_persons_later_events_to_their_earlier_rows(
        tmp_path):
    """Windows longer than the dates span: no outcome is known by a later date, so the folds are person folds
    across the dates. The people one fold predicts get their events from the second date on rewritten: that
    fold's out-of-fold rows dated up to the second date must not notice (before, the stack's one encoder,
    pretrained on every row's history, had read those later events and embedded the earlier rows with it)."""
    from deepcredit.models.splits import folds_over_time, stacking_folds

    dates = DATES[:3]
    ds = simulate_world(tmp_path / "w", people=250, seed=3, chunk_size=250)
    events = ds.read("events")
    base = build_model_input(_dataset(tmp_path, ds, "base", events, dates, 600), views=("tabular", "temporal"),
                             threads=1)
    keys = base.label_keys
    assert keys["as_of"].nunique() == 3 and not folds_over_time(keys, 5)
    held = set(keys["person_id"].to_numpy()[stacking_folds(keys, base.y, 5, 0)[0].predict])
    later = (events["ts"] >= dates[1]).to_numpy() & events["person_id"].isin(held).to_numpy()
    changed = build_model_input(
        _dataset(tmp_path, ds, "changed", events.assign(amount=np.where(later, events["amount"] * 3 + 500.0,
                                                                          events["amount"])), dates, 600),
        views=("tabular", "temporal"), threads=1)
    a, b = _fit(base, members=("gbdt",)), _fit(changed, members=("gbdt",))
    mine = a.oof_["person_id"].isin(held).to_numpy()
    early = mine & (a.oof_["as_of"] < dates[2]).to_numpy()
    assert early.sum() >= 50
    np.testing.assert_array_equal(a.oof_["gbdt"].to_numpy()[early], b.oof_["gbdt"].to_numpy()[early])
    assert "5 encoders of their own, one per person fold" in a.metrics_["pretrain"]["folds"]
    # not vacuous: their rows of the last date read the rewritten events
    assert not np.allclose(a.oof_["gbdt"].to_numpy()[mine & ~early], b.oof_["gbdt"].to_numpy()[mine & ~early])


def _fit(inp, n_jobs: int = 1, members: tuple[str, ...] = ("gbdt", "sequence"), time_groups: int = 1) -> StackModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return StackModel(members=members, member_params=MEMBERS, n_folds=5, pretrain=TINY, temporal=True,
                          n_jobs=n_jobs, time_groups=time_groups).fit(inp)


@pytest.fixture(scope="module")
def fitted(worlds):
    base, changed = worlds
    return _fit(base), _fit(changed)


def test_a_fold_over_time_never_reads_events_after_the_first_date_it_predicts(worlds, fitted):
    base, changed = fitted
    assert len(set(base.oof_["as_of"])) == len(DATES)
    point_in_time = (base.oof_["as_of"] <= CUT).to_numpy()
    have = base.oof_["gbdt"].notna().to_numpy()
    assert (point_in_time & have).sum() > 0
    for kind in ("gbdt", "sequence"):
        assert np.array_equal(base.oof_[kind].to_numpy()[point_in_time], changed.oof_[kind].to_numpy()[point_in_time],
                              equal_nan=True), kind
    # not vacuous: the rows dated after the cut read the rewritten events
    assert not np.allclose(base.oof_["gbdt"].to_numpy()[~point_in_time], changed.oof_["gbdt"].to_numpy()[~point_in_time])
    # the stack that scores keeps the encoder of every training row, and says the folds had their own
    assert base.encoder_ is not None and base.metrics_["pretrain"]["people"] > 200
    assert "5 encoders of their own" in base.metrics_["pretrain"]["folds"]
    assert {"pretrain", "pretrain_folds"} <= set(base.fit_seconds_)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_the_same_seed_fits_the_same_dated_stack_on_any_number_of_processes(worlds, fitted, n_jobs):
    """The fold encoders' embeddings reach the worker processes as arrays (models.parallel's shared input)."""
    again = _fit(worlds[0], n_jobs)
    assert again.processes_ == n_jobs and again.oof_.equals(fitted[0].oof_)
    assert np.array_equal(again.predict_proba(worlds[0]), fitted[0].predict_proba(worlds[0]))


def test_person_groups_of_one_date_share_its_encoder(worlds, fitted):
    """time_groups > 1 crosses each date block with person groups: the encoder reads no label, so the groups
    of a block share the one pretrained on the rows known by its first date (not one per group)."""
    stack = _fit(worlds[0], members=("gbdt",), time_groups=2)
    assert "5 encoders of their own" in stack.metrics_["pretrain"]["folds"]
    assert stack.metrics_["folds"] == 10


def test_one_as_of_date_shares_the_one_encoder_between_its_person_folds(worlds):
    inp = worlds[0]
    one = inp.take(np.flatnonzero(inp.keys["as_of"] == DATES[-1]))
    stack = _fit(one)
    assert stack.encoder_ is not None and "pretrain_folds" not in stack.fit_seconds_
    assert stack.metrics_["pretrain"]["folds"].startswith("the person folds read this encoder")


def test_a_fold_date_that_cannot_be_pretrained_on_leaves_the_temporal_path_out(worlds):
    inp = worlds[0]
    first = (inp.tabular.frame["as_of"] == DATES[0]).to_numpy()
    seq = inp.sequences
    bare = replace(inp, sequences=replace(seq, lengths=np.where(first, 0, seq.lengths)))  # no history at first
    stack = _fit(bare)
    assert stack.encoder_ is None and stack.metrics_["pretrain"] is None
    assert "2025-01-01 could not be" in stack.skipped_["pretrain"]
    gbdt = dict(stack.members_)["gbdt"]
    assert not any(c.startswith("event_embedding_") for c in gbdt.feature_names_)
    assert "pretrain" not in stack.fit_seconds_


def test_the_reports_member_rows_score_each_member_on_the_input_it_was_fitted_on(worlds, fitted):
    """Review: the report scored each member alone on the stack's input, where a member that reads the encoder's
    embeddings finds none: a ValueError, turned into the caveat "Stack members could not be scored on their own"
    in every temporal stack's report. They are now read as the stack reads them."""
    from types import SimpleNamespace

    from deepcredit.evaluation.pipeline import _member_pds

    base, _ = fitted
    inp = worlds[0]
    pds = _member_pds(SimpleNamespace(model=base), inp)
    assert set(pds) == {"member: gbdt", "member: sequence"}
    logits = base.member_logits(inp)
    for kind in ("gbdt", "sequence"):
        np.testing.assert_allclose(pds[f"member: {kind}"], 1 / (1 + np.exp(-logits[kind].to_numpy())), rtol=1e-12)
