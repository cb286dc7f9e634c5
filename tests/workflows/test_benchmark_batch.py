"""The batch-scale benchmark merges what it measured into the recorded results and leaves the rest."""

from __future__ import annotations

import json

from deepcredit.workflows.benchmarks.batch import record


def test_record_replaces_only_the_measured_sizes_and_lists_the_run(tmp_path):
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps({"datasets": {"uci": {"models": {}}},
                                "speed": {"score": {"10000": {"seconds": 1.0}, "1000000": {"seconds": 99.0}}},
                                "service": {"admittance_p99_ms": 9.0}, "runs": [{"measured": "everything"}]}))
    measured = {"speed": {"score": {"1000000": {"seconds": 50.0, "peak_mb": 3000}},
                          "report": {"5000000": {"seconds": 700.0, "peak_mb": 3900}}}}
    out = record(path, measured, "2026-12-02T04:00:00+0000", 12.3)
    assert out["speed"]["score"] == {"10000": {"seconds": 1.0}, "1000000": {
        "seconds": 50.0, "peak_mb": 3000, "measured_at": "2026-12-02T04:00:00+0000"}}
    assert out["speed"]["report"]["5000000"]["peak_mb"] == 3900
    assert out["service"] == {"admittance_p99_ms": 9.0} and out["datasets"] == {"uci": {"models": {}}}
    assert out["runs"][-1]["measured"] == ["speed.score.1000000", "speed.report.5000000"]
    assert json.loads(path.read_text()) == out
