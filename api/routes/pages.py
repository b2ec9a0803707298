"""HTML pages for people: sign-in, the landing page and the overview map."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SESSION_COOKIE, AppSettings, Conn, token_of
from maps.overview import overview_map
from survey import access
from survey.auth import authenticate, issue_token
from survey.domain.vocab import Role
from survey.errors import Unauthorized
from survey.store.hazards import (
    admin_area_collection,
    hazard_area_features,
    release_collection,
)

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
                 "<li><a href='/login'>Sign in</a></li></ul>")


@router.get("/login")
def read_login(next: str = "/maps/overview", error: str | None = None) -> HTMLResponse:
    """Sign-in form."""
    message = f"<p class='error'>{escape(error)}</p>" if error else ""
    return _page("Sign in", f"<h1>Sign in to demine</h1>{message}"
                 f"<form method='post' action='/login'><input type='hidden' name='next' "
                 f"value='{escape(_safe_next(next))}'>"
                 "<label for='username'>Username</label><input id='username' name='username' "
                 "autocomplete='username' required><label for='password'>Password</label>"
                 "<input id='password' name='password' type='password' "
                 "autocomplete='current-password' required><button type='submit'>Sign in"
                 "</button></form>")


@router.post("/login")
def create_session(conn: Conn, settings: AppSettings, username: Annotated[str, Form()],
                   password: Annotated[str, Form()],
                   next: Annotated[str, Form()] = "/maps/overview") -> Response:
    """Checks the password and sets the session cookie."""
    ttl = timedelta(hours=settings.token_ttl_hours)
    try:
        token, _, _ = issue_token(conn, username=username, password=password, ttl=ttl)
    except Unauthorized as exc:
        return RedirectResponse(f"/login?next={quote(_safe_next(next))}&error="
                                f"{quote(exc.message)}", status_code=303)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(ttl.total_seconds()), httponly=True,
                        samesite="strict", secure=settings.cookie_secure)
    return response


@router.get("/maps/overview")
def read_overview_map(request: Request, conn: Conn, settings: AppSettings) -> Response:
    """Overview map of the hazard areas the signed-in user may see."""
    token = token_of(request)
    try:
        if not token:
            raise Unauthorized("sign in to see the map")
        principal = authenticate(conn, token=token)
    except Unauthorized:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    features: list[dict[str, object]] = []
    if principal.role != Role.PUBLIC:  # the public sees released land only
        features, _ = hazard_area_features(conn, scope=access.hazard_scope(principal),
                                           limit=20000)
    admin = admin_area_collection(conn, programme_id=principal.programme_id, min_level=3)
    released = release_collection(conn, scope=access.release_scope(principal))
    fmap = overview_map({"type": "FeatureCollection", "features": features},
                        admin_areas=admin, releases=released, basemap_url=settings.basemap_url,
                        title="Hazard areas" if features else "Released land")
    return HTMLResponse(fmap.get_root().render())
