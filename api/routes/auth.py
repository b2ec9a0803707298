"""Signing in for API clients: a bearer token (the map pages sign in at /login)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form

from api.deps import AppSettings, Conn
from api.schemas import TokenPublic
from survey.auth import issue_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def create_token(
    conn: Conn,
    settings: AppSettings,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> TokenPublic:
    """Exchanges a username and password (form fields) for a bearer token."""
    ttl = timedelta(hours=settings.token_ttl_hours)
    token, expires, principal = issue_token(conn, username=username, password=password, ttl=ttl)
    return TokenPublic(access_token=token, expires_at=expires, username=principal.username,
                       role=principal.role.value)
