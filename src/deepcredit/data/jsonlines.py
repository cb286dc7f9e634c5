"""Files of JSON Lines (`events.jsonl`, `.ndjson`, compressed too): one JSON object per line, as web services
and document stores export their records.

Each object is one row and its keys are the columns (the union of every row's keys, in the order they first
appear; a key a row lacks is an empty cell). Values are read as the text a CSV would hold (a number as
written, true/false, null as empty), so every later check and every declared [format] rule is the CSV's.
Row N is line N of the file: there is no header line. A value that is itself an object or a list is
refused at its row and column: flatten it first (`pandas.json_normalize`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from deepcredit.data.compressed import open_text, plain_suffix
from deepcredit.data.errors import DataValidationError

JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def is_json_lines(path: Path) -> bool:
    return plain_suffix(Path(path)) in JSON_LINES_SUFFIXES


def _records(path: Path, encoding: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each line; blank lines may only end the file (rows are lines)."""
    blank = None
    with open_text(path, encoding) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                blank = blank or number
                continue
            if blank is not None:
                raise DataValidationError(str(path), "an empty line: each line is one JSON object", blank,
                                          line_offset=0)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(str(path), f"not a JSON object ({exc.msg}, character {exc.colno})",
                                          number, line_offset=0) from None
            if not isinstance(record, dict):
                raise DataValidationError(str(path), f"a JSON {type(record).__name__}, not an object: each line "
                                                     "must be one record ({\"column\": value, ...})", number,
                                          line_offset=0)
            yield number, record


def json_columns(path: Path, encoding: str = "utf-8") -> list[str]:
    """Every key of the file's objects, in the order they first appear."""
    seen: dict[str, None] = {}
    for _, record in _records(path, encoding):
        seen.update(dict.fromkeys(record))
    return list(seen)


def _text(value: object, path: Path, row: int, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise DataValidationError(str(path), f"a nested JSON {'object' if isinstance(value, dict) else 'list'}: "
                                             "one value per cell (flatten it first, e.g. pandas.json_normalize)",
                                  row, column, line_offset=0)
    return str(value)


def json_text_chunks(path: Path, columns: list[str], rows: int,
                     encoding: str = "utf-8") -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row number, frame of text cells) of `rows` records at a time; row N is line N."""
    batch: list[list[str]] = []
    first = 1
    for number, record in _records(path, encoding):
        if not batch:
            first = number
        batch.append([_text(record.get(c), path, number, c) for c in columns])
        if len(batch) == rows:
            yield first, pd.DataFrame(batch, columns=columns, dtype="string")
            batch = []
    if batch or first == 1:
        yield first, pd.DataFrame(batch, columns=columns, dtype="string")


def read_json_text(path: Path, nrows: int | None = None, encoding: str = "utf-8") -> pd.DataFrame:
    """The first `nrows` records as text (all of them without a limit), as a draft reads a sample."""
    columns = json_columns(path, encoding)
    frames = []
    for _, frame in json_text_chunks(path, columns, nrows or 100_000, encoding):
        frames.append(frame)
        if nrows is not None:
            break
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
