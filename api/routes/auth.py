"""Signing in for API clients: a bearer token (the map pages sign in at /login), signing
out, and the tokens a user holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from api.deps import (
    AppSettings,
    BareConn,
    Conn,
    CurrentUser,
    client_address,
    sign_in_limits,
    token_of,
)
from api.schemas import TokenPublic
from survey import auth

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenInfoPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "6a1f3c8e-9d2b-4e7a-b5c4-3f0d8e2a1b97", "username": "coordinator",
        "created_at": "2025-03-02T07:55:00Z", "expires_at": "2025-03-02T19:55:00Z",
        "current": True}]})

    id: UUID
    username: str
    created_at: datetime
    expires_at: datetime
    current: bool


@router.post("/token", response_model=TokenPublic)
def create_token(
    request: Request,
    conn: BareConn,
    settings: AppSettings,
    username: Annotated[str, Form(examples=["coordinator"])],
    password: Annotated[str, Form(examples=["a long passphrase"])],
) -> TokenPublic:
    """Exchanges a username and password (form fields) for a bearer token. Repeated
    failures for a user or from an address are refused for a while (429, Retry-After)."""
    ttl = timedelta(hours=settings.token_ttl_hours)
    with conn.transaction():  # the refusal is counted and audited even when it is raised
        attempt = auth.sign_in(conn, username=username, password=password,
                               address=client_address(request), ttl=ttl,
                               limits=sign_in_limits(settings))
    token, expires, principal = attempt.result()
    return TokenPublic(access_token=token, expires_at=expires, username=principal.username,
                       role=principal.role.value)


def _presented(request: Request) -> str:
    token = token_of(request)  # get_principal has accepted it
    assert token is not None
    return token


@router.post("/logout", status_code=204)
def delete_session(request: Request, conn: Conn, user: CurrentUser,
                   everywhere: Annotated[bool, Query(
                       description="revoke every live token of this user")] = False
                   ) -> Response:
    """Revokes the token presented (with everywhere=true, all of the user's tokens)."""
    auth.sign_out(conn, principal=user, token=_presented(request), everywhere=everywhere)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenInfoPublic])
def list_tokens(request: Request, conn: Conn, user: CurrentUser,
                username: Annotated[str | None, Query(
                    description="admins: another user's tokens")] = None
                ) -> list[TokenInfoPublic]:
    """The caller's live tokens (never the tokens themselves); `current` is the one used."""
    return [TokenInfoPublic.model_validate(info, from_attributes=True)
            for info in auth.list_tokens(conn, principal=user, token=_presented(request),
                                         username=username)]


@router.delete("/tokens/{token_id}", status_code=204)
def delete_token(token_id: UUID, conn: Conn, user: CurrentUser) -> Response:
    """Revokes one token: one's own, or any for an admin."""
    auth.revoke_token(conn, principal=user, token_id=token_id)
    return Response(status_code=204)
