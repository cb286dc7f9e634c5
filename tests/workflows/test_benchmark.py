"""deepcredit benchmark: the results schema, the markdown block, the docs update, one tiny speed run."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from deepcredit.workflows import benchmark as bm
from deepcredit.workflows.benchmarks import peak_rss_mb


def fake_results() -> dict:
    def models() -> dict:
        return {"scorecard": {"auc": 0.77, "ks": 0.41}, "gbdt": {"auc": 0.78, "ks": 0.42},
                "stack": {"auc": 0.785, "ks": 0.43}, "peer:lightgbm": {"auc": 0.776, "ks": 0.42}}

    return {
        "schema_version": 1, "mode": "full", "started_at": "2026-01-01T00:00:00", "seconds": 1234.5,
        "machine": {"cpus": 2}, "plan": {"notes": []},
        "datasets": {
            "uci": {"split": "stratified 70/30, random_state=42", "members": ["scorecard", "gbdt"],
                    "models": {**models(), "scorecard_standalone": {"auc": 0.771, "ks": 0.40},
                               "peer:optbinning": {"auc": 0.765, "ks": 0.40}},
                    "cv": {"stack": {"auc_mean": 0.78, "auc_std": 0.004, "ks_mean": 0.42, "ks_std": 0.01}},
                    "skipped": {"peer:toad": "not importable here"}},
            "otc": {"split": "time", "members": ["scorecard", "gbdt"], "graph_auc_difference": 0.012,
                    "models": {**models(), "stack_without_graph": {"auc": 0.77, "ks": 0.4}}},
            "otc_rolling": {"split": "rolling origin", "members": ["scorecard", "gbdt"],
                            "stack_minus_best_member": 0.005,
                            "models": {**models(), "stack_without_temporal": {"auc": 0.781, "ks": 0.42}}},
            "simulated_temporal": {"people": 100_000, "split": "70/30", "bayes_auc": 0.83, "observable_auc": 0.8,
                                   "gap_to_observable": 0.015, "temporal_gap_recovered": 0.61,
                                   "members": ["scorecard", "gbdt"], "models": models()},
            "simulated": {"people": 100_000, "split": "70/30", "bayes_auc": 0.81, "gap_to_bayes": 0.025,
                          "observable_auc": 0.795, "gap_to_observable": 0.01,
                          "members": ["scorecard", "gbdt"], "models": models(),
                          "ablation": {"tabular_only": {"members": ["scorecard"], "auc": 0.76, "gap_to_bayes": 0.05},
                                       "full": {"members": ["scorecard", "gbdt"], "auc": 0.785,
                                                "gap_to_bayes": 0.025}}},
        },
        "speed": {"simulate": {"10000": {"seconds": 1.2, "peak_mb": 300, "events": 500_000, "relations": 40_000}},
                  "features": {"10000": {"seconds": 2.0, "peak_mb": 800, "features": 50}},
                  "train": {"10000": {"seconds": 30.0, "peak_mb": 1500, "model_input_seconds": 3.0}},
                  "score": {"10000": {"seconds": 4.0, "peak_mb": 1200, "model_trained_on": 10_000},
                            "1000000": {"error": "child process exited with code -9 (killed for memory?)"}}},
        "skipped": [{"what": "train at 1,000,000", "why": "time budget"}],
    }


def test_fake_results_have_the_promised_shape_and_a_gap_is_named():
    res = fake_results()
    assert bm.missing_keys(res) == []
    del res["datasets"]["uci"]["models"]["stack"]["ks"]
    del res["datasets"]["simulated"]["bayes_auc"]
    del res["datasets"]["simulated_temporal"]["observable_auc"]
    del res["speed"]["train"]["10000"]["peak_mb"]
    assert bm.missing_keys(res) == ["datasets.uci.models.stack.ks", "datasets.simulated.bayes_auc",
                                    "datasets.simulated_temporal.observable_auc", "speed.train.10000.peak_mb"]


def test_markdown_has_every_model_peer_bayes_limit_and_speed_row():
    md = bm.render_markdown(fake_results())
    for text in ("### UCI credit cards", "| stack | 0.7850 | 0.4300 | 0.7800 ± 0.0040 | 0.4200 ± 0.0100 |",
                 "| peer:optbinning | 0.7650 | 0.4000 |", "| peer:toad | skipped: not importable here",
                 "Bayes limit", "**0.8100**", "stack_without_graph", "+0.0120",
                 "### Bitcoin OTC, rolling origin", "| stack_without_temporal | 0.7810 | 0.4200 |",
                 "Stack AUC minus its best member's: +0.0050", "Observable limit", "**0.7950**",
                 "### Simulated world with temporal structure, 100,000 people", "recover: 0.61",
                 "| tabular_only | scorecard | 0.7600 | 0.0500 |",
                 "| train | 10,000 | 30.00 | 1500 |", "| score | 1,000,000 | n/a | n/a | failed: child process",
                 "- skipped: train at 1,000,000: time budget"):
        assert text in md, text
    # our models first (members in order, then the stack), peers after
    assert md.index("| scorecard |") < md.index("| gbdt |") < md.index("| stack |") < md.index("| peer:lightgbm |")


def test_a_record_merged_from_several_runs_says_so_instead_of_one_runs_date():
    res = {**fake_results(), "runs": [{"started_at": "2026-11-24T16:14:49+0000"},
                                      {"started_at": "2026-12-02T13:06:00+0000"}]}
    head = bm.render_markdown(res).splitlines()[0]
    assert "assembled from 2 runs, 2026-11-24 to 2026-12-02" in head and "full mode" not in head


def test_update_doc_replaces_only_the_generated_block(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nhand-written prose\n\n{bm.BEGIN}\nold table\n{bm.END}\n\ntrailing prose\n")
    bm.update_doc(doc, "new table\n")
    text = doc.read_text()
    assert "old table" not in text and f"{bm.BEGIN}\nnew table\n{bm.END}" in text
    assert text.startswith("# Benchmarks\n\nhand-written prose") and text.endswith("trailing prose\n")
    bm.update_doc(doc, "newer\n")  # idempotent: one block, replaced again
    assert doc.read_text().count(bm.BEGIN) == 1 and "newer" in doc.read_text()


def test_update_doc_appends_the_block_when_markers_are_absent(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nmeasured numbers\n")
    bm.update_doc(doc, "table\n")
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nmeasured numbers\n") and f"{bm.BEGIN}\ntable\n{bm.END}" in text


def test_the_repository_doc_has_the_markers():
    doc = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
    text = doc.read_text()
    assert text.count(bm.BEGIN) == 1 and text.count(bm.END) == 1
    assert "Simulating 1,000,000 people" in text


def test_plans():
    assert bm.plan_for(True).mode == "quick" and bm.plan_for(False).mode == "full"
    full = bm.plan_for(False)
    assert full.speed_sizes == (10_000, 100_000, 1_000_000) and full.model_size == 100_000 and full.cv


@pytest.mark.slow
def test_tiny_speed_run_in_child_processes(tmp_path):
    plan = dataclasses.replace(bm.QUICK, speed_sizes=(400,), train_sizes=(400,),
                               member_params={"scorecard": {}, "sequence": {"max_epochs": 1},
                                              "wide_deep": {"max_epochs": 1}, "graph": {"max_epochs": 1}})
    steps = []
    speed, skipped = bm.run_speed(plan, tmp_path, steps.append)
    assert skipped == [] and len(steps) == 5
    for stage in bm.SPEED_STAGES:
        r = speed[stage]["400"]
        assert "error" not in r, (stage, r)
        assert r["seconds"] > 0 and r["peak_mb"] > 0
    assert speed["score"]["400"]["cards"] == speed["report"]["400"]["cards"] == speed["train"]["400"]["rows"]
    assert bm.missing_keys({"speed": speed}) == []


def _peak_child(stage: str, args: dict, q) -> None:
    q.put({"peak_mb": peak_rss_mb()})


@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is Linux's")
def test_a_child_reports_its_own_peak_not_its_parents(monkeypatch):
    import numpy as np

    ballast = np.ones(80_000_000)  # 640 MB held by the parent while the child starts
    got = bm.run_child(__name__, "_peak_child", "peak", {})
    assert ballast.sum() > 0 and 0 < got["peak_mb"] < 500, got


def test_a_partial_run_replaces_only_what_it_measured():
    recorded = fake_results()
    partial = {**fake_results(), "started_at": "2026-02-02T00:00:00", "seconds": 60.0,
               "datasets": {"german": {"models": {"stack": {"auc": 0.8, "ks": 0.5}}}}, "speed": {}, "skipped": []}
    plan = dataclasses.replace(bm.plan_for(False), datasets=("german",), speed=False)
    merged = bm.merge_into_record(recorded, partial, plan)
    assert set(merged["datasets"]) == {*recorded["datasets"], "german"}
    assert merged["datasets"]["uci"] == recorded["datasets"]["uci"] and merged["speed"] == recorded["speed"]
    assert [r["measured"] for r in merged["runs"]] == ["everything", ["german"]]


def test_unknown_data_sets_are_named():
    assert bm.check_datasets(("german", "uci")) == ("german", "uci")
    with pytest.raises(ValueError, match="unknown data set.*nope.*choose from uci, otc, otc_rolling, simulated, simulated_temporal, german"):
        bm.check_datasets(("uci", "nope"))
    assert bm.count_steps(dataclasses.replace(bm.plan_for(True), datasets=("german",), speed=False)) == 1


def test_otc_rolling_results_name_the_peer_and_the_stack_against_its_best_member(monkeypatch, tmp_path):
    def fake(args):
        assert args.otc_rolling_periods == bm.QUICK.otc_rolling_periods
        m = {"auc": 0.9, "ks": 0.6, "rows": 100, "bads": 10, "auc_by_period": {}}
        return {"test_periods": ["2014-10-01", "2015-01-01"], "members": ["gbdt", "sequence"],
                "temporal_members": ["sequence"], "combiner": {},
                "models": {"gbdt": {**m, "auc": 0.89}, "sequence": {**m, "auc": 0.85}, "stack": m,
                           "stack_without_temporal": {**m, "auc": 0.895}, "lightgbm_defaults": m}}

    monkeypatch.setattr(bm.bench_models, "otc_rolling", fake)
    res = bm.run_otc_rolling(bm.QUICK, tmp_path, lambda s: None)
    assert set(res["models"]) == {"gbdt", "sequence", "stack", "stack_without_temporal", "peer:lightgbm"}
    assert res["stack_minus_best_member"] == 0.01 and "2014-10-01, 2015-01-01" in res["split"]
    assert bm.missing_keys({"datasets": {"otc_rolling": res}}) == []


def test_a_merged_run_stamps_each_data_set_it_measured_with_its_provenance(monkeypatch, tmp_path):
    """Audit R2: the record kept the first run's plan and the last run's versions, so a figure measured by
    another run could not say what produced it; each measured data set now carries its own provenance."""
    from deepcredit.data.dataset import Dataset

    def fake_german(plan, workdir, step):
        bm.bench_models.bundled("german", workdir)  # what a data set's run reads goes through the work data
        return {"split": "stratified 70/30, random_state=42", "models": {"stack": {"auc": 0.8, "ks": 0.5}}}

    monkeypatch.setitem(bm.DATASETS, "german", fake_german)
    plan = dataclasses.replace(bm.QUICK, datasets=("german",), speed=False)
    results = bm.run_benchmark(tmp_path / "out", plan, workdir=tmp_path / "work")
    recorded = fake_results()
    uci_before = {"code": {"commit": "44a7f64"}, "note": "as recorded"}
    recorded["datasets"]["uci"]["provenance"] = uci_before
    merged = bm.merge_into_record(recorded, results, plan)

    prov = merged["datasets"]["german"]["provenance"]
    assert set(prov["code"]) >= {"commit", "dirty", "fingerprint"} and prov["code"]["fingerprint"]
    assert prov["versions"]["numpy"] and prov["machine"]["cpus"] and prov["seconds"] >= 0 and prov["started_at"]
    assert prov["plan"]["temporal_path"] is False and prov["plan"]["seed"] == plan.seed
    assert prov["plan"]["members"] and prov["plan"]["protocol"]["split"].startswith("stratified 70/30")
    assert "sim_people" not in prov["plan"]  # options of other data sets are not this one's
    german = Dataset(tmp_path / "work" / "german")
    assert prov["data"]["german"]["fingerprint"] == german.fingerprint()
    assert prov["data"]["german"]["built_by"]["fingerprint"] == prov["code"]["fingerprint"]
    assert merged["datasets"]["german"]["models"]["stack"]["auc"] == 0.8  # the keys docs read stay where they were
    # the data sets this run did not measure keep what they had; none is given provenance it never had
    assert merged["datasets"]["uci"]["provenance"] == uci_before
    assert "provenance" not in merged["datasets"]["otc"]
    assert merged["plan"] == results["plan"] and merged["machine"] == results["machine"]
    assert results["started_at"] in merged["last_run"]


def test_every_data_set_of_the_record_says_what_produced_it_or_that_it_was_not_recorded():
    """A figure recorded before per-data-set provenance says so; a commit given for it is one docs/benchmarks.md
    names for it, quoted, never one made up."""
    import json

    docs = Path(__file__).resolve().parents[2] / "docs"
    record = json.loads((docs / "results" / "benchmark.json").read_text())
    prose = " ".join((docs / "benchmarks.md").read_text().split())
    for name, ds in record["datasets"].items():
        prov = ds.get("provenance")
        assert isinstance(prov, dict), name
        if "code" in prov:  # stamped by run_benchmark
            assert {"versions", "machine", "plan", "data", "started_at"} <= set(prov), name
            continue
        assert prov["recorded"].startswith("not recorded"), name
        if "commit_from_docs" in prov:
            said = prov["docs_benchmarks_md_says"]
            assert prov["commit_from_docs"] in said, name
            assert all(part.strip() in prose for part in said.split("...")), name


@pytest.mark.parametrize("record", [False, True])
def test_only_a_recorded_run_rewrites_the_projects_benchmarks_page(tmp_path, monkeypatch, record):
    """A run of one data set (not recorded) replaced the page's block of every data set with its own; now it
    writes its markdown beside its results, and only --record rewrites docs/benchmarks.md."""
    from typer.testing import CliRunner

    from deepcredit.cli.app import app

    page = tmp_path / "docs" / "benchmarks.md"
    page.parent.mkdir()
    (tmp_path / "docs" / "results").mkdir()
    page.write_text(f"# Benchmarks\n\n{bm.BEGIN}\nevery data set's table\n{bm.END}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bm, "run_benchmark", lambda out, plan, workdir=None, step=None: fake_results())
    args = ["benchmark", "--out", str(tmp_path / "run"), "--datasets", "german", "--no-speed"]
    CliRunner().invoke(app, args + (["--record"] if record else []))
    assert ("every data set's table" in page.read_text()) is not record
    assert (tmp_path / "run" / "benchmarks.md").exists() is not record
