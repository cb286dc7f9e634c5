"""An artifact's identity is the model alone: the run's facts (seconds, processes, n_jobs, machine, code) are
kept beside it, outside the hash, so the same data, config and seed give the same sha256 (audit I, F1/F6)."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from deepcredit.data.io import code_fingerprint
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input
from deepcredit.models.artifacts import load_artifact, row_hashes
from deepcredit.models.base import load_model, save_model
from deepcredit.models.stack import StackModel

PARAMS = {"scorecard": {"features": ["n_bad_365d", "bad_rate", "days_since_last_bad"]},
          "gbdt": {"n_estimators": 30, "early_stopping_rounds": None, "min_child_samples": 10}}


@pytest.fixture(scope="module")
def inp(tmp_path_factory):
    ds = simulate_world(tmp_path_factory.mktemp("id") / "w", people=500, seed=4, chunk_size=500)
    return build_model_input(ds, views=("tabular",), threads=1)


def _fit_and_save(inp, out, n_jobs):
    model = StackModel(members=("scorecard", "gbdt"), member_params=PARAMS, n_folds=2, seed=1, n_jobs=n_jobs)
    return save_model(model.fit(inp), out, inp, metrics=dict(model.metrics_))


def test_two_fits_and_two_n_jobs_give_one_identity_with_their_timings_kept_beside_it(tmp_path, inp):
    arts = [load_artifact(_fit_and_save(inp, tmp_path / name, n)) for name, n in (("a", 1), ("b", 1), ("c", 2))]
    assert arts[0].sha256 == arts[1].sha256 == arts[2].sha256
    assert arts[0].manifest["files"] == arts[2].manifest["files"]
    for art, n in zip(arts, (1, 1, 2), strict=True):
        facts = art.run_facts
        assert facts["n_jobs"] == n and facts["processes"] == n
        assert facts["fit_seconds"]["total"] > 0 and "gbdt_folds" in facts["fit_seconds"]
        assert facts["machine"]["cpus"] >= 1
        assert "fit_seconds" not in (art.root / "stack.json").read_text()
        assert "n_jobs" not in art.payload["params"]
    loaded = load_model(arts[2].root)
    assert loaded.fit_seconds_ == arts[2].run_facts["fit_seconds"]  # readable from a loaded model too
    assert isinstance(loaded, StackModel) and loaded.n_jobs is None  # how it ran is not part of the model


def test_the_manifest_names_the_code_and_python_outside_the_identity(tmp_path, inp):
    art = load_artifact(_fit_and_save(inp, tmp_path / "a", 1))
    assert art.manifest["code"] == {"fingerprint": code_fingerprint(), "python": platform.python_version()}
    assert len(code_fingerprint()) == 64 and code_fingerprint() is code_fingerprint()  # cached per process
    assert "code" not in art.manifest["files"]


def test_the_fitted_rows_are_recorded_as_salted_hashes_without_raw_ids(tmp_path, inp):
    part = inp.take(np.arange(0, len(inp), 2))
    art = load_artifact(_fit_and_save(part, tmp_path / "a", 1))
    salt, hashes = art.fitted_rows()
    assert hashes.dtype == np.uint64 and len(hashes) == len(part) and np.all(np.diff(hashes.astype(np.float64)) >= 0)
    assert np.array_equal(hashes, row_hashes(part.keys, salt))
    assert not np.isin(row_hashes(inp.take(np.arange(1, len(inp), 2)).keys, salt), hashes).any()
    raw = (art.root / "fitted_rows.npy").read_bytes()
    assert str(part.keys["person_id"].iloc[0]).encode() not in raw
    other = load_artifact(_fit_and_save(part, tmp_path / "b", 1))
    assert other.sha256 == art.sha256 and other.fitted_rows()[0] != salt  # a fresh salt, the same identity



def _fit_with_gbdt_threads(inp, out, n):
    params = {**PARAMS, "gbdt": {**PARAMS["gbdt"], "n_jobs": n}}
    model = StackModel(members=("scorecard", "gbdt"), member_params=params, n_folds=2, seed=1)
    return load_artifact(save_model(model.fit(inp), out, inp))


def test_a_members_n_jobs_is_kept_out_of_the_model_parameters(tmp_path, inp):
    art = _fit_with_gbdt_threads(inp, tmp_path / "m", 2)
    assert art.payload["params"]["member_params"]["gbdt"] == PARAMS["gbdt"]
    assert '"n_jobs"' not in (art.root / "stack.json").read_text()
    assert art.run_facts["n_jobs"] is None  # the stack's own; the member's is in the run config


def test_a_members_thread_count_does_not_change_the_identity(tmp_path, inp):
    assert _fit_with_gbdt_threads(inp, tmp_path / "a", 1).sha256 == _fit_with_gbdt_threads(inp, tmp_path / "b", 2).sha256


def test_a_pretrained_temporal_stack_trained_twice_has_one_identity_with_its_pretraining_seconds_beside_it(
        tmp_path_factory):
    """Pretraining's wall-clock seconds are a run fact: in encoder.json or stack.json they changed the sha256."""
    ds = simulate_world(tmp_path_factory.mktemp("tp") / "w", people=300, seed=5, chunk_size=300)
    tinp = build_model_input(ds, views=("tabular", "temporal"), threads=1)
    tiny = {"epochs": 1, "min_steps": 0, "dim": 8, "kind_dim": 4, "status_dim": 4, "batch_people": 64, "pair_dim": 0}
    arts = []
    for name in ("a", "b"):
        model = StackModel(members=("gbdt", "sequence"), n_folds=2, seed=1, pretrain=tiny, temporal=True,
                           member_params={**PARAMS, "sequence": {"max_epochs": 1, "hidden": 8, "head_hidden": 8}})
        arts.append(load_artifact(save_model(model.fit(tinp), tmp_path_factory.mktemp(name) / "m", tinp,
                                             metrics=dict(model.metrics_))))
    assert "pretrain__encoder.json" in arts[0].manifest["files"]
    assert arts[0].sha256 == arts[1].sha256
    for art in arts:
        assert "seconds" not in (art.root / "pretrain__encoder.json").read_text()
        assert "seconds" not in (art.root / "stack.json").read_text()
        assert art.run_facts["devices"] == {"sequence": "cpu"}  # where each torch member was fitted
        assert art.run_facts["pretrain"]["seconds"] >= 0 and art.run_facts["pretrain"]["device"] == "cpu"
