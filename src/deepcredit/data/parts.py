"""A table given as a directory of part files, as tools write large tables: monthly exports in one folder,
or a Spark job's `part-*.csv` / `part-*.parquet` output.

The parts are the directory's visible CSV or Parquet files (names starting with "." or "_", such as Spark's
`_SUCCESS` and `.crc` files, are not parts), read in name order as one table; subdirectories are not read.
A part of 0 bytes holds no rows and is passed over (a job may write one for an empty partition); a lone
empty file is still an error. Rows are numbered across the parts while reading; an error is then located back to the part file and its
own row (validate.with_exact_line), so a modeller opens the right file at the right line.
"""

from __future__ import annotations

from pathlib import Path

from deepcredit.data.compressed import plain_suffix
from deepcredit.data.errors import DataValidationError

PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})


def _visible_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith((".", "_")))


def holds_parquet(directory: Path) -> bool:
    """Whether a directory's parts are Parquet (any visible .parquet file makes it so)."""
    return any(p.suffix.lower() in PARQUET_SUFFIXES for p in _visible_files(directory))


def table_parts(path: Path) -> list[Path]:
    """The files a table's source holds: the file itself, or a directory's CSV or Parquet parts in name order
    (0-byte parts left out). Raises DataValidationError for a directory with no parts or with both kinds."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = _visible_files(path)
    parquet = [p for p in files if p.suffix.lower() in PARQUET_SUFFIXES]
    csv = [p for p in files if plain_suffix(p) in CSV_SUFFIXES]  # rentals.csv.gz too
    if parquet and csv:
        raise DataValidationError(str(path), f"the directory holds both Parquet ({parquet[0].name}) and CSV "
                                             f"({csv[0].name}) files: one table's parts are of one kind")
    if not (parquet or csv):
        others = f" (it holds: {', '.join(p.name for p in files[:5])})" if files else ""
        raise DataValidationError(str(path), "the directory holds no .csv or .parquet files to read as the table's "
                                             f"parts{others}; subdirectories are not read")
    parts = [p for p in parquet or csv if p.stat().st_size]  # a 0-byte part holds no rows
    if not parts:
        raise DataValidationError(str(path), "every part file in the directory is empty (0 bytes): expected a "
                                             "header row and data rows")
    return parts


def first_part(path: Path) -> Path:
    """The file whose header and first rows stand for the table (a draft, a format guess)."""
    return table_parts(path)[0]
