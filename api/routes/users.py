"""Accounts over HTTP: users, their passwords and their long-lived tokens.

Admins manage every account; coordinators the accounts of their own programme except
admins'; every user may read its own account and change its own password (survey/
accounts.py decides). app_user has no version column, so the ETag of an account is a
digest of its fields, and PATCH needs it back as If-Match (428 without, 412 when stale).
No password, password hash or token digest is ever in an answer; a new token is in the
answer to its creation, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Conn, CurrentUser
from api.schemas import Link, StrictBool, StrictInt, Text
from survey import accounts
from survey.domain.vocab import Role
from survey.errors import InvalidInput, PreconditionRequired

router = APIRouter(prefix="/api/v1/users", tags=["users"])

JSON = "application/json"
NO_STORE = {"Cache-Control": "no-store"}

Username = Annotated[str, Text(64, min_length=3, pattern=r"^[a-z0-9._@-]{3,64}$")]
FullName = Annotated[str, Text(200, min_length=1)]
# checked for length and against the username by survey.accounts.check_password; not
# trimmed (a space may belong to a password), only bounded
Password = Annotated[str, Field(min_length=1, max_length=accounts.MAX_PASSWORD, strict=True)]


_USER_EXAMPLE: dict[str, Any] = {
        "id": "2d9f4b7a-6e1c-4a3d-9b8f-0c5e7a2d4f16",
        "programme_id": "0e6b3a9d-2c4f-4d8e-b1a7-6f9c2e5d8a30", "username": "operator.tablet7",
        "full_name": "HALO team 3 tablet", "role": "operator",
        "organisation_id": "5a7d2c9e-1f3b-4e6a-8c0d-9b2e4f6a1c38", "donor_id": None,
        "active": True, "created_at": "2025-02-03T08:30:00Z"}
_TOKEN_EXAMPLE: dict[str, Any] = {
        "id": "6a1f3c8e-9d2b-4e7a-b5c4-3f0d8e2a1b97",
        "user_id": "2d9f4b7a-6e1c-4a3d-9b8f-0c5e7a2d4f16", "username": "operator.tablet7",
        "name": "tablet 7", "kind": "device", "created_at": "2025-02-03T08:35:00Z",
        "expires_at": "2025-08-02T08:35:00Z", "revoked_at": None}


class UserPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_USER_EXAMPLE]})

    id: UUID
    programme_id: UUID | None
    username: str
    full_name: str
    role: Role
    organisation_id: UUID | None
    donor_id: UUID | None
    active: bool
    created_at: datetime


class UsersPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "users": [_USER_EXAMPLE], "links": [{
            "href": "/api/v1/users?limit=50&after=operator.tablet7", "rel": "next",
            "type": "application/json"}]}]})

    users: list[UserPublic]
    links: list[Link] = Field(description="`next` while there are more accounts")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "username": "operator.tablet7", "full_name": "HALO team 3 tablet",
        "role": "operator", "organisation_id": "3f6c1c1e-5b7e-4c47-9a59-1f1e2d3c4b5a",
        "password": "a long passphrase"}]})

    username: Username
    full_name: FullName
    role: Role
    password: Password
    programme_id: UUID | None = Field(
        default=None, description="admins: the account's programme (a coordinator's "
        "accounts are in its own)")
    organisation_id: UUID | None = Field(default=None, description="operators need one")
    donor_id: UUID | None = Field(default=None, description="donor accounts need one")


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"active": False}, {"role": "coordinator", "organisation_id": None}]})

    role: Role | None = None
    active: StrictBool | None = None
    full_name: FullName | None = None
    organisation_id: UUID | None = Field(default=None, description="null clears it")
    donor_id: UUID | None = Field(default=None, description="null clears it")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"password": "a new long passphrase"}]})

    password: Password
    current_password: Password | None = Field(
        default=None, description="needed when changing one's own password")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "tablet 7", "days": 180}]})

    name: Annotated[str, Text(100, min_length=1)] = Field(
        description="what holds the token, to know which one to revoke")
    days: Annotated[StrictInt, Field(ge=1, le=accounts.MAX_TOKEN_DAYS)] = \
        accounts.DEFAULT_TOKEN_DAYS


class TokenInfoPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TOKEN_EXAMPLE]})

    id: UUID
    user_id: UUID
    username: str
    name: str | None
    kind: Literal["device", "session"]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class TokenIssued(TokenInfoPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [_TOKEN_EXAMPLE | {
        "access_token": "dm_8HkP2wQ7rZ4tYc9VbN3mLs6Jx1", "token_type": "bearer"}]})

    access_token: str = Field(description="shown this once: it is kept hashed")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)


def _public(account: accounts.Account) -> UserPublic:
    return UserPublic.model_validate(account.model_dump(exclude={"etag"}))


def _token_public(info: accounts.TokenView) -> TokenInfoPublic:
    return TokenInfoPublic.model_validate({**info.model_dump(), "kind": info.kind})


def _with_etag(account: accounts.Account, status_code: int = 200,
               headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(_public(account).model_dump(mode="json"), status_code=status_code,
                        headers={"ETag": f'"{account.etag}"', **(headers or {})})


def _expected_etag(if_match: str | None) -> str | None:
    """The ETag a change was made against; None for `*` (any version, RFC 9110)."""
    if if_match is None:
        raise PreconditionRequired("send the account's ETag (from GET /api/v1/users/{id}) as "
                                   "If-Match, so that nobody else's change is overwritten")
    if if_match.strip() == "*":
        return None
    etag = if_match.strip().removeprefix("W/").strip('"')
    if not etag:
        raise InvalidInput("If-Match must be the account's ETag, as GET gives it")
    return etag


@router.get("", response_model=UsersPublic)
def list_users(
    request: Request,
    conn: Conn,
    user: CurrentUser,
    role: Role | None = None,
    programme_id: UUID | None = None,
    organisation_id: UUID | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=64, description="the last username of "
                                       "the page before (the next link carries it)")] = None,
) -> UsersPublic:
    """Lists accounts by username (admins: all; coordinators: their programme's)."""
    page = accounts.list_users(conn, principal=user, filters=accounts.UserFilter(
        programme_id=programme_id, role=role, organisation_id=organisation_id, active=active),
        limit=limit, after=after)
    links = [Link(href=str(request.url), rel="self", type=JSON)]
    if page.next_after is not None:
        links.append(Link(href=str(request.url.include_query_params(after=page.next_after)),
                          rel="next", type=JSON))
    return UsersPublic(users=[_public(a) for a in page.accounts], links=links)


@router.post("", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, conn: Conn, user: CurrentUser) -> JSONResponse:
    """Creates an account (a coordinator's is in its own programme; never an admin)."""
    account = accounts.add_user(conn, principal=user, new=accounts.NewUser(
        username=body.username, full_name=body.full_name, role=body.role,
        password=body.password, programme_id=body.programme_id,
        organisation_id=body.organisation_id, donor_id=body.donor_id))
    return _with_etag(account, 201, {"Location": f"/api/v1/users/{account.id}"})


@router.get("/{user_id}", response_model=UserPublic)
def read_user(user_id: UUID, conn: Conn, user: CurrentUser) -> JSONResponse:
    """One account, with its ETag (send it back as If-Match to change the account)."""
    return _with_etag(accounts.get_user(conn, principal=user, user_id=user_id))


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(
    user_id: UUID,
    body: UserUpdate,
    conn: Conn,
    user: CurrentUser,
    if_match: Annotated[str | None, Header(description="the account's ETag")] = None,
) -> JSONResponse:
    """Changes role, active, organisation, donor or full name; disabling revokes every
    token of the account."""
    sent = body.model_fields_set
    if not sent:
        raise InvalidInput("send at least one of role, active, full_name, organisation_id, "
                           "donor_id")
    for name in ("role", "active", "full_name"):
        if name in sent and getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null")
    changes = accounts.UserChanges(
        role=body.role, active=body.active, full_name=body.full_name,
        organisation_id=body.organisation_id if "organisation_id" in sent else accounts.UNSET,
        donor_id=body.donor_id if "donor_id" in sent else accounts.UNSET)
    account = accounts.update_user(conn, principal=user, user_id=user_id, changes=changes,
                                   expected_etag=_expected_etag(if_match))
    return _with_etag(account)


@router.post("/{user_id}/password", status_code=204)
def update_user_password(user_id: UUID, body: PasswordChange, conn: Conn,
                         user: CurrentUser) -> Response:
    """Sets a password (one's own needs current_password); the account's sign-in sessions
    are revoked, its named device tokens stay."""
    accounts.set_password(conn, principal=user, user_id=user_id, password=body.password,
                          current_password=body.current_password)
    return Response(status_code=204)


@router.get("/{user_id}/tokens", response_model=list[TokenInfoPublic])
def list_user_tokens(user_id: UUID, conn: Conn, user: CurrentUser) -> list[TokenInfoPublic]:
    """The account's unexpired tokens: named device tokens and live sign-ins (never the
    tokens themselves)."""
    return [_token_public(t) for t in accounts.list_tokens(conn, principal=user,
                                                           user_id=user_id)]


@router.post("/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def create_user_token(user_id: UUID, conn: Conn, user: CurrentUser,
                      body: Annotated[TokenCreate, Body()]) -> JSONResponse:
    """Creates a long-lived, revocable token for a field device or a script acting as
    the account; the token is in this answer only."""
    issued = accounts.create_token(conn, principal=user, user_id=user_id, name=body.name,
                                   days=body.days)
    out = TokenIssued(**_token_public(issued.info).model_dump(), access_token=issued.token)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=NO_STORE)


@router.delete("/{user_id}/tokens/{token_id}", status_code=204)
def delete_user_token(user_id: UUID, token_id: UUID, conn: Conn,
                      user: CurrentUser) -> Response:
    """Revokes one of the account's tokens at once (revoking it again changes nothing)."""
    accounts.revoke_token(conn, principal=user, token_id=token_id, user_id=user_id)
    return Response(status_code=204)
