"""evaluate leaves out the rows a model was fitted on whatever the data set is called or fingerprinted
(audit I, F2): a re-ingest whose spec text changed is still the training data, row for row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepcredit.config import RunConfig
from deepcredit.data.draft import draft_spec
from deepcredit.data.ingest import ingest_with_spec
from deepcredit.data.spec import spec_from_toml
from deepcredit.workflows.evaluate import evaluate_model
from deepcredit.workflows.train import train_model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fitted")
    rng = np.random.default_rng(3)
    n = 1000
    grade = rng.choice(list("ABCD"), n)
    bad = rng.random(n) < np.select([grade == "A", grade == "B", grade == "C"], [0.05, 0.15, 0.3], 0.45)
    pd.DataFrame({"loan_id": [f"l{i}" for i in range(n)], "grade": grade, "amount": rng.integers(100, 5000, n),
                  "default": bad.astype(int)}).to_csv(root / "loans.csv", index=False)
    text = draft_spec(root / "loans.csv")
    first = ingest_with_spec(spec_from_toml(text), {"people": root / "loans.csv"}, root / "d1")
    reworded = text.replace('description = "your amount"', 'description = "the amount you asked for"')
    assert reworded != text
    again = ingest_with_spec(spec_from_toml(reworded), {"people": root / "loans.csv"}, root / "d2")
    assert again.fingerprint() != first.fingerprint()  # nothing about the rows changed, only the spec's words
    cfg = RunConfig(model="scorecard", split={"kind": "holdout", "fraction": 0.3}, seed=3)
    trained = train_model(cfg, first, root / "m")
    return root, first, again, trained


def test_a_reingest_with_a_reworded_spec_leaves_out_the_fitted_rows(setup):
    root, first, again, trained = setup
    h = trained.metrics["holdout"]
    assert h["train_rows"] == 700
    own = evaluate_model(trained.path, first, root / "ev1", n_boot=0)["evaluation"]
    ev = evaluate_model(trained.path, again, root / "ev2", n_boot=0)["evaluation"]
    assert ev["n"] == own["n"] == h["rows"] == 300
    assert ev["metrics"]["auc"] == pytest.approx(h["auc"]) and not ev["optimistic"]
    assert "700 rows of this data set are rows the model was fitted on" in ev["rows_scope"]
    assert ev["fitted_rows_left_out"] == 700
    assert ev["input_check"] == {"rows_checked": 300, "findings": []}  # the same rows as trained on: no finding
    card = (root / "ev2" / "model_card.md").read_text()
    assert "700 rows" in card
    results = json.loads((root / "ev2" / "results.json").read_text())
    assert "l1" not in json.dumps(results["evaluation"]["rows_scope"])  # counts, no raw ids


def test_all_rows_on_a_reingest_is_flagged_optimistic_with_the_count(setup):
    root, _, again, trained = setup
    ev = evaluate_model(trained.path, again, root / "ev_all", n_boot=0, all_rows=True)["evaluation"]
    assert ev["n"] == 1000 and ev["optimistic"]
    assert "700 of these 1,000 rows are rows the model was fitted on" in ev["rows_scope"]
    card = (root / "ev_all" / "model_card.md").read_text()
    assert "optimistic" in card and "Held-out rows" not in card


def test_an_artifact_without_the_record_keeps_the_fingerprint_rule(setup):
    """Artifacts written before the record: nothing is recognised on another data set (as before)."""
    from deepcredit.evaluation.pipeline import load_any_model, model_input, rows_to_evaluate

    root, _, again, trained = setup
    loaded = load_any_model(trained.path)
    inp = model_input(loaded, again)
    assert rows_to_evaluate(loaded.manifest, again, inp, fitted=None) == (None, None)


def test_the_reference_rows_fitted_on_are_found_by_the_record_or_on_old_artifacts_by_the_split(setup):
    """The reference's band bad rates leave out its fitted rows (audit O D2): found by the artifact's record on
    any data set, and for an artifact without it on its own training data by the split (none elsewhere)."""
    from deepcredit.evaluation.pipeline import fitted_in, load_any_model, model_input

    _, first, again, trained = setup
    loaded = load_any_model(trained.path)
    recorded = fitted_in(trained.path, loaded.manifest, again, model_input(loaded, again))
    assert recorded is not None and recorded.sum() == 700
    old = {k: v for k, v in loaded.manifest.items() if k != "fitted_rows"}
    by_split = fitted_in(trained.path, old, first, model_input(loaded, first))
    assert by_split is not None and by_split.sum() == 700 and (by_split == recorded).all()
    assert fitted_in(trained.path, old, again, model_input(loaded, again)) is None


def test_the_card_names_the_development_data_split_and_code(setup):
    from deepcredit.data.io import code_fingerprint

    root, first, _, trained = setup
    evaluate_model(trained.path, first, root / "ev_card", n_boot=0)
    card = (root / "ev_card" / "model_card.md").read_text()
    dev = card[card.index("## Development"):card.index("## Intended use")]
    assert f"data fingerprint {first.fingerprint()[:12]}" in dev and "fitted on 700 rows, bad rate" in dev
    assert "hold-out of 30% of the people (seed 3); 300 rows held out" in dev
    assert f"fingerprint {code_fingerprint()[:12]}" in dev and "Python 3." in dev
    assert f"**Code fingerprint**: {code_fingerprint()[:12]}" in card  # model details, as the report shows


def test_all_rows_on_a_time_split_model_marks_each_period(tmp_path):
    """audit I, F8: 2022 fitted on, 2023 unmatured (never used), 2024 held out, said per period."""
    rng = np.random.default_rng(5)
    n = 900
    grade = rng.choice(list("ABCD"), n)
    bad = rng.random(n) < np.select([grade == "A", grade == "B", grade == "C"], [0.05, 0.15, 0.3], 0.45)
    days = rng.integers(0, 1095, n)
    days[days == 365] = 366  # a 2023-01-01 loan's outcome is known on 2024-01-01: fitted on, in a 2023 period
    issued = pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D")
    pd.DataFrame({"loan_id": [f"l{i}" for i in range(n)], "issue_d": issued.strftime("%Y-%m-%d"), "grade": grade,
                  "default": bad.astype(int)}).to_csv(tmp_path / "loans.csv", index=False)
    ds = ingest_with_spec(spec_from_toml(draft_spec(tmp_path / "loans.csv")), {"people": tmp_path / "loans.csv"},
                          tmp_path / "ds")
    cfg = RunConfig(model="scorecard", split={"kind": "time", "test_from": "2024-01-01"}, seed=0)
    trained = train_model(cfg, ds, tmp_path / "m")
    ev = evaluate_model(trained.path, ds, tmp_path / "ev", n_boot=0, all_rows=True, period="year")["evaluation"]
    by_year = {r["period"]: r["used_as"] for r in ev["periods"]}
    assert by_year == {"2022": "fitted on", "2023": "not used (unmatured or outside the split)", "2024": "held out"}
    assert ev["optimistic"] and "2022 fitted on; 2023 not used" in ev["rows_scope"]
    assert "2024 held out" in (tmp_path / "ev" / "model_card.md").read_text()
    page = (tmp_path / "ev" / "report.html").read_text()
    assert "<th>to the model</th>" in page and "<td>fitted on</td>" in page  # the table says it per period
    held = evaluate_model(trained.path, ds, tmp_path / "ev_held", n_boot=0, period="year")["evaluation"]
    assert held["periods"] is None or all("used_as" not in r for r in held["periods"])


def test_a_data_set_of_fitted_rows_only_is_evaluated_whole_and_flagged(setup):
    from deepcredit.evaluation.pipeline import load_any_model, model_input, rows_to_evaluate

    _, _, again, trained = setup
    inp = model_input(load_any_model(trained.path), again)
    rows, scope = rows_to_evaluate({}, again, inp, fitted=np.ones(len(inp), dtype=bool))
    assert rows is None and "1,000 of these 1,000 rows are rows the model was fitted on" in scope


def test_another_simulated_world_is_held_out_data_not_the_fitted_rows(tmp_path):
    """Worlds of different seeds are different people (audit K, F1): the README's and the demo's held-out
    world had every (person, as-of) of the training world, and was reported as in-sample."""
    from deepcredit.data.simulate import simulate_world

    world = simulate_world(tmp_path / "w7", people=400, seed=7)
    later = simulate_world(tmp_path / "w8", people=300, seed=8)
    trained = train_model(RunConfig(model="scorecard", split={"kind": "holdout", "fraction": 0.3}, seed=1), world,
                          tmp_path / "m")
    ev = evaluate_model(trained.path, later, tmp_path / "ev", n_boot=0)["evaluation"]
    assert ev["n"] == 300 and not ev["optimistic"] and ev["rows_scope"] is None


def test_the_evaluation_layer_asks_no_model_what_kind_it_is():
    """The report's member rows come through the model contract (CreditModel.member_logits), not a branch on a
    model kind: the pipeline names no model class of the models layer but the contract's."""
    import inspect

    from deepcredit.evaluation import pipeline

    source = inspect.getsource(pipeline)
    assert "StackModel" not in source and "isinstance(loaded.model" not in source


def test_a_reference_that_is_the_training_data_raises_no_false_band_alert(tmp_path):
    """audit O D2, the README's own example: `evaluate --reference` the training world read 'watch' for a
    world of the same simulator (band excellent 3.8% vs 0.1% in the reference): the reference's bad rates per
    band were the model's in-sample ones. Its fitted rows' outcomes are now left out, and counted."""
    from deepcredit.data.simulate import simulate_world

    world = simulate_world(tmp_path / "w7", people=2000, seed=7)
    later = simulate_world(tmp_path / "w8", people=2000, seed=8)
    trained = train_model(RunConfig(model="gbdt", seed=1), world, tmp_path / "m")  # split none: all rows fitted
    results = evaluate_model(trained.path, later, tmp_path / "ev", reference=world, n_boot=0)
    st = results["stability"]
    assert [a for a in st["alerts"] if a["metric"] == "bad rate"] == []
    assert st["reference_fitted_rows"] == st["n_reference"] == 2000
    assert "2,000 of the reference's 2,000 rows are rows the model was fitted on" in st["reference_note"]
    html = (tmp_path / "ev" / "report.html").read_text()
    assert "too few to judge" in html and "2,000 of the reference" in html


def test_a_machine_without_the_fitted_rows_key_says_it_could_not_tell_the_fitted_rows(setup, tmp_path, monkeypatch):
    """The record is keyed with a secret the artifact does not hold (docs/security.md): elsewhere evaluate says it
    could not leave the fitted rows out; on the model's own data the split still finds them."""
    from deepcredit.models.artifacts import PUBLIC_KEY, key_dir

    root, first, again, trained = setup
    other = tmp_path / "auditor-keys"
    (other / "trusted").mkdir(parents=True)
    (other / "trusted" / "trainer.pub").write_bytes((key_dir() / PUBLIC_KEY).read_bytes())
    monkeypatch.setenv("DEEPCREDIT_KEY_DIR", str(other))
    ev = evaluate_model(trained.path, again, root / "ev_nokey", n_boot=0)["evaluation"]
    assert ev["n"] == 1000 and ev["fitted_rows_left_out"] is None
    assert "could not be recognised" in ev["fitted_rows_unrecognised"] and "may be optimistic" in \
        ev["fitted_rows_unrecognised"]
    assert "could not be recognised" in (root / "ev_nokey" / "model_card.md").read_text()
    own = evaluate_model(trained.path, first, root / "ev_nokey_own", n_boot=0)["evaluation"]
    assert own["n"] == 300 and own["fitted_rows_unrecognised"] is None
