"""Ingest's events table written history file by history file: each file's events become a Parquet part of
the events table in the staging directory as soon as they are read and checked, and leave memory.

Why: a modeller's histories can be tens of millions of rows over several files (instalments, monthly
balances, a bureau's months). Held all at once and then copied into one frame, they needed several times one
file's size; written part by part, ingest holds one file's events at a time. Each part is sorted
by person and time, which is what the stored table's readers skip row groups by.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from deepcredit.data.io import atomic_write_parquet, atomic_write_parquet_slices
from deepcredit.data.ledger import month_ended

SLICE_ROWS = 1_000_000
"""Rows of a part converted and written at a time."""
UNBOUNDED = pd.Timestamp("9999-12-31")
"""No cap: a month-dated event moved to its month's end before the data's last date is known."""


class StagedEvents:
    """The parts of the events table written so far, with the dates ingest needs of them: the earliest of
    any date and the latest event time (without due dates), before and after month-dated times moved."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.parts: list[Path] = []
        self.written_latest: list[pd.Timestamp] = []  # of each part, as stored
        self.read_latest: list[pd.Timestamp] = []  # of each part, as the file wrote its times
        self.earliest: list[pd.Timestamp] = []

    def add(self, events: pd.DataFrame, month_cap: pd.Timestamp | None = None) -> None:
        """Store one history file's events as the next part (the frame is taken over: its times may be
        moved in place); with `month_cap` (dates written as months), each time moved to its month's end
        first (ledger.month_ended), no later than the cap."""
        self.read_latest.append(_latest(events))
        if month_cap is not None and len(events):
            events["ts"] = month_ended(events["ts"], month_cap)
        self.written_latest.append(_latest(events))
        self.earliest.append(_earliest(events))
        # sorted by person and time, written a slice at a time: no sorted copy of the whole file's events
        person = pd.factorize(events["person_id"], sort=True)[0]
        order = np.lexsort((events["ts"].to_numpy().view("int64"), person))
        schema = _plain_text(pa.Schema.from_pandas(events.iloc[:0], preserve_index=False))
        slices = (pa.Table.from_pandas(events.iloc[order[a:a + SLICE_ROWS]], schema=schema, preserve_index=False)
                  for a in range(0, max(len(events), 1), SLICE_ROWS))
        path = self.folder / f"part-{len(self.parts):04d}.parquet"
        atomic_write_parquet_slices(path, schema, slices)
        self.parts.append(path)

    def cap_times(self, cap: pd.Timestamp) -> None:
        """Times later than `cap` become `cap`, part by part (only parts holding such times are rewritten)."""
        for i, path in enumerate(self.parts):
            if self.written_latest[i] is not pd.NaT and self.written_latest[i] > cap:
                table = pq.read_table(path)
                ts = table.schema.field("ts")
                capped = pc.min_element_wise(table["ts"], pa.scalar(cap.to_pydatetime(), type=ts.type))
                atomic_write_parquet(path, table.set_column(table.schema.get_field_index("ts"), ts, capped))
                self.written_latest[i] = cap

    def same_columns(self) -> None:
        """Every part with the columns of all (a column one history file lacks is empty in its part), so the
        parts read as one table; parts that already have them are left as written."""
        schemas = [pq.read_schema(p) for p in self.parts]
        if len(schemas) < 2:
            return
        whole = pa.unify_schemas([s.remove_metadata() for s in schemas])
        for path, schema in zip(self.parts, schemas, strict=True):
            if schema.names == whole.names:
                continue
            table = pq.read_table(path)
            table = pa.table({f.name: table[f.name] if f.name in schema.names else pa.nulls(len(table), f.type)
                              for f in whole})
            atomic_write_parquet(path, table)

    def read(self, columns: list[str]) -> pd.DataFrame:
        """The named columns (those the parts have) of every part, as one frame."""
        have = set(pq.read_schema(self.parts[0]).names) if self.parts else set()
        frames = [pd.read_parquet(p, columns=[c for c in columns if c in have]) for p in self.parts]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))

    @property
    def latest(self) -> list[pd.Timestamp]:
        return [t for t in self.written_latest if t is not pd.NaT]

    @property
    def latest_as_read(self) -> list[pd.Timestamp]:
        return [t for t in self.read_latest if t is not pd.NaT]

    @property
    def first(self) -> list[pd.Timestamp]:
        return [t for t in self.earliest if t is not pd.NaT]


def _plain_text(schema: pa.Schema) -> pa.Schema:
    """Text columns as one Arrow type (pandas' two string dtypes become `string` and `large_string`), so the
    parts of one table share their schema."""
    fields = [pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _latest(events: pd.DataFrame) -> pd.Timestamp:
    """The latest time an event became known (due dates, which may lie ahead, aside)."""
    return events["ts"].max() if len(events) and events["ts"].notna().any() else pd.NaT


def _earliest(events: pd.DataFrame) -> pd.Timestamp:
    dates = [events[c].min() for c in events.columns
             if pd.api.types.is_datetime64_any_dtype(events[c]) and events[c].notna().any()]
    return min(dates) if dates else pd.NaT
