"""Header cells as column names.

A file saved with its row index (pandas' `to_csv`) has an empty first header cell; a trailing comma leaves
an empty last one. Each such column is named by its position, `unnamed_N` (N counted from 1), so a spec
can use it (an id column, an attribute) or list it in `ignore`, and errors can name it.

A header's words (header_words: snake case, camel case split, umlauts spelled out) live here too: reading a file (format_guess)
and drafting a spec (draft.words) both read them, and the reader must not depend on the draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deepcredit.data.spec_base import identifier

_UNNAMED = re.compile(r"^unnamed_(\d+)$")
CAMEL = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"


def unnamed(position: int) -> str:
    """The name of the column whose header cell at `position` (counted from 1) is empty."""
    return f"unnamed_{position}"


def column_names(cells: Iterable[str]) -> list[str]:
    """Header cells, stripped, with each empty one named unnamed_N."""
    return [cell.strip() or unnamed(i) for i, cell in enumerate(cells, 1)]


def unnamed_note(name: str) -> str:
    """What to tell a user about a column DeepCredit named (empty unless `name` is one)."""
    m = _UNNAMED.match(name)
    return (
        f" (header cell {m[1]} is empty: a trailing comma or a saved row index? It is called {name})"
        if m
        else ""
    )


UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
"""Umlauts as a writer without them spells them (fällig: faellig), so a hint matches either spelling; other
accents are dropped (échéance: echeance, ß: ss) by identifier."""


def header_name(col: str) -> str:
    """A header as an attribute's name: snake case, camel case split (NumberOfTime30-59Days:
    number_of_time30_59_days), accents dropped (größe: grosse)."""
    return identifier(re.sub(CAMEL, "_", col))


def header_words(col: str) -> str:
    """A header's words for the name hints: header_name with umlauts spelled out (fällig_am: faellig_am), as a
    file written without them (faellig_am) spells them, so one hint reads both."""
    return header_name(col.translate(UMLAUTS))
