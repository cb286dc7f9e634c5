"""Temporal view: each person's last events before as_of as padded arrays, for sequence models.

Built from the same `events_before` source as the tabular features, so the point-in-time cut is the
one in sources.py. Sequences are left-aligned in time order (oldest first); `lengths` says how many
positions are real, and position lengths-1 is the most recent event.

The kind and status vocabularies come from the data set's spec. A spec whose kinds and statuses all lie
in the canonical vocabulary (the simulator, UCI, OTC) keeps the canonical indexes KIND_VOCAB/STATUS_VOCAB,
so models trained before specs existed read the same codes; a data set without events has no sequences.
Each measure the spec declares adds channels after the NUMERIC ones (Coding.measures): a number's signed
log, or, for a category, one 0/1 channel per declared value, and, where it declares `buckets`, one code
channel: the value's hash bucket (1..buckets; 0 where the row records none), which the towers embed
(models.towers.SequenceTower) instead of reading as a number. The coding is the spec's, so DuckDB, Spark and
the service code the same events the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np

from deepcredit.data.schema import EVENT_KINDS, EVENT_STATUSES
from deepcredit.data.spec import DatasetSpec
from deepcredit.data.spec_events import Measure
from deepcredit.features.engine import SPINE_ROWS, FeatureSession, over_steps
from deepcredit.features.sources import legacy_spec, stages
from deepcredit.features.templates import sql_text

KIND_VOCAB = ("<pad>", *sorted(EVENT_KINDS))
STATUS_VOCAB = ("<pad>", *sorted(EVENT_STATUSES))
NUMERIC = ("signed_log_amount", "days_late_months", "log_gap_days", "log_age_days")
SEQUENCE_WORDS = ("kind", "status", "amount (signed log)", "days late", "days since the previous event",
                  "age", "weekday and time of year (pretrained and hybrid members)")
"""What every event carries into a sequence member, in words (`spec check`); declared measures follow."""
PERIODIC = ("weekday_sin", "weekday_cos", "year_sin", "year_cos")
"""Periodic time of each event (with_periodic): where in the week and the year it fell."""


@dataclass(frozen=True)
class MeasureChannel:
    """One numeric channel a declared measure adds to each event."""

    name: str
    """measure:balance for a number; measure:channel=atm for a category's value (never a NUMERIC name)."""
    column: str
    """The measure's column of events_before."""
    sql: str
    """Its value, over the columns of events_before (alias r); NaN where the row does not record the measure
    (an event a merchant reported, another file's row): unknown, which models read as the training mean
    (models.sequence.SequencePrep), not as a balance of 0."""
    dimension: str
    """The measure's dimension: the group its channel is explained in (models.towers.sequence_groups)."""
    buckets: int = 0
    """A code channel's number of hash buckets (its values 1..buckets, NaN where not recorded); 0: a number."""

    @property
    def described(self) -> tuple[str, str] | tuple[str, str, int]:
        """(name, dimension), and the buckets of a code channel: how Sequences and towers know it."""
        return (self.name, self.dimension, self.buckets) if self.buckets else (self.name, self.dimension)


def measure_channels(measure: Measure) -> tuple[MeasureChannel, ...]:
    """A number as its signed log (amounts' scale, whatever the unit); a category as one channel per
    declared value, 1 where the row holds it, 0 where it holds another; NaN where the row records none."""
    col, dim, unknown = f"r.{measure.name}", measure.dimension.value, "CAST('NaN' AS DOUBLE)"
    if measure.type == "numeric":
        return (MeasureChannel(f"measure:{measure.name}", measure.name,
                               f"COALESCE(SIGN({col}) * LN(1 + ABS({col})), {unknown})", dim),)
    shares = tuple(MeasureChannel(f"measure:{measure.name}={share.label_for(value)}", measure.name,
                                  f"CASE WHEN {col} IS NULL THEN {unknown} WHEN {col} = {sql_text(value)} THEN 1.0 "
                                  "ELSE 0.0 END", dim)
                   for value, share in measure.values.items())
    if not measure.buckets:
        return shares
    code = MeasureChannel(f"measure:{measure.name}", measure.name,
                          f"CASE WHEN {col} IS NULL THEN {unknown} ELSE 1 + {hash_bucket(col, measure.buckets)} END",
                          dim, measure.buckets)
    return (*shares, code)


HEX_DIGITS = "0123456789abcdef"


def hash_bucket(column: str, buckets: int) -> str:
    """SQL for a text's bucket in 0..buckets-1: the first 16 bits of its MD5 (lower-case hex in DuckDB and in
    Spark alike, read digit by digit with instr, which both have) modulo `buckets`."""
    digits = [f"(INSTR('{HEX_DIGITS}', SUBSTR(MD5({column}), {i + 1}, 1)) - 1) * {16 ** (3 - i)}" for i in range(4)]
    return f"(({' + '.join(digits)}) % {int(buckets)})"


def code_columns(measures: Sequence[Sequence[object]]) -> list[tuple[int, int]]:
    """(column of `numeric`, buckets) of each code channel among Sequences.measures (described triples)."""
    return [(len(NUMERIC) + i, int(cast(int, m[2]))) for i, m in enumerate(measures) if len(m) > 2]


@dataclass(frozen=True)
class Coding:
    """How a data set's events become sequence steps: its vocabularies and its measures' channels."""

    kind_vocab: tuple[str, ...] = KIND_VOCAB
    status_vocab: tuple[str, ...] = STATUS_VOCAB
    measures: tuple[MeasureChannel, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """The measure columns the channels read, each once: the last tie-breakers of an events' order."""
        return tuple(dict.fromkeys(m.column for m in self.measures))

    @property
    def channels(self) -> tuple[str, ...]:
        """SQL aliases of the numeric channels, in order: the NUMERIC names, then m0, m1, ... per measure."""
        return (*NUMERIC, *(f"m{i}" for i in range(len(self.measures))))

    @property
    def fields(self) -> tuple[str, ...]:
        """Every coded column of a step, as sequence_sql names them: rn, k, s, then the channels."""
        return ("rn", "k", "s", *self.channels)

    @property
    def dimensions(self) -> tuple[tuple[str, str] | tuple[str, str, int], ...]:
        return tuple(m.described for m in self.measures)


@dataclass
class Sequences:
    kind: np.ndarray  # int64 [n, L], index into KIND_VOCAB (0 = padding)
    status: np.ndarray  # int64 [n, L], index into STATUS_VOCAB
    numeric: np.ndarray  # float32 [n, L, channels]: NUMERIC, then the measures' (then PERIODIC: with_periodic)
    lengths: np.ndarray  # int64 [n]
    kind_vocab: tuple[str, ...] = KIND_VOCAB
    status_vocab: tuple[str, ...] = STATUS_VOCAB
    measures: tuple[tuple[str, str] | tuple[str, str, int], ...] = ()
    """(channel name, dimension) of each measure channel, in their order after the NUMERIC ones; a code
    channel's also has its buckets (MeasureChannel.described)."""

    def take(self, rows: np.ndarray) -> Sequences:
        return replace(self, kind=self.kind[rows], status=self.status[rows], numeric=self.numeric[rows],
                       lengths=self.lengths[rows])

    def channel_config(self) -> dict:
        """What a SequenceTower over these events is built with, and checks them by (models.sequence.
        same_channels): how many numeric channels, and the measures' (channel name, dimension) pairs (with
        the buckets of a code channel)."""
        return {"n_numeric": self.numeric.shape[-1], "measures": [list(m) for m in self.measures]}


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
    own = len(NUMERIC) + len(seq.measures)
    return replace(seq, numeric=np.concatenate([seq.numeric[..., :own], per.astype(np.float32)], axis=-1))


def coding(spec: DatasetSpec) -> Coding:
    """The sequence coding of a spec with events: vocabularies (index 0 the padding) and measure channels."""
    assert spec.events is not None
    kinds, statuses = set(spec.events.kinds), set(spec.events.statuses)
    kind_vocab = KIND_VOCAB if kinds <= EVENT_KINDS else ("<pad>", *sorted(kinds))
    status_vocab = STATUS_VOCAB if statuses <= EVENT_STATUSES else ("<pad>", *sorted(statuses))
    return Coding(kind_vocab, status_vocab, tuple(c for m in spec.events.measures for c in measure_channels(m)))


def sequence_sql(code: Coding, max_len: int, key: Sequence[str] = ("person_id", "as_of")) -> str:
    """The last `max_len` events of each spine row (`key`: the columns that tell them apart, those of the
    engine's dialect, sources.Dialect.key) in `events_before`, coded: the key, rn (1 = the most recent; ties
    broken by kind, status, amount, days late and the measures, every column a step carries, so rows still
    tied are the same step), k and s (vocabulary indexes) and the numeric channels (Coding.channels).
    Common SQL, so DuckDB and Spark cut and order sequences the same way.

    Ties are ordered by the kind's and status's vocabulary indexes, which follow their text's order (each
    vocabulary is sorted), so on integers rather than text. An event whose kind or status lies outside the
    vocabulary (none passes validation) still takes its place in the numbering but is left out, as before."""
    kinds = ", ".join(f"({sql_text(k)}, {i})" for i, k in enumerate(code.kind_vocab) if i)
    statuses = ", ".join(f"({sql_text(k)}, {i})" for i, k in enumerate(code.status_vocab) if i)
    order = "".join(f", r.{c} NULLS LAST" for c in code.columns)  # the engines differ on where NULLs go by default
    columns = "".join(f", r.{c}" for c in code.columns)
    keys = ", ".join(f"r.{k}" for k in key)
    # a row without an amount (a neutral kind's may be empty) orders as 0 on both engines, as it is read
    window = (f"PARTITION BY {keys} ORDER BY r.age_days, kv.k NULLS LAST, sv.s NULLS LAST, COALESCE(r.amount, 0), "
              f"r.days_late{order}")
    measures = "".join(f",\n               {m.sql} AS {alias}"
                       for m, alias in zip(code.measures, code.channels[len(NUMERIC):], strict=True))
    return f"""
        WITH kv(kind, k) AS (VALUES {kinds}), sv(status, s) AS (VALUES {statuses}),
        recent AS (
            SELECT {keys}, kv.k, sv.s, r.amount, r.days_late, r.age_days{columns},
                   LEAD(r.age_days) OVER ({window}) - r.age_days AS gap,
                   ROW_NUMBER() OVER ({window}) AS rn
            FROM events_before r LEFT JOIN kv ON kv.kind = r.kind LEFT JOIN sv ON sv.status = r.status
        )
        SELECT {", ".join(f"r.{k}" for k in key)}, r.rn, r.k, r.s,
               SIGN(r.amount) * LN(1 + ABS(r.amount)) AS {NUMERIC[0]}, r.days_late / 30.0 AS {NUMERIC[1]},
               LN(1 + COALESCE(r.gap, 0)) AS {NUMERIC[2]}, LN(1 + r.age_days) AS {NUMERIC[3]}{measures}
        FROM recent r
        WHERE r.rn <= {int(max_len)} AND r.k IS NOT NULL AND r.s IS NOT NULL"""


def pad(n: int, max_len: int, row: np.ndarray, rn: np.ndarray, k: np.ndarray, s: np.ndarray,
        numeric: list[np.ndarray], code: Coding) -> Sequences:
    """Padded arrays from the coded rows of `sequence_sql` (row: the spine row each belongs to; numeric: the
    columns of code.channels)."""
    # A chunk's arrays are large: each step writes into an array made once, not into fresh temporaries
    row, rn = row.astype(np.int64, copy=False), rn.astype(np.int64, copy=False)  # rn 1 = most recent
    lengths = np.bincount(row, minlength=n).astype(np.int64)
    if len(row) and int(lengths.max()) > max_len:  # a flat position past a row's end would land in the next
        raise ValueError(f"pad: a row holds {int(lengths.max())} events, more than max_len={max_len}")
    at = row * max_len  # then + its row's length - rn: oldest first; one flat position per event
    at += lengths[row]
    at -= rn
    kind = np.zeros(n * max_len, dtype=np.int64)
    status = np.zeros(n * max_len, dtype=np.int64)
    kind[at], status[at] = k, s
    width = len(numeric)
    channels = np.empty((len(at), width), dtype=np.float32)
    for j, col in enumerate(numeric):
        channels[:, j] = col  # as float32
    np.nan_to_num(channels[:, : len(NUMERIC)], copy=False)  # a measure not recorded stays NaN (MeasureChannel.sql)
    values = np.zeros((n * max_len, width), dtype=np.float32)
    values[at] = channels  # each event's channels as one row: one scatter instead of one per channel
    return Sequences(kind.reshape(n, max_len), status.reshape(n, max_len), values.reshape(n, max_len, width),
                     lengths, code.kind_vocab, code.status_vocab, code.dimensions)


def from_lists(lists: dict[str, np.ndarray], max_len: int, code: Coding) -> Sequences:
    """Padded arrays from per-row lists of the coded columns of `sequence_sql` (rn ascending; a row
    without events holds None or an empty list): what Spark's collect_list gives."""
    rn_lists = lists["rn"]
    n = len(rn_lists)
    lengths = np.fromiter((0 if x is None else len(x) for x in rn_lists), np.int64, count=n)
    row = np.repeat(np.arange(n, dtype=np.int64), lengths)

    def flat(name: str, dtype: type | None = None) -> np.ndarray:  # float: a None (NULL) becomes NaN
        parts = [np.asarray(x, dtype=dtype) for x in lists[name] if x is not None and len(x)]
        return np.concatenate(parts) if parts else np.zeros(0)

    return pad(n, max_len, row, flat("rn"), flat("k"), flat("s"), [flat(c, np.float64) for c in code.channels], code)


def build_sequences(session: FeatureSession, max_len: int = 64) -> Sequences | None:
    """Padded sequences aligned with the spine ordered by (as_of, person_id); None without declared events."""
    spec = session.spec or legacy_spec(session.people_columns, session.event_columns)
    if spec.events is None:
        return None
    names = {"spine_d", "events_before"}
    steps = [s for s in stages(session.dialect, session.people_columns, session.event_columns, session.spec)
             if s[0] in names]
    code = coding(spec)
    key = session.dialect.key
    coded = sequence_sql(code, max_len, key)
    fields = f"q.rn, q.k, q.s, {', '.join(f'q.{c}' for c in code.channels)}"
    rows = over_steps(session, steps, f"SELECT q.row_id, {fields} FROM ({coded}) q" if "row_id" in key else f"""
        WITH idx AS ({SPINE_ROWS})
        SELECT i.row_id, {fields}
        FROM ({coded}) q JOIN idx i ON i.person_id = q.person_id AND i.as_of = q.as_of""")
    n = int(session.numpy("SELECT COUNT(*) AS n FROM spine")["n"][0])
    return pad(n, max_len, rows["row_id"], rows["rn"], rows["k"], rows["s"], [rows[c] for c in code.channels], code)
