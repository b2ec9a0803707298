"""HTML pages for people: sign-in and the landing page (the maps: api/routes/maps.py)."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    AppSettings,
    BareConn,
    Conn,
    check_form,
    client_address,
    csrf_token,
    keep_csrf_token,
    secure_cookies,
    sign_in_limits,
)
from api.settings import ApiSettings
from survey import auth
from survey.errors import Forbidden, TooManyAttempts, Unauthorized

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} — demine</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
label{{display:block;margin:.6rem 0 .2rem}}input{{font:inherit;padding:.3rem;width:100%}}
button{{margin-top:1rem;font:inherit;padding:.4rem 1.2rem}}.error{{color:#b00}}</style>
</head><body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), body=body), status_code=status)


def _safe_next(target: str) -> str:
    # only local paths: never redirect a signed-in user to another site (browsers read
    # "/\\host" as "//host", so backslashes and control characters are refused too)
    local = target.startswith("/") and not target.startswith("//")
    clean = not any(ch == "\\" or ord(ch) < 32 for ch in target)
    return target if local and clean else "/"


@router.get("/")
def read_home() -> HTMLResponse:
    """Landing page."""
    return _page("demine", "<h1>demine</h1><p>Information system for humanitarian demining."
                 "</p><ul><li><a href='/maps/overview'>Map of hazard areas</a></li>"
                 "<li><a href='/docs'>API documentation</a></li>"
                 "<li><a href='/login'>Sign in</a></li><li><a href='/logout'>Sign out</a>"
                 "</li></ul>")


# /login?error= names one of these; anything else shows nothing (a link must not be able
# to put its own words on the sign-in page)
MESSAGES = {
    "credentials": "Unknown user or wrong password.",
    "throttled": "Too many failed sign-ins: wait a few minutes, then try again.",
    "form": "The form had expired: please sign in again.",
    "signed_out": "You are signed out.",
}


def _login_page(request: Request, settings: ApiSettings, next: str, message: str | None,
                status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    token = csrf_token(request)
    notice = f"<p class='error'>{escape(message)}</p>" if message else ""
    response = _page("Sign in", f"<h1>Sign in to demine</h1>{notice}"
                     f"<form method='post' action='/login'><input type='hidden' name='next' "
                     f"value='{escape(_safe_next(next))}'><input type='hidden' "
                     f"name='{CSRF_FIELD}' value='{escape(token)}'>"
                     "<label for='username'>Username</label><input id='username' "
                     "name='username' autocomplete='username' required><label "
                     "for='password'>Password</label><input id='password' name='password' "
                     "type='password' autocomplete='current-password' required><button "
                     "type='submit'>Sign in</button></form>", status)
    response.headers.update(headers or {})
    keep_csrf_token(request, response, token, settings)
    return response


def _refused_form(exc: Forbidden) -> HTMLResponse:
    return _page("Not accepted", f"<h1>Not accepted</h1><p class='error'>{escape(exc.message)}"
                 "</p><p><a href='/login'>Sign in</a></p>", 403)


@router.get("/login")
def read_login(request: Request, settings: AppSettings, next: str = "/maps/overview",
               error: str | None = None) -> HTMLResponse:
    """Sign-in form."""
    return _login_page(request, settings, next, MESSAGES.get(error or ""))


@router.post("/login")
def create_session(request: Request, conn: BareConn, settings: AppSettings,
                   username: Annotated[str, Form()], password: Annotated[str, Form()],
                   next: Annotated[str, Form()] = "/maps/overview",
                   csrf: Annotated[str | None, Form(alias=CSRF_FIELD)] = None) -> Response:
    """Checks the password and sets the session cookie."""
    try:
        check_form(request, csrf)
    except Forbidden as exc:
        return _refused_form(exc)
    ttl = timedelta(hours=settings.token_ttl_hours)
    with conn.transaction():  # a refusal is counted and audited before it is shown
        attempt = auth.sign_in(conn, username=username, password=password,
                               address=client_address(request), ttl=ttl,
                               limits=sign_in_limits(settings))
    try:
        token, _, _ = attempt.result()
    except TooManyAttempts as exc:
        return _login_page(request, settings, next, MESSAGES["throttled"], 429,
                           {"Retry-After": str(exc.detail.get("retry_after", 60))})
    except Unauthorized:
        return RedirectResponse(f"/login?next={quote(_safe_next(next))}&error=credentials",
                                status_code=303)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(ttl.total_seconds()), httponly=True,
                        samesite="strict", secure=secure_cookies(request, settings))
    return response


@router.get("/logout")
def read_logout(request: Request, settings: AppSettings) -> HTMLResponse:
    """Sign-out form (signing out changes state, so it is a POST with a CSRF token)."""
    token = csrf_token(request)
    response = _page("Sign out", "<h1>Sign out of demine</h1><form method='post' "
                     f"action='/logout'><input type='hidden' name='{CSRF_FIELD}' "
                     f"value='{escape(token)}'><button type='submit'>Sign out</button></form>")
    keep_csrf_token(request, response, token, settings)
    return response


@router.post("/logout")
def delete_session(request: Request, conn: Conn, settings: AppSettings,
                   csrf: Annotated[str | None, Form(alias=CSRF_FIELD)] = None) -> Response:
    """Revokes the session's token and clears the cookie."""
    try:
        check_form(request, csrf)
    except Forbidden as exc:
        return _refused_form(exc)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            principal = auth.authenticate(conn, token=token)
        except Unauthorized:
            pass  # expired or revoked already: clearing the cookie is all that is left
        else:
            auth.sign_out(conn, principal=principal, token=token)
    response = RedirectResponse("/login?error=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict",
                           secure=secure_cookies(request, settings))
    return response
