"""Least-squares slopes from centred sums, so every engine computes the same value.

A feature may be written with `regr_slope(y, x)` (both engines have it), but each engine runs its own
streaming update-and-merge algorithm whose last bits depend on how rows were split across threads or
partitions: DuckDB and Spark agreed only to ~1e-6 relative. The plan therefore never runs `regr_slope`;
`centred` rewrites every occurrence into two passes over the same staged rows:

1. per (person_id, as_of), over the pairs where x and y are both present: n, Sx = SUM(x), Sy = SUM(y);
2. slope = SUM((n*x - Sx) * (n*y - Sy)) / SUM((n*x - Sx) * (n*x - Sx)), NULL unless x takes two distinct
   values (fewer than two pairs or no spread in x: NULL, as `regr_slope` gives).

Why this is the same on every engine: each row's terms are the same IEEE operations on the same inputs
(n*x - Sx is x minus its mean, scaled by n so that no division rounds), so only the order of the two final
sums can differ. Integer-valued data (days, counts, whole amounts) give integer terms, summed exactly in any
order: the slope is bit-identical, and a trend that is exactly flat is exactly 0. Otherwise the
denominator sums non-negative terms (within n*2^-53 relative in any order), an error in Sx or Sy moves
both sums only to second order (centred values sum to zero), and the numerator's rounding is at most
n*2^-53 * sqrt(Sxx*Syy): the engines differ by ~n*1e-16 of the slope's natural scale sqrt(Syy/Sxx).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sqlglot
from sqlglot import exp


def centred(expressions: Sequence[str], stage: str, dialect: str, key: Sequence[str] = ("person_id", "as_of")
            ) -> tuple[list[str], str]:
    """`expressions` (aggregates over `stage`) with each `regr_slope(y, x)` computed from centred sums, and
    the FROM clause they need: `stage` itself, or `stage` joined to its per-group first pass under the
    same name (so the expressions' column references are unchanged). `key`: the columns of a group (the
    dialect's, sources.Dialect.key).

    Memoised: parsing is most of a one-person re-score's plan time (~60 ms of sqlglot per plan), and the
    service plans the same definitions for every request."""
    out, rows = _centred(tuple(expressions), stage, dialect, tuple(key))
    return list(out), rows


@functools.lru_cache(maxsize=256)
def _centred(expressions: tuple[str, ...], stage: str, dialect: str, key: tuple[str, ...]
             ) -> tuple[tuple[str, ...], str]:
    means: list[tuple[str, str]] = []  # (column, aggregate) of each slope's first pass

    def swap(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.RegrSlope):
            return node
        y, x = node.this.sql(dialect), node.expression.sql(dialect)
        xp = f"CAST(CASE WHEN ({y}) IS NOT NULL THEN ({x}) END AS DOUBLE)"  # the pairs: x and y both present
        yp = f"CAST(CASE WHEN ({x}) IS NOT NULL THEN ({y}) END AS DOUBLE)"
        i = len(means) // 3 + 1
        n, sx, sy = f"slope_n_{i}", f"slope_sx_{i}", f"slope_sy_{i}"
        means.extend([(n, f"COUNT({xp})"), (sx, f"SUM({xp})"), (sy, f"SUM({yp})")])
        dx, dy = f"({n} * {xp} - {sx})", f"({n} * {yp} - {sy})"
        return sqlglot.parse_one(
            f"(CASE WHEN MIN({xp}) < MAX({xp}) THEN SUM({dx} * {dy}) / NULLIF(SUM({dx} * {dx}), 0) END)",
            read=dialect)

    out = [sql if "regr_slope" not in sql.lower()
           else sqlglot.parse_one(sql, read=dialect).transform(swap).sql(dialect) for sql in expressions]
    if not means:
        return tuple(out), stage
    pick = ", ".join(f"m.{name}" for name, _ in means)
    aggs = ", ".join(f"{sql} AS {name}" for name, sql in means)
    keys, same = ", ".join(key), " AND ".join(f"s.{k} = m.{k}" for k in key)
    return tuple(out), (f"(SELECT s.*, {pick} FROM {stage} s JOIN (SELECT {keys}, {aggs} FROM {stage} "
                        f"GROUP BY {keys}) m ON {same}) {stage}")
