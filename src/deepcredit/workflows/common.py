"""What every workflow shares: opening a data set by path or bundled name, and messages to the caller."""

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
    """A stored data set from a directory, or a bundled one (uci, otc) materialised once under `cache`."""
    path = Path(data)
    name = str(data)
    if path.exists() or name not in BUNDLED:
        return Dataset(path)
    target = Path(cache) / name
    if (target / "manifest.json").exists():
        return Dataset(target)
    on_message(f"loading bundled data set {name} into {target}")
    return load_bundled(name, target)
