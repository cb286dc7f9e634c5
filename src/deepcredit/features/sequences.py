"""Temporal view: each person's last events before as_of as padded arrays, for sequence models.

Built from the same `events_before` source as the tabular features, so the point-in-time cut is the
one in sources.py. Sequences are left-aligned in time order (oldest first); `lengths` says how many
positions are real, and position lengths-1 is the most recent event.

The kind and status vocabularies come from the data set's spec. A spec whose kinds and statuses all lie
in the canonical vocabulary (the simulator, UCI, OTC) keeps the canonical indexes KIND_VOCAB/STATUS_VOCAB,
so models trained before specs existed read the same codes; a data set without events has no sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepcredit.data.schema import EVENT_KINDS, EVENT_STATUSES
from deepcredit.data.spec import DatasetSpec
from deepcredit.features.sources import DUCKDB, legacy_spec, stages
from deepcredit.features.templates import sql_text

KIND_VOCAB = ("<pad>", *sorted(EVENT_KINDS))
STATUS_VOCAB = ("<pad>", *sorted(EVENT_STATUSES))
NUMERIC = ("signed_log_amount", "days_late_months", "log_gap_days", "log_age_days")
PERIODIC = ("weekday_sin", "weekday_cos", "year_sin", "year_cos")
"""Periodic time of each event (with_periodic): where in the week and the year it fell."""


@dataclass
class Sequences:
    kind: np.ndarray  # int64 [n, L], index into KIND_VOCAB (0 = padding)
    status: np.ndarray  # int64 [n, L], index into STATUS_VOCAB
    numeric: np.ndarray  # float32 [n, L, len(NUMERIC)]
    lengths: np.ndarray  # int64 [n]
    kind_vocab: tuple[str, ...] = KIND_VOCAB
    status_vocab: tuple[str, ...] = STATUS_VOCAB

    def take(self, rows: np.ndarray) -> Sequences:
        return Sequences(self.kind[rows], self.status[rows], self.numeric[rows], self.lengths[rows],
                         self.kind_vocab, self.status_vocab)


@dataclass
class Histories:
    """Event histories of people as of dates, labelled or not: what self-supervised pretraining reads.

    Row i is person_id[i]'s events strictly before as_of[i] (a temporal view built on any spine)."""

    sequences: Sequences
    person_id: np.ndarray
    as_of: np.ndarray  # datetime64

    def take(self, rows: np.ndarray) -> Histories:
        return Histories(self.sequences.take(rows), self.person_id[rows], self.as_of[rows])


def with_periodic(seq: Sequences, as_of: np.ndarray) -> Sequences:
    """`seq` with the PERIODIC channels appended to `numeric`: weekday and time of year of each event as
    sine/cosine pairs (padding stays 0).

    `as_of` holds each row's as-of date (aligned with the rows of `seq`); an event's date is as_of minus its
    age, recovered from the log_age_days channel (ln(1 + days), so exact to well under a day in float32).
    Only the row's own events before as_of are read: the point-in-time cut stays the one of events_before.
    """
    day0 = np.asarray(as_of, dtype="datetime64[s]").astype(np.float64) / 86400.0
    age = np.expm1(seq.numeric[..., NUMERIC.index("log_age_days")].astype(np.float64))
    day = day0[:, None] - age
    week, year = 2 * np.pi * day / 7.0, 2 * np.pi * day / 365.25
    per = np.stack([np.sin(week), np.cos(week), np.sin(year), np.cos(year)], axis=-1)
    per *= (seq.kind > 0)[..., None]
    numeric = np.concatenate([seq.numeric[..., : len(NUMERIC)], per.astype(np.float32)], axis=-1)
    return Sequences(seq.kind, seq.status, numeric, seq.lengths, seq.kind_vocab, seq.status_vocab)


def vocabularies(spec: DatasetSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kind vocabulary, status vocabulary) of a spec with events, index 0 the padding."""
    assert spec.events is not None
    kinds, statuses = set(spec.events.kinds), set(spec.events.statuses)
    kind_vocab = KIND_VOCAB if kinds <= EVENT_KINDS else ("<pad>", *sorted(kinds))
    status_vocab = STATUS_VOCAB if statuses <= EVENT_STATUSES else ("<pad>", *sorted(statuses))
    return kind_vocab, status_vocab


def build_sequences(session, max_len: int = 64) -> Sequences | None:
    """Padded sequences aligned with the spine ordered by (as_of, person_id); None without declared events."""
    con = session.con
    spec = session.spec or legacy_spec(session.people_columns, session.event_columns)
    if spec.events is None:
        return None
    names = {"spine_d", "events_before"}
    session.materialise([s for s in stages(DUCKDB, session.people_columns, session.event_columns, session.spec)
                         if s[0] in names])
    kind_vocab, status_vocab = vocabularies(spec)
    kinds = ", ".join(f"({sql_text(k)}, {i})" for i, k in enumerate(kind_vocab) if i)
    statuses = ", ".join(f"({sql_text(k)}, {i})" for i, k in enumerate(status_vocab) if i)
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
    return Sequences(kind, status, numeric, lengths, kind_vocab, status_vocab)
