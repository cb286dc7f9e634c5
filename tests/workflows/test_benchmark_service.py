"""The service latencies `deepcredit benchmark` records: measured in process on a served world (a small
scorecard here: the mechanism, not the numbers), and reported in results.json and the markdown block."""

from __future__ import annotations

import gc

from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import ModelInput
from deepcredit.features.definitions import ALL_FEATURES
from deepcredit.features.engine import build_features
from deepcredit.models.base import save_model
from deepcredit.models.scorecard import ScorecardModel
from deepcredit.workflows import benchmark as bm
from deepcredit.workflows.benchmarks.service import measure

NAMES = {"identity_verified", "tenure_days", "n_bad_365d", "bad_rate", "utilisation", "last_bill_amount", "credit_limit",
         "degree"}


def test_service_latencies_are_measured_and_reported(tmp_path):
    world = simulate_world(tmp_path / "world", people=300, seed=3)
    ff = build_features(world, definitions=[d for d in ALL_FEATURES if d.name in NAMES])
    inp = ModelInput(ff)
    save_model(ScorecardModel(max_n_prebins=8).fit(inp), tmp_path / "model", inp)
    r = measure(world, tmp_path / "model", tmp_path / "svc", decisions=30, rescores=4)
    assert r["people"] == 300 and r["admittance"]["requests"] == 30 and r["stack_rescore"]["requests"] == 4
    assert r["admittance_p99_ms"] > 0 and r["stack_rescore_p99_ms"] > 0 and r["model_id"]
    assert set(r["machine_check_ms"]) == {"before", "after"} and gc.get_freeze_count() == 0
    assert bm.missing_keys({"service": r}) == []
    assert bm.missing_keys({"service": {"people": 1}}) == ["service.admittance_p99_ms",
                                                            "service.stack_rescore_p99_ms"]
    text = bm.render_markdown({"service": r})
    assert f"admittance decision p99 **{r['admittance_p99_ms']} ms**" in text
    assert f"stack p99 **{r['stack_rescore_p99_ms']} ms**" in text
    assert f"machine check {r['machine_check_ms']['before']} ms before" in text
