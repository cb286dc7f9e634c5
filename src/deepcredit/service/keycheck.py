"""The pseudonym key's check value: a service refuses to run under a key other than the one it was set up with.

Why: the key turns person ids into pseudonyms and keys the audit chain. Under another key the service would
start, know nobody (every id maps to a pseudonym the database does not hold) and chain new audit rows with
MACs that break the log for ever. So `serve-init` records a check value, HMAC(sub-key, fixed label) with a
sub-key derived for this purpose only (never the key, and nothing a pseudonym or audit MAC reveals), and
every start compares it. A database set up before check values existed gets one on its first start or
upgrade, and only once its audit log's last row verifies under the key in use.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select

from deepcredit.service.audit import AuditLog, row_mac
from deepcredit.service.privacy import Pseudonymiser
from deepcredit.service.store import Database
from deepcredit.service.store.models import AuditEntry, AuditHead, Meta

KEY_CHECK = "pseudonym_key_check"
"""The service_meta key of the check value."""
LABEL = b"deepcredit key check value"


class KeyMismatch(ValueError):
    """DEEPCREDIT_PSEUDONYM_KEY is not the key this service database was set up with."""


def check_value(pseudonym: Pseudonymiser) -> str:
    """What the database records about its key: a MAC of a fixed label under a domain-separated sub-key."""
    return hmac.new(pseudonym.derive("key-check"), LABEL, hashlib.sha256).hexdigest()


def mismatch(why: str) -> KeyMismatch:
    return KeyMismatch(f"DEEPCREDIT_PSEUDONYM_KEY is not the key this service database was set up with ({why}): "
                       "under it the service would find nobody and break its audit log. Set the key serve-init "
                       "used; a new key needs a new database (serve-init)")


def check_key(db: Database, pseudonym: Pseudonymiser, audit: AuditLog) -> None:
    """Refuse (KeyMismatch) a key other than the database's; record the check value where none is yet.

    Nothing to check in a database serve-init has not set up (no service_meta table)."""
    if not db.initialised():
        return
    expected = check_value(pseudonym)
    with db.write() as s:
        recorded = s.get(Meta, KEY_CHECK)
        if recorded is not None:
            if not hmac.compare_digest(recorded.value, expected):
                raise mismatch("its key check value differs")
            return
        head = s.get(AuditHead, 1)
        last = s.scalar(select(AuditEntry).where(AuditEntry.seq == head.seq)) if head and head.seq else None
        if last is not None and not hmac.compare_digest(last.mac, row_mac(
                audit.key, last.seq, last.at, last.actor, last.action, last.subject, last.details, last.prev_mac)):
            raise mismatch("the audit log's last row does not verify under it")
        s.merge(Meta(key=KEY_CHECK, value=expected))
