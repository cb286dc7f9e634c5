"""The Scorer refuses a row whose model gives no PD (a NaN logit) instead of scoring it the worst score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepcredit.data.schema import Dimension
from deepcredit.features.bundle import ModelInput
from deepcredit.features.engine import FeatureFrame
from deepcredit.features.spec import FeatureDef, Source
from deepcredit.models.base import Explanation
from deepcredit.scoring.scorer import Scorer


class _NaNModel:
    """A model whose logit is NaN for the second row."""

    kind = "fake"
    views = ("tabular",)
    used_features_ = ["a"]

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return np.array([-2.0, np.nan, 1.0])[: len(inp)]

    def explain(self, inp: ModelInput) -> Explanation:
        by_feature = pd.DataFrame({"a": np.zeros(len(inp))})
        return Explanation.from_features(self.decision_function(inp), by_feature, inp.definitions,
                                         decision=self.decision_function(inp))


def test_a_nan_pd_is_refused_naming_the_person_with_or_without_explanations():
    defs = [FeatureDef("a", Dimension.CREDIT_HISTORY, Source.DERIVED, "a", "text of a", "improve a")]
    frame = pd.DataFrame({"person_id": ["x", "y", "z"], "as_of": pd.Timestamp("2025-01-01"), "label": [0, 1, 0],
                          "a": [1.0, 2.0, 3.0]})
    inp = ModelInput(FeatureFrame(frame, defs))
    scorer = Scorer(_NaNModel())  # type: ignore[arg-type]
    for explain in (False, True):
        with pytest.raises(ValueError, match=r"fake: 1 of 3 rows have no PD \(NaN logit; the first: person y as of "
                                             r"2025-01-01\)"):
            scorer.report(inp, explain=explain)
