"""Users, passwords and API tokens. Knows nothing of HTTP: the API calls these."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from survey.domain.models import ApiToken, AppUser
from survey.domain.vocab import AuditAction, Role
from survey.errors import Unauthorized
from survey.store import repo

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash, self-describing: `scrypt$n$r$p$salt$hash`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return (f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
            f"{b64(salt).decode()}${b64(digest).decode()}")


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches a hash made by hash_password."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32,
                               n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


@cache
def _unknown_user_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling, and so what they may see."""

    user_id: UUID
    username: str
    role: Role
    programme_id: UUID | None
    organisation_id: UUID | None
    donor_id: UUID | None

    @classmethod
    def of(cls, user: AppUser) -> Principal:
        return cls(user.id, user.username, user.role, user.programme_id, user.organisation_id,
                   user.donor_id)


USER_BY_NAME = """
SELECT * FROM app_user WHERE username = %(username)s AND active
"""


def issue_token(conn: psycopg.Connection, *, username: str, password: str,
                ttl: timedelta) -> tuple[str, datetime, Principal]:
    """Check a password and issue a bearer token; only its SHA-256 is stored."""
    with conn.cursor(row_factory=class_row(AppUser)) as cur:
        user = cur.execute(USER_BY_NAME, {"username": username}).fetchone()
    # an unknown user costs the same scrypt as a known one: timing tells no usernames
    stored = user.password_hash if user is not None else _unknown_user_hash()
    if not verify_password(password, stored) or user is None:
        raise Unauthorized("unknown user or wrong password")
    token = secrets.token_urlsafe(32)
    expires = datetime.now().astimezone() + ttl
    repo.insert(conn, ApiToken(user_id=user.id, token_sha256=_token_digest(token),
                               expires_at=expires), actor=user.username)
    repo.audit(conn, actor=user.username, action=AuditAction.LOGIN, entity="app_user",
               entity_id=user.id, programme_id=user.programme_id)
    return token, expires, Principal.of(user)


USER_BY_DIGEST = """
SELECT u.* FROM api_token t JOIN app_user u ON u.id = t.user_id
WHERE t.token_sha256 = %(digest)s AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active
"""


def authenticate(conn: psycopg.Connection, *, token: str) -> Principal:
    """The principal a bearer token stands for; Unauthorized if it is unknown or expired."""
    with conn.cursor(row_factory=class_row(AppUser)) as cur:
        user = cur.execute(USER_BY_DIGEST, {"digest": _token_digest(token)}).fetchone()
    if user is None:
        raise Unauthorized("the token is unknown, revoked or expired: sign in again")
    return Principal.of(user)
