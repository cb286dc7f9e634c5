"""The achievable-limit gauge: between the Bayes limit (latent truth) and what a simple model reaches."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepcredit.data.observable import observable_pd
from deepcredit.data.simulate import simulate_world
from deepcredit.features.bundle import build_model_input


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return simulate_world(tmp_path_factory.mktemp("obs") / "w", people=2500, seed=11)


def test_observable_auc_lies_between_a_simple_model_and_the_bayes_limit(world):
    gauge = observable_pd(world).set_index("person_id")
    inp = build_model_input(world, views=("tabular",))
    ids = inp.keys["person_id"].to_numpy()
    y = inp.y
    test = np.arange(len(y)) % 3 == 0
    X = inp.X.select_dtypes("number").fillna(0.0).to_numpy()
    simple = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(X[~test], y[~test])
    truth = world.read("truth").set_index("person_id")["true_pd"]
    simple_auc = roc_auc_score(y[test], simple.predict_proba(X[test])[:, 1])
    observable = roc_auc_score(y[test], gauge["observable_pd"].reindex(ids[test]))
    bayes = roc_auc_score(y[test], truth.reindex(ids[test]))
    assert simple_auc <= observable <= bayes, (simple_auc, observable, bayes)
    # a PD, calibrated on average like the truth, and a posterior mean that tracks the latent risk
    assert gauge["observable_pd"].min() > 0 and gauge["observable_pd"].max() < 1
    assert abs(gauge["observable_pd"].mean() - truth.mean()) < 0.01
    z = world.read("truth").set_index("person_id")["z"].reindex(gauge.index)
    assert np.corrcoef(gauge["own_posterior_mean_z"], z)[0, 1] > 0.8
