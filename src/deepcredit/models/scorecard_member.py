"""The WoE scorecard as a stack member: the CreditModel contract around models/scorecard.WoEScorecard.

The card itself (binning, selection, points) lives in scorecard.py; this adapter only feeds it the
tabular view and speaks the common explanation language: each characteristic's contribution is the
logit share of the person's bin (with the default fit_points="bins", centred so the training population
averages zero), the base is the card's intercept, and base + contributions is exactly the logit
predict_proba uses. Characteristics the card dropped contribute 0 and are never reasons.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from deepcredit.features.bundle import ModelInput
from deepcredit.features.spec import FeatureDef
from deepcredit.models.base import CreditModel, Explanation, read_meta
from deepcredit.models.gbdt import model_features


class ScorecardModel(CreditModel):
    """WoE scorecard over the tabular view.

    params: keyword arguments for WoEScorecard (e.g. {"iv_min": 0.02, "fit_points": "bins"});
    features: restrict the candidate characteristics (default: every non-protected feature).
    """

    kind = "scorecard"
    views = ("tabular",)

    def __init__(self, params: dict | None = None, features: list[str] | None = None,
                 allow_protected: bool = False) -> None:
        self.params = params
        self.features = features
        self.allow_protected = allow_protected

    def _scorecard(self):
        from deepcredit.models.scorecard import WoEScorecard

        return WoEScorecard(**{**(self.params or {}), "allow_protected": self.allow_protected})

    def fit(self, inp: ModelInput, y: np.ndarray | None = None) -> ScorecardModel:
        y = inp.y if y is None else np.asarray(y, dtype=np.int64)
        X = inp.X
        defs = model_features(inp.definitions, X.columns, self.features, self.allow_protected)
        self.card_model_ = self._scorecard().fit(X, y, definitions=defs)
        self.definitions_ = defs
        return self

    def _card(self):
        if not hasattr(self, "card_model_"):
            raise RuntimeError("scorecard: call fit (or load a fitted model) first")
        return self.card_model_._card()

    def decision_function(self, inp: ModelInput) -> np.ndarray:
        return self._card().logit(inp.X)

    def explain(self, inp: ModelInput) -> Explanation:
        card = self._card()
        X = inp.X
        by_feature = pd.DataFrame(0.0, index=pd.RangeIndex(len(X)), columns=[d.name for d in self.definitions_])
        for f in card.features:
            by_feature[f.name] = f._arrays()["logit"][f.bin_index(X[f.name])]
        return Explanation.from_features(np.full(len(X), card.intercept), by_feature, self.definitions_,
                                         decision=self.decision_function(inp))

    @property
    def used_features_(self) -> list[str]:
        """The characteristics on the card (selection dropped the others)."""
        return list(self._card().names)

    @property
    def card(self):
        """The fitted WoEScorecard (points table, score_record, ...)."""
        self._card()
        return self.card_model_

    # -- artifacts --------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        card = self._card()
        meta = {"format": 1, "card": card.to_dict(), "features": [d.to_dict() for d in self.definitions_]}
        files = {"scorecard_card.json": json.dumps(meta, indent=1, sort_keys=True).encode("utf-8")}
        files["scorecard.csv"] = self.card_model_.to_table().to_csv(index=False).encode("utf-8")
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes], params: dict) -> ScorecardModel:
        from deepcredit.models.scorecard import Card

        model = cls(**params)
        meta = read_meta(files, "scorecard_card.json", 1, "scorecard")
        card_model = model._scorecard()
        card_model.card_ = Card.from_dict(meta["card"])
        card_model.classes_ = np.array([0, 1])
        model.definitions_ = [FeatureDef.from_dict(d) for d in meta["features"]]
        card_model.definitions_ = model.definitions_
        model.card_model_ = card_model
        return model
