"""Users, passwords, API tokens and the limits on failed sign-ins. Knows nothing of HTTP:
the API calls these."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from survey.domain.models import ApiToken, AppUser
from survey.domain.vocab import AuditAction, Role
from survey.errors import DemineError, Forbidden, NotFound, TooManyAttempts, Unauthorized
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


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins a sliding window allows, per name tried and per address."""

    per_user: int = 10
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SignIn:
    """One sign-in attempt's outcome: a token, or the refusal to raise once the attempt has
    been recorded (a refusal raised inside the transaction would roll its record back)."""

    token: str | None = None
    expires_at: datetime | None = None
    principal: Principal | None = None
    refusal: DemineError | None = None

    def result(self) -> tuple[str, datetime, Principal]:
        """The token, its expiry and the principal; raises the refusal if there was one."""
        if self.refusal is not None:
            raise self.refusal
        assert self.token is not None and self.expires_at is not None
        assert self.principal is not None
        return self.token, self.expires_at, self.principal


# The longest name kept in the record of a failed sign-in: usernames are at most 64
# characters, so a longer one names nobody, and a megabyte typed in must not be stored.
_NAME_KEPT = 100

# Attempts on one name wait for each other, so the count each one reads is exact; the
# address count may run over by the attempts in flight at once (at most the pool size).
LOCK_NAME = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"

# SKIP LOCKED: two sign-ins pruning at once never wait for, or deadlock on, each other
PRUNE_FAILURES = """
DELETE FROM login_failure WHERE id IN (
    SELECT id FROM login_failure WHERE at < now() - %(window)s
    ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED)
"""

# Refused while the window holds `limit` failures: the wait is until the limit-th most
# recent of them leaves the window. NULL when neither limit is reached.
RETRY_AFTER = """
SELECT ceil(extract(epoch FROM greatest(
    (SELECT at FROM login_failure
     WHERE username = %(username)s AND at > now() - %(window)s
     ORDER BY at DESC OFFSET %(per_user)s - 1 LIMIT 1),
    (SELECT at FROM login_failure
     WHERE address = %(address)s AND at > now() - %(window)s
     ORDER BY at DESC OFFSET %(per_address)s - 1 LIMIT 1)) + %(window)s - now()))::integer
"""

RECORD_FAILURE = """
INSERT INTO login_failure (username, address) VALUES (%(username)s, %(address)s)
"""

# a successful sign-in clears the failures of its own name, never those of its address:
# signing in to one's own account must not reset the count of guesses at others'
CLEAR_FAILURES = "DELETE FROM login_failure WHERE username = %(username)s"

# every sign-in adds a token; the expired ones of the same user go at the same time
DROP_EXPIRED_TOKENS = "DELETE FROM api_token WHERE user_id = %(user_id)s AND expires_at < now()"


def sign_in(conn: psycopg.Connection, *, username: str, password: str, address: str,
            ttl: timedelta, limits: SignInLimits | None = None) -> SignIn:
    """Check a password and issue a bearer token (only its SHA-256 is stored), within the
    limits on failed sign-ins per name and per client address.

    Every refusal is counted and audited (the name tried and the address, never the
    password) in the caller's transaction; the caller commits, then raises
    `SignIn.result()`'s refusal.
    """
    limits = limits or SignInLimits()
    name = username[:_NAME_KEPT]
    conn.execute(LOCK_NAME, {"key": f"demine.sign_in:{name}"})
    conn.execute(PRUNE_FAILURES, {"window": limits.window})
    wait = next(conn.execute(RETRY_AFTER, {
        "username": name, "address": address, "window": limits.window,
        "per_user": max(limits.per_user, 1), "per_address": max(limits.per_address, 1)}))[0]
    with conn.cursor(row_factory=class_row(AppUser)) as cur:
        user = cur.execute(USER_BY_NAME, {"username": name}).fetchone()
    if wait is not None:
        _audit_refusal(conn, name, address, user, "too many failed sign-ins")
        minutes = max(1, round(wait / 60))
        return SignIn(refusal=TooManyAttempts(
            f"too many failed sign-ins for this user or from this address: try again in "
            f"about {minutes} minute{'s' if minutes > 1 else ''}", retry_after=max(int(wait), 1)))
    # an unknown user costs the same scrypt as a known one: timing tells no usernames
    stored = user.password_hash if user is not None else _unknown_user_hash()
    if not verify_password(password, stored) or user is None:
        conn.execute(RECORD_FAILURE, {"username": name, "address": address})
        _audit_refusal(conn, name, address, user, "unknown user or wrong password")
        return SignIn(refusal=Unauthorized("unknown user or wrong password"))
    conn.execute(CLEAR_FAILURES, {"username": name})
    conn.execute(DROP_EXPIRED_TOKENS, {"user_id": user.id})
    token = secrets.token_urlsafe(32)
    expires = datetime.now().astimezone() + ttl
    repo.insert(conn, ApiToken(user_id=user.id, token_sha256=_token_digest(token),
                               expires_at=expires), actor=user.username)
    repo.audit(conn, actor=user.username, action=AuditAction.LOGIN, entity="app_user",
               entity_id=user.id, programme_id=user.programme_id, after={"address": address})
    return SignIn(token, expires, Principal.of(user))


def _audit_refusal(conn: psycopg.Connection, name: str, address: str, user: AppUser | None,
                   reason: str) -> None:
    repo.audit(conn, actor=name[:64] or "-", action=AuditAction.LOGIN_FAILED,
               entity="app_user", entity_id=user.id if user else None,
               programme_id=user.programme_id if user else None,
               after={"username": name, "address": address}, reason=reason)


def issue_token(conn: psycopg.Connection, *, username: str, password: str, ttl: timedelta,
                address: str = "local") -> tuple[str, datetime, Principal]:
    """Sign in (see sign_in) and raise a refusal at once: for callers that roll back
    anyway, such as the command line and tests."""
    return sign_in(conn, username=username, password=password, address=address,
                   ttl=ttl).result()


SIGN_IN_AGAIN = "the token is unknown, revoked or expired: sign in again"

USER_BY_DIGEST = """
SELECT u.* FROM api_token t JOIN app_user u ON u.id = t.user_id
WHERE t.token_sha256 = %(digest)s AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active
"""


def authenticate(conn: psycopg.Connection, *, token: str) -> Principal:
    """The principal a bearer token stands for; Unauthorized if it is unknown or expired."""
    with conn.cursor(row_factory=class_row(AppUser)) as cur:
        user = cur.execute(USER_BY_DIGEST, {"digest": _token_digest(token)}).fetchone()
    if user is None:
        raise Unauthorized(SIGN_IN_AGAIN)
    return Principal.of(user)


class StaleSignIn(Unauthorized):
    """A remembered principal no longer matches its token: sign in again (authenticate)."""


# What a statement that reads on a remembered principal checks, in its own snapshot: the
# token is still live, its user still active and still the same account, role and scope
# (authenticate's conditions, plus the principal's every field). A condition without any
# column of the statement's tables, so the planner makes it a one-time filter: when it
# fails, nothing else is read.
STILL_SIGNED_IN = sql.SQL("""EXISTS (
    SELECT 1 FROM api_token t JOIN app_user u ON u.id = t.user_id
    WHERE t.token_sha256 = %(signed_in_digest)s AND t.revoked_at IS NULL
      AND t.expires_at > now() AND u.active AND u.id = %(signed_in_user_id)s
      AND u.username = %(signed_in_username)s AND u.role = %(signed_in_role)s
      AND u.programme_id IS NOT DISTINCT FROM %(signed_in_programme_id)s::uuid
      AND u.organisation_id IS NOT DISTINCT FROM %(signed_in_organisation_id)s::uuid
      AND u.donor_id IS NOT DISTINCT FROM %(signed_in_donor_id)s::uuid)""")


def signed_in_params(principal: Principal, token: str) -> dict[str, Any]:
    """The parameters of STILL_SIGNED_IN for `principal` and the token it was found by."""
    return {"signed_in_digest": _token_digest(token), "signed_in_user_id": principal.user_id,
            "signed_in_username": principal.username, "signed_in_role": str(principal.role),
            "signed_in_programme_id": principal.programme_id,
            "signed_in_organisation_id": principal.organisation_id,
            "signed_in_donor_id": principal.donor_id}


class PrincipalCache:
    """The principals of recently presented tokens, so that the hottest reads (a map asks
    for dozens of tiles at once) need not look the token up in a round trip of its own.

    An entry is a guess, never a grant: whoever reads on it must check it in the same
    statement as the data (STILL_SIGNED_IN), and on StaleSignIn drop it and authenticate
    again. So a revoked or expired token, a deactivated user or a changed role is refused
    at once, exactly as authenticate refuses it, however recently it was remembered. The
    cache holds at most `size` tokens (by their SHA-256, like the database), each for
    `ttl_s` seconds, the least recently used leaving first; it is safe across threads.
    """

    def __init__(self, size: int = 1024, ttl_s: float = 60.0) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        """The principal remembered for `token`, or None."""
        key = _token_digest(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, token: str, principal: Principal) -> None:
        """Remember `principal` for `token` (as authenticate found it)."""
        key = _token_digest(token)
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl_s, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, token: str) -> None:
        """Forget `token`."""
        with self._lock:
            self._entries.pop(_token_digest(token), None)


REVOKE_PRESENTED = """
UPDATE api_token SET revoked_at = now()
WHERE revoked_at IS NULL AND expires_at > now()
  AND (token_sha256 = %(digest)s OR (%(everywhere)s AND user_id = %(user_id)s))
"""


def sign_out(conn: psycopg.Connection, *, principal: Principal, token: str,
             everywhere: bool = False) -> int:
    """Revoke the token presented (or, `everywhere`, every live token of its user); how
    many were revoked."""
    revoked = conn.execute(REVOKE_PRESENTED, {"digest": _token_digest(token),
                                              "everywhere": everywhere,
                                              "user_id": principal.user_id}).rowcount
    repo.audit(conn, actor=principal.username, action=AuditAction.LOGOUT, entity="app_user",
               entity_id=principal.user_id, programme_id=principal.programme_id,
               after={"tokens_revoked": revoked, "everywhere": everywhere})
    return revoked


@dataclass(frozen=True)
class TokenInfo:
    """A live token, as its owner or an admin may see it (never the token itself)."""

    id: UUID
    username: str
    created_at: datetime
    expires_at: datetime
    current: bool


LIVE_TOKENS = """
SELECT t.id, u.username, t.created_at, t.expires_at, t.token_sha256 = %(digest)s AS current
FROM api_token t JOIN app_user u ON u.id = t.user_id
WHERE u.username = %(username)s AND t.revoked_at IS NULL AND t.expires_at > now()
ORDER BY t.created_at DESC, t.id
"""


def list_tokens(conn: psycopg.Connection, *, principal: Principal, token: str,
                username: str | None = None) -> list[TokenInfo]:
    """The live tokens of the caller (or, for an admin, of `username`); `current` marks
    the one presented."""
    username = username or principal.username
    if username != principal.username and principal.role != Role.ADMIN:
        raise Forbidden("only an admin may see the tokens of another user")
    with conn.cursor(row_factory=class_row(TokenInfo)) as cur:
        return cur.execute(LIVE_TOKENS, {"digest": _token_digest(token),
                                         "username": username}).fetchall()


HOLDER_BY_ID = """
SELECT t.user_id, u.username, u.programme_id FROM api_token t JOIN app_user u ON u.id = t.user_id
WHERE t.id = %(id)s
"""

REVOKE_ONE = "UPDATE api_token SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL"


def revoke_token(conn: psycopg.Connection, *, principal: Principal, token_id: UUID) -> None:
    """Revoke one token of the caller's own, or any token for an admin; revoking a revoked
    token again changes nothing. NotFound for a token the caller may not revoke."""
    row = conn.execute(HOLDER_BY_ID, {"id": token_id}).fetchone()
    if row is None or (row[0] != principal.user_id and principal.role != Role.ADMIN):
        raise NotFound(f"no token with id {token_id} that you may revoke")
    if conn.execute(REVOKE_ONE, {"id": token_id}).rowcount:
        repo.audit(conn, actor=principal.username, action=AuditAction.REVOKE,
                   entity="api_token", entity_id=token_id, programme_id=row[2],
                   after={"username": row[1]})
