"""Small builders for the SQL aggregate expressions that definitions are written in (both dialects)."""

from __future__ import annotations


def within(days: int | None, cond: str = "1 = 1") -> str:
    """A condition on an events_before row: `cond` and, if given, recorded in the last `days` days."""
    return cond if days is None else f"({cond}) AND age_days <= {days}"


def count(cond: str, days: int | None = None) -> str:
    return f"SUM(CASE WHEN {within(days, cond)} THEN 1 ELSE 0 END)"


def total(value: str, cond: str, days: int | None = None) -> str:
    return f"SUM(CASE WHEN {within(days, cond)} THEN {value} ELSE 0 END)"


def share(numerator_cond: str, denominator_cond: str, days: int | None = None) -> str:
    """Share of rows meeting the denominator condition that also meet the numerator one (NULL if none)."""
    num = count(f"({denominator_cond}) AND ({numerator_cond})", days)
    return f"CAST({num} AS DOUBLE) / NULLIF({count(denominator_cond, days)}, 0)"


def latest(value: str, cond: str) -> str:
    """The value on the most recent row meeting `cond`."""
    return f"max_by(CASE WHEN {cond} THEN {value} END, CASE WHEN {cond} THEN -age_days END)"
