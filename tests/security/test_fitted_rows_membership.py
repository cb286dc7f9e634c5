"""A model artifact must not let whoever holds it test whether a person was trained on (audit s46 X, defect 1):
its record of fitted rows is keyed with the installation's fitted-rows key, which the artifact does not hold."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from deepcredit.models import artifacts
from deepcredit.models.artifacts import (
    FITTED_ROWS,
    Artifact,
    key_hashes,
    load_artifact,
    row_hashes,
    save_artifact,
)

TRAINED = pd.DataFrame({"person_id": [f"s7-p{i:07d}" for i in range(1, 41)],
                        "as_of": [pd.Timestamp("2026-01-01")] * 40})


@pytest.fixture
def keys(tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(folder))
    return folder


def _save(out):
    return save_artifact(out, {"points": [1, 2, 3]}, kind="toy", config={}, features=["a"], data_fingerprint="f",
                         metrics={}, fitted_keys=TRAINED)


def _candidates(root) -> list[bytes]:
    """Every key someone holding only the artifact folder could try: each hex string in the manifest, each
    string's own bytes, and each small file whole."""
    found: list[bytes] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            if 0 < len(value.encode()) <= 64:
                found.append(value.encode())
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                return
            if 0 < len(raw) <= 64:
                found.append(raw)

    walk(json.loads((root / "manifest.json").read_text()))
    found += [p.read_bytes() for p in root.iterdir() if 0 < p.stat().st_size <= 64]
    return found


def test_the_artifact_alone_cannot_test_whether_a_known_id_was_trained_on(tmp_path, keys):
    root = _save(tmp_path / "m")
    stored = set(np.load(root / FITTED_ROWS).tolist())
    probe = TRAINED.iloc[[2]]  # s7-p0000003, trained on
    tried = _candidates(root)
    assert len(tried) > 10
    assert not any(int(key_hashes(probe, key)[0]) in stored for key in tried)
    assert not any(set(row_hashes(TRAINED, key).tolist()) & stored for key in tried)
    key, hashes = load_artifact(root).fitted_rows()  # where it was trained, the record still reads
    assert np.array_equal(hashes, row_hashes(TRAINED, key))


def test_another_machine_without_the_key_is_told_and_one_given_the_key_reads_the_record(tmp_path, keys, monkeypatch):
    art = load_artifact(_save(tmp_path / "m"))
    other = tmp_path / "other-keys"
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(other))
    with pytest.raises(artifacts.FittedRowsKeyMissing, match="fitted-rows key [0-9a-f]{16}") as caught:
        art.fitted_rows()
    assert caught.value.key_id == art.manifest["fitted_rows"]["key_id"]
    assert not other.exists()  # reading never creates a key
    (other / "fitted-rows").mkdir(parents=True)
    shutil.copy(keys / "fitted-rows.key", other / "fitted-rows" / "training.key")
    key, hashes = art.fitted_rows()
    assert np.array_equal(hashes, row_hashes(TRAINED, key))


def test_the_key_is_the_installations_own_file_readable_by_its_owner_only(tmp_path, keys):
    one, two = load_artifact(_save(tmp_path / "a")), load_artifact(_save(tmp_path / "b"))
    assert (keys / "fitted-rows.key").stat().st_mode & 0o077 == 0
    assert one.manifest["fitted_rows"]["key_id"] == two.manifest["fitted_rows"]["key_id"]
    assert one.fitted_rows()[0] != two.fitted_rows()[0]  # a salt per artifact: two records cannot be joined
    assert not set(np.load(one.root / FITTED_ROWS).tolist()) & set(np.load(two.root / FITTED_ROWS).tolist())
    (keys / "fitted-rows.key").write_text("not a key\n")
    with pytest.raises(artifacts.ArtifactError, match="not a fitted-rows key"):
        one.fitted_rows()


def test_an_artifact_written_before_the_key_is_read_as_before(tmp_path, keys):
    """Its salt is in its manifest: it loads and its record reads (and stays testable: docs/security.md)."""
    salt = bytes(range(16))
    (tmp_path / "old").mkdir()
    np.save(tmp_path / "old" / FITTED_ROWS, row_hashes(TRAINED, salt), allow_pickle=False)
    manifest = {"fitted_rows": {"salt": salt.hex(), "rows": 40, "hash": "blake2b-64 of person_id, as_of"},
                "records": {FITTED_ROWS: "checked on load"}}
    key, hashes = Artifact(tmp_path / "old", manifest, {}).fitted_rows()
    assert key == salt and np.array_equal(hashes, row_hashes(TRAINED, salt))


def test_a_server_with_only_the_public_key_makes_no_fitted_rows_key(tmp_path, keys, monkeypatch):
    _save(tmp_path / "m")
    server = tmp_path / "server-keys"
    server.mkdir()
    shutil.copy(keys / "artifact-signing.pub", server / "artifact-signing.pub")
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(server))
    with pytest.raises(artifacts.ArtifactError, match="only the public key"):
        _save(tmp_path / "m2")
    assert sorted(p.name for p in server.iterdir()) == ["artifact-signing.pub"]
