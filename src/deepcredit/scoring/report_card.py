"""Report cards: the wide table batch scoring writes, through the one Scorer (scoring/scorer.py)."""

from __future__ import annotations

import pandas as pd

from deepcredit.features.bundle import ModelInput
from deepcredit.models.base import CreditModel, Explanation
from deepcredit.models.scale import ScoreScale
from deepcredit.scoring.scorer import LONG_COLUMNS, Scorer, apportion, reason_table, subscores, used_features

__all__ = ["LONG_COLUMNS", "apportion", "reason_table", "report_card", "subscores", "used_features"]


def report_card(model: CreditModel, inp: ModelInput, scale: ScoreScale | None = None, top: int = 4,
                explanation: Explanation | None = None, explain: bool = True) -> pd.DataFrame:
    """One row per input row: person_id, as_of, pd, score, band, the five sub-scores, reasons 1..top
    (Scorer.report; scale defaults to the model's own)."""
    return Scorer(model, scale, top).report(inp, explain=explain, explanation=explanation)
