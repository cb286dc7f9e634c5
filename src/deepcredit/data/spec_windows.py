"""How far back the history features look: the `[windows]` section of a data-set spec.

Why declared: the right look-back depends on the data's own rhythm. Monthly card statements over years want
a month as the period and a year as the long window (the default); a pay-later service whose commitments
fall due weekly wants weeks and a quarter; annual loan reviews want a year as the period. Every fulfilment,
behaviour and neighbour template takes its windows from here, and the features' names and plain-language
texts follow them (n_bad_90d, "in the last 3 months").
"""

from __future__ import annotations

from pydantic import Field, model_validator

from deepcredit.data.spec_base import SpecProblem, Strict

MAX_PERIODS = 62
"""The most periods a window may hold: periods active in a window are counted in a 63-bit mask
(templates.active_periods)."""


class Windows(Strict):
    period: int = Field(default=30, gt=0)
    """One billing period, in days (a month by default): what a cycle's payments settle (the previous
    period's bills), the unit of trends ("growing month by month") and of counted active periods."""
    recent: int = Field(default=90, gt=0)
    """The recent window, in days: recent lateness, recent payments and bills, recent new connections."""
    medium: int = Field(default=180, gt=0)
    """The middle window, in days: average delay, repayments against bills, balance trends."""
    long: int = Field(default=365, gt=0)
    """The long window, in days: the year of lateness, episodes, activity and counterparties."""

    @model_validator(mode="after")
    def _check(self) -> Windows:
        if not self.period <= self.recent < self.medium < self.long:
            raise SpecProblem(("period",), f"windows must grow: period ({self.period}) ≤ recent ({self.recent}) < "
                                           f"medium ({self.medium}) < long ({self.long}) days")
        if self.long // self.period > MAX_PERIODS:
            days = "1 day" if self.period == 1 else f"{self.period} days"
            raise SpecProblem(("long",), f"the long window ({self.long} days) holds {self.long // self.period} "
                                         f"periods of {days}; at most {MAX_PERIODS}: make the period longer or the "
                                         "window shorter")
        return self
