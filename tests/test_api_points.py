"""Field records and restricted records over real HTTP: device-finds, evidence-points,
marker-points (GeoJSON), accidents (GeoJSON) and victims (JSON, personal data hidden from
the roles that do not need it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from api.schemas_reference import (
    AccidentPublic,
    AccidentsPublic,
    DeviceFindPublic,
    DeviceFindsPublic,
    EvidencePointPublic,
    EvidencePointsPublic,
    MarkerPointPublic,
    MarkerPointsPublic,
    VictimPublic,
    VictimsPublic,
)
from tests.test_api_reference import GEOJSON, JSON, Site, as_, check, pages, running_site

PERSONAL = {"full_name", "age_years", "activity_at_time"}
POINT = {"type": "Point", "coordinates": [37.26, 49.19]}


@pytest.fixture(scope="module")
def site(server_url: str) -> Iterator[Site]:
    with running_site(server_url, "demine_test_refs_points") as found:
        found.ids["hazard"] = found.scalar(
            "SELECT id FROM hazard_area ORDER BY local_id LIMIT 1")
        found.ids["ordnance"] = found.scalar("SELECT id FROM ordnance_type WHERE model = "
                                             "'PMN-2'")
        found.ids["halo_report"] = found.scalar(
            "SELECT id FROM activity_report WHERE organisation_id = %s LIMIT 1",
            (found.ids["halo"],))
        found.ids["fsd_report"] = found.scalar(
            "SELECT id FROM activity_report WHERE organisation_id = %s LIMIT 1",
            (found.ids["fsd"],))
        found.ids["halo_accident"] = found.scalar(
            "SELECT id FROM accident WHERE organisation_id = %s LIMIT 1", (found.ids["halo"],))
        found.ids["other_accident"] = found.scalar(
            "SELECT id FROM accident WHERE organisation_id IS NULL LIMIT 1")
        yield found


@pytest.fixture(scope="module")
def http(site: Site) -> Iterator[httpx.Client]:
    with site.client() as client:
        yield client


def inside(site: Site, hazard: UUID | None = None) -> dict[str, Any]:
    """A GeoJSON point inside a hazard area (so inside the programme)."""
    lon, lat = site.query("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p "
                          "FROM hazard_area WHERE id = %s) s", (hazard or site.ids["hazard"],)
                          )[0]
    return {"type": "Point", "coordinates": [lon, lat]}


# --- device finds ---------------------------------------------------------------------------

def test_device_finds_are_geojson_for_staff(site: Site, http: httpx.Client) -> None:
    body = check(http.get("/api/v1/device-finds?limit=1000", headers=as_(site, "coordinator")),
                 200, GEOJSON, DeviceFindsPublic)
    assert body["numberReturned"] == site.scalar("SELECT count(*) FROM device_find") > 0
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    dates = [f["properties"]["found_date"] for f in body["features"]]
    assert dates == sorted(dates)
    check(http.get("/api/v1/device-finds", headers=as_(site, "public")), 403)
    check(http.get("/api/v1/device-finds"), 401)
    read = http.get(f"/api/v1/device-finds/{feature['id']}", headers=as_(site, "operator.fsd"))
    check(read, 200, GEOJSON, DeviceFindPublic)
    assert read.headers["ETag"] == '"1"'


def test_a_donor_sees_the_finds_of_its_projects_only(site: Site, http: httpx.Client) -> None:
    donor = as_(site, "donor.eu")
    seen = {f["id"] for f in pages(http, "/api/v1/device-finds?limit=50", donor)}
    expected = {str(row[0]) for row in site.query(
        "SELECT f.id FROM device_find f JOIN activity_report ar ON ar.id = "
        "f.activity_report_id JOIN task t ON t.id = ar.task_id JOIN project p ON "
        "p.id = t.project_id WHERE p.donor_id = %s", (site.ids["eu"],))}
    assert seen == expected and seen
    other = site.scalar("SELECT f.id FROM device_find f WHERE NOT EXISTS (SELECT 1 FROM "
                        "activity_report ar JOIN task t ON t.id = ar.task_id JOIN project p "
                        "ON p.id = t.project_id WHERE ar.id = f.activity_report_id AND "
                        "p.donor_id = %s) LIMIT 1", (site.ids["eu"],))
    check(http.get(f"/api/v1/device-finds/{other}", headers=donor), 404)
    check(http.post("/api/v1/device-finds", headers=donor, json={
        "ordnance_type_id": str(site.ids["ordnance"]), "found_date": "2025-05-01",
        "geometry": inside(site)}), 403)


def test_device_find_filters(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    halo = check(http.get(f"/api/v1/device-finds?organisation_id={site.ids['halo']}"
                          "&limit=1000", headers=coordinator), 200, GEOJSON, DeviceFindsPublic)
    assert halo["numberReturned"] == site.scalar(
        "SELECT count(*) FROM device_find WHERE organisation_id = %s", (site.ids["halo"],))
    eu = check(http.get(f"/api/v1/device-finds?donor_id={site.ids['eu']}&limit=1000",
                        headers=coordinator), 200, GEOJSON)
    assert {f["id"] for f in eu["features"]} == {
        f["id"] for f in pages(http, "/api/v1/device-finds?limit=50",
                               as_(site, "donor.eu"))}
    mines = check(http.get("/api/v1/device-finds?category=AT_MINE&date_from=2024-01-01"
                           "&date_to=2030-01-01&sort=-found_date&limit=1000",
                           headers=coordinator), 200, GEOJSON, DeviceFindsPublic)
    dates = [f["properties"]["found_date"] for f in mines["features"]]
    assert dates == sorted(dates, reverse=True)
    pmn = check(http.get("/api/v1/device-finds?model=PMN-2&limit=1000", headers=coordinator),
                200, GEOJSON, DeviceFindsPublic)
    assert {f["properties"]["ordnance_type_id"] for f in pmn["features"]} <= {
        str(site.ids["ordnance"])}
    assert pmn["numberReturned"] == site.scalar(
        "SELECT count(*) FROM device_find WHERE ordnance_type_id = %s AND deleted_at IS NULL",
        (site.ids["ordnance"],))
    check(http.get("/api/v1/device-finds?date_from=2025-01-02&date_to=2025-01-01",
                   headers=coordinator), 422)


def test_an_operator_records_finds_for_its_own_organisation(site: Site,
                                                            http: httpx.Client) -> None:
    halo = as_(site, "operator.halo")
    sent = {"activity_report_id": str(site.ids["halo_report"]),
            "ordnance_type_id": str(site.ids["ordnance"]), "quantity": 2,
            "found_date": "2025-05-14", "depth_cm": 8, "condition": "armed",
            "disposal_method": "destroyed_in_situ", "disposal_date": "2025-05-14"}
    hazard = site.scalar("SELECT hazard_area_id FROM activity_report WHERE id = %s",
                         (site.ids["halo_report"],))
    made = http.post("/api/v1/device-finds", headers=halo,
                     json={**sent, "geometry": inside(site, hazard)})
    body = check(made, 201, GEOJSON, DeviceFindPublic)
    assert body["properties"]["organisation_id"] == str(site.ids["halo"])
    assert body["properties"]["hazard_area_id"] == str(hazard)
    # another organisation's report, or another organisation named: refused
    fsd_hazard = site.scalar("SELECT hazard_area_id FROM activity_report WHERE id = %s",
                             (site.ids["fsd_report"],))
    check(http.post("/api/v1/device-finds", headers=halo, json={
        **sent, "activity_report_id": str(site.ids["fsd_report"]),
        "geometry": inside(site, fsd_hazard)}), 403)
    check(http.post("/api/v1/device-finds", headers=halo, json={
        **sent, "activity_report_id": None, "organisation_id": str(site.ids["fsd"]),
        "geometry": inside(site)}), 403)
    # rules: dates, disposal, the programme's extent, the catalogue
    check(http.post("/api/v1/device-finds", headers=halo, json={
        **sent, "found_date": "2099-01-01", "disposal_date": "2099-01-02",
        "geometry": inside(site, hazard)}), 422)
    check(http.post("/api/v1/device-finds", headers=halo, json={
        **sent, "disposal_date": None, "geometry": inside(site, hazard)}), 422)
    check(http.post("/api/v1/device-finds", headers=halo, json={
        **sent, "geometry": {"type": "Point", "coordinates": [49.19, 37.26]}}), 422)
    check(http.post("/api/v1/device-finds", headers=halo, json={
        **sent, "ordnance_type_id": str(uuid4()), "geometry": inside(site, hazard)}), 422)
    # FSD's operator reads HALO's find but cannot change or delete it
    url = made.headers["Location"]
    fsd = as_(site, "operator.fsd", **{"If-Match": '"1"'})
    check(http.get(url, headers=fsd), 200, GEOJSON)
    check(http.patch(url, headers=fsd, json={"quantity": 3}), 403)
    check(http.delete(url, headers=fsd), 403)
    changed = http.patch(url, headers=as_(site, "operator.halo", **{"If-Match": '"1"'}),
                         json={"quantity": 3})
    assert check(changed, 200, GEOJSON, DeviceFindPublic)["properties"]["quantity"] == 3
    # soft delete: gone from reads and lists, kept in the table
    check(http.delete(url, headers=as_(site, "operator.halo")), 204)
    check(http.get(url, headers=halo), 404)
    check(http.patch(url, headers=as_(site, "operator.halo", **{"If-Match": '"3"'}),
                     json={"quantity": 4}), 404)
    listed = {f["id"] for f in pages(http, "/api/v1/device-finds?limit=500", halo)}
    assert body["id"] not in listed
    assert site.scalar("SELECT deleted_at IS NOT NULL FROM device_find WHERE id = %s",
                       (body["id"],))


def test_an_update_cannot_move_a_find_to_another_organisation(site: Site,
                                                               http: httpx.Client) -> None:
    halo = as_(site, "operator.halo")
    made = http.post("/api/v1/device-finds", headers=halo, json={
        "ordnance_type_id": str(site.ids["ordnance"]), "found_date": "2025-06-01",
        "geometry": inside(site)})
    check(made, 201, GEOJSON)
    check(http.patch(made.headers["Location"], json={"organisation_id": str(site.ids["fsd"])},
                     headers=as_(site, "operator.halo", **{"If-Match": '"1"'})), 403)


# --- evidence and marker points -------------------------------------------------------------

def test_evidence_points(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    body = check(http.get(f"/api/v1/evidence-points?hazard_area_id={site.ids['hazard']}",
                          headers=coordinator), 200, GEOJSON, EvidencePointsPublic)
    assert body["numberReturned"] == site.scalar(
        "SELECT count(*) FROM evidence_point WHERE hazard_area_id = %s", (site.ids["hazard"],))
    made = http.post("/api/v1/evidence-points", headers=as_(site, "operator.halo"), json={
        "hazard_area_id": str(site.ids["hazard"]), "evidence": "direct",
        "description": "PMN-2 visible at the field edge", "observed_on": "2025-04-02",
        "geometry": inside(site)})
    created = check(made, 201, GEOJSON, EvidencePointPublic)
    assert created["properties"]["organisation_id"] == str(site.ids["halo"])
    cha = check(http.get("/api/v1/evidence-points?classification=CHA&evidence=direct"
                         "&limit=1000", headers=coordinator), 200, GEOJSON)
    assert all(f["properties"]["evidence"] == "direct" for f in cha["features"])
    check(http.get("/api/v1/evidence-points", headers=as_(site, "public")), 403)
    check(http.delete(made.headers["Location"], headers=as_(site, "operator.fsd")), 403)
    check(http.delete(made.headers["Location"], headers=coordinator), 204)


def test_a_donor_sees_points_on_the_areas_of_its_projects(site: Site,
                                                          http: httpx.Client) -> None:
    seen = {f["properties"]["hazard_area_id"]
            for f in pages(http, "/api/v1/evidence-points?limit=100", as_(site, "donor.eu"))}
    funded = {str(row[0]) for row in site.query(
        "SELECT th.hazard_area_id FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
        "JOIN project p ON p.id = t.project_id WHERE p.donor_id = %s", (site.ids["eu"],))}
    assert seen <= funded


def test_marker_points(site: Site, http: httpx.Client) -> None:
    halo = as_(site, "operator.halo")
    sent = {"hazard_area_id": str(site.ids["hazard"]), "kind": "turning", "sequence": 3,
            "bearing_deg": 112.5, "distance_m": 48.2, "geometry": inside(site)}
    made = http.post("/api/v1/marker-points", headers=halo, json=sent)
    check(made, 201, GEOJSON, MarkerPointPublic)
    listed = check(http.get(f"/api/v1/marker-points?hazard_area_id={site.ids['hazard']}"
                            "&limit=1000", headers=halo), 200, GEOJSON, MarkerPointsPublic)
    sequences = [f["properties"]["sequence"] for f in listed["features"]]
    assert sequences == sorted(sequences)
    check(http.post("/api/v1/marker-points", headers=halo,
                    json={**sent, "hazard_area_id": None}), 422)
    check(http.post("/api/v1/marker-points", headers=halo,
                    json={**sent, "bearing_deg": 360}), 422)
    check(http.post("/api/v1/marker-points", headers=halo,
                    json={**sent, "kind": "corner"}), 422)
    release = site.query("SELECT id, hazard_area_id FROM release LIMIT 1")[0]
    on_release = http.post("/api/v1/marker-points", headers=as_(site, "coordinator"), json={
        **sent, "hazard_area_id": None, "release_id": str(release[0]), "kind": "benchmark",
        "geometry": inside(site, release[1])})
    assert check(on_release, 201, GEOJSON)["properties"]["hazard_area_id"] == str(release[1])


# --- accidents and victims ------------------------------------------------------------------

def test_accidents_for_staff_only(site: Site, http: httpx.Client) -> None:
    body = check(http.get("/api/v1/accidents", headers=as_(site, "operator.fsd")), 200,
                 GEOJSON, AccidentsPublic)
    assert body["numberReturned"] == site.scalar("SELECT count(*) FROM accident")
    for role in ("donor.eu", "public"):
        check(http.get("/api/v1/accidents", headers=as_(site, role)), 403)
        check(http.get(f"/api/v1/accidents/{site.ids['halo_accident']}",
                       headers=as_(site, role)), 403)
    made = http.post("/api/v1/accidents", headers=as_(site, "operator.halo"), json={
        "kind": "demining", "accident_date": "2025-06-03",
        "hazard_area_id": str(site.ids["hazard"]), "ordnance_type_id": str(site.ids["ordnance"]),
        "description": "deminer injured while excavating a signal", "geometry": inside(site)})
    created = check(made, 201, GEOJSON, AccidentPublic)
    assert created["properties"]["organisation_id"] == str(site.ids["halo"])
    check(http.post("/api/v1/accidents", headers=as_(site, "operator.halo"), json={
        "kind": "mine", "accident_date": "2025-06-03", "geometry": inside(site),
        "organisation_id": str(site.ids["fsd"])}), 403)


def victims_of(http: httpx.Client, site: Site, role: str, accident: UUID) -> list[Any]:
    body = check(http.get(f"/api/v1/victims?accident_id={accident}",
                          headers=as_(site, role)), 200, JSON, VictimsPublic)
    return list(body["items"])


def test_victims_personal_data_only_for_those_who_need_it(site: Site,
                                                          http: httpx.Client) -> None:
    accident = site.ids["halo_accident"]
    for role in ("admin", "coordinator", "operator.halo"):
        victims = victims_of(http, site, role, accident)
        assert victims and all(v["personal_data"] for v in victims), role
        assert victims[0]["full_name"] == "Ivan Testenko"
        assert set(victims[0]) >= PERSONAL
    hidden = victims_of(http, site, "operator.fsd", accident)
    assert hidden and not any(v["personal_data"] for v in hidden)
    assert not any(PERSONAL & set(v) for v in hidden)
    assert {v["age_group"] for v in hidden} <= {"adult", "child", None}
    one = http.get(f"/api/v1/victims/{hidden[0]['id']}", headers=as_(site, "operator.fsd"))
    assert not PERSONAL & set(check(one, 200, JSON, VictimPublic))
    assert "Ivan" not in one.text
    # a list of every victim holds no personal data for FSD's operator, HALO's only its own
    everything = check(http.get("/api/v1/victims?limit=1000", headers=as_(site, "operator.fsd")),
                       200, JSON, VictimsPublic)
    assert "Ivan" not in str(everything) and everything["items"]
    halo_sees = {v["accident_id"] for v in check(http.get(
        "/api/v1/victims?limit=1000", headers=as_(site, "operator.halo")), 200, JSON)["items"]
        if v["personal_data"]}
    assert halo_sees == {str(accident)}
    for role in ("donor.eu", "public"):
        check(http.get("/api/v1/victims", headers=as_(site, role)), 403)
        check(http.get(f"/api/v1/victims/{hidden[0]['id']}", headers=as_(site, role)), 403)


def test_victims_are_written_by_the_accident_organisation(site: Site,
                                                          http: httpx.Client) -> None:
    sent = {"accident_id": str(site.ids["halo_accident"]), "full_name": "Olena Test",
            "sex": "female", "age_years": 15, "outcome": "injured"}
    check(http.post("/api/v1/victims", headers=as_(site, "operator.fsd"), json=sent), 403)
    made = http.post("/api/v1/victims", headers=as_(site, "operator.halo"), json=sent)
    body = check(made, 201, JSON, VictimPublic)
    assert body["full_name"] == "Olena Test" and body["age_group"] == "child"
    other = http.post("/api/v1/victims", headers=as_(site, "operator.halo"),
                      json={**sent, "accident_id": str(site.ids["other_accident"])})
    check(other, 403)
    check(http.post("/api/v1/victims", headers=as_(site, "coordinator"),
                    json={**sent, "accident_id": str(uuid4())}), 422)
    url = made.headers["Location"]
    check(http.patch(url, headers=as_(site, "operator.fsd", **{"If-Match": '"1"'}),
                     json={"outcome": "killed"}), 403)
    check(http.patch(url, headers=as_(site, "operator.halo", **{"If-Match": '"1"'}),
                     json={"accident_id": str(site.ids["other_accident"])}), 422)
    check(http.delete(url, headers=as_(site, "operator.fsd")), 403)
    check(http.delete(url, headers=as_(site, "operator.halo")), 204)
    assert site.scalar("SELECT count(*) FROM victim WHERE id = %s", (body["id"],)) == 0


def test_victims_of_a_deleted_accident_are_hidden(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    made = http.post("/api/v1/accidents", headers=coordinator, json={
        "kind": "uxo_axo", "accident_date": "2025-07-01", "geometry": inside(site)})
    accident = check(made, 201, GEOJSON)["id"]
    victim = check(http.post("/api/v1/victims", headers=coordinator, json={
        "accident_id": accident, "outcome": "killed", "sex": "male"}), 201, JSON)
    check(http.delete(made.headers["Location"], headers=coordinator), 204)
    check(http.get(f"/api/v1/victims/{victim['id']}", headers=coordinator), 404)
    assert victims_of(http, site, "coordinator", UUID(accident)) == []


def test_a_retried_find_is_recorded_once(site: Site, http: httpx.Client) -> None:
    headers = as_(site, "operator.halo", **{"Idempotency-Key": str(uuid4())})
    sent = {"ordnance_type_id": str(site.ids["ordnance"]), "found_date": "2025-06-02",
            "geometry": inside(site)}
    first = http.post("/api/v1/device-finds", headers=headers, json=sent)
    again = http.post("/api/v1/device-finds", headers=headers, json=sent)
    check(first, 201, GEOJSON, DeviceFindPublic)
    check(again, 201, GEOJSON, DeviceFindPublic)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert site.scalar("SELECT count(*) FROM device_find WHERE id = %s",
                       (first.json()["id"],)) == 1


def test_a_deleted_evidence_point_no_longer_confirms_a_cha(site: Site,
                                                           http: httpx.Client) -> None:
    from shapely.geometry import MultiPolygon, box

    from survey.domain.models import HazardArea
    from survey.store import db, repo

    with db.connect(site.url) as conn, conn.transaction():
        hazard = repo.insert(conn, HazardArea(
            programme_id=site.ids["programme"], local_id=f"SHA-{uuid4().hex[:8]}",
            classification="SHA", evidence="indirect", date_of_information="2025-01-05",
            geom=MultiPolygon([box(36.95, 49.45, 36.952, 49.452)])), actor="test")
    coordinator = as_(site, "coordinator")
    made = http.post("/api/v1/evidence-points", headers=coordinator, json={
        "hazard_area_id": str(hazard.id), "evidence": "direct", "description": "PMN-2 seen",
        "geometry": {"type": "Point", "coordinates": [36.951, 49.451]}})
    check(made, 201, GEOJSON)
    check(http.delete(made.headers["Location"], headers=coordinator), 204)
    refused = http.post(f"/api/v1/hazard-areas/{hazard.id}/transitions", headers=coordinator,
                        json={"to": "CHA", "reason": "mine seen"})
    assert check(refused, 409)["title"] == "Illegal transition"


def test_geojson_pages_cover_every_find_once(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    paged = pages(http, "/api/v1/device-finds?limit=7&sort=-found_date", coordinator)
    ids = [f["id"] for f in paged]
    assert len(ids) == len(set(ids)) == site.scalar(
        "SELECT count(*) FROM device_find WHERE deleted_at IS NULL")
    keys = [(f["properties"]["found_date"], f["id"]) for f in paged]
    assert keys == sorted(keys, reverse=True)


# they add areas and tasks to the shared demo and delete some: run after its readers
pytestmark = pytest.mark.writes_live_server
