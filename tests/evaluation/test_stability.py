"""PSI and CSI by hand, PSI of a sample against itself is 0, and the monitor gates a pipeline by exit code."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from deepcredit.cli import eval_cmds
from deepcredit.evaluation.stability import EPS, EXIT_CODES, csi, level, monitor, psi, psi_table
from deepcredit.models.scale import ScoreScale


def test_psi_of_a_sample_against_itself_is_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    assert psi(x, x) == 0.0
    assert psi(x, rng.permutation(x)) == 0.0
    cats = pd.Series(rng.choice(["a", "b", None], 500))
    assert psi(cats, cats) == 0.0
    with_gaps = np.where(rng.random(500) < 0.2, np.nan, rng.integers(0, 4, 500))
    assert psi(with_gaps, with_gaps) == 0.0


def test_psi_by_hand():
    # median cut: expected 50/50, actual 25/75 -> 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3
    assert psi([0, 0, 1, 1], [0, 1, 1, 1], bins=2) == pytest.approx(0.25 * math.log(3))
    # an emptied bin: its share is floored at EPS, so the index stays finite but large
    expect = (EPS - 0.5) * math.log(EPS / 0.5) + 0.5 * math.log(2)
    assert psi([0, 0, 1, 1], [1, 1, 1, 1], bins=2) == pytest.approx(expect)
    # categories: the reference's own, plus (other) for categories it never had
    table = psi_table(["a", "b"] * 10, ["a", "c"] * 10)
    assert {b["bin"] for b in table["bins"]} == {"a", "b", "(other)"}
    assert table["psi"] == pytest.approx(2 * (0.5 - EPS) * math.log(0.5 / EPS))


def test_psi_levels_for_shifted_samples():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=20000)
    assert level(psi(ref, rng.normal(size=20000))) == "ok"
    assert level(psi(ref, rng.normal(0.35, 1, 20000))) == "watch"
    assert level(psi(ref, rng.normal(1.0, 1, 20000))) == "act"
    tied = np.r_[np.zeros(800), np.arange(1, 201)]  # 80% zeros: tied deciles collapse into one bin
    assert psi_table(tied, tied)["bins"][0]["expected_share"] == pytest.approx(0.8)


def test_csi_per_feature():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"person_id": np.arange(3000), "a": rng.normal(size=3000), "b": rng.normal(size=3000),
                        "c": rng.choice(list("xyz"), 3000)})
    new = ref.assign(a=ref["a"] + 1.0, c=rng.choice(list("xyz"), 3000, p=[0.6, 0.2, 0.2]))
    rows = csi(ref, new)
    assert [r["feature"] for r in rows][:2] == ["a", "c"] and rows[-1]["feature"] == "b"
    assert {r["feature"]: r["level"] for r in rows} == {"a": "act", "c": "act", "b": "ok"}
    assert rows[-1]["csi"] == 0.0  # b did not move at all
    assert "person_id" not in {r["feature"] for r in rows}
    lost = csi(ref, new.drop(columns="b"))
    assert next(r for r in lost if r["feature"] == "b")["level"] == "act"  # a feature the batch lacks


def _scores(n: int, shift: float = 0.0, seed: int = 0, labels: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scale = ScoreScale()
    p = 1 / (1 + np.exp(-(-1.6 + rng.normal(size=n) - shift)))
    frame = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "score": scale.score(p)})
    frame["band"] = scale.band(frame["score"])
    if labels:
        frame["label"] = (rng.random(n) < p).astype(float)
    return frame


def test_monitor_levels_and_outcomes():
    ref = _scores(5000)
    same = monitor(ref, _scores(5000, seed=1))
    assert same["level"] == "ok" and same["alerts"] == [] and same["exit_code"] == 0
    drifted = monitor(ref, _scores(5000, shift=0.8, seed=2))
    assert drifted["level"] == "act" and drifted["exit_code"] == EXIT_CODES["act"]
    assert drifted["alerts"][0]["metric"] == "PSI"
    json.dumps(drifted, allow_nan=False)
    # same scores, but outcomes arrive worse than the reference's in every band: flagged per band
    worse = _scores(5000, seed=3)
    worse["label"] = np.where(np.random.default_rng(4).random(5000) < 0.15, 1.0, worse["label"])
    worse.loc[:999, "label"] = np.nan  # outcomes not yet known
    result = monitor(ref, worse)
    assert result["score_psi"]["level"] == "ok" and result["level"] == "watch"
    assert any(r["flag"] for r in result["outcomes_by_band"])
    assert sum(r["n_outcomes"] for r in result["outcomes_by_band"]) == 4000
    no_band = monitor(ref.drop(columns=["band", "label"]), _scores(100, labels=False).drop(columns="band"))
    assert no_band["outcomes_by_band"] == [] and [b["band"] for b in no_band["bands"]][0] == "poor"


@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    eval_cmds.register(app)
    return app


def test_monitor_cli_exit_codes(tmp_path, cli):
    ref, ok, drifted = tmp_path / "ref.parquet", tmp_path / "ok.parquet", tmp_path / "drift.parquet"
    _scores(4000).to_parquet(ref)
    _scores(4000, seed=1).to_parquet(ok)
    _scores(4000, shift=0.8, seed=2).to_parquet(drifted)
    runner = CliRunner()
    res = runner.invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(ok)])
    assert res.exit_code == 0, res.output
    assert "inputs not compared" in " ".join(res.output.split())  # scores alone miss an input shift
    res = runner.invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(drifted),
                              "--out", str(tmp_path / "mon")])
    assert res.exit_code == EXIT_CODES["act"] == 4, res.output
    html = (tmp_path / "mon" / "report.html").read_text()
    assert "Score stability (PSI)" in html and "data:image/png;base64," in html
    res = runner.invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(drifted), "--fail-on", "never"])
    assert res.exit_code == 0


def test_monitor_cli_watch_feature_drift_and_bad_input(tmp_path, cli):
    rng = np.random.default_rng(5)
    ref, batch = tmp_path / "ref.parquet", tmp_path / "batch.parquet"
    _scores(3000).to_parquet(ref)
    _scores(3000, seed=1).to_parquet(batch)
    fr, fb = tmp_path / "fr.parquet", tmp_path / "fb.parquet"
    pd.DataFrame({"person_id": range(3000), "x": rng.normal(size=3000)}).to_parquet(fr)
    pd.DataFrame({"person_id": range(3000), "x": rng.normal(0.35, 1, 3000)}).to_parquet(fb)
    runner = CliRunner()
    args = ["monitor", "--reference", str(ref), "--batch", str(batch), "--features-reference", str(fr),
            "--features-batch", str(fb)]
    res = runner.invoke(cli, args)
    assert res.exit_code == EXIT_CODES["watch"] == 3, res.output
    assert runner.invoke(cli, [*args, "--fail-on", "act"]).exit_code == 0
    pd.DataFrame({"person_id": ["a"], "points": [600]}).to_parquet(tmp_path / "bad.parquet")
    res = runner.invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(tmp_path / "bad.parquet")])
    assert res.exit_code == 2 and "score" in res.output
    (tmp_path / "junk.parquet").write_text("not parquet")
    res = runner.invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(tmp_path / "junk.parquet")])
    assert res.exit_code == 2 and "Parquet" in res.output


def test_a_feature_alert_says_how_the_feature_moved():
    """'CSI 2.154' names the feature but not the move: the alert carries the medians and the bin that moved."""
    rng = np.random.default_rng(5)
    income = rng.lognormal(10, 0.5, 2000)
    fr = pd.DataFrame({"log_income": np.log(income), "c": rng.choice(list("xy"), 2000)})
    fb = pd.DataFrame({"log_income": np.log(income * 3), "c": rng.choice(list("xy"), 2000, p=[0.9, 0.1])})
    scores = _scores(2000)
    out = monitor(scores, scores, features_reference=fr, features_batch=fb)
    row = next(r for r in out["csi"] if r["feature"] == "log_income")
    assert row["reference_median"] == pytest.approx(np.median(np.log(income)))
    assert row["batch_median"] == pytest.approx(np.median(np.log(income)) + np.log(3))
    assert row["moved_bin"]["bin"].startswith(">") and row["moved_bin"]["batch_share"] > 0.5
    alert = next(a for a in out["alerts"] if a["what"] == "log_income")["message"]
    assert "median 10" in alert and "-> 11.1" in alert and "holds" in alert
    cat = next(a for a in out["alerts"] if a["what"] == "c")["message"]
    assert "median" not in cat and "bin " in cat and "-> 9" in cat  # a category's share, 50% -> 90%


@pytest.mark.parametrize(("watch", "act"), [("0.5", "0.01"), ("0.2", "0.2"), ("-0.1", "0.25")])
def test_monitor_refuses_thresholds_that_cannot_order_the_levels(tmp_path, cli, watch, act):
    """audit G7: --watch 0.5 --act 0.01 was accepted, and a PSI below 'watch' read as 'act'."""
    ref = tmp_path / "ref.parquet"
    _scores(500).to_parquet(ref)
    res = CliRunner().invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(ref), "--watch", watch,
                                   "--act", act])
    assert res.exit_code == 2 and "Invalid value: --watch" in res.output, res.output
    with pytest.raises(ValueError, match="must be below --act" if float(watch) >= 0 else "0 or more"):
        monitor(_scores(50), _scores(50), watch=float(watch), act=float(act))


def test_monitor_refuses_feature_files_that_do_not_hold_the_same_features(tmp_path, cli):
    """audit G6: the batch features of another data set read as 60 'act' drift alerts. Other people are
    normal (a batch is new people); other columns, or the same names computed otherwise, are not."""
    rng = np.random.default_rng(7)
    ref = tmp_path / "ref.parquet"
    _scores(800).to_parquet(ref)
    fr, other, same = tmp_path / "fr.parquet", tmp_path / "other.parquet", tmp_path / "same.parquet"
    pd.DataFrame({"person_id": range(800), "x": rng.normal(size=800), "y": rng.normal(size=800)}).to_parquet(fr)
    pd.DataFrame({"person_id": range(900, 1300), "x": rng.normal(size=400), "z": rng.normal(size=400)}
                 ).to_parquet(other)
    pd.DataFrame({"person_id": range(900, 1300), "x": rng.normal(size=400), "y": rng.normal(size=400)}
                 ).to_parquet(same)
    runner = CliRunner()
    base = ["monitor", "--reference", str(ref), "--batch", str(ref), "--features-reference", str(fr)]
    res = runner.invoke(cli, [*base, "--features-batch", str(other)])
    words = " ".join(res.output.split())
    assert res.exit_code == 2 and "not the features of the reference file" in words, res.output
    assert "1 of its features missing (y)" in words and "1 features it lacks (z)" in words
    assert runner.invoke(cli, [*base, "--features-batch", str(same)]).exit_code == 0, "other people: fine"
    sidecar = {"features": [{"name": "x", "sql": "a", "source": "profile", "kind": "numeric"},
                            {"name": "y", "sql": "b", "source": "profile", "kind": "numeric"}]}
    fr.with_suffix(".json").write_text(json.dumps(sidecar))
    sidecar["features"][1]["sql"] = "another"
    same.with_suffix(".json").write_text(json.dumps(sidecar))
    res = runner.invoke(cli, [*base, "--features-batch", str(same)])
    assert res.exit_code == 2 and "computed otherwise" in " ".join(res.output.split()), res.output


def _false_alarms(pairs) -> float:
    """Share of (reference, batch) pairs of one population that a PSI reads as drift."""
    return float(np.mean([psi_table(ref, new)["level"] != "ok" for ref, new in pairs]))


@pytest.mark.parametrize("n_categories", [200, 1000])
def test_many_categories_of_one_population_raise_no_alarm(n_categories):
    """audit Y1: each reference category had its own bin, so 2,000 rows of a 1,000-category feature (a
    postcode) against 2,000 more of the same read CSI 1.78, 'act'. Rare categories pool into '(rare)'."""
    draws = [np.random.default_rng(seed).integers(0, n_categories, (2, 2000)).astype(str) for seed in range(200)]
    assert _false_alarms(draws) <= 0.03
    if n_categories == 1000:
        assert np.median([psi(ref, new) for ref, new in draws[:20]]) < 0.05
    # a real move is still seen: the first tenth of the categories holding twice their share
    rng = np.random.default_rng(7)
    weights = np.r_[np.full(n_categories // 10, 2.0), np.ones(n_categories - n_categories // 10)]
    moved = rng.choice(n_categories, 2000, p=weights / weights.sum()).astype(str)
    if n_categories == 200:  # 10 rows a category: measured one by one
        assert psi_table(draws[0][0], moved)["level"] != "ok"
    # far too rare to measure one by one (2 rows each): their pool still shows a category the batch adds
    new_code = np.where(rng.random(2000) < 0.2, "new", draws[1][1])
    assert psi_table(draws[1][0], new_code)["level"] == "act"


def test_a_small_stable_batch_is_too_few_to_tell_and_a_real_shift_is_still_caught():
    """audit Y2: against 5,000 reference rows, 88% of 50-row stable batches read 'watch' or worse. A PSI
    past its threshold is drift only where chance at these counts cannot explain it."""
    ref = np.random.default_rng(99).normal(size=5000)
    for n in (50, 100, 200):
        assert _false_alarms((ref, np.random.default_rng(seed).normal(size=n)) for seed in range(200)) <= 0.02
    table = psi_table(ref, np.random.default_rng(1).normal(size=50))
    assert table["size_level"] != "ok" and table["level"] == "ok" and table["note"] == "too few rows to tell"
    assert table["p_value"] >= 0.01 and table["chance_psi"] > table["psi"]
    # half a standard deviation (PSI about 0.25) is caught in 200-row batches
    caught = [psi_table(ref, np.random.default_rng(seed).normal(0.5, 1, 200))["level"] != "ok" for seed in range(200)]
    assert np.mean(caught) >= 0.95
    big = psi_table(ref, np.random.default_rng(2).normal(0.5, 1, 5000))
    assert big["level"] != "ok" and big["note"] is None and big["p_value"] < 1e-6


def test_many_stable_features_raise_a_chance_alarm_in_few_batches():
    """Each feature is tested at 1% over the number of features, so 30 features do not give 30 chances."""
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(rng.normal(size=(2000, 30)), columns=[f"f{i}" for i in range(30)])
    alarms = [any(r["level"] != "ok" for r in csi(ref, pd.DataFrame(np.random.default_rng(s).normal(size=(80, 30)),
                                                                 columns=ref.columns)))
              for s in range(60)]
    assert np.mean(alarms) <= 0.05
    rows = csi(ref, ref.iloc[:80])
    assert all(r["alpha"] == pytest.approx(0.01 / 30) and "p_value" in r and "chance_csi" in r for r in rows)


def test_a_feature_constant_in_the_reference_can_still_drift():
    """audit Y3: the only cut of a constant reference was dropped, one bin 'all', and zeros -> fives read PSI 0."""
    zeros, fives = np.zeros(1000), np.full(1000, 5.0)
    assert psi_table(zeros, fives)["level"] == "act"
    assert psi_table(fives, zeros)["level"] == "act"
    assert psi(zeros, zeros) == 0.0
    assert [b["bin"] for b in psi_table(zeros, np.r_[np.zeros(900), np.ones(100)])["bins"]] == ["= 0", "other values"]


def test_true_false_and_one_zero_are_the_same_values():
    """audit Y4: a True/False column against a 0/1 one read PSI 17.7: 'True' and '1' were other categories."""
    rng = np.random.default_rng(4)
    flags = rng.random(1000) < 0.3
    ones = (rng.random(1000) < 0.3).astype(int)
    for ref, new in ((flags, ones), (ones, flags), (flags, ones.astype(float))):
        table = psi_table(ref, new)
        assert table["psi"] < 0.01 and table["level"] == "ok", table
    assert [b["bin"] for b in psi_table(flags, ones)["bins"]] == ["False", "True"]


def test_monitor_cli_says_too_few_rows_to_tell(tmp_path, cli):
    ref, small = tmp_path / "ref.parquet", tmp_path / "small.parquet"
    _scores(4000).to_parquet(ref)
    _scores(40, seed=1, labels=False).to_parquet(small)
    res = CliRunner().invoke(cli, ["monitor", "--reference", str(ref), "--batch", str(small)])
    assert res.exit_code == 0, res.output
    assert "too few rows to tell" in " ".join(res.output.split())


def test_renamed_categories_are_named_in_the_alert_with_their_shares():
    """audit O D4: 'bin (other) holds 0.0% -> 32.3%' did not say which values arrived, the one thing needed
    to mend a feed that renamed its categories. Values few rows hold (an id, a free text) are only counted."""
    rng = np.random.default_rng(11)
    jobs = rng.choice(["gig_worker", "civil_servant", "nurse"], 3000, p=[0.3, 0.2, 0.5])
    fr = pd.DataFrame({"occupation": jobs})
    renamed = pd.Series(jobs).replace({"gig_worker": "gig-worker", "civil_servant": "Civil Servant"})
    renamed[:40] = [f"free text {i}" for i in range(40)]  # each held by one row: counted, never named
    fb = pd.DataFrame({"occupation": renamed})
    scores = _scores(3000)
    out = monitor(scores, scores, features_reference=fr, features_batch=fb)
    row = next(r for r in out["csi"] if r["feature"] == "occupation")
    assert row["new_values"]["n_values"] == 42
    assert [v["value"] for v in row["new_values"]["shown"]] == ["gig-worker", "Civil Servant"]
    alert = next(a for a in out["alerts"] if a["what"] == "occupation")
    assert alert["level"] == "act"
    words = alert["message"]
    assert "'gig-worker' " in words and "'Civil Servant' " in words and "and 40 more" in words, words
    assert "free text" not in words
    share = (fb["occupation"] == "gig-worker").mean()
    assert f"'gig-worker' {share:.1%}" in words
    same = monitor(scores, scores, features_reference=fr, features_batch=fr)
    assert next(r for r in same["csi"] if r["feature"] == "occupation")["new_values"] is None


def test_the_reference_outcomes_of_fitted_rows_are_left_out_of_the_band_bad_rates():
    """audit O D2: a reference the model was fitted on has in-sample bad rates per band (0.1% where new people
    had 3.8%): every honest batch read 'watch'. Its fitted rows' outcomes are left out; what remains is tested,
    and where too few remain the band says 'too few to judge'."""
    ref, batch = _scores(5000), _scores(5000, seed=1)
    optimistic = ref.assign(label=np.where(ref["score"] >= 600, 0.0, ref["label"]))  # an overfit's in-sample
    assert monitor(optimistic, batch)["level"] == "watch"  # the false alarm
    every = monitor(optimistic, batch, reference_fitted=np.ones(5000, dtype=bool))
    assert every["level"] == "ok" and every["alerts"] == [] and every["reference_fitted_rows"] == 5000
    assert all(r["note"].startswith("too few to judge") for r in every["outcomes_by_band"])
    assert "5,000 of the reference's 5,000 rows" in every["reference_note"]
    assert "too few to judge" in every["reference_note"]
    assert every["score_psi"] == monitor(optimistic, batch)["score_psi"]  # the scores all stay in the PSI
    half = np.arange(5000) < 2500
    mixed = optimistic.assign(label=np.where(half, optimistic["label"], ref["label"]))
    some = monitor(mixed, batch, reference_fitted=half)
    assert some["level"] == "ok" and some["reference_fitted_rows"] == 2500
    assert sum(r["reference_outcomes"] for r in some["outcomes_by_band"]) == 2500
    assert any(r["p_value"] is not None for r in some["outcomes_by_band"])
    assert "2,500 reference outcomes remain" in some["reference_note"]
    assert monitor(ref, batch)["reference_note"] is None


def test_a_riskier_population_reads_watch_on_its_mean_pd_before_any_label():
    """audit O: a population 3.5 times riskier moved the score PSI to 0.095, under 'watch': `monitor: ok`,
    exit 0. The mean PD (the bad rate the model expects) is a label-free line of its own."""
    scale = ScoreScale()

    def frame(n: int, shift: float, seed: int) -> pd.DataFrame:
        p = 1 / (1 + np.exp(-(-2.4 + 1.2 * np.random.default_rng(seed).normal(size=n) + shift)))
        return pd.DataFrame({"score": scale.score(p), "pd": p})

    ref = frame(5000, 0.0, 0)
    riskier = monitor(ref, frame(5000, 0.35, 1))
    assert riskier["score_psi"]["level"] == "ok"  # the PSI alone lets it pass
    er = riskier["expected_bad_rate"]
    assert er["level"] == "watch" and er["ratio"] > 1.25 and riskier["level"] == "watch"
    alert = next(a for a in riskier["alerts"] if a["what"] == "mean PD")["message"]
    assert alert.startswith(f"mean PD {er['reference']:.1%} -> {er['batch']:.1%}")
    stable = monitor(ref, frame(5000, 0.0, 1))
    assert stable["level"] == "ok" and stable["expected_bad_rate"]["level"] == "ok"
    assert monitor(_scores(500), _scores(500, seed=1))["expected_bad_rate"] is None  # no pd column: not measured


def test_monitor_refuses_a_file_whose_score_pd_and_band_disagree(tmp_path, cli):
    """validator study (friction 2): scores lowered by 40 points with pd and band left read score PSI 'act'
    but band shares, bad rates by band and mean PD 'no change'. The file is refused, naming the row and the
    column, never the person."""
    scale = ScoreScale()
    ref = _scores(2000).assign(pd=lambda f: scale.pd(f["score"]))
    ref["score"] = scale.score(ref["pd"])  # score, pd and band: one reading of the scale, as `score` writes
    ref_path, batch_path = tmp_path / "ref.parquet", tmp_path / "batch.parquet"
    ref.to_parquet(ref_path)
    ref.assign(score=(ref["score"] - 40).clip(350, 950)).to_parquet(batch_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["monitor", "--reference", str(ref_path), "--batch", str(ref_path)]).exit_code == 0
    res = runner.invoke(cli, ["monitor", "--reference", str(ref_path), "--batch", str(batch_path)])
    words = " ".join(res.output.split())
    first = int(np.flatnonzero(ref["score"] > 390)[0])
    assert res.exit_code == 2, res.output
    assert f"batch.parquet, row {first}, column 'score'" in words and "disagree" in words, words
    assert not any(f"p{i} " in words or f"p{i}," in words for i in range(2000))  # no person id
    banded = ref.copy()
    banded.loc[5, "band"] = "excellent" if banded.loc[5, "band"] != "excellent" else "poor"
    banded.drop(columns="pd").to_parquet(batch_path)
    res = runner.invoke(cli, ["monitor", "--reference", str(ref_path), "--batch", str(batch_path)])
    assert res.exit_code == 2 and "row 5, column 'band'" in " ".join(res.output.split()), res.output
