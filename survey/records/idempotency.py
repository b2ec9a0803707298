"""The first answer to a create, kept under the caller's Idempotency-Key.

A client that sends a create again (a timeout, a flaky field connection) with the same
key gets the first answer back (same status, same body) instead of a second record. The
key row is written in the transaction that creates the record, so both commit or neither
does: a create that failed leaves no key behind, and its retry runs again.

Two retries racing each other are ordered by the key's primary key: the first inserts
the row, the second's insert waits for the first transaction to end (PostgreSQL's unique
check) and then does nothing; a statement of its own then reads the answer the first one
committed. The same discipline as a retried release booking (survey/ledger/releases.py):
the question "is this done already?" is asked after the wait, never before it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Json, Jsonb

from survey.errors import IdempotencyKeyReused, InvalidInput

MAX_KEY_LENGTH = 255
# keys are kept this long: long enough for any field device to come back online
KEEP = timedelta(days=30)


@dataclass(frozen=True)
class Replay:
    """The stored first answer to a request."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 of a request as the key remembers it: method, path and the body in
    canonical JSON (keys sorted), so that a retry re-encoded by another client matches."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str) -> str:
    """The key as stored: 1 to 255 printable ASCII characters (a UUID is usual)."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " < c <= "~" for c in key):
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII "
                           "characters without spaces (a UUID is a good key)")
    return key


# The insert is the lock: a second request with the same key waits here until the first
# one's transaction ends, then inserts nothing.
CLAIM = """
INSERT INTO idempotency_key (actor, key, programme_id, method, path, request_sha256)
VALUES (%(actor)s, %(key)s, %(programme_id)s, %(method)s, %(path)s, %(sha)s)
ON CONFLICT (actor, key) DO NOTHING
RETURNING 1
"""

# a statement of its own, so that it sees what the request it waited for committed
STORED = """
SELECT method, path, request_sha256, status, body, headers
FROM idempotency_key WHERE actor = %(actor)s AND key = %(key)s
"""


def claim(conn: psycopg.Connection, *, actor: str, key: str, method: str, path: str,
          fingerprint: str, programme_id: UUID | None = None) -> Replay | None:
    """Take the key for this request (None: go on and create, then `complete`), or the
    first answer given under it (a Replay).

    IdempotencyKeyReused when the key came first with another request.
    """
    params = {"actor": actor, "key": check_key(key), "programme_id": programme_id,
              "method": method.upper(), "path": path, "sha": fingerprint}
    if conn.execute(CLAIM, params).fetchone() is not None:
        purge(conn)
        return None
    row = conn.execute(STORED, params).fetchone()
    if row is None:  # purged between the two statements: as if new
        return claim(conn, actor=actor, key=key, method=method, path=path,
                     fingerprint=fingerprint, programme_id=programme_id)
    first_method, first_path, sha, status, body, headers = row
    if sha != fingerprint:
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was first sent with another request ({first_method} "
            f"{first_path} with a different body): use a new key for a new record",
            first_request=f"{first_method} {first_path}")
    if status is None:  # written by this transaction without completing: a caller's bug
        raise IdempotencyKeyReused("this Idempotency-Key is already in use by this request")
    return Replay(int(status), body, dict(headers or {}))


COMPLETE = """
UPDATE idempotency_key SET status = %(status)s, body = %(body)s, headers = %(headers)s
WHERE actor = %(actor)s AND key = %(key)s
"""


def complete(conn: psycopg.Connection, *, actor: str, key: str, status: int, body: Any,
             headers: dict[str, str] | None = None) -> None:
    """Store the answer to the request that claimed `key` (same transaction)."""
    conn.execute(COMPLETE, {"actor": actor, "key": key, "status": status,
                            "body": Json(body), "headers": Jsonb(headers or {})})


# SKIP LOCKED: two creates purging at once never wait for, or deadlock on, each other (as
# failed sign-ins are pruned, survey/auth.py)
PURGE = """
DELETE FROM idempotency_key WHERE (actor, key) IN (
    SELECT actor, key FROM idempotency_key WHERE created_at < now() - %(keep)s
    ORDER BY created_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
"""
PURGE_BATCH = 100


def purge(conn: psycopg.Connection, *, keep: timedelta = KEEP,
          batch: int = PURGE_BATCH) -> int:
    """Forget up to `batch` keys older than `keep`; how many were removed. Each new key
    claimed purges a batch, so the table holds about `keep`'s worth of creates."""
    return conn.execute(PURGE, {"keep": keep, "batch": batch}).rowcount
