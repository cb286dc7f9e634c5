"""The draft's [windows] hint: the history features' windows fitted to how far apart a person's commitments
fall (weekly, monthly, yearly), from the events file's sample. Commented out, for the user to check.
"""

from __future__ import annotations

import pandas as pd

RHYTHMS = {"week": (7, 28, 84, 182), "month": (30, 90, 180, 365), "year": (365, 730, 1095, 1825)}
"""Windows ([windows]: period, recent, medium, long) for commitments falling due weekly, monthly, yearly."""


def rhythm(gap_days: float | None) -> str:
    """The rhythm of commitments whose median gap between a person's consecutive ones is `gap_days`."""
    if gap_days is None:
        return "month"
    return "week" if gap_days <= 10 else "year" if gap_days >= 200 else "month"


def median_gap_days(frame: pd.DataFrame, person: str | None, ts: str | None) -> float | None:
    """The median number of days between a person's consecutive rows of a sample (same-day rows aside), or
    None where the sample cannot tell (no person or date column, no person with two dated rows)."""
    if not person or not ts:
        return None
    rows = pd.DataFrame(
        {"p": frame[person], "t": pd.to_datetime(frame[ts], errors="coerce", utc=True)}
    ).dropna()
    gaps = rows.sort_values(["p", "t"]).groupby("p")["t"].diff().dt.total_seconds().div(86400).dropna()
    gaps = gaps[gaps >= 1]
    return float(gaps.median()) if len(gaps) else None


def windows_hint(gap_days: float | None) -> list[str]:
    """The [windows] section, commented out, with the windows of the rhythm the commitments seem to keep."""
    kind = rhythm(gap_days)
    why = (
        f"# A person's commitments here fall about {gap_days:.0f} days apart (median, in the sample): "
        f"{kind}ly windows are proposed."
        if gap_days is not None
        else "# The defaults are shown."
    )
    period, recent, medium, long = RHYTHMS[kind]
    return [
        "",
        "# How far back the history features look, in days: a billing period, then a recent, a middle and a",
        "# long window (default: 30, 90, 180, 365). Uncomment, and check, to fit your data's rhythm.",
        why,
        "# [windows]",
        f"# period = {period}",
        f"# recent = {recent}",
        f"# medium = {medium}",
        f"# long = {long}",
    ]
