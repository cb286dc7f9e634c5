"""The model card says what the model was developed on and how it was configured (audit I, F10)."""

from deepcredit.evaluation.model_card import default_model_card, development_facts, model_card_markdown

MANIFEST = {
    "config": {"data": "world", "rows": 1750, "run": {"data": "world", "seed": 5, "split": {
        "kind": "holdout", "fraction": 0.3}, "stack": {"calibration": "isotonic"}}},
    "data_fingerprint": "0123456789abcdef" * 4,
    "fitted_rows": {"salt": "00" * 16, "rows": 1750, "bads": 350},
    "metrics": {"meta_weights": {"scorecard": 0.0, "gbdt": 0.0, "wide_deep": 0.56}, "folds": 3,
                "combiner": {"chosen": "blend"}, "skipped": {"graph": "input lacks the structural view"},
                "oof_auc": {"stack": 0.77}, "holdout": {"rows": 750, "auc": 0.7725}},
    "code": {"fingerprint": "f" * 64, "python": "3.11.9"},
}


def test_development_facts_of_a_stack():
    facts = development_facts(MANIFEST)
    assert facts["development data"] == "world, data fingerprint 0123456789ab; fitted on 1,750 rows, bad rate 20.0%"
    assert facts["split"] == "hold-out of 30% of the people (seed 5); 750 rows held out, AUC 0.772"
    assert facts["members and meta weights"] == "scorecard 0.000, gbdt 0.000, wide_deep 0.560"
    assert facts["members left out"] == "graph (input lacks the structural view)"
    assert facts["combiner"] == "blend; 3 folds; calibration isotonic"
    assert facts["code"].startswith("fingerprint ffffffffffff") and "Python 3.11.9" in facts["code"]
    md = model_card_markdown(default_model_card(development=facts))
    assert "## Development" in md and "- **Members and meta weights**: scorecard 0.000" in md


def test_an_old_manifest_says_what_it_does_not_record():
    facts = development_facts({"config": {"data": "g1", "rows": 700}})
    assert facts["development data"] == "g1, no data fingerprint recorded; fitted on 700 rows"
    assert facts["split"] == "none: fitted on every labelled row"
    assert "not recorded" in facts["code"]
