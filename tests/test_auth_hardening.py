"""Sign-in over real HTTP: limits on failed sign-ins, their audit, signing out, revoking
tokens; the session cookie that only reads, and form posts that only this site can make."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
import uvicorn
from shapely.geometry import MultiPolygon, box, mapping
from starlette.requests import Request

from api.deps import secure_cookies
from api.settings import ApiSettings
from survey.auth import hash_password
from survey.config import Settings
from survey.demo import DEMO_PASSWORD
from survey.domain.models import ActivityReport, HazardArea
from survey.store import db, repo
from tests.conftest import _free_port, sign_in

PASSWORD = "auth-test-pass"  # noqa: S105 - a test account's password
WRONG = "not-the-password"  # noqa: S105


@pytest.fixture(autouse=True)
def no_failures_left(api_database_url: str) -> Iterator[None]:
    """Every test starts, and leaves the server, with no failed sign-in counted: the demo
    users and the loopback address must stay usable for the other test files."""
    def clear() -> None:
        with psycopg.connect(api_database_url) as conn:
            conn.execute("DELETE FROM login_failure")
    clear()
    yield
    clear()


def make_user(api_database_url: str, role: str = "coordinator") -> str:
    """A fresh user of the demo programme, so that no demo user is ever locked out."""
    username = f"auth.{uuid4().hex[:10]}"
    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT id, %s, 'Auth test', %s, %s FROM programme",
                     (username, role, hash_password(PASSWORD)))
    return username


def token_of(http: httpx.Client, username: str) -> str:
    response = http.post("/api/v1/auth/token", data={"username": username,
                                                      "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def attempt(http: httpx.Client, username: str, password: str = WRONG) -> httpx.Response:
    return http.post("/api/v1/auth/token", data={"username": username, "password": password})


# --- item 7: limits on failed sign-ins -------------------------------------------------

def test_failed_sign_ins_for_one_user_are_limited_then_refused_with_retry_after(
        http: httpx.Client, api_database_url: str) -> None:
    username = make_user(api_database_url)
    started = time.monotonic()
    statuses = [attempt(http, username).status_code for _ in range(10)]
    assert statuses == [401] * 10
    refused = attempt(http, username, PASSWORD)  # even the right password now waits
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "try again" in refused.json()["detail"]
    assert time.monotonic() - started < 30
    # another user, from the same address, is not held up by this one's failures
    other = make_user(api_database_url)
    assert attempt(http, other, PASSWORD).status_code == 200


def test_failed_sign_ins_are_audited_without_the_password(http: httpx.Client,
                                                          api_database_url: str) -> None:
    username = make_user(api_database_url)
    secret = f"my-secret-{uuid4().hex}"
    assert attempt(http, username, secret).status_code == 401
    assert attempt(http, "nobody.here", secret).status_code == 401
    with psycopg.connect(api_database_url) as conn:
        rows = conn.execute(
            "SELECT actor, entity_id, after, reason, row_to_json(a)::text FROM audit_log a "
            "WHERE action = 'login_failed' AND actor IN (%s, 'nobody.here') ORDER BY id",
            (username,)).fetchall()
    assert [row[0] for row in rows] == [username, "nobody.here"]
    assert rows[0][1] is not None and rows[1][1] is None  # the known user is named by id
    assert rows[0][2] == {"username": username, "address": "127.0.0.1"}
    assert all(secret not in row[4] for row in rows)


def test_a_successful_sign_in_clears_the_users_own_failures(http: httpx.Client,
                                                            api_database_url: str) -> None:
    username = make_user(api_database_url)
    for _ in range(9):
        assert attempt(http, username).status_code == 401
    assert attempt(http, username, PASSWORD).status_code == 200
    for _ in range(9):
        assert attempt(http, username).status_code == 401
    assert attempt(http, username, PASSWORD).status_code == 200


def test_failed_sign_ins_from_one_address_are_limited(http: httpx.Client,
                                                      api_database_url: str) -> None:
    # a password sprayed over many names: 30 failures from this address, then 429 for
    # every name, a real user with the right password included
    for n in range(30):
        assert attempt(http, f"spray.{n:02d}").status_code == 401
    refused = http.post("/api/v1/auth/token", data={"username": "coordinator",
                                                     "password": DEMO_PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_parallel_guesses_cannot_overrun_the_limit(http: httpx.Client,
                                                   api_database_url: str) -> None:
    username = make_user(api_database_url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: attempt(http, username).status_code, range(20)))
    assert statuses == [401] * 10 + [429] * 10
    with psycopg.connect(api_database_url) as conn:
        counted = conn.execute("SELECT count(*) FROM login_failure WHERE username = %s",
                               (username,)).fetchone()
    assert counted == (10,)


@pytest.fixture
def second_server(api_database_url: str) -> Iterator[str]:
    """Another app process's worth: its own app and pool on the same database."""
    from api.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(Settings(database_url=api_database_url, pool_max_size=2)),
        host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "no second server"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_limit_holds_across_app_instances(http: httpx.Client, api_database_url: str,
                                              second_server: str) -> None:
    username = make_user(api_database_url)
    with httpx.Client(base_url=second_server, timeout=30) as other:
        for n in range(10):
            assert attempt(http if n % 2 else other, username).status_code == 401
        assert attempt(other, username, PASSWORD).status_code == 429
    assert attempt(http, username, PASSWORD).status_code == 429


# --- item 7: signing out and revoking tokens -------------------------------------------

def test_logout_revokes_the_token_presented(http: httpx.Client, api_database_url: str) -> None:
    username = make_user(api_database_url)
    kept, dropped = token_of(http, username), token_of(http, username)
    assert http.get("/api/v1/hazard-areas?limit=1", headers=bearer(dropped)).status_code == 200
    assert http.post("/api/v1/auth/logout", headers=bearer(dropped)).status_code == 204
    gone = http.get("/api/v1/hazard-areas?limit=1", headers=bearer(dropped))
    assert gone.status_code == 401
    assert http.get("/api/v1/hazard-areas?limit=1", headers=bearer(kept)).status_code == 200
    assert http.post("/api/v1/auth/logout", headers=bearer(dropped)).status_code == 401
    with psycopg.connect(api_database_url) as conn:
        logged = conn.execute("SELECT after FROM audit_log WHERE action = 'logout' AND "
                              "actor = %s", (username,)).fetchall()
    assert logged == [({"tokens_revoked": 1, "everywhere": False},)]


def test_logout_everywhere_revokes_every_token_of_the_user(http: httpx.Client,
                                                           api_database_url: str) -> None:
    username = make_user(api_database_url)
    tokens = [token_of(http, username) for _ in range(3)]
    out = http.post("/api/v1/auth/logout", params={"everywhere": "true"},
                    headers=bearer(tokens[0]))
    assert out.status_code == 204
    for token in tokens:
        assert http.get("/api/v1/auth/tokens", headers=bearer(token)).status_code == 401


def test_tokens_are_listed_and_revoked_by_their_owner_or_an_admin(
        http: httpx.Client, api_database_url: str) -> None:
    username, stranger = make_user(api_database_url), make_user(api_database_url)
    first, second = token_of(http, username), token_of(http, username)
    listed = http.get("/api/v1/auth/tokens", headers=bearer(first))
    assert listed.status_code == 200
    tokens = listed.json()
    assert len(tokens) == 2 and {t["username"] for t in tokens} == {username}
    assert [t["current"] for t in tokens].count(True) == 1
    assert first not in listed.text and second not in listed.text
    other_id = next(t["id"] for t in tokens if not t["current"])
    # another user may neither see nor revoke them
    intruder = bearer(token_of(http, stranger))
    assert http.get("/api/v1/auth/tokens", params={"username": username},
                    headers=intruder).status_code == 403
    assert http.delete(f"/api/v1/auth/tokens/{other_id}", headers=intruder).status_code == 404
    assert http.get("/api/v1/auth/tokens", headers=bearer(second)).status_code == 200
    # the owner may
    assert http.delete(f"/api/v1/auth/tokens/{other_id}",
                       headers=bearer(first)).status_code == 204
    assert http.get("/api/v1/auth/tokens", headers=bearer(second)).status_code == 401
    # an admin may revoke anyone's
    admin = sign_in(http, "admin")
    mine = http.get("/api/v1/auth/tokens", params={"username": username}, headers=admin).json()
    assert [t["current"] for t in mine] == [False]
    assert http.delete(f"/api/v1/auth/tokens/{mine[0]['id']}", headers=admin).status_code == 204
    assert http.get("/api/v1/auth/tokens", headers=bearer(first)).status_code == 401
    with psycopg.connect(api_database_url) as conn:
        revoked = conn.execute("SELECT actor FROM audit_log WHERE action = 'revoke' AND "
                               "after->>'username' = %s ORDER BY id", (username,)).fetchall()
    assert revoked == [(username,), ("admin",)]


def test_a_sign_in_drops_the_users_expired_tokens(http: httpx.Client,
                                                  api_database_url: str) -> None:
    username = make_user(api_database_url)
    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO api_token (user_id, token_sha256, expires_at) SELECT id, %s, "
                     "now() - interval '1 hour' FROM app_user WHERE username = %s",
                     (uuid4().hex * 2, username))
    token_of(http, username)
    with psycopg.connect(api_database_url) as conn:
        counts = conn.execute(
            "SELECT count(*) FILTER (WHERE expires_at < now()), count(*) FROM api_token t "
            "JOIN app_user u ON u.id = t.user_id WHERE u.username = %s", (username,)).fetchone()
    assert counts == (0, 1)


# --- the sign-in page ------------------------------------------------------------------

CSRF = re.compile(r"name='csrf_token' value='([^']+)'")


def form_token(client: httpx.Client, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found[1]


def form_sign_in(client: httpx.Client, username: str, password: str,
                 **headers: str) -> httpx.Response:
    token = form_token(client)
    return client.post("/login", data={"username": username, "password": password,
                                       "next": "/maps/overview", "csrf_token": token},
                       headers=headers)


def test_login_form_signs_in_with_its_token_and_sets_a_strict_cookie(
        live_server: str, api_database_url: str) -> None:
    username = make_user(api_database_url)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        signed = form_sign_in(client, username, PASSWORD, origin=live_server)
        assert signed.status_code == 303 and signed.headers["location"] == "/maps/overview"
        cookie = next(c for c in signed.headers.get_list("set-cookie")
                      if c.startswith("demine_token="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/maps/overview").status_code == 200


def test_login_form_refuses_posts_made_by_another_site(live_server: str,
                                                       api_database_url: str) -> None:
    username = make_user(api_database_url)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        # a foreign Origin, even with a valid token pair
        foreign = form_sign_in(client, username, PASSWORD, origin="https://evil.example")
        assert foreign.status_code == 403 and "demine_token" not in foreign.headers.get(
            "set-cookie", "")
        # no token at all: what a cross-site form (which cannot read the page) sends
        bare = client.post("/login", data={"username": username, "password": PASSWORD})
        assert bare.status_code == 403
        # a token that is not the browser's own
        client.cookies.set("demine_csrf", "a" * 43)
        forged = client.post("/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": "b" * 43})
        assert forged.status_code == 403


def test_login_page_shows_only_messages_the_server_chose(http: httpx.Client) -> None:
    planted = http.get("/login", params={"error": "Your account is locked: call +1 555 0100"})
    assert planted.status_code == 200 and "555 0100" not in planted.text
    assert "class='error'" not in planted.text
    known = http.get("/login", params={"error": "credentials"})
    assert "Unknown user or wrong password." in known.text


def test_login_form_uses_the_same_limits(live_server: str, api_database_url: str) -> None:
    username = make_user(api_database_url)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        for _ in range(10):
            failed = form_sign_in(client, username, WRONG)
            assert failed.status_code == 303
            assert failed.headers["location"].endswith("error=credentials")
        refused = form_sign_in(client, username, PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many failed sign-ins" in refused.text
        assert "demine_token" not in refused.headers.get("set-cookie", "")


def test_logout_form_revokes_the_session_and_clears_the_cookie(
        live_server: str, api_database_url: str) -> None:
    username = make_user(api_database_url)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        assert form_sign_in(client, username, PASSWORD).status_code == 303
        session = client.cookies["demine_token"]
        token = form_token(client, "/logout")
        # another site cannot sign the user out
        assert client.post("/logout", data={"csrf_token": token},
                           headers={"origin": "https://evil.example"}).status_code == 403
        assert client.get("/maps/overview").status_code == 200
        out = client.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/login?error=signed_out"
        assert "demine_token" not in client.cookies
        assert client.get("/maps/overview").status_code == 303
    with httpx.Client(base_url=live_server, timeout=30) as replay:
        replay.cookies.set("demine_token", session)  # a copied cookie is dead too
        assert replay.get("/maps/overview").status_code == 303


def _request(scheme: str) -> Request:
    return Request({"type": "http", "scheme": scheme, "method": "POST", "path": "/login",
                    "headers": [(b"host", b"demine.example")], "query_string": b""})


def test_cookies_are_secure_over_https_or_when_configured() -> None:
    assert secure_cookies(_request("https"), ApiSettings())
    assert not secure_cookies(_request("http"), ApiSettings())
    assert secure_cookies(_request("http"), ApiSettings(cookie_secure=True))


# --- item 8: the session cookie only reads ---------------------------------------------

@pytest.fixture
def fresh_site(api_database_url: str) -> dict[str, Any]:
    """A hazard area with a report, on ground of its own east of the demo's areas."""
    with db.connect(api_database_url) as conn, conn.transaction():
        org_id, programme_id = conn.execute(
            "SELECT id, programme_id FROM organisation WHERE name = 'The HALO Trust'").fetchone()
        n = conn.execute("SELECT count(*) FROM hazard_area WHERE local_id LIKE 'UA-AUTH-%'"
                         ).fetchone()[0]
        south = 49.30 + 0.004 * n
        hazard = repo.insert(conn, HazardArea(
            programme_id=programme_id, local_id=f"UA-AUTH-{uuid4().hex[:8]}",
            classification="SHA", evidence="indirect", reporting_organisation_id=org_id,
            date_of_information=date(2025, 1, 5),
            geom=MultiPolygon([box(37.56, south, 37.562, south + 0.002)])), actor="test")
        report = repo.insert(conn, ActivityReport(
            programme_id=programme_id, hazard_area_id=hazard.id, organisation_id=org_id,
            kind="progress", report_date=date(2025, 3, 1), team_days=1), actor="test")
    return {"hazard": hazard, "report": report, "south": south}


def test_the_session_cookie_cannot_write_through_the_api(
        http: httpx.Client, live_server: str, api_database_url: str,
        fresh_site: dict[str, Any]) -> None:
    south = fresh_site["south"]
    body = {"activity_report_id": str(fresh_site["report"].id),
            "hazard_area_id": str(fresh_site["hazard"].id), "product": "cleared",
            "method": "MANUAL", "release_date": "2025-03-01",
            "geometry": mapping(box(37.56, south, 37.561, south + 0.001))}
    session = sign_in(http, "coordinator")["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=live_server, timeout=30) as browser:
        browser.cookies.set("demine_token", session)  # what /login leaves in the browser
        for origin in ("https://evil.example", live_server):
            write = browser.post("/api/v1/releases", json=body, headers={"origin": origin})
            assert write.status_code == 401, write.text
            assert "Bearer" in write.json()["detail"]
        # reading on the cookie still works (the map pages)
        assert browser.get("/api/v1/hazard-areas?limit=1").status_code == 200
    with psycopg.connect(api_database_url) as conn:
        booked = conn.execute("SELECT count(*) FROM release WHERE hazard_area_id = %s",
                              (fresh_site["hazard"].id,)).fetchone()
    assert booked == (0,)
    # the same token as a bearer writes: the refusal is about the cookie, not the user
    with httpx.Client(base_url=live_server, timeout=30) as api:
        made = api.post("/api/v1/releases", json=body, headers=bearer(session))
        assert made.status_code == 201, made.text
