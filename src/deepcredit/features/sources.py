"""The staged sources every feature aggregates over, as named SELECT statements.

This is where point in time is enforced, once: every source joins the as-of spine and keeps only rows
strictly before each as_of (events by their timestamp, edges by the time they were first observed,
neighbours' histories by the *focal* person's as_of). Feature definitions cannot see anything else.

The SQL is the common subset of DuckDB and Spark SQL; the only construct the dialects spell differently
(timestamp → fractional days since the epoch) goes through `Dialect.days`. The engine materialises each
stage in order (a DuckDB temp table here, a cached Spark temp view at scale).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepcredit.data.schema import BAD_STATUSES, GOOD_STATUSES, SEVERE_STATUSES


@dataclass(frozen=True)
class Dialect:
    name: str
    days_template: str

    def days(self, expr: str) -> str:
        """Fractional days since 1970-01-01 for a timestamp expression."""
        return self.days_template.format(expr)


DUCKDB = Dialect("duckdb", "(epoch({}) / 86400.0)")
SPARK = Dialect("spark", "(unix_timestamp({}) / 86400.0)")


def _in(values: frozenset[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def stages(d: Dialect, people_columns: set[str], event_columns: set[str]) -> list[tuple[str, str]]:
    """Named SELECT statements in dependency order; `spine(person_id, as_of, label)` must exist.

    Optional event columns a data set lacks (days_late, counterparty) read as NULL.
    """
    days_late = "e.days_late" if "days_late" in event_columns else "CAST(NULL AS DOUBLE)"
    counterparty = "e.counterparty" if "counterparty" in event_columns else "CAST(NULL AS VARCHAR)"
    joined = (
        f"CASE WHEN p.joined_at < s.as_of THEN s.as_of_day - {d.days('p.joined_at')} END"
        if "joined_at" in people_columns else "CAST(NULL AS DOUBLE)"
    )
    profile_cols = "".join(f", p.{c}" for c in sorted(people_columns - {"person_id", "joined_at"}))
    return [
        ("spine_d", f"SELECT person_id, as_of, {d.days('as_of')} AS as_of_day FROM spine"),
        ("profile", f"""
            SELECT s.person_id, s.as_of, {joined} AS joined_age_days{profile_cols}
            FROM spine_d s JOIN people p ON p.person_id = s.person_id"""),
        ("events_before", f"""
            SELECT s.person_id, s.as_of, s.as_of_day - {d.days('e.ts')} AS age_days,
                   e.kind, e.amount, e.status, COALESCE({days_late}, 0.0) AS days_late, {counterparty} AS counterparty,
                   CASE WHEN e.status IN {_in(GOOD_STATUSES)} THEN 1 ELSE 0 END AS is_good,
                   CASE WHEN e.status IN {_in(BAD_STATUSES)} THEN 1 ELSE 0 END AS is_bad,
                   CASE WHEN e.status IN {_in(SEVERE_STATUSES)} THEN 1 ELSE 0 END AS is_severe,
                   CASE WHEN e.status <> 'open' THEN 1 ELSE 0 END AS is_outcome
            FROM spine_d s JOIN events e ON e.person_id = s.person_id AND e.ts < s.as_of"""),
        # Runs of consecutive broken commitments (gaps and islands over outcome events in time order).
        ("bad_runs", """
            SELECT person_id, as_of, COUNT(*) AS run_length, MIN(age_days) AS run_end_age,
                   MIN(last_outcome_age) AS last_outcome_age
            FROM (
                SELECT person_id, as_of, is_bad, age_days,
                       MIN(age_days) OVER (PARTITION BY person_id, as_of) AS last_outcome_age,
                       ROW_NUMBER() OVER (PARTITION BY person_id, as_of ORDER BY age_days DESC)
                     - ROW_NUMBER() OVER (PARTITION BY person_id, as_of, is_bad ORDER BY age_days DESC) AS run_id
                FROM events_before WHERE is_outcome = 1
            ) o
            WHERE is_bad = 1
            GROUP BY person_id, as_of, run_id"""),
        # 30-day cycles counted back from as_of (cycle 0 = the last 30 days): what was paid in a cycle
        # against the statements of the cycle before it, the way a card's payment settles last month's bill.
        ("cycle_totals", """
            SELECT person_id, as_of, FLOOR(age_days / 30) AS cycle,
                   SUM(CASE WHEN kind IN ('repayment', 'instalment') THEN amount ELSE 0 END) AS paid,
                   SUM(CASE WHEN kind = 'bill' THEN GREATEST(amount, 0) ELSE 0 END) AS billed
            FROM events_before GROUP BY person_id, as_of, FLOOR(age_days / 30)"""),
        ("cycles", """
            SELECT c.person_id, c.as_of, c.cycle, c.paid, c.billed, p.billed AS prev_billed,
                   c.paid / NULLIF(p.billed, 0) AS paid_to_prev_billed
            FROM cycle_totals c LEFT JOIN cycle_totals p
              ON p.person_id = c.person_id AND p.as_of = c.as_of AND p.cycle = c.cycle + 1"""),
        # Distinct neighbours connected before the focal as_of, in either direction.
        ("neighbour_pairs", f"""
            SELECT s.person_id, s.as_of, x.nb,
                   SUM(x.weight) AS weight,
                   MIN(s.as_of_day - {d.days('x.ts')}) AS edge_age_days,
                   MAX(x.incoming) AS incoming,
                   SUM(CASE WHEN x.incoming = 1 THEN x.weight ELSE 0 END) AS incoming_weight,
                   SUM(CASE WHEN x.incoming = 1 AND x.weight < 0 THEN 1 ELSE 0 END) AS incoming_negative
            FROM spine_d s JOIN (
                SELECT source AS me, target AS nb, weight, ts, 0 AS incoming FROM relations
                UNION ALL
                SELECT target AS me, source AS nb, weight, ts, 1 AS incoming FROM relations
            ) x ON x.me = s.person_id AND x.ts < s.as_of
            WHERE x.nb <> s.person_id
            GROUP BY s.person_id, s.as_of, x.nb"""),
        # Each neighbour's own history, cut at the focal person's as_of (never the neighbour's outcome).
        ("neighbour_history", f"""
            SELECT h.nb, h.as_of, COUNT(*) AS nb_outcomes,
                   SUM(CASE WHEN e.status IN {_in(BAD_STATUSES)} THEN 1 ELSE 0 END) AS nb_bad,
                   SUM(CASE WHEN e.status IN {_in(SEVERE_STATUSES)} THEN 1 ELSE 0 END) AS nb_severe
            FROM (SELECT DISTINCT nb, as_of FROM neighbour_pairs) h
            JOIN events e ON e.person_id = h.nb AND e.ts < h.as_of AND e.status <> 'open'
            GROUP BY h.nb, h.as_of"""),
        ("neighbours", """
            SELECT p.person_id, p.as_of, p.nb, p.weight, p.edge_age_days, p.incoming, p.incoming_weight,
                   p.incoming_negative,
                   COALESCE(h.nb_outcomes, 0) AS nb_outcomes, COALESCE(h.nb_bad, 0) AS nb_bad,
                   COALESCE(h.nb_severe, 0) AS nb_severe
            FROM neighbour_pairs p LEFT JOIN neighbour_history h ON h.nb = p.nb AND h.as_of = p.as_of"""),
    ]
