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
