"""The fairness audit flags a deliberately biased toy model and passes a fair one."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepcredit.evaluation.fairness import AGE_BANDS, age_band, fairness_audit, sensitive_frame


@pytest.fixture(scope="module")
def population() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 6000
    risk = rng.normal(size=n)
    pd_ = 1 / (1 + np.exp(-(-1.6 + risk)))
    y = (rng.random(n) < pd_).astype(int)
    sensitive = pd.DataFrame({"sex": rng.choice(["female", "male"], n),
                              "age_band": age_band(rng.integers(18, 80, n).astype(float))})
    return y, pd_, sensitive


def test_fair_model_passes(population):
    y, p, sensitive = population
    audit = fairness_audit(y, p < 0.2, sensitive, pd_=p, cutoff=600)
    assert audit["flags"] == []
    for a in audit["attributes"].values():
        assert a["disparate_impact"] > 0.9 and not a["four_fifths_fail"]
        assert a["tpr_gap"] < 0.1
    json.dumps(audit, allow_nan=False)


def test_biased_toy_model_is_flagged(population):
    y, p, sensitive = population
    # the toy model declines half of the women it would otherwise approve, whatever their risk
    coin = np.random.default_rng(0).random(y.size) < 0.5
    approved = (p < 0.2) & ~((sensitive["sex"] == "female").to_numpy() & coin)
    audit = fairness_audit(y, approved, sensitive, pd_=p, cutoff=600)
    sex = audit["attributes"]["sex"]
    groups = {g["group"]: g for g in sex["groups"]}
    assert sex["four_fifths_fail"] and sex["least_approved"] == "female"
    assert sex["disparate_impact"] == pytest.approx(groups["female"]["approval_rate"] / groups["male"]["approval_rate"])
    assert sex["tpr_gap"] == pytest.approx(abs(groups["male"]["tpr"] - groups["female"]["tpr"]))
    assert any(f.startswith("sex: disparate-impact") for f in audit["flags"])
    assert any(f.startswith("sex: equal-opportunity") for f in audit["flags"])
    assert not audit["attributes"]["age_band"]["four_fifths_fail"]


def test_miscalibrated_group_is_flagged(population):
    y, p, sensitive = population
    skewed = np.where(sensitive["sex"] == "male", p * 0.5, p)  # men's risk understated
    audit = fairness_audit(y, skewed < 0.2, sensitive, pd_=skewed)
    assert any("calibration gap in 'male'" in f for f in audit["flags"])


def test_small_groups_are_shown_but_not_screened():
    y = np.array([0, 1] * 50 + [0] * 5)
    approved = np.array([1, 0] * 50 + [0] * 5)
    groups = pd.DataFrame({"marital_status": ["married"] * 50 + ["single"] * 50 + ["widowed"] * 5})
    audit = fairness_audit(y, approved, groups, min_group_size=30)
    a = audit["attributes"]["marital_status"]
    assert a["small_groups"] == ["widowed"]
    assert [g["group"] for g in a["groups"]] == ["married", "single", "widowed"]
    assert a["disparate_impact"] == pytest.approx(1.0) and audit["flags"] == []



def test_one_group_large_enough_is_not_audited_and_does_not_read_as_a_pass():
    """audit: 8 held-out 'no' foreign workers against 292 'yes' read as a four-fifths 'pass'."""
    from deepcredit.evaluation.model_card import model_card_markdown
    from deepcredit.evaluation.report import _cards, _section_tables

    y = np.array([0, 1] * 50 + [0] * 8)
    approved = np.array([1, 0] * 50 + [1] * 8)
    groups = pd.DataFrame({"foreign_worker": ["yes"] * 100 + ["no"] * 8})
    audit = fairness_audit(y, approved, groups, min_group_size=30)
    a = audit["attributes"]["foreign_worker"]
    assert a["four_fifths_fail"] is None and "fewer than two groups" in a["not_audited"] and audit["flags"] == []
    json.dumps(audit, allow_nan=False)
    table = _section_tables("fairness", None, audit, None)
    assert "not audited" in table and ">pass<" not in table and "&#x27;no&#x27;" in table  # a group's name, quoted
    assert "1 attribute(s) screened" in _cards(None, audit, None)
    assert "Not audited: fewer than two groups" in model_card_markdown({}, fairness=audit)

def test_age_bands():
    bands = age_band(pd.Series([18, 24.9, 25, 34, 35, 49, 50, 80, np.nan]))
    assert bands.tolist() == ["<25", "<25", "25-34", "25-34", "35-49", "35-49", "50+", "50+", "unknown"]


def test_sensitive_frame_joins_by_person():
    people = pd.DataFrame({"person_id": ["a", "b", "c"], "sex": ["female", None, "male"],
                           "age": [22.0, 40.0, np.nan], "marital_status": [None, None, None],
                           "income": [1.0, 2.0, 3.0]})
    frame = sensitive_frame(people, pd.Series(["c", "a", "a", "zz"]))
    assert list(frame.columns) == ["sex", "age_band"]  # marital status is never known here; income not protected
    assert frame["sex"].tolist() == ["male", "female", "female", "unknown"]
    assert frame["age_band"].tolist() == ["unknown", "<25", "<25", "unknown"]
    assert sensitive_frame(people[["person_id", "income"]], ["a"]).shape == (1, 0)


def test_no_attributes_and_length_mismatch():
    audit = fairness_audit(np.array([0, 1]), np.array([1, 0]), pd.DataFrame(index=range(2)))
    assert audit["attributes"] == {} and audit["flags"] == []
    with pytest.raises(ValueError, match="protected attributes"):
        fairness_audit(np.array([0, 1]), np.array([1, 0]), pd.DataFrame({"sex": ["f"]}))


def test_declared_protected_attributes_are_audited_and_many_valued_numbers_banded():
    people = pd.DataFrame({"person_id": [f"p{i}" for i in range(100)],
                           "foreign_worker": ["yes", "no"] * 50, "age_in_years": np.arange(100) + 18.0,
                           "job": ["a"] * 100})
    people["income"] = np.arange(100) * 10.0
    out = sensitive_frame(people, people["person_id"], protected=["foreign_worker", "age_in_years", "income"])
    assert list(out.columns) == ["foreign_worker", "age_band", "income_band"]  # job is not protected
    # an age, whatever its name, gets the age bands; any other many-valued number five quantile bands
    assert out["age_band"].value_counts().to_dict() == {"50+": 68, "<25": 7, "35-49": 15, "25-34": 10}
    assert out["income_band"].nunique() == 5
    assert set(out["foreign_worker"]) == {"yes", "no"}


def test_protected_date_of_birth_is_audited_as_age_bands_at_each_rows_as_of():
    people = pd.DataFrame({"person_id": ["a", "b", "c", "d"],
                           "date_of_birth": pd.to_datetime(["2000-06-15", "1990-01-01", "1960-12-31", None])})
    ids = pd.Series(["a", "a", "b", "c", "d"])
    as_of = pd.to_datetime(pd.Series(["2025-06-14", "2025-06-15", "2024-01-01", "2010-12-31", "2024-01-01"]))
    out = sensitive_frame(people, ids, protected=["date_of_birth"], as_of=as_of)
    assert list(out.columns) == ["age_band"]  # bands, not one group per birth date
    # a: 24 the day before the 25th birthday, 25 on it; b: 34; c: 50 on the birthday; d: unknown
    assert out["age_band"].tolist() == ["<25", "25-34", "25-34", "50+", "unknown"]
    with pytest.raises(ValueError, match="as-of"):
        sensitive_frame(people, ids, protected=["date_of_birth"])


def test_many_birth_dates_give_a_few_audited_groups():
    rng = np.random.default_rng(0)
    n = 900
    born = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 365 * 56, n), unit="D")
    people = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "date_of_birth": born})
    sens = sensitive_frame(people, people["person_id"], protected=["date_of_birth"],
                           as_of=pd.Series(pd.Timestamp("2025-01-31"), index=range(n)))
    audit = fairness_audit(rng.integers(0, 2, n), rng.integers(0, 2, n), sens)
    groups = [g["group"] for g in audit["attributes"]["age_band"]["groups"]]
    assert groups == [name for _, name in AGE_BANDS]


def _noise_audit() -> dict:
    """audit: random labels and groups, 2 approvals in 400 (both in one group): 11 four-fifths flags."""
    y = np.array([0, 1] * 200)
    approved = np.zeros(400, dtype=int)
    approved[[1 * 2, 3 * 2]] = 1  # two good payers of group '1.0'
    groups = pd.DataFrame({"disability": ["1.0"] * 193 + ["0.0"] * 207})
    return fairness_audit(y, approved, groups, pd_=np.full(400, 0.5), cutoff=600)


def test_two_approvals_in_400_are_too_few_to_judge_not_a_flag():
    from deepcredit.evaluation.model_card import model_card_markdown
    from deepcredit.evaluation.report import _cards, _findings, _section_tables

    audit = _noise_audit()
    a = audit["attributes"]["disability"]
    assert a["disparate_impact"] == 0.0  # the ratio is still reported
    assert audit["flags"] == [] and a["four_fifths_fail"] is None
    assert a["screens"]["four_fifths"]["result"] == "too few to judge"
    assert a["screens"]["equal_opportunity"]["result"] == "too few to judge"
    assert a["screens"]["calibration"]["result"] == "pass"  # calibration has the evidence: 200 bads, 200 goods
    assert audit["too_few_to_judge"] == [
        "disability: disparate-impact ratio 0.00 < 0.8 (four-fifths screen): '0.0' approved 0.0% vs '1.0' 1.0% "
        "(only 2 approved among the 400 people compared, under 5 expected per group); equal-opportunity gap 0.02: "
        "good payers in '0.0' approved 0.0% vs '1.0' 2.1% (only 2 good payers approved among the 200 people "
        "compared, under 5 expected per group)"]
    assert "too few to judge" in audit["evidence_rule"]
    json.dumps(audit, allow_nan=False)
    table = _section_tables("fairness", None, audit, None)
    assert "<td>too few to judge</td>" in table and ">fail<" not in table and ">pass<" not in table
    assert "at least 5 people on each side" in table  # the rule is stated under the table
    assert "too few" in _findings(audit, None) and "No fairness flag" not in _findings(audit, None)
    assert "too few to judge in 1" in _cards(None, audit, None)
    card = model_card_markdown({}, fairness=audit)
    assert "Disparate-impact ratio 0.00 (too few to judge)" in card and "No group fails" not in card


def test_a_clear_gap_is_flagged_and_a_chance_one_is_not():
    y = np.zeros(200, dtype=int)
    groups = pd.DataFrame({"sex": ["female"] * 100 + ["male"] * 100})
    clear = fairness_audit(y, np.r_[np.zeros(100), np.ones(50), np.zeros(50)], groups)
    assert clear["attributes"]["sex"]["four_fifths_fail"] is True and clear["flags"]
    # 8 of 40 against 12 of 40: a ratio of 0.67, which Fisher's exact test cannot tell from chance (p 0.43)
    y, groups = np.zeros(80, dtype=int), pd.DataFrame({"sex": ["female"] * 40 + ["male"] * 40})
    chance = fairness_audit(y, np.r_[np.ones(8), np.zeros(32), np.ones(12), np.zeros(28)], groups)
    four = chance["attributes"]["sex"]["screens"]["four_fifths"]
    assert chance["flags"] == [] and four["result"] == "too few to judge" and four["p_value"] > 0.4


def test_a_cut_off_approving_everyone_passes_no_approval_screen(population):
    """audit: a cut-off that declined nobody read 'disparate impact 1.00 pass'."""
    from deepcredit.evaluation.report import _section_tables

    y, p, sensitive = population
    audit = fairness_audit(y, np.ones(y.size, dtype=int), sensitive, pd_=p, cutoff=600)
    for a in audit["attributes"].values():
        assert a["disparate_impact"] == 1.0 and a["four_fifths_fail"] is None
        assert a["screens"]["four_fifths"]["result"] == a["screens"]["equal_opportunity"]["result"] == \
            "too few to judge"
        assert "only 0 declined" in a["screens"]["four_fifths"]["why"]
    table = _section_tables("fairness", None, audit, None)
    assert "The cut-off 600 approves everyone" in table and ">pass<" not in table


def test_a_small_calibration_gap_on_few_bads_is_not_flagged():
    """A group of 40 with 4 bads against a mean PD of 20%: a gap of 0.10, which could be chance."""
    y = np.r_[np.ones(4), np.zeros(36), np.ones(40), np.zeros(160)].astype(int)
    groups = pd.DataFrame({"marital_status": ["single"] * 40 + ["married"] * 200})
    audit = fairness_audit(y, np.ones(240, dtype=int), groups, pd_=np.full(240, 0.2))
    cal = audit["attributes"]["marital_status"]["screens"]["calibration"]
    assert cal["result"] == "too few to judge" and "could be chance" in cal["why"] and audit["flags"] == []
    groups_table = {g["group"]: g for g in audit["attributes"]["marital_status"]["groups"]}
    assert groups_table["married"]["calibration_verdict"] == "pass"


def test_a_value_beside_its_threshold_shows_the_decimals_that_tell_them_apart():
    from deepcredit.evaluation.fairness import _against
    assert _against(0.1019, 0.1) == "0.102"  # "0.10 > 0.1" read as false
    assert _against(0.1234, 0.1) == "0.12" and _against(0.79996, 0.8) == "0.79996"


def test_a_gap_flagged_alone_is_chance_among_many_comparisons():
    """A ratio of 0.71 on 400 people (Fisher p 0.012) is flagged when it is the report's only comparison, and
    is chance once the audit also chose the lowest and highest of six regions: Holm over every pair decides."""
    y = np.zeros(400, dtype=int)
    approved = np.r_[np.ones(60), np.zeros(140), np.ones(85), np.zeros(115)].astype(int)
    sex = pd.DataFrame({"sex": ["female"] * 200 + ["male"] * 200})
    alone = fairness_audit(y, approved, sex)
    four = alone["attributes"]["sex"]["screens"]["four_fifths"]
    assert four["result"] == "flag" and four["p_adjusted"] == pytest.approx(2 * four["p_value"])  # two tests
    assert alone["tests"] == 2 and alone["correction"] == "Holm-Bonferroni"
    regions = sex.assign(region=[f"r{i % 6}" for i in range(400)])
    many = fairness_audit(y, approved, regions)
    four = many["attributes"]["sex"]["screens"]["four_fifths"]
    assert four["result"] == "too few to judge" and many["flags"] == []
    assert four["p_value"] == pytest.approx(0.0124, abs=1e-4) and four["p_adjusted"] > 0.05
    assert many["attributes"]["region"]["screens"]["four_fifths"]["compared"] == 15  # every pair of six regions
    assert many["tests"] == 2 + 2 * 15
    assert "Holm-adjusted over 32 tests" in many["too_few_to_judge"][0]


def test_a_one_sided_cut_off_is_screened_at_the_informative_cut_off_too(population):
    """A cut-off approving everyone judges no approval screen; the same screens at the informative cut-off do,
    shown beside them and named as such; calibration, which no cut-off changes, is judged once."""
    from deepcredit.evaluation.model_card import model_card_markdown
    from deepcredit.evaluation.report import _cards, _findings, _section_tables

    y, p, sensitive = population
    coin = np.random.default_rng(0).random(y.size) < 0.5
    biased = (p < 0.2) & ~((sensitive["sex"] == "female").to_numpy() & coin)
    audit = fairness_audit(y, np.ones(y.size, dtype=int), sensitive, pd_=p, cutoff=600, informative=(571, biased),
                           informative_basis="declining about the observed bad rate's share")
    assert audit["attributes"]["sex"]["screens"]["four_fifths"]["result"] == "too few to judge"
    assert audit["flags"] == [] and audit["which"] == "the cut-off set (--cutoff)"
    info = audit["at_informative_cutoff"]
    assert info["cutoff"] == 571 and info["approval_rate"] == pytest.approx(biased.mean())
    assert info["which"].startswith("the informative cut-off, for information (declining about")
    assert info["attributes"]["sex"]["screens"]["four_fifths"]["result"] == "flag"
    assert "calibration" not in info["attributes"]["sex"]["screens"]
    assert any(f.startswith("sex: disparate-impact") for f in info["flags"])
    json.dumps(audit, allow_nan=False)
    table = _section_tables("fairness", None, audit, None)
    assert "at the cut-off set, 600 (the one audited)" in table
    assert "Approval screens at the informative cut-off 571: the informative cut-off, for information" in table
    assert "shown twice: at the cut-off set, 600, the one audited, and at the informative cut-off 571" in table
    assert "at the informative cut-off 571 (for information): sex: disparate-impact" in _findings(audit, None)
    assert "at the informative cut-off 571" in _cards(None, audit, None)
    card = model_card_markdown({}, fairness=audit)
    assert "### At the informative cut-off 571" in card and "- sex: Disparate-impact ratio" in card


def test_declared_numbers_are_banded_whatever_their_name_and_declared_bands_are_kept():
    """audit: ages were found by the word 'age'; a declared geburtsjahr or years_lived is banded by what it is."""
    n = 300
    people = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "geburtsjahr": 1940.0 + np.arange(n) % 60,
                           "years_lived": np.arange(n) % 90 + 0.0, "age": 18.0 + np.arange(n) % 60,
                           "children": np.arange(n) % 3})
    declared = ["geburtsjahr", "years_lived", "age", "children"]
    out = sensitive_frame(people, people["person_id"], declared, declared=declared, bands={"years_lived": [50, 10]})
    assert list(out.columns) == ["geburtsjahr_band", "years_lived_band", "age_band", "children"]
    assert out["geburtsjahr_band"].nunique() == 5 and out["age_band"].nunique() == 5
    assert not set(out["age_band"]) & {name for _, name in AGE_BANDS}  # declared: no rule by its name
    assert list(out["age_band"].cat.categories) == ["under 30", "30 to under 42", "42 to under 54",
                                                     "54 to under 66", "66 and over"]
    assert out["years_lived_band"].value_counts().to_dict() == {"under 10": 40, "10 to under 50": 140,
                                                                 "50 and over": 120}
    assert set(out["children"]) == {"0", "1", "2"}  # a few values: compared value by value
    audit = fairness_audit(np.zeros(n, dtype=int), np.ones(n, dtype=int), out)
    assert [g["group"] for g in audit["attributes"]["years_lived_band"]["groups"]] == [
        "under 10", "10 to under 50", "50 and over"]  # in band order, not alphabetical
    legacy = sensitive_frame(people, people["person_id"], ["age"])  # nothing declared: the name rule stays
    assert set(legacy["age_band"]) <= {name for _, name in AGE_BANDS}


def test_the_pipeline_audits_what_the_spec_and_the_user_declare():
    from types import SimpleNamespace

    from deepcredit.data.spec import builtin_spec
    from deepcredit.evaluation.pipeline import _declared

    names, bands = _declared(SimpleNamespace(spec=builtin_spec("german")), ["telephone"])  # type: ignore[arg-type]
    assert names == ["personal_status_and_sex", "age_in_years", "foreign_worker", "telephone"] and bands == {}


def test_a_large_relative_calibration_gap_at_a_low_bad_rate_is_flagged():
    """audit: two groups of 2,000 with a mean PD of 2%: 40 bads as predicted in one, 130 (3.25 times, about
    88 points) in the other. An absolute gap of 0.045 read 'pass' under the 0.05 threshold; in odds it is
    3.4 times the prediction, and the test finds it."""
    y = np.zeros(4000, dtype=int)
    y[:40] = 1
    y[2000:2130] = 1
    groups = pd.DataFrame({"sex": ["female"] * 2000 + ["male"] * 2000})
    audit = fairness_audit(y, np.ones(4000, dtype=int), groups, pd_=np.full(4000, 0.02))
    a = audit["attributes"]["sex"]
    cal = a["screens"]["calibration"]
    assert cal["result"] == "flag" and cal["p_adjusted"] < 1e-6
    assert cal["value"] == pytest.approx((0.065 / 0.935) / (0.02 / 0.98))
    assert a["max_calibration_gap"] == pytest.approx(0.045)  # the absolute gap is still reported
    assert any("calibration gap in 'male'" in f and "130 bads where 40.0 were predicted" in f for f in audit["flags"])
    table = {g["group"]: g for g in a["groups"]}
    assert table["female"]["calibration_verdict"] == "pass" and table["male"]["calibration_verdict"] == "flag"
    assert table["male"]["expected_bads"] == pytest.approx(40.0)
    assert audit["calibration_odds_max"] == 1.25


def test_each_exact_test_runs_once_though_the_audit_judges_twice(monkeypatch):
    """The Holm correction needs every p-value before any verdict, so the audit runs its screens twice; the
    second pass reuses the first's tests (a Poisson-binomial over 10,000 people takes about a second)."""
    from deepcredit.evaluation import evidence

    rng = np.random.default_rng(1)
    pds = rng.uniform(0.01, 0.3, 3000)
    y = (rng.random(3000) < pds * np.r_[np.ones(1500), np.full(1500, 1.6)]).astype(int)
    groups = pd.DataFrame({"region": ["north"] * 1500 + ["south"] * 1500})
    approved = (pds < 0.2).astype(int)
    before = fairness_audit(y, approved, groups, pd_=pds)
    calls = {"count_tails": 0, "fisher_exact": 0}
    for name in calls:
        real = getattr(evidence, name)

        def counted(*a, _real=real, _name=name, **kw):
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(evidence, name, counted)
    after = fairness_audit(y, approved, groups, pd_=pds)
    assert calls == {"count_tails": 2, "fisher_exact": 2}  # two groups' calibration, four-fifths, equal opportunity
    assert after["tests"] == 4 and json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
    assert any("calibration gap in 'south'" in f for f in after["flags"])


def test_a_significant_but_immaterial_calibration_gap_passes():
    """20,000 people at a PD of 30% with 31% bad: the test finds the gap (p ~0.002), but the odds
    are 1.05 times the prediction, inside the band: a pass, as a test on many people must not flag trifles."""
    y = np.zeros(40000, dtype=int)
    y[:6200] = 1
    y[20000:26000] = 1
    groups = pd.DataFrame({"sex": ["female"] * 20000 + ["male"] * 20000})
    audit = fairness_audit(y, np.ones(40000, dtype=int), groups, pd_=np.full(40000, 0.3))
    cal = audit["attributes"]["sex"]["screens"]["calibration"]
    groups_table = {g["group"]: g for g in audit["attributes"]["sex"]["groups"]}
    assert cal["result"] == "pass" and audit["flags"] == []
    assert groups_table["female"]["calibration_verdict"] == "pass"
    assert groups_table["female"]["calibration_odds_ratio"] == pytest.approx(1.048, abs=1e-3)


def test_calibration_is_tested_against_the_groups_own_pds_not_their_mean():
    """A group of 200, half at a 2% PD and half at 50% (mean 26%, 52 bads predicted), with 65 bads: odds 1.37
    times the prediction. The count's own distribution (Poisson-binomial, sd 5.2) finds it (p 0.016, Holm over
    the two groups 0.032); the binomial of the mean PD (sd 6.2: p 0.044, adjusted 0.087) called it chance."""
    y = np.zeros(400, dtype=int)
    y[100:165] = 1  # 65 bads, among both halves
    y[200:220] = 1  # 20 of 200 at 10%: as predicted
    pds = np.r_[np.full(100, 0.02), np.full(100, 0.5), np.full(200, 0.1)]
    groups = pd.DataFrame({"region": ["spread"] * 200 + ["even"] * 200})
    audit = fairness_audit(y, np.ones(400, dtype=int), groups, pd_=pds)
    cal = audit["attributes"]["region"]["screens"]["calibration"]
    assert cal["result"] == "flag" and "Poisson-binomial test" in cal["why"]
    assert cal["p_value"] == pytest.approx(0.0162, abs=5e-4) and cal["p_adjusted"] == pytest.approx(0.0324, abs=1e-3)
    table = {g["group"]: g for g in audit["attributes"]["region"]["groups"]}
    assert table["spread"]["calibration_verdict"] == "flag" and table["even"]["calibration_verdict"] == "pass"
    assert table["spread"]["expected_bads"] == pytest.approx(52.0)


def test_the_fairness_table_shows_the_worst_groups_odds_and_gap():
    from deepcredit.evaluation.report import _section_tables

    y = np.zeros(4000, dtype=int)
    y[:40] = 1
    y[2000:2130] = 1
    groups = pd.DataFrame({"sex": ["female"] * 2000 + ["male"] * 2000})
    audit = fairness_audit(y, np.ones(4000, dtype=int), groups, pd_=np.full(4000, 0.02))
    table = _section_tables("fairness", None, audit, None)
    assert "<td>&#x27;male&#x27;: odds x3.41, gap +0.045 fail (p " in table
