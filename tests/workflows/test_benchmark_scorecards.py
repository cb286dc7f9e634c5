"""The peer-scorecard comparison survives a peers' interpreter that cannot run them."""

from __future__ import annotations

import sys

import pytest

from deepcredit.workflows.benchmarks.scorecards import remote_peers


def test_a_failing_peers_interpreter_marks_its_peers_instead_of_failing_the_comparison(tmp_path):
    # no spec.json in tmp_path: the worker exits with an error, as an interpreter lacking pyarrow does
    got = remote_peers(sys.executable, tmp_path, ["toad", "scorecardpy"])
    assert set(got) == {"toad", "scorecardpy"}
    assert all("failed (exit 1)" in r["error"] and "spec.json" in r["error"] for r in got.values())


def test_a_peer_that_cannot_be_imported_is_refused_before_any_fitting(monkeypatch, tmp_path) -> None:
    """A missing peer and no --peers-python: one clear ValueError before the data is even read, not a
    SystemExit from inside a workflow after our card's fit (the CLI turns the error into its message)."""
    from deepcredit.workflows.benchmarks import scorecards

    monkeypatch.setattr(scorecards, "_importable", lambda name: False)
    monkeypatch.setattr(scorecards, "load_data", lambda *a: pytest.fail("the data was read"))
    with pytest.raises(ValueError, match="cannot import toad"):
        scorecards.run(scorecards.ScorecardsRun(data=tmp_path, peers=("toad",)))
