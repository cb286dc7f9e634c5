"""Which column of a history file plays which role (person, dates, kind, status, amounts, days late):
by the words of its header first, then by its values (draft.roles), so that a file written in any language
is drafted. What the draft writes of them is draft.events'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from deepcredit.data.draft.meanings import STATUS_WORDS
from deepcredit.data.draft.measures import MAX_CATEGORIES, measure_like, named_as_data
from deepcredit.data.draft.roles import (
    amount_column,
    below_zero,
    date_pair,
    days_late_column,
    in_cents,
    issue_and_due,
    kind_column,
    owed_and_paid_values,
    status_column,
    whole_numbers,
)
from deepcredit.data.draft.sample import column_types, distinct_texts
from deepcredit.data.draft.statuses import share
from deepcredit.data.draft.words import ID_HINTS, PART_HINTS, header_words

EVENT_ROLES = {  # DeepCredit's column: (words its header may contain (header_words: umlauts spelled out,
    # accents dropped), the types it may have); picked in this order, so a due or settled date is never taken
    # for the event's date. Few words of other languages (a date's datum, fecha): draft.roles reads the roles
    # from the values of a file in any language, each marked check with why.
    "due_ts": (
        r"due|instal|schedul",
        ("date",),
    ),
    "settled_ts": (
        r"settl|paid|payment|return|closed|complet|finish|ended|resolv",
        ("date",),
    ),
    "ts": (r"ts$|date|time|_at$|_on$|when|day$|datum|fecha|(^|_)data(_|$)", ("date",)),
    "kind": (r"kind|type|event|what|category|product|item|channel", ("categorical", "boolean")),
    "status": (r"status|state|outcome|result|estado|statut|(^|_)stato(_|$)", ("categorical", "boolean")),
    "days_late": (r"late|overdue|past_?due|dpd|arrear", ("numeric",)),
    "amount": (
        r"amount|amt|value|sum|total|price|fee|eur|usd|gbp|cny|rmb|money|paid|cost",
        ("numeric",),
    ),
    "counterparty": (r"merchant|counterparty|payee|shop|store|lender|partner", ("categorical",)),
}
DAY_NUMBERS = re.compile(r"(^|_)days?(_|$)", re.IGNORECASE)
"""A numeric column named so may be a date written as days from a reference date ([format] days_from)."""
MONTH_NUMBERS = re.compile(r"(^|_)months?(_|$)", re.IGNORECASE)
"""A numeric column named so may be a date written as months from a reference date ([format] month_columns)."""
MONEY_NOUNS = r"(^|_)(instal+ments?|repayments?|bills?|premiums?|rent|dues?|balance_due)$"
"""A numeric history column named, whole or at its end, for what its money is: the amount where no column
has a money word (amount, value, price, ...)."""


def pick_column(types: dict[str, str], pattern: str, allowed: tuple[str, ...], taken: set[str]) -> str | None:
    """The first free column whose header has one of the words and whose values have an allowed type."""
    return next(
        (
            c
            for c, t in types.items()
            if c not in taken
            and t in allowed
            and (re.search(pattern, c.lower()) or re.search(pattern, header_words(c)))
        ),
        None,
    )


def person_column(types: dict[str, str], id_col: str | None, taken: set[str]) -> str | None:
    """The people file's id column where the file has it, else the first free one named like a person's id."""
    if id_col and id_col in types:
        return id_col
    return pick_column(types, ID_HINTS.pattern + r"|person|user|member", tuple(set(types.values())), taken)


ID_SHARE = 0.5
"""A column holds the people's ids where at least this share of its distinct values are ids of the people
file's sample (a sample of a large people file may not hold everyone a history names)."""


def people_id_columns(frame: pd.DataFrame, ids: frozenset[str], taken: set[str]) -> dict[str, int]:
    """{column: how many of the people file's ids it holds} for each free column whose values are mostly
    those ids (ID_SHARE; two at least), in file order. Why: a column named for nothing an id is called
    (cust, linked_ref) still tells by its values whom it names."""
    found = {}
    for col in frame.columns:
        values = set(distinct_texts(frame[col])) if ids and col not in taken else set()
        hits = len(values & ids)
        if hits >= 2 and hits >= ID_SHARE * len(values):
            found[str(col)] = hits
    return found


def person_by_values(frame: pd.DataFrame, ids: frozenset[str], taken: set[str]) -> str | None:
    """The free column holding the most of the people file's ids (people_id_columns), or None."""
    found = people_id_columns(frame, ids, taken)
    return max(found, key=lambda c: found[c]) if found else None


def parts_of(frame: pd.DataFrame, person: str | None, due: str | None, taken: set[str]) -> list[str]:
    """The columns naming a commitment, where rows share a person and a due date (a payment in parts): the
    file's other id-like and number-like columns that repeat; none where no two rows share both."""
    if not person or not due or not frame.dropna(subset=[due]).duplicated([person, due]).any():
        return []
    return [
        c
        for c in frame.columns
        if c not in taken and PART_HINTS.search(header_words(c)) and not frame[c].is_unique
    ]  # a row number (line_no) groups no parts


def repeats_amount(frame: pd.DataFrame, keys: list[str], amount: str | None) -> bool:
    """Whether, among the sample's commitments written in several rows, every row repeats the same amount."""
    if not amount or not all(keys):
        return False
    sizes = frame.groupby(keys, dropna=False)[amount].agg(["size", "nunique"])
    several = sizes[sizes["size"] > 1]
    return bool(len(several)) and bool((several["nunique"] <= 1).all())


def dates_by_values(
    frame: pd.DataFrame, types: dict[str, str], found: dict[str, str | None], taken: set[str]
) -> dict[str, str]:
    """due_ts and settled_ts where no header word named both: a pair of date columns that behave so (draft.roles
    .date_pair), set in `found` and `taken`; the check saying why, by role."""
    if found["due_ts"] and found["settled_ts"]:
        return {}
    free = [c for c, t in types.items() if t == "date" and c not in taken]
    named = [found["ts"]] if found["ts"] else []  # a row's date a header named may be the issue date
    pair = date_pair(
        frame,
        [found["due_ts"]] if found["due_ts"] else free,
        [found["settled_ts"]] if found["settled_ts"] else free,
        named,
    )
    if pair is None:
        return {}
    due, settled, share = pair
    why = {
        "due_ts": f"{settled} is on or after it on {share:.0%} of the rows setting both: when each fell due",
        "settled_ts": f"empty on some rows, else on or after {due} on {share:.0%} of them: when each was settled",
    }
    order = issue_and_due(frame, [c for c in free if c != settled] if found["due_ts"] is None else [], named)
    if (
        order is not None and order[1] == due
    ):  # due after another date on (nearly) every row: that one is the issue
        issue, _, after = order
        why["due_ts"] = (
            f"on or after {issue} on {after:.0%} of the rows setting both: when each fell due, "
            f"{issue} when it was issued ({settled} on or after it on {share:.0%})"
        )
        why["settled_ts"] = (
            f"empty on some rows, else when each was settled (on or after {due} on {share:.0%})"
        )
    checks = {}
    for role, col in (("due_ts", due), ("settled_ts", settled)):
        if found[role] is None:
            found[role], checks[role] = col, why[role]
            taken.add(col)
    if order is not None and order[1] == due and found["ts"] is None and order[0] not in taken:
        found["ts"], checks["ts"] = (
            order[0],
            (
                f"{due} is on or after it on {order[2]:.0%} of the rows: when each was issued, so each row is "
                "dated by it"
            ),
        )
        taken.add(order[0])
    return checks


def others_by_values(
    frame: pd.DataFrame,
    types: dict[str, str],
    found: dict[str, str | None],
    taken: set[str],
    person: str | None,
    section: str,
) -> dict[str, str]:
    """days_late, amount, status and kind where no header word named them, found by their values (draft.roles),
    set in `found` and `taken`; the check saying why, by role."""
    checks = {}
    numbers = [c for c, t in types.items() if t == "numeric" and c not in taken and measure_like(c, frame[c])]
    due, settled = found["due_ts"], found["settled_ts"]
    if (
        found["days_late"] is None
        and due
        and settled
        and due != settled
        and (late := days_late_column(frame, numbers, due, settled))
    ):
        found["days_late"] = late[0]
        checks["days_late"] = (
            f"the whole days from {due} to {settled} (0 when in time) on {late[1]:.0%} of the rows"
        )
    taken.add(found["days_late"] or "")
    if found["amount"] is None and (money := amount_column(frame, [c for c in numbers if c not in taken])):
        below = below_zero(frame[money])
        found["amount"], checks["amount"] = (
            money,
            "its values look like money (never below 0, "
            + ("written in cents: 10.00)" if in_cents(frame[money]) else "many and spread)")
            if not below
            else (
                f"its values look like money (many and spread), below 0 on {share(below)} of the rows: "
                "signed, money in when above 0 and out when below? (so each kind below 0 is drafted)"
            ),
        )
        if whole_numbers(frame[money]) and not in_cents(frame[money]):
            checks["amount"] += (
                f"; all whole numbers: if they count cents, set amount_scale = 0.01 under [{section}]"
            )
        taken.add(money)
    words = [
        c for c, t in types.items() if t in ("categorical", "boolean") and c not in taken and named_as_data(c)
    ]
    if found["status"] is None and (status := status_column(frame, words, STATUS_WORDS, MAX_CATEGORIES)):
        found["status"], checks["status"] = (
            status[0],
            f"{status[1]} of its {status[2]} values read as statuses",
        )
    taken.add(found["status"] or "")
    kinds = [
        c for c in words if c not in taken and not PART_HINTS.search(header_words(c))
    ]  # no commitment's name
    if found["kind"] is None and person and (kind := kind_column(frame, kinds, person, MAX_CATEGORIES)):
        found["kind"] = kind
        checks["kind"] = (
            f"no header says kind, but its {len(distinct_texts(frame[kind]))} values may be the rows' kinds"
        )
        taken.add(kind)
    return checks


def paid_by_values(
    frame: pd.DataFrame,
    types: dict[str, str],
    found: dict[str, str | None],
    checks: dict[str, str],
    taken: set[str],
) -> str | None:
    """The paid amount's column where no header named one: of the amount and the free money columns, a pair
    that owes and pays (draft.roles.owed_and_paid_values); where the amount was found by its values and is the
    smaller, the larger becomes the amount. None where no pair fits or the header-named amount is the smaller."""
    amount = found["amount"]
    if amount is None:
        return None
    others = [c for c, t in types.items() if t == "numeric" and c not in taken and measure_like(c, frame[c])]
    pair = owed_and_paid_values(frame, [amount, *others])
    if pair is None or amount not in pair[:2] or (amount == pair[1] and "amount" not in checks):
        return None
    owed, paid, at_most, equal = pair
    found["amount"] = owed
    checks["amount"] = (
        f"{paid} is at most it on {at_most:.0%} of the rows and equal on {equal:.0%}: what each row owed"
    )
    checks["paid_amount"] = (
        f"at most {owed} on {at_most:.0%} of the rows, equal on {equal:.0%}: what each row paid of it"
    )
    taken.update((owed, paid))
    return paid


PAID_WORDS = re.compile(r"pay|paid|gezahlt|bezahlt|pagad|(^|_)paye|betaald")
"""An amount column named so holds what was paid (Home Credit's AMT_PAYMENT beside AMT_INSTALMENT)."""


def owed_and_paid(
    types: dict[str, str], amount: str | None, taken: set[str]
) -> tuple[str | None, str | None]:
    """(amount owed, amount paid) where the file has two amount columns of which just one is named like a
    payment ([events.columns] paid_amount); else (`amount`, None)."""
    if amount is None:
        return None, None
    money = [
        c
        for c, t in types.items()
        if c not in taken and t == "numeric" and re.search(EVENT_ROLES["amount"][0], header_words(c))
    ]
    if PAID_WORDS.search(header_words(amount)):  # the first amount is a payment: what was owed is another one
        owed = next((c for c in money if not PAID_WORDS.search(header_words(c))), None)
        return (owed, amount) if owed else (amount, None)
    return amount, next((c for c in money if PAID_WORDS.search(header_words(c))), None)


@dataclass
class EventColumns:
    """What a history file's columns were found to be: `found`, each role's column (EVENT_ROLES; None where
    none), the `checks` said of a role found by its values or position, the person's column (`by_values`:
    found as ids of the people file; `via`: (lookup table, its key) naming it), the paid amount's column, the
    `types` the roles were picked by, the columns `taken`, and those written as numbers of days or months
    (`relative`: the file has no date column, so they are its dates)."""

    types: dict[str, str]
    found: dict[str, str | None]
    checks: dict[str, str]
    person: str | None
    by_values: bool
    via: tuple[str, str] | None
    paid: str | None
    taken: set[str]
    days: list[str]
    months: list[str]
    relative: bool


def find_event_columns(
    frame: pd.DataFrame,
    id_col: str | None,
    section: str,
    lookup_keys: dict[str, str] | None,
    people_ids: frozenset[str],
) -> EventColumns:
    """The columns of a history file's sample by role: by their headers' words first, then by their values
    (a pair of dates, money, statuses, kinds); a file without the person column but with a lookup table's key
    names that table (`via`)."""
    types = column_types(frame)
    via = next(
        ((name, key) for name, key in (lookup_keys or {}).items() if key in types and id_col not in types),
        None,
    )
    days = [c for c, t in types.items() if t == "numeric" and DAY_NUMBERS.search(c)]
    months = [c for c, t in types.items() if t == "numeric" and MONTH_NUMBERS.search(c)]
    relative = "date" not in types.values() and bool(days or months)
    if (
        relative
    ):  # dates written as numbers: proposed for the date roles, once [format] says what they count from
        types = {c: "date" if c in days or c in months else t for c, t in types.items()}
    taken: set[str] = set()
    person = via[1] if via else person_column(types, id_col, taken)
    by_values = person is None and (person := person_by_values(frame, people_ids, taken)) is not None
    taken.add(person or "")
    found: dict[str, str | None] = {}
    for role, (pattern, allowed) in EVENT_ROLES.items():
        found[role] = pick_column(types, pattern, allowed, taken)
        taken.add(found[role] or "")
    checks = {} if relative else dates_by_values(frame, types, found, taken)
    if found["ts"] is None:  # any other date; else a schedule dated by its due dates
        found["ts"] = pick_column(types, ".", ("date",), taken) or found["due_ts"]
        if (
            found["ts"] not in (None, found["due_ts"]) and not relative
        ):  # relative dates are marked check already
            dates = sum(t == "date" for t in types.values())
            checks["ts"] = (
                "its name says no date, but it is the file's only date column"
                if dates == 1
                else f"its name says no date: the first of the file's {dates} date columns no other role took"
            ) + ": each row is dated by it"
        taken.add(found["ts"] or "")
    if found["amount"] is None:  # no money word: a column named for what the money is (an instalment, a bill)
        found["amount"] = pick_column(types, MONEY_NOUNS, ("numeric",), taken)
        taken.add(found["amount"] or "")
    found["amount"], paid = owed_and_paid(types, found["amount"], taken)
    taken.add(paid or "")
    checks.update(others_by_values(frame, types, found, taken, person, section))
    if paid is None and types.get(found["amount"] or "") == "numeric":
        paid = paid_by_values(frame, types, found, checks, taken)
    return EventColumns(types, found, checks, person, by_values, via, paid, taken, days, months, relative)
