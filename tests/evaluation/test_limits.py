"""The Bayes limit is the true PD's AUC on exactly the rows evaluated, and is absent where it cannot be told."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepcredit.evaluation.limits import bayes_limit, limit_rows


def test_the_limit_reads_each_rows_own_true_pd_and_the_gap_is_to_the_model():
    truth = pd.DataFrame({"person_id": ["a", "b", "c", "d"], "true_pd": [0.9, 0.1, 0.6, 0.2]})
    ids = pd.Series(["d", "a", "c", "b"])  # scored rows in another order than the truth table
    y = np.array([0, 1, 0, 0])
    got = bayes_limit(truth, ids, y, pd_=np.array([0.5, 0.4, 0.3, 0.2]))
    assert got == {"bayes_auc": 1.0, "model_auc": 0.6667, "gap": 0.3333, "rows": 4}
    assert [r[0] for r in limit_rows(got)] == ["this model", "Bayes limit (true PD)", "gap to the limit"]


def test_no_limit_without_a_true_pd_for_every_row_or_with_one_class():
    truth = pd.DataFrame({"person_id": ["a", "b"], "true_pd": [0.9, 0.1]})
    assert bayes_limit(truth, pd.Series(["a", "z"]), np.array([1, 0]), np.array([0.5, 0.4])) is None
    assert bayes_limit(truth, pd.Series(["a", "b"]), np.array([1, 1]), np.array([0.5, 0.4])) is None
    assert bayes_limit(truth.drop(columns="true_pd"), pd.Series(["a", "b"]), np.array([1, 0]),
                       np.array([0.5, 0.4])) is None
