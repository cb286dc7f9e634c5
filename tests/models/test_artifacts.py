import json

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.errors import DataValidationError
from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models.artifacts import ArtifactError, content_sha256, load_artifact, save_artifact
from deepcredit.models.base import load_model, save_model
from deepcredit.models.scorecard import ScorecardModel
from deepcredit.scoring.scorer import Scorer


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(1)
    n = 2000
    X = pd.DataFrame({"late": rng.poisson(1.0, n).astype(float), "limit": rng.lognormal(10, 0.5, n)})
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(-1.5 + 0.8 * X["late"] - 0.5 * (np.log(X["limit"]) - 10))))).astype(int)
    defs = [FeatureDef("late", Dimension.CREDIT_HISTORY, Source.EVENTS, "COUNT(*)", "late payments", "Pay on time.",
                       risk_direction=1, fill=0),
            FeatureDef("limit", Dimension.FULFILMENT_CAPACITY, Source.PROFILE, "MAX(limit)", "your credit line",
                       "Ask for more.", risk_direction=-1)]
    frame = pd.concat([pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "as_of": pd.Timestamp("2025-01-01"),
                                     "label": y}), X], axis=1)
    inp = ModelInput(FeatureFrame(frame, defs, {"data_fingerprint": "abc123"}))
    return ScorecardModel(min_bin_size=0.05).fit(inp), inp


def save(card: ScorecardModel, inp: ModelInput, out):
    return save_model(card, out, inp, metrics={"auc": 0.7})


def test_scorecard_roundtrip(tmp_path, fitted):
    card, inp = fitted
    out = save(card, inp, tmp_path / "card")
    assert sorted(p.name for p in out.iterdir()) == ["fitted_rows.npy", "manifest.json", "model.json", "reference.json",
                                                     "scorecard.csv", "scorecard.html", "scorecard_card.json",
                                                     "signature.json"]
    loaded = load_model(out)
    np.testing.assert_array_equal(loaded.predict_proba(inp), card.predict_proba(inp))
    pd.testing.assert_frame_equal(Scorer(loaded).report(inp), Scorer(card).report(inp))
    assert [d.name for d in loaded.definitions_] == ["late", "limit"]
    m = load_artifact(out).manifest
    assert m["kind"] == "scorecard" and m["artifact_format"] == 1
    assert m["data_fingerprint"] == "abc123" and m["metrics"] == {"auc": 0.7}
    assert [f["name"] for f in m["features"]] == ["late", "limit"]
    assert m["sha256"] == load_artifact(out).sha256 == content_sha256(m["files"]) and len(m["sha256"]) == 64
    assert "numpy" in m["library_versions"]
    assert set(m["files"]) == {"model.json", "reference.json", "scorecard.csv", "scorecard.html", "scorecard_card.json"}
    # the typical feature values of the rows it was saved with: the saved model and the loaded one keep them
    assert loaded.reference_ == card.reference_ == {"late": float(inp.X["late"].median()),
                                                    "limit": float(inp.X["limit"].median())}
    assert "(base points)" in (out / "scorecard.csv").read_text()
    assert "<table" in (out / "scorecard.html").read_text()
    assert not list(tmp_path.glob(".*staging*"))  # nothing half-written left behind


def test_same_card_same_hash(tmp_path, fitted):
    card, inp = fitted
    a = load_artifact(save(card, inp, tmp_path / "a"))
    b = load_artifact(save(card, inp, tmp_path / "b"))
    assert a.manifest["files"] == b.manifest["files"]


@pytest.mark.parametrize("name", ["scorecard_card.json", "scorecard.csv", "scorecard.html", "manifest.json"])
def test_a_tampered_artifact_is_refused(tmp_path, fitted, name):
    card, inp = fitted
    out = save(card, inp, tmp_path / "card")
    path = out / name
    data = bytearray(path.read_bytes())
    i = len(data) // 2
    data[i] = ord("7") if data[i] != ord("7") else ord("8")  # one byte
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="mismatch|unreadable|changed"):
        load_model(out)


def test_an_edited_point_value_is_refused(tmp_path, fitted):
    card, inp = fitted
    out = save(card, inp, tmp_path / "card")
    payload = json.loads((out / "scorecard_card.json").read_text())
    payload["card"]["features"][0]["points"][0] += 50
    (out / "scorecard_card.json").write_text(json.dumps(payload, indent=1, sort_keys=True))
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        load_model(out)


def test_missing_pieces_are_clear_errors(tmp_path, fitted):
    card, inp = fitted
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        load_artifact(tmp_path / "nothing")
    out = save(card, inp, tmp_path / "card")
    (out / "scorecard.csv").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact(out)


def test_general_artifact_with_extra_files(tmp_path):
    out = save_artifact(tmp_path / "gbm", {"trees": 3}, kind="lightgbm", config={"lr": 0.1}, features=["a"],
                        data_fingerprint="f", metrics={}, extra_files={"model.txt": b"tree\n"})
    art = load_artifact(out, kind="lightgbm")
    assert art.payload == {"trees": 3} and art.path("model.txt").read_bytes() == b"tree\n"
    with pytest.raises(ArtifactError, match="expected a 'scorecard' artifact"):
        load_artifact(out, kind="scorecard")
    with pytest.raises(ValueError, match="invalid artifact file name"):
        save_artifact(tmp_path / "bad", {}, kind="x", config={}, features=[], data_fingerprint="", metrics={},
                      extra_files={"../escape": b""})


def test_two_fits_with_the_same_parameters_are_two_models(tmp_path):
    # a network's or a stack's payload holds its parameters; its weights are other files
    args = dict(kind="gbdt", payload={"kind": "gbdt", "params": {"n_estimators": 10}}, config={}, features=[],
                data_fingerprint="abc", metrics={})
    one = save_artifact(tmp_path / "one", extra_files={"weights.txt": b"tree 1"}, **args)
    two = save_artifact(tmp_path / "two", extra_files={"weights.txt": b"tree 2"}, **args)
    again = save_artifact(tmp_path / "again", extra_files={"weights.txt": b"tree 1"}, **args)
    assert load_artifact(one).sha256 != load_artifact(two).sha256
    assert load_artifact(one).sha256 == load_artifact(again).sha256  # the same files: the same model


ARGS = dict(kind="gbdt", payload={"kind": "gbdt"}, config={}, features=[], data_fingerprint="abc", metrics={})


def test_an_artifact_replaces_an_earlier_artifact_and_cleans_stale_staging(tmp_path):
    out = save_artifact(tmp_path / "m", extra_files={"w.txt": b"1"}, **ARGS)
    (tmp_path / f".m.{'a' * 32}.staging").mkdir()  # a killed run's
    save_artifact(out, extra_files={"w.txt": b"2"}, **ARGS)  # retraining into the same folder
    assert load_artifact(out).path("w.txt").read_bytes() == b"2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.parametrize("what", ["data set", "folder", "file"])
def test_an_artifact_never_replaces_anything_else(tmp_path, what):
    out = tmp_path / "x"
    if what == "file":
        out.write_text("mine")
    else:
        out.mkdir()
        manifest = {"name": "d", "snapshot_date": "2024-01-01", "tables": {}} if what == "data set" else None
        (out / ("manifest.json" if manifest else "notes.txt")).write_text(json.dumps(manifest or "mine"))
    before = sorted(p.name for p in out.iterdir()) if out.is_dir() else out.read_text()
    found = {"data set": "a DeepCredit data set, not a DeepCredit model artifact",
             "folder": "a directory that is not a DeepCredit model artifact", "file": "a file"}[what]
    with pytest.raises(DataValidationError, match=f"already exists and is {found}: refusing to replace it"):
        save_artifact(out, **ARGS)
    assert (sorted(p.name for p in out.iterdir()) if out.is_dir() else out.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"], "nothing staged or set aside is left"


def test_an_artifact_of_other_library_versions_warns_once_naming_them_and_strict_refuses(tmp_path, fitted,
                                                                                          monkeypatch):
    import warnings

    from deepcredit.models import artifacts

    card, inp = fitted
    real = artifacts.library_versions
    with monkeypatch.context() as m:
        m.setattr(artifacts, "library_versions", lambda names=None: {
            **real(), "numpy": "1.26.4", "lightgbm": "3.3.5", "torch": real()["torch"] + ".post9",
            "pyspark": "absent", "scipy": "absent"})
        out = save(card, inp, tmp_path / "old")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        load_artifact(out)
        load_artifact(out)  # once per artifact and process
    said = [w for w in seen if issubclass(w.category, artifacts.LibraryVersionWarning)]
    assert len(said) == 1 and "\n" not in str(said[0].message)
    text = str(said[0].message)
    assert "numpy" in text and "(trained with 1.26.4)" in text and "lightgbm" in text
    assert "torch" not in text and "scipy" not in text  # a patch release, or a library absent then: not a difference
    with pytest.raises(ArtifactError, match="other library versions.*numpy"):
        load_artifact(out, strict_versions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_artifact(save(card, inp, tmp_path / "now"))  # the running versions: nothing said

