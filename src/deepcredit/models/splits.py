"""Fold assignment for out-of-fold predictions: grouped by person, and time-aware where dates differ.

Why grouped: the same person at several as-of dates shares traits the features cannot see; a member that
saw a person's label in training would predict that person's other rows too well, and the stack would
learn to trust it too much. Why time-aware: with several as-of dates, a fold must look like deployment
(train on the past, predict the future), so a member is never fitted on an as-of at or after the one it
predicts. Deployment also trains on the person's own *earlier* rows, so by default (time_groups=1) a
dated fold trains on every earlier row; time_groups > 1 also keeps people apart, so every predicted
block (a range of dates x a group of people) is fitted on the earlier dates of the *other* groups of
people, at the cost of starving the members (a fraction of the earlier rows each).

Why labels must be known: a model fitted at some date can learn only from outcomes observed by then, so a
fold over time trains on a row only when its performance window has ended by the first date it predicts
(the keys' `known_at`: as_of + window; ModelInput.label_keys). A training row whose outcome comes later
is left out of that fold, as it would be in deployment; keys without `known_at` are known at as_of.

A fold is (train positions, predict positions), both into the rows of the keys given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from deepcredit.config import SplitConfig


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # int64 positions the member is fitted on
    predict: np.ndarray  # int64 positions it then predicts (disjoint people, strictly later dates if timed)


def person_groups(person_id: pd.Series | np.ndarray, y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold number per row: StratifiedGroupKFold on people (every row of a person in the same fold)."""
    person_id = np.asarray(person_id)
    y = np.asarray(y, dtype=np.int64)
    n_people = len(np.unique(person_id))
    if n_folds < 2 or n_folds > n_people:
        raise ValueError(f"need 2 <= n_folds <= number of people ({n_people}), got {n_folds}")
    codes = pd.factorize(person_id, sort=True)[0]
    fold = np.empty(len(codes), dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(codes)), y, groups=codes)):
        fold[test] = k
    return fold


def person_folds(person_id: pd.Series | np.ndarray, y: np.ndarray, n_folds: int = 5, seed: int = 0) -> list[Fold]:
    """K folds by person: fold k predicts group k and trains on all other groups."""
    group = person_groups(person_id, y, n_folds, seed)
    return [Fold(np.flatnonzero(group != k), np.flatnonzero(group == k)) for k in range(n_folds)]


def date_blocks(as_of: pd.Series | np.ndarray, n_blocks: int) -> np.ndarray:
    """Block number per row: the sorted distinct dates cut into `n_blocks` contiguous runs of similar size.

    Cuts fall between dates, never inside one, so every date lies in exactly one block.
    """
    dates = pd.to_datetime(pd.Series(np.asarray(as_of)))
    uniq = np.sort(dates.unique())
    n_blocks = max(1, min(int(n_blocks), len(uniq)))
    counts = dates.value_counts().reindex(uniq).to_numpy()
    share = np.cumsum(counts) / counts.sum()  # share of rows up to and including each date
    # the block of a date: how many equal-share boundaries lie before its midpoint
    mid = share - counts / counts.sum() / 2
    block_of_date = np.minimum((mid * n_blocks).astype(np.int64), n_blocks - 1)
    block_of_date = np.maximum.accumulate(block_of_date)
    # renumber 0..B-1 in case some block received no date
    block_of_date = np.unique(block_of_date, return_inverse=True)[1]
    return block_of_date[np.searchsorted(uniq, dates.to_numpy())].astype(np.int64)


def as_dates(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as datetime64[us] (what every fold compares)."""
    return pd.to_datetime(pd.Series(np.asarray(values))).to_numpy().astype("datetime64[us]")


def known_by(as_of: np.ndarray, known_at: np.ndarray | None, cut: np.datetime64) -> np.ndarray:
    """Rows a model fitted at `cut` can learn from: dated before it, with the outcome known by then."""
    before = as_of < cut
    return before if known_at is None else before & (known_at <= cut)


def time_folds(as_of: pd.Series | np.ndarray, n_folds: int = 5,
               known_at: pd.Series | np.ndarray | None = None) -> list[Fold]:
    """Expanding window: dates cut into n_folds + 1 blocks; fold b predicts block b from all earlier rows
    whose outcome is known by block b's first date (`known_at`; None: every earlier row).

    The earliest block is never predicted (nothing precedes it), nor a block no earlier outcome is known
    by. Fewer folds come back when there are fewer distinct dates.
    """
    block = date_blocks(as_of, n_folds + 1)
    dates = as_dates(as_of)
    known = None if known_at is None else as_dates(known_at)
    folds = []
    for b in range(1, int(block.max()) + 1):
        pred = np.flatnonzero(block == b)
        train = np.flatnonzero(known_by(dates, known, dates[pred].min()))
        if len(train):
            folds.append(Fold(train, pred))
    return folds


def _time_folds_of(keys: pd.DataFrame, n_folds: int) -> list[Fold]:
    """The expanding-window folds of these keys (none with one as-of date)."""
    as_of = keys["as_of"].to_numpy()
    return time_folds(as_of, n_folds, keys.get("known_at")) if pd.Series(as_of).nunique() > 1 else []


def folds_over_time(keys: pd.DataFrame, n_folds: int) -> bool:
    """Whether stacking_folds can fold these rows over time: several dates, some outcome known by a later one."""
    return bool(_time_folds_of(keys, n_folds))


def stacking_folds(keys: pd.DataFrame, y: np.ndarray, n_folds: int = 5, seed: int = 0,
                   time_groups: int = 1) -> list[Fold]:
    """The folds the stack fits its members' out-of-fold predictions on.

    One as-of date: person_folds. Several: time_folds (expanding windows, every earlier row whose outcome is
    known), crossed with `time_groups` person groups when > 1, so each predicted block is fitted only on
    earlier dates *and* other people (n_folds x time_groups fits). Rows of the earliest dates get no
    out-of-fold prediction. Dates whose outcomes all come after the last block starts (performance windows
    longer than the dates span: folds_over_time is False) get person folds, as one date does.
    """
    person_id = keys["person_id"].to_numpy()
    over_time = _time_folds_of(keys, n_folds)
    if not over_time:
        return person_folds(person_id, y, n_folds, seed)
    group = person_groups(person_id, y, time_groups, seed) if time_groups > 1 else np.zeros(len(y), np.int64)
    folds = []
    for tf in over_time:
        for g in range(max(time_groups, 1)):
            pred = tf.predict[group[tf.predict] == g]
            train = tf.train[group[tf.train] != g] if time_groups > 1 else tf.train
            if len(pred) and len(train):
                folds.append(Fold(train, pred))
    return folds


def holdout_split(keys: pd.DataFrame, y: np.ndarray, fraction: float, seed: int = 0) -> Fold:
    """A hold-out of about `fraction` of the people (every row of a person on one side), stratified by each
    person's worst outcome: Fold(train rows, held-out rows)."""
    codes, people = pd.factorize(keys["person_id"].to_numpy(), sort=True)
    worst = np.zeros(len(people), dtype=np.int64)
    np.maximum.at(worst, codes, np.asarray(y, dtype=np.int64))
    counts = np.bincount(worst, minlength=2)
    stratify = worst if counts.min() >= 2 else None
    if len(people) < 2:
        raise ValueError(f"a hold-out needs at least 2 people, got {len(people)}")
    _, test_people = train_test_split(np.arange(len(people)), test_size=fraction, stratify=stratify,
                                      random_state=seed)
    held = np.isin(codes, test_people)
    return Fold(np.flatnonzero(~held), np.flatnonzero(held))


def time_split(keys: pd.DataFrame, test_from: object) -> Fold:
    """Hold out the rows with as_of on or after `test_from`; train on the earlier rows whose outcome is known
    by then (keys' `known_at`), as a model fitted on that day would. Earlier rows whose performance window
    runs past it are on neither side (unmatured_rows says how many)."""
    as_of = as_dates(keys["as_of"])
    cut = np.datetime64(pd.Timestamp(test_from), "us")
    later = as_of >= cut
    day = pd.Timestamp(test_from).date()
    if later.all() or not later.any():
        first, last = pd.Timestamp(as_of.min()).date(), pd.Timestamp(as_of.max()).date()
        raise ValueError(f"--test-from {day}: every as-of date ({first}..{last}) falls "
                         "on one side, so one of train and test would be empty")
    train = known_by(as_of, as_dates(keys["known_at"]) if "known_at" in keys else None, cut)
    if not train.any():
        raise ValueError(f"--test-from {day}: no earlier row's outcome is known by then (each is known only when "
                         "its performance window ends), so nothing could be trained on: choose a later date")
    return Fold(np.flatnonzero(train), np.flatnonzero(later))


def unmatured_rows(keys: pd.DataFrame, fold: Fold) -> int:
    """Rows of a time split on neither side: dated before the cut, their outcome known only after it."""
    return len(keys) - len(fold.train) - len(fold.predict)


def configured_split(split: SplitConfig, seed: int, keys: pd.DataFrame, y: np.ndarray) -> Fold | None:
    """Fold(train, held out) as a run configuration's split says, or None (every row trains).

    Why one function: training holds the rows out, and evaluating the same data set later finds the same
    rows again (the split depends only on the keys, the labels and the seed), so they are never scored as
    if held out when they were fitted on."""
    if split.kind == "none":
        return None
    if split.kind == "holdout":
        return holdout_split(keys, y, split.fraction, seed if split.seed is None else split.seed)
    return time_split(keys, split.test_from)


def describe_split(split: SplitConfig) -> str:
    if split.kind == "holdout":
        return f"a hold-out of {split.fraction:.0%} of the people"
    return f"a time split, as-of from {split.test_from}" if split.kind == "time" else "no split"
