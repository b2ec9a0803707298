"""The planning flow of issue #8 over real HTTP: a coordinator records a hazard area, plans
a task on it and assigns it to HALO's team; HALO's operator starts it and files progress
reports with releases and finds; a completion report lets the coordinator close the area;
a handover certificate hands it over. Every body is validated against its response model,
and the operator of another organisation can write none of it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from shapely.geometry import box, mapping

from api.schemas import HazardAreaPublic, TransitionPublic
from api.schemas_records import (
    ActivityReportPublic,
    ActivityReportsPublic,
    TaskPublic,
    TasksPublic,
)
from tests.conftest import sign_in

W, S = 37.08, 49.06  # empty ground in the demo's south-west
SIZE = 0.002  # about 145 m x 220 m


@pytest.fixture(scope="module")
def halo_operator(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "operator.halo")


@pytest.fixture(scope="module")
def fsd_operator(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "operator.fsd")


@pytest.fixture(scope="module")
def refs(api_database_url: str) -> dict[str, Any]:
    with psycopg.connect(api_database_url) as conn:
        org = conn.execute("SELECT id FROM organisation WHERE name = 'The HALO Trust'"
                           ).fetchone()[0]
        team = conn.execute("SELECT id FROM team WHERE organisation_id = %s ORDER BY name "
                            "LIMIT 1", (org,)).fetchone()[0]
        ordnance = conn.execute("SELECT id FROM ordnance_type ORDER BY model LIMIT 1"
                                ).fetchone()[0]
        n = int(conn.execute("SELECT count(*) FROM hazard_area WHERE local_id LIKE 'UA-PL-%'"
                             ).fetchone()[0])
    return {"org": str(org), "team": str(team), "ordnance": str(ordnance), "n": n}


def ground(refs: dict[str, Any], k: int = 0) -> tuple[float, float]:
    n = refs["n"] + k
    return W + 0.003 * (n % 40), S + 0.003 * (n // 40)


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def hazard(http: httpx.Client, headers: dict[str, str], hazard_id: str) -> HazardAreaPublic:
    return HazardAreaPublic.model_validate(ok(http.get(f"/api/v1/hazard-areas/{hazard_id}",
                                                       headers=headers)))


def test_the_planning_flow(http: httpx.Client, coordinator: dict[str, str],
                           halo_operator: dict[str, str], fsd_operator: dict[str, str],
                           refs: dict[str, Any]) -> None:
    x, y = ground(refs)
    # 1. the coordinator records a hazard area: open, all of it remaining
    created = http.post("/api/v1/hazard-areas", headers=coordinator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "contamination": ["AP_MINE"], "land_use": "agricultural",
        "reporting_organisation_id": refs["org"], "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))})
    area = HazardAreaPublic.model_validate(ok(created, 201))
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/api/v1/hazard-areas/{area.id}"
    assert area.properties.status == "open"
    assert area.properties.remaining_area_m2 == pytest.approx(area.properties.area_m2,
                                                              abs=0.01)
    hid = str(area.id)

    # 2. it plans a task on the area and assigns it to HALO's team; nobody else may
    plan = {"local_id": f"UA-PL-T-{uuid4().hex[:8]}", "activity_type": "CLEARANCE",
            "hazard_area_ids": [hid], "organisation_id": refs["org"], "team_id": refs["team"],
            "planned_start": "2025-03-01", "planned_end": "2025-05-31"}
    assert http.post("/api/v1/tasks", json=plan, headers=halo_operator).status_code == 403
    answer = http.post("/api/v1/tasks", json=plan, headers=coordinator)
    task = TaskPublic.model_validate(ok(answer, 201))
    assert task.properties.status == "planned"
    assert task.geometry is not None
    assert hazard(http, coordinator, hid).properties.status == "open"  # planned: not yet
    tid, url = str(task.id), f"/api/v1/tasks/{task.id}"

    # 3. HALO's operator starts the task; FSD's operator can touch none of it
    start = {"status": "active", "actual_start": "2025-03-03"}
    assert http.patch(url, json=start, headers=fsd_operator | {"If-Match": '"1"'}
                      ).status_code == 403
    assert http.patch(url, json={"planned_end": "2025-09-30"},
                      headers=halo_operator | {"If-Match": '"1"'}).status_code == 403
    started = http.patch(url, json=start, headers=halo_operator | {"If-Match": '"1"'})
    assert TaskPublic.model_validate(ok(started)).properties.status == "active"
    assert started.headers["etag"] == '"2"'
    worked = hazard(http, coordinator, hid)
    assert worked.properties.status == "worked_on"  # open → worked on with the first task

    # 4. progress report with a release and a find; FSD cannot file on HALO's task
    mid = x + SIZE / 2
    progress = {
        "task_id": tid, "hazard_area_id": hid, "kind": "progress",
        "report_date": "2025-03-31", "period_start": "2025-03-03", "period_end": "2025-03-31",
        "team_days": 20, "depth_cm": 13,
        "releases": [{"product": "cleared", "method": "MANUAL", "technical_asset": True,
                      "depth_cm": 13, "geometry": mapping(box(x, y, mid, y + SIZE))}],
        "finds": [{"ordnance_type_id": refs["ordnance"], "quantity": 3, "condition": "armed",
                   "found_date": "2025-03-20", "disposal_method": "destroyed_in_situ",
                   "disposal_date": "2025-03-21",
                   "geometry": {"type": "Point", "coordinates": [x + SIZE / 4, y + SIZE / 2]}}]}
    assert http.post("/api/v1/activity-reports", json=progress,
                     headers=fsd_operator).status_code == 403
    key = {"Idempotency-Key": str(uuid4())}
    filed = http.post("/api/v1/activity-reports", json=progress, headers=halo_operator | key)
    report = ActivityReportPublic.model_validate(ok(filed, 201))
    # the retry of a report that booked land returns it and books nothing twice
    again = http.post("/api/v1/activity-reports", json=progress, headers=halo_operator | key)
    assert again.status_code == 201 and again.json() == filed.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(report.releases) == 1 and len(report.finds) == 1
    assert report.releases[0].area_m2 == pytest.approx(area.properties.area_m2 / 2, rel=0.01)
    assert report.remaining_area_m2 == pytest.approx(area.properties.area_m2 / 2, rel=0.01)
    assert report.finds[0].quantity == 3
    assert filed.headers["etag"] == '"1"'
    # a report with booked releases stays in the ledger
    assert http.delete(f"/api/v1/activity-reports/{report.id}",
                       headers=halo_operator).status_code == 409
    assert http.delete(url, headers=coordinator).status_code == 409

    # 5. closing before the completion report is refused
    close = {"to": "closed", "reason": "completion report filed"}
    early = http.post(f"/api/v1/hazard-areas/{hid}/transitions", json=close,
                      headers=coordinator)
    assert early.status_code == 409

    # 6. the completion report releases the rest; the coordinator closes the area
    completion = {"task_id": tid, "hazard_area_id": hid, "kind": "completion",
                  "report_date": "2025-04-30", "period_start": "2025-04-01",
                  "period_end": "2025-04-30", "team_days": 18, "depth_cm": 13,
                  "releases": [{"product": "cleared", "method": "MANUAL",
                                "technical_asset": True, "depth_cm": 13,
                                "geometry": mapping(box(mid, y, x + SIZE, y + SIZE))}]}
    done = ActivityReportPublic.model_validate(ok(http.post(
        "/api/v1/activity-reports", json=completion, headers=halo_operator), 201))
    assert done.remaining_area_m2 <= 1.0
    assert http.post(f"/api/v1/hazard-areas/{hid}/transitions", json=close,
                     headers=halo_operator).status_code == 403
    closed = TransitionPublic.model_validate(ok(http.post(
        f"/api/v1/hazard-areas/{hid}/transitions", json=close, headers=coordinator)))
    assert closed.status == "closed"
    # no more work on a closed area, and the task is completed by its operator
    more = http.post("/api/v1/activity-reports", headers=halo_operator,
                     json=progress | {"releases": [], "finds": []})
    assert more.status_code == 409
    etag = http.get(url, headers=halo_operator).headers["etag"]
    completed = http.patch(url, json={"status": "completed", "actual_end": "2025-04-30"},
                           headers=halo_operator | {"If-Match": etag})
    assert TaskPublic.model_validate(ok(completed)).properties.status == "completed"
    assert http.patch(url, json={"status": "active"}, headers=coordinator | {
        "If-Match": completed.headers["etag"]}).status_code == 409

    # 7. the handover certificate (participants and beneficiaries by sex and age) hands it over
    handover = {"task_id": tid, "hazard_area_id": hid, "kind": "handover",
                "report_date": "2025-05-10", "handover_men": 4, "handover_women": 6,
                "handover_boys": 1, "handover_girls": 2, "beneficiaries_men": 40,
                "beneficiaries_women": 45, "beneficiaries_boys": 30, "beneficiaries_girls": 28,
                "notes": "handed to the village council"}
    assert http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                     json={"to": "handed_over", "reason": "certificate"}).status_code == 409
    certificate = ActivityReportPublic.model_validate(ok(http.post(
        "/api/v1/activity-reports", json=handover, headers=halo_operator), 201))
    assert certificate.beneficiaries_girls == 28 and certificate.handover_women == 6
    handed = TransitionPublic.model_validate(ok(http.post(
        f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
        json={"to": "handed_over", "reason": f"handover certificate {certificate.id}"})))
    assert handed.status == "handed_over"

    ledger = ok(http.get(f"/api/v1/hazard-areas/{hid}/ledger", headers=coordinator))
    assert len(ledger["releases"]) == 2  # the retried report booked nothing twice

    # the task's reports, as listed, in date order
    listed = ActivityReportsPublic.model_validate(ok(http.get(
        f"/api/v1/activity-reports?task_id={tid}", headers=coordinator)))
    assert [r.kind for r in listed.items] == ["progress", "completion", "handover"]
    assert sum(len(r.releases) for r in listed.items) == 2
    tasks = TasksPublic.model_validate(ok(http.get(f"/api/v1/tasks?hazard_area_id={hid}",
                                                   headers=halo_operator)))
    assert [str(t.id) for t in tasks.features] == [tid]

    # every write is in the audit log: who, what, before and after
    trail = ok(http.get(f"/api/v1/audit?entity=task&entity_id={tid}", headers=coordinator))
    rows = list(reversed(trail["entries"]))
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("coordinator", "create"), ("operator.halo", "update"), ("operator.halo", "update")]
    assert rows[1]["before"]["status"] == "planned" and rows[1]["after"]["status"] == "active"
    area_trail = ok(http.get(f"/api/v1/audit?entity=hazard_area&entity_id={hid}",
                             headers=coordinator))
    moves = [(r["after"] or {}).get("status") for r in area_trail["entries"]
             if r["action"] == "transition"]
    assert moves == ["handed_over", "closed", "worked_on"]


def test_first_progress_report_starts_a_planned_task(
        http: httpx.Client, coordinator: dict[str, str], halo_operator: dict[str, str],
        refs: dict[str, Any]) -> None:
    x, y = ground(refs, 1)
    area = ok(http.post("/api/v1/hazard-areas", headers=halo_operator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "CHA", "evidence": "direct",
        "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}), 201)
    # an operator's new area is its own organisation's
    assert area["properties"]["reporting_organisation_id"] == refs["org"]
    task = ok(http.post("/api/v1/tasks", headers=coordinator, json={
        "local_id": f"UA-PL-T-{uuid4().hex[:8]}", "activity_type": "TS",
        "hazard_area_ids": [area["id"]], "organisation_id": refs["org"],
        "planned_start": "2025-03-01", "planned_end": "2025-03-31"}), 201)
    ok(http.post("/api/v1/activity-reports", headers=halo_operator, json={
        "task_id": task["id"], "hazard_area_id": area["id"], "kind": "progress",
        "report_date": "2025-03-10", "period_start": "2025-03-04", "team_days": 5}), 201)
    now = ok(http.get(f"/api/v1/tasks/{task['id']}", headers=coordinator))
    assert now["properties"]["status"] == "active"
    assert now["properties"]["actual_start"] == "2025-03-04"
    assert hazard(http, coordinator, area["id"]).properties.status == "worked_on"


def test_hazard_area_updates(http: httpx.Client, coordinator: dict[str, str],
                             halo_operator: dict[str, str], fsd_operator: dict[str, str],
                             refs: dict[str, Any]) -> None:
    x, y = ground(refs, 2)
    area = ok(http.post("/api/v1/hazard-areas", headers=halo_operator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}), 201)
    url = f"/api/v1/hazard-areas/{area['id']}"
    assert http.patch(url, json={"priority": 1}, headers=halo_operator).status_code == 428
    assert http.patch(url, json={"priority": 1},
                      headers=fsd_operator | {"If-Match": '"1"'}).status_code == 403
    changed = http.patch(url, json={"priority": 1, "land_use": "pasture"},
                         headers=halo_operator | {"If-Match": '"1"'})
    body = HazardAreaPublic.model_validate(ok(changed))
    assert (body.properties.priority, body.properties.land_use) == (1, "pasture")
    assert changed.headers["etag"] == '"2"'
    assert http.patch(url, json={"priority": 2},
                      headers=halo_operator | {"If-Match": '"1"'}).status_code == 412
    # classification and status move through the lifecycle, not here
    assert http.patch(url, json={"status": "closed"},
                      headers=halo_operator | {"If-Match": '"2"'}).status_code == 422
    # a new boundary is a re-survey: it needs a reason, and keeps remaining == area
    wider = mapping(box(x, y, x + SIZE * 1.5, y + SIZE))
    assert http.patch(url, json={"geometry": wider},
                      headers=halo_operator | {"If-Match": '"2"'}).status_code == 422
    resurveyed = HazardAreaPublic.model_validate(ok(http.patch(
        url, json={"geometry": wider, "reason": "technical survey widened it"},
        headers=halo_operator | {"If-Match": '"2"'})))
    assert resurveyed.properties.area_m2 == pytest.approx(body.properties.area_m2 * 1.5,
                                                          rel=0.01)
    assert resurveyed.properties.remaining_area_m2 == pytest.approx(
        resurveyed.properties.area_m2, abs=0.01)
    assert resurveyed.properties.version == 3
    # outside the programme: refused with a message
    far = http.post("/api/v1/hazard-areas", headers=coordinator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "date_of_information": "2025-02-01",
        "geometry": mapping(box(2.0, 48.0, 2.01, 48.01))})
    assert far.status_code == 422
    # a CHA rests on direct evidence
    assert http.post("/api/v1/hazard-areas", headers=coordinator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "CHA",
        "evidence": "indirect", "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}).status_code == 422


def test_operators_write_only_for_their_organisation(
        http: httpx.Client, coordinator: dict[str, str], fsd_operator: dict[str, str],
        refs: dict[str, Any]) -> None:
    x, y = ground(refs, 3)
    # FSD's operator cannot record an area in HALO's name
    assert http.post("/api/v1/hazard-areas", headers=fsd_operator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "reporting_organisation_id": refs["org"],
        "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}).status_code == 403
    # nor file a report for HALO on an area with no task
    area = ok(http.post("/api/v1/hazard-areas", headers=coordinator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "reporting_organisation_id": refs["org"],
        "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}), 201)
    assert http.post("/api/v1/activity-reports", headers=fsd_operator, json={
        "hazard_area_id": area["id"], "organisation_id": refs["org"], "kind": "progress",
        "report_date": "2025-03-10"}).status_code == 403
    # and a public or donor account reads no tasks
    donor = sign_in(http, "donor.eu")
    assert http.get("/api/v1/tasks", headers=donor).status_code == 200
    assert http.post("/api/v1/tasks", headers=donor, json={
        "local_id": "UA-PL-T-x", "activity_type": "TS", "hazard_area_ids": [area["id"]],
        "organisation_id": refs["org"], "planned_start": "2025-03-01",
        "planned_end": "2025-03-31"}).status_code == 403


def test_report_corrections_and_deletion(http: httpx.Client, coordinator: dict[str, str],
                                         halo_operator: dict[str, str],
                                         fsd_operator: dict[str, str],
                                         refs: dict[str, Any]) -> None:
    x, y = ground(refs, 4)
    area = ok(http.post("/api/v1/hazard-areas", headers=halo_operator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}), 201)
    hazard_url = f"/api/v1/hazard-areas/{area['id']}"
    for change in ({"evidence": None}, {"contamination": None}, {"classification": "CHA"}):
        assert http.patch(hazard_url, json=change, headers=halo_operator | {
            "If-Match": '"1"'}).status_code == 422, change
    created = http.post("/api/v1/activity-reports", headers=halo_operator, json={
        "hazard_area_id": area["id"], "kind": "progress", "report_date": "2025-03-10",
        "team_days": 2.5})
    report = ActivityReportPublic.model_validate(ok(created, 201))
    assert report.organisation_id == UUID(refs["org"])  # the operator's own
    assert report.hazard_area_status == "worked_on"
    url = f"/api/v1/activity-reports/{report.id}"
    for change in ({"report_date": None}, {"handover_men": 3}, {"kind": "handover"},
                   {"period_end": "2025-03-11"}, {"team_days": -1}, {"team_days": True}):
        refused = http.patch(url, json=change, headers=halo_operator | {"If-Match": '"1"'})
        assert refused.status_code == 422, (change, refused.text)
    assert http.patch(url, json={"notes": "x"}, headers=fsd_operator | {
        "If-Match": '"1"'}).status_code == 403
    fixed = http.patch(url, json={"team_days": 3, "notes": "rain on day 2"},
                       headers=halo_operator | {"If-Match": '"1"'})
    body = ActivityReportPublic.model_validate(ok(fixed))
    assert (body.team_days, body.notes, body.version) == (3.0, "rain on day 2", 2)
    assert fixed.headers["etag"] == '"2"'
    assert http.get(url, headers=halo_operator).headers["etag"] == '"2"'
    assert http.delete(url, headers=fsd_operator).status_code == 403
    assert http.delete(url, headers=halo_operator | {"If-Match": '"2"'}).status_code == 204
    assert http.get(url, headers=halo_operator).status_code == 404
    listed = ok(http.get(f"/api/v1/activity-reports?hazard_area_id={area['id']}",
                         headers=coordinator))
    assert listed["items"] == []


def test_racing_retries_of_a_report_book_its_land_once(
        live_server: str, http: httpx.Client, coordinator: dict[str, str],
        halo_operator: dict[str, str], refs: dict[str, Any], api_database_url: str) -> None:
    x, y = ground(refs, 5)
    area = ok(http.post("/api/v1/hazard-areas", headers=halo_operator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}), 201)
    body = {"hazard_area_id": area["id"], "kind": "cancellation", "report_date": "2025-03-10",
            "releases": [{"product": "cancelled", "method": "NTS",
                          "geometry": mapping(box(x, y, x + SIZE / 3, y + SIZE))}]}
    headers = halo_operator | {"Idempotency-Key": f"report-{uuid4()}"}
    start = threading.Barrier(2)

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=60) as client:
            start.wait()
            return client.post("/api/v1/activity-reports", json=body, headers=headers)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, range(2)))
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    with psycopg.connect(api_database_url) as conn:
        reports, releases = conn.execute(
            "SELECT count(DISTINCT a.id), count(r.id) FROM activity_report a "
            "LEFT JOIN release r ON r.activity_report_id = a.id WHERE a.hazard_area_id = %s",
            (UUID(area["id"]),)).fetchone()
    assert (reports, releases) == (1, 1)
    # a cancellation report cancels land only
    refused = http.post("/api/v1/activity-reports", headers=halo_operator, json=body | {
        "releases": [{"product": "cleared", "method": "MANUAL",
                      "geometry": mapping(box(x + SIZE / 2, y, x + SIZE, y + SIZE))}]})
    assert refused.status_code == 422


def test_releases_booked_later_through_the_ledger_route(
        http: httpx.Client, halo_operator: dict[str, str], fsd_operator: dict[str, str],
        refs: dict[str, Any]) -> None:
    x, y = ground(refs, 6)
    area = ok(http.post("/api/v1/hazard-areas", headers=halo_operator, json={
        "local_id": f"UA-PL-{uuid4().hex[:8]}", "classification": "SHA",
        "evidence": "indirect", "date_of_information": "2025-02-01",
        "geometry": mapping(box(x, y, x + SIZE, y + SIZE))}), 201)
    report = ok(http.post("/api/v1/activity-reports", headers=halo_operator, json={
        "hazard_area_id": area["id"], "kind": "progress", "report_date": "2025-03-10"}), 201)
    url = f"/api/v1/activity-reports/{report['id']}"
    release = {"activity_report_id": report["id"], "hazard_area_id": area["id"],
               "product": "reduced", "method": "MECHANICAL", "technical_asset": True,
               "release_date": "2025-03-10",
               "geometry": mapping(box(x, y, x + SIZE / 2, y + SIZE))}
    assert http.post("/api/v1/releases", json=release, headers=fsd_operator).status_code == 403
    assert ok(http.post("/api/v1/releases", json=release, headers=halo_operator), 201)
    now = http.get(url, headers=halo_operator)
    assert now.headers["etag"] == '"2"'  # the report lists its releases: its ETag moved
    assert len(ActivityReportPublic.model_validate(now.json()).releases) == 1
    # a report that booked land stays; a deleted one books nothing more
    assert http.delete(url, headers=halo_operator).status_code == 409
    empty = ok(http.post("/api/v1/activity-reports", headers=halo_operator, json={
        "hazard_area_id": area["id"], "kind": "progress", "report_date": "2025-03-11"}), 201)
    assert http.delete(f"/api/v1/activity-reports/{empty['id']}",
                       headers=halo_operator).status_code == 204
    late = http.post("/api/v1/releases", headers=halo_operator, json=release | {
        "activity_report_id": empty["id"],
        "geometry": mapping(box(x + SIZE / 2, y, x + SIZE, y + SIZE))})
    assert late.status_code == 404


# they add areas and tasks to the shared demo and delete some: run after its readers
pytestmark = pytest.mark.writes_live_server
