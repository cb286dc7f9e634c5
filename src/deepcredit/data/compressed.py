"""CSV files kept compressed (`events.csv.gz`, `people.csv.bz2`), as downloads and exports often are: read
as the text they hold, so every check, and every line an error names, is that of the decompressed text.

Arrow's CSV reader and pandas decompress by the same file-name suffixes; what DeepCredit opens itself (the
header, the first bytes it sniffs, the lines it counts for an error) goes through `open_text` and
`open_bytes`.
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

OPENERS: dict[str, Callable[..., IO[Any]]] = {".gz": gzip.open, ".bz2": bz2.open}


def plain_suffix(path: Path) -> str:
    """The file's suffix beneath any compression, lower case: ".csv" for rentals.csv.gz."""
    path = Path(path)
    suffix = path.suffix.lower()
    return Path(path.stem).suffix.lower() if suffix in OPENERS else suffix


def open_bytes(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed where its name says it is compressed."""
    return OPENERS.get(Path(path).suffix.lower(), open)(path, "rb")


def open_text(path: Path, encoding: str, errors: str = "strict") -> IO[str]:
    """The file's text (newline="" as the csv module wants), decompressed where its name says so."""
    opener = OPENERS.get(Path(path).suffix.lower())
    if opener is None:
        return open(path, encoding=encoding, errors=errors, newline="")
    return opener(path, "rt", encoding=encoding, errors=errors, newline="")
