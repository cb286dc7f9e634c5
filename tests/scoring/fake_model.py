"""One fake scoring model for reason, advice and text tests: contributions are given, not learnt, so a test
states exactly what each feature costs and checks only what the scorer writes from it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef
from deepcredit.models.base import DIMENSIONS, Explanation


class FakeModel:
    """Contributions given per feature (a row per person, a column per definition, whatever the values);
    optionally per dimension beyond them (a tower: {dimension: contribution})."""

    views = ("tabular",)

    def __init__(
        self, defs: list[FeatureDef], contrib: np.ndarray, tower: dict[str, float] | None = None
    ) -> None:
        self.definitions_, self.contrib, self.tower = defs, contrib, tower or {}
        self.used_features_ = [d.name for d in defs]

    def get_params(self, deep: bool = False) -> dict:
        return {}

    def fitted_members(self) -> list:
        return []

    def explain(self, inp: ModelInput) -> Explanation:
        by_feature = pd.DataFrame(self.contrib, columns=self.used_features_)
        ex = Explanation.from_features(np.full(len(inp), -2.0), by_feature, self.definitions_)
        if not self.tower:
            return ex
        extra = pd.DataFrame(0.0, index=ex.by_dimension.index, columns=DIMENSIONS)
        for dimension, value in self.tower.items():
            extra[dimension] = value
        return replace(ex, by_dimension=ex.by_dimension + extra)

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return self.explain(inp).logit()
