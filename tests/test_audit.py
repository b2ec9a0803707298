"""GET /api/v1/audit over real HTTP: who may read it, what a coordinator sees, filters,
and keyset pages that neither repeat nor skip a row while rows are added."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from api.routes.audit import AuditPublic
from survey.domain.vocab import AuditAction
from survey.store import db, repo
from tests.conftest import sign_in
from tests.test_accounts import PASSWORD, create_user, demo, is_problem, other_programme

__all__ = ["demo", "other_programme"]  # fixtures shared with test_accounts


@pytest.fixture(scope="module")
def admin(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "admin")


@pytest.fixture(scope="module")
def coordinator_of_other(http: httpx.Client,
                         other_programme: dict[str, Any]) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": other_programme["username"],
                                                      "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def actor() -> str:
    """An actor name no other test writes under, to filter on."""
    return f"audit-test-{uuid4().hex[:10]}"


def write_rows(api_database_url: str, actor: str, programme_id: UUID | None,
               count: int) -> list[int]:
    """`count` audit rows under `actor`, committed; their ids."""
    with db.connect(api_database_url) as conn, conn.transaction():
        for n in range(count):
            repo.audit(conn, actor=actor, action=AuditAction.UPDATE, entity="test_entity",
                       entity_id=uuid4(), programme_id=programme_id, after={"n": n})
        return [row[0] for row in conn.execute(
            "SELECT id FROM audit_log WHERE actor = %s ORDER BY id DESC", (actor,))]


def read(http: httpx.Client, headers: dict[str, str], url: str = "/api/v1/audit",
         **params: Any) -> AuditPublic:
    # a next link carries its own query: params, even empty, would replace it
    response = http.get(url, headers=headers, params=params or None)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return AuditPublic.model_validate(response.json())


def next_link(page: AuditPublic) -> str | None:
    return next((link.href for link in page.links if link.rel == "next"), None)


@pytest.fixture
def cleanup(api_database_url: str) -> Iterator[list[str]]:
    actors: list[str] = []
    yield actors
    with psycopg.connect(api_database_url) as conn:
        conn.execute("DELETE FROM audit_log WHERE actor = ANY(%s)", (actors,))


def test_operators_donors_and_strangers_cannot_read_the_audit(http: httpx.Client) -> None:
    for username in ("operator.halo", "donor.eu"):
        is_problem(http.get("/api/v1/audit", headers=sign_in(http, username)), 403)
    is_problem(http.get("/api/v1/audit"), 401)


def test_a_coordinator_sees_only_its_programmes_rows(
        http: httpx.Client, api_database_url: str, admin: dict[str, str],
        coordinator: dict[str, str], coordinator_of_other: dict[str, str],
        demo: dict[str, Any], other_programme: dict[str, Any], actor: str,
        cleanup: list[str]) -> None:
    cleanup.append(actor)
    ours = write_rows(api_database_url, actor, demo["programme_id"], 2)
    theirs = set(write_rows(api_database_url, actor, other_programme["programme_id"], 5)) \
        - set(ours)
    nobodys = set(write_rows(api_database_url, actor, None, 6)) - set(ours) - theirs

    def ids(headers: dict[str, str]) -> set[int]:
        return {e.id for e in read(http, headers, actor=actor, limit=100).entries}

    assert ids(admin) == set(ours) | theirs | nobodys
    assert ids(coordinator) == set(ours)
    assert ids(coordinator_of_other) == theirs
    # the coordinator's whole view, unfiltered, is its programme's
    page = read(http, coordinator, limit=1000)
    assert {e.programme_id for e in page.entries} == {demo["programme_id"]}


def test_pages_over_a_boundary_neither_repeat_nor_skip_while_rows_are_added(
        http: httpx.Client, api_database_url: str, admin: dict[str, str], actor: str,
        demo: dict[str, Any], cleanup: list[str]) -> None:
    cleanup.append(actor)
    before = write_rows(api_database_url, actor, demo["programme_id"], 7)
    first = read(http, admin, actor=actor, limit=3)
    assert [e.id for e in first.entries] == before[:3]
    url = next_link(first)
    assert url is not None and f"actor={actor}" in url
    added = set(write_rows(api_database_url, actor, demo["programme_id"], 2)) - set(before)
    seen = [e.id for e in first.entries]
    pages = 1
    while url:
        page = read(http, admin, url)
        assert len(page.entries) <= 3
        seen += [e.id for e in page.entries]
        url = next_link(page)
        pages += 1
    assert pages == 3
    assert seen == before  # newest first, every row once; rows added later are not on
    assert not added & set(seen)  # the later pages, they head a new first page
    assert [e.id for e in read(http, admin, actor=actor, limit=2).entries] == \
        sorted(added, reverse=True)


def test_filters_on_entity_action_and_period(http: httpx.Client, admin: dict[str, str],
                                             coordinator: dict[str, str],
                                             demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    url = f"/api/v1/users/{user['id']}"
    etag = http.get(url, headers=admin).headers["etag"]
    assert http.patch(url, headers=admin | {"If-Match": etag},
                      json={"full_name": "Audited"}).status_code == 200
    rows = read(http, coordinator, entity="app_user", entity_id=user["id"]).entries
    assert [e.action for e in rows] == ["update", "create"]
    assert {e.actor for e in rows} == {"admin"}
    assert rows[0].before is not None and rows[0].before["full_name"] == "Accounts test"
    assert rows[0].after is not None and rows[0].after["full_name"] == "Audited"
    assert all("password_hash" not in (e.after or {}) for e in rows)
    created = read(http, admin, entity="app_user", entity_id=user["id"], action="create")
    assert [e.action for e in created.entries] == ["create"]
    today = rows[0].at.astimezone().date()
    in_period = read(http, admin, entity_id=user["id"], date_from=str(today - timedelta(1)),
                     date_to=str(today + timedelta(1)))
    assert len(in_period.entries) == 2
    assert read(http, admin, entity_id=user["id"],
                date_from=str(date.today() + timedelta(3))).entries == []
    is_problem(http.get("/api/v1/audit", headers=admin,
                        params={"date_from": "2025-02-01", "date_to": "2025-01-01"}), 422)
    is_problem(http.get("/api/v1/audit", headers=admin, params={"action": "nonsense"}), 422)
    is_problem(http.get("/api/v1/audit", headers=admin, params={"limit": 0}), 422)


def test_account_audit_rows_hold_no_secret(http: httpx.Client, admin: dict[str, str],
                                           demo: dict[str, Any]) -> None:
    user = create_user(http, admin, demo)
    issued = http.post(f"/api/v1/users/{user['id']}/tokens", headers=admin,
                       json={"name": "audited tablet"}).json()
    assert http.post(f"/api/v1/users/{user['id']}/password", headers=admin,
                     json={"password": "another-long-one"}).status_code == 204
    text = http.get("/api/v1/audit", headers=admin,
                    params={"actor": "admin", "limit": 50}).text
    assert issued["access_token"] not in text
    assert "scrypt$" not in text and "token_sha256" not in text
    assert PASSWORD not in text and "another-long-one" not in text
    token_rows = read(http, admin, entity="api_token", entity_id=issued["id"]).entries
    assert [e.action for e in token_rows] == ["create"]
    assert token_rows[0].after is not None and token_rows[0].after["name"] == "audited tablet"
    assert token_rows[0].programme_id == demo["programme_id"]
