"""Out-of-fold splits never share a person between train and predict, and never train on the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fold_leaks import check_folds

from deepcredit.models.splits import (
    date_blocks,
    person_folds,
    person_groups,
    stacking_folds,
    time_folds,
    time_split,
    unmatured_rows,
)


def _keys(n_people: int = 300, dates: int = 1, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """People observed at up to `dates` quarterly as-of dates (some join late), with ~20% bad labels."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_people):
        first = int(rng.integers(0, dates))
        for d in range(first, dates):
            rows.append((f"p{p:04d}", pd.Timestamp("2020-01-01") + pd.DateOffset(months=3 * d)))
    keys = pd.DataFrame(rows, columns=["person_id", "as_of"])
    y = (rng.random(len(keys)) < 0.2).astype(np.int64)
    return keys, y


def test_person_folds_partition_people():
    keys, y = _keys(n_people=300, dates=3)
    folds = person_folds(keys["person_id"], y, n_folds=5, seed=1)
    predicted = np.concatenate([f.predict for f in folds])
    assert np.array_equal(np.sort(predicted), np.arange(len(keys)))  # every row predicted exactly once
    fold_of_person = keys.assign(fold=person_groups(keys["person_id"], y, 5, 1)).groupby("person_id")["fold"]
    assert (fold_of_person.nunique() == 1).all()  # a person's rows all sit in one fold
    for f in folds:
        assert not set(keys["person_id"].iloc[f.train]) & set(keys["person_id"].iloc[f.predict])
        assert abs(y[f.predict].mean() - y.mean()) < 0.08  # stratified
    same = person_folds(keys["person_id"], y, n_folds=5, seed=1)
    assert all(np.array_equal(a.predict, b.predict) for a, b in zip(folds, same, strict=True))


def test_time_folds_train_only_on_earlier_dates():
    keys, y = _keys(n_people=200, dates=8)
    folds = time_folds(keys["as_of"], n_folds=4)
    assert len(folds) == 4
    for f in folds:
        assert keys["as_of"].iloc[f.train].max() < keys["as_of"].iloc[f.predict].min()
    first = keys["as_of"].min()
    assert not any((keys["as_of"].iloc[f.predict] == first).any() for f in folds)  # nothing precedes it


def test_date_blocks_never_split_a_date():
    keys, _ = _keys(n_people=200, dates=7)
    block = date_blocks(keys["as_of"], 3)
    assert set(block) == {0, 1, 2}
    per_date = pd.Series(block).groupby(keys["as_of"].to_numpy()).nunique()
    assert (per_date == 1).all()
    order = pd.Series(block).groupby(keys["as_of"].to_numpy()).first()
    assert order.is_monotonic_increasing


@pytest.mark.parametrize("dates", [1, 6])
def test_stacking_folds_are_grouped_and_time_aware(dates):
    keys, y = _keys(n_people=400, dates=dates)
    folds = stacking_folds(keys, y, n_folds=4, seed=3, time_groups=2)
    check_folds(keys, folds)  # raises on a shared person or a train date at/after a predicted one
    predicted = np.concatenate([f.predict for f in folds])
    assert len(np.unique(predicted)) == len(predicted)  # no row predicted twice
    if dates == 1:
        assert len(predicted) == len(keys)


def test_check_folds_catches_leaks():
    keys, y = _keys(n_people=50, dates=3)
    folds = time_folds(keys["as_of"], 2)
    leaky = [type(f)(np.arange(len(keys)), f.predict) for f in folds]
    with pytest.raises(AssertionError):
        check_folds(keys, leaky)


def test_default_dated_folds_train_on_every_earlier_row():
    """time_groups=1 (the default): each block is predicted from all earlier rows, the same people included."""
    keys, y = _keys(n_people=300, dates=6)
    folds = stacking_folds(keys, y, n_folds=3, seed=0)
    check_folds(keys, folds, grouped=False)  # still never trains on a date at or after a predicted one
    as_of = pd.to_datetime(keys["as_of"]).to_numpy()
    for f in folds:
        assert np.array_equal(f.train, np.flatnonzero(as_of < as_of[f.predict].min()))
    with pytest.raises(AssertionError):  # the same people are on both sides: not a person-grouped fold
        check_folds(keys, folds)


def _with_windows(keys: pd.DataFrame, days: int) -> pd.DataFrame:
    return keys.assign(known_at=keys["as_of"] + pd.Timedelta(days=days))


def test_folds_over_time_train_only_on_outcomes_known_by_the_first_predicted_date():
    keys, y = _keys(n_people=300, dates=8)  # quarterly as-of dates
    year = _with_windows(keys, 365)  # each outcome known a year after its as-of date
    for fold in time_folds(year["as_of"], 4, year["known_at"]):
        first = year["as_of"].iloc[fold.predict].min()
        assert (year["known_at"].iloc[fold.train] <= first).all()
    check_folds(year, stacking_folds(year, y, 4, 0), grouped=False)
    # a quarter's window ends on the next as-of date: every earlier row is known, the folds are as before
    quarter = _with_windows(keys, 0)
    assert [f.train.tolist() for f in stacking_folds(quarter, y, 4, 0)] == \
        [f.train.tolist() for f in stacking_folds(keys, y, 4, 0)]


def test_check_folds_catches_training_on_an_outcome_known_too_late():
    keys, y = _keys(n_people=200, dates=4)
    folds = stacking_folds(keys, y, 3, 0)  # ignore the windows
    with pytest.raises(AssertionError, match="known only after"):
        check_folds(_with_windows(keys, 365), folds, grouped=False)


def test_a_time_split_leaves_out_earlier_rows_whose_outcome_comes_after_the_cut():
    keys, y = _keys(n_people=200, dates=8)
    cut = pd.Timestamp("2021-01-01")
    plain = time_split(keys, cut)
    year = _with_windows(keys, 365)
    fold = time_split(year, cut)
    assert np.array_equal(fold.predict, plain.predict)  # the same rows are tested
    assert (year["known_at"].iloc[fold.train] <= cut).all()
    assert set(fold.train) < set(plain.train)
    assert unmatured_rows(year, fold) == len(plain.train) - len(fold.train) > 0
    with pytest.raises(ValueError, match="no earlier row's outcome is known"):
        time_split(_with_windows(keys, 3650), cut)
