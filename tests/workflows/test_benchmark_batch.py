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


def test_a_speed_world_built_by_other_code_is_rebuilt_and_one_built_by_this_code_is_reused(tmp_path, capsys):
    """Audit R2's rule for every work data set, now the speed stages' worlds too: a world is reused only when
    this code built it (benchmarks.models.reuse_or_build), else simulated again."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.workflows import benchmark as bench
    from deepcredit.workflows.benchmarks import code_provenance
    from deepcredit.workflows.benchmarks.batch import measure
    from deepcredit.workflows.benchmarks.models import BUILT_BY, built_by

    data = tmp_path / "world-60" / "data"
    simulate_world(data, people=60, seed=42)  # as code before stamps (or other code) left it
    (data / "marker").write_text("")
    assert measure(tmp_path / "no-model", [60], [], tmp_path) == {"speed": {}}
    assert not (data / "marker").exists() and "no record of the code" in capsys.readouterr().out
    stamp = built_by(data)
    assert stamp is not None and stamp["code"] == code_provenance()

    (data / "marker").write_text("")  # built by this code: reused as it is
    measure(tmp_path / "no-model", [60], [], tmp_path)
    assert (data / "marker").exists()
    assert bench.speed_world(data, 60, 42)["cached"]

    stale = {**stamp, "code": {**stamp["code"], "fingerprint": "0" * 64, "commit": "abc1234"}}
    data.with_name(data.name + BUILT_BY).write_text(json.dumps(stale))
    measure(tmp_path / "no-model", [60], [], tmp_path)
    assert not (data / "marker").exists() and "built by other code (commit abc1234" in capsys.readouterr().out
