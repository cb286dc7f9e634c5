"""The model contract's shared pieces: probabilities from logits, the artifact format check."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from deepcredit.models.base import proba_columns, read_meta


def test_proba_columns_are_the_logistic_function_of_the_logit():
    z = np.array([-40.0, -1.5, 0.0, 2.0, 40.0])
    p = proba_columns(z)
    assert np.array_equal(p[:, 1], expit(z)) and np.allclose(p.sum(axis=1), 1.0)


def test_an_artifact_of_another_format_is_refused_by_name():
    files = {"m.json": json.dumps({"format": 2, "x": 1}).encode()}
    with pytest.raises(ValueError, match=r"gbdt: unsupported artifact format 2 \(this version reads 1\)"):
        read_meta(files, "m.json", 1, "gbdt")
    assert read_meta(files, "m.json", 2, "gbdt")["x"] == 1


def test_the_training_profile_rates_only_categories_with_enough_rows():
    import pandas as pd

    from deepcredit.data.schema import Dimension
    from deepcredit.features.bundle import ModelInput
    from deepcredit.features.engine import FeatureFrame
    from deepcredit.features.spec import FeatureDef, Kind, Source
    from deepcredit.models.base import RATED_ROWS, training_profile

    n = 200
    cat = FeatureDef("grade", Dimension.IDENTITY, Source.PROFILE, "g", "g", "g", kind=Kind.CATEGORICAL)
    num = FeatureDef("amount", Dimension.FULFILMENT_CAPACITY, Source.PROFILE, "a", "a", "a")
    grade = ["a"] * 100 + ["b"] * (n - 100 - (RATED_ROWS - 1)) + ["rare"] * (RATED_ROWS - 1)
    frame = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "as_of": pd.Timestamp("2024-01-01"),
                          "grade": pd.Categorical(grade), "amount": [float(i) if i % 10 else None for i in range(n)],
                          "label": [i % 4 == 0 for i in range(n)]})
    profile = training_profile(ModelInput(FeatureFrame(frame.assign(label=frame["label"].astype(int)), [cat, num])))
    assert set(profile["bad_rate"]["grade"]) == {"a", "b"}  # "rare": too few rows to tell its rate
    assert profile["categories"]["grade"] == ["a", "b", "rare"] and profile["missing"]["amount"] == 0.1
    assert len(profile["bins"]["amount"]["shares"]) == len(profile["bins"]["amount"]["edges"]) + 1
    assert abs(sum(profile["bins"]["amount"]["shares"]) - 1) < 1e-6
