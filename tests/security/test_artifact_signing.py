"""Forged model artifacts (issue 15, item 6): a signature the forger cannot recompute, and serve's identity check."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from typer.testing import CliRunner

from deepcredit.models.artifacts import (
    MANIFEST,
    PAYLOAD,
    PRIVATE_KEY,
    PUBLIC_KEY,
    SIGNATURE,
    ArtifactError,
    _dumps,
    load_artifact,
    save_artifact,
)


@pytest.fixture
def keys(tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(folder))
    return folder


def _save(out, payload=None):
    return save_artifact(out, payload or {"points": [1, 2, 3]}, kind="toy", config={}, features=["a"],
                         data_fingerprint="f", metrics={})


def _forge(art, change) -> None:
    """What someone who can write the directory does: change the payload and recompute every hash."""
    payload = json.loads((art / PAYLOAD).read_text())
    change(payload)
    data = _dumps(payload).encode()
    (art / PAYLOAD).write_bytes(data)
    manifest = json.loads((art / MANIFEST).read_text())
    manifest.pop("manifest_sha256")
    manifest["files"][PAYLOAD] = manifest["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["manifest_sha256"] = hashlib.sha256(_dumps(manifest).encode()).hexdigest()
    (art / MANIFEST).write_text(_dumps(manifest))


def test_the_key_is_created_on_first_use_and_artifacts_round_trip(keys, tmp_path):
    art = _save(tmp_path / "m")
    assert (keys / PRIVATE_KEY).stat().st_mode & 0o777 == 0o600 and (keys / PUBLIC_KEY).exists()
    assert load_artifact(art).payload == {"points": [1, 2, 3]}
    assert json.loads((art / SIGNATURE).read_text())["algorithm"] == "ed25519"


def test_a_forged_model_with_recomputed_hashes_is_refused(keys, tmp_path):
    art = _save(tmp_path / "m")
    _forge(art, lambda p: p["points"].__setitem__(0, 999))
    with pytest.raises(ArtifactError, match="signature mismatch"):
        load_artifact(art)


def test_unsigned_and_foreign_artifacts_are_refused(keys, tmp_path, monkeypatch):
    art = _save(tmp_path / "m")
    (art / SIGNATURE).unlink()
    with pytest.raises(ArtifactError, match="not signed"):
        load_artifact(art)
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(tmp_path / "attacker-keys"))
    foreign = _save(tmp_path / "foreign")
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(keys))
    with pytest.raises(ArtifactError, match="not trusted"):
        load_artifact(foreign)
    # trusting the other key explicitly (a public key, in trusted/) makes it load
    (keys / "trusted").mkdir()
    shutil.copy(tmp_path / "attacker-keys" / PUBLIC_KEY, keys / "trusted" / "colleague.pub")
    assert load_artifact(foreign).kind == "toy"


def test_a_server_with_only_the_public_key_verifies_but_cannot_sign(keys, tmp_path, monkeypatch):
    art = _save(tmp_path / "m")
    server = tmp_path / "server-keys"
    server.mkdir()
    shutil.copy(keys / PUBLIC_KEY, server / PUBLIC_KEY)
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(server))
    assert load_artifact(art).kind == "toy"
    with pytest.raises(ArtifactError, match="only the public key"):
        _save(tmp_path / "m2")
    assert not (server / PRIVATE_KEY).exists()


def test_serve_refuses_a_model_other_than_the_one_serve_init_recorded(tmp_path):
    import typer
    from service_testkit import ADMIN_KEY, KEY, world

    from deepcredit.cli import serve_cmds
    from deepcredit.service.app import create_app
    from deepcredit.service.bootstrap import ModelMismatch
    from deepcredit.service.config import Settings

    w = world()
    model = tmp_path / "model"
    shutil.copytree(w.root / "model", model)
    env = {"DEEPCREDIT_PSEUDONYM_KEY": KEY.decode(), "DEEPCREDIT_ADMIN_KEY": ADMIN_KEY,
           "DEEPCREDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'svc.db'}"}
    app = typer.Typer()
    serve_cmds.register(app)
    r = CliRunner().invoke(app, ["serve-init", "--data", str(w.raw.root), "--model", str(model),
                                 "--state", str(tmp_path / "state"), "--as-of", "2026-07-01"], env=env)
    assert r.exit_code == 0, r.output
    # a validly signed but different model put in its place (an insider with the key, or a mix-up)
    art = load_artifact(model)
    payload = {**art.payload, "base_points": art.payload.get("base_points", 0) + 1}
    save_artifact(model, payload, kind=art.kind, config=art.manifest["config"], features=art.manifest["features"],
                  data_fingerprint=art.manifest["data_fingerprint"], metrics={},
                  extra_files={n: (model / n).read_bytes() for n in art.manifest["files"] if n != PAYLOAD})
    with pytest.raises(ModelMismatch, match="serve-init"):
        create_app(Settings.from_env(env))
