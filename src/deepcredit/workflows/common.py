"""What every workflow shares: opening a data set by path or bundled name, its row counts, and messages to the
caller."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deepcredit.data.dataset import Dataset
from deepcredit.data.datasets import BUNDLED, load_bundled

MessageFn = Callable[[str], None]
BUNDLED_CACHE = Path("runs/data")


def _quiet(_: str) -> None:
    return None


def open_dataset(data: str | Path, cache: Path = BUNDLED_CACHE, on_message: MessageFn = _quiet) -> Dataset:
    """A stored data set from a directory, or a bundled one (uci, otc, german) materialised once under `cache`."""
    path = Path(data)
    name = str(data)
    if path.exists() or name not in BUNDLED:
        return Dataset(path)
    target = Path(cache) / name
    if (target / "manifest.json").exists():
        return Dataset(target)
    on_message(f"loading bundled data set {name} into {target}")
    return load_bundled(name, target)


def row_counts(ds: Dataset) -> str:
    """'people: 1,000, events: 50,000, ...' for a stored data set. Where people has a row per profile version
    (attribute history), people counts persons and the versions follow: 'people: 2,000 (2,603 profile
    versions)', so a load checks against the customer count."""
    tables = ds.manifest.tables
    persons = ds.persons()
    return ", ".join(f"{t}: {persons:,} ({e['rows']:,} profile versions)" if t == "people" and persons != e["rows"]
                     else f"{t}: {e['rows']:,}" for t, e in tables.items())
