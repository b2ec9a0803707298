"""Request dependencies: a pooled connection in a transaction, and the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg import sql
from psycopg_pool import ConnectionPool

from survey import access
from survey.auth import Principal, authenticate
from survey.config import Settings
from survey.errors import Unauthorized

SESSION_COOKIE = "demine_token"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """One connection for the request; its transaction commits when the route returns."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn, conn.transaction():
        yield conn


# scope="function": the transaction commits (or rolls back) before the response leaves,
# so a client that reads right after a write sees it
Conn = Annotated[psycopg.Connection, Depends(get_conn, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


def get_principal(request: Request, conn: Conn) -> Principal:
    """The signed-in caller (Bearer token, or the session cookie of the map pages)."""
    token = token_of(request)
    if not token:
        raise Unauthorized("sign in first: POST /api/v1/auth/token, then send "
                           "'Authorization: Bearer <token>'")
    return authenticate(conn, token=token)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def get_hazard_scope(principal: CurrentUser) -> sql.Composable:
    return access.hazard_scope(principal)


HazardScope = Annotated[sql.Composable, Depends(get_hazard_scope)]
