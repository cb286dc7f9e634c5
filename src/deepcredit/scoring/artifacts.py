"""Model artifacts: a directory of files plus a manifest that pins each file's sha256.

    ART/manifest.json   kind, format version, config, feature list, data fingerprint, metrics, library
                        versions, {file: sha256} for every other file, and the manifest's own sha256
    ART/model.json      the model's kind and constructor parameters
    ART/...             any further files a model type needs (a LightGBM text model, torch weights,
                        a scorecard's CSV/HTML tables), each listed in the manifest

Why hashes: a model that scores people must be exactly the one that was validated. Loading recomputes
every hash and refuses the artifact on any mismatch, so a changed byte, a truncated copy or a hand-edited
point value is caught before it scores anyone. The directory is written in a sibling staging directory and
renamed into place, so a crash never leaves a half-written artifact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deepcredit.data.io import atomic_write_bytes, file_sha256, library_versions, replace_directory
from deepcredit.data.validate import DataValidationError

ARTIFACT_FORMAT = 1
MANIFEST = "manifest.json"
PAYLOAD = "model.json"


class ArtifactError(DataValidationError):
    """An artifact that is missing, unreadable, of an unknown format, or whose bytes fail their hash."""


def _dumps(obj: object) -> str:
    """Canonical JSON (sorted keys, fixed indent): the same content always gives the same bytes."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Artifact:
    root: Path
    manifest: dict
    payload: dict

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def sha256(self) -> str:
        """The payload's hash: the identity of the model itself."""
        return self.manifest["files"][PAYLOAD]

    def path(self, name: str) -> Path:
        if name not in self.manifest["files"]:
            raise ArtifactError(str(self.root / MANIFEST), f"the artifact has no file named {name!r}")
        return self.root / name


def save_artifact(out: Path, payload: dict, *, kind: str, config: Mapping, features: Sequence,
                  data_fingerprint: str, metrics: Mapping, extra_files: Mapping[str, bytes] | None = None) -> Path:
    """Write an artifact directory atomically (replacing any previous one); returns its path.

    payload: the JSON the model needs to serve; extra_files: name -> bytes of any other file.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{uuid.uuid4().hex}.staging")
    staging.mkdir()
    try:
        files = {PAYLOAD: _dumps(payload).encode("utf-8"), **(extra_files or {})}
        for name in files:
            if name == MANIFEST or "/" in name or name.startswith("."):
                raise ValueError(f"invalid artifact file name {name!r}")
        hashes = {}
        for name, data in sorted(files.items()):
            atomic_write_bytes(staging / name, data)
            hashes[name] = hashlib.sha256(data).hexdigest()
        versions = library_versions()
        body = {
            "artifact_format": ARTIFACT_FORMAT, "kind": kind,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deepcredit_version": versions.get("deepcredit", "unknown"), "library_versions": versions,
            "config": dict(config), "features": list(features), "data_fingerprint": data_fingerprint,
            "metrics": dict(metrics), "files": hashes, "sha256": hashes[PAYLOAD],
        }
        body = json.loads(json.dumps(body, default=str))  # plain JSON types only
        body["manifest_sha256"] = _sha(_dumps(body))
        atomic_write_bytes(staging / MANIFEST, _dumps(body).encode("utf-8"))
        replace_directory(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def load_artifact(path: Path, kind: str | None = None) -> Artifact:
    """Read an artifact, verifying the manifest's own hash and every listed file's sha256 first."""
    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.exists():
        raise ArtifactError(str(mpath), "not a DeepCredit model artifact (manifest.json is missing)")
    raw = mpath.read_bytes()
    try:
        manifest = json.loads(raw)
        claimed = manifest.pop("manifest_sha256")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, AttributeError, TypeError):
        raise ArtifactError(str(mpath), "unreadable manifest: the artifact is damaged or was edited") from None
    if _sha(_dumps(manifest)) != claimed or _dumps({**manifest, "manifest_sha256": claimed}).encode() != raw:
        raise ArtifactError(str(mpath), "manifest hash mismatch: the manifest was changed after it was written")
    if manifest.get("artifact_format") != ARTIFACT_FORMAT:
        raise ArtifactError(str(mpath), f"artifact format {manifest.get('artifact_format')!r} is not supported "
                                        f"(this version reads {ARTIFACT_FORMAT})")
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactError(str(mpath), f"expected a {kind!r} artifact, found {manifest.get('kind')!r}")
    for name, expected in manifest["files"].items():
        fpath = root / name
        if not fpath.exists():
            raise ArtifactError(str(fpath), "file listed in the manifest is missing")
        actual = file_sha256(fpath)
        if actual != expected:
            raise ArtifactError(str(fpath), f"sha256 mismatch (expected {expected[:12]}..., found {actual[:12]}...): "
                                            "the file was changed after the artifact was written")
    try:
        payload = json.loads((root / PAYLOAD).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ArtifactError(str(root / PAYLOAD), "unreadable payload") from None
    return Artifact(root, manifest, payload)
