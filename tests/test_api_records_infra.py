"""The record API's conventions over real HTTP, on tasks: ETag / If-Match (412, 428),
Idempotency-Key (retries, racing retries, a key reused with another body), two concurrent
updates of one record, keyset pages while rows are inserted, soft delete."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from shapely.geometry import MultiPolygon, box

from api.schemas_records import TaskPublic, TasksPublic
from survey.domain.models import HazardArea
from survey.store import db, repo
from tests.conftest import sign_in

W, S = 37.02, 49.02  # the demo's empty south-west corner


@pytest.fixture(scope="module")
def operator(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "operator.halo")


@pytest.fixture(scope="module")
def halo(api_database_url: str) -> dict[str, Any]:
    """The demo's HALO organisation, one of its teams, and a team of another org."""
    with psycopg.connect(api_database_url) as conn:
        org, programme = conn.execute("SELECT id, programme_id FROM organisation "
                                      "WHERE name = 'The HALO Trust'").fetchone()
        team = conn.execute("SELECT id FROM team WHERE organisation_id = %s ORDER BY name "
                            "LIMIT 1", (org,)).fetchone()[0]
        other_team = conn.execute("SELECT id FROM team WHERE organisation_id <> %s "
                                  "ORDER BY name LIMIT 1", (org,)).fetchone()[0]
    return {"org": org, "programme": programme, "team": team, "other_team": other_team}


def new_hazard(api_database_url: str, halo: dict[str, Any], n: int = 0) -> HazardArea:
    """A fresh open hazard area of HALO, committed, on ground of its own."""
    with db.connect(api_database_url) as conn, conn.transaction():
        k = int(conn.execute("SELECT count(*) FROM hazard_area WHERE local_id LIKE "
                             "'UA-REC-%'").fetchone()[0]) + n
        x, y = W + 0.004 * (k % 50), S + 0.004 * (k // 50)
        return repo.insert(conn, HazardArea(
            programme_id=halo["programme"], local_id=f"UA-REC-{uuid4().hex[:8]}",
            classification="SHA", evidence="indirect",
            reporting_organisation_id=halo["org"], date_of_information=date(2025, 1, 5),
            geom=MultiPolygon([box(x, y, x + 0.002, y + 0.002)])), actor="test")


def task_body(hazard: HazardArea, halo: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"local_id": f"UA-REC-T-{uuid4().hex[:10]}", "activity_type": "CLEARANCE",
            "hazard_area_ids": [str(hazard.id)], "organisation_id": str(halo["org"]),
            "team_id": str(halo["team"]), "planned_start": "2025-04-01",
            "planned_end": "2025-06-30"} | extra


@pytest.fixture
def task(http: httpx.Client, coordinator: dict[str, str], api_database_url: str,
         halo: dict[str, Any]) -> dict[str, Any]:
    hazard = new_hazard(api_database_url, halo)
    answer = http.post("/api/v1/tasks", json=task_body(hazard, halo), headers=coordinator)
    assert answer.status_code == 201, answer.text
    return answer.json()


def count_tasks(api_database_url: str, local_id: str) -> int:
    with psycopg.connect(api_database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM task WHERE local_id = %s",
                                (local_id,)).fetchone()[0])


# --- ETag / If-Match -----------------------------------------------------------------------

def test_read_gives_the_version_as_etag(http: httpx.Client, coordinator: dict[str, str],
                                        task: dict[str, Any]) -> None:
    answer = http.get(f"/api/v1/tasks/{task['id']}", headers=coordinator)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    assert answer.headers["etag"] == '"1"'
    body = TaskPublic.model_validate(answer.json())
    assert body.properties.version == 1
    assert body.geometry is not None and body.geometry.type == "MultiPolygon"


def test_update_without_if_match_is_428(http: httpx.Client, coordinator: dict[str, str],
                                        task: dict[str, Any]) -> None:
    answer = http.patch(f"/api/v1/tasks/{task['id']}", json={"planned_end": "2025-07-01"},
                        headers=coordinator)
    assert answer.status_code == 428
    assert answer.headers["content-type"] == "application/problem+json"
    assert "If-Match" in answer.json()["detail"]


def test_stale_if_match_is_412_and_current_one_writes(http: httpx.Client,
                                                      coordinator: dict[str, str],
                                                      task: dict[str, Any]) -> None:
    url = f"/api/v1/tasks/{task['id']}"
    first = http.patch(url, json={"planned_end": "2025-07-01"},
                       headers=coordinator | {"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    assert TaskPublic.model_validate(first.json()).properties.planned_end == date(2025, 7, 1)
    stale = http.patch(url, json={"planned_end": "2025-07-02"},
                       headers=coordinator | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    weak = http.patch(url, json={"planned_end": "2025-07-03"},
                      headers=coordinator | {"If-Match": 'W/"2"'})
    assert weak.status_code == 200 and weak.headers["etag"] == '"3"'
    junk = http.patch(url, json={"planned_end": "2025-07-03"},
                      headers=coordinator | {"If-Match": "*"})
    assert junk.status_code == 422


def test_two_concurrent_updates_exactly_one_wins(live_server: str, coordinator: dict[str, str],
                                                 task: dict[str, Any]) -> None:
    url = f"{live_server}/api/v1/tasks/{task['id']}"
    start = threading.Barrier(2)

    def send(day: str) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            start.wait()
            return client.patch(url, json={"planned_end": day},
                                headers=coordinator | {"If-Match": '"1"'})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, ["2025-08-01", "2025-09-01"]))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 412], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    now = httpx.get(url, headers=coordinator).json()
    assert now["properties"]["version"] == 2
    assert now["properties"]["planned_end"] == winner["properties"]["planned_end"]


# --- Idempotency-Key -----------------------------------------------------------------------

def test_retry_with_the_same_key_returns_the_first_answer(
        http: httpx.Client, coordinator: dict[str, str], api_database_url: str,
        halo: dict[str, Any]) -> None:
    body = task_body(new_hazard(api_database_url, halo), halo)
    headers = coordinator | {"Idempotency-Key": str(uuid4())}
    first = http.post("/api/v1/tasks", json=body, headers=headers)
    again = http.post("/api/v1/tasks", json=dict(reversed(body.items())), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"].startswith("application/geo+json")
    assert count_tasks(api_database_url, body["local_id"]) == 1
    TaskPublic.model_validate(again.json())
    # the same key with another body is refused, not answered with the first result
    other = http.post("/api/v1/tasks", json=body | {"planned_end": "2025-07-31"},
                      headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["title"]
    # without a key the same body is a second create (refused here by the unique local id)
    assert http.post("/api/v1/tasks", json=body, headers=coordinator).status_code == 409


def test_racing_retries_create_one_record(live_server: str, coordinator: dict[str, str],
                                          api_database_url: str,
                                          halo: dict[str, Any]) -> None:
    body = task_body(new_hazard(api_database_url, halo), halo)
    headers = coordinator | {"Idempotency-Key": f"race-{uuid4()}"}
    start = threading.Barrier(3)

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=30) as client:
            start.wait()
            return client.post("/api/v1/tasks", json=body, headers=headers)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(send, range(3)))
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 2
    assert count_tasks(api_database_url, body["local_id"]) == 1


def test_a_failed_create_keeps_no_key(http: httpx.Client, coordinator: dict[str, str],
                                      api_database_url: str, halo: dict[str, Any]) -> None:
    body = task_body(new_hazard(api_database_url, halo), halo)
    headers = coordinator | {"Idempotency-Key": str(uuid4())}
    refused = http.post("/api/v1/tasks", json=body | {"team_id": str(halo["other_team"])},
                        headers=headers)
    assert refused.status_code == 422
    # the retry, corrected, runs (a failed create stored no answer under the key)
    answer = http.post("/api/v1/tasks", json=body | {"team_id": str(halo["other_team"])},
                       headers=headers)
    assert answer.status_code == 422
    fixed = http.post("/api/v1/tasks", json=body, headers=headers)
    assert fixed.status_code == 201, fixed.text


def test_keys_are_forgotten_after_thirty_days(http: httpx.Client, coordinator: dict[str, str],
                                             api_database_url: str,
                                             halo: dict[str, Any]) -> None:
    old, recent = f"old-{uuid4()}", f"recent-{uuid4()}"
    with psycopg.connect(api_database_url) as conn:
        for key, age in ((old, "31 days"), (recent, "29 days")):
            conn.execute("INSERT INTO idempotency_key (actor, key, method, path, "
                         "request_sha256, status, body, created_at) VALUES ('coordinator', "
                         "%s, 'POST', '/api/v1/tasks', 'x', 201, '{}', now() - %s::interval)",
                         (key, age))
    # each new key claimed forgets a batch of those past their time, and no other
    body = task_body(new_hazard(api_database_url, halo), halo)
    answer = http.post("/api/v1/tasks", json=body,
                       headers=coordinator | {"Idempotency-Key": str(uuid4())})
    assert answer.status_code == 201, answer.text
    with psycopg.connect(api_database_url) as conn:
        kept = {row[0] for row in conn.execute(
            "SELECT key FROM idempotency_key WHERE key = ANY(%s)", ([old, recent],))}
    assert kept == {recent}


def test_bad_keys_are_refused(http: httpx.Client, coordinator: dict[str, str],
                              api_database_url: str, halo: dict[str, Any]) -> None:
    body = task_body(new_hazard(api_database_url, halo), halo)
    answer = http.post("/api/v1/tasks", json=body,
                       headers=coordinator | {"Idempotency-Key": "has space"})
    assert answer.status_code == 422


# --- keyset pages ----------------------------------------------------------------------------

def test_pages_while_rows_are_inserted(http: httpx.Client, coordinator: dict[str, str],
                                       api_database_url: str, halo: dict[str, Any]) -> None:
    hazard = new_hazard(api_database_url, halo)
    prefix = f"UA-PG-{uuid4().hex[:6]}-"

    def create(suffix: str) -> str:
        body = task_body(hazard, halo, local_id=f"{prefix}{suffix}")
        answer = http.post("/api/v1/tasks", json=body, headers=coordinator)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    originals = {create(s): s for s in ("b", "d", "f", "h", "j")}
    url = f"/api/v1/tasks?hazard_area_id={hazard.id}&limit=2&sort=local_id"
    seen: list[str] = []
    page = http.get(url, headers=coordinator)
    inserted = False
    while True:
        assert page.status_code == 200, page.text
        body = TasksPublic.model_validate(page.json())
        seen += [str(f.id) for f in body.features]
        assert [f.properties.local_id for f in body.features] == sorted(
            f.properties.local_id for f in body.features)
        if not inserted:
            create("a")  # behind the cursor: not on later pages
            after = create("z")  # ahead of it: on a later page
            inserted = True
        nxt = [link.href for link in body.links if link.rel == "next"]
        if not nxt:
            break
        page = http.get(nxt[0], headers=coordinator)
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(originals) <= set(seen)  # nothing skipped
    assert after in seen
    # descending, and a cursor used with another sort is refused
    down = http.get(f"/api/v1/tasks?hazard_area_id={hazard.id}&limit=3&sort=-local_id",
                    headers=coordinator).json()
    names = [f["properties"]["local_id"] for f in down["features"]]
    assert names == [f"{prefix}z", f"{prefix}j", f"{prefix}h"]
    cursor = httpx.URL(next(link["href"] for link in down["links"]
                            if link["rel"] == "next")).params["cursor"]
    mixed = http.get(f"/api/v1/tasks?limit=3&sort=local_id&cursor={cursor}",
                     headers=coordinator)
    assert mixed.status_code == 422


@pytest.mark.parametrize("query", ["cursor=not-a-cursor", "sort=nonsense", "limit=0",
                                   "bbox=1,2,3", "date_from=2025-02-01&date_to=2025-01-01"])
def test_bad_paging_parameters_are_422(http: httpx.Client, coordinator: dict[str, str],
                                       query: str) -> None:
    answer = http.get(f"/api/v1/tasks?{query}", headers=coordinator)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_filters_narrow_the_list(http: httpx.Client, coordinator: dict[str, str],
                                 task: dict[str, Any], halo: dict[str, Any]) -> None:
    hazard_id = task["properties"]["hazard_area_ids"][0]
    geometry = task["geometry"]["coordinates"][0][0]
    xs, ys = [p[0] for p in geometry], [p[1] for p in geometry]
    box_text = f"{min(xs)},{min(ys)},{max(xs)},{max(ys)}"

    def ids(query: str) -> set[str]:
        answer = http.get(f"/api/v1/tasks?limit=1000&{query}", headers=coordinator)
        assert answer.status_code == 200, answer.text
        return {f["id"] for f in answer.json()["features"]}

    assert task["id"] in ids(f"hazard_area_id={hazard_id}")
    assert task["id"] in ids(f"bbox={box_text}&status=planned&organisation_id={halo['org']}")
    assert task["id"] not in ids("bbox=37.5,49.3,37.51,49.31")
    assert task["id"] not in ids("status=active")
    assert task["id"] in ids("date_from=2025-06-30&date_to=2025-06-30")
    assert task["id"] not in ids("date_from=2025-07-01")


# --- soft delete ------------------------------------------------------------------------------

def test_delete_is_soft_and_hides_the_task(http: httpx.Client, coordinator: dict[str, str],
                                           operator: dict[str, str], task: dict[str, Any],
                                           api_database_url: str) -> None:
    url = f"/api/v1/tasks/{task['id']}"
    assert http.delete(url, headers=operator).status_code == 403
    assert http.delete(url, headers=coordinator | {"If-Match": '"7"'}).status_code == 412
    assert http.delete(url, headers=coordinator).status_code == 204
    assert http.get(url, headers=coordinator).status_code == 404
    assert http.delete(url, headers=coordinator).status_code == 404
    hazard_id = task["properties"]["hazard_area_ids"][0]
    listed = http.get(f"/api/v1/tasks?hazard_area_id={hazard_id}", headers=coordinator).json()
    assert task["id"] not in {f["id"] for f in listed["features"]}
    with psycopg.connect(api_database_url) as conn:  # the row and its audit trail stay
        assert conn.execute("SELECT deleted_at IS NOT NULL FROM task WHERE id = %s",
                            (UUID(task["id"]),)).fetchone()[0]
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM audit_log WHERE entity = 'task' AND entity_id = %s "
            "ORDER BY id", (UUID(task["id"]),))]
        assert actions == ["create", "delete"]



@pytest.mark.parametrize("change", [{"status": None}, {"hazard_area_ids": None},
                                    {"local_id": None}, {"planned_start": None},
                                    {"hazard_area_ids": []}, {"status": "completed"},
                                    {"actual_end": "2025-04-02"}, {"version": 5},
                                    {"planned_end": "2025-01-01"}])
def test_bad_updates_are_refused_with_a_reason(http: httpx.Client, coordinator: dict[str, str],
                                               task: dict[str, Any],
                                               change: dict[str, Any]) -> None:
    answer = http.patch(f"/api/v1/tasks/{task['id']}", json=change,
                        headers=coordinator | {"If-Match": '"1"'})
    assert answer.status_code in (409, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    # nothing was written
    assert http.get(f"/api/v1/tasks/{task['id']}", headers=coordinator).headers["etag"] == '"1"'


# they add areas and tasks to the shared demo and delete some: run after its readers
pytestmark = pytest.mark.writes_live_server
