"""The report is one self-contained HTML file plus figures.json, results.json and model_card.md."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from deepcredit.evaluation import pipeline
from deepcredit.evaluation.fairness import age_band, fairness_audit
from deepcredit.evaluation.metrics import evaluate
from deepcredit.evaluation.model_card import OUT_OF_SCOPE, default_model_card, model_card_markdown
from deepcredit.evaluation.report import write_report
from deepcredit.evaluation.stability import monitor
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.scorer import Scorer

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results() -> dict:
    rng = np.random.default_rng(11)
    n = 3000
    z = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-1.6 + z)))
    y = (rng.random(n) < p).astype(int)
    s = ScoreScale().score(p)
    ev = evaluate(y, p, s, ablation={"tabular only": np.clip(p + rng.normal(0, 0.05, n), 0.001, 0.999), "full": p},
                  n_boot=20)
    sensitive = pd.DataFrame({"sex": rng.choice(["female", "male"], n),
                              "age_band": age_band(rng.integers(18, 80, n).astype(float))})
    approved = (s >= 600) & ~((sensitive["sex"] == "female").to_numpy() & (rng.random(n) < 0.5))
    fair = fairness_audit(y, approved, sensitive, pd_=p, cutoff=600)
    ref = pd.DataFrame({"score": s, "label": y})
    st = monitor(ref, ref.assign(score=np.clip(s - 20, 350, 950)),
                 features_reference=pd.DataFrame({"x": z}), features_batch=pd.DataFrame({"x": z + 0.5}))
    card = default_model_card(name="toy model", details={"kind": "toy"}, data={"evaluation data": "synthetic"},
                              extra_caveats=["A toy."])
    return {"evaluation": ev, "fairness": fair, "stability": st, "model_card": card}


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_full_report(tmp_path, results):
    path = write_report(tmp_path / "rep", **results, title="Toy report", subtitle="synthetic")
    assert path == tmp_path / "rep" / "report.html"
    html = path.read_text()
    figures = json.loads((tmp_path / "rep" / "figures.json").read_text())
    assert set(figures) == {"roc", "ks", "calibration", "bad_rate_by_band", "score_histogram", "gains", "lift",
                            "ablation", "fairness_approval", "fairness_calibration", "psi", "csi"}
    for fig_id, spec in figures.items():
        assert spec["title"] and spec["caption"] and spec["data"], fig_id
        assert f'id="fig-{fig_id}"' in html
    images = _images(html)
    assert len(images) == len(figures) and all(img.startswith(PNG) and len(img) > 5000 for img in images)
    # self-contained: no script, no external resource of any kind
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)', html)
    assert "http://" not in html and "https://" not in html
    # headline cards, findings and the model card are on the page
    assert f"{results['evaluation']['metrics']['auc']:.3f}" in html
    assert "sex: disparate-impact ratio" in html and "four-fifths" in html
    assert "Model card: toy model" in html and "<table>" in html
    card = (tmp_path / "rep" / "model_card.md").read_text()
    for heading in ("## Intended use", "## Out-of-scope use", "## Data", "## Metrics", "## Disaggregated results",
                    "## Stability", "## Caveats"):
        assert heading in card
    assert "A toy." in card and OUT_OF_SCOPE[0] in card
    stored = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert stored["evaluation"]["metrics"] == results["evaluation"]["metrics"]


def test_monitor_only_report_and_no_results(tmp_path, results):
    path = write_report(tmp_path / "mon", stability=results["stability"], title="Monitoring")
    html = path.read_text()
    assert len(_images(html)) == 2 and "Model card" not in html and "Alerts" in html
    assert not (tmp_path / "mon" / "model_card.md").exists()
    with pytest.raises(ValueError, match="at least one"):
        write_report(tmp_path / "none")


def test_model_card_without_protected_attributes(results):
    audit = fairness_audit(np.array([0, 1]), np.array([1, 0]), pd.DataFrame(index=range(2)))
    md = model_card_markdown(results["model_card"], results["evaluation"], audit)
    assert "no protected attributes" in md


class StubModel:
    """A CreditModel stand-in: PD from one tabular feature (the interface: predict_proba(ModelInput)); its
    explanation gives half of each logit to the feature and half to its dimension read as a whole."""

    views = ("tabular",)
    definitions_ = used_features_ = categories_ = None

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def fitted_members(self) -> list:
        return []

    def member_logits(self, inp) -> pd.DataFrame:
        return pd.DataFrame(index=pd.RangeIndex(len(inp)))  # a single model: no members (CreditModel's answer)

    def predict_proba(self, inp) -> np.ndarray:
        x = inp.X["bad_rate"].fillna(0).to_numpy(dtype=float)
        p = np.clip(0.05 + 0.8 * x, 0.01, 0.99)
        return np.column_stack([1 - p, p])

    def decision_function(self, inp) -> np.ndarray:
        p = self.predict_proba(inp)[:, 1]
        return np.log(p / (1 - p))

    def explain(self, inp):
        from deepcredit.models.base import Explanation

        logit = self.decision_function(inp)
        base = np.full(logit.size, np.log(0.05 / 0.95))
        feature = next(d for d in inp.definitions if d.name == "bad_rate")
        half = (logit - base) / 2
        return Explanation.from_features(base, pd.DataFrame({"bad_rate": half}), [feature],
                                         extra={feature.dimension.value: half}, decision=logit)


def test_evaluate_artifact_with_a_stub_model(tmp_path, monkeypatch):
    from deepcredit.data.simulate import simulate_world

    dev = simulate_world(tmp_path / "dev", people=300, seed=1)
    test = simulate_world(tmp_path / "test", people=300, seed=2)
    loaded = pipeline.LoadedModel(StubModel(), {"kind": "stub", "sha256": "ab" * 32,
                                                "data_fingerprint": test.fingerprint(), "features": []},
                                  None, Scorer(StubModel(), ScoreScale()))
    monkeypatch.setattr(pipeline, "load_any_model", lambda path: loaded)
    steps = []
    path = pipeline.evaluate_artifact(tmp_path / "art", test, tmp_path / "out", reference=dev, n_boot=0,
                                      compare={"same again": tmp_path / "art"}, on_step=steps.append)
    assert steps[0] == "scoring" and steps[-1] == "writing the report"
    scores = pd.read_parquet(tmp_path / "out" / pipeline.SCORES)
    assert list(scores.columns) == list(pipeline.SCORE_COLUMNS) and len(scores) == 300
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["evaluation"]["n"] == 300
    assert set(res["fairness"]["attributes"]) == {"sex", "age_band", "marital_status"}
    assert res["stability"]["n_reference"] == 300 and res["stability"]["csi"]
    assert [r["model"] for r in res["evaluation"]["ablation"]] == ["same again", "stub (this model)"]
    card = (tmp_path / "out" / "model_card.md").read_text()
    assert "fitted on, not on held-out data" in card  # same fingerprint as the data it was "fitted" on
    assert "Metrics on simulated data" in card  # a simulated world: its truth is stored beside it
    assert "**Protected attributes** (sex, age, marital status) are not model inputs" in card
    assert "the data set's label 'label' is '1'" in card
    assert path.exists()
    sample = res["evaluation"]["sample"]
    assert sample["same_data"] and sample["evaluation"]["rows"] == sample["training"]["rows"] == 300
    assert sample["evaluation"]["people"] == scores["person_id"].nunique()
    assert sample["evaluation"]["bads"] == scores["label"].sum()
    assert sample["evaluation"]["as_of_from"] == str(scores["as_of"].min().date())
    assert sample["evaluation"]["data_fingerprint"] == sample["training"]["data_fingerprint"] == test.fingerprint()
    coverage = res["evaluation"]["reason_coverage"]
    assert coverage["rows_explained"] == coverage["rows_scored"] == 300 and coverage["reasons"] > 0
    assert 0 < coverage["share_reasons_specific"] < 1 and coverage["read_as_a_whole"]
    html = path.read_text()
    assert "Training and evaluation samples" in html and "Reason-code coverage" in html
    assert "at the informative cut-off" not in html  # 600 decides both ways here
    truth = test.read("truth").set_index("person_id")["true_pd"]
    limits = res["evaluation"]["limits"]  # a simulated world: the Bayes limit on the very rows evaluated
    assert limits["bayes_auc"] == round(roc_auc_score(scores["label"], truth[scores["person_id"]]), 4)
    assert limits["gap"] == round(limits["bayes_auc"] - limits["model_auc"], 4) and limits["rows"] == 300
    assert "Against the known truth" in html and "Bayes limit (true PD)" in html


def test_a_one_sided_cut_off_audits_fairness_at_the_informative_one_too_and_coverage_is_sampled(tmp_path,
                                                                                               monkeypatch):
    from deepcredit.data.simulate import simulate_world

    test = simulate_world(tmp_path / "test", people=300, seed=2)
    loaded = pipeline.LoadedModel(StubModel(), {"kind": "stub", "sha256": "ab" * 32, "features": [],
                                                "config": {"data": "elsewhere", "rows": 1234}},
                                  None, Scorer(StubModel(), ScoreScale()))
    monkeypatch.setattr(pipeline, "load_any_model", lambda path: loaded)
    path = pipeline.evaluate_artifact(tmp_path / "art", test, tmp_path / "out", cutoff=350, n_boot=0,
                                      reasons_sample=50)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    info = res["fairness"]["at_informative_cutoff"]
    assert res["evaluation"]["cutoff"]["one_sided"] == "approves everyone"
    assert info["cutoff"] == res["evaluation"]["cutoff"]["at_bad_rate"]["cutoff"] and 0 < info["approval_rate"] < 1
    assert set(info["attributes"]) == set(res["fairness"]["attributes"])
    assert res["evaluation"]["reason_coverage"]["rows_explained"] == 50
    training = res["evaluation"]["sample"]["training"]
    assert training["rows"] == 1234 and training["people"] is None and "not recorded" in training["source"]
    html = path.read_text()
    assert "Approval screens at the informative cut-off" in html and "a random sample of the 300 scored" in html


def test_reason_coverage_counts_specific_reasons_and_advice():
    from deepcredit.evaluation.coverage import reason_coverage
    from deepcredit.features.templates import MISSING_ADVICE, NOT_ACTIONABLE

    reasons = pd.DataFrame({
        "row": [0, 0, 1, 1, 2], "rank": [1, 2, 1, 2, 1],
        "feature": ["late_payments", "credit_history_as_a_whole", "credit_history_as_a_whole", "x", "y"],
        "dimension": ["credit_history"] * 4 + ["identity"],
        "how_to_improve": ["Pay on time.", NOT_ACTIONABLE, "Keep paying.", MISSING_ADVICE, "Do it."]})
    c = reason_coverage(reasons, 4, scored=10, top=4)
    assert c["rows_with_reasons"] == 3 and c["share_with_reasons"] == 0.75
    assert c["share_top_reason_specific"] == pytest.approx(2 / 3)
    assert c["share_every_reason_specific"] == pytest.approx(1 / 3)
    assert c["share_reasons_specific"] == pytest.approx(3 / 5) and c["share_reasons_with_advice"] == pytest.approx(3 / 5)
    assert c["share_specific_reasons_with_advice"] == pytest.approx(2 / 3)
    assert c["read_as_a_whole"] == {"credit_history": 2}
    from deepcredit.scoring.advice import ALREADY_BEST, ALREADY_TOWARDS

    said = reasons.assign(how_to_improve=["Pay on time.", ALREADY_BEST, "Keep paying.", ALREADY_TOWARDS, "Do it."])
    assert reason_coverage(said, 4, scored=10, top=4)["share_reasons_with_advice"] == pytest.approx(3 / 5)  # not advice
    empty = reason_coverage(reasons.iloc[:0], 0, scored=0, top=4)
    assert empty["share_with_reasons"] is None and empty["reasons"] == 0


def test_a_model_card_speaks_of_the_data_sets_own_protected_attributes_and_label():
    from deepcredit.data.spec import builtin_spec

    card = model_card_markdown(default_model_card(protected=["personal_status_and_sex", "foreign_worker"]))
    assert "(personal status and sex, foreign worker) are not model inputs" in card
    assert "sex, age" not in card and "simulated" not in card  # the simulated-data caveat is the caller's to add
    assert "declares none" in model_card_markdown(default_model_card(protected=[]))
    german = pipeline.label_words(builtin_spec("german").outcomes, [365])
    assert german.startswith("1 = bad: the data set's label 'creditability' is 'bad', an outcome within 365 days")
    assert "(the performance window its spec declares)" in german  # Statlog German itself defines none
    told = builtin_spec("german").outcomes.model_copy(update={"source": "events", "bad_when": [],
                                                              "bad_days_late": 90})
    assert pipeline.label_words(told, [180]).startswith("1 = one at least 90 days late within 180 days")


def test_an_in_sample_evaluation_says_so_at_the_top_and_in_the_card(results):
    """audit: `--all-rows` showed AUC 0.841 under the title with the word 'optimistic' only at the very
    bottom, and the model card called the 1,000 rows 'held-out'."""
    from deepcredit.evaluation.report import render_html

    ev = {**results["evaluation"], "optimistic": True,
          "rows_scope": "These numbers are measured on the data set the model was fitted on, including the 700 "
                        "rows it was fitted on, not on held-out data only: expect them to be optimistic."}
    html = render_html({}, ev, None, None, None, "report", "sub")
    assert html.index("in-sample") < html.index("AUC")  # above the numbers
    md = model_card_markdown(results["model_card"], ev)
    assert "Evaluated rows, the rows the model was fitted on among them (optimistic)" in md
    assert "Held-out rows" in model_card_markdown(results["model_card"], results["evaluation"])


def test_the_report_and_card_show_the_decisions_at_the_cutoff_and_say_when_stability_was_not_measured(tmp_path,
                                                                                                     results):
    ev = results["evaluation"]
    c = ev["cutoff"]
    k = c["confusion"]
    y = np.array([1] * ev["n_bad"] + [0] * (ev["n"] - ev["n_bad"]))
    assert k["approved_bad"] + k["declined_bad"] == y.sum() and sum(k.values()) == ev["n"]
    assert c["tpr"] == pytest.approx(k["declined_bad"] / ev["n_bad"]) == pytest.approx(c["bads_declined_share"])
    assert c["fpr"] == pytest.approx(k["declined_good"] / (ev["n"] - ev["n_bad"]))
    assert k["approved_good"] + k["approved_bad"] == round(c["approval_rate"] * ev["n"])
    html = write_report(tmp_path / "rep", ev, results["fairness"], None, results["model_card"]).read_text()
    assert "Decisions at the cut-off 600: bads declined (TPR)" in html
    assert f"<td>approved (score &gt;= 600)</td><td>{k['approved_good']:,}</td><td>{k['approved_bad']:,}</td>" in html
    assert "Stability was not measured: no reference was given" in html and "--reference" in html
    card = (tmp_path / "rep" / "model_card.md").read_text()
    assert "goods declined (FPR)" in card and f"| declined (score < 600) | {k['declined_good']:,} |" in card
    assert "Stability was not measured" in card
    full = write_report(tmp_path / "full", **results).read_text()
    assert "Stability was not measured" not in full


def test_the_training_sample_is_found_again_on_the_data_set_the_model_was_trained_on(tmp_path, monkeypatch):
    from deepcredit.data.simulate import simulate_world

    world = simulate_world(tmp_path / "w", people=300, seed=3)
    run = {"split": {"kind": "holdout", "fraction": 0.3}, "seed": 2}
    loaded = pipeline.LoadedModel(StubModel(), {"kind": "stub", "sha256": "ab" * 32, "features": [],
                                                "data_fingerprint": world.fingerprint(),
                                                "config": {"data": world.name, "rows": 210, "run": run}},
                                  None, Scorer(StubModel(), ScoreScale()))
    monkeypatch.setattr(pipeline, "load_any_model", lambda path: loaded)
    pipeline.evaluate_artifact(tmp_path / "art", world, tmp_path / "out", n_boot=0, reasons_sample=0)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    sample = res["evaluation"]["sample"]
    assert sample["same_data"] and "found again" in sample["training"]["source"]
    assert sample["training"]["rows"] + sample["evaluation"]["rows"] == 300 == res["evaluation"]["n"] + \
        sample["training"]["rows"]
    assert sample["training"]["people"] + sample["evaluation"]["people"] == 300  # held out by person
    assert sample["training"]["data_set"] == sample["evaluation"]["data_set"] == world.name
    assert "reason_coverage" not in res["evaluation"]  # reasons_sample=0: not measured


def test_an_attribute_to_audit_that_the_people_table_lacks_is_refused_before_scoring(tmp_path, monkeypatch):
    from deepcredit.data.simulate import simulate_world

    test = simulate_world(tmp_path / "test", people=100, seed=2)
    monkeypatch.setattr(pipeline, "load_any_model", lambda path: pytest.fail("scored before the check"))
    with pytest.raises(ValueError, match="has no column 'religion'"):
        pipeline.evaluate_artifact(tmp_path / "art", test, tmp_path / "out", protected=("religion",))
    assert not (tmp_path / "out").exists()


def test_the_ece_is_read_beside_its_noise_floor_and_the_bands_show_open_pd_ranges(tmp_path, results):
    """The report card, the reliability caption and the model card give what a perfectly calibrated PD shows on
    the same rows, with how to read it; the bins are 'of about equal count' (tied PDs share one)."""
    from deepcredit.evaluation.model_card import model_card_markdown

    floor = results["evaluation"]["metrics"]["ece_if_calibrated"]
    html = write_report(tmp_path / "rep", **results).read_text()
    assert "equal-count" not in html and "10 bins of about equal count" in html
    assert f"a perfect PD here: {floor['median']:.4f} (95th pct {floor['p95']:.4f})" in html
    assert "no evidence of miscalibration" in html
    assert "above 28.9%" in html and "below 4.8%" in html  # the band table's open end bands
    figures = json.loads((tmp_path / "rep" / "figures.json").read_text())
    assert f"median {floor['median']:.4f}" in figures["calibration"]["caption"]
    card = model_card_markdown(results["model_card"], results["evaluation"])
    assert f"95th percentile {floor['p95']:.4f}" in card and "no evidence of miscalibration" in card
    saved = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert saved["evaluation"]["metrics"]["ece_if_calibrated"] == floor


def test_a_score_psi_chance_can_explain_says_so_on_the_card_and_in_the_model_card():
    """A PSI past its threshold on too few rows reads 'ok' with a note: the report's card and the model card
    show the note, so an 'ok' beside 0.300 is not read as a contradiction."""
    from deepcredit.evaluation.model_card import default_model_card, model_card_markdown
    from deepcredit.evaluation.report import _cards

    stability = {"score_psi": {"psi": 0.3, "level": "ok", "size_level": "act", "note": "too few rows to tell"},
                 "csi": []}
    assert "ok (too few rows to tell)" in _cards(None, None, stability)
    assert "(ok: too few rows to tell)" in model_card_markdown(default_model_card(), stability=stability)


class _BrokenMember(StubModel):
    """A stack member with a programming error in its scoring."""

    reads_embeddings = False

    def predict_proba(self, inp) -> np.ndarray:
        return {}["no such key"]

    def decision_function(self, inp) -> np.ndarray:
        return {}["no such key"]


def test_a_bug_in_a_members_scoring_stops_the_report_instead_of_becoming_a_caveat(tmp_path, monkeypatch):
    """Review: any exception scoring the stack's members became a caveat quoting it in the HTML report, which
    hid a real bug (a temporal stack's members were scored without the encoder's embeddings: every report
    said "could not be scored on their own"). A KeyError is a bug: it must raise."""
    from deepcredit.data.simulate import simulate_world
    from deepcredit.models.stack import StackModel

    test = simulate_world(tmp_path / "test", people=200, seed=2)
    stack = StackModel(members=("gbdt",))
    stack.members_ = [("gbdt", _BrokenMember())]
    stack.views = ("tabular",)
    loaded = pipeline.LoadedModel(stack, {"kind": "stack", "sha256": "ab" * 32, "features": []}, None,
                                  Scorer(StubModel(), ScoreScale()))
    monkeypatch.setattr(pipeline, "load_any_model", lambda path: loaded)
    with pytest.raises(KeyError, match="no such key"):
        pipeline.evaluate_artifact(tmp_path / "art", test, tmp_path / "out", n_boot=0, reasons_sample=0)
