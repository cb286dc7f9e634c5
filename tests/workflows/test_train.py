"""The train workflow: exclusions, member parameters, hold-out and time splits, metrics in the artifact."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from deepcredit.config import RunConfig
from deepcredit.data.io import library_versions
from deepcredit.data.simulate import simulate_world
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.spec import Source
from deepcredit.models.artifacts import load_artifact
from deepcredit.models.splits import Fold, holdout_split, time_split
from deepcredit.workflows.evaluate import evaluate_model
from deepcredit.workflows.train import member_kinds, pretraining_leaves_out, select_definitions, train_model

GBDT = {"gbdt": {"n_estimators": 40}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return simulate_world(tmp_path_factory.mktemp("train") / "w", people=900, seed=4, chunk_size=900)


def test_exclusions_drop_dimensions_features_and_what_is_derived_from_them():
    derived = next(f for f in ALL_FEATURES if f.source is Source.DERIVED)
    used = next(f.name for f in ALL_FEATURES if f.name in derived.sql and f.name != derived.name)
    kept = {f.name for f in select_definitions(RunConfig(exclude_features=[used],
                                                         exclude_dimensions=["social_connections"]))}
    assert used not in kept and derived.name not in kept
    assert not any(f.dimension.value == "social_connections" for f in ALL_FEATURES if f.name in kept)
    with pytest.raises(ValueError, match="no_such_dimension"):
        select_definitions(RunConfig(exclude_dimensions=["no_such_dimension"]))
    with pytest.raises(ValueError, match="no_such_feature"):
        select_definitions(RunConfig(exclude_features=["no_such_feature"]))
    assert member_kinds(RunConfig(members=["scorecard", "gbdt"], exclude_members=["scorecard"])) == ["gbdt"]
    # by default the temporal members come with the temporal path only (no warning about leaving them out)
    assert "hybrid" not in member_kinds(RunConfig())
    assert "hybrid" in member_kinds(RunConfig.model_validate({"stack": {"temporal": True}}))
    with pytest.raises(ValueError, match="every member"):
        member_kinds(RunConfig(members=["gbdt"], exclude_members=["gbdt"]))


def test_holdout_is_grouped_by_person_and_stratified():
    import pandas as pd

    rng = np.random.default_rng(0)
    keys = pd.DataFrame({"person_id": np.repeat([f"p{i}" for i in range(200)], 2),
                         "as_of": np.tile(pd.to_datetime(["2024-01-01", "2024-07-01"]), 200)})
    y = (rng.random(400) < 0.2).astype(int)
    f = holdout_split(keys, y, 0.3, seed=1)
    assert not set(keys.person_id[f.train]) & set(keys.person_id[f.predict])
    assert abs(len(f.predict) / 400 - 0.3) < 0.02
    assert np.array_equal(f.predict, holdout_split(keys, y, 0.3, seed=1).predict)
    t = time_split(keys, "2024-07-01")
    assert (keys.as_of[t.predict] == pd.Timestamp("2024-07-01")).all() and len(t.train) == 200
    with pytest.raises(ValueError, match="one side"):
        time_split(keys, "2030-01-01")


def test_train_with_a_holdout_stores_its_metrics_and_config(world, tmp_path):
    cfg = RunConfig(members=["gbdt"], member_params=GBDT, stack={"folds": 2},
                    split={"kind": "holdout", "fraction": 0.3}, seed=2, exclude_dimensions=["social_connections"])
    trained = train_model(cfg, world, tmp_path / "m")
    h = trained.metrics["holdout"]
    assert 0.5 < h["auc"] <= 1 and h["gini"] == pytest.approx(2 * h["auc"] - 1) and 0 < h["ks"] <= 1
    assert h["rows"] + h["train_rows"] == 900 and trained.rows == h["train_rows"]
    art = load_artifact(trained.path)
    assert art.manifest["metrics"]["holdout"]["auc"] == pytest.approx(h["auc"])
    assert art.manifest["config"]["run"]["split"]["kind"] == "holdout"
    assert not any(f["dimension"] == "social_connections" for f in art.manifest["features"])
    record = json.loads((trained.path / "config.json").read_text())
    assert record["data_fingerprint"] == world.fingerprint() and record["config"]["seed"] == 2
    # evaluating on the same data set finds the held-out rows again and evaluates only them
    ev = evaluate_model(trained.path, world, tmp_path / "ev", n_boot=0)["evaluation"]
    assert ev["n"] == h["rows"] and ev["metrics"]["auc"] == pytest.approx(h["auc"]) and "held out" in ev["rows_scope"]
    ev = evaluate_model(trained.path, world, tmp_path / "ev_all", n_boot=0, all_rows=True)["evaluation"]
    assert ev["n"] == 900 and "optimistic" in ev["rows_scope"]


def test_a_profile_only_data_set_trains_on_its_own_declared_attributes(tmp_path):
    from deepcredit.data.datasets import load_bundled

    german = load_bundled("german", tmp_path / "german")
    cfg = RunConfig(model="scorecard", seed=0)
    trained = train_model(cfg, german, tmp_path / "m")
    names = {f["name"] for f in load_artifact(trained.path).manifest["features"]}
    assert names == {a.name for a in german.spec.profile.attributes if not a.protected}


def test_the_temporal_switch_pretrains_on_every_persons_history_or_not_at_all(world, tmp_path):
    tiny = {"epochs": 1, "min_steps": 0, "dim": 8, "kind_dim": 4, "status_dim": 4}
    cfg = RunConfig(members=["gbdt"], member_params=GBDT, stack={"folds": 2, "pretrain": tiny, "temporal": True},
                    split={"kind": "holdout", "fraction": 0.3})
    on = train_model(cfg, world, tmp_path / "on")
    assert on.model.encoder_ is not None and "temporal" in on.views
    # the held-out people's histories (never their labels) join the training rows' in the pretraining
    assert on.metrics["pretrain"]["people"] > on.rows
    off = train_model(cfg.model_copy(update={"stack": cfg.stack.model_copy(update={"temporal": False})}), world,
                      tmp_path / "off")
    assert off.model.encoder_ is None and off.metrics["pretrain"] is None and off.metrics["temporal"] is False


def test_held_out_people_whose_outcomes_precede_the_cut_are_kept_from_the_pretraining():
    """A person hold-out over several as-of dates: a held-out row dated before the last training date has its
    performance window, its label's events, inside the histories the pretraining reads up to that date."""
    keys = pd.DataFrame({"person_id": ["a", "a", "b", "c", "d"],
                         "as_of": pd.to_datetime(["2024-01-01", "2024-07-01", "2024-01-01", "2024-07-01",
                                                  "2024-07-01"])})
    inp = SimpleNamespace(label_keys=keys)
    fold = Fold(train=np.array([0, 1, 3]), predict=np.array([2, 4]))
    cut = keys["as_of"].iloc[fold.train].max()
    assert pretraining_leaves_out(inp, fold, cut) == {"b"}  # d's row is at the cut: its window lies after it
    assert pretraining_leaves_out(inp, None, cut) == set()


def test_a_time_split_trains_only_on_loans_whose_outcome_is_known_by_its_date(tmp_path):
    """Loans issued monthly with a year's performance window: a model fitted on 2023-07-01 could not know
    how the loans of the year before it ended, so they train nothing and test nothing."""
    import pandas as pd

    from deepcredit.data.draft import draft_spec
    from deepcredit.data.ingest import ingest_with_spec
    from deepcredit.data.spec import spec_from_toml
    from deepcredit.features.bundle import build_model_input

    rng = np.random.default_rng(3)
    n = 600
    grade = rng.choice(list("ABCD"), n)
    bad = rng.random(n) < np.select([grade == "A", grade == "B", grade == "C"], [0.05, 0.15, 0.3], 0.45)
    issued = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    pd.DataFrame({"loan_id": [f"l{i}" for i in range(n)], "issue_d": issued.strftime("%Y-%m-%d"),
                  "grade": grade, "default": bad.astype(int)}).to_csv(tmp_path / "loans.csv", index=False)
    text = draft_spec(tmp_path / "loans.csv")
    assert "window_days = 365" in text
    ds = ingest_with_spec(spec_from_toml(text), {"people": tmp_path / "loans.csv"}, tmp_path / "ds")
    keys = build_model_input(ds, views=("tabular",)).label_keys
    assert (keys["known_at"] - keys["as_of"] == pd.Timedelta(days=365)).all()

    messages: list[str] = []
    cut = pd.Timestamp("2023-07-01")
    cfg = RunConfig(model="scorecard", split={"kind": "time", "test_from": cut.date()}, seed=0)
    trained = train_model(cfg, ds, tmp_path / "m", on_message=messages.append)
    h = trained.metrics["holdout"]
    late = int(((issued < cut) & (issued + pd.Timedelta(days=365) > cut)).sum())
    assert h["unmatured_rows"] == late > 0 and h["rows"] == int((issued >= cut).sum())
    assert h["train_rows"] == trained.rows == n - late - h["rows"]
    assert any(f"{late:,} earlier rows are left out of training" in m for m in messages)
    ev = evaluate_model(trained.path, ds, tmp_path / "ev", n_boot=0)["evaluation"]
    assert ev["n"] == h["rows"] and ev["metrics"]["auc"] == pytest.approx(h["auc"])


def test_train_refuses_an_out_that_is_the_data_set_before_any_work(world, monkeypatch):
    from deepcredit.data.errors import DataValidationError
    from deepcredit.workflows import train as train_module

    def no_work(*_, **__):
        raise AssertionError("features were built for an output that is refused")

    monkeypatch.setattr(train_module, "build_model_input", no_work)
    before = sorted(p.name for p in world.root.iterdir())
    with pytest.raises(DataValidationError, match="is a DeepCredit data set, not a DeepCredit model artifact"):
        train_model(RunConfig(model="gbdt"), world, world.root)
    assert sorted(p.name for p in world.root.iterdir()) == before


class _Stop(Exception):
    pass


def _stop_before_features(monkeypatch):
    from deepcredit.workflows import train as train_module

    def stop(*_, **__):
        raise _Stop

    monkeypatch.setattr(train_module, "build_model_input", stop)


@pytest.mark.parametrize("model", ["gbdt", "stack"])
def test_member_params_of_an_unknown_kind_are_refused_before_any_work(world, tmp_path, monkeypatch, model):
    _stop_before_features(monkeypatch)
    cfg = RunConfig(model=model, members=["gbdt"], member_params={"gbdts": {"n_estimators": 30}})
    with pytest.raises(ValueError, match=r"member_params: unknown member kind\(s\) 'gbdts' \(known: .*gbdt"):
        train_model(cfg, world, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_retraining_from_a_run_record_says_where_data_and_versions_differ(world, tmp_path, monkeypatch):
    _stop_before_features(monkeypatch)
    said: list[str] = []
    same = {"data_fingerprint": world.fingerprint(), "versions": library_versions()}
    for recorded in (same, None, {**same, "data_fingerprint": "b4d3aa73" * 8, "versions": {"lightgbm": "0.1"}}):
        with pytest.raises(_Stop):
            train_model(RunConfig(model="gbdt"), world, tmp_path / "m", on_message=said.append, recorded=recorded,
                        allow_other_data=True)  # other data are refused without it (test below)
    notes = [s for s in said if s.startswith("note:")]
    assert len(notes) == 2  # nothing said when they agree, or when nothing is recorded
    assert "the data differ from those of the recorded run" in notes[0] and "recorded b4d3aa73b4d3" in notes[0]
    assert f"lightgbm {library_versions()['lightgbm']} (recorded 0.1)" in notes[1]


def test_a_label_with_one_value_is_refused_saying_what_was_found(tmp_path):
    from tests.data.test_ingest_checks import ALL_GOOD, run

    from deepcredit.data.dataset import Dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ingest's own warning: tests/data/test_ingest_checks.py
        run(tmp_path, people=ALL_GOOD)
    with pytest.raises(ValueError) as err:  # was: "the label must be 0 (good) or 1 (bad), with both present ..."
        train_model(RunConfig(model="scorecard"), Dataset(tmp_path / "ds"), tmp_path / "m")
    assert str(err.value) == ("all 4 labels are 0 (good): a model learns from both good (0) and bad (1) labels; "
                              "these come from the label column 'default_flag' of the people file (good: 'good'; "
                              "bad: 'bad'): check the spec's good and bad values under [outcomes] against the file")


def test_a_second_training_into_an_out_being_written_is_refused_before_any_work(tmp_path, held_elsewhere):
    """audit O4: two trainings into one --out both said "wrote", and the last silently replaced the first.
    The output's lock (data.io.output_lock) is held from the check to the write: the second is refused at
    once, before it reads any data (here there is none to read)."""
    from deepcredit.config import RunConfig
    from deepcredit.data.errors import DataValidationError
    from deepcredit.workflows.train import train_model

    out = tmp_path / "m"
    with held_elsewhere(out) as pid, pytest.raises(DataValidationError,
                                                   match=rf"another .*run \(pid {pid}\) is writing it"):
        train_model(RunConfig(), None, out)  # type: ignore[arg-type]
    assert not out.exists()


def test_every_file_a_trained_model_is_written_with_is_hash_checked(world, tmp_path):
    """A truncated config.json beside a model did not stop `explain`: the run record (and the record of the
    fitted rows) were written outside the manifest's checksums. Now every file but the manifest and its
    signature is listed, and loading refuses a changed one, naming it."""
    from deepcredit.models.artifacts import ArtifactError
    from deepcredit.models.base import load_model

    trained = train_model(RunConfig(model="gbdt", member_params=GBDT, seed=1), world, tmp_path / "m")
    art = load_artifact(trained.path)
    written = {p.name for p in trained.path.iterdir()} - {"manifest.json", "signature.json"}
    assert written == {*art.manifest["files"], *art.manifest["records"]} and "config.json" in written
    assert "config.json" not in art.manifest["files"], "a record, outside the model's identity"
    record = trained.path / "config.json"
    record.write_bytes(record.read_bytes()[:40])
    for load in (load_artifact, load_model):
        with pytest.raises(ArtifactError, match="sha256 mismatch") as err:
            load(trained.path)
        assert err.value.file == str(record)


def test_recreating_from_a_recorded_config_refuses_other_data_unless_allowed_and_then_records_it(world, tmp_path):
    from deepcredit.config import recorded_run

    cfg = RunConfig(model="gbdt", member_params=GBDT, data="w")
    first = train_model(cfg, world, tmp_path / "a")
    record = json.loads((first.path / "config.json").read_text())
    assert record["config"]["data"] == "w" and record["data_path"] == str(world.root.resolve())  # typed, and where
    recorded = recorded_run(first.path / "config.json")
    other = simulate_world(tmp_path / "other", people=300, seed=9, chunk_size=300)
    with pytest.raises(ValueError, match=f"fingerprint {other.fingerprint()}.*fingerprint {world.fingerprint()}"):
        train_model(cfg, other, tmp_path / "b", recorded=recorded)
    assert not (tmp_path / "b").exists()
    allowed = load_artifact(train_model(cfg, other, tmp_path / "b", recorded=recorded, allow_other_data=True).path)
    said = allowed.manifest["config"]["other_data_than_config"]
    assert said["config_data_fingerprint"] == world.fingerprint() and said["data_fingerprint"] == other.fingerprint()
    assert json.loads((allowed.root / "config.json").read_text())["other_data_than_config"] == said
    again = load_artifact(train_model(cfg, world, tmp_path / "c", recorded=recorded).path)  # its own data: no refusal
    assert again.sha256 == load_artifact(first.path).sha256 and "other_data_than_config" not in again.manifest["config"]


def test_recreation_reads_the_recorded_absolute_path_unless_data_are_given(world, tmp_path):
    from deepcredit.workflows.train import recreation_data

    recorded = {"data_path": str(world.root.resolve())}
    assert recreation_data(RunConfig(data="w"), recorded, None) == str(world.root.resolve())
    assert recreation_data(RunConfig(data="w"), recorded, "given") == "given"
    assert recreation_data(RunConfig(data="w"), {"data_path": str(tmp_path / "gone")}, None) == "w"


def test_the_stored_config_names_the_resolved_members(world, tmp_path):
    cfg = RunConfig(exclude_members=["scorecard", "sequence", "wide_deep", "graph"], member_params=GBDT,
                    stack={"folds": 2})
    trained = train_model(cfg, world, tmp_path / "m")
    assert json.loads((trained.path / "config.json").read_text())["config"]["members"] == ["gbdt"]
    config = load_artifact(trained.path).manifest["config"]
    assert config["run"]["members"] == ["gbdt"] and config["feature_engine"] == "duckdb"


def test_recreating_from_a_recorded_config_on_a_reingested_copy_of_its_data_is_not_refused(world, tmp_path):
    """The same rows ingested again (in another order: other Parquet bytes) were refused as other data,
    though the model they train is the same; a run recorded with the byte fingerprint (before content
    fingerprints) still names its data too."""
    from deepcredit.config import recorded_run
    from deepcredit.data.dataset import write_dataset
    from deepcredit.evaluation.pipeline import is_training_data

    rng = np.random.default_rng(3)
    frames = {name: world.read(name) for name in [*world.manifest.tables, *world.manifest.extras]}
    copy = write_dataset(tmp_path / "copy", {n: f.iloc[rng.permutation(len(f))] for n, f in frames.items()},
                         world.name, str(world.snapshot_date.date()), spec=world.spec)
    cfg = RunConfig(model="gbdt", member_params=GBDT, data="w")
    first = train_model(cfg, world, tmp_path / "a")
    again = load_artifact(train_model(cfg, copy, tmp_path / "b", recorded=recorded_run(first.path / "config.json")).path)
    assert copy.byte_fingerprint() != world.byte_fingerprint()  # other bytes, the same data
    assert "other_data_than_config" not in again.manifest["config"] and is_training_data(again.manifest, world)
    assert again.manifest["data_fingerprint"] == world.fingerprint()
    legacy = {**recorded_run(first.path / "config.json"), "data_fingerprint": world.byte_fingerprint()}
    train_model(cfg, world, tmp_path / "c", recorded=legacy)  # an artifact trained before: its own data
    assert is_training_data({"data_fingerprint": world.byte_fingerprint()}, world)
