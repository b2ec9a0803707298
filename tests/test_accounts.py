"""Accounts over real HTTP and through the `demine` command: users, passwords, long-lived
tokens for field devices, who may manage whom, and that no secret ever leaves the server."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from shapely.geometry import MultiPolygon, box

from api.routes.users import TokenInfoPublic, TokenIssued, UserPublic, UsersPublic
from survey.auth import hash_password
from survey.domain.models import Programme
from survey.store import db, repo
from tests.conftest import sign_in
from tests.test_cli import DEMINE, said

PASSWORD = "accounts-test-pass"  # noqa: S105 - a test account's password
NEW_PASSWORD = "accounts-new-pass"  # noqa: S105
PROBLEM = "application/problem+json"
SECRETS = ("password", "hash", "sha256", "digest")


@pytest.fixture(autouse=True)
def no_failures_left(api_database_url: str) -> Iterator[None]:
    """Sign-ins refused on purpose here must not count against the loopback address for
    the other test files."""
    yield
    with psycopg.connect(api_database_url) as conn:
        conn.execute("DELETE FROM login_failure WHERE username LIKE 'acct.%'")


@pytest.fixture(scope="module")
def admin(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "admin")


@pytest.fixture(scope="module")
def operator(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "operator.halo")


@pytest.fixture(scope="module")
def demo(api_database_url: str) -> dict[str, Any]:
    """Ids of the demo programme, HALO, the EU donor and the demo users."""
    with psycopg.connect(api_database_url) as conn:
        programme_id, code = conn.execute("SELECT id, code FROM programme "
                                          "WHERE name <> 'Other programme' LIMIT 1").fetchone()
        halo = conn.execute("SELECT id FROM organisation WHERE acronym = 'HALO'").fetchone()[0]
        eu = conn.execute("SELECT id FROM donor WHERE name = 'European Union'").fetchone()[0]
        users = dict(conn.execute("SELECT username, id FROM app_user").fetchall())
    return {"programme_id": programme_id, "code": code, "halo": halo, "eu": eu,
            "users": users}


@pytest.fixture(scope="module")
def other_programme(api_database_url: str) -> Iterator[dict[str, Any]]:
    """A second programme with one coordinator, for what must not cross programmes; gone
    after the module, as the other test files expect the demo's programme alone."""
    username = f"acct.other.{uuid4().hex[:8]}"
    with db.connect(api_database_url) as conn, conn.transaction():
        programme = repo.insert(conn, Programme(
            code="ZZ", country_iso="ZZ", name="Other programme",
            extent=MultiPolygon([box(10, 10, 11, 11)])), actor="test")
        user_id = conn.execute(
            "INSERT INTO app_user (programme_id, username, full_name, role, password_hash) "
            "VALUES (%s, %s, 'Other coordinator', 'coordinator', %s) RETURNING id",
            (programme.id, username, hash_password(PASSWORD))).fetchone()[0]
    yield {"programme_id": programme.id, "username": username, "user_id": user_id}
    with psycopg.connect(api_database_url) as conn, conn.transaction():
        for statement in ("DELETE FROM audit_log WHERE programme_id = %(p)s",
                          "DELETE FROM app_user WHERE programme_id = %(p)s",
                          "DELETE FROM programme WHERE id = %(p)s"):
            conn.execute(statement, {"p": programme.id})


def new_name() -> str:
    return f"acct.{uuid4().hex[:10]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(http: httpx.Client, username: str, password: str = PASSWORD) -> str:
    response = http.post("/api/v1/auth/token", data={"username": username,
                                                      "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def create_user(http: httpx.Client, headers: dict[str, str], demo: dict[str, Any],
                **fields: Any) -> dict[str, Any]:
    body = {"username": new_name(), "full_name": "Accounts test", "role": "operator",
            "organisation_id": str(demo["halo"]), "password": PASSWORD,
            "programme_id": str(demo["programme_id"])} | fields
    response = http.post("/api/v1/users", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def works(http: httpx.Client, token: str) -> int:
    return http.get("/api/v1/hazard-areas", params={"limit": 1},
                    headers=bearer(token)).status_code


def assert_no_secret(body: Any) -> None:
    text = json.dumps(body).lower()
    for word in SECRETS:
        assert word not in text, (word, text[:300])


def is_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


# --- users over HTTP --------------------------------------------------------------------

def test_admin_creates_reads_and_lists_a_user_and_no_secret_leaves(
        http: httpx.Client, admin: dict[str, str], demo: dict[str, Any]) -> None:
    username = new_name()
    response = http.post("/api/v1/users", headers=admin, json={
        "username": username, "full_name": "Team 3 tablet", "role": "operator",
        "organisation_id": str(demo["halo"]), "password": PASSWORD,
        "programme_id": str(demo["programme_id"])})
    assert response.status_code == 201, response.text
    created = UserPublic.model_validate(response.json())
    assert created.username == username and created.active
    assert response.headers["location"] == f"/api/v1/users/{created.id}"
    assert_no_secret(response.json())
    etag = response.headers["etag"]

    read = http.get(f"/api/v1/users/{created.id}", headers=admin)
    assert read.status_code == 200 and read.headers["etag"] == etag
    assert UserPublic.model_validate(read.json()) == created

    listed = http.get("/api/v1/users", headers=admin,
                      params={"role": "operator", "organisation_id": str(demo["halo"])})
    assert listed.status_code == 200
    page = UsersPublic.model_validate(listed.json())
    assert username in [u.username for u in page.users]
    assert {u.role for u in page.users} == {"operator"}
    assert_no_secret(listed.json())
    assert works(http, token_for(http, username)) == 200


def test_users_are_paged_by_username_with_next_links(http: httpx.Client,
                                                     admin: dict[str, str]) -> None:
    seen: list[str] = []
    url: str | None = "/api/v1/users?limit=2"
    while url:
        response = http.get(url, headers=admin)
        assert response.status_code == 200, response.text
        page = UsersPublic.model_validate(response.json())
        assert len(page.users) <= 2
        seen += [u.username for u in page.users]
        url = next((link.href for link in page.links if link.rel == "next"), None)
    assert seen == sorted(seen) and len(seen) == len(set(seen)) >= 5
    assert {"admin", "coordinator", "operator.halo"} <= set(seen)


def test_bad_accounts_are_refused_with_a_message(http: httpx.Client, admin: dict[str, str],
                                                 demo: dict[str, Any]) -> None:
    base = {"username": new_name(), "full_name": "x", "role": "operator",
            "organisation_id": str(demo["halo"]), "password": PASSWORD,
            "programme_id": str(demo["programme_id"])}
    cases = [({"password": "short"}, "at least 10"),
             ({"organisation_id": None}, "organisation"),
             ({"role": "donor", "organisation_id": None}, "donor"),
             ({"username": "Not Valid!"}, "username"),
             ({"username": "admin"}, "taken"),
             ({"organisation_id": str(uuid4())}, "no organisation"),
             ({"password_hash": "scrypt$1"}, "password_hash")]
    for change, phrase in cases:
        response = http.post("/api/v1/users", headers=admin, json=base | change)
        is_problem(response, 422)
        assert phrase in response.text, (change, response.text)
    # JSON may carry a lone surrogate, which no password hash can take: a 422, not a 500
    raw = json.dumps(base | {"password": "\ud800" + PASSWORD})
    response = http.post("/api/v1/users", content=raw.encode(),
                         headers=admin | {"Content-Type": "application/json"})
    is_problem(response, 422)
    assert "password" in response.text


def test_an_operator_cannot_list_users_create_them_or_read_others(
        http: httpx.Client, operator: dict[str, str], demo: dict[str, Any]) -> None:
    is_problem(http.get("/api/v1/users", headers=operator), 403)
    is_problem(http.post("/api/v1/users", headers=operator, json={
        "username": new_name(), "full_name": "x", "role": "operator", "password": PASSWORD,
        "organisation_id": str(demo["halo"])}), 403)
    is_problem(http.get(f"/api/v1/users/{demo['users']['coordinator']}", headers=operator), 404)
    own = http.get(f"/api/v1/users/{demo['users']['operator.halo']}", headers=operator)
    assert own.status_code == 200 and own.json()["username"] == "operator.halo"
    mine = demo["users"]["operator.halo"]
    etag = own.headers["etag"]
    is_problem(http.patch(f"/api/v1/users/{mine}", headers=operator | {"If-Match": etag},
                          json={"full_name": "renamed"}), 403)
    is_problem(http.post(f"/api/v1/users/{mine}/tokens", headers=operator,
                         json={"name": "my own"}), 403)
    is_problem(http.get("/api/v1/users"), 401)


def test_patch_needs_if_match_and_refuses_a_stale_one(http: httpx.Client,
                                                      admin: dict[str, str],
                                                      demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    url = f"/api/v1/users/{user['id']}"
    first = http.get(url, headers=admin).headers["etag"]
    is_problem(http.patch(url, headers=admin, json={"full_name": "No If-Match"}), 428)
    changed = http.patch(url, headers=admin | {"If-Match": first},
                         json={"full_name": "Renamed", "organisation_id": str(demo["halo"])})
    assert changed.status_code == 200, changed.text
    assert changed.json()["full_name"] == "Renamed"
    assert changed.headers["etag"] != first
    stale = http.patch(url, headers=admin | {"If-Match": first}, json={"full_name": "Late"})
    is_problem(stale, 412)
    assert stale.json()["etag"] == changed.headers["etag"].strip('"')
    is_problem(http.patch(url, headers=admin | {"If-Match": changed.headers["etag"]},
                          json={}), 422)
    # `*` is any version (RFC 9110): a deliberate overwrite, still named as such
    anyway = http.patch(url, headers=admin | {"If-Match": "*"}, json={"full_name": "Any"})
    assert anyway.status_code == 200 and anyway.json()["full_name"] == "Any"
    is_problem(http.patch(url, headers=admin | {"If-Match": changed.headers["etag"]},
                          json={"role": None}), 422)


def test_two_concurrent_updates_of_one_account_exactly_one_wins(
        http: httpx.Client, admin: dict[str, str], demo: dict[str, Any],
        live_server: str) -> None:
    user = create_user(http, admin, demo)
    url = f"/api/v1/users/{user['id']}"
    etag = http.get(url, headers=admin).headers["etag"]

    def patch(name: str) -> int:
        with httpx.Client(base_url=live_server, timeout=30) as client:
            return client.patch(url, headers=admin | {"If-Match": etag},
                                json={"full_name": name}).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(patch, ["A", "B", "C", "D"]))
    assert statuses == [200, 412, 412, 412]


def test_coordinators_manage_their_programme_except_admins(
        http: httpx.Client, coordinator: dict[str, str], admin: dict[str, str],
        demo: dict[str, Any], other_programme: dict[str, Any]) -> None:
    # created in the coordinator's own programme without naming it
    created = http.post("/api/v1/users", headers=coordinator, json={
        "username": new_name(), "full_name": "By the coordinator", "role": "donor",
        "donor_id": str(demo["eu"]), "password": PASSWORD})
    assert created.status_code == 201, created.text
    assert created.json()["programme_id"] == str(demo["programme_id"])
    # no admins, neither new nor promoted nor changed
    is_problem(http.post("/api/v1/users", headers=coordinator, json={
        "username": new_name(), "full_name": "x", "role": "admin", "password": PASSWORD}), 403)
    url = f"/api/v1/users/{created.json()['id']}"
    is_problem(http.patch(url, headers=coordinator | {"If-Match": created.headers["etag"]},
                          json={"role": "admin", "donor_id": None}), 403)
    admin_url = f"/api/v1/users/{demo['users']['admin']}"
    admin_etag = http.get(admin_url, headers=coordinator).headers["etag"]
    is_problem(http.patch(admin_url, headers=coordinator | {"If-Match": admin_etag},
                          json={"active": False}), 403)
    is_problem(http.post(f"{admin_url}/password", headers=coordinator,
                         json={"password": NEW_PASSWORD}), 403)
    # nothing of another programme: not listed, not readable, not creatable there
    listed = http.get("/api/v1/users", headers=coordinator, params={"limit": 1000}).json()
    assert other_programme["username"] not in [u["username"] for u in listed["users"]]
    assert {u["programme_id"] for u in listed["users"]} == {str(demo["programme_id"])}
    is_problem(http.get(f"/api/v1/users/{other_programme['user_id']}", headers=coordinator),
               404)
    is_problem(http.post("/api/v1/users", headers=coordinator, json={
        "username": new_name(), "full_name": "x", "role": "coordinator", "password": PASSWORD,
        "programme_id": str(other_programme["programme_id"])}), 403)
    # the admin sees both programmes
    everyone = http.get("/api/v1/users", headers=admin, params={"limit": 1000}).json()
    assert other_programme["username"] in [u["username"] for u in everyone["users"]]


def test_nobody_disables_their_own_account_or_changes_their_own_role(
        http: httpx.Client, admin: dict[str, str], demo: dict[str, Any]) -> None:
    url = f"/api/v1/users/{demo['users']['admin']}"
    etag = http.get(url, headers=admin).headers["etag"]
    for change in ({"active": False}, {"role": "coordinator"}):
        response = http.patch(url, headers=admin | {"If-Match": etag}, json=change)
        is_problem(response, 403)
        assert "your own" in response.json()["detail"]


def test_a_password_set_by_an_admin_revokes_sessions_and_own_change_needs_the_current(
        http: httpx.Client, admin: dict[str, str], demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    session = token_for(http, user["username"])
    url = f"/api/v1/users/{user['id']}/password"
    is_problem(http.post(url, headers=admin, json={"password": "short"}), 422)
    assert http.post(url, headers=admin, json={"password": NEW_PASSWORD}).status_code == 204
    assert works(http, session) == 401
    own = token_for(http, user["username"], NEW_PASSWORD)
    wrong = http.post(url, headers=bearer(own), json={"password": PASSWORD,
                                                      "current_password": "not it at all"})
    is_problem(wrong, 403)
    assert works(http, own) == 200  # a refused change revokes nothing
    assert http.post(url, headers=bearer(own), json={
        "password": PASSWORD, "current_password": NEW_PASSWORD}).status_code == 204
    assert works(http, own) == 401
    assert works(http, token_for(http, user["username"])) == 200


# --- long-lived tokens over HTTP ----------------------------------------------------------

def test_a_long_lived_token_works_and_stops_working_when_revoked(
        http: httpx.Client, admin: dict[str, str], demo: dict[str, Any],
        api_database_url: str) -> None:
    user = create_user(http, admin, demo)
    response = http.post(f"/api/v1/users/{user['id']}/tokens", headers=admin,
                         json={"name": "tablet 7", "days": 30})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    issued = TokenIssued.model_validate(response.json())
    assert issued.name == "tablet 7" and issued.kind == "device"
    assert 29 <= (issued.expires_at - issued.created_at).days <= 30
    assert works(http, issued.access_token) == 200

    listed = http.get(f"/api/v1/users/{user['id']}/tokens", headers=admin)
    assert listed.status_code == 200
    tokens = [TokenInfoPublic.model_validate(t) for t in listed.json()]
    assert [t.name for t in tokens if t.id == issued.id] == ["tablet 7"]
    assert issued.access_token not in listed.text
    assert_no_secret(listed.json())

    # kept as its SHA-256 only, and the audit names the token without it
    with psycopg.connect(api_database_url) as conn:
        stored = conn.execute("SELECT token_sha256 FROM api_token WHERE id = %s",
                              (issued.id,)).fetchone()[0]
        audit = conn.execute("SELECT after::text FROM audit_log WHERE entity = 'api_token' "
                             "AND entity_id = %s", (issued.id,)).fetchall()
    assert stored == hashlib.sha256(issued.access_token.encode()).hexdigest()
    assert audit and all(issued.access_token not in row[0] and stored not in row[0]
                         for row in audit)

    deleted = http.delete(f"/api/v1/users/{user['id']}/tokens/{issued.id}", headers=admin)
    assert deleted.status_code == 204
    assert works(http, issued.access_token) == 401
    # again: nothing changes; under another user's path: not found
    assert http.delete(f"/api/v1/users/{user['id']}/tokens/{issued.id}",
                       headers=admin).status_code == 204
    is_problem(http.delete(f"/api/v1/users/{demo['users']['admin']}/tokens/{issued.id}",
                           headers=admin), 404)


def test_a_disabled_users_tokens_stop_working_and_stay_revoked(
        http: httpx.Client, admin: dict[str, str], demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    session = token_for(http, user["username"])
    device = http.post(f"/api/v1/users/{user['id']}/tokens", headers=admin,
                       json={"name": "tablet 9"}).json()["access_token"]
    assert works(http, session) == 200 and works(http, device) == 200
    url = f"/api/v1/users/{user['id']}"
    etag = http.get(url, headers=admin).headers["etag"]
    disabled = http.patch(url, headers=admin | {"If-Match": etag}, json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert works(http, session) == 401 and works(http, device) == 401
    refused = http.post("/api/v1/auth/token", data={"username": user["username"],
                                                     "password": PASSWORD})
    assert refused.status_code == 401
    is_problem(http.post(f"{url}/tokens", headers=admin, json={"name": "x"}), 422)
    enabled = http.patch(url, headers=admin | {"If-Match": disabled.headers["etag"]},
                         json={"active": True})
    assert enabled.status_code == 200
    # enabling brings no old token back: a lost tablet stays locked out
    assert works(http, session) == 401 and works(http, device) == 401
    assert works(http, token_for(http, user["username"])) == 200


def test_coordinator_gives_a_token_to_its_programmes_user_and_a_user_revokes_its_own(
        http: httpx.Client, coordinator: dict[str, str], admin: dict[str, str],
        demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    issued = http.post(f"/api/v1/users/{user['id']}/tokens", headers=coordinator,
                       json={"name": "script"})
    assert issued.status_code == 201, issued.text
    is_problem(http.post(f"/api/v1/users/{demo['users']['admin']}/tokens",
                         headers=coordinator, json={"name": "x"}), 403)
    own = bearer(token_for(http, user["username"]))
    token_id = issued.json()["id"]
    assert http.delete(f"/api/v1/users/{user['id']}/tokens/{token_id}",
                       headers=own).status_code == 204
    assert works(http, issued.json()["access_token"]) == 401


# --- the command line ------------------------------------------------------------------------

def cli(api_database_url: str, *args: str,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`demine ARGS` on the API's database, as test_cli.run, with stdin."""
    return subprocess.run([DEMINE, *args], capture_output=True, text=True, timeout=300,
                          input=stdin, env={**os.environ, "DEMINE_DATABASE_URL": api_database_url},
                          check=False)


def test_cli_adds_lists_sets_password_and_disables_users(
        http: httpx.Client, api_database_url: str, demo: dict[str, Any]) -> None:
    username = new_name()
    added = cli(api_database_url, "user", "add", username, "--role", "operator",
                "--organisation", "HALO", "--programme", demo["code"], "--full-name",
                "CLI operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert works(http, token_for(http, username)) == 200
    listed = cli(api_database_url, "user", "list", "--role", "operator")
    assert listed.returncode == 0, listed.stderr
    assert username in listed.stdout and "HALO" in listed.stdout

    changed = cli(api_database_url, "user", "password", username, "--password-stdin",
                  stdin=NEW_PASSWORD + "\n")
    assert changed.returncode == 0, changed.stderr
    session = token_for(http, username, NEW_PASSWORD)
    disabled = cli(api_database_url, "user", "disable", username)
    assert disabled.returncode == 0, disabled.stderr
    assert works(http, session) == 401
    assert username not in cli(api_database_url, "user", "list").stdout
    assert username in cli(api_database_url, "user", "list", "--disabled").stdout
    assert cli(api_database_url, "user", "enable", username).returncode == 0

    with psycopg.connect(api_database_url) as conn:
        actors = {row[0] for row in conn.execute(
            "SELECT a.actor FROM audit_log a JOIN app_user u ON u.id = a.entity_id "
            "WHERE u.username = %s", (username,))}
        audited = " ".join(row[0] for row in conn.execute(
            "SELECT coalesce(a.before::text, '') || coalesce(a.after::text, '') "
            "FROM audit_log a JOIN app_user u ON u.id = a.entity_id WHERE u.username = %s",
            (username,)))
    assert f"cli:{getpass.getuser()}" in actors
    assert "scrypt" not in audited and PASSWORD not in audited and NEW_PASSWORD not in audited


def test_cli_refuses_a_password_on_the_command_line_or_without_a_terminal(
        api_database_url: str) -> None:
    on_line = cli(api_database_url, "user", "add", new_name(), "--role", "admin",
                  "--password", PASSWORD)
    assert on_line.returncode == 2 and "No such option" in said(on_line.stderr)
    no_tty = cli(api_database_url, "user", "add", new_name(), "--role", "admin", stdin="")
    assert no_tty.returncode == 2
    assert "--password-stdin" in said(no_tty.stderr) and "Traceback" not in no_tty.stderr
    short = cli(api_database_url, "user", "add", new_name(), "--role", "admin",
                "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10" in said(short.stderr)
    unknown = cli(api_database_url, "user", "disable", "acct.nobody.at.all")
    assert unknown.returncode == 2 and "no user named" in said(unknown.stderr)


def test_cli_token_is_shown_once_works_over_http_and_stops_when_revoked(
        http: httpx.Client, api_database_url: str, admin: dict[str, str],
        demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    created = cli(api_database_url, "token", "create", user["username"], "--name",
                  "tablet 7", "--days", "90")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 40 and "\n" not in token  # the token alone on stdout, for scripts
    token_id = UUID(said(created.stderr).split()[1])
    assert works(http, token) == 200

    listed = cli(api_database_url, "token", "list", user["username"])
    assert listed.returncode == 0 and "tablet 7" in listed.stdout
    assert token not in listed.stdout
    revoked = cli(api_database_url, "token", "revoke", str(token_id))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert works(http, token) == 401
    again = cli(api_database_url, "token", "revoke", str(token_id))
    assert again.returncode == 0 and "already revoked" in said(again.stdout)
    with psycopg.connect(api_database_url) as conn:
        actions = [row[0] for row in conn.execute(
            "SELECT action FROM audit_log WHERE entity = 'api_token' AND entity_id = %s "
            "ORDER BY id", (token_id,))]
    assert actions == ["create", "revoke"]
