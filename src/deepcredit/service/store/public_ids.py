"""The ids the service hands out for its own rows: opaque tokens, not the tables' integer keys.

A row's integer key counts every merchant's rows, so one handed out would let a merchant count the others'
decisions, reports and policies between two of its own (a business-volume leak across tenants) and guess ids;
a dispute's, a consent's, a webhook's or a delivery's would count every person's. The key stays internal
(merchants' keys aside: only the operator makes merchants); what leaves the service (a decision's, a reported
event's, a dispute's, a consent's, a policy's, a webhook's, a webhook delivery's id) is a type prefix and 16
random bytes (`secrets`), 128 bits:
as many as a UUID4 holds, unguessable, and with a collision chance of about n^2/2^129 among n rows (a
billion rows: 1e-21), which the column's unique index turns into a refused insert, not a shared id.
"""

from __future__ import annotations

import re
import secrets
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

DECISION, EVENT, DISPUTE = "dec_", "evt_", "dsp_"
CONSENT, POLICY, WEBHOOK, DELIVERY = "cns_", "pol_", "whk_", "dlv_"
RANDOM_BYTES = 16
TOKEN = r"[A-Za-z0-9_\-]{22}"
"""16 bytes as `secrets.token_urlsafe` writes them: 22 URL-safe base64 characters."""
LENGTH = 40
"""The column's width: a prefix and the token (26 characters), with room for a longer token later."""
DECISION_ID = f"^{DECISION}{TOKEN}$"
EVENT_ID = f"^{EVENT}{TOKEN}$"
DISPUTE_ID = f"^{DISPUTE}{TOKEN}$"
CONSENT_ID = f"^{CONSENT}{TOKEN}$"
POLICY_ID = f"^{POLICY}{TOKEN}$"
WEBHOOK_ID = f"^{WEBHOOK}{TOKEN}$"
LEGACY_KEY = r"^[0-9]{1,18}$"
"""A row's number as the service gave it before schema s0006 (18 digits: below 2^63): taken where a caller names
one of their own rows (or the operator any), and looked up by the row key."""
LEGACY_EVENT = re.compile(r"^s([0-9]{1,18})$")
"""A reported event's id as the service gave it before schema s0006 ('s' and the row's key): accepted from a
person only for one of their own events, and read as that event's public id."""


def new(prefix: str) -> str:
    """A fresh public id with its type prefix."""
    return prefix + secrets.token_urlsafe(RANDOM_BYTES)


new_decision, new_event, new_dispute = (partial(new, p) for p in (DECISION, EVENT, DISPUTE))
new_consent, new_policy, new_webhook, new_delivery = (partial(new, p) for p in (CONSENT, POLICY, WEBHOOK, DELIVERY))
"""Each kind's maker (a column default, or called where a row is made)."""


def legacy_key(ref: str) -> int | None:
    """The row key an old-form id (a row's number) names; None for a public id."""
    return int(ref) if re.match(LEGACY_KEY, ref) else None


def legacy_event_key(ref: str) -> int | None:
    """The row key an old-form event id ('s<n>') names; None for any other id."""
    m = LEGACY_EVENT.match(ref)
    return int(m.group(1)) if m else None


def find(s: Session, model: Any, ref: str) -> Any:
    """The row of `model` (a table with a `public_id`) that `ref` names: by its public id, or by its row key for
    an old-form id (legacy_key); None when there is none. Whose row it is, the caller checks."""
    key = legacy_key(ref)
    if key is not None:
        return s.get(model, key)
    return s.execute(select(model).where(model.public_id == ref)).scalar_one_or_none()
