"""What every model shares once it has a PD: the score scale, reason codes, and hashed artifacts."""

from deepcredit.scoring.scale import DEFAULT_BANDS, ScoreScale, split_total

__all__ = ["DEFAULT_BANDS", "ScoreScale", "split_total"]
