"""The tests' oracle for leak-free folds (not package code: no package code checks folds after drawing them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.models.splits import Fold, as_dates


def check_folds(keys: pd.DataFrame, folds: list[Fold], grouped: bool = True) -> None:
    """Raise if any fold trains on a date not before the dates it predicts or on an outcome not known by
    then (keys' `known_at`), or (grouped, or one as-of date) shares a person between train and predict."""
    person_id = keys["person_id"].to_numpy()
    as_of = as_dates(keys["as_of"])
    known = as_dates(keys["known_at"]) if "known_at" in keys else as_of
    timed = pd.Series(as_of).nunique() > 1
    for i, f in enumerate(folds):
        shared = np.intersect1d(person_id[f.train], person_id[f.predict])
        if shared.size and (grouped or not timed):
            raise AssertionError(f"fold {i}: person {shared[0]!r} is in both train and predict")
        if timed and len(f.train) and as_of[f.train].max() >= as_of[f.predict].min():
            raise AssertionError(f"fold {i}: trains on an as-of date not before the dates it predicts")
        if timed and len(f.train) and known[f.train].max() > as_of[f.predict].min():
            raise AssertionError(f"fold {i}: trains on an outcome known only after the first date it predicts")
