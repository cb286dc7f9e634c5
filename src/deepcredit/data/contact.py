"""What contact and identity data look like, by a column's name or by its values: an e-mail address, a phone
number, an IBAN, a name.

Why a module of its own: such data identify a person and say nothing about how they keep commitments, so
`spec draft` leaves their columns out (draft.left_out), ingest refuses them as attributes (contact_data: one
rule for both) and an error never repeats them (validate, ingest); all read the same words and patterns.
"""

from __future__ import annotations

import re

import pandas as pd

from deepcredit.data.headers import header_words

CONTACT_HINTS = re.compile(r"(^|_)(e_?mail|phone|telephone|tel|mobile|fax|iban|bic|swift|ssn|sin|nin|passport|"
                           r"national_id|id_card|address|addr|street|ip|(first|last|full|given|middle|sur|"
                           r"family)_?name|surname)s?(_(no|nr|num|number|id|address|addr|code))?$"
                           r"|(^|_)tax_?(id|no|nr|num|number|code)$"  # a tax id; a tax amount is a number
                           r"|^(person_|customer_|client_)?names?$")
"""Headers that end in a word of contact or identity data (an e-mail, a phone number, an IBAN, a passport, an
address, a name): personal data that identifies one person and says nothing about how they keep commitments.
(has_phone, a yes/no, ends so too: the draft takes only a column of many values for such data.)"""
FEW_VALUES = 12
"""A column of at most this many values is a category or a yes/no (has_phone), whatever its name says."""
CONTACT_SAMPLE = 10_000
"""At most this many of a column's filled values (drawn at random, seeded) are read for contact data: the
rule is a share of values and a count of distinct ones, which a sample tells as well as a whole file."""
E_MAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^(?!\d{1,4}[/-]\d{1,2}[/-]\d{1,4}$)(\+|00|0)?[0-9][0-9 ()/-]{5,}[0-9]$")
"""A phone number as written: digits with spaces, dashes or brackets, starting with +, 00 or 0 (a plain
whole number is not taken for one unless it starts so); never a date (1974-01-01, 01/02/2024)."""
CONTACT_IN_TEXT = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
                             r"|(\+|(?<!\d)0)(?!\d{1,3}[/.-]\d{1,2}[/.-]\d{2,4}\b)\d[\d ()/-]{5,}\d")
"""Contact data anywhere in a text (an e-mail address, a phone number starting + or 0): an error never
repeats such a text, whatever the column."""
_DAY = r"(0?[1-9]|[12]\d|3[01])"
DATE_TIME = re.compile(r"(?<![\d+])(\d{4}[-/.](0?[1-9]|1[0-2])[-/.]" + _DAY + "|" + _DAY + r"[-/.]" + _DAY
                       + r"[-/.](\d{4}|\d{2}))([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(?!\d)")
"""A date, with or without a time of day (2031-03-01 00:00:00, 01/02/2024 10:00): the digits of its month, day
and time are not a phone number's, so holds_contact reads past them."""


def contact_named(column: str) -> bool:
    """Whether a column's header says contact or identity data (email, phone_number, iban)."""
    return CONTACT_HINTS.search(re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")) is not None


def holds_contact(text: str) -> bool:
    """Whether a text holds an e-mail address or a phone number (a date or time of day is neither)."""
    return CONTACT_IN_TEXT.search(DATE_TIME.sub("D", text)) is not None


def looks_like_contact(values: pd.Series) -> str | None:
    """"e-mail addresses" or "phone numbers" where nearly all (95 %) of a column's filled values are written
    as those are, else None."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    if text.str.match(E_MAIL).mean() >= 0.95:
        return "e-mail addresses"
    digits = text.str.count(r"\d")
    phone = text.str.match(PHONE) & (digits >= 7) & text.str.match(r"^(\+|0)|.*\d[ ()/-]\d")
    return "phone numbers" if phone.mean() >= 0.95 else None


def texts(values: pd.Series) -> pd.Series:
    """A column's filled values as trimmed text."""
    text = values.dropna().astype(str).str.strip()
    return text[text != ""]


def contact_data(column: str, values: pd.Series) -> str | None:
    """Why a column holds contact or identity data, else None: nearly all its values read as e-mail addresses
    or phone numbers, or it has more than FEW_VALUES values under a name of such data (a yes/no `has_phone`
    does not). Never repeats a value. One rule for two callers: the draft leaves such a column out, and
    ingest refuses it as an attribute unless the spec says it is meant (`allow_contact`)."""
    filled = values.dropna()
    if len(filled) > CONTACT_SAMPLE:
        filled = filled.sample(CONTACT_SAMPLE, random_state=0)
    filled = texts(filled)
    if contact := looks_like_contact(filled):
        return f"its values look like {contact}: contact data"
    if filled.nunique() > FEW_VALUES and CONTACT_HINTS.search(header_words(column)):
        return "its name says contact or identity data"
    return None
