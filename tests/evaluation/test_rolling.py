"""Rolling-origin evaluation: every test period is predicted from earlier periods only, and pooled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.evaluation.rolling import pooled_metrics, rolling_origin, rolling_origin_folds
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame


def _dated(people: int = 60, dates: int = 5) -> ModelInput:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "person_id": np.repeat([f"p{i:03d}" for i in range(people)], dates),
        "as_of": np.tile(pd.date_range("2024-01-01", periods=dates, freq="MS").to_numpy(), people),
        "label": rng.integers(0, 2, people * dates)})
    return ModelInput(FeatureFrame(frame, []))


def test_each_of_the_last_k_periods_is_tested_on_earlier_ones_only():
    inp = _dated()
    as_of = inp.keys["as_of"].to_numpy()
    folds = rolling_origin_folds(as_of, 3)
    assert [f.period for f in folds] == ["2024-03-01", "2024-04-01", "2024-05-01"]
    for f in folds:
        assert as_of[f.train].max() < as_of[f.predict].min() and len(set(as_of[f.predict])) == 1
        assert len(f.train) == (as_of < as_of[f.predict].min()).sum()  # every earlier row, the same people too
    assert [f.period for f in rolling_origin_folds(as_of, 1, "quarter")] == ["2024Q2"]
    with pytest.raises(ValueError, match="need at least 6 periods"):
        rolling_origin_folds(as_of, 5)


def test_a_period_trains_only_on_outcomes_known_by_its_first_date():
    inp = _dated(dates=6)  # monthly as-of dates
    window = pd.Timedelta(days=45)  # an outcome is known a month and a half later
    known = ModelInput(inp.tabular, known_at=(inp.keys["as_of"] + window).to_numpy())
    as_of = known.keys["as_of"]
    for f in rolling_origin_folds(as_of, 3, known_at=known.label_keys["known_at"]):
        start = as_of.iloc[f.predict].min()
        assert len(f.train) and (as_of.iloc[f.train] + window <= start).all()
        assert as_of.iloc[f.train].max() == start - pd.DateOffset(months=2)  # the month before is not known yet
    with pytest.raises(ValueError, match="no row before 2024-02-01 has an outcome known by its first day"):
        rolling_origin_folds(as_of, 5, known_at=known.label_keys["known_at"])


def test_predictions_are_pooled_over_every_test_period():
    inp = _dated()
    seen = []

    def fit_predict(train: ModelInput, test: ModelInput) -> dict[str, np.ndarray]:
        seen.append((train.keys["as_of"].max(), test.keys["as_of"].min()))
        return {"perfect": test.y * 0.8 + 0.1, "constant": np.full(len(test), 0.5)}

    pooled = rolling_origin(inp, fit_predict, periods=2)
    assert len(pooled) == 2 * 60 and list(pooled["period"].unique()) == ["2024-04-01", "2024-05-01"]
    assert all(train_max < test_min for train_max, test_min in seen)
    m = pooled_metrics(pooled)
    assert m["perfect"]["auc"] == 1.0 and m["constant"]["auc"] == 0.5
    assert m["perfect"]["bads"] == pooled["label"].sum() and set(m["perfect"]["auc_by_period"]) == {
        "2024-04-01", "2024-05-01"}
