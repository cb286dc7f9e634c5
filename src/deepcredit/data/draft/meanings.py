"""What each kind's amount and each status means, guessed from its word (STATUS_WORDS, AMOUNT_WORDS,
FLOW_WORDS), else from how its rows behave (its amounts' signs, draft.statuses), else TODO; and the
draft's line for each value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from deepcredit.data.contact import texts
from deepcredit.data.draft.sample import MAX_VALUES
from deepcredit.data.draft.statuses import share
from deepcredit.data.validate import toml_string

CALLED_OFF = r"cancel|void|withdraw|refund|revers|storn"
"""A status that calls a commitment off (cancelled, voided, refunded, reversed): neutral, and it owes nothing."""
STATUS_WORDS = (  # first match wins: 'returned_late' is late, 'not_returned' and 'unpaid' broken
    ("late", r"late|overdue|delay|slow|past_?due|arrear"),
    ("neutral", CALLED_OFF),  # called off before it was due: no commitment kept or broken
    (
        "broken",
        r"miss|default|bounc|lost|^not|_not|unpaid|fail|declin|reject|charge_?off|writ(e|ten)|negative|"
        r"stolen|damag|fraud",
    ),
    ("open", r"open|pending|due|outstanding|active|progress|ongoing"),
    ("kept", r"ok|on_?time|paid|settled|return|complete|success|positive|full|done|kept|good|closed|repaid"),
)
AMOUNT_WORDS = (  # first match wins: an instalment_payment is paid, an instalment (what falls due) owed
    ("paid", r"pay|paid|repay|settle|deposit|refund|credit_?transfer"),
    ("owed", r"instal|bill|invoice|rent|order|statement|loan|purchase|charge|fee|booking|subscription"),
    ("rating", r"rating|review|score|trust"),
)
TWO_SIDED = r"instal"
TWO_SIDED_NOTE = (
    "an instalment that falls due is owed, as the docs' ledgers declare it; one that records money "
    "paid is paid"
)
"""A kind's word that names both sides: drafted owed, its note saying when it is paid instead."""
FLOW_WORDS = (
    (
        "received",
        r"salary|income|wage|pension|incoming|inflow|receiv|receipt|top_?up|cash_?in|^in$|_in$|^credit$",
    ),
    (
        "spent",
        r"purchase|withdraw|spend|spent|outgoing|outflow|cash_?out|^out$|_out$|^debit$|atm|pos$|card_?pay",
    ),
)
"""Kinds of an activity log (no statuses: a bank's transactions) move money in or out; tried before
AMOUNT_WORDS there, so a purchase is money spent rather than a bill owed."""


def guess_meaning(value: str, words: tuple[tuple[str, str], ...]) -> str | None:
    """The meaning of the first (meaning, pattern) whose pattern the value's word matches, or None."""
    return next((meaning for meaning, pattern in words if re.search(pattern, value.lower())), None)


def one_amount(frame: pd.DataFrame, column: str, words: tuple[tuple[str, str], ...], activity: bool) -> str:
    """What the amount of a one-kind file means: guessed from its header; in an activity log, amounts
    both above and below 0 are money in and out (signed); else a bill (owed), or, where some amounts are
    below 0 (which an amount owed may be only as a balance), signed."""
    amounts = pd.to_numeric(frame[column], errors="coerce")
    if activity and (amounts < 0).any() and (amounts > 0).any():
        return "signed"
    return guess_meaning(column, words) or ("signed" if (amounts < 0).any() else "owed")


def signed_kinds(frame: pd.DataFrame, kind: str, amount: str) -> dict[str, tuple[str | None, str]]:
    """{kind: ("signed", the evidence)} for each kind whose amounts in the sample are below 0 on some rows:
    what `meaning_lines` proposes for a kind its word says nothing of (an amount paid, spent or received is
    never below 0; a signed one is money in above 0 and out below)."""
    shares = (
        pd.to_numeric(frame[amount], errors="coerce").lt(0).groupby(texts(frame[kind]).reindex(frame.index))
    )
    return {
        str(k): (
            "signed",
            f"its amount is below 0 on {share(part)} of its {shares.size()[k]} rows: money in "
            "when above 0, out when below",
        )
        for k, part in shares.mean().items()
        if part > 0
    }


def meaning_lines(
    column: str | None,
    vocab: dict[str, list[str] | None],
    words: tuple[tuple[str, str], ...],
    key: str,
    fallback: str,
    behaved: Mapping[str, tuple[str | None, str]] | None = None,
) -> list[str]:
    """A line per value of a kind or status column: its meaning guessed from its word, else from how its rows
    behave (`behaved`: value: (meaning or None, the evidence)), else TODO."""
    values = vocab.get(column) if column else None
    if not values:
        why = "no such column found" if not column else f"{column!r} has more than {MAX_VALUES} values"
        return [f"# TODO: {why}; declare each value, e.g.", f'TODO = {{ {key} = "{fallback}" }}']
    lines = []
    for value in values:
        meaning = guess_meaning(value, words)
        note = (
            "guessed from the word: check"
            if meaning
            else ("TODO: choose" if words else "no amounts: neutral")
        )
        if not meaning and value in (behaved or {}):
            meaning, evidence = (behaved or {})[value]
            note = (
                f"check: read from its rows, not its word: {evidence}" if meaning else f"{note} ({evidence})"
            )
        if meaning == "owed" and re.search(TWO_SIDED, value.lower()):
            note += f" ({TWO_SIDED_NOTE})"
        owes = key == "meaning" and meaning == "neutral" and re.search(CALLED_OFF, value.lower())
        if owes:  # its amount was never owed (features: owed_condition)
            note += "; called off, so its amount is not owed"
        lines.append(
            f"{toml_string(value)} = {{ {key} = {toml_string(meaning or fallback)}"
            f"{', owes_nothing = true' if owes else ''} }}  # {note}"
        )
    return lines
