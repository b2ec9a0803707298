"""What a donor sees over real HTTP: the releases of the projects it funds, an area's
totals, and a history that names nobody."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from api.schemas import HistoryPublic, LedgerPublic
from survey.auth import hash_password
from survey.demo import DEMO_PASSWORD
from tests.conftest import sign_in

# every release on an area the donor's projects work, and whether it is the donor's own
# (release -> activity report -> task -> project -> donor)
RELEASES_ON_FUNDED_AREAS = """
WITH d AS (SELECT donor_id FROM app_user WHERE username = 'donor.eu')
SELECT r.id, r.hazard_area_id, coalesce(p.donor_id = d.donor_id, false) AS own
FROM release r CROSS JOIN d
JOIN activity_report ar ON ar.id = r.activity_report_id
LEFT JOIN task t ON t.id = ar.task_id
LEFT JOIN project p ON p.id = t.project_id
WHERE r.hazard_area_id IN (
    SELECT th.hazard_area_id FROM task_hazard_area th JOIN task t2 ON t2.id = th.task_id
    JOIN project p2 ON p2.id = t2.project_id WHERE p2.donor_id = d.donor_id)
"""


@pytest.fixture(scope="module")
def donor(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "donor.eu")


@pytest.fixture(scope="module")
def releases(api_database_url: str) -> dict[UUID, dict[str, set[UUID]]]:
    """Per funded area: the donor's own releases and those of others."""
    found: dict[UUID, dict[str, set[UUID]]] = {}
    with psycopg.connect(api_database_url) as conn:
        for release_id, area_id, own in conn.execute(RELEASES_ON_FUNDED_AREAS):
            found.setdefault(area_id, {"own": set(), "others": set()})[
                "own" if own else "others"].add(release_id)
    assert any(books["others"] for books in found.values()), "the demo changed"
    return found


def test_donor_ledger_lists_only_the_releases_of_its_projects(
        http: httpx.Client, donor: dict[str, str], coordinator: dict[str, str],
        releases: dict[UUID, dict[str, set[UUID]]]) -> None:
    shared = [area for area, books in releases.items() if books["others"]]
    for area in shared:
        seen = LedgerPublic.model_validate(
            http.get(f"/api/v1/hazard-areas/{area}/ledger", headers=donor).json())
        full = LedgerPublic.model_validate(
            http.get(f"/api/v1/hazard-areas/{area}/ledger", headers=coordinator).json())
        assert {entry.id for entry in seen.releases} == releases[area]["own"]
        assert {entry.id for entry in full.releases} == (releases[area]["own"]
                                                         | releases[area]["others"])
        # the area's totals stay whole: they name no one's work in particular
        assert seen.hazard_area == full.hazard_area


@pytest.fixture
def named_event(api_database_url: str,
                releases: dict[UUID, dict[str, set[UUID]]]) -> Iterator[dict[str, Any]]:
    """A change to a funded area by a named coordinator, with a full snapshot."""
    area = next(area for area, books in releases.items() if books["others"])
    username = f"scope.{uuid4().hex[:8]}"
    other_release = next(iter(releases[area]["others"]))
    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT programme_id, %s, 'Olena Named', 'coordinator', "
                     "%s FROM hazard_area WHERE id = %s",
                     (username, hash_password("x"), area))
        event_id = conn.execute(
            "INSERT INTO audit_log (programme_id, actor, action, entity, entity_id, before, "
            "after, reason) SELECT programme_id, %s, 'update', 'hazard_area', id, %s, %s, "
            "'priority raised' FROM hazard_area WHERE id = %s RETURNING id",
            (username, Jsonb({"status": "worked_on", "priority": 3,
                              "submission_id": str(uuid4())}),
             Jsonb({"status": "worked_on", "priority": 1, "checked_by": username,
                    "release_id": str(other_release)}), area)).fetchone()[0]
    yield {"area": area, "username": username, "other_release": other_release}
    with psycopg.connect(api_database_url) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = %s", (event_id,))
        conn.execute("DELETE FROM app_user WHERE username = %s", (username,))


def test_donor_history_names_no_one(http: httpx.Client, donor: dict[str, str],
                                    coordinator: dict[str, str],
                                    named_event: dict[str, Any],
                                    api_database_url: str) -> None:
    area, username = named_event["area"], named_event["username"]
    seen = http.get(f"/api/v1/hazard-areas/{area}/history", headers=donor)
    assert seen.status_code == 200
    history = HistoryPublic.model_validate(seen.json())
    with psycopg.connect(api_database_url) as conn:
        usernames = {row[0] for row in conn.execute("SELECT username FROM app_user")}
    roles = {"admin", "coordinator", "operator", "donor", "public", "—"}
    assert {event.actor for event in history.events} <= roles
    assert username not in seen.text and str(named_event["other_release"]) not in seen.text
    assert not any(name in seen.text for name in usernames - roles)
    change = next(e for e in history.events if e.reason == "priority raised")
    assert change.actor == "coordinator"
    assert change.before == {"status": "worked_on"} and change.after == {"status": "worked_on"}
    # the national authority still sees who, and everything recorded
    full = HistoryPublic.model_validate(
        http.get(f"/api/v1/hazard-areas/{area}/history", headers=coordinator).json())
    named = next(e for e in full.events if e.reason == "priority raised")
    assert named.actor == username and named.after is not None
    assert named.after["checked_by"] == username


FEATURE_ID = re.compile(r'"id": ?"([0-9a-f-]{36})"')


def test_donor_overview_map_shows_only_the_releases_of_its_projects(
        live_server: str, releases: dict[UUID, dict[str, set[UUID]]]) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as browser:
        form = browser.get("/login").text
        token = re.search(r"name='csrf_token' value='([^']+)'", form)
        assert token is not None
        signed = browser.post("/login", data={"username": "donor.eu",
                                              "password": DEMO_PASSWORD,
                                              "csrf_token": token[1]})
        assert signed.status_code == 303
        page = browser.get("/maps/overview")
    assert page.status_code == 200
    shown = {UUID(found) for found in FEATURE_ID.findall(page.text)}
    own = set().union(*(books["own"] for books in releases.values()))
    others = set().union(*(books["others"] for books in releases.values()))
    assert own <= shown
    assert not others & shown
