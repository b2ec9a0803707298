"""Accounts: users and their long-lived tokens, managed by admins and coordinators.

Each use case is one function that loads, checks the caller's rights, checks the rules
and writes with its audit row, so that `demine user ...`, `demine token ...` and
/api/v1/users share one path. None of them commits (the caller owns the transaction),
and nothing they return holds a password hash or a token's digest.

Who manages whom:

- an admin manages every account;
- a coordinator (the national authority) manages the accounts of its own programme,
  except admin accounts, and cannot make anyone an admin;
- every user may read its own account and change its own password (with the current one);
- nobody can disable their own account or change their own role (so that the last admin
  cannot lock everyone out by mistake).

app_user has no version column, so an account's ETag is a digest of the fields that
say who it is and what it may do (see `_ETAG`); an update is checked against it in the
UPDATE statement itself.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from pydantic import BaseModel, ConfigDict

from survey.auth import Principal, _token_digest, hash_password, verify_password
from survey.domain.vocab import AuditAction, Role
from survey.errors import Forbidden, InvalidInput, NotFound, StaleVersion
from survey.store import repo

# as app_user's CHECK says, with a message instead of a constraint name
USERNAME = re.compile(r"^[a-z0-9._@-]{3,64}$")
MIN_PASSWORD = 10
# scrypt of a megabyte is still fast, but no one types a password this long
MAX_PASSWORD = 1024
MAX_TOKEN_DAYS = 3650
DEFAULT_TOKEN_DAYS = 365
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

# The command line acts as this principal: it is no app_user (the id matches nobody), and
# the audit log names the operating-system user, as `demine import` does.
CLI_USER_ID = UUID(int=0)


def cli_principal(os_user: str) -> Principal:
    """The principal of the command line: whoever runs `demine` on the server holds the
    database's credentials already, so it acts as an admin, audited as `cli:<os user>`."""
    return Principal(CLI_USER_ID, f"cli:{os_user}", Role.ADMIN, None, None, None)


class Account(BaseModel):
    """A user as the API and the command line show it: never the password hash."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    programme_id: UUID | None
    username: str
    full_name: str
    role: Role
    organisation_id: UUID | None
    donor_id: UUID | None
    active: bool
    created_at: datetime
    etag: str

    def snapshot(self) -> dict[str, Any]:
        """The account for the audit log."""
        return self.model_dump(mode="json", exclude={"etag"})


class TokenView(BaseModel):
    """A token as its holder's managers see it: never the token nor its digest."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    user_id: UUID
    username: str
    name: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def kind(self) -> str:
        """`device` for a named long-lived token, `session` for a sign-in's."""
        return "session" if self.name is None else "device"


@dataclass(frozen=True)
class IssuedToken:
    """A new long-lived token: `token` is shown this once and kept nowhere."""

    token: str
    info: TokenView


@dataclass(frozen=True)
class NewUser:
    username: str
    full_name: str
    role: Role
    password: str
    programme_id: UUID | None = None
    organisation_id: UUID | None = None
    donor_id: UUID | None = None


class _Unset(Enum):
    UNSET = "unset"


UNSET: Literal[_Unset.UNSET] = _Unset.UNSET


@dataclass(frozen=True)
class UserChanges:
    """What an update changes; a field left at its default is kept. The organisation and
    the donor can be cleared with None, so "not given" is UNSET."""

    role: Role | None = None
    active: bool | None = None
    full_name: str | None = None
    organisation_id: UUID | None | Literal[_Unset.UNSET] = UNSET
    donor_id: UUID | None | Literal[_Unset.UNSET] = UNSET


@dataclass(frozen=True)
class UserFilter:
    """Which accounts to list (within what the caller may see)."""

    programme_id: UUID | None = None
    role: Role | None = None
    organisation_id: UUID | None = None
    active: bool | None = None


@dataclass(frozen=True)
class UserPage:
    accounts: list[Account]
    next_after: str | None


# --- rights ---------------------------------------------------------------------------

def _may_list(principal: Principal) -> bool:
    return principal.role == Role.ADMIN or (principal.role == Role.COORDINATOR
                                            and principal.programme_id is not None)


def _visible(principal: Principal) -> sql.Composable:
    """Condition on app_user rows (alias u) the principal may read: all for an admin, its
    programme's for a coordinator, its own account for everyone."""
    if principal.role == Role.ADMIN:
        return sql.SQL("TRUE")
    own = sql.SQL("u.id = {}").format(sql.Literal(principal.user_id))
    if _may_list(principal):
        return sql.SQL("(u.programme_id = {} OR {})").format(
            sql.Literal(principal.programme_id), own)
    return own


def check_manage(principal: Principal, *, programme_id: UUID | None, role: Role) -> None:
    """Refuse to manage (change, give a token to) an account of this programme and role
    unless the principal is an admin, or a coordinator of that programme and the
    account is no admin's."""
    if principal.role == Role.ADMIN:
        return
    if principal.role == Role.COORDINATOR and principal.programme_id is not None \
            and programme_id == principal.programme_id:
        if role == Role.ADMIN:
            raise Forbidden("only an admin may manage admin accounts or make an admin")
        return
    raise Forbidden("accounts are managed by admins, and by coordinators for the users of "
                    "their own programme")


# --- checks ---------------------------------------------------------------------------

def check_password(password: str, *, username: str) -> None:
    """Refuse a password that is too short, too long, not text or the username itself."""
    if not _is_text(password):
        raise InvalidInput("the password holds characters that are not text (a lone "
                           "UTF-16 surrogate or a NUL)")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD} characters")
    if password.strip().lower() == username.lower():
        raise InvalidInput("the password must not be the username")


def _is_text(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _full_name(text: str) -> str:
    name = text.strip()
    if not 1 <= len(name) <= 200 or _CONTROL.search(name):
        raise InvalidInput("the full name must be 1 to 200 printable characters")
    return name


# the programme each referred organisation or donor belongs to (NULL when unknown)
REFERENCES = """
SELECT (SELECT programme_id FROM organisation WHERE id = %(organisation_id)s) AS organisation,
       (SELECT programme_id FROM donor WHERE id = %(donor_id)s) AS donor,
       EXISTS (SELECT 1 FROM programme WHERE id = %(programme_id)s) AS programme
"""


def _check_shape(conn: psycopg.Connection, *, role: Role, programme_id: UUID | None,
                 organisation_id: UUID | None, donor_id: UUID | None) -> None:
    """The rules an account must keep whatever changes it: what its role needs, and
    references inside its own programme."""
    if programme_id is None and role != Role.ADMIN:
        raise InvalidInput(f"a {role} account belongs to a programme: name one")
    if role == Role.OPERATOR and organisation_id is None:
        raise InvalidInput("an operator account writes for one organisation: name it")
    if role == Role.DONOR and donor_id is None:
        raise InvalidInput("a donor account reads for one donor: name it")
    if role != Role.DONOR and donor_id is not None:
        raise InvalidInput("only a donor account names a donor")
    found = next(conn.execute(REFERENCES, {"organisation_id": organisation_id,
                                           "donor_id": donor_id, "programme_id": programme_id}))
    if programme_id is not None and not found[2]:
        raise InvalidInput(f"no programme with id {programme_id}")
    if organisation_id is not None and found[0] != programme_id:
        raise InvalidInput(f"no organisation with id {organisation_id} in the account's "
                           "programme")
    if donor_id is not None and found[1] != programme_id:
        raise InvalidInput(f"no donor with id {donor_id} in the account's programme")


# --- reading --------------------------------------------------------------------------

# A digest of what says who an account is and what it may do: it changes with every
# update an admin or coordinator can make (the password has its own route).
_ETAG = sql.SQL("md5(jsonb_build_array(u.username, u.full_name, u.role, u.programme_id, "
                "u.organisation_id, u.donor_id, u.active)::text)")
_PUBLIC = sql.SQL("u.id, u.programme_id, u.username, u.full_name, u.role, u.organisation_id, "
                  "u.donor_id, u.active, u.created_at, {etag} AS etag").format(etag=_ETAG)

ACCOUNT = sql.SQL("SELECT {public} FROM app_user u WHERE u.id = {id} AND {visible}")
ACCOUNT_FOR_UPDATE = sql.SQL("{account} FOR UPDATE")


def _load(conn: psycopg.Connection, principal: Principal, user_id: UUID, *,
          lock: bool = False) -> Account:
    query = ACCOUNT.format(public=_PUBLIC, id=sql.Placeholder("id"),
                           visible=_visible(principal))
    if lock:
        query = ACCOUNT_FOR_UPDATE.format(account=query)
    with conn.cursor(row_factory=class_row(Account)) as cur:
        account = cur.execute(query, {"id": user_id}).fetchone()
    if account is None:
        raise NotFound(f"no user with id {user_id} that you may see")
    return account


def get_user(conn: psycopg.Connection, *, principal: Principal, user_id: UUID) -> Account:
    """One account the principal may see (its own, or those it may list)."""
    return _load(conn, principal, user_id)


LIST_USERS = sql.SQL("SELECT {public} FROM app_user u WHERE {where} "
                     "ORDER BY u.username LIMIT {limit}")


def list_users(conn: psycopg.Connection, *, principal: Principal,
               filters: UserFilter | None = None, limit: int = 100,
               after: str | None = None) -> UserPage:
    """Accounts by username, `limit` at a time after the username `after` (keyset), for
    admins (all) and coordinators (their programme's)."""
    if not _may_list(principal):
        raise Forbidden("only admins and coordinators list accounts")
    filters = filters or UserFilter()
    params: dict[str, Any] = {"limit": limit + 1}
    where: list[sql.Composable] = [_visible(principal)]
    for column, value in (("programme_id", filters.programme_id), ("role", filters.role),
                          ("organisation_id", filters.organisation_id),
                          ("active", filters.active)):
        if value is not None:
            where.append(sql.SQL("u.{} = {}").format(sql.Identifier(column),
                                                     sql.Placeholder(column)))
            params[column] = value.value if isinstance(value, Enum) else value
    if after is not None:
        where.append(sql.SQL("u.username > {}").format(sql.Placeholder("after")))
        params["after"] = after
    query = LIST_USERS.format(public=_PUBLIC, where=sql.SQL(" AND ").join(where),
                              limit=sql.Placeholder("limit"))
    with conn.cursor(row_factory=class_row(Account)) as cur:
        rows = cur.execute(query, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return UserPage(rows, rows[-1].username if more and rows else None)


USER_ID_BY_NAME = "SELECT id FROM app_user WHERE username = %(ref)s"


def resolve_user(conn: psycopg.Connection, ref: str) -> UUID:
    """The id of the account named `ref` (a username, or an id)."""
    try:
        return UUID(ref)
    except ValueError:
        pass
    row = conn.execute(USER_ID_BY_NAME, {"ref": ref}).fetchone()
    if row is None:
        raise NotFound(f"no user named {ref!r}")
    return UUID(str(row[0]))


PROGRAMME_BY_CODE = "SELECT id FROM programme WHERE code = %(code)s"
PROGRAMMES = "SELECT id, code FROM programme ORDER BY code"


def resolve_programme(conn: psycopg.Connection, code: str | None) -> UUID:
    """The programme with this code; without a code, the only programme there is."""
    rows = conn.execute(PROGRAMMES).fetchall()
    codes = ", ".join(c for _, c in rows) or "none"
    if code is not None:
        for pid, pcode in rows:
            if pcode == code:
                return UUID(str(pid))
        raise InvalidInput(f"no programme {code!r}: the database holds {codes}")
    if len(rows) == 1:
        return UUID(str(rows[0][0]))
    raise InvalidInput(f"name the programme (the database holds {codes})")


# an organisation or a donor named by id, name or (organisations) acronym, in one programme
ORGANISATION_BY_REF = """
SELECT id FROM organisation WHERE programme_id = %(programme_id)s
  AND (id::text = %(ref)s OR lower(name) = lower(%(ref)s) OR lower(acronym) = lower(%(ref)s))
"""
DONOR_BY_REF = """
SELECT id FROM donor WHERE programme_id = %(programme_id)s
  AND (id::text = %(ref)s OR lower(name) = lower(%(ref)s))
"""


def _by_ref(conn: psycopg.Connection, query: str, what: str, programme_id: UUID,
            ref: str) -> UUID:
    rows = conn.execute(query, {"programme_id": programme_id, "ref": ref.strip()}).fetchall()
    if len(rows) != 1:
        raise InvalidInput(f"no {what} {ref!r} in the programme" if not rows
                           else f"{ref!r} names several {what}s: use the id")
    return UUID(str(rows[0][0]))


def resolve_organisation(conn: psycopg.Connection, *, programme_id: UUID, ref: str) -> UUID:
    """The organisation of the programme with this id, name or acronym."""
    return _by_ref(conn, ORGANISATION_BY_REF, "organisation", programme_id, ref)


def resolve_donor(conn: psycopg.Connection, *, programme_id: UUID, ref: str) -> UUID:
    """The donor of the programme with this id or name."""
    return _by_ref(conn, DONOR_BY_REF, "donor", programme_id, ref)


# --- writing --------------------------------------------------------------------------

USERNAME_TAKEN = "SELECT EXISTS (SELECT 1 FROM app_user WHERE username = %(username)s)"

INSERT_USER = sql.SQL("""
INSERT INTO app_user AS u (programme_id, username, full_name, role, organisation_id, donor_id,
                           password_hash)
VALUES (%(programme_id)s, %(username)s, %(full_name)s, %(role)s, %(organisation_id)s,
        %(donor_id)s, %(password_hash)s)
RETURNING {public}
""")


def add_user(conn: psycopg.Connection, *, principal: Principal, new: NewUser) -> Account:
    """Create an account (a coordinator's lands in its own programme); audited."""
    if not USERNAME.match(new.username):
        raise InvalidInput("a username is 3 to 64 characters: lower-case letters, digits and "
                           ". _ @ -", username=new.username)
    programme_id = new.programme_id
    if programme_id is None and principal.role == Role.COORDINATOR:
        programme_id = principal.programme_id
    check_manage(principal, programme_id=programme_id, role=new.role)
    _check_shape(conn, role=new.role, programme_id=programme_id,
                 organisation_id=new.organisation_id, donor_id=new.donor_id)
    check_password(new.password, username=new.username)
    if next(conn.execute(USERNAME_TAKEN, {"username": new.username}))[0]:
        raise InvalidInput(f"the username {new.username!r} is taken: choose another",
                           username=new.username)
    with conn.cursor(row_factory=class_row(Account)) as cur:
        account = next(cur.execute(INSERT_USER.format(public=_PUBLIC), {
            "programme_id": programme_id, "username": new.username,
            "full_name": _full_name(new.full_name), "role": new.role.value,
            "organisation_id": new.organisation_id, "donor_id": new.donor_id,
            "password_hash": hash_password(new.password)}))
    repo.audit(conn, actor=principal.username, action=AuditAction.CREATE, entity="app_user",
               entity_id=account.id, programme_id=account.programme_id,
               after=account.snapshot())
    return account


# the ETag is compared here, in the statement, not only in Python: of two writers that
# read the same account, exactly one changes it
UPDATE_USER = sql.SQL("""
UPDATE app_user AS u SET full_name = %(full_name)s, role = %(role)s,
    organisation_id = %(organisation_id)s, donor_id = %(donor_id)s, active = %(active)s
WHERE u.id = %(id)s AND (%(etag)s::text IS NULL OR {etag} = %(etag)s::text)
RETURNING {public}
""")

# tokens of a user that still work: all of them (disabled), or the sign-ins' (password)
REVOKE_LIVE = sql.SQL("""
UPDATE api_token SET revoked_at = now()
WHERE user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > now() AND {which}
""")


def _revoke_live(conn: psycopg.Connection, user_id: UUID, *, sessions_only: bool) -> int:
    which = sql.SQL("name IS NULL") if sessions_only else sql.SQL("TRUE")
    return conn.execute(REVOKE_LIVE.format(which=which), {"user_id": user_id}).rowcount


def update_user(conn: psycopg.Connection, *, principal: Principal, user_id: UUID,
                changes: UserChanges, expected_etag: str | None = None,
                reason: str | None = None) -> Account:
    """Change an account's role, organisation, donor, full name or whether it is active.

    With `expected_etag`, the change is refused (StaleVersion) when the account changed
    since that ETag was read. Disabling an account also revokes every token it holds, so
    enabling it again brings none of them back. Audited, with before and after.
    """
    before = _load(conn, principal, user_id, lock=True)
    check_manage(principal, programme_id=before.programme_id, role=before.role)
    role = changes.role or before.role
    active = before.active if changes.active is None else changes.active
    organisation_id = (before.organisation_id if changes.organisation_id is UNSET
                       else changes.organisation_id)
    donor_id = before.donor_id if changes.donor_id is UNSET else changes.donor_id
    full_name = before.full_name if changes.full_name is None else _full_name(changes.full_name)
    if user_id == principal.user_id and (role != before.role or not active):
        raise Forbidden("you cannot change your own role or disable your own account: ask "
                        "another admin")
    check_manage(principal, programme_id=before.programme_id, role=role)
    _check_shape(conn, role=role, programme_id=before.programme_id,
                 organisation_id=organisation_id, donor_id=donor_id)
    with conn.cursor(row_factory=class_row(Account)) as cur:
        after = cur.execute(UPDATE_USER.format(etag=_ETAG, public=_PUBLIC), {
            "id": user_id, "etag": expected_etag, "full_name": full_name, "role": role.value,
            "organisation_id": organisation_id, "donor_id": donor_id,
            "active": active}).fetchone()
    if after is None:
        # the row is locked by this transaction and still there: only the ETag refused it
        raise StaleVersion(f"the account {before.username} changed since you read it: load "
                           "it again and send its new ETag as If-Match", etag=before.etag)
    revoked = _revoke_live(conn, user_id, sessions_only=False) if not active else 0
    if after != before:
        record = after.snapshot() | ({"tokens_revoked": revoked} if revoked else {})
        repo.audit(conn, actor=principal.username, action=AuditAction.UPDATE,
                   entity="app_user", entity_id=user_id, programme_id=after.programme_id,
                   before=before.snapshot(), after=record, reason=reason)
    return after


HASH_OF_USER = "SELECT password_hash FROM app_user WHERE id = %(id)s"
REPLACE_HASH = "UPDATE app_user SET password_hash = %(hash)s WHERE id = %(id)s"


def set_password(conn: psycopg.Connection, *, principal: Principal, user_id: UUID,
                 password: str, current_password: str | None = None) -> int:
    """Set an account's password: one's own (with the current password), or as its
    manager. Every sign-in token of the account is revoked (named device tokens stay:
    they are revoked one by one); returns how many. Audited without the password."""
    account = _load(conn, principal, user_id, lock=True)
    own = user_id == principal.user_id
    if own:
        stored = next(conn.execute(HASH_OF_USER, {"id": user_id}))[0]
        if current_password is None or not _is_text(current_password) \
                or not verify_password(current_password, stored):
            raise Forbidden("the current password is wrong: send it as current_password")
    else:
        check_manage(principal, programme_id=account.programme_id, role=account.role)
    check_password(password, username=account.username)
    conn.execute(REPLACE_HASH, {"id": user_id, "hash": hash_password(password)})
    revoked = _revoke_live(conn, user_id, sessions_only=True)
    repo.audit(conn, actor=principal.username, action=AuditAction.UPDATE, entity="app_user",
               entity_id=user_id, programme_id=account.programme_id,
               after={"password": "changed", "sessions_revoked": revoked},
               reason="password changed by its owner" if own else "password set")
    return revoked


# --- long-lived tokens ------------------------------------------------------------------

_TOKEN_VIEW = sql.SQL("t.id, t.user_id, u.username, t.name, t.created_at, t.expires_at, "
                      "t.revoked_at")

INSERT_TOKEN = sql.SQL("""
WITH t AS (
    INSERT INTO api_token (user_id, token_sha256, expires_at, name)
    VALUES (%(user_id)s, %(digest)s, now() + %(ttl)s, %(name)s)
    RETURNING *)
SELECT {view} FROM t JOIN app_user u ON u.id = t.user_id
""")


def token_name(text: str) -> str:
    """A token's name as kept: trimmed, 1 to 100 printable characters."""
    name = text.strip()
    if not 1 <= len(name) <= 100 or _CONTROL.search(name):
        raise InvalidInput("a token's name is 1 to 100 printable characters, such as "
                           "'tablet 7'")
    return name


def create_token(conn: psycopg.Connection, *, principal: Principal, user_id: UUID,
                 name: str, days: int = DEFAULT_TOKEN_DAYS) -> IssuedToken:
    """A named, revocable long-lived token for a field device or a script acting as the
    account; only its SHA-256 is kept, so the token is in the answer and nowhere else."""
    account = _load(conn, principal, user_id, lock=True)
    check_manage(principal, programme_id=account.programme_id, role=account.role)
    if not account.active:
        raise InvalidInput(f"the account {account.username} is disabled: enable it first")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"a token lasts 1 to {MAX_TOKEN_DAYS} days")
    token = secrets.token_urlsafe(32)
    with conn.cursor(row_factory=class_row(TokenView)) as cur:
        info = next(cur.execute(INSERT_TOKEN.format(view=_TOKEN_VIEW), {
            "user_id": user_id, "digest": _token_digest(token), "ttl": timedelta(days=days),
            "name": token_name(name)}))
    repo.audit(conn, actor=principal.username, action=AuditAction.CREATE, entity="api_token",
               entity_id=info.id, programme_id=account.programme_id,
               after=info.model_dump(mode="json"))
    return IssuedToken(token, info)


TOKENS_OF = sql.SQL("""
SELECT {view} FROM api_token t JOIN app_user u ON u.id = t.user_id
WHERE t.user_id = %(user_id)s AND t.expires_at > now()
  AND (t.name IS NOT NULL OR t.revoked_at IS NULL)
ORDER BY t.created_at DESC, t.id
""")


def list_tokens(conn: psycopg.Connection, *, principal: Principal,
                user_id: UUID) -> list[TokenView]:
    """The unexpired tokens of an account: its named ones (revoked too, with the date) and
    its live sign-ins; for the account itself and its managers."""
    account = _load(conn, principal, user_id)
    if user_id != principal.user_id:
        check_manage(principal, programme_id=account.programme_id, role=account.role)
    with conn.cursor(row_factory=class_row(TokenView)) as cur:
        return cur.execute(TOKENS_OF.format(view=_TOKEN_VIEW), {"user_id": user_id}).fetchall()


TOKEN_HOLDER = sql.SQL("""
SELECT t.user_id, u.programme_id, u.role, u.username, t.name FROM api_token t
JOIN app_user u ON u.id = t.user_id
WHERE t.id = %(id)s AND (%(user_id)s::uuid IS NULL OR t.user_id = %(user_id)s::uuid)
  AND {visible}
""")

REVOKE_ONE = "UPDATE api_token SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL"


def revoke_token(conn: psycopg.Connection, *, principal: Principal, token_id: UUID,
                 user_id: UUID | None = None) -> bool:
    """Revoke one token (of `user_id`, when given): the holder's own, or as the holder's
    manager. True when it was live; revoking it again changes nothing. Audited."""
    row = conn.execute(TOKEN_HOLDER.format(visible=_visible(principal)),
                       {"id": token_id, "user_id": user_id}).fetchone()
    if row is None:
        raise NotFound(f"no token with id {token_id} that you may revoke")
    holder, programme_id, role, username, name = row
    if holder != principal.user_id:
        check_manage(principal, programme_id=programme_id, role=Role(role))
    if not conn.execute(REVOKE_ONE, {"id": token_id}).rowcount:
        return False
    repo.audit(conn, actor=principal.username, action=AuditAction.REVOKE, entity="api_token",
               entity_id=token_id, programme_id=programme_id,
               after={"username": username, "name": name})
    return True

