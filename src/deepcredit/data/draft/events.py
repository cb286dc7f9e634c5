"""The draft's [events] section (and [more_events.NAME]) of a history file: its columns by role
(draft.event_columns), what its dates written as numbers count from, parts of one commitment, what each
kind and status means (draft.meanings), its other measures, and the windows hint.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deepcredit.data.draft.event_columns import EventColumns, find_event_columns, parts_of, repeats_amount
from deepcredit.data.draft.format import header_line_of, ignored_line
from deepcredit.data.draft.meanings import (
    AMOUNT_WORDS,
    FLOW_WORDS,
    STATUS_WORDS,
    meaning_lines,
    one_amount,
    signed_kinds,
)
from deepcredit.data.draft.measures import category_like, category_lines, measure_like, measure_lines
from deepcredit.data.draft.sample import sample, vocabularies
from deepcredit.data.draft.statuses import Ledger, status_behaviour
from deepcredit.data.draft.windows import median_gap_days, windows_hint
from deepcredit.data.draft.words import sentinel
from deepcredit.data.spec_base import identifier
from deepcredit.data.validate import toml_string

ONE_KIND = (
    'kind = ""  # check: no kind column found, so every row is of the one kind declared below (a file of '
    'one kind: kind = ""); else name the column'
)
MISSING_EVENT_ROLE = {
    "amount": 'amount = ""  # none found: name the column holding the money, or leave it empty (no amounts: '
    "every kind's amount is then neutral)",
}
"""What the draft writes for a required event column it did not find, where there is more to say than TODO."""
GRACE_HINT = (
    "# grace_days = 30  # optional: a row not settled within 30 days after its due day is broken from "
    "then, however it ended later"
)
WITHOUT_STATUS = {
    "dates": 'status = ""  # none found: each row\'s status is told from its due and settled dates (on_time, late, '
    "missed, open)",
    "days_late": 'status = ""  # none found: each row\'s status is told from its days late (on_time, late; missed '
    "from missed_after_days under the section, if you set it)",
    "activity": 'status = ""  # none found: an activity log, each row recorded (neither kept nor broken); name the '
    "column if there is one",
}
"""What the draft writes for a file without a status column: its statuses are then derived (spec_events)."""
OPTIONAL_EVENT_COLUMNS = {
    "days_late": "",
    "due_ts": "",
    "counterparty": "",
    "settled_ts": "rows are dated by it where set: their outcome is known from then, not when they were made",
}
"""The optional event columns, with what the draft says about one it found."""
BY_VALUES = "  # check: its values are ids of the people file"


def event_lines(
    path: Path,
    id_col: str | None,
    section: str = "events",
    lookup_keys: dict[str, str] | None = None,
    people_ids: frozenset[str] = frozenset(),
) -> list[str]:
    """The [events] section of a history file (or [more_events.NAME], `section`, for a further one); a file
    without the person column but with a lookup table's key names that table as its person_via."""
    frame = sample(path)
    cols = find_event_columns(frame, id_col, section, lookup_keys, people_ids)
    found, taken, types, person, paid = cols.found, cols.taken, cols.types, cols.person, cols.paid
    out = [
        "",
        f"# Events: {path.name}. Each row one commitment or activity of a person, as of its date."
        + (
            ""
            if section == "events"
            else " Stored with [events]: a kind or status named in both must mean the same."
        ),
        f"[{section}]",
        *header_line_of(path),
    ]
    if cols.via:
        out.append(
            f"person_via = {toml_string(cols.via[0])}  # check: its {cols.via[1]} names whose row it is, "
            "through the lookup table"
        )
    notes, frame = _relative_dates(frame, cols)
    out += notes
    parts, lines = _parts_lines(frame, cols)
    out += lines
    told = _statuses_told_by(found)
    vocab = vocabularies(path, [c for c in (found["kind"], found["status"]) if c])
    one_kind = identifier(path.name.split(".")[0])
    kinds = set(vocab.get(found["kind"]) or ()) if found["kind"] else {one_kind}
    payment = next(n for n in ("payment", "payment_made", "amount_paid_kind") if n not in kinds)
    if paid:
        out.append(
            f'paid_kind = "{payment}"  # check: what each row paid ({paid}) becomes a payment event beside '
            "the row's commitment"
        )
    measures, categories = _other_columns(frame, cols, parts)
    out += ignored_line(types, taken)
    if found["due_ts"] and found["settled_ts"]:
        out += [GRACE_HINT]
    if section == "events":
        out.append(
            '# commitment_word = "return"  # where a commitment is not a payment (a rental\'s return): the '
            "word of the delay and streak texts"
        )
    out += _columns_lines(section, cols, told)
    out += _kinds_lines(section, frame, cols, vocab, told, one_kind, payment)
    out += _statuses_lines(section, frame, found, vocab)
    out += measure_lines(section, measures) + category_lines(section, {c: frame[c] for c in categories})
    if section == "events":  # the commitments' rhythm (an activity log's rows say nothing of it)
        commitments = found["status"] or told != "activity"
        out += windows_hint(median_gap_days(frame, person, found["ts"]) if commitments else None)
    return out


def _parts_lines(frame: pd.DataFrame, cols: EventColumns) -> tuple[list[str], list[str]]:
    """(the columns telling apart the parts of one commitment, where rows share a person and a due date (taken),
    the parts_of and parts_amount lines); none where no two rows share both."""
    found, person = cols.found, cols.person
    parts = parts_of(frame, person, found["due_ts"], cols.taken)
    if not parts:
        return [], []
    out = [
        f"parts_of = [{', '.join(toml_string(c) for c in parts)}]  # check: rows share a person and a "
        "due date, so one commitment seems paid in parts: these columns tell commitments apart"
    ]
    cols.taken |= set(parts)
    if repeats_amount(frame, [person or "", *parts], found["amount"]):
        out.append(
            'parts_amount = "once"  # check: the parts of a commitment all hold the same amount: its '
            'whole amount, repeated (else "sum": each part holds its own)'
        )
    return parts, out


def _statuses_told_by(found: dict[str, str | None]) -> str:
    """What a file's statuses are told from where it has no status column (WITHOUT_STATUS): its due and
    settled dates, its days late, or nothing (an activity log)."""
    if found["due_ts"] and found["settled_ts"]:
        return "dates"
    return "days_late" if found["days_late"] else "activity"


def _other_columns(frame: pd.DataFrame, cols: EventColumns, parts: list[str]) -> tuple[list[str], list[str]]:
    """(measures, categories): the free columns that record a number or a category on each row (taken); none
    where rows are parts of commitments, and no category where no person column was found (one of the text
    columns is it)."""
    types, taken = cols.types, cols.taken
    measures = (
        []
        if parts
        else [
            c for c, ty in types.items() if ty == "numeric" and c not in taken and measure_like(c, frame[c])
        ]
    )
    taken |= set(measures)
    categories = (
        []
        if parts or not cols.person
        else [
            c
            for c, ty in types.items()
            if ty == "categorical" and c not in taken and category_like(c, frame[c])
        ]
    )
    taken |= set(categories)
    return measures, categories


def _relative_dates(frame: pd.DataFrame, cols: EventColumns) -> tuple[list[str], pd.DataFrame]:
    """The TODO lines of a file whose dates are written as numbers of days or months (what they count from, a
    code far beyond the other values), and the sample with those codes read as empty cells."""
    days, months, relative = cols.days, cols.months, cols.relative
    out = []
    if relative and days:
        out += [
            f"# TODO: no date column, but {', '.join(days)} look like dates written as numbers of days: name",
            "# the date they count from as days_from = YYYY-MM-DD under [format]; they are proposed below as",
            "# dates (ts, due_ts, settled_ts): check.",
        ]
    codes = {
        c: code
        for c in (*days, *months)
        if relative
        for code in sentinel(pd.to_numeric(frame[c], errors="coerce").dropna())
    }
    for coded, code in codes.items():
        out += [
            f"# TODO: {coded} holds {code}, far beyond its other values: a code for 'never' or 'not yet'?",
            f"# Read it as an empty cell with missing = [{toml_string(code)}] under [format].",
        ]
    frame = frame.assign(**{c: frame[c].mask(frame[c].astype(str) == code) for c, code in codes.items()})
    if relative and months:
        out += [
            f"# TODO: no date column, but {', '.join(months)} look like dates written as numbers of months:",
            "# under [format], name the date they count from as days_from = YYYY-MM-DD and list them in",
            f"# month_columns = [{', '.join(map(toml_string, months))}]; they are proposed below as dates: check.",
        ]
    return out, frame


def _columns_lines(section: str, cols: EventColumns, told: str) -> list[str]:
    """The [section.columns] table: each role's column, with the check said of it, or what stands in for it
    (`told`: what a file without a status column derives its statuses from)."""
    found, checks, person = cols.found, cols.checks, cols.person
    out = ["", f"[{section}.columns]"]
    out.append(
        f"person_id = {toml_string(person)}{BY_VALUES if cols.by_values else ''}"
        if person
        else 'person_id = "TODO"  # TODO: the column naming the person'
    )
    for role in ("ts", "kind", "amount", "status"):
        col = found[role]
        if col:
            out.append(
                f"{role} = {toml_string(col)}" + (f"  # check: {checks[role]}" if role in checks else "")
            )
        elif role == "status":
            out.append(WITHOUT_STATUS[told])
        elif role == "kind":
            out.append(ONE_KIND)
        else:
            out.append(
                MISSING_EVENT_ROLE.get(
                    role, f'{role} = "TODO"  # TODO: the column holding the event\'s {role}'
                )
            )
    for role, why in OPTIONAL_EVENT_COLUMNS.items():
        col, said = found[role], "; ".join(w for w in (checks.get(role), why) if w)
        out.append(
            f"{role} = {toml_string(col)}  # check" + (f": {said}" if said else "")
            if col
            else f'{role} = ""  # none found; name the column if there is one'
        )
    if cols.paid:
        out.append(
            f"paid_amount = {toml_string(cols.paid)}  # check: "
            + cols.checks.get("paid_amount", "the money paid against the row's amount owed")
        )
    return out


def _kinds_lines(
    section: str,
    frame: pd.DataFrame,
    cols: EventColumns,
    vocab: dict[str, list[str] | None],
    told: str,
    one_kind: str,
    payment: str,
) -> list[str]:
    """The [section.kinds] table: what each kind's amount is, guessed from its word or its amounts' signs (the
    file's one kind, named after the file, where it has no kind column), and the payments of paid_amount."""
    found, paid = cols.found, cols.paid
    out = [
        "",
        "# What each kind's amount is: owed (a bill), paid (a repayment), received or spent (money in or out),",
        "# signed (in when positive, out when negative), rating, or neutral.",
        f"[{section}.kinds]",
    ]
    activity = not found["status"] and told == "activity"
    words = (*FLOW_WORDS, *AMOUNT_WORDS) if activity else AMOUNT_WORDS
    if found["kind"]:
        signs = signed_kinds(frame, found["kind"], found["amount"]) if found["amount"] else {}
        out += meaning_lines(
            found["kind"], vocab, words if found["amount"] else (), "amount", "neutral", signs
        )
    else:
        amount = (
            "owed"
            if paid
            else one_amount(frame, found["amount"], words, activity)
            if found["amount"]
            else "neutral"
        )
        out.append(
            f'{one_kind} = {{ amount = "{amount}" }}  # the one kind of this file: '
            "check its name (reason codes show it) and what its amount is"
        )
    if paid:
        out.append(
            f'{payment} = {{ amount = "paid", commitment = false }}  # the payments of paid_amount: money '
            "paid, not a commitment"
        )
    return out


def _statuses_lines(
    section: str, frame: pd.DataFrame, found: dict[str, str | None], vocab: dict[str, list[str] | None]
) -> list[str]:
    """The [section.statuses] table of a file with a status column: each status's meaning, from its word, else
    from how its rows behave (draft.statuses); none without one."""
    if not found["status"]:
        return []
    out = [
        "",
        "# What each status means: kept, late (still paid), broken (never counts as paid), open, neutral.",
        f"[{section}.statuses]",
    ]
    ledger = Ledger(found["status"], found["ts"], found["due_ts"], found["settled_ts"], found["days_late"])
    behaved = {v: (b.meaning, b.evidence) for v, b in status_behaviour(frame, ledger).items()}
    return out + meaning_lines(found["status"], vocab, STATUS_WORDS, "meaning", "neutral", behaved)
