"""The tiles' fixed cost, kept without giving up any check (issue 9): a token's principal
is remembered between tiles but checked again inside each tile's statement, and the pool
skips its check's round trip only where a dead connection cannot hide. Real HTTP, a real
database, nothing mocked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from survey import tiles
from survey.auth import Principal, PrincipalCache, StaleSignIn, authenticate, hash_password
from survey.config import Settings
from survey.domain.vocab import Role
from survey.store import db
from tests.test_tiles import place

PASSWORD = "tiles-test-pass"  # noqa: S105 - a test account's password


@pytest.fixture
def account(http: httpx.Client, api_database_url: str) -> Iterator[tuple[str, str]]:
    """A fresh coordinator of the demo programme and a token of it; removed afterwards,
    so that the shared API database keeps the demo's accounts only."""
    username = f"tiles.{uuid4().hex[:10]}"
    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT id, %s, 'Tiles test', 'coordinator', %s "
                     "FROM programme", (username, hash_password(PASSWORD)))
    answer = http.post("/api/v1/auth/token", data={"username": username,
                                                    "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    yield username, str(answer.json()["access_token"])
    with psycopg.connect(api_database_url) as conn:
        conn.execute("DELETE FROM app_user WHERE username = %s", (username,))


@pytest.fixture(scope="module")
def api_conn(api_database_url: str) -> Iterator[psycopg.Connection]:
    with db.connect(api_database_url) as connection:
        connection.autocommit = True
        yield connection


def _set(api_conn: psycopg.Connection, username: str, **values: object) -> None:
    for column, value in values.items():
        assert column in ("role", "active")
        api_conn.execute(psycopg.sql.SQL("UPDATE app_user SET {} = %s WHERE username = %s")
                         .format(psycopg.sql.Identifier(column)), (value, username))


def test_a_remembered_token_is_refused_as_soon_as_it_is_revoked(
        http: httpx.Client, api_conn: psycopg.Connection,
        account: tuple[str, str]) -> None:
    _, token = account
    auth = {"Authorization": f"Bearer {token}"}
    x, y = place(api_conn, "device-finds", 14)
    path = f"/tiles/device-finds/14/{x}/{y}.mvt"
    first = http.get(path, headers=auth)  # looked up, and remembered
    assert first.status_code == 200
    second = http.get(path, headers=auth)  # on the remembered principal
    assert (second.status_code, second.content, second.headers["etag"]) == (
        200, first.content, first.headers["etag"])
    etag = first.headers["etag"]
    assert http.get(path, headers={**auth, "If-None-Match": etag}).status_code == 304

    assert http.post("/api/v1/auth/logout", headers=auth).status_code == 204
    for headers in (auth, {**auth, "If-None-Match": etag}):
        refused = http.get(path, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    # a refusal that comes before the tile's statement (a bad address, a layer the role
    # may not read) never answers a revoked token before its 401
    assert http.get("/tiles/device-finds/6/64/0.mvt", headers=auth).status_code == 401
    assert http.get("/tiles/minefields/6/1/1.mvt", headers=auth).status_code == 401


def test_a_changed_account_is_seen_on_the_next_tile(http: httpx.Client,
                                                    api_conn: psycopg.Connection,
                                                    account: tuple[str, str]) -> None:
    username, token = account
    auth = {"Authorization": f"Bearer {token}"}
    x, y = place(api_conn, "hazard-areas", 10)
    hazards = f"/tiles/hazard-areas/10/{x}/{y}.mvt"
    releases = f"/tiles/releases/10/{x}/{y}.mvt"
    assert http.get(hazards, headers=auth).status_code == 200
    coordinator_tag = http.get(releases, headers=auth).headers["etag"]

    _set(api_conn, username, role="public")
    assert http.get(hazards, headers=auth).status_code == 403
    public = http.get(releases, headers=auth)
    assert public.status_code == 200 and public.headers["etag"] != coordinator_tag

    _set(api_conn, username, role="coordinator")  # the remembered one says public
    assert http.get(hazards, headers=auth).status_code == 200
    assert http.get(releases, headers=auth).headers["etag"] == coordinator_tag

    _set(api_conn, username, active=False)
    assert http.get(hazards, headers=auth).status_code == 401
    _set(api_conn, username, active=True)
    assert http.get(hazards, headers=auth).status_code == 200


def test_the_statement_checks_the_token_it_is_given(api_database_url: str,
                                                    api_conn: psycopg.Connection,
                                                    account: tuple[str, str]) -> None:
    _, token = account
    user = authenticate(api_conn, token=token)
    x, y = place(api_conn, "device-finds", 14)
    plain = tiles.get_tile(api_conn, principal=user, layer="device-finds", z=14, x=x, y=y)
    checked = tiles.get_tile(api_conn, principal=user, layer="device-finds", z=14, x=x, y=y,
                             token=token)
    assert checked == plain and plain.shown > 0
    assert tiles.layer_version(api_conn, principal=user, layer="device-finds",
                               token=token) == plain.version
    for wrong_token, wrong_user in (
            ("not-the-token", user), (token, Principal(user.user_id, user.username,
                                                       Role.ADMIN, None, None, None)),
            (token, Principal(user.user_id, user.username, user.role, UUID(int=7), None,
                              None))):
        with pytest.raises(StaleSignIn):
            tiles.get_tile(api_conn, principal=wrong_user, layer="device-finds", z=14, x=x,
                           y=y, token=wrong_token)
        with pytest.raises(StaleSignIn):
            tiles.layer_version(api_conn, principal=wrong_user, layer="device-finds",
                                token=wrong_token)


def test_the_principal_cache_is_bounded_and_forgets() -> None:
    def principal(n: int) -> Principal:
        return Principal(UUID(int=n), f"user{n}", Role.COORDINATOR, UUID(int=1), None, None)

    cache = PrincipalCache(size=2, ttl_s=60)
    cache.put("a", principal(1))
    cache.put("b", principal(2))
    assert cache.get("a") == principal(1)  # now the most recently used
    cache.put("c", principal(3))
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (principal(1), None,
                                                                 principal(3))
    cache.drop("a")
    assert cache.get("a") is None
    brief = PrincipalCache(size=2, ttl_s=0.05)
    brief.put("a", principal(1))
    time.sleep(0.1)
    assert brief.get("a") is None


def test_the_pool_replaces_a_connection_the_server_ended(database_url: str) -> None:
    # handed out a moment ago, so the check's round trip is skipped unless the socket
    # says the server ended the session, as it does here
    pool = db.open_pool(database_url, Settings(pool_min_size=1, pool_max_size=1))
    try:
        with pool.connection() as conn:
            ended = next(conn.execute("SELECT pg_backend_pid()"))[0]
        with psycopg.connect(database_url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s, 5000)", (ended,))
        with pool.connection() as conn:
            assert next(conn.execute("SELECT pg_backend_pid()"))[0] != ended
        with pool.connection() as conn:  # and a healthy one is handed out as it is
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.close()
