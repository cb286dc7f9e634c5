"""The peer-scorecard comparison survives a peers' interpreter that cannot run them."""

from __future__ import annotations

import sys

from deepcredit.workflows.benchmarks.scorecards import remote_peers


def test_a_failing_peers_interpreter_marks_its_peers_instead_of_failing_the_comparison(tmp_path):
    # no spec.json in tmp_path: the worker exits with an error, as an interpreter lacking pyarrow does
    got = remote_peers(sys.executable, tmp_path, ["toad", "scorecardpy"])
    assert set(got) == {"toad", "scorecardpy"}
    assert all("failed (exit 1)" in r["error"] and "spec.json" in r["error"] for r in got.values())
