"""The calendar periods the commands name in words: month, quarter, year.

Why a module of its own: `evaluate --period`, `peers --period` and `load --cadence` all take these words, and
one vocabulary keeps a word that works in one command from failing in the next (audit K, F2). It sits in data/,
the lowest layer that reads dates, so every layer above can use it.
"""

from __future__ import annotations

CALENDAR = {"month": "M", "quarter": "Q", "year": "Y"}
"""Period word → pandas period frequency (a period ends where the next begins)."""
PERIODS = ("as_of", *CALENDAR)
"""The words of `--period`: each as-of date on its own, or a calendar period."""


def start_frequency(cadence: str) -> str:
    """A pandas frequency of period starts: "quarter" → "QS" (the first day of each quarter); any other text,
    such as "QS", "MS" or "7D", is taken as a pandas frequency already."""
    word = cadence.strip().lower()
    return f"{CALENDAR[word]}S" if word in CALENDAR else cadence
