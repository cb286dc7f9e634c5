"""Models that turn features into a probability of default; each maps its PD through scoring.scale."""

from deepcredit.models.scorecard import Card, FeatureTable, WoEScorecard

__all__ = ["Card", "FeatureTable", "WoEScorecard"]
