"""Bundled real data sets, mapped into the four tables (files/ holds the compressed originals)."""

from __future__ import annotations

from pathlib import Path

from deepcredit.data.dataset import Dataset, check_replaceable

BUNDLED = ("uci", "otc", "german")


def load_bundled(name: str, out: Path) -> Dataset:
    """Write the bundled data set `name` to `out` as a stored data set (an `out` that is not one is refused
    before the work)."""
    check_replaceable(Path(out))
    if name == "uci":
        from deepcredit.data.datasets.uci import build
    elif name == "otc":
        from deepcredit.data.datasets.otc import build
    elif name == "german":
        from deepcredit.data.datasets.german import build
    else:
        raise ValueError(f"unknown bundled data set {name!r}: choose one of {', '.join(BUNDLED)}")
    return build(Path(out))
