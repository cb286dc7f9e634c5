"""Storage is all or nothing: atomic files leave no temporary names, a data set replaces the previous one
whole, and a failure while writing leaves the previous version (or nothing) in place."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deepcredit.data import dataset as dataset_module
from deepcredit.data import io
from deepcredit.data.dataset import Dataset, write_dataset
from deepcredit.data.schema import TABLES
from deepcredit.data.validate import DataValidationError


def frames(n: int = 3, label: int = 0) -> dict[str, pd.DataFrame]:
    ids = [f"p{i}" for i in range(n)]
    ts = pd.Timestamp("2024-01-01")
    return {
        "people": pd.DataFrame({"person_id": ids}),
        "events": pd.DataFrame({"person_id": ids, "ts": ts, "kind": "bill", "amount": 1.0, "status": "on_time"}),
        "relations": pd.DataFrame({"source": ids[:1], "target": ids[1:2], "kind": "contact", "weight": 1.0,
                                   "ts": ts}),
        "outcomes": pd.DataFrame({"person_id": ids, "as_of": ts, "label": label, "window_days": 90}),
    }


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- atomic files ----------------------------------------------------------------------------------

def test_atomic_writes_leave_only_the_file(tmp_path: Path) -> None:
    io.atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    io.atomic_write_text(tmp_path / "b.txt", "héllo")
    io.atomic_write_json(tmp_path / "c.json", {"b": 1, "a": pd.Timestamp("2024-01-01")})
    io.atomic_write_parquet(tmp_path / "d.parquet", pd.DataFrame({"x": [1, 2]}))
    io.atomic_write_text(tmp_path / "b.txt", "again")  # replacing an existing file
    assert names(tmp_path) == ["a.bin", "b.txt", "c.json", "d.parquet"]
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text() == "again"
    assert (tmp_path / "c.json").read_text() == '{\n  "a": "2024-01-01 00:00:00",\n  "b": 1\n}\n'
    assert pq.read_table(tmp_path / "d.parquet").column("x").to_pylist() == [1, 2]


def test_atomic_write_creates_missing_folders(tmp_path: Path) -> None:
    io.atomic_write_text(tmp_path / "a" / "b" / "c.txt", "x")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"


def test_a_failed_parquet_write_keeps_the_old_file_and_no_temporary(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t.parquet"
    io.atomic_write_parquet(target, pd.DataFrame({"x": [1]}))

    def half_written(table, where, **kwargs) -> None:
        Path(where).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(io.pq, "write_table", half_written)
    with pytest.raises(OSError, match="disk full"):
        io.atomic_write_parquet(target, pd.DataFrame({"x": [2]}))
    monkeypatch.undo()
    assert names(tmp_path) == ["t.parquet"]
    assert pq.read_table(target).column("x").to_pylist() == [1]


def test_a_failed_byte_write_keeps_the_old_file_and_no_temporary(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    io.atomic_write_text(tmp_path / "t.txt", "old")

    def no_sync(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(io.os, "fsync", no_sync)
    with pytest.raises(OSError, match="I/O error"):
        io.atomic_write_text(tmp_path / "t.txt", "new")
    assert names(tmp_path) == ["t.txt"] and (tmp_path / "t.txt").read_text() == "old"


# --- directories -----------------------------------------------------------------------------------

def test_replace_directory_replaces_the_whole_directory(tmp_path: Path) -> None:
    final = tmp_path / "ds"
    final.mkdir()
    (final / "old.txt").write_text("old")
    staging = tmp_path / ".ds.staging"
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    io.replace_directory(staging, final, lambda _: True, "a test output")
    assert names(tmp_path) == ["ds"] and names(final) == ["new.txt"]


def test_replace_directory_into_a_new_place(tmp_path: Path) -> None:
    staging = tmp_path / ".x.staging"
    staging.mkdir()
    (staging / "f").write_text("1")
    io.replace_directory(staging, tmp_path / "x", lambda _: True, "a test output")
    assert names(tmp_path) == ["x"] and (tmp_path / "x" / "f").read_text() == "1"


def test_parquet_files_and_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    for name in ("part-00001.parquet", "part-00000.parquet", ".part-00002.parquet.abc.tmp", ".hidden.parquet"):
        (tmp_path / "t" / name).write_bytes(name.encode())
    files = io.parquet_files(tmp_path / "t")
    assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet"]
    assert io.parquet_files(tmp_path / "x.parquet") == [tmp_path / "x.parquet"]
    assert io.fingerprint(files) == io.fingerprint(list(files))
    assert io.fingerprint(files) != io.fingerprint(files[::-1]), "order matters"
    assert io.file_sha256(files[0]) == io.file_sha256(files[0], chunk=3)


# --- whole data sets -------------------------------------------------------------------------------

def test_write_dataset_writes_every_table_and_a_manifest(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", frames(), name="x", snapshot_date="2024-06-30")
    assert names(tmp_path) == ["ds"]
    assert names(tmp_path / "ds") == sorted(["manifest.json", *(f"{t}.parquet" for t in TABLES)])
    assert {t: e["rows"] for t, e in ds.manifest.tables.items()} == {
        "people": 3, "events": 3, "relations": 1, "outcomes": 3}


class Boom(RuntimeError):
    pass


def fail_on_call(monkeypatch: pytest.MonkeyPatch, n: int, error: type[BaseException] = Boom) -> None:
    """Make the data set writer's n-th table write fail after leaving a half-written temporary."""
    real = dataset_module.atomic_write_parquet
    calls = []

    def flaky(path: Path, table) -> None:
        calls.append(path)
        if len(calls) == n:
            (Path(path).parent / f".{Path(path).name}.half.tmp").write_bytes(b"PAR1")
            raise error(f"write {n} failed")
        real(path, table)

    monkeypatch.setattr(dataset_module, "atomic_write_parquet", flaky)


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       error: type[BaseException]) -> None:
    fail_on_call(monkeypatch, 3, error)
    with pytest.raises(error, match="write 3 failed"):
        write_dataset(tmp_path / "ds", frames(), name="x", snapshot_date="2024-06-30")
    assert names(tmp_path) == []


def test_a_failed_write_keeps_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ds"
    before = write_dataset(out, frames(label=0), name="v1", snapshot_date="2024-06-30")
    fingerprint, manifest = before.fingerprint(), (out / "manifest.json").read_text()
    fail_on_call(monkeypatch, 3)
    with pytest.raises(Boom):
        write_dataset(out, frames(n=5, label=1), name="v2", snapshot_date="2024-06-30")
    assert names(tmp_path) == ["ds"]
    kept = Dataset(out)
    assert kept.name == "v1" and kept.fingerprint() == fingerprint
    assert (out / "manifest.json").read_text() == manifest
    assert kept.read("outcomes")["label"].tolist() == [0, 0, 0]


def test_a_failed_move_keeps_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ds"
    write_dataset(out, frames(), name="v1", snapshot_date="2024-06-30")

    def refuse(staging: Path, final: Path, *_: object) -> None:
        raise OSError("rename refused")

    monkeypatch.setattr(dataset_module, "replace_directory", refuse)
    with pytest.raises(OSError, match="rename refused"):
        write_dataset(out, frames(n=5), name="v2", snapshot_date="2024-06-30")
    assert names(tmp_path) == ["ds"] and Dataset(out).name == "v1"


def test_a_new_version_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    write_dataset(out, {**frames(), "truth": pd.DataFrame({"person_id": ["p0"], "pd": [0.1]})}, name="v1",
                  snapshot_date="2024-06-30")
    write_dataset(out, frames(n=5), name="v2", snapshot_date="2024-06-30")
    assert names(tmp_path) == ["ds"] and "truth.parquet" not in names(out), "no file of v1 survives"
    assert Dataset(out).name == "v2" and Dataset(out).manifest.tables["people"]["rows"] == 5


def test_write_dataset_refuses_to_replace_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataValidationError, match="is a directory that is not a DeepCredit data set"):
        write_dataset(tmp_path, frames(), name="x", snapshot_date="2024-06-30")
    assert names(tmp_path) == ["notes.txt"]


def test_a_failed_swap_puts_the_previous_version_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ds"
    write_dataset(out, frames(), name="v1", snapshot_date="2024-06-30")
    real, calls = io.os.replace, []

    def second_fails(src, dst) -> None:
        calls.append(src)
        if Path(src).name.endswith(".staging"):
            raise OSError("rename refused")
        real(src, dst)

    monkeypatch.setattr(io.os, "replace", second_fails)
    with pytest.raises(OSError, match="rename refused"):
        write_dataset(out, frames(n=5), name="v2", snapshot_date="2024-06-30")
    monkeypatch.undo()
    assert names(tmp_path) == ["ds"] and Dataset(out).name == "v1"


# --- what an output may replace (check_replaceable), stale staging ---------------------------------------

def _artifact_like(path: Path) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text('{"artifact_format": 1, "kind": "gbdt", "files": {}}')
    return path


def test_manifest_kind_tells_a_data_set_from_a_model_artifact(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", frames(), name="v1", snapshot_date="2024-06-30")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("not json")
    assert io.manifest_kind(ds.root) == "data set"
    assert io.manifest_kind(_artifact_like(tmp_path / "m")) == "model artifact"
    assert io.manifest_kind(tmp_path / "junk") is None and io.manifest_kind(tmp_path / "absent") is None


def test_a_data_set_never_replaces_a_model_artifact(tmp_path: Path) -> None:
    model = _artifact_like(tmp_path / "m")
    with pytest.raises(DataValidationError, match="is a DeepCredit model artifact, not a DeepCredit data set"):
        write_dataset(model, frames(), name="x", snapshot_date="2024-06-30")
    assert names(model) == ["manifest.json"] and names(tmp_path) == ["m"], "nothing staged is left"


def test_check_replaceable_allows_absent_empty_and_previous_and_nothing_else(tmp_path: Path) -> None:
    ours = lambda p: (p / "mine").exists()  # noqa: E731
    (tmp_path / "empty").mkdir()
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "mine").write_text("")
    for ok in ("absent", "empty", "previous"):
        io.check_replaceable(tmp_path / ok, ours, "a test output")
    (tmp_path / "file").write_text("x")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "letter.txt").write_text("x")
    with pytest.raises(DataValidationError, match=r"file: already exists and is a file: refusing to replace it"):
        io.check_replaceable(tmp_path / "file", ours, "a test output")
    with pytest.raises(DataValidationError, match="is a directory that is not a test output: refusing"):
        io.check_replaceable(tmp_path / "docs", ours, "a test output")


def test_check_replaceable_knows_an_output_that_is_one_file(tmp_path: Path) -> None:
    """One checker for both kinds of output: given the command that writes it (written_by), `out` is one file,
    replaceable where absent or where is_previous knows it; a directory, empty or not, is refused as well."""
    ours = lambda p: p.read_bytes() == b"ours"  # noqa: E731
    (tmp_path / "previous").write_bytes(b"ours")
    for ok in ("absent", "previous", "new/folder/out"):
        io.check_replaceable(tmp_path / ok, ours, "the test file", written_by="`a test`")
    (tmp_path / "foreign").write_bytes(b"theirs")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "previous")
    tail = ": refusing to replace it (choose another output file)"
    for name, found in (("foreign", "a file that `a test` did not write"),
                        ("empty", "a directory (--out is the test file to write)"),
                        ("link", "a symbolic link (replacing it would not replace what it points to)")):
        with pytest.raises(DataValidationError) as err:
            io.check_replaceable(tmp_path / name, ours, "the test file", written_by="`a test`")
        assert str(err.value) == f"{tmp_path / name}: already exists and is {found}{tail}", name
    assert (tmp_path / "foreign").read_bytes() == b"theirs"


def test_replace_directory_checks_the_target_and_leaves_it_alone(tmp_path: Path) -> None:
    final = tmp_path / "docs"
    final.mkdir()
    (final / "letter.txt").write_text("mine")
    staging = io.staging_dir(final)
    with pytest.raises(DataValidationError, match="refusing to replace it"):
        io.replace_directory(staging, final, lambda _: False, "a test output")
    assert names(final) == ["letter.txt"] and staging.is_dir(), "the caller removes its staging"


def test_a_new_staging_directory_removes_the_stale_ones_of_the_same_target(tmp_path: Path) -> None:
    stale = tmp_path / f".ds.{'a' * 32}.staging"
    (stale / "events").mkdir(parents=True)
    old = tmp_path / f".ds.{'b' * 32}.old"
    old.write_text("a file set aside by a killed swap")
    other = tmp_path / f".ds2.{'c' * 32}.staging"
    other.mkdir()
    fresh = io.staging_dir(tmp_path / "ds")
    assert sorted(names(tmp_path)) == sorted([fresh.name, other.name]), "only the same target's are stale"


def test_written_path_names_the_target_of_a_temporary(tmp_path: Path) -> None:
    assert io.written_path(tmp_path / f".s.parquet.{'d' * 32}.tmp") == str(tmp_path / "s.parquet")
    assert io.written_path(str(tmp_path / f".g.{'e' * 32}.staging")) == str(tmp_path / "g")
    assert io.written_path(tmp_path / "plain") == str(tmp_path / "plain")


def test_an_out_in_a_folder_that_cannot_be_written_is_refused_first(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io.os, "access", lambda path, mode: Path(path) != tmp_path)  # root ignores chmod
    with pytest.raises(PermissionError) as err:
        io.check_replaceable(tmp_path / "new" / "out", lambda _: True, "a test output")
    assert err.value.filename == str(tmp_path / "new" / "out")


def test_a_previous_output_set_aside_by_a_killed_swap_is_put_back_not_deleted(tmp_path: Path) -> None:
    """audit O3: a kill between replace_directory's two renames left only `.ds.<uuid>.old`, and the next run
    to the same out deleted it at its start, even when that run then failed: no data set was left."""
    out = tmp_path / "ds"
    write_dataset(out, frames(3), "first", "2024-06-30")
    aside = tmp_path / f".ds.{'f' * 32}.old"
    out.rename(aside)  # killed between the renames: the old version set aside, the new one not yet in place
    broken = {**frames(3), "people": pd.DataFrame({"person_id": [object()]})}  # cannot be written
    with pytest.raises(Exception):  # noqa: B017 - whatever pyarrow raises
        write_dataset(out, broken, "second", "2024-06-30")
    assert Dataset(out).name == "first" and not aside.exists(), "the previous version is back in place"
    out.rename(aside)
    assert write_dataset(out, frames(4), "third", "2024-06-30").name == "third"
    assert names(tmp_path) == ["ds"], "replaced as usual, nothing set aside left"


def test_a_second_write_into_an_output_another_run_is_writing_is_refused_at_once(tmp_path: Path,
                                                                                 held_elsewhere) -> None:
    """audit O4: two ingests into one --out: the second deleted the first's staging directory as stale (the
    first died naming a hidden path); two trainings both said they wrote the model. One lock, the scoring
    job's (`.OUT.lock`, held here by another process), now guards every directory writer."""
    out = tmp_path / "ds"
    write_dataset(out, frames(3), "first", "2024-06-30")
    theirs = tmp_path / f".ds.{'a' * 32}.staging"  # the running writer's staging directory
    theirs.mkdir()
    with held_elsewhere(out) as pid:
        busy = rf"{out}: another .*run \(pid {pid}\) is writing"
        with pytest.raises(DataValidationError, match=busy):
            write_dataset(out, frames(4), "second", "2024-06-30")
        with pytest.raises(DataValidationError, match=busy):
            io.staging_dir(out)
        assert theirs.is_dir() and Dataset(out).name == "first", "the running write's files are left alone"
    assert write_dataset(out, frames(4), "second", "2024-06-30").name == "second", "a killed holder leaves no lock"
    assert names(tmp_path) == ["ds"]


def test_a_writer_into_a_folder_that_cannot_be_written_names_the_out_not_its_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io.os, "access", lambda path, mode: Path(path) != tmp_path)  # root ignores chmod
    with pytest.raises(PermissionError) as err:
        write_dataset(tmp_path / "ds", frames(3), "first", "2024-06-30")
    assert err.value.filename == str(tmp_path / "ds") and names(tmp_path) == []


def _set_aside(tmp_path: Path) -> tuple[Path, Path]:
    """An output `ds` that a killed swap left only as `.ds.<uuid>.old` (replace_directory's first rename)."""
    out = tmp_path / "ds"
    write_dataset(out, frames(3), "first", "2024-06-30")
    aside = tmp_path / f".ds.{'f' * 32}.old"
    out.rename(aside)
    return out, aside


def test_a_writer_that_checks_first_puts_the_set_aside_output_back_once(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """restore_previous ran (and globbed the folder) in check_replaceable and again in staging_dir: once is
    enough, as check_replaceable has put the output back before any staging directory is made."""
    out, aside = _set_aside(tmp_path)
    calls: list[Path] = []
    real = io.restore_previous
    monkeypatch.setattr(io, "restore_previous", lambda p: calls.append(p) or real(p))
    io.check_replaceable(out, dataset_module.is_dataset, dataset_module.A_DATASET)
    staging = io.staging_dir(out)
    assert len(calls) == 1 and Dataset(out).name == "first" and not aside.exists()
    assert sorted(names(tmp_path)) == sorted(["ds", staging.name])


def test_a_writer_that_stages_before_checking_never_deletes_the_set_aside_output(tmp_path: Path) -> None:
    """The service's pseudonymised copy makes its staging directory before any check: the set-aside output
    is not stale while `out` is missing; the check before the swap (or the next run's) puts it back."""
    out, aside = _set_aside(tmp_path)
    staging = io.staging_dir(out)
    assert aside.is_dir(), "a missing out's set-aside version is kept"
    staging.rmdir()  # that run failed: the next one finds the previous output
    io.check_replaceable(out, dataset_module.is_dataset, dataset_module.A_DATASET)
    assert Dataset(out).name == "first" and names(tmp_path) == ["ds"]
    out.rename(aside)
    staging = io.staging_dir(out)
    (staging / "new").write_text("x")
    io.replace_directory(staging, out, dataset_module.is_dataset, dataset_module.A_DATASET)
    assert names(out) == ["new"] and names(tmp_path) == ["ds"], "put back, then replaced as usual"


def test_the_versions_recorded_name_the_solver_the_sql_rewriter_and_absent_libraries():
    versions = io.library_versions()
    assert {"scipy", "ortools", "sqlglot", "pyspark"} <= set(versions)
    assert io.library_versions(("numpy", "no-such-library-xyz"))["no-such-library-xyz"] == "absent"


@pytest.mark.parametrize("write", [
    lambda p: io.atomic_write_parquet(p, pd.DataFrame({"x": [2]})),
    lambda p: io.atomic_write_parquet_slices(p, pa.schema([("x", pa.int64())]), [pa.table({"x": [2]})]),
    lambda p: io.atomic_write_bytes(p, b"new"),
], ids=["parquet", "parquet slices", "bytes"])
def test_every_atomic_write_syncs_the_file_before_the_rename_and_the_folder_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write) -> None:
    """Review: the Parquet writers renamed without an fsync (the byte writer had one): after a power cut the
    renamed file could be empty. Now all three: the file's fsync, the rename, the folder's fsync."""
    target = tmp_path / "t.parquet"
    events: list[str] = []
    real_fsync, real_replace = io.os.fsync, io.os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(io.os, "fsync", fsync)
    monkeypatch.setattr(io.os, "replace", replace)
    write(target)
    assert events == ["fsync file", "replace", "fsync folder"]
