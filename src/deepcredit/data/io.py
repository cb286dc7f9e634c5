"""Storage: atomic Parquet writes, resumable part-wise writers, fingerprints, library versions.

Why atomic: a crash must never leave a half-written table that a later run would trust. Every file is
written under a temporary name in the same directory and renamed into place (rename is atomic on POSIX);
a data set directory is assembled in a sibling staging directory and renamed as a whole.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import glob
import hashlib
import inspect
import json
import os
import platform
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import ParamSpec, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from deepcredit.data.errors import DataValidationError

TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{32}\.tmp$")
STAGING_RE = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{32}\.(staging|old)$")
HIDDEN_RE = re.compile(r"^\.(?P<name>.+?)(\.seed\d+\.n\d+)?\.[0-9a-f]{12,32}\.(tmp|staging|old|partial)$")
"""Any of the hidden names a write takes on its way to NAME (a simulation's `.partial` folder too)."""
MANIFEST = "manifest.json"


def written_path(path: str | bytes | os.PathLike) -> str:
    """The path a user named, for one of ours written on its way there: a temporary file or a staging
    directory (`.NAME.<uuid>.tmp`, `.staging`, `.old`, `.partial`) becomes NAME in the same folder; others
    unchanged.

    Why: an error while writing (permission denied, disk full) names the hidden path, which the user never
    gave and cannot find afterwards.
    """
    p = Path(os.fsdecode(path))
    m = HIDDEN_RE.match(p.name)
    return str(p.with_name(m["name"])) if m else str(p)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temporary files an earlier, killed write of `path` left behind (`.NAME.<uuid>.tmp`).

    Why: os.replace never runs in a killed process, and its `finally` never cleans up, so without this the
    hidden temporary of every interrupted run would stay forever. Called before each atomic write of the
    same path; a writer of one path at a time is assumed (as for every output here).
    """
    return _remove_leftovers(path, TEMP_RE)


def _remove_leftovers(path: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Delete the hidden files or directories beside `path` whose names `pattern` reads as left by a write
    of `path` itself (its group `name` is path's name); the ones deleted. A set-aside previous output (a
    `.old` directory, _set_aside) is kept while `path` is missing: it is the output (restore_previous)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    missing = not path.exists() and not path.is_symlink()
    stale = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*")
             if (m := pattern.match(p.name)) and m["name"] == path.name and not (missing and _set_aside(p))]
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return stale


def atomic_write_bytes(path: Path, data: bytes, exclusive: bool = False) -> None:
    """Write `path` whole or not at all. `exclusive`: never replace a file that exists at the moment of the
    rename (FileExistsError), for files whose earlier value is history (an audit anchor), where a check
    before the work would leave a window for a second writer."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        durable_replace(tmp, path, exclusive=exclusive)
    finally:
        tmp.unlink(missing_ok=True)


def durable_replace(tmp: Path, path: Path, exclusive: bool = False) -> None:
    """Rename the fully written file `tmp` to `path`, its bytes on disk first (fsync) and the rename after
    (an fsync of the folder). Why: without the first, a power cut after the rename can leave `path` empty or
    torn on file systems that reorder data and metadata (ext4's delayed allocation); without the second, the
    rename itself can be lost. One helper, so every atomic write here is as durable as the others.
    `exclusive`: a hard link instead of the rename, which the OS refuses (FileExistsError) where `path`
    exists, so two writers cannot both believe they made it."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if exclusive:
        os.link(tmp, path)
        Path(tmp).unlink()
    else:
        os.replace(tmp, path)
    with contextlib.suppress(OSError):  # a folder that cannot be opened, or whose file system refuses its fsync
        folder = os.open(Path(path).parent, os.O_RDONLY)  # (EINVAL): the rename stands, only less durable
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def atomic_write_text(path: Path, text: str, exclusive: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), exclusive=exclusive)


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: Path, table: pa.Table | pd.DataFrame) -> None:
    """Write one Parquet file atomically (zstd-compressed)."""
    path = Path(path)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        durable_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_parquet_slices(path: Path, schema: pa.Schema, slices: Iterable[pa.Table]) -> None:
    """Write one Parquet file atomically from tables of `schema` given one after another (a row group or
    more each), so that only one slice need be in memory at a time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for table in slices:
                writer.write_table(table)
        durable_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def manifest_kind(path: Path) -> str | None:
    """What a directory's manifest.json says it is: "data set", "model artifact", or None (no readable one).

    Why by content: data sets and model artifacts both keep a manifest.json, and a writer of one must never
    take the other for its own previous output.
    """
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    if "artifact_format" in manifest:
        return "model artifact"
    if "tables" in manifest and "snapshot_date" in manifest:
        return "data set"
    return None


def is_manifest_of(kind: str) -> Callable[[Path], bool]:
    """A check_replaceable test: the directory holds a manifest of this kind (manifest_kind)."""
    return lambda path: manifest_kind(path) == kind


def check_writable(out: Path) -> None:
    """Raise PermissionError (named by `out`) where `out` could not be written beside: its folder, or the
    nearest folder above that exists, is not writable. Why first: a long run must not end in this error."""
    folder = Path(out).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))


BUSY = "another DeepCredit run (pid {pid}) is writing it: wait for it to finish, or choose another output directory"
"""What output_lock says to a second writer of an output ({pid}: the first's)."""
_HELD: dict[tuple[str, int], int] = {}
"""The outputs this process holds the lock of, by (path, thread): how many holds of that thread nest."""
_HELD_GUARD = threading.Lock()


@contextmanager
def output_lock(out: Path, busy: str = BUSY, join: bool = True) -> Iterator[None]:
    """Hold the lock of output `out` (an flock on the sibling `.NAME.lock`) while writing it; a second writer
    of `out` is refused at once: DataValidationError naming `out`, with `busy` (its {pid}: the holder's).

    Why: two runs into one --out clashed. Ingest: the second deleted the first's staging directory as stale
    (the first died naming a hidden path); train: both said they wrote the model, the last silently replaced
    the first. A writer holds the lock from its start (check_replaceable, staging_dir) to the replace
    (replace_directory); the scoring job for its whole run (workflows/job.job_lock). The kernel releases it
    when its holder dies, so a killed run leaves no lock behind.

    join: a thread that holds `out`'s lock already (a writer's outer step: ingest, train) joins its own
    hold; without it (a scoring job), a second hold is refused even from the same thread."""
    given, out = Path(out), Path(out).absolute()  # `--out .` has no name of its own
    key = (str(out), threading.get_ident())
    with _HELD_GUARD:
        joined = join and key in _HELD
        if joined:
            _HELD[key] += 1
    if joined:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    check_writable(given)  # a folder that cannot be written is named as the user's out, not as our lock file
    path = out.with_name(f".{out.name}.lock")
    made = [d for d in reversed(path.parents) if not d.exists()]  # removed again if left empty
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataValidationError(str(given), busy.format(pid=holder)) from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break  # else the holder removed the file as we opened it: lock the one there now
        except FileNotFoundError:
            pass
        os.close(fd)
    with _HELD_GUARD:
        _HELD[key] = 1
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        path.unlink(missing_ok=True)
        os.close(fd)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: the output (or another file) is in it


P = ParamSpec("P")
R = TypeVar("R")


def writes_out(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` (a writer of a whole directory, its argument `out`) holding `out`'s lock (output_lock) from
    its first check to its replace: a second run into the same out is refused at once, not after its work."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with output_lock(Path(signature.bind(*args, **kwargs).arguments["out"])):
            return fn(*args, **kwargs)
    return run


def restore_previous(out: Path) -> Path | None:
    """Put back the previous output that a killed swap set aside: where `out` is missing but a
    `.NAME.<uuid>.old` directory (replace_directory) is there, the newest is renamed to `out`; returns it.

    Why: replace_directory renames the previous output aside, then the new one in; a kill between the two
    left no output, and the next run to the same out deleted the set-aside version at its start
    (remove_stale_staging), even when that run then failed. Called under `out`'s lock."""
    out = Path(out).absolute()
    if out.exists() or out.is_symlink() or not out.parent.is_dir():
        return None
    aside = [p for p in out.parent.glob(f".{glob.escape(out.name)}.*.old")
             if (m := STAGING_RE.match(p.name)) and m["name"] == out.name and _set_aside(p)]
    if not aside:
        return None
    newest = max(aside, key=lambda p: p.stat().st_mtime)
    os.replace(newest, out)
    return newest


def _set_aside(path: Path) -> bool:
    """`path` (named `.NAME.<uuid>.old`) is a previous output replace_directory set aside: a real directory."""
    return path.name.endswith(".old") and path.is_dir() and not path.is_symlink()


def check_replaceable(out: Path, is_previous: Callable[[Path], bool], what: str, written_by: str | None = None
                      ) -> None:
    """Refuse to replace anything at `out` but an empty directory or a previous output (`is_previous`), or
    an output another run is writing (output_lock); a previous output a killed swap set aside is put back
    first (restore_previous).

    Why: an output directory is replaced as a whole, so a mistyped --out (the input data set, a model, a
    folder of the user's files, a file) would be deleted. Called before any work, and again just before
    the rename (replace_directory); a folder that cannot be written is an error here too (check_writable).
    what: the output's kind in words ("a data set").

    written_by: the output is one file, not a directory, and this is the command that writes it ("`deepcredit
    features`"): replaceable where absent or where is_previous knows the file; a directory (even an empty one),
    a symbolic link or anyone else's file is refused, in the same words (`what`: "the Parquet file").
    """
    out = Path(out)
    check_writable(out)
    if not out.absolute().parent.is_dir():
        return  # nothing there, and nobody writing it
    with output_lock(out):  # refused at once while another run writes `out`
        restore_previous(out)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_symlink() and (out.is_file() if written_by else out.is_dir()) and (
            is_previous(out) or (not written_by and not any(out.iterdir()))):
        return
    if out.is_symlink():
        found = "a symbolic link (replacing it would not replace what it points to)"
    elif written_by:
        found = f"a directory (--out is {what} to write)" if out.is_dir() else f"a file that {written_by} did not write"
    elif not out.is_dir():
        found = "a file"
    elif kind := manifest_kind(out):
        found = f"a DeepCredit {kind}, not {what}"
    else:
        found = f"a directory that is not {what}"
    raise DataValidationError(str(out), f"already exists and is {found}: refusing to replace it "
                                        f"(choose another output {'file' if written_by else 'directory'})")


def remove_stale_staging(out: Path) -> list[Path]:
    """Delete staging directories (`.NAME.<uuid>.staging`) and set-aside versions (`.NAME.<uuid>.old`)
    that an earlier, killed write of `out` left behind; as remove_stale_temps, for whole directories. A
    set-aside version is deleted only where `out` exists: else it is the output, and is left for
    check_replaceable to put back (restore_previous), not done here a second time.

    Why this is enough for every writer: most check `out` first (check_replaceable, which puts it back
    then); the rest (the service's pseudonymised copy) reach check_replaceable in replace_directory, which
    puts it back before the swap, and a run that fails before that leaves it for the next.
    Called under `out`'s lock (staging_dir), so no running write's staging directory is taken for stale."""
    return _remove_leftovers(out, STAGING_RE)


def staging_dir(out: Path) -> Path:
    """A fresh hidden directory next to `out` (so that the final rename stays on one file system), once
    the stale ones of earlier killed runs are gone (remove_stale_staging); refused while another run writes
    `out` (output_lock: a writer holds it from its start to replace_directory)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        remove_stale_staging(out)
        path = out.with_name(f".{out.name}.{uuid.uuid4().hex}.staging")
        path.mkdir()
    return path


def replace_directory(staging: Path, final: Path, is_previous: Callable[[Path], bool], what: str) -> None:
    """Move a fully written staging directory into place, replacing an empty directory or a previous
    output (check_replaceable: anything else is refused, and `staging` left for the caller to remove).
    A kill between the two renames leaves the previous output as `.NAME.<uuid>.old`, which the next write
    of `final` puts back (restore_previous) rather than deleting."""
    final = Path(final)
    with output_lock(final):
        check_replaceable(final, is_previous, what)
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
        had_old = final.exists()
        if had_old:
            os.replace(final, old)
        try:
            os.replace(staging, final)
        except BaseException:
            if had_old:
                os.replace(old, final)  # put the previous version back: never leave `final` missing
            raise
        shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def parquet_files(path: Path) -> list[Path]:
    """A table is one Parquet file or a directory of part files; list them in a stable order."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
    return [path]


def fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the bytes of every file, in order: identical data gives an identical fingerprint."""
    h = hashlib.sha256()
    for p in paths:
        h.update(file_sha256(p).encode())
    return h.hexdigest()


LIBRARIES = ("deepcredit", "numpy", "pandas", "pyarrow", "duckdb", "scikit-learn", "scipy", "optbinning", "ortools",
             "lightgbm", "torch", "sqlglot", "pyspark")
"""The libraries whose versions shape a model or its features: scipy and ortools (optbinning's solver) bin the
scorecard, sqlglot rewrites the feature SQL, pyspark computes the features where the spark engine runs."""
ABSENT = "absent"
"""The version recorded of a library that is not installed (spark's is optional)."""


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """{name: version} of each library, ABSENT where it is not installed."""
    return dict(_versions(tuple(names)))


@functools.lru_cache(maxsize=16)
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Read once per process: installed versions do not change under a running process, and reading package
    metadata costs a third of a one-person re-score (the feature engine records them on every frame)."""
    versions: list[tuple[str, str]] = []
    for name in names:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, ABSENT))
    return tuple(versions)


SOURCE_SUFFIXES = (".py", ".toml", ".sql", ".html", ".mako", ".json")
"""The files of the package that count as its code (code_fingerprint)."""


@functools.cache
def code_fingerprint() -> str:
    """sha256 over the deepcredit package's own source files (relative path and bytes, in path order).

    Why: the package version (0.1.0) never changes between commits, so it cannot say which code made a model;
    this does, with or without git, for an installed copy too. Computed once per process."""
    root = Path(__file__).resolve().parents[1]  # the deepcredit package
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()
                       and "__pycache__" not in p.parts):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def code_record() -> dict[str, str]:
    """What identifies the code of a run: the package's source fingerprint and the Python version."""
    return {"fingerprint": code_fingerprint(), "python": platform.python_version()}
