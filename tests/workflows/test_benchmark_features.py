"""The standalone feature benchmark (scripts/bench_features.py) times only a world this code built."""

from __future__ import annotations

import json

from deepcredit.data.simulate import simulate_world
from deepcredit.workflows.benchmarks import code_provenance
from deepcredit.workflows.benchmarks.features import failed, run
from deepcredit.workflows.benchmarks.models import BUILT_BY, built_by


def test_a_world_older_code_left_is_simulated_again_and_one_this_code_built_is_reused(tmp_path, capsys):
    data = tmp_path / "world-60" / "data"
    simulate_world(data, people=60, seed=42)  # as older code (or code before stamps) left it
    (data / "marker").write_text("")
    out = tmp_path / "features.json"
    assert not failed(run(people=60, workdir=tmp_path, out=out))
    assert not (data / "marker").exists() and "no record of the code" in capsys.readouterr().out
    stamp = built_by(data)
    assert stamp is not None and stamp["code"] == code_provenance()
    result = json.loads(out.read_text())
    assert result["simulate"]["seconds"] >= 0 and result["engine_compared"]["seconds"] >= 0
    assert result["max_relative_difference"] < 1e-8  # the hand-written query computes what the engine does

    (data / "marker").write_text("")  # built by this code as this world: reused, not timed
    assert not failed(run(people=60, workdir=tmp_path, out=out))
    assert (data / "marker").exists() and json.loads(out.read_text())["simulate"]["cached"]

    stale = {**stamp, "code": {**stamp["code"], "fingerprint": "0" * 64, "commit": "abc1234"}}
    data.with_name(data.name + BUILT_BY).write_text(json.dumps(stale))
    assert not failed(run(people=60, workdir=tmp_path))
    assert not (data / "marker").exists() and "built by other code (commit abc1234" in capsys.readouterr().out
