"""Pseudonyms: a person id becomes HMAC-SHA256(key, id) at the service's edge and nowhere is it stored.

Why a keyed hash, not a plain one: person ids are guessable (account numbers, phone numbers), so
sha256(id) could be reversed by hashing every candidate; without the key nobody can. The same key must be
used for the data set copy (`serve-init`) and the running service, or nobody would be found.
"""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a pseudonym key is required")
        self._key = bytes(key)

    def __call__(self, person_id: str) -> str:
        return hmac.new(self._key, str(person_id).encode("utf-8"), hashlib.sha256).hexdigest()

    def derive(self, label: str) -> bytes:
        """A sub-key for another purpose (e.g. the audit chain), domain-separated from pseudonyms."""
        return hmac.new(self._key, b"deepcredit/" + label.encode(), hashlib.sha256).digest()
