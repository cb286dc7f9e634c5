"""cli.common.clear_errors: an OS error (permission denied, a directory where a file goes) is one line
naming the path the user gave, and exit 2; never a traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import typer

from deepcredit.cli import common
from deepcredit.cli.common import clear_errors, os_error_line


def run(exc: BaseException, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(typer.Exit) as stop, clear_errors():
        raise exc
    assert stop.value.exit_code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err.strip()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common.console, "width", 400)


def test_a_permission_error_is_one_line_with_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exc = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "data.csv"))
    assert run(exc, capsys) == f"error: {tmp_path / 'data.csv'}: Permission denied"


def test_a_staging_or_temporary_path_is_named_by_its_target(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    staging = tmp_path / f".out.{'a' * 32}.staging"
    assert run(PermissionError(errno.EACCES, "Permission denied", str(staging)), capsys) == \
        f"error: {tmp_path / 'out'}: Permission denied"
    # os.replace(tmp, path): the second name is where the user asked the file to go
    moved = IsADirectoryError(errno.EISDIR, "Is a directory", str(tmp_path / f".f.parquet.{'b' * 32}.tmp"),
                              None, str(tmp_path / "f.parquet"))
    assert os_error_line(moved) == f"{tmp_path / 'f.parquet'}: Is a directory"


def test_a_real_os_error_from_writing_into_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deepcredit.data.io import atomic_write_text

    (tmp_path / "out").mkdir()
    with pytest.raises(typer.Exit), clear_errors():
        atomic_write_text(tmp_path / "out", "x")
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'out'}: Is a directory" in err and "Traceback" not in err


def test_pyarrows_os_errors_are_named_by_their_file_too(tmp_path: Path) -> None:
    hidden = tmp_path / f".f.parquet.{'c' * 32}.tmp"
    exc = PermissionError(errno.EACCES, f"Failed to open local file '{hidden}'. Detail: [errno 13] Permission denied")
    assert os_error_line(exc) == f"{tmp_path / 'f.parquet'}: Permission denied"
    partial = tmp_path / ".w.seed42.n50.303b7a4b6512.partial"  # a simulation's staging folder
    assert os_error_line(PermissionError(errno.EACCES, "Permission denied", str(partial))) == \
        f"{tmp_path / 'w'}: Permission denied"


def test_an_os_error_without_a_file_keeps_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(FileNotFoundError("x.csv: no such file (people)"), capsys) == "error: x.csv: no such file (people)"
    assert run(OSError("disk quota exceeded"), capsys) == "error: disk quota exceeded"


def test_a_sub_score_on_no_record_says_so_beside_its_number(capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from deepcredit.models.base import DIMENSIONS

    words = "no record on file: this part is scored as for people without history"
    points = {"identity": 180, "credit_history": 120, "fulfilment_capacity": 150, "behaviour_preferences": 162,
              "social_connections": pd.NA}
    card = pd.Series({"person_id": "p1", "as_of": pd.Timestamp("2025-01-01"), "score": 612, "band": "fair",
                      "pd": 0.1, **points, **{f"{d}_no_record": d == "credit_history" for d in DIMENSIONS}})
    common.print_person(card, pd.DataFrame())
    err = capsys.readouterr().err
    assert f"120 ({words})" in err and err.count(words) == 1
    assert "180" in err and "no data" in err  # the others as they were
    common.print_person(card.drop([f"{d}_no_record" for d in DIMENSIONS]), pd.DataFrame())  # an older card
    assert words not in capsys.readouterr().err
    # the demo's card reads the same words (it printed the bare number)
    assert [common.sub_score_text(card, d) for d in DIMENSIONS] == ["180", f"120 ({words})", "150", "162", "no data"]
