"""Model artifacts: a directory of files plus a manifest that pins each file's sha256.

    ART/manifest.json   kind, format version, config, feature list, data fingerprint, metrics, library
                        versions, {file: sha256} for every other file, and the manifest's own sha256
    ART/model.json      the model's kind and constructor parameters
    ART/...             any further files a model type needs (a LightGBM text model, torch weights,
                        a scorecard's CSV/HTML tables), each listed in the manifest
    ART/fitted_rows.npy a record (not part of the model): the rows it was fitted on, as sorted 64-bit keyed
                        hashes of (person_id, as_of) (row_hashes) under a key the artifact does not hold
                        (fitted_rows_record); listed under the manifest's `records`
    ART/config.json     a record: the run that trained it (config.run_record), under `records` too
    ART/signature.json  an Ed25519 signature over the manifest's bytes, and the id of the key that made it

What the identity (`sha256`, content_sha256) covers, and what it leaves out: it hashes the model's own files
(`files`) only, so the same data, config and seed give the same identity whatever the run's circumstances.
Facts of the run (fit seconds, processes and n_jobs, the machine: `run_facts`), the code that made it
(`code`: a fingerprint of the package's source files and the Python version), the creation time and the
record of fitted rows (`records`) are kept in the manifest, signed and hash-checked like the rest, but
outside the identity: a re-fit on another machine, with another n_jobs or after a harmless code edit is
still the model that was validated when its files are byte for byte the same (docs/scoring.md).

Every file the artifact is written with but the manifest and its signature (which signs the manifest) is
listed, under `files` or `records`: one rule, read off the staging directory, not a list of names. The loader
checks what is listed and reads nothing else; a file an older artifact did not list (its config.json,
written beside it before 2026-12-07) is neither checked nor refused, so older artifacts still load.

Why hashes: a model that scores people must be exactly the one that was validated. Loading recomputes
every hash and refuses the artifact on any mismatch, so a changed byte, a truncated copy or a hand-edited
point value is caught before it scores anyone. The directory is written in a sibling staging directory and
renamed into place, so a crash never leaves a half-written artifact.

Why a signature as well: hashes use no secret, so whoever can write the directory can recompute them for a
forged model. The manifest (which pins every file's hash) is signed with an Ed25519 private key and loading
verifies it against the trusted public keys; a machine that only serves models needs the public key, which
cannot sign (docs/security.md). Keys live in DEEPCREDIT_KEY_DIR (default ~/.config/deepcredit/keys):
`artifact-signing.key` (private, 0600, created on first use), `artifact-signing.pub`, and any further
trusted public keys as `trusted/*.pub` (raw 32-byte Ed25519 keys, hex).

Why the fitted rows' hashes are keyed with a secret kept out of the artifact: person ids are often guessable
(sequential) and an as-of date is shared by many rows, so hashes whose key sat in the manifest (as before
2026-12-08) let anyone holding the artifact (a serving machine, a merchant's operator, an auditor) test whether
a given person was trained on, after their erasure too. The key is the installation's `fitted-rows.key` (32
random bytes, hex, 0600, created on first use) in the same key directory, mixed with a fresh salt per
artifact; the manifest names the key by an id that reveals nothing of it. Whoever evaluates on another
machine copies it there as `fitted-rows/*.key`; without it the record is unreadable (FittedRowsKeyMissing) and
evaluate says so instead of guessing. Older artifacts (their salt alone in the manifest) are read as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deepcredit.data.io import (
    ABSENT,
    atomic_write_bytes,
    check_replaceable,
    code_record,
    file_sha256,
    is_manifest_of,
    library_versions,
    replace_directory,
    staging_dir,
    writes_out,
)
from deepcredit.data.validate import DataValidationError

ARTIFACT_FORMAT = 1
MANIFEST = "manifest.json"
PAYLOAD = "model.json"
SIGNATURE = "signature.json"
FITTED_ROWS = "fitted_rows.npy"
KEY_DIR_ENV = "DEEPCREDIT_KEY_DIR"
PRIVATE_KEY, PUBLIC_KEY = "artifact-signing.key", "artifact-signing.pub"
ROWS_KEY, ROWS_KEYS = "fitted-rows.key", "fitted-rows"
"""This installation's key of fitted-row hashes, and the folder (in the key directory) of other installations'."""
AN_ARTIFACT = "a DeepCredit model artifact"
is_artifact = is_manifest_of("model artifact")


class ArtifactError(DataValidationError):
    """An artifact that is missing, unreadable, of an unknown format, or whose bytes fail their hash."""


class FittedRowsKeyMissing(ArtifactError):
    """An artifact's record of its fitted rows is keyed with a fitted-rows key this machine does not hold."""

    def __init__(self, file: str, key: str) -> None:
        self.key_id = key
        super().__init__(file, f"the record of the rows the model was fitted on is keyed with fitted-rows key {key}, "
                               f"which is not in {key_dir()} ({ROWS_KEY}, or {ROWS_KEYS}/*.key copied from where it "
                               "was trained)")


class LibraryVersionWarning(UserWarning):
    """An artifact written under other library (or Python) versions than the running ones: its scores may
    differ from those it was validated with."""


_VERSIONS_WARNED: set[tuple[str, str]] = set()
"""(artifact path, manifest hash) already warned of in this process: a warning once, not per load."""


def _major_minor(version: str) -> tuple[int, ...] | str:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m[1]), int(m[2])) if m else version


def version_differences(manifest: Mapping) -> list[str]:
    """'name now (trained with was)' for each library, and Python, whose major.minor version differs from the
    running one. A library not installed then or now is left out: one the model needs fails its import anyway,
    and an optional one (pyspark on a machine that only scores) does not shape its scores."""
    recorded = dict(manifest.get("library_versions") or {})
    now = library_versions(tuple(sorted(recorded)))
    out = [f"{name} {now[name]} (trained with {was})" for name, was in sorted(recorded.items())
           if ABSENT not in (was, now.get(name, ABSENT)) and _major_minor(was) != _major_minor(now[name])]
    python = (manifest.get("code") or {}).get("python")
    if python and _major_minor(python) != _major_minor(platform.python_version()):
        out.append(f"Python {platform.python_version()} (trained with {python})")
    return out


def check_versions(root: Path, manifest: Mapping, strict: bool = False) -> list[str]:
    """The version differences (version_differences) of an artifact: a LibraryVersionWarning once per
    artifact and process, or, strict, refused (ArtifactError), since a model scored under other libraries
    need not give the scores it was validated with."""
    diffs = version_differences(manifest)
    if not diffs:
        return diffs
    said = "written under other library versions than these: " + ", ".join(diffs)
    if strict:
        raise ArtifactError(str(root), f"{said}; refused under strict input checking (re-create it here, or "
                                       "score without strict checking)")
    key = (str(root.resolve()), str(manifest.get("sha256")))
    if key not in _VERSIONS_WARNED:
        _VERSIONS_WARNED.add(key)
        warnings.warn(f"{root}: {said}; its scores may differ from those it was validated with",
                      LibraryVersionWarning, stacklevel=3)
    return diffs


def _dumps(obj: object) -> str:
    """Canonical JSON (sorted keys, fixed indent): the same content always gives the same bytes."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_sha256(files: Mapping[str, str]) -> str:
    """One hash over the sha256 of every file of an artifact (by name).

    Why not the payload's alone: a stack's or a network's payload holds its parameters, its fitted weights
    are other files, so two fits with the same parameters would share an identity, and a service, a
    challenger or a resumed scoring job would take one model for the other."""
    return _sha(_dumps({name: files[name] for name in sorted(files)}))


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
        """The identity of the model: a hash over every file it is made of (content_sha256)."""
        return content_sha256(self.manifest["files"])

    @property
    def run_facts(self) -> dict:
        """Facts of the fit that are not the model (fit seconds, processes, n_jobs, machine); {} before 2026-12-06."""
        return dict(self.manifest.get("run_facts") or {})

    def fitted_rows(self) -> tuple[bytes, np.ndarray] | None:
        """(hash key, sorted uint64 hashes) of the rows the model was fitted on (row_hashes), or None for an
        artifact written before they were recorded; FittedRowsKeyMissing where their key is not held here.
        An artifact written before 2026-12-08 holds its hash key (the salt) itself: it is read as before."""
        info = self.manifest.get("fitted_rows")
        if not info or FITTED_ROWS not in (self.manifest.get("records") or {}):
            return None
        salt = bytes.fromhex(info["salt"])
        if "key_id" in info:
            secret = fitted_rows_keys().get(str(info["key_id"]))
            if secret is None:
                raise FittedRowsKeyMissing(str(self.root / FITTED_ROWS), str(info["key_id"]))
            salt = _row_key(secret, salt)
        return salt, np.load(self.root / FITTED_ROWS, allow_pickle=False)

    def path(self, name: str) -> Path:
        if name not in self.manifest["files"]:
            raise ArtifactError(str(self.root / MANIFEST), f"the artifact has no file named {name!r}")
        return self.root / name


def key_hashes(keys: pd.DataFrame, salt: bytes) -> np.ndarray:
    """Each row's uint64 hash of its (person_id, as_of), keyed by `salt` (BLAKE2b), in row order.

    Why keyed 64-bit hashes: an artifact can then say which rows it was fitted on without holding a raw id,
    nor the key that would test a guessed id against it (fitted_rows_record); the key differs per artifact,
    so two artifacts' records cannot be joined on their hashes; and 8 bytes a row keep it small: a chance
    collision (about n^2/2^65) would only leave out one more row."""
    as_of = pd.to_datetime(keys["as_of"]).dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()
    ids = keys["person_id"].astype(str).to_numpy()
    return np.fromiter((int.from_bytes(hashlib.blake2b(f"{p}\x1f{a}".encode(), digest_size=8, key=salt).digest(),
                                       "little") for p, a in zip(ids, as_of, strict=True)),
                       dtype=np.uint64, count=len(ids))


def row_hashes(keys: pd.DataFrame, salt: bytes) -> np.ndarray:
    """The record of rows `keys`: their key_hashes, sorted and unique."""
    return np.unique(key_hashes(keys, salt))


def _row_key(secret: bytes, salt: bytes) -> bytes:
    """The hash key of one artifact's fitted rows: the installation's secret mixed with the artifact's salt."""
    return hashlib.blake2b(salt, key=secret, digest_size=32, person=b"dc-fitted-rows").digest()


def _rows_key_id(secret: bytes) -> str:
    """A fitted-rows key's name in a manifest: a keyed hash of a fixed label, which reveals nothing of the key."""
    return hashlib.blake2b(b"key id", key=secret, digest_size=8, person=b"dc-fitted-rows").hexdigest()


def fitted_rows_record(keys: pd.DataFrame, bads: int | None = None) -> tuple[dict, bytes]:
    """(manifest entry, .npy bytes) recording the rows `keys` as hashes keyed with this installation's
    fitted-rows key (fitted_rows_key) and a fresh random salt: the manifest names the key, never holds it."""
    import io

    secret, salt = fitted_rows_key(), os.urandom(16)
    buf = io.BytesIO()
    np.save(buf, row_hashes(keys, _row_key(secret, salt)), allow_pickle=False)
    entry = {"salt": salt.hex(), "key_id": _rows_key_id(secret), "rows": len(keys),
             "hash": "blake2b-64 of person_id, as_of, keyed by the fitted-rows key named and the salt"}
    return entry | ({} if bads is None else {"bads": int(bads)}), buf.getvalue()


# -- signing ---------------------------------------------------------------------------------------

def key_dir() -> Path:
    """Where signing keys live: DEEPCREDIT_KEY_DIR, else ~/.config/deepcredit/keys (XDG_CONFIG_HOME honoured)."""
    if os.environ.get(KEY_DIR_ENV):
        return Path(os.environ[KEY_DIR_ENV])
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "deepcredit" / "keys"


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _create_secret(path: Path, data: bytes) -> None:
    """Write a secret key file readable by its owner only, unless one exists (then it is kept as it is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        os.link(tmp, path)  # fails if another process created the key meanwhile: then use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _read_rows_key(path: Path) -> bytes:
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except (ValueError, UnicodeDecodeError):
        secret = b""
    if len(secret) != 32:
        raise ArtifactError(str(path), "not a fitted-rows key (64 hex digits)")
    return secret


def fitted_rows_key() -> bytes:
    """This installation's key of fitted-row hashes, created on first use like the signing key."""
    path = key_dir() / ROWS_KEY
    if not path.exists():
        _create_secret(path, (os.urandom(32).hex() + "\n").encode())
    return _read_rows_key(path)


def fitted_rows_keys() -> dict[str, bytes]:
    """key id -> fitted-rows key: this installation's (if made) and every `fitted-rows/*.key`; none is created."""
    folder = key_dir()
    paths = [folder / ROWS_KEY, *sorted((folder / ROWS_KEYS).glob("*.key"))]
    return {_rows_key_id(k): k for k in (_read_rows_key(p) for p in paths if p.exists())}


def signing_key() -> Ed25519PrivateKey:
    """This machine's private signing key, created on first use (so tests, demos and fresh clones need no set-up)."""
    folder = key_dir()
    path = folder / PRIVATE_KEY
    if not path.exists() and (folder / PUBLIC_KEY).exists():
        raise ArtifactError(str(path), "this machine holds only the public key (it verifies models but cannot sign "
                                       f"them): train where the private key is, or point {KEY_DIR_ENV} there")
    if not path.exists():
        fresh = Ed25519PrivateKey.generate()
        _create_secret(path, fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ArtifactError(str(path), "not an unencrypted Ed25519 private key in PEM") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ArtifactError(str(path), "not an Ed25519 private key")
    public = folder / PUBLIC_KEY
    if not public.exists():
        atomic_write_bytes(public, (_raw(key.public_key()).hex() + "\n").encode())
    return key


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """key id -> public key: this machine's own, and every `trusted/*.pub` in the key directory."""
    folder = key_dir()
    paths = [folder / PUBLIC_KEY, *sorted((folder / "trusted").glob("*.pub"))]
    keys = {}
    for p in paths:
        if not p.exists():
            continue
        try:
            pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(p.read_text().strip()))
        except ValueError:
            raise ArtifactError(str(p), "not an Ed25519 public key (64 hex digits)") from None
        keys[key_id(pub)] = pub
    return keys


def _signature(manifest_bytes: bytes) -> bytes:
    key = signing_key()
    return _dumps({"algorithm": "ed25519", "key_id": key_id(key.public_key()),
                   "signature": key.sign(manifest_bytes).hex()}).encode("utf-8")


def _verify_signature(root: Path, manifest_bytes: bytes) -> None:
    path = root / SIGNATURE
    if not path.exists():
        raise ArtifactError(str(path), "the artifact is not signed (it was written before artifacts were signed, "
                                       "or by hand): retrain it, or sign it where the signing key is")
    try:
        sig = json.loads(path.read_bytes())
        kid, value = str(sig["key_id"]), bytes.fromhex(sig["signature"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise ArtifactError(str(path), "unreadable signature") from None
    public = trusted_keys().get(kid)
    if public is None:
        raise ArtifactError(str(path), f"signed by key {kid}, which is not trusted here (trusted keys are "
                                       f"{PUBLIC_KEY} and trusted/*.pub in {key_dir()}; set {KEY_DIR_ENV})")
    try:
        public.verify(value, manifest_bytes)
    except InvalidSignature:
        raise ArtifactError(str(path), "signature mismatch: the manifest was changed after it was signed "
                                       "(a forged or altered model); refusing to load it") from None


@writes_out
def save_artifact(out: Path, payload: dict, *, kind: str, config: Mapping, features: Sequence,
                  data_fingerprint: str, metrics: Mapping, extra_files: Mapping[str, bytes] | None = None,
                  run_facts: Mapping | None = None, fitted_keys: pd.DataFrame | None = None,
                  fitted_bads: int | None = None, beside: Mapping[str, bytes] | None = None) -> Path:
    """Write an artifact directory atomically (replacing a previous artifact, nothing else:
    check_artifact_out); returns its path.

    payload: the JSON the model needs to serve; extra_files: name -> bytes of any other file (the identity);
    run_facts: facts of the run kept outside the identity; fitted_keys: person_id, as_of of the rows the
    model was fitted on, recorded as keyed hashes (fitted_rows_record), also outside the identity, with
    fitted_bads, how many of them were bad (the model card's development bad rate); beside: name -> bytes of
    records kept with the model outside its identity (the run record, config.json). Every file written is
    hash-checked: those of `extra_files` under `files`, the rest under `records`.
    """
    out = Path(out)
    check_artifact_out(out)
    signing_key()  # a machine that cannot sign is refused before anything, a fitted-rows key too, is made
    staging = staging_dir(out)
    try:
        files = {PAYLOAD: _dumps(payload).encode("utf-8"), **(extra_files or {})}
        for name in [*files, *(beside or {})]:
            if (name in (MANIFEST, SIGNATURE, FITTED_ROWS) or "/" in name or name.startswith(".")
                    or (name in files and name in (beside or {}))):
                raise ValueError(f"invalid artifact file name {name!r}")
        hashes = {}
        for name, data in sorted(files.items()):
            atomic_write_bytes(staging / name, data)
            hashes[name] = hashlib.sha256(data).hexdigest()
        for name, data in (beside or {}).items():
            atomic_write_bytes(staging / name, data)
        fitted = None
        if fitted_keys is not None:
            fitted, data = fitted_rows_record(fitted_keys, fitted_bads)
            atomic_write_bytes(staging / FITTED_ROWS, data)
        records = {p.name: file_sha256(p) for p in sorted(staging.iterdir()) if p.name not in hashes}
        versions = library_versions()
        body = {
            "artifact_format": ARTIFACT_FORMAT, "kind": kind,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deepcredit_version": versions.get("deepcredit", "unknown"), "library_versions": versions,
            "config": dict(config), "features": list(features), "data_fingerprint": data_fingerprint,
            "metrics": dict(metrics), "files": hashes, "sha256": content_sha256(hashes),
            "code": code_record(), "run_facts": dict(run_facts or {}),
        }
        if records:
            body["records"] = records
        if fitted is not None:
            body["fitted_rows"] = fitted
        body = json.loads(json.dumps(body, default=str))  # plain JSON types only
        body["manifest_sha256"] = _sha(_dumps(body))
        manifest = _dumps(body).encode("utf-8")
        atomic_write_bytes(staging / MANIFEST, manifest)
        atomic_write_bytes(staging / SIGNATURE, _signature(manifest))
        replace_directory(staging, out, is_artifact, AN_ARTIFACT)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def check_artifact_out(out: Path) -> None:
    """Refuse an --out that is not absent, empty or an earlier artifact (a data set, a folder of the user's
    files, a file): call before training, so that nothing is fitted for an output that will be refused."""
    check_replaceable(Path(out), is_artifact, AN_ARTIFACT)


def load_artifact(path: Path, kind: str | None = None, strict_versions: bool = False) -> Artifact:
    """Read an artifact, verifying its signature, the manifest's own hash and every listed file's sha256 first,
    then comparing its library versions with the running ones (check_versions: a warning, or refused where
    strict_versions)."""
    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.exists():
        raise ArtifactError(str(mpath), "not a DeepCredit model artifact (manifest.json is missing)")
    raw = mpath.read_bytes()
    _verify_signature(root, raw)
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
    for name, expected in {**(manifest.get("records") or {}), **manifest["files"]}.items():
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
    check_versions(root, manifest, strict_versions)
    return Artifact(root, manifest, payload)
