"""A spec's windows in feature names and plain language: "n_bad_90d", "in the last 3 months".

Why a module of its own: the templates say every window in words a person reads in their reasons, and the
words must follow whatever windows a data set declares ([windows]), not the defaults they were written for.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepcredit.data.spec_windows import Windows

PERIODS = {1: "day", 7: "week", 30: "month", 365: "year"}
"""Periods with a name of their own; any other is "a 14-day period"."""
ADJECTIVES = {1: "daily", 7: "weekly", 30: "monthly", 365: "yearly"}


def span(days: int) -> str:
    """A window in words: 30 → "month", 90 → "3 months", 365 → "12 months", 14 → "2 weeks", 45 → "45 days"."""
    for size, unit in ((365, "year"), (30, "month"), (7, "week"), (1, "day")):
        if days % size == 0:
            n = days // size
            if unit == "year" and n == 1:
                return "12 months"  # how people say the last year of a record
            return unit if n == 1 else f"{n} {unit}s"
    raise AssertionError("unreachable: every whole number of days is a number of days")


def between(newer: int, older: int) -> str:
    """From `newer` to `older` days back, in words: "3 to 6 months" (one unit said once), "2 weeks to 3 months"."""
    a, b = span(newer), span(older)
    a_n, _, a_unit = a.partition(" ")
    b_unit = b.partition(" ")[2]
    return f"{a_n} to {b}" if a_unit and a_unit == b_unit else f"{a} to {b}"


@dataclass(frozen=True)
class Words:
    """The windows of one spec with the words the templates use for them, and the word for the commitment
    whose delays the history features count ([events] commitment_word; None: a payment)."""

    w: Windows
    commitment: str | None = None
    plural: str | None = None

    @property
    def noun(self) -> str:
        """"payment", or the spec's commitment_word ("return")."""
        return self.commitment or "payment"

    @property
    def nouns(self) -> str:
        """"payments", or the spec's plural of its commitment_word ("returns", "deliveries")."""
        return self.plural or f"{self.noun}s"

    @property
    def period(self) -> str:
        """The period in words: "month", or "14-day period"."""
        return PERIODS.get(self.w.period, f"{self.w.period}-day period")

    @property
    def token(self) -> str:
        """The period in a feature's name: "month", or "period" for one without a name of its own."""
        return PERIODS.get(self.w.period, "period")

    def trend_of(self, text: str) -> str:
        """"the monthly trend of TEXT", or "the trend of TEXT per 14-day period"."""
        adjective = ADJECTIVES.get(self.w.period)
        return f"the {adjective} trend of {text}" if adjective else f"the trend of {text} per {self.period}"

    def periods_in(self, days: int) -> str:
        """The whole periods in `days`, in words: "12 months" (365 days of 30-day periods)."""
        n = days // self.w.period
        return f"{n} {self.period}s" if n != 1 else f"1 {self.period}"

    def last(self, days: int) -> str:
        """"the last 3 months"."""
        return f"the last {span(days)}"
