"""The draft's [relations] section: of a relations file (its two ends, date, kind and weight, by name and
else by position or values), or of the people file's columns that link people (from_people, groups).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from deepcredit.data.draft.event_columns import people_id_columns, pick_column
from deepcredit.data.draft.format import header_line_of, ignored_line
from deepcredit.data.draft.sample import column_types, sample, vocabularies
from deepcredit.data.validate import toml_string

RELATION_ROLES = {
    "source": (r"source|from|src|referrer|sender|rater|follower|parent|inviter|^a$|_a$|1$", None),
    "target": (r"target|to$|^to|dst|dest|referee|receiver|ratee|followee|child|invitee|^b$|_b$|2$", None),
    "ts": (r"ts$|date|time|_at$|_on$|since|when", ("date",)),
    "kind": (r"kind|type|relation|tie|channel", ("categorical",)),
    "weight": (r"weight|rating|strength|amount|score|trust|value", ("numeric",)),
}


def relation_lines(path: Path, people_ids: frozenset[str] = frozenset()) -> list[str]:
    """The [relations] section of a relations file: each role's column by name, else (source, target) the
    first id columns in file order and (ts) any date column, each such guess marked check."""
    frame = sample(path)
    types = column_types(frame)
    taken: set[str] = set()
    found: dict[str, str | None] = {}
    guessed: set[str] = set()  # roles taken for want of a name: source and target as ids, ts as a date
    for role, (pattern, allowed) in RELATION_ROLES.items():
        found[role] = pick_column(types, pattern, allowed or tuple(set(types.values())), taken)
        if role == "ts" and found[role] is None:  # a date named in other words (seit): any date column
            found[role] = pick_column(types, ".", ("date",), taken)
            guessed |= {role} if found[role] else set()
        taken.add(found[role] or "")
    # named for no end (borrower_id, guarantor_id): the first two id columns, in file order
    ids = [
        c
        for c in frame.columns
        if c not in taken and re.search(r"(^|_)(id|no|nr|key|code|ref)$", str(c).lower())
    ]
    ids += [
        c for c in people_id_columns(frame, people_ids, taken) if c not in ids
    ]  # named for no id, yet ids
    for role in ("source", "target"):
        if found[role] is None and ids:
            found[role] = ids.pop(0)
            guessed.add(role)
            taken.add(found[role] or "")
    weight = found["weight"]
    signed = bool(weight) and bool((pd.to_numeric(frame[weight], errors="coerce") < 0).any())
    out = [
        "",
        f"# Relations: {path.name}. Each row one tie between two people, known from its date.",
        "[relations]",
        *header_line_of(path),
    ]
    out += [
        "directed = true  # TODO: false if a tie has no direction (a shared device, a marriage)",
        f"weighted = {str(bool(weight)).lower()}",
        f"signed = {str(signed).lower()}"
        + ("  # negative weights found: the share of negative ties becomes a feature" if signed else ""),
    ]
    kinds = vocabularies(path, [found["kind"]])[found["kind"]] if found["kind"] else None
    if kinds:
        out.append(f"kinds = [{', '.join(toml_string(k) for k in kinds)}]")
    out += ignored_line(types, taken)
    out += ["", "[relations.columns]"]
    for role in ("source", "target", "ts"):
        col = found[role]
        note = (
            ""
            if role not in guessed
            else "  # check: found as a date column (its name says no date)"
            if role == "ts"
            else "  # check: an id column, taken in file order (source: who the tie is from)"
        )
        out.append(
            f"{role} = {toml_string(col)}{note}"
            if col
            else f'{role} = "TODO"  # TODO: the column holding the tie\'s {role}'
        )
    out.append(
        f"kind = {toml_string(found['kind'])}"
        if found["kind"]
        else 'kind = ""  # no kind column: every tie is "related"'
    )
    out.append(
        f"weight = {toml_string(weight)}" if weight else 'weight = ""  # no weight column: every tie weighs 1'
    )
    return out


def people_relation_lines(linked: list[str], grouped: list[str]) -> list[str]:
    """The [relations] section of a draft without a relations file whose people file links people in its
    columns (draft.people.link_columns: a referrer's id, a household); none where it has none."""
    if not linked and not grouped:
        return []
    out = [
        "",
        "# Relations written as columns of the people file (no relations file): check each.",
        "[relations]",
    ]
    if linked:
        out.append(
            f"from_people = [{', '.join(map(toml_string, linked))}]  # check: values name other people "
            "(a referrer): one relation each"
        )
    if grouped:
        out.append(
            f"groups = [{', '.join(map(toml_string, grouped))}]  # check: people sharing a value are "
            "connected (who shares one with whom is stored, never the value)"
        )
    return out + ["weighted = false"]
