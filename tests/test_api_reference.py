"""The reference records over real HTTP: organisations, teams, donors, projects,
ordnance-types and admin-areas. Status codes, content types, bodies validated against the
response models, ETag / If-Match, Idempotency-Key, keyset pages, and who may do what.

The app serves a database of its own (a small demo programme), so the writes here touch
no other test's data; `refs_site` builds one and is shared with test_api_points.py and
test_permission_matrix.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from pydantic import BaseModel

from api.schemas_reference import (
    AdminAreaPublic,
    AdminAreasPublic,
    DonorsPublic,
    OrdnanceTypePublic,
    OrdnanceTypesPublic,
    OrganisationPublic,
    OrganisationsPublic,
    ProjectsPublic,
    TeamPublic,
    TeamsPublic,
)
from survey.auth import hash_password
from survey.config import Settings
from survey.domain.models import AppUser, Programme
from survey.domain.vocab import Role
from survey.store import db, migrate, repo
from tests.conftest import db_name, serving

JSON = "application/json"
GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
ROLES = ("admin", "coordinator", "operator.halo", "operator.fsd", "donor.eu", "public")


@dataclass
class Site:
    """A served app on a demo programme, with every role signed in and the ids tests use."""

    base: str
    url: str
    headers: dict[str, dict[str, str]]
    ids: dict[str, UUID] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)

    def query(self, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(text, params).fetchall()

    def scalar(self, text: str, params: Any = None) -> Any:
        return self.query(text, params)[0][0]


def build_site(server_url: str, base_name: str) -> str:
    """A fresh database holding the demo programme, a public viewer, and a demining
    accident reported by HALO (whose victims' personal data HALO's operator may see)."""
    from survey import demo

    url = db.create_database(server_url, db_name(base_name), drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as conn, conn.transaction():
        demo.load(conn, demo.generate(7, hazard_areas=24))
        programme = repo.list_records(conn, Programme)[0]
        repo.insert(conn, AppUser(programme_id=programme.id, username="public",
                                  full_name="Public viewer", role=Role.PUBLIC,
                                  password_hash=hash_password(demo.DEMO_PASSWORD)),
                    actor="test")
        conn.execute("UPDATE accident SET organisation_id = (SELECT id FROM organisation "
                     "WHERE acronym = 'HALO') WHERE kind = 'demining'")
        conn.execute("UPDATE victim SET full_name = 'Ivan Testenko' WHERE accident_id IN "
                     "(SELECT id FROM accident WHERE kind = 'demining')")
    return url


@contextmanager
def running_site(server_url: str, base_name: str) -> Iterator[Site]:
    """Serve a fresh site and sign every role in."""
    from api.app import create_app
    from survey.demo import DEMO_PASSWORD

    url = build_site(server_url, base_name)
    with serving(create_app(Settings(database_url=url, pool_max_size=4))) as base:
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        with httpx.Client(base_url=base, timeout=30) as client:
            for username in ROLES:
                answer = client.post("/api/v1/auth/token",
                                     data={"username": username, "password": DEMO_PASSWORD})
                assert answer.status_code == 200, answer.text
                headers[username] = {
                    "Authorization": f"Bearer {answer.json()['access_token']}"}
        site = Site(base, url, headers)
        for key, sql_text in {
            "programme": "SELECT id FROM programme",
            "halo": "SELECT id FROM organisation WHERE acronym = 'HALO'",
            "fsd": "SELECT id FROM organisation WHERE acronym = 'FSD'",
            "eu": "SELECT id FROM donor WHERE name = 'European Union'",
            "us": "SELECT id FROM donor WHERE name <> 'European Union'",
        }.items():
            site.ids[key] = site.scalar(sql_text)
        yield site


@pytest.fixture(scope="module")
def site(server_url: str) -> Iterator[Site]:
    with running_site(server_url, "demine_test_refs_reference") as found:
        yield found


@pytest.fixture(scope="module")
def http(site: Site) -> Iterator[httpx.Client]:
    with site.client() as client:
        yield client


def as_(site: Site, role: str, **extra: str) -> dict[str, str]:
    return {**site.headers[role], **extra}


def check(response: httpx.Response, status: int, media: str | None = None,
          model: type[BaseModel] | None = None) -> Any:
    """Assert the status and content type, validate the body; return it."""
    assert response.status_code == status, response.text
    if status == 204:
        assert response.content == b""
        return None
    expected = media or (PROBLEM if status >= 400 else JSON)
    assert response.headers["content-type"] == expected, response.headers
    body = response.json()
    if model is not None:
        model.model_validate(body)
    return body


def pages(http: httpx.Client, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a listing, following `next` links; the rows (items or features)."""
    rows: list[dict[str, Any]] = []
    while url:
        body = http.get(url, headers=headers).raise_for_status().json()
        rows += body.get("items", body.get("features", []))
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), "")
    return rows


# --- organisations ----------------------------------------------------------------------

def test_organisations_are_read_by_every_signed_in_role(site: Site,
                                                        http: httpx.Client) -> None:
    count = site.scalar("SELECT count(*) FROM organisation")
    for role in ROLES:
        body = check(http.get("/api/v1/organisations", headers=as_(site, role)), 200, JSON,
                     OrganisationsPublic)
        assert len(body["items"]) == count, role
    assert [o["name"] for o in body["items"]] == sorted(o["name"] for o in body["items"])
    check(http.get("/api/v1/organisations"), 401)


def test_organisation_create_read_update_delete(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    created = http.post("/api/v1/organisations", headers=coordinator, json={
        "name": "Danish Refugee Council", "acronym": "DRC", "kind": "ngo",
        "country_iso": "DK"})
    body = check(created, 201, JSON, OrganisationPublic)
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/api/v1/organisations/{body['id']}"
    read = http.get(created.headers["Location"], headers=as_(site, "operator.halo"))
    assert check(read, 200, JSON, OrganisationPublic) == body
    assert read.headers["ETag"] == '"1"'
    # an update needs the version it was made against
    url = created.headers["Location"]
    check(http.patch(url, headers=coordinator, json={"acronym": "DRC-DDG"}), 428)
    updated = http.patch(url, headers=as_(site, "coordinator", **{"If-Match": '"1"'}),
                         json={"acronym": "DRC-DDG"})
    assert check(updated, 200, JSON, OrganisationPublic)["acronym"] == "DRC-DDG"
    assert updated.headers["ETag"] == '"2"'
    stale = http.patch(url, headers=as_(site, "coordinator", **{"If-Match": '"1"'}),
                       json={"acronym": "X"})
    assert check(stale, 412)["current_version"] == 2
    check(http.patch(url, headers=as_(site, "coordinator", **{"If-Match": '"2"'}),
                     json={"version": 5}), 422)
    # operators, donors and the public do not keep reference data
    for role in ("operator.halo", "donor.eu", "public"):
        check(http.patch(url, headers=as_(site, role, **{"If-Match": '"2"'}),
                         json={"acronym": "Y"}), 403)
        check(http.delete(url, headers=as_(site, role)), 403)
    check(http.delete(url, headers=as_(site, "coordinator", **{"If-Match": '"1"'})), 412)
    check(http.delete(url, headers=coordinator), 204)
    check(http.get(url, headers=coordinator), 404)
    audit = site.query("SELECT action FROM audit_log WHERE entity = 'organisation' AND "
                       "entity_id = %s ORDER BY id", (body["id"],))
    assert [a for (a,) in audit] == ["create", "update", "delete"]


def test_an_organisation_in_use_cannot_be_deleted(site: Site, http: httpx.Client) -> None:
    answer = check(http.delete(f"/api/v1/organisations/{site.ids['halo']}",
                               headers=as_(site, "admin")), 409)
    assert "referred to" in answer["detail"]
    assert site.scalar("SELECT count(*) FROM organisation WHERE id = %s",
                       (site.ids["halo"],)) == 1


def test_a_retried_create_returns_the_first_answer(site: Site, http: httpx.Client) -> None:
    key = str(uuid4())
    headers = as_(site, "coordinator", **{"Idempotency-Key": key})
    sent = {"name": "Mines Advisory Group", "acronym": "MAG", "kind": "ngo"}
    first = http.post("/api/v1/organisations", headers=headers, json=sent)
    again = http.post("/api/v1/organisations", headers=headers, json=sent)
    check(first, 201, JSON, OrganisationPublic)
    check(again, 201, JSON, OrganisationPublic)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert site.scalar("SELECT count(*) FROM organisation WHERE name = %s",
                       (sent["name"],)) == 1
    check(http.post("/api/v1/organisations", headers=headers,
                    json={**sent, "name": "Another"}), 422)


def test_operators_cannot_create_reference_data(site: Site, http: httpx.Client) -> None:
    for role in ("operator.halo", "donor.eu", "public"):
        check(http.post("/api/v1/organisations", headers=as_(site, role),
                        json={"name": "Rogue", "kind": "ngo"}), 403)
    check(http.post("/api/v1/organisations", json={"name": "Rogue", "kind": "ngo"}), 401)
    assert site.scalar("SELECT count(*) FROM organisation WHERE name = 'Rogue'") == 0


def test_invalid_bodies_and_queries_are_problems(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    check(http.post("/api/v1/organisations", headers=coordinator,
                    json={"name": "", "kind": "ngo"}), 422)
    check(http.post("/api/v1/organisations", headers=coordinator,
                    json={"name": "X", "kind": "church"}), 422)
    check(http.post("/api/v1/organisations", headers=coordinator,
                    json={"name": "X", "kind": "ngo", "extra": 1}), 422)
    check(http.get("/api/v1/organisations?sort=budget", headers=coordinator), 422)
    check(http.get("/api/v1/organisations?cursor=garbage", headers=coordinator), 422)
    check(http.get("/api/v1/organisations?limit=0", headers=coordinator), 422)
    check(http.get(f"/api/v1/organisations/{uuid4()}", headers=coordinator), 404)


# --- keyset pages and sorting ---------------------------------------------------------------

def test_keyset_pages_follow_next_links_while_rows_are_added(site: Site,
                                                             http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    first = check(http.get("/api/v1/organisations?limit=2&sort=-name", headers=coordinator),
                  200, JSON, OrganisationsPublic)
    assert len(first["items"]) == 2
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    # a row that sorts before the cursor appears on no later page; nothing repeats
    http.post("/api/v1/organisations", headers=coordinator,
              json={"name": "ZZZ Early bird", "kind": "commercial"}).raise_for_status()
    rest = pages(http, nxt, coordinator)
    names = [o["name"] for o in first["items"] + rest]
    assert len(names) == len(set(names))
    assert names == sorted(names, reverse=True)
    assert "ZZZ Early bird" not in names
    everything = pages(http, "/api/v1/organisations?limit=3", coordinator)
    assert len(everything) == site.scalar("SELECT count(*) FROM organisation")


# --- teams, donors, projects ----------------------------------------------------------------

def test_teams_for_staff_only(site: Site, http: httpx.Client) -> None:
    url = f"/api/v1/teams?organisation_id={site.ids['halo']}"
    body = check(http.get(url, headers=as_(site, "operator.fsd")), 200, JSON, TeamsPublic)
    assert {t["organisation_id"] for t in body["items"]} == {str(site.ids["halo"])}
    assert len(body["items"]) == site.scalar(
        "SELECT count(*) FROM team WHERE organisation_id = %s", (site.ids["halo"],))
    check(http.get("/api/v1/teams?capability=MDD", headers=as_(site, "coordinator")), 200,
          JSON, TeamsPublic)
    for role in ("donor.eu", "public"):
        check(http.get("/api/v1/teams", headers=as_(site, role)), 403)


def test_a_team_belongs_to_an_organisation_of_its_programme(site: Site,
                                                            http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    made = check(http.post("/api/v1/teams", headers=coordinator, json={
        "organisation_id": str(site.ids["halo"]), "name": "HALO Manual 9",
        "capabilities": ["MANUAL"]}), 201, JSON, TeamPublic)
    assert made["capabilities"] == ["MANUAL"]
    check(http.post("/api/v1/teams", headers=coordinator, json={
        "organisation_id": str(uuid4()), "name": "Nowhere"}), 422)
    check(http.post("/api/v1/teams", headers=as_(site, "operator.halo"), json={
        "organisation_id": str(site.ids["halo"]), "name": "HALO Manual 10"}), 403)


def test_donors_see_only_themselves_and_their_projects(site: Site,
                                                       http: httpx.Client) -> None:
    donor = as_(site, "donor.eu")
    donors = check(http.get("/api/v1/donors", headers=donor), 200, JSON, DonorsPublic)
    assert [d["id"] for d in donors["items"]] == [str(site.ids["eu"])]
    check(http.get(f"/api/v1/donors/{site.ids['us']}", headers=donor), 404)
    projects = check(http.get("/api/v1/projects", headers=donor), 200, JSON, ProjectsPublic)
    assert {p["donor_id"] for p in projects["items"]} == {str(site.ids["eu"])}
    assert len(projects["items"]) == site.scalar(
        "SELECT count(*) FROM project WHERE donor_id = %s", (site.ids["eu"],))
    everyone = check(http.get("/api/v1/projects", headers=as_(site, "operator.halo")), 200,
                     JSON, ProjectsPublic)
    assert len(everyone["items"]) == site.scalar("SELECT count(*) FROM project")
    check(http.get("/api/v1/projects", headers=as_(site, "public")), 403)
    check(http.get("/api/v1/donors", headers=as_(site, "public")), 403)


def test_project_rules(site: Site, http: httpx.Client) -> None:
    coordinator = as_(site, "coordinator")
    sent = {"donor_id": str(site.ids["us"]), "code": "PMWRA-UA-2027",
            "name": "Kharkiv phase 2", "start_date": "2027-01-01", "end_date": "2026-01-01"}
    assert "before it starts" in check(http.post("/api/v1/projects", headers=coordinator,
                                                 json=sent), 422)["detail"]
    made = http.post("/api/v1/projects", headers=coordinator,
                     json={**sent, "end_date": "2028-12-31", "budget_usd": 1250000.5})
    assert check(made, 201, JSON)["budget_usd"] == 1250000.5
    running = check(http.get("/api/v1/projects?date_from=2028-01-01", headers=coordinator),
                    200, JSON, ProjectsPublic)
    assert [p["code"] for p in running["items"]] == ["PMWRA-UA-2027"]
    # a project that tasks refer to stays
    used = site.scalar("SELECT project_id FROM task WHERE project_id IS NOT NULL LIMIT 1")
    check(http.delete(f"/api/v1/projects/{used}", headers=coordinator), 409)


# --- ordnance catalogue and gazetteer -------------------------------------------------------

def test_the_ordnance_catalogue_is_read_by_all_and_kept_by_admins(site: Site,
                                                                  http: httpx.Client) -> None:
    for role in ROLES:
        check(http.get("/api/v1/ordnance-types?limit=5", headers=as_(site, role)), 200, JSON,
              OrdnanceTypesPublic)
    found = check(http.get("/api/v1/ordnance-types?q=pmn&category=AP_MINE",
                           headers=as_(site, "public")), 200, JSON, OrdnanceTypesPublic)
    models = [t["model"] for t in found["items"]]
    assert "PMN-2" in models and all(t["category"] == "AP_MINE" for t in found["items"])
    sent = {"category": "AP_MINE", "subcategory": "blast", "model": "PMN-4-TEST",
            "aliases": ["PMN4T"]}
    check(http.post("/api/v1/ordnance-types", headers=as_(site, "coordinator"), json=sent),
          403)
    made = check(http.post("/api/v1/ordnance-types", headers=as_(site, "admin"), json=sent),
                 201, JSON, OrdnanceTypePublic)
    by_alias = check(http.get("/api/v1/ordnance-types?q=pmn4t",
                              headers=as_(site, "operator.halo")), 200, JSON)
    assert [t["id"] for t in by_alias["items"]] == [made["id"]]
    used = site.scalar("SELECT ordnance_type_id FROM device_find LIMIT 1")
    check(http.delete(f"/api/v1/ordnance-types/{used}", headers=as_(site, "admin")), 409)
    check(http.delete(f"/api/v1/ordnance-types/{made['id']}", headers=as_(site, "admin")),
          204)


def test_admin_areas_are_geojson(site: Site, http: httpx.Client) -> None:
    public = as_(site, "public")
    body = check(http.get("/api/v1/admin-areas?level=3", headers=public), 200, GEOJSON,
                 AdminAreasPublic)
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == site.scalar(
        "SELECT count(*) FROM admin_area WHERE level = 3")
    one = body["features"][0]
    assert one["geometry"]["type"] == "MultiPolygon" and one["properties"]["area_m2"] > 0
    read = http.get(f"/api/v1/admin-areas/{one['id']}", headers=public)
    check(read, 200, GEOJSON, AdminAreaPublic)
    assert read.headers["ETag"] == f'"{one["properties"]["version"]}"'
    lon, lat = one["geometry"]["coordinates"][0][0][0]
    boxed = check(http.get(f"/api/v1/admin-areas?bbox={lon - 0.01},{lat - 0.01},{lon + 0.01},"
                           f"{lat + 0.01}", headers=public), 200, GEOJSON, AdminAreasPublic)
    assert one["id"] in {f["id"] for f in boxed["features"]}
    check(http.get("/api/v1/admin-areas?bbox=1,2,3", headers=public), 422)


def test_admin_areas_are_written_by_admins(site: Site, http: httpx.Client) -> None:
    sent = {"level": 4, "code": "UA-TEST-1", "name": "Test village",
            "geometry": {"type": "Polygon", "coordinates": [
                [[36.6, 49.3], [36.61, 49.3], [36.61, 49.31], [36.6, 49.31], [36.6, 49.3]]]}}
    check(http.post("/api/v1/admin-areas", headers=as_(site, "coordinator"), json=sent), 403)
    made = http.post("/api/v1/admin-areas", headers=as_(site, "admin"), json=sent)
    body = check(made, 201, GEOJSON, AdminAreaPublic)
    assert 780_000 < body["properties"]["area_m2"] < 840_000
    bad = {**sent, "code": "UA-TEST-2", "geometry": {"type": "Polygon", "coordinates": [
        [[36.6, 49.3], [36.61, 49.31], [36.61, 49.3], [36.6, 49.31], [36.6, 49.3]]]}}
    check(http.post("/api/v1/admin-areas", headers=as_(site, "admin"), json=bad), 422)
    renamed = http.patch(made.headers["Location"], json={"name": "Renamed village"},
                         headers=as_(site, "admin", **{"If-Match": made.headers["ETag"]}))
    assert check(renamed, 200, GEOJSON, AdminAreaPublic)["properties"]["name"] == \
        "Renamed village"


def test_two_concurrent_updates_one_wins(site: Site, http: httpx.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    made = http.post("/api/v1/donors", headers=as_(site, "coordinator"),
                     json={"name": f"Race donor {uuid4().hex[:6]}"})
    url = check(made, 201, JSON) and made.headers["Location"]
    headers = as_(site, "coordinator", **{"If-Match": made.headers["ETag"]})

    def change(iso: str) -> int:
        with site.client() as client:
            return client.patch(url, headers=headers, json={"country_iso": iso}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(change, ["FR", "DE"]))
    assert codes == [200, 412]
    assert site.scalar("SELECT version FROM donor WHERE id = %s", (url.rsplit("/", 1)[1],)) == 2


# --- the use cases without HTTP (the command line's path) ----------------------------------

def test_use_cases_work_for_the_command_line(conn: psycopg.Connection, programme: Any,
                                             organisation: Any) -> None:
    from survey.accounts import cli_principal
    from survey.errors import InUse, InvalidInput, StaleVersion
    from survey.records import reference

    cli = cli_principal("tester")
    with pytest.raises(InvalidInput, match="programme_id"):
        reference.create_record(conn, principal=cli, resource=reference.DONORS,
                                fields={"name": "No programme"})
    donor = reference.create_record(conn, principal=cli, resource=reference.DONORS, fields={
        "name": "Government of Japan", "programme_id": programme.id})
    team = reference.create_record(conn, principal=cli, resource=reference.TEAMS, fields={
        "programme_id": programme.id, "organisation_id": organisation.id, "name": "T1",
        "capabilities": ["MDD"]})
    changed = reference.update_record(conn, principal=cli, resource=reference.DONORS,
                                      record_id=donor["id"], changes={"country_iso": "JP"},
                                      expected_version=1)
    assert changed["country_iso"] == "JP" and changed["version"] == 2
    with pytest.raises(StaleVersion):
        reference.update_record(conn, principal=cli, resource=reference.DONORS,
                                record_id=donor["id"], changes={"country_iso": "FR"},
                                expected_version=1)
    with pytest.raises(InUse):
        reference.delete_record(conn, principal=cli, resource=reference.ORGANISATIONS,
                                record_id=organisation.id)
    reference.delete_record(conn, principal=cli, resource=reference.TEAMS,
                            record_id=team["id"])
    actions = conn.execute("SELECT entity, action FROM audit_log WHERE actor = 'cli:tester' "
                           "ORDER BY id").fetchall()
    assert actions == [("donor", "create"), ("team", "create"), ("donor", "update"),
                       ("team", "delete")]


def test_a_coordinator_of_another_programme_sees_none_of_this_one(site: Site,
                                                                   http: httpx.Client) -> None:
    from shapely.geometry import box as square

    from survey.demo import DEMO_PASSWORD
    from survey.domain.models import Organisation

    with db.connect(site.url) as conn, conn.transaction():
        other = repo.insert(conn, Programme(code="MD", country_iso="MD", name="Moldova (test)",
                                            extent=square(26.6, 45.4, 30.2, 48.5)),
                            actor="test")
        theirs = repo.insert(conn, Organisation(programme_id=other.id, name="MD operator",
                                                kind="ngo"), actor="test")
        repo.insert(conn, AppUser(programme_id=other.id, username="coordinator.md",
                                  full_name="Moldova coordinator", role=Role.COORDINATOR,
                                  password_hash=hash_password(DEMO_PASSWORD)), actor="test")
    token = http.post("/api/v1/auth/token", data={"username": "coordinator.md",
                                                   "password": DEMO_PASSWORD}).json()
    md = {"Authorization": f"Bearer {token['access_token']}"}
    listed = check(http.get("/api/v1/organisations", headers=md), 200, JSON,
                   OrganisationsPublic)
    assert [o["id"] for o in listed["items"]] == [str(theirs.id)]
    halo = f"/api/v1/organisations/{site.ids['halo']}"
    check(http.get(halo, headers=md), 404)
    check(http.patch(halo, headers={**md, "If-Match": '"1"'}, json={"acronym": "X"}), 404)
    check(http.post("/api/v1/organisations", headers=md, json={
        "programme_id": str(site.ids["programme"]), "name": "Intruder", "kind": "ngo"}), 403)
    for path, media in (("device-finds", GEOJSON), ("evidence-points", GEOJSON),
                        ("accidents", GEOJSON), ("projects", JSON)):
        body = check(http.get(f"/api/v1/{path}", headers=md), 200, media)
        assert not body.get("items", body.get("features")), path
    check(http.get(halo, headers=as_(site, "admin")), 200, JSON, OrganisationPublic)


# they add areas and tasks to the shared demo and delete some: run after its readers
pytestmark = pytest.mark.writes_live_server
