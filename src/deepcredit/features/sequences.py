"""Temporal view: each person's last events before as_of as padded arrays, for sequence models.

Built from the same `events_before` source as the tabular features, so the point-in-time cut is the
one in sources.py. Sequences are left-aligned in time order (oldest first); `lengths` says how many
positions are real, and position lengths-1 is the most recent event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepcredit.data.schema import EVENT_KINDS, EVENT_STATUSES
from deepcredit.features.sources import DUCKDB, stages

KIND_VOCAB = ("<pad>", *sorted(EVENT_KINDS))
STATUS_VOCAB = ("<pad>", *sorted(EVENT_STATUSES))
NUMERIC = ("signed_log_amount", "days_late_months", "log_gap_days", "log_age_days")


@dataclass
class Sequences:
    kind: np.ndarray  # int64 [n, L], index into KIND_VOCAB (0 = padding)
    status: np.ndarray  # int64 [n, L], index into STATUS_VOCAB
    numeric: np.ndarray  # float32 [n, L, len(NUMERIC)]
    lengths: np.ndarray  # int64 [n]

    def take(self, rows: np.ndarray) -> Sequences:
        return Sequences(self.kind[rows], self.status[rows], self.numeric[rows], self.lengths[rows])


def build_sequences(session, max_len: int = 64) -> Sequences:
    """Padded sequences aligned with the spine ordered by (as_of, person_id)."""
    con = session.con
    names = {"spine_d", "events_before"}
    session.materialise([s for s in stages(DUCKDB, session.people_columns, session.event_columns)
                         if s[0] in names])
    kinds = ", ".join(f"('{k}', {i})" for i, k in enumerate(KIND_VOCAB) if i)
    statuses = ", ".join(f"('{k}', {i})" for i, k in enumerate(STATUS_VOCAB) if i)
    rows = con.execute(f"""
        WITH idx AS (SELECT person_id, as_of, ROW_NUMBER() OVER (ORDER BY as_of, person_id) - 1 AS row_id
                     FROM spine),
        recent AS (
            SELECT person_id, as_of, kind, status, amount, days_late, age_days,
                   LEAD(age_days) OVER (PARTITION BY person_id, as_of ORDER BY age_days, kind, status, amount)
                     - age_days AS gap,
                   ROW_NUMBER() OVER (PARTITION BY person_id, as_of ORDER BY age_days, kind, status, amount) AS rn
            FROM events_before
        ),
        kv(kind, k) AS (VALUES {kinds}), sv(status, s) AS (VALUES {statuses})
        SELECT i.row_id, r.rn, kv.k, sv.s,
               SIGN(r.amount) * LN(1 + ABS(r.amount)), r.days_late / 30.0, LN(1 + COALESCE(r.gap, 0)),
               LN(1 + r.age_days)
        FROM recent r JOIN idx i USING (person_id, as_of)
        JOIN kv USING (kind) JOIN sv USING (status)
        WHERE r.rn <= {int(max_len)}
    """).fetchnumpy()
    n = con.execute("SELECT COUNT(*) FROM spine").fetchone()[0]
    row = rows["row_id"].astype(np.int64)
    rn = rows["rn"].astype(np.int64)  # 1 = most recent
    lengths = np.bincount(row, minlength=n).astype(np.int64)
    pos = lengths[row] - rn  # oldest first
    kind = np.zeros((n, max_len), dtype=np.int64)
    status = np.zeros((n, max_len), dtype=np.int64)
    numeric = np.zeros((n, max_len, len(NUMERIC)), dtype=np.float32)
    kind[row, pos] = rows["k"]
    status[row, pos] = rows["s"]
    cols = [c for c in rows if c not in ("row_id", "rn", "k", "s")]
    for j, c in enumerate(cols):
        numeric[row, pos, j] = np.nan_to_num(rows[c].astype(np.float32))
    return Sequences(kind, status, numeric, lengths)
