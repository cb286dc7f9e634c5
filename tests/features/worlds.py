"""Tiny hand-made worlds for feature tests: every number in them can be checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepcredit.data.dataset import Dataset, write_dataset

AS_OF = pd.Timestamp("2025-01-01")


def ts(day_offset: float) -> pd.Timestamp:
    """A timestamp `day_offset` days after AS_OF (negative: before)."""
    return AS_OF + pd.Timedelta(days=day_offset)


def frames(n_people: int = 60, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"p{i:03d}" for i in range(n_people)]
    people = pd.DataFrame({
        "person_id": ids,
        "sex": rng.choice(["female", "male"], n_people),
        "age": rng.integers(20, 70, n_people).astype(float),
        "education": rng.choice(["university", "high_school"], n_people),
        "identity_verified": rng.random(n_people) < 0.7,
        "joined_at": [ts(-d) for d in rng.integers(30, 900, n_people)],
        "credit_limit": rng.integers(1, 20, n_people) * 1000.0,
    })
    statuses = ["on_time", "late", "missed", "paid_full", "revolving", "open"]
    kinds = ["repayment", "bill", "rental", "order", "utility"]
    rows = []
    for pid in ids:
        for _ in range(rng.integers(0, 25)):
            kind = rng.choice(kinds)
            status = "open" if kind == "bill" else rng.choice(statuses[:5], p=[0.6, 0.2, 0.05, 0.1, 0.05])
            rows.append((pid, ts(-float(rng.uniform(1, 700))), kind, float(rng.uniform(10, 900)), status,
                         30.0 if status == "late" else (60.0 if status == "missed" else 0.0),
                         f"m{rng.integers(0, 8)}"))
    events = pd.DataFrame(rows, columns=["person_id", "ts", "kind", "amount", "status", "days_late",
                                         "counterparty"])
    src = rng.integers(0, n_people, n_people * 3)
    dst = rng.integers(0, n_people, n_people * 3)
    keep = src != dst
    relations = pd.DataFrame({
        "source": [ids[i] for i in src[keep]], "target": [ids[i] for i in dst[keep]],
        "kind": "contact", "weight": rng.choice([-1.0, 1.0, 2.0], keep.sum()),
        "ts": [ts(-float(d)) for d in rng.uniform(1, 700, keep.sum())],
    })
    outcomes = pd.DataFrame({"person_id": ids, "as_of": AS_OF, "label": rng.integers(0, 2, n_people),
                             "window_days": 180})
    return {"people": people, "events": events, "relations": relations, "outcomes": outcomes}


def store(root: Path, tables: dict[str, pd.DataFrame], name: str = "tiny") -> Dataset:
    for t in tables.values():
        for c in t.columns:
            if pd.api.types.is_datetime64_any_dtype(t[c]):
                t[c] = t[c].astype("datetime64[us]")
    return write_dataset(root, tables, name=name, snapshot_date="2026-01-01")
