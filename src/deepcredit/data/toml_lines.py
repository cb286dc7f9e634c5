"""TOML with line numbers: the line of each table header and key of a spec, by its path, so an error that
pydantic reports at a path (`events.statuses.late.meaning`) is told at the line a person opens."""

from __future__ import annotations

import re
from collections.abc import Iterable

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=")
_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")
_TODO = re.compile(r"#.*\bTODO\b")


def _key_path(text: str) -> tuple[str, ...]:
    return tuple(m.group(1) if m.group(1) is not None else (m.group(2) if m.group(2) is not None else m.group(3))
                 for m in _PART.finditer(text))


def toml_lines(text: str) -> dict[tuple, int]:
    """Line of each table header and key in a TOML text, by its path ([[arrays]] get their index).

    Why: pydantic reports where a value is wrong as a path; a person wants the line to open.
    """
    lines: dict[tuple, int] = {}
    counts: dict[tuple, int] = {}
    table: tuple = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            path = _key_path(header.group(2))
            if header.group(1) == "[[":
                counts[path] = counts.get(path, -1) + 1
                table = (*path, counts[path])
            else:
                table = tuple(_resolve(path, counts))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_key_path(key.group(1))), number)
    return lines


def _resolve(path: tuple, counts: dict[tuple, int]) -> list:
    """[a.b.c] below [[a.b]] means a.b[last].c."""
    out: list = []
    for i, part in enumerate(path):
        out.append(part)
        if tuple(path[: i + 1]) in counts and i < len(path) - 1:
            out.append(counts[tuple(path[: i + 1])])
    return out


def field_path(loc: Iterable) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    for n in range(len(loc), 0, -1):
        if tuple(loc[:n]) in lines:
            return lines[tuple(loc[:n])]
    return None


def todo_lines(text: str) -> list[int]:
    """The lines whose comment still holds a `TODO` marker (as `spec draft` writes them where it guessed).

    Why: a draft with its TODOs unedited is valid TOML and may ingest without a word, then score with the
    guessed as-of date, label and dimensions; the lines tell a person what is left to check.
    """
    return [number for number, line in enumerate(text.splitlines(), 1) if _TODO.search(line)]
