"""Request dependencies: a pooled connection in a transaction, and the calling principal."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from hmac import compare_digest
from typing import Annotated
from urllib.parse import quote, urlsplit

import psycopg
from fastapi import Depends, Request, Response, Security
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from psycopg_pool import ConnectionPool

from api.settings import ApiSettings
from survey import access
from survey.auth import Principal, SignInLimits, authenticate
from survey.errors import Forbidden, Unauthorized

SESSION_COOKIE = "demine_token"
CSRF_COOKIE = "demine_csrf"
CSRF_FIELD = "csrf_token"
# a browser sends the session cookie with any request to this site, whoever made the
# page that caused it; only these methods are safe to answer on the cookie alone
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """One connection for the request; its transaction commits when the route returns."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn, conn.transaction():
        yield conn


def get_bare_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A connection with no transaction open, for a route that must commit the record of
    a refusal before raising it (a failed sign-in is counted and audited)."""
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


# scope="function": the transaction commits (or rolls back) before the response leaves,
# so a client that reads right after a write sees it
Conn = Annotated[psycopg.Connection, Depends(get_conn, scope="function")]
BareConn = Annotated[psycopg.Connection, Depends(get_bare_conn, scope="function")]
AppSettings = Annotated[ApiSettings, Depends(get_settings)]


def client_address(request: Request) -> str:
    """The address the connection came from, as the server saw it: X-Forwarded-For is not
    read here (uvicorn applies it only for the proxies it is told to trust)."""
    return request.client.host if request.client else "unknown"


def sign_in_limits(settings: ApiSettings) -> SignInLimits:
    return SignInLimits(per_user=settings.login_failures_per_user,
                        per_address=settings.login_failures_per_address,
                        window=timedelta(minutes=settings.login_window_minutes))


def bearer_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def token_of(request: Request) -> str | None:
    """The bearer token, else the map pages' session cookie, which only reads: a write
    on the cookie alone could be made by any site the signed-in user visits. On /ogc, a
    GET may carry it as `?token=` too, for desktop GIS clients that cannot set headers
    (kept out of every other route: a token in a URL ends up in logs and histories)."""
    bearer = bearer_of(request)
    if bearer is not None:
        return bearer
    path = request.url.path
    if request.method == "GET" and (path == "/ogc" or path.startswith("/ogc/")):
        parameter = request.query_params.get("token")
        if parameter:
            return parameter
    if request.method in SAFE_METHODS:
        return request.cookies.get(SESSION_COOKIE)
    return None


# Declared for the OpenAPI document (and the Authorize button of /docs); the token itself
# is read by token_of, which also knows the session cookie of the map pages.
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearerAuth",
                     description="A token from POST /api/v1/auth/token")
_SIGN_IN = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False,
                                scheme_name="passwordFlow",
                                description="Sign in with a username and password")


def get_principal(request: Request, conn: Conn, _bearer: Annotated[
        HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
        _password: Annotated[str | None, Security(_SIGN_IN)] = None) -> Principal:
    """The signed-in caller (Bearer token, or for reading the session cookie of the maps)."""
    token = token_of(request)
    if not token:
        if request.cookies.get(SESSION_COOKIE):
            raise Unauthorized("a change through the API needs 'Authorization: Bearer "
                               "<token>' (POST /api/v1/auth/token): the map pages' session "
                               "cookie only reads")
        raise Unauthorized("sign in first: POST /api/v1/auth/token, then send "
                           "'Authorization: Bearer <token>'")
    return authenticate(conn, token=token)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def page_reader(request: Request, conn: psycopg.Connection) -> Principal | None:
    """The signed-in reader of an HTML page (session cookie or bearer token), or None:
    the page then sends the browser to /login instead of answering 401."""
    token = token_of(request)
    if not token:
        return None
    try:
        return authenticate(conn, token=token)
    except Unauthorized:
        return None


def to_login(request: Request) -> RedirectResponse:
    """Send a browser that is not signed in to the sign-in page, and back here after."""
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


def get_hazard_scope(principal: CurrentUser) -> access.Scope:
    return access.hazard_reader(principal)


HazardScope = Annotated[access.Scope, Depends(get_hazard_scope)]


# --- HTML forms: a CSRF token (double submit) and a same-site Origin ---------------------

def secure_cookies(request: Request, settings: ApiSettings) -> bool:
    """Cookies are Secure when configured so or when the request came over HTTPS."""
    return settings.cookie_secure or request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """The form token of this browser: the one in its CSRF cookie, or a new one (which
    `keep_csrf_token` sets). A form carries it in a hidden field; another site can
    neither read the cookie nor make the browser send it (SameSite=Strict), so it cannot
    forge the pair."""
    token = request.cookies.get(CSRF_COOKIE)
    return token if token and len(token) <= 128 else secrets.token_urlsafe(32)


def keep_csrf_token(request: Request, response: Response, token: str,
                    settings: ApiSettings) -> None:
    """Set the CSRF cookie on `response` when the browser does not hold `token` yet."""
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure_cookies(request, settings), path="/")


def _same_site(request: Request) -> bool:
    # the browser names the page that sent the form; absent both headers (old clients,
    # privacy tools), the token alone decides
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    host = request.headers.get("host", "")
    return source != "null" and urlsplit(source).netloc.lower() == host.lower()


def check_form(request: Request, token: str | None) -> None:
    """Refuse a form post that did not come from this site's own page: a foreign Origin,
    or a missing or wrong CSRF token."""
    if not _same_site(request):
        raise Forbidden("this form was sent from another site")
    expected = request.cookies.get(CSRF_COOKIE)
    if not token or not expected or not compare_digest(token.encode(), expected.encode()):
        raise Forbidden("the form has expired or was not made by this site: load the page "
                        "again and resend it")
