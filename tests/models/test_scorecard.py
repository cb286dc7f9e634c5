import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from deepcredit.data.schema import Dimension
from deepcredit.features.spec import FeatureDef, Kind, Source
from deepcredit.models.scorecard import WoEScorecard
from deepcredit.scoring.scale import ScoreScale

DEFS = [
    FeatureDef("region", Dimension.IDENTITY, Source.PROFILE, "MAX(region)", "where you live", "Nothing to do.",
               kind=Kind.CATEGORICAL),
    FeatureDef("n_late", Dimension.CREDIT_HISTORY, Source.EVENTS, "COUNT(*)", "late payments",
               "Pay on time.", risk_direction=1, fill=0),
    FeatureDef("days_since_late", Dimension.CREDIT_HISTORY, Source.EVENTS, "MIN(age)",
               "how recently you paid late", "Time heals.", risk_direction=-1),
    FeatureDef("limit", Dimension.FULFILMENT_CAPACITY, Source.PROFILE, "MAX(limit)", "your credit line",
               "Ask for a higher line.", risk_direction=-1),
    FeatureDef("utilisation", Dimension.FULFILMENT_CAPACITY, Source.DERIVED, "a / b", "how much of your line you use",
               "Use less of your line.", risk_direction=0),
    FeatureDef("noise", Dimension.BEHAVIOUR_PREFERENCES, Source.EVENTS, "AVG(x)", "noise", "Nothing.",
               risk_direction=0),
    FeatureDef("sex", Dimension.IDENTITY, Source.PROFILE, "MAX(sex)", "sex", "n/a", kind=Kind.CATEGORICAL),
]


def make_data(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_late = rng.poisson(0.8, n).astype(float)
    days = np.where(n_late > 0, rng.uniform(1, 365, n), np.nan)  # never late: missing
    limit = rng.lognormal(10, 0.7, n)
    util = rng.beta(2, 3, n) * 1.2
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    sex = rng.choice(["f", "m"], n)
    z = -1.6 + 0.7 * n_late - 0.4 * (np.log(limit) - 10) + 1.2 * (util - 0.5) + 0.5 * (region == "west") \
        - 0.6 * np.nan_to_num(days / 365, nan=1.0) + 0.3 * (sex == "m")
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    X = pd.DataFrame({"person_id": [f"p{i:05d}" for i in range(n)], "region": region, "n_late": n_late,
                      "days_since_late": days, "limit": limit, "utilisation": util,
                      "noise": rng.normal(size=n), "sex": sex})
    return X, y


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module", params=["bins", "woe"])
def card(request, data):
    X, y = data
    return WoEScorecard(fit_points=request.param, min_bin_size=0.03).fit(X, y, definitions=DEFS)


def test_fits_and_predicts(card, data):
    X, y = data
    p = card.predict_proba(X)
    assert p.shape == (len(X), 2) and np.allclose(p.sum(axis=1), 1)
    assert roc_auc_score(y, p[:, 1]) > 0.7
    s = card.score(X)
    assert s.dtype == np.int64 and ((s >= 350) & (s <= 950)).all()
    assert roc_auc_score(y, -s) > 0.7


def test_protected_attributes_are_never_inputs_by_default(card, data):
    assert "sex" not in card.features_
    status = card.selection_.set_index("feature")["status"]
    assert status["sex"].startswith("protected attribute")
    X, y = data
    allowed = WoEScorecard(allow_protected=True, min_bin_size=0.03).fit(X, y, definitions=DEFS)
    assert "sex" in allowed.selection_["feature"].tolist()
    assert not allowed.selection_["status"].str.startswith("protected").any()


def test_selection_drops_weak_characteristics(card):
    status = card.selection_.set_index("feature")["status"]
    assert "noise" not in card.features_ and "IV" in status["noise"]
    assert {"n_late", "limit"} <= set(card.features_)
    assert all(status[f] == "used" for f in card.features_)


def test_subscores_add_up_to_the_score_for_every_person(card, data):
    X, _ = data
    sub = card.subscores(X)
    dims = [str(d) for d in Dimension]
    assert list(sub.columns) == [*dims, "score"]
    assert (sub[dims].sum(axis=1) == sub["score"]).all()
    assert (sub["score"].to_numpy() == card.score(X)).all()
    # no characteristic in social connections: everyone gets the same neutral share there
    assert sub["social_connections"].nunique() == 1


def test_subscores_add_up_when_the_total_is_clipped(data):
    X, y = data
    narrow = ScoreScale(lo=560, hi=640, bands=(("low", 560), ("high", 600)))
    m = WoEScorecard(scale=narrow, min_bin_size=0.03).fit(X, y, definitions=DEFS)
    sub = m.subscores(X)
    raw = m.card_.base_points + m.card_.dimension_points(X).sum(axis=1)
    assert ((raw < 560) | (raw > 640)).mean() > 0.05  # many people are clipped
    assert (sub.iloc[:, :5].sum(axis=1) == sub["score"]).all()
    assert sub["score"].between(560, 640).all()


def test_score_is_monotone_in_each_monotone_binned_feature(card, data):
    X, _ = data
    base = X.iloc[:50].reset_index(drop=True)
    checked = 0
    for t in card.card_.features:
        if t.kind != "numeric" or t.direction == 0:
            continue
        grid = np.quantile(X[t.name].dropna(), np.linspace(0, 1, 41))
        scores = np.column_stack([card.score(base.assign(**{t.name: v})) for v in grid])
        steps = np.diff(scores, axis=1) * t.direction
        assert (steps >= 0).all(), t.name
        if t.risk_direction:  # declared directions are respected: riskier when higher -> points fall
            assert t.direction == -t.risk_direction
        checked += 1
    assert checked >= 2


def test_points_are_monotone_over_value_bins(card):
    for t in card.card_.features:
        nb = t.n_value_bins
        if t.direction:
            assert (np.diff(t.points[:nb]) * t.direction >= 0).all(), t.name


def test_lookup_reproduces_the_training_bin_counts(card, data):
    X, _ = data
    for t in card.card_.features:
        counts = np.bincount(t.bin_index(X[t.name]), minlength=len(t.count))
        assert counts.tolist() == t.count, t.name


def test_missing_and_unseen_values_get_their_own_bins(card, data):
    X, _ = data
    row = X.iloc[:1].copy()
    row["days_since_late"] = np.nan
    row["region"] = "atlantis"
    tables = {t.name: t for t in card.card_.features}
    if "region" in tables:
        t = tables["region"]
        assert t.bin_index(row["region"])[0] == t.n_value_bins + 2  # "other": neutral
        assert t.points[t.n_value_bins + 2] == 0
    if "days_since_late" in tables:
        t = tables["days_since_late"]
        assert t.bin_index(row["days_since_late"])[0] == t.n_value_bins + 1
    card.score(row)  # scores without error


def test_single_record_and_small_frames_match_vectorised_scoring(card, data):
    X, _ = data
    big = card.score(X.iloc[:300])
    small = np.concatenate([card.score(X.iloc[i:i + 3]) for i in range(0, 300, 3)])
    assert (big == small).all()
    records = X.iloc[:300].to_dict("records")
    assert [card.score_record(r) for r in records] == big.tolist()


def test_blocked_and_parallel_scoring_match_the_single_record_path(card, data, monkeypatch):
    import deepcredit.models.scorecard as sc

    X, _ = data
    monkeypatch.setattr(sc, "BLOCK_ROWS", 97)  # many uneven blocks ...
    monkeypatch.setattr(sc, "PARALLEL_ROWS", 150)  # ... over several row slices on threads
    rows = X.iloc[np.resize(np.arange(len(X)), 1001)].reset_index(drop=True)
    got = card.score(rows)
    assert got.tolist() == [card.score_record(r) for r in rows.to_dict("records")]


def test_score_agrees_with_the_scale_applied_to_the_pd(card, data):
    X, _ = data
    exact = card.card_.scale.score(card.predict_proba(X)[:, 1])
    # whole points per bin: at most half a point of rounding per characteristic plus the base
    assert np.abs(card.score(X) - exact).max() <= len(card.features_) / 2 + 1


def test_explain_is_stable_and_uses_only_card_characteristics(card, data):
    X, _ = data
    sample = X.iloc[:200]
    r1 = card.explain(sample)
    r2 = card.explain(sample.iloc[::-1])  # a different order of people: the same reasons for each
    key = ["row", "rank"]
    pd.testing.assert_frame_equal(r1.sort_values(key).reset_index(drop=True),
                                  r2.sort_values(key).reset_index(drop=True))
    assert set(r1["feature"]) <= set(card.features_)
    assert r1.groupby("row").size().max() <= 4
    assert (r1["points_lost"] > 0).all()
    for _, g in r1.groupby("row"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert (np.diff(g["points_lost"].to_numpy()) <= 0).all()
    assert r1["reason"].map(lambda s: isinstance(s, str) and len(s) > 0).all()
    assert card.explain(sample, top=2).groupby("row").size().max() <= 2


def test_to_table_lists_base_points_and_every_bin(card):
    table = card.to_table()
    assert table.iloc[0]["feature"] == "(base points)"
    assert set(table["feature"][1:]) == set(card.features_)
    assert table["points"].notna().all()


def test_clear_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="missing from the training data: limit"):
        WoEScorecard().fit(X.drop(columns="limit"), y, definitions=DEFS)
    with pytest.raises(ValueError, match="0 \\(good\\) or 1 \\(bad\\)"):
        WoEScorecard().fit(X, np.where(y == 1, 2, 0), definitions=DEFS)
    with pytest.raises(ValueError, match="not fitted"):
        WoEScorecard().score(X)
    m = WoEScorecard(min_bin_size=0.03).fit(X, y, definitions=DEFS)
    with pytest.raises(ValueError, match="'n_late'.*missing from the input"):
        m.score(X.drop(columns="n_late"))


def test_sklearn_clone_and_fit_without_definitions(data):
    X, y = data
    m = WoEScorecard(C=0.5, iv_min=0.03)
    c = clone(m)
    assert c.get_params()["C"] == 0.5 and c.get_params()["iv_min"] == 0.03
    fitted = c.fit(X, y)  # no definitions: text columns categorical, all attributed to credit history
    assert "person_id" not in fitted.features_ and "sex" not in fitted.features_
    kinds = {t.name: t.kind for t in fitted.card_.features}
    assert kinds.get("region", "categorical") == "categorical" and kinds["n_late"] == "numeric"
    assert roc_auc_score(y, fitted.predict_proba(X)[:, 1]) > 0.65
