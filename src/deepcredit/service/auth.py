"""Who is calling: a merchant (API key), a person (token) or an operator (the admin key from the environment).

Keys and tokens are `prefix_<id>_<secret>`: the id finds the row, the 256-bit secret is stored only as
sha256 and compared in constant time. A slow password hash (bcrypt, argon2) is for low-entropy secrets
people choose; a random 256-bit secret cannot be guessed, and a fast hash keeps each request cheap.
Every failure (missing, malformed, unknown, tampered, revoked, expired, disabled) is the same 401.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from deepcredit.service.context import ServiceContext, get_context
from deepcredit.service.problems import unauthorized
from deepcredit.service.store.models import ApiKey, Merchant, PersonToken

MERCHANT_PREFIX, PERSON_PREFIX = "dcm", "dcp"
TOKEN_RE = re.compile(r"^(dcm|dcp)_([0-9a-f]{16})_([A-Za-z0-9_\-]{43})$")

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <merchant key | person token | admin key>`")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_secret(prefix: str) -> tuple[str, str, str]:
    """(full token, public id, sha256 of the secret)."""
    ident, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return f"{prefix}_{ident}_{secret}", ident, sha256_hex(secret)


def parse(token: str, prefix: str) -> tuple[str, str] | None:
    m = TOKEN_RE.match(token or "")
    if not m or m.group(1) != prefix:
        return None
    return m.group(2), m.group(3)


@dataclass(frozen=True)
class MerchantPrincipal:
    id: int
    name: str

    @property
    def actor(self) -> str:
        return f"merchant:{self.id}"


@dataclass(frozen=True)
class PersonPrincipal:
    subject: str

    @property
    def actor(self) -> str:
        return "person"


@dataclass(frozen=True)
class AdminPrincipal:
    @property
    def actor(self) -> str:
        return "operator"


def issue_merchant_key(session: Session, merchant: Merchant, now: datetime) -> str:
    token, ident, digest = new_secret(MERCHANT_PREFIX)
    session.add(ApiKey(key_id=ident, secret_sha256=digest, merchant_id=merchant.id, created_at=now))
    return token


def issue_person_token(session: Session, subject: str, now: datetime, days: int) -> tuple[str, datetime, int]:
    """A new token for the person, which revokes their earlier ones (one live token per person, like a
    password reset: a token given out by mistake ends when the person is issued a new one). Returns the
    token, its expiry and how many earlier tokens it revoked."""
    revoked = cast(CursorResult, session.execute(
        update(PersonToken).where(PersonToken.subject == subject, PersonToken.revoked_at.is_(None),
                                  PersonToken.expires_at > now).values(revoked_at=now))).rowcount
    token, ident, digest = new_secret(PERSON_PREFIX)
    expires = now + timedelta(days=days)
    session.add(PersonToken(token_id=ident, secret_sha256=digest, subject=subject, created_at=now,
                            expires_at=expires))
    return token, expires, revoked


def _credentials(creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is None or creds.scheme.lower() != "bearer":
        raise unauthorized()
    return creds.credentials


def merchant(creds: HTTPAuthorizationCredentials | None = Depends(bearer),
             ctx: ServiceContext = Depends(get_context)) -> MerchantPrincipal:
    parts = parse(_credentials(creds), MERCHANT_PREFIX)
    if parts is None:
        raise unauthorized()
    with ctx.db.read() as s:
        row = s.execute(select(ApiKey.secret_sha256, ApiKey.revoked_at, Merchant.id, Merchant.name, Merchant.active)
                        .join(Merchant, Merchant.id == ApiKey.merchant_id).where(ApiKey.key_id == parts[0])).first()
    digest = sha256_hex(parts[1])  # the same work whether or not the key id exists
    if row is None or not hmac.compare_digest(row.secret_sha256, digest) or row.revoked_at or not row.active:
        raise unauthorized()
    return MerchantPrincipal(row.id, row.name)


def person(creds: HTTPAuthorizationCredentials | None = Depends(bearer),
           ctx: ServiceContext = Depends(get_context)) -> PersonPrincipal:
    parts = parse(_credentials(creds), PERSON_PREFIX)
    if parts is None:
        raise unauthorized()
    with ctx.db.read() as s:
        tok = s.execute(select(PersonToken).where(PersonToken.token_id == parts[0])).scalar_one_or_none()
    if tok is None or not hmac.compare_digest(tok.secret_sha256, sha256_hex(parts[1])) or tok.revoked_at \
            or tok.expires_at <= ctx.now():
        raise unauthorized()
    return PersonPrincipal(tok.subject)


def admin(creds: HTTPAuthorizationCredentials | None = Depends(bearer),
          ctx: ServiceContext = Depends(get_context)) -> AdminPrincipal:
    given = _credentials(creds)
    expected = ctx.settings.admin_key
    if not expected or not hmac.compare_digest(sha256_hex(given), sha256_hex(expected)):
        raise unauthorized()
    return AdminPrincipal()
