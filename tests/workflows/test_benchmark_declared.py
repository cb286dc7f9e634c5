"""The declared-data-set benchmark part on German credit (bundled), with the quick plan's small members."""

from __future__ import annotations

import numpy as np
import pytest

from deepcredit.models.stack import default_members
from deepcredit.workflows.benchmarks import declared
from deepcredit.workflows.benchmarks.models import ModelsRun, bundled


@pytest.fixture(scope="module")
def german(tmp_path_factory):
    return bundled("german", tmp_path_factory.mktemp("bench"))


def test_rows_follow_the_file_and_peers_read_the_declared_attributes_raw(german):
    from deepcredit.features.bundle import build_model_input

    inp = declared.in_file_order(german, build_model_input(german, views=("tabular",)))
    assert inp.keys["person_id"].astype(str).tolist()[:3] == ["1", "2", "3"]
    X = declared.raw_inputs(german, inp)
    protected = set(german.spec.protected)
    assert X.shape == (1000, 17) and not protected & set(X.columns)
    assert X["duration_in_month"].dtype == np.float64 and X["purpose"].dtype == "category"


def test_protocols_are_the_documented_ones():
    y = np.array([0, 1] * 50)
    split, cv = declared.protocols(y, cv=True)
    assert split.name == "split" and len(split.folds) == 1 and len(split.folds[0][1]) == 30
    assert cv.name == "cv" and len(cv.folds) == 25 and not split.pooled and not cv.pooled


@pytest.mark.slow
def test_split_run_reports_every_model(german, tmp_path):
    params = {"wide_deep": {"max_epochs": 1}, "gbdt": {"n_estimators": 50}}
    run = ModelsRun(workdir=tmp_path, members=list(default_members()), member_params=params, folds=2)
    r = declared.run(german, run, cv=False)
    assert {"scorecard", "stack", "peer:optbinning", "peer:lightgbm"} <= set(r["models"])
    assert r["members"] == ["scorecard", "gbdt", "wide_deep"]  # no events, no relations: no such members
    assert r["scorecard_small_data"] and all(0.5 < m["auc"] <= 1 for m in r["models"].values())
