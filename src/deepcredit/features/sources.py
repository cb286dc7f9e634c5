"""The staged sources every feature aggregates over, as named SELECT statements.

This is where point in time is enforced, once: every source joins the as-of spine and keeps only rows
strictly before each as_of (events by their timestamp, edges by the time they were first observed,
neighbours' histories by the *focal* person's as_of, profiles with attribute history by the version valid
strictly before as_of). Feature definitions cannot see anything else. What a status or an amount means
(kept, late, broken, open; owed, paid) comes from the data set's spec, never from its words.

The SQL is the common subset of DuckDB and Spark SQL; the only construct the dialects spell differently
(timestamp → fractional days since the epoch) goes through `Dialect.days`, and the key that tells spine
rows apart is the dialect's (`Dialect.key`). The engine materialises each
stage in order (a DuckDB temp table here, a cached Spark temp view at scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deepcredit.data.spec import DatasetSpec, builtin_spec
from deepcredit.data.spec_events import Events
from deepcredit.features.templates import (
    isin,
    no_commitment_condition,
    owed_condition,
    paid_condition,
    profile_column,
    sql_text,
)

FRAME_ORDER = "as_of, person_id"
"""The feature frame's row order: rows_sql numbers rows by it, DuckDB's `spine_d` too (Dialect.numbering), so
a row_id means the same row in every view."""


@dataclass(frozen=True)
class Dialect:
    name: str
    days_template: str
    key: tuple[str, ...] = ("person_id", "as_of")
    """The columns that tell spine rows apart in the steps' GROUP BY, PARTITION BY and joins. DuckDB numbers
    the spine rows in `spine_d` (row_id: each row's position in the feature frame's order, as rows_sql
    gives it) and keys every step by that integer: grouping and sorting millions of event rows on a text id
    and a timestamp cost more (a chunk of 100,000 people, step by step: the three largest event steps 2.7
    CPU seconds against 2.2, the sequences' statement 1.5 against 1.0). Spark keeps the pair: numbering
    rows in one order takes a single partition there."""

    def days(self, expr: str) -> str:
        """Fractional days since 1970-01-01 for a timestamp expression."""
        return self.days_template.format(expr)

    def keys(self, alias: str = "") -> str:
        """The key columns, each prefixed with `alias.` when given."""
        return ", ".join(f"{alias}.{k}" if alias else k for k in self.key)

    def same_key(self, a: str, b: str) -> str:
        """The join condition of two steps' rows on the key."""
        return " AND ".join(f"{a}.{k} = {b}.{k}" for k in self.key)

    def carried(self, alias: str) -> str:
        """', alias.row_id' where the key is the row number: what a step that keeps person_id and as_of (for
        joins on them) carries besides; nothing otherwise."""
        return "".join(f", {alias}.{k}" for k in self.key if k not in ("person_id", "as_of"))

    @property
    def numbering(self) -> str:
        """What `spine_d` adds to number its rows (DuckDB's row_id), or nothing."""
        return f", ROW_NUMBER() OVER (ORDER BY {FRAME_ORDER}) - 1 AS row_id" if "row_id" in self.key else ""


DUCKDB = Dialect("duckdb", "(epoch({}) / 86400.0)", key=("row_id",))
SPARK = Dialect("spark", "(CAST(unix_micros(CAST({} AS TIMESTAMP)) AS DOUBLE) / 1000000.0 / 86400.0)")
"""Microseconds, as DuckDB's epoch() keeps them (unix_timestamp would drop the fraction of a second), and
the same two divisions in DOUBLE (features/spark_engine.py makes Spark's decimal literals doubles), so
both engines compute the same bits."""


NULL_MEASURE = {"numeric": "CAST(NULL AS DOUBLE)", "categorical": "CAST(NULL AS VARCHAR)"}
"""A measure on a row that does not record it (an event reported to the service), by Measure.type."""


def legacy_spec(people_columns: set[str], event_columns: set[str]) -> DatasetSpec:
    """The spec of a data set stored without one: the simulator's canonical tables, cut to what it has."""
    return builtin_spec("simulator").restricted(people_columns, event_columns)


def _profile(d: Dialect, spec: DatasetSpec, people_columns: set[str], every_column: bool = False) -> str:
    """One row per (person, as_of): the declared attributes, dates as days before as_of. With attribute
    history, the row valid strictly before as_of (rows without a date hold since always).

    every_column: also pass through undeclared people columns as they are (callers that give no spec, so
    definitions read from an artifact still find their columns)."""
    cols: list[tuple[str, str]] = []  # (expression, name)
    for a in spec.profile.attributes:
        if a.name not in people_columns:
            continue
        if a.type == "date":
            cols.append((f"CASE WHEN p.{a.name} < s.as_of THEN s.as_of_day - {d.days(f'p.{a.name}')} END",
                         profile_column(a)))
        elif a.code_feature:  # codes read as missing by every template; their meaning in a column of its own
            codes = {repr(float(v)): meaning for v, meaning in a.special.items()}
            cols.append((f"CASE WHEN p.{a.name} IN ({', '.join(codes)}) THEN NULL ELSE p.{a.name} END", a.name))
            cols.append((f"CASE p.{a.name} {' '.join(f'WHEN {v} THEN {sql_text(m)}' for v, m in codes.items())} "
                         "END", a.code_feature))
        else:
            cols.append((f"p.{a.name}", a.name))
    if every_column:
        declared = {a.name for a in spec.profile.attributes} | {"person_id", "valid_from"}
        cols += [(f"p.{c}", c) for c in sorted(people_columns - declared)]
    select = "".join(f", {expr} AS {name}" for expr, name in cols)
    if not spec.profile.valid_from or "valid_from" not in people_columns:
        return f"""
            SELECT {d.keys('s')}{select}
            FROM spine_d s JOIN people p ON p.person_id = s.person_id"""
    return f"""
            SELECT {d.keys()}{"".join(f", {name}" for _, name in cols)} FROM (
                SELECT {d.keys('s')}{select},
                       ROW_NUMBER() OVER (PARTITION BY {d.keys('s')}
                                          ORDER BY p.valid_from DESC NULLS LAST) AS version
                FROM spine_d s JOIN people p
                  ON p.person_id = s.person_id AND (p.valid_from IS NULL OR p.valid_from < s.as_of)
            ) v WHERE version = 1"""


def stages(d: Dialect, people_columns: set[str], event_columns: set[str],
           spec: DatasetSpec | None = None) -> list[tuple[str, str]]:
    """Named SELECT statements in dependency order; `spine(person_id, as_of, label)` must exist.

    What a status or an amount means comes from `spec` (default: the simulator's vocabulary). Optional
    event columns a data set lacks (days_late, counterparty) read as NULL. Without declared events there
    are no event stages, without declared relations no neighbour stages.
    """
    legacy = spec is None
    spec = spec or legacy_spec(people_columns, event_columns)
    days_late = "e.days_late" if "days_late" in event_columns else "CAST(NULL AS DOUBLE)"
    counterparty = "e.counterparty" if "counterparty" in event_columns else "CAST(NULL AS VARCHAR)"
    steps = [
        ("spine_d", f"SELECT person_id, as_of, label, {d.days('as_of')} AS as_of_day{d.numbering} FROM spine"),
        ("profile", _profile(d, spec, people_columns, every_column=legacy)),
    ]
    ev = spec.events
    none: frozenset[str] = frozenset()
    bad, severe = (ev.negative_statuses, ev.statuses_meaning("broken")) if ev else (none, none)
    kept, open_ = (ev.statuses_meaning("kept"), ev.statuses_meaning("open")) if ev else (none, none)
    flows = ev.flow_kinds if ev else none
    if ev is not None:
        steps += _event_stages(d, ev, days_late, counterparty, kept, bad, severe, open_, event_columns,
                               spec.windows.period)
    if spec.relations is not None:
        steps += _neighbour_stages(d, bad, severe, open_, flows, no_commitment_condition(ev, "e.") if ev else None,
                                   spec.relations.counted_kinds)
    return steps


def _event_stages(d: Dialect, ev: Events, days_late: str, counterparty: str, kept: frozenset[str],
                  bad: frozenset[str], severe: frozenset[str], open_: frozenset[str],
                  event_columns: set[str], period: int) -> list[tuple[str, str]]:
    paid = paid_condition(ev) if ev.kinds_amount("paid") else "1 = 0"
    owed = owed_condition(ev)
    # each declared measure (a statement's balance); empty where the table lacks it (a served event)
    measures = "".join(f",\n                   {f'e.{m.name}' if m.name in event_columns else NULL_MEASURE[m.type]}"
                       f" AS {m.name}" for m in ev.measures)
    def flag(cond: str) -> str:
        return f"CASE WHEN {_commitment(ev.flow_kinds)}{cond} THEN 1 ELSE 0 END"

    # days from each row's due date to as_of (owed_condition: an open row not yet due is not yet owed)
    due_age = f"s.as_of_day - {d.days('e.due_ts')}" if "due_ts" in event_columns else "CAST(NULL AS DOUBLE)"
    outcome = f"NOT ({isin('e.status', open_)})"
    if refund := no_commitment_condition(ev, "e."):  # a refund owes nothing: no commitment kept or broken
        outcome += f" AND NOT ({refund})"

    return [
        ("events_before", f"""
            SELECT s.person_id, s.as_of{d.carried('s')}, s.as_of_day - {d.days('e.ts')} AS age_days,
                   e.kind, e.amount, e.status, COALESCE({days_late}, 0.0) AS days_late, {counterparty} AS counterparty,
                   {flag(isin('e.status', kept))} AS is_good,
                   {flag(isin('e.status', bad))} AS is_bad,
                   {flag(isin('e.status', severe))} AS is_severe,
                   {flag(outcome)} AS is_outcome, {due_age} AS due_age_days{measures}
            FROM spine_d s JOIN events e ON e.person_id = s.person_id AND e.ts < s.as_of"""),
        # Runs of consecutive broken commitments: a broken one's run is told by how many kept ones are as
        # recent or more (a running count over time, newest first). Events on the same day are peers of the
        # count, so a day with a kept and a broken commitment ends the run before it, on either engine, in
        # any row order (numbering rows instead would split or join runs at random where dates tie).
        ("bad_runs", f"""
            SELECT {d.keys()}, COUNT(*) AS run_length, MIN(age_days) AS run_end_age,
                   MIN(last_outcome_age) AS last_outcome_age, run_id AS kept_since
            FROM (
                SELECT {d.keys()}, is_bad, age_days,
                       MIN(age_days) OVER (PARTITION BY {d.keys()}) AS last_outcome_age,
                       SUM(1 - is_bad) OVER (PARTITION BY {d.keys()} ORDER BY age_days
                                             RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_id
                FROM events_before WHERE is_outcome = 1
            ) o
            WHERE is_bad = 1
            GROUP BY {d.keys()}, run_id"""),
        # Billing periods ([windows] period, 30 days by default) counted back from as_of (cycle 0 = the last
        # period): what was paid in a cycle against the statements of the cycle before it, the way a card's
        # payment settles last month's bill.
        ("cycle_totals", f"""
            SELECT {d.keys()}, FLOOR(age_days / {period}) AS cycle,
                   SUM(CASE WHEN {paid} THEN amount ELSE 0 END) AS paid,
                   SUM(CASE WHEN {owed} THEN GREATEST(amount, 0) ELSE 0 END) AS billed
            FROM events_before GROUP BY {d.keys()}, FLOOR(age_days / {period})"""),
        ("cycles", f"""
            SELECT {d.keys('c')}, c.cycle, c.paid, c.billed, p.billed AS prev_billed,
                   c.paid / NULLIF(p.billed, 0) AS paid_to_prev_billed
            FROM cycle_totals c LEFT JOIN cycle_totals p
              ON {d.same_key('p', 'c')} AND p.cycle = c.cycle + 1"""),
    ]


def _commitment(flows: frozenset[str]) -> str:
    """`NOT kind IN flows AND `: the condition that an event (`e`) is a commitment, not money only (a kind
    with commitment = false), to go before another; nothing where every kind is a commitment, so such a
    spec's SQL stays as it was."""
    return f"NOT ({isin('e.kind', flows)}) AND " if flows else ""


def _neighbour_stages(d: Dialect, bad: frozenset[str], severe: frozenset[str], open_: frozenset[str],
                      flows: frozenset[str], refund: str | None = None,
                      kinds: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The focal person's neighbours and each one's outcomes before the focal as_of (`refund`: rows that are
    no commitment, as in the person's own is_outcome; `kinds`: (kind, label) pairs whose links are flagged
    per neighbour as `kind_<label>`, 1 where the pair is linked by that kind)."""
    not_refund = f" AND NOT ({refund})" if refund else ""
    by_kind = "".join(f",\n                   MAX(CASE WHEN x.kind = {sql_text(kind)} THEN 1 ELSE 0 END) "
                      f"AS kind_{label}" for kind, label in kinds)
    carried = "".join(f", p.kind_{label}" for _, label in kinds)
    return [
        # Distinct neighbours connected before the focal as_of, in either direction.
        ("neighbour_pairs", f"""
            SELECT s.person_id, s.as_of{d.carried('s')}, x.nb,
                   SUM(x.weight) AS weight,
                   MIN(s.as_of_day - {d.days('x.ts')}) AS edge_age_days,
                   MAX(x.incoming) AS incoming,
                   SUM(CASE WHEN x.incoming = 1 THEN x.weight ELSE 0 END) AS incoming_weight,
                   SUM(CASE WHEN x.incoming = 1 AND x.weight < 0 THEN 1 ELSE 0 END) AS incoming_negative{by_kind}
            FROM spine_d s JOIN (
                SELECT source AS me, target AS nb, weight, ts, kind, 0 AS incoming FROM relations
                UNION ALL
                SELECT target AS me, source AS nb, weight, ts, kind, 1 AS incoming FROM relations
            ) x ON x.me = s.person_id AND x.ts < s.as_of
            WHERE x.nb <> s.person_id
            GROUP BY s.person_id, s.as_of{d.carried('s')}, x.nb"""),
        # Each neighbour's own history, cut at the focal person's as_of (never the neighbour's outcome).
        ("neighbour_history", f"""
            SELECT h.nb, h.as_of, COUNT(*) AS nb_outcomes,
                   SUM(CASE WHEN {isin('e.status', bad)} THEN 1 ELSE 0 END) AS nb_bad,
                   SUM(CASE WHEN {isin('e.status', severe)} THEN 1 ELSE 0 END) AS nb_severe
            FROM (SELECT DISTINCT nb, as_of FROM neighbour_pairs) h
            JOIN events e ON e.person_id = h.nb AND e.ts < h.as_of AND {_commitment(flows)}NOT ({isin('e.status', open_)}){not_refund}
            GROUP BY h.nb, h.as_of"""),
        ("neighbours", f"""
            SELECT p.person_id, p.as_of{d.carried('p')}, p.nb, p.weight, p.edge_age_days, p.incoming, p.incoming_weight,
                   p.incoming_negative{carried},
                   COALESCE(h.nb_outcomes, 0) AS nb_outcomes, COALESCE(h.nb_bad, 0) AS nb_bad,
                   COALESCE(h.nb_severe, 0) AS nb_severe
            FROM neighbour_pairs p LEFT JOIN neighbour_history h ON h.nb = p.nb AND h.as_of = p.as_of"""),
    ]
