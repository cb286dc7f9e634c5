"""The ids the service hands out for its own rows: opaque tokens, not the tables' integer keys.

A row's integer key counts every merchant's rows, so one handed out would let a merchant count the others'
decisions and reports between two of its own (a business-volume leak across tenants) and guess ids; a
dispute's would count every person's disputes. The key stays internal; what leaves the service (a
decision's, a reported event's, a dispute's id) is a type prefix and 16 random bytes (`secrets`), 128 bits:
as many as a UUID4 holds, unguessable, and with a collision chance of about n^2/2^129 among n rows (a
billion rows: 1e-21), which the column's unique index turns into a refused insert, not a shared id.
"""

from __future__ import annotations

import re
import secrets

DECISION, EVENT, DISPUTE = "dec_", "evt_", "dsp_"
RANDOM_BYTES = 16
TOKEN = r"[A-Za-z0-9_\-]{22}"
"""16 bytes as `secrets.token_urlsafe` writes them: 22 URL-safe base64 characters."""
LENGTH = 40
"""The column's width: a prefix and the token (26 characters), with room for a longer token later."""
DECISION_ID = f"^{DECISION}{TOKEN}$"
EVENT_ID = f"^{EVENT}{TOKEN}$"
DISPUTE_ID = f"^{DISPUTE}{TOKEN}$"
LEGACY_EVENT = re.compile(r"^s([0-9]{1,18})$")
"""A reported event's id as the service gave it before schema s0006 ('s' and the row's key): accepted from a
person only for one of their own events, and read as that event's public id."""


def new(prefix: str) -> str:
    """A fresh public id with its type prefix."""
    return prefix + secrets.token_urlsafe(RANDOM_BYTES)


def new_decision() -> str:
    return new(DECISION)


def new_event() -> str:
    return new(EVENT)


def new_dispute() -> str:
    return new(DISPUTE)


def legacy_event_key(ref: str) -> int | None:
    """The row key an old-form event id ('s<n>') names; None for any other id."""
    m = LEGACY_EVENT.match(ref)
    return int(m.group(1)) if m else None
