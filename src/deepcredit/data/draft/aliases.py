"""Values of a category written alike but for case or punctuation ("Post-Paid", "postpaid"), grouped, and
the `aliases` line a draft proposes for them. Shared by profile attributes and history categories.
"""

from __future__ import annotations

import re

import pandas as pd

from deepcredit.data.validate import toml_string


def spelling_groups(values: pd.Series) -> dict[str, list[str]]:
    """Values of a column that differ only in case, or in the spaces and punctuation around and between their
    letters ("F" and "f", "Post-Paid" and "postpaid", "self employed" and "self_employed"), grouped: each
    group's most frequent way of writing (the first in sorted order among equals) with its other ways, as
    `aliases` would declare them. Values of no letter or digit are never grouped ("-" and "?")."""
    text = values.dropna().astype(str).str.strip()
    counts = text[text != ""].value_counts()
    groups: dict[str, list[tuple[int, str]]] = {}
    for value, n in counts.items():
        key = re.sub(r"[\W_]+", "", str(value).casefold())
        if key:
            groups.setdefault(key, []).append((-int(n), str(value)))
    out: dict[str, list[str]] = {}
    for written in groups.values():
        if len(written) > 1:
            first, *others = [v for _, v in sorted(written)]
            out[first] = sorted(others)
    return dict(sorted(out.items()))


def aliases_line(groups: dict[str, list[str]]) -> list[str]:
    """The `aliases` a draft proposes for spelling_groups, with what to check (nothing where none)."""
    if not groups:
        return []
    listed = ", ".join(f"{toml_string(k)} = [{', '.join(map(toml_string, v))}]" for k, v in groups.items())
    return [
        f"aliases = {{ {listed} }}  # check: written alike but for case or punctuation, so read as one "
        "category; add other ways of writing one (a translation, an abbreviation), or drop a group that "
        "means two things"
    ]
