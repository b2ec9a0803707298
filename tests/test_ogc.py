"""OGC API Features at /ogc over real HTTP, on the small demo programme: every endpoint,
the filters (bbox, datetime, properties, CQL2), paging across page boundaries, the
roles, and GDAL's OAPIF driver reading every collection and agreeing with the store."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jsonschema_rs
import psycopg
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from survey.auth import Principal, hash_password
from survey.demo import DEMO_PASSWORD
from survey.domain.vocab import Role
from survey.errors import InvalidQuery
from survey.ogc import catalogue, features
from survey.ogc.query import ItemQuery, parse_item_query
from tests.conftest import make_hazard, sign_in

COLLECTIONS = ("hazard-areas", "releases", "remaining-ground", "device-finds", "tasks",
               "evidence-points", "marker-points")
GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

# --- the shapes of the OGC API Features 1.0 documents (core schemas, trimmed) ---

LINK = {"type": "object", "required": ["href", "rel"],
        "properties": {"href": {"type": "string", "format": "uri"},
                       "rel": {"type": "string"}, "type": {"type": "string"},
                       "title": {"type": "string"}}}
LINKS = {"type": "array", "items": LINK}
LANDING = {"type": "object", "required": ["links"],
           "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                          "links": LINKS}}
CONFORMANCE = {"type": "object", "required": ["conformsTo"],
               "properties": {"conformsTo": {"type": "array",
                                             "items": {"type": "string"}}}}
EXTENT = {"type": "object", "properties": {
    "spatial": {"type": "object", "properties": {
        "bbox": {"type": "array", "minItems": 1, "items": {
            "type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
        "crs": {"type": "string", "enum": [CRS84]}}},
    "temporal": {"type": "object", "properties": {
        "interval": {"type": "array", "minItems": 1, "items": {
            "type": "array", "minItems": 2, "maxItems": 2,
            "items": {"type": ["string", "null"], "format": "date-time"}}},
        "trs": {"type": "string"}}}}}
COLLECTION = {"type": "object", "required": ["id", "links"],
              "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                             "description": {"type": "string"}, "links": LINKS,
                             "extent": EXTENT, "itemType": {"const": "feature"},
                             "crs": {"type": "array", "items": {"type": "string"}}}}
COLLECTIONS_DOC = {"type": "object", "required": ["links", "collections"],
                   "properties": {"links": LINKS,
                                  "collections": {"type": "array", "items": COLLECTION}}}
GEOMETRY = {"oneOf": [{"type": "null"}, {
    "type": "object", "required": ["type", "coordinates"],
    "properties": {"type": {"enum": ["Point", "MultiPolygon", "Polygon"]},
                   "coordinates": {"type": "array"}}}]}
FEATURE = {"type": "object", "required": ["type", "geometry", "properties", "id"],
           "properties": {"type": {"const": "Feature"}, "geometry": GEOMETRY,
                          "properties": {"type": ["object", "null"]},
                          "id": {"type": ["string", "integer"]}, "links": LINKS}}
FEATURE_COLLECTION = {
    "type": "object", "required": ["type", "features"],
    "properties": {"type": {"const": "FeatureCollection"},
                   "features": {"type": "array", "items": FEATURE}, "links": LINKS,
                   "timeStamp": {"type": "string", "format": "date-time"},
                   "numberMatched": {"type": "integer", "minimum": 0},
                   "numberReturned": {"type": "integer", "minimum": 0}}}


def valid(schema: dict[str, Any], body: Any) -> Any:
    jsonschema_rs.validate(schema, body)
    return body


def rel(body: dict[str, Any], name: str, media: str | None = None) -> str:
    found = [link["href"] for link in body["links"]
             if link["rel"] == name and (media is None or link.get("type") == media)]
    assert len(found) == 1, (name, body["links"])
    return str(found[0])


def store(api_database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(api_database_url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def all_items(http: httpx.Client, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every feature, following next links from `url`."""
    out: list[dict[str, Any]] = []
    seen = 0
    next_url: str | None = url
    while next_url is not None:
        response = http.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        page = valid(FEATURE_COLLECTION, response.json())
        assert page["numberReturned"] == len(page["features"])
        out += page["features"]
        seen += 1
        assert seen < 500
        nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
        next_url = nexts[0] if nexts else None
    return out


def ids(found: list[dict[str, Any]]) -> set[str]:
    return {str(f["id"]) for f in found}


@pytest.fixture(scope="module")
def donor(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "donor.eu")


@pytest.fixture(scope="module")
def public(http: httpx.Client, api_database_url: str) -> Iterator[dict[str, str]]:
    """A public viewer of the demo programme (made here, removed after)."""
    username = f"public.ogc.{uuid4().hex[:6]}"
    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT id, %s, 'Public viewer', 'public', %s "
                     "FROM programme LIMIT 1", (username, hash_password(DEMO_PASSWORD)))
    yield sign_in(http, username)
    with psycopg.connect(api_database_url) as conn:
        conn.execute("DELETE FROM api_token WHERE user_id IN "
                     "(SELECT id FROM app_user WHERE username = %s)", (username,))
        conn.execute("DELETE FROM audit_log WHERE actor = %s", (username,))
        conn.execute("DELETE FROM app_user WHERE username = %s", (username,))


@pytest.fixture(scope="module")
def token(coordinator: dict[str, str]) -> str:
    return coordinator["Authorization"].removeprefix("Bearer ")


# --- landing page, conformance, API definition ---

def test_landing_page_links_the_api_conformance_and_data(http: httpx.Client,
                                                         coordinator: dict[str, str]) -> None:
    response = http.get("/ogc", headers=coordinator)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    landing = valid(LANDING, response.json())
    api = http.get(rel(landing, "service-desc"), headers=coordinator)
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    definition = api.json()
    assert definition["openapi"] == "3.0.3"
    # one items path per collection, listing its properties (GDAL filters on those)
    items = definition["paths"]["/collections/hazard-areas/items"]["get"]["parameters"]
    assert {"name": "classification", "in": "query"}.items() <= next(
        p for p in items if p.get("name") == "classification").items()
    assert definition["components"]["parameters"]["filter-lang"]["schema"]["enum"] == [
        "cql2-text", "cql-text"]
    conformance = valid(CONFORMANCE, http.get(rel(landing, "conformance"),
                                              headers=coordinator).json())
    for part in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                 "ogcapi-features-1/1.0/conf/html", "ogcapi-features-1/1.0/conf/oas30",
                 "ogcapi-features-3/1.0/conf/filter", "cql2/1.0/conf/cql2-text",
                 "cql2/1.0/conf/basic-cql2"):
        assert f"http://www.opengis.net/spec/{part}" in conformance["conformsTo"]
    assert rel(landing, "data").endswith("/ogc/collections")
    assert http.get("/docs").status_code == 200
    assert "/ogc/collections/{collection_id}/items" in http.get("/openapi.json").json()["paths"]


def test_every_route_needs_a_token(http: httpx.Client) -> None:
    for path in ("/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections",
                 "/ogc/collections/releases", "/ogc/collections/releases/queryables",
                 "/ogc/collections/releases/items"):
        response = http.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"


def test_token_parameter_reads_ogc_only_and_links_keep_it(http: httpx.Client,
                                                          token: str) -> None:
    landing = http.get("/ogc", params={"token": token})
    assert landing.status_code == 200
    assert all(f"token={token}" in link["href"] for link in landing.json()["links"]
               if "/ogc" in link["href"])
    page = http.get("/ogc/collections/releases/items", params={"token": token, "limit": 3})
    assert page.status_code == 200
    nxt = rel(page.json(), "next")
    assert f"token={token}" in nxt and "offset=3" in nxt
    assert http.get(nxt).status_code == 200  # the link alone is enough
    # elsewhere a token in the URL is not read (it would end up in logs and histories)
    assert http.get("/api/v1/hazard-areas", params={"token": token}).status_code == 401
    # nor for anything but reading
    assert http.post("/ogc/collections", params={"token": token}).status_code in (401, 405)


# --- collections ---

def test_collections_have_extents_from_the_data(http: httpx.Client, api_database_url: str,
                                                coordinator: dict[str, str]) -> None:
    response = http.get("/ogc/collections", headers=coordinator)
    assert response.status_code == 200
    body = valid(COLLECTIONS_DOC, response.json())
    found = {c["id"]: c for c in body["collections"]}
    assert tuple(found) == COLLECTIONS
    boxes = dict(store(api_database_url, """
        SELECT 'hazard-areas', ST_Extent(geom)::text FROM hazard_area
        UNION ALL SELECT 'releases', ST_Extent(geom)::text FROM release
        UNION ALL SELECT 'remaining-ground', ST_Extent(geom)::text FROM remaining_piece
        UNION ALL SELECT 'device-finds', ST_Extent(geom)::text FROM device_find
        UNION ALL SELECT 'evidence-points', ST_Extent(geom)::text FROM evidence_point
        UNION ALL SELECT 'marker-points', ST_Extent(geom)::text FROM marker_point"""))
    for cid, box in boxes.items():
        numbers = [float(v) for v in box.removeprefix("BOX(").removesuffix(")")
                   .replace(",", " ").split()]
        assert found[cid]["extent"]["spatial"]["bbox"][0] == pytest.approx(numbers), cid
        assert found[cid]["itemType"] == "feature" and found[cid]["crs"] == [CRS84]
        assert rel(found[cid], "items", GEOJSON).endswith(f"/ogc/collections/{cid}/items")
    first, last = store(api_database_url,
                        "SELECT min(release_date), max(release_date) FROM release")[0]
    assert found["releases"]["extent"]["temporal"]["interval"] == [
        [f"{first}T00:00:00Z", f"{last}T23:59:59Z"]]
    assert "temporal" not in found["marker-points"]["extent"]
    one = http.get("/ogc/collections/tasks", headers=coordinator)
    assert valid(COLLECTION, one.json())["id"] == "tasks"
    missing = http.get("/ogc/collections/minefields", headers=coordinator)
    assert missing.status_code == 404 and "hazard-areas" in missing.json()["detail"]


def test_queryables_are_a_json_schema(http: httpx.Client, coordinator: dict[str, str]) -> None:
    for cid in COLLECTIONS:
        response = http.get(f"/ogc/collections/{cid}/queryables", headers=coordinator)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/schema+json"
        schema = response.json()
        assert jsonschema_rs.meta.is_valid(schema)
        assert schema["type"] == "object" and schema["properties"]
    hazards = http.get("/ogc/collections/hazard-areas/queryables", headers=coordinator).json()
    assert hazards["properties"]["classification"]["enum"] == ["SHA", "CHA"]
    assert hazards["properties"]["date_of_information"] == {
        "title": "Date of information", "type": "string", "format": "date"}
    assert hazards["properties"]["contamination"]["type"] == "array"
    # a feature's properties are valid against its collection's queryables
    feature = http.get("/ogc/collections/hazard-areas/items", params={"limit": 1},
                       headers=coordinator).json()["features"][0]
    def nullable(prop: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [prop, {"type": "null"}]}

    loose = hazards | {"properties": {k: nullable(v) for k, v in
                                      hazards["properties"].items()}}
    valid(loose, feature["properties"])


# --- items ---

def test_items_are_geojson_with_default_limit(http: httpx.Client, api_database_url: str,
                                              coordinator: dict[str, str]) -> None:
    response = http.get("/ogc/collections/marker-points/items", headers=coordinator)
    assert response.status_code == 200
    assert response.headers["content-type"] == GEOJSON
    page = valid(FEATURE_COLLECTION, response.json())
    total = store(api_database_url, "SELECT count(*) FROM marker_point")[0][0]
    assert total > 100
    assert page["numberReturned"] == len(page["features"]) == 100
    assert page["numberMatched"] == total
    assert page["timeStamp"].endswith("Z")
    assert "prev" not in {link["rel"] for link in page["links"]}
    assert rel(page, "next").count("offset=100") == 1


def test_paging_crosses_page_boundaries_without_gaps(http: httpx.Client,
                                                     api_database_url: str,
                                                     coordinator: dict[str, str]) -> None:
    expected = [str(r[0]) for r in store(api_database_url,
                                         "SELECT id FROM release ORDER BY id")]
    found = all_items(http, "/ogc/collections/releases/items?limit=37", coordinator)
    assert [f["id"] for f in found] == expected  # in order, none twice, none missing
    second = http.get("/ogc/collections/releases/items", params={"limit": 37, "offset": 37},
                      headers=coordinator).json()
    assert "offset=0" in rel(second, "prev")
    assert second["features"][0]["id"] == expected[37]
    beyond = http.get("/ogc/collections/releases/items",
                      params={"offset": len(expected) + 5}, headers=coordinator).json()
    assert beyond["numberReturned"] == 0 and beyond["numberMatched"] == len(expected)
    assert "next" not in {link["rel"] for link in beyond["links"]}


def test_bbox_selects_what_meets_the_box(http: httpx.Client, api_database_url: str,
                                         coordinator: dict[str, str]) -> None:
    minx, miny, maxx, maxy = store(api_database_url, """
        SELECT ST_XMin(e), ST_YMin(e), (ST_XMin(e) + ST_XMax(e)) / 2,
               (ST_YMin(e) + ST_YMax(e)) / 2
        FROM (SELECT ST_Extent(geom) e FROM hazard_area) x""")[0]
    box = f"{minx},{miny},{maxx},{maxy}"
    env = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
    cases = {
        "hazard-areas": f"SELECT id FROM hazard_area WHERE geom && {env}",
        "device-finds": f"SELECT id FROM device_find WHERE geom && {env}",
        "remaining-ground": "SELECT DISTINCT hazard_area_id FROM remaining_piece "
                            f"WHERE geom && {env}",
        "tasks": "SELECT DISTINCT th.task_id FROM task_hazard_area th JOIN hazard_area h "
                 f"ON h.id = th.hazard_area_id WHERE h.geom && {env}",
    }
    for cid, query in cases.items():
        expected = {str(r[0]) for r in store(api_database_url, query, minx, miny, maxx, maxy)}
        found = all_items(http, f"/ogc/collections/{cid}/items?bbox={box}&limit=50",
                          coordinator)
        assert ids(found) == expected and expected, cid
    for bad in ("1,2,3", "a,b,c,d", "38,49,37,50", "0,0,0,nan"):
        response = http.get("/ogc/collections/hazard-areas/items", params={"bbox": bad},
                            headers=coordinator)
        assert response.status_code == 400, bad
        assert response.headers["content-type"] == "application/problem+json"
    wrong_crs = http.get("/ogc/collections/hazard-areas/items",
                         params={"bbox": box, "bbox-crs": "EPSG:3857"}, headers=coordinator)
    assert wrong_crs.status_code == 400


def test_datetime_instants_intervals_and_open_ends(http: httpx.Client,
                                                   api_database_url: str,
                                                   coordinator: dict[str, str]) -> None:
    days = [r[0] for r in store(api_database_url,
                                "SELECT DISTINCT release_date FROM release ORDER BY 1")]
    middle: date = days[len(days) // 2]

    def released(where: str, *params: Any) -> set[str]:
        return {str(r[0]) for r in store(api_database_url,
                                         f"SELECT id FROM release WHERE {where}", *params)}

    cases = {
        middle.isoformat(): released("release_date = %s", middle),
        f"{middle}T12:00:00Z": released("release_date = %s", middle),
        f"{days[0]}/{middle}": released("release_date <= %s", middle),
        f"../{middle}": released("release_date <= %s", middle),
        f"{middle}/..": released("release_date >= %s", middle),
        f"{middle}/": released("release_date >= %s", middle),
    }
    for value, expected in cases.items():
        found = all_items(http, "/ogc/collections/releases/items?limit=500&datetime="
                          + value, coordinator)
        assert ids(found) == expected and expected, value
    # a task's planned period meets the interval
    tasks = {str(r[0]) for r in store(api_database_url,
                                      "SELECT id FROM task WHERE planned_start <= %s AND "
                                      "planned_end >= %s", middle, middle)}
    found = all_items(http, f"/ogc/collections/tasks/items?limit=500&datetime={middle}",
                      coordinator)
    assert ids(found) == tasks and tasks
    for bad in ("yesterday", "../..", "2025-06-01/2025-01-01", "2025-06-01T10:00:00"):
        response = http.get("/ogc/collections/releases/items", params={"datetime": bad},
                            headers=coordinator)
        assert response.status_code == 400, bad
    undated = http.get("/ogc/collections/marker-points/items",
                       params={"datetime": "2025-01-01"}, headers=coordinator)
    assert undated.status_code == 400 and "dates" in undated.json()["detail"]


CQL_CASES = {
    "classification = 'CHA'": "classification = 'CHA'",
    "classification = 'CHA' AND priority <= 2": "classification = 'CHA' AND priority <= 2",
    "status IN ('open', 'closed') OR NOT (priority > 1)":
        "status IN ('open', 'closed') OR NOT (priority > 1)",
    "status NOT IN ('open')": "status NOT IN ('open')",
    "local_id LIKE '%1_'": "local_id LIKE '%%1_'",
    "local_id NOT LIKE '%1%'": "local_id NOT LIKE '%%1%%'",
    "land_use IS NULL": "land_use IS NULL",
    "land_use IS NOT NULL AND area_m2 > 25000.5": "land_use IS NOT NULL AND area_m2 > 25000.5",
    "date_of_information >= DATE('2025-01-01')": "date_of_information >= '2025-01-01'",
    "date_of_information < TIMESTAMP('2024-06-01T00:00:00Z')":
        "date_of_information < '2024-06-01'",
    "2 >= priority": "priority <= 2",
    "\"classification\" <> 'SHA' AND TRUE": "classification <> 'SHA'",
    # what GDAL 3.6 writes for a date
    "(date_of_information > '2024-01-01T')": "date_of_information > '2024-01-01'",
}


def test_cql2_text_filters(http: httpx.Client, api_database_url: str,
                           coordinator: dict[str, str]) -> None:
    for text, where in CQL_CASES.items():
        expected = {str(r[0]) for r in store(api_database_url,
                                             f"SELECT id FROM hazard_area WHERE {where}")}
        response = http.get("/ogc/collections/hazard-areas/items",
                            params={"filter": text, "filter-lang": "cql2-text",
                                    "limit": 1000}, headers=coordinator)
        assert response.status_code == 200, (text, response.text)
        page = response.json()
        assert ids(page["features"]) == expected, text
        assert page["numberMatched"] == len(expected)
    booleans = http.get("/ogc/collections/releases/items",
                        params={"filter": "technical_asset = TRUE AND product = 'cleared'",
                                "limit": 2000}, headers=coordinator).json()
    assert ids(booleans["features"]) == {str(r[0]) for r in store(
        api_database_url, "SELECT id FROM release WHERE technical_asset AND "
                          "product = 'cleared'")}


@pytest.mark.parametrize("text", [
    "priority BETWEEN 1 AND 2",            # advanced comparison: not served
    "S_INTERSECTS(geom, POINT(37 49))",    # spatial
    "CASEI(name) = 'x'",
    "classification = 'CHA' AND",          # syntax
    "classification == 'CHA'",
    "nonsense = 1",                        # not a queryable
    "priority = 'high'",                   # wrong type
    "classification = 3",
    "reporting_organisation_id = 'not-a-uuid'",
    "contamination = 'AP_MINE'",           # a list
    "priority LIKE '1%'",                  # LIKE on a number
    "classification = classification",
    "'CHA' = 'CHA'",
    "classification = 'CHA'; DROP TABLE hazard_area",
    "(" * 60 + "priority = 1" + ")" * 60,
])
def test_cql2_refusals_are_400(http: httpx.Client, coordinator: dict[str, str],
                               text: str) -> None:
    response = http.get("/ogc/collections/hazard-areas/items", params={"filter": text},
                        headers=coordinator)
    assert response.status_code == 400, (text, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("filter")


def test_property_filters_and_parameter_refusals(http: httpx.Client, api_database_url: str,
                                                 coordinator: dict[str, str]) -> None:
    def hazard_ids(params: dict[str, Any]) -> set[str]:
        return ids(all_items(http, "/ogc/collections/hazard-areas/items?"
                             + str(httpx.QueryParams(params | {"limit": 500})), coordinator))

    assert hazard_ids({"classification": "SHA"}) == {
        str(r[0]) for r in store(api_database_url,
                                 "SELECT id FROM hazard_area WHERE classification = 'SHA'")}
    assert hazard_ids({"contamination": "AP_MINE", "status": "open"}) == {
        str(r[0]) for r in store(api_database_url, "SELECT id FROM hazard_area WHERE "
                                 "'AP_MINE' = ANY(contamination) AND status = 'open'")}
    for params in ({"limit": 0}, {"limit": "ten"}, {"offset": -1}, {"bboxx": "1,2,3,4"},
                   {"classification": "MAYBE"}, {"priority": "high"}, {"f": "xml"},
                   {"filter-lang": "cql2-json", "filter": "priority = 1"}):
        response = http.get("/ogc/collections/hazard-areas/items", params=params,
                            headers=coordinator)
        assert response.status_code == 400, params
    clamped = http.get("/ogc/collections/marker-points/items", params={"limit": 50_000},
                       headers=coordinator).json()
    assert clamped["numberReturned"] == clamped["numberMatched"] <= 10_000


def test_one_item(http: httpx.Client, api_database_url: str,
                  coordinator: dict[str, str]) -> None:
    fid, local_id = store(api_database_url,
                          "SELECT id, local_id FROM hazard_area ORDER BY local_id LIMIT 1")[0]
    response = http.get(f"/ogc/collections/hazard-areas/items/{fid}", headers=coordinator)
    assert response.status_code == 200 and response.headers["content-type"] == GEOJSON
    feature = valid(FEATURE, response.json())
    assert feature["id"] == str(fid) and feature["properties"]["local_id"] == local_id
    assert rel(feature, "collection").endswith("/ogc/collections/hazard-areas")
    for missing in (str(uuid4()), "not-an-id"):
        response = http.get(f"/ogc/collections/hazard-areas/items/{missing}",
                            headers=coordinator)
        assert response.status_code == 404


def test_html_pages(http: httpx.Client, coordinator: dict[str, str]) -> None:
    browser = coordinator | {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ("/ogc", "/ogc/conformance", "/ogc/collections",
                 "/ogc/collections/hazard-areas", "/ogc/collections/hazard-areas/queryables",
                 "/ogc/collections/hazard-areas/items"):
        response = http.get(path, headers=browser)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>" in response.text and "cdn" not in response.text.lower()
    page = http.get("/ogc/collections/releases/items", params={"f": "html", "limit": 5},
                    headers=coordinator)
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<tr>") == 6 and "next page" in page.text
    first = http.get("/ogc/collections/releases/items", params={"limit": 1},
                     headers=coordinator).json()["features"][0]["id"]
    one = http.get(f"/ogc/collections/releases/items/{first}", params={"f": "html"},
                   headers=coordinator)
    assert one.status_code == 200 and "product" in one.text
    # JSON stays the default for clients that name no preference
    assert http.get("/ogc", headers=coordinator | {"Accept": "*/*"}).headers[
        "content-type"] == "application/json"


# --- roles ---

def test_a_donor_sees_its_projects_only(http: httpx.Client, api_database_url: str,
                                        coordinator: dict[str, str],
                                        donor: dict[str, str]) -> None:
    donor_id = store(api_database_url,
                     "SELECT donor_id FROM app_user WHERE username = 'donor.eu'")[0][0]
    funded = """EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id
                JOIN project p ON p.id = t.project_id
                WHERE th.hazard_area_id = {}.id AND p.donor_id = %s)"""
    expected = {
        "hazard-areas": f"SELECT h.id FROM hazard_area h WHERE {funded.format('h')}",
        "releases": "SELECT r.id FROM release r JOIN activity_report ar ON ar.id = "
                    "r.activity_report_id JOIN task t ON t.id = ar.task_id JOIN project p "
                    "ON p.id = t.project_id WHERE p.donor_id = %s",
        "tasks": "SELECT t.id FROM task t JOIN project p ON p.id = t.project_id "
                 "WHERE p.donor_id = %s",
        "device-finds": "SELECT d.id FROM device_find d JOIN activity_report ar ON ar.id = "
                        "d.activity_report_id JOIN task t ON t.id = ar.task_id "
                        "JOIN project p ON p.id = t.project_id WHERE p.donor_id = %s",
        "evidence-points": "SELECT e.id FROM evidence_point e JOIN hazard_area h ON "
                           f"h.id = e.hazard_area_id WHERE {funded.format('h')}",
    }
    for cid, query in expected.items():
        seen = ids(all_items(http, f"/ogc/collections/{cid}/items?limit=1000", donor))
        everything = ids(all_items(http, f"/ogc/collections/{cid}/items?limit=1000",
                                   coordinator))
        assert seen == {str(r[0]) for r in store(api_database_url, query, donor_id)}, cid
        assert seen and seen < everything, cid
    other = store(api_database_url, f"SELECT h.id FROM hazard_area h WHERE NOT "
                                    f"{funded.format('h')} LIMIT 1", donor_id)[0][0]
    assert http.get(f"/ogc/collections/hazard-areas/items/{other}",
                    headers=donor).status_code == 404


def test_the_public_sees_released_land_only(http: httpx.Client, api_database_url: str,
                                            public: dict[str, str]) -> None:
    listed = http.get("/ogc/collections", headers=public).json()
    assert [c["id"] for c in listed["collections"]] == ["releases"]
    for cid in COLLECTIONS[:1] + COLLECTIONS[2:]:
        for path in (f"/ogc/collections/{cid}/items", f"/ogc/collections/{cid}/queryables"):
            response = http.get(path, headers=public)
            assert response.status_code == 403, path
    released = all_items(http, "/ogc/collections/releases/items?limit=1000", public)
    assert len(released) == store(api_database_url, "SELECT count(*) FROM release")[0][0]


# --- numberMatched: estimated on large results ---

def test_number_matched_is_the_planners_estimate_above_the_threshold(
        conn: psycopg.Connection, programme: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shapely.geometry import box

    for i in range(40):
        x = 37.0 + i * 0.01
        make_hazard(conn, programme, box(x, 49.0, x + 0.005, 49.005),
                    local_id=f"UA-OGC-{i:04d}")
    conn.execute("ANALYZE hazard_area")
    admin = Principal(uuid4(), "admin", Role.ADMIN, None, None, None)
    hazards = catalogue.collection("hazard-areas")
    exact = features.items(conn, collection=hazards, principal=admin,
                           query=ItemQuery(limit=10))
    assert (exact.matched, exact.exact, exact.returned) == (40, True, 10)
    monkeypatch.setattr(features, "EXACT_COUNT_BELOW", 5)
    estimated = features.items(conn, collection=hazards, principal=admin,
                               query=ItemQuery(limit=10))
    plan = conn.execute("EXPLAIN (FORMAT JSON) SELECT 1 FROM hazard_area h").fetchone()
    assert plan is not None
    assert not estimated.exact
    assert estimated.matched == max(plan[0][0]["Plan"]["Plan Rows"], 10)
    # the last page needs no count at all: what it holds is all there is
    last = features.items(conn, collection=hazards, principal=admin,
                          query=ItemQuery(limit=10, offset=35))
    assert (last.matched, last.exact, last.returned) == (40, True, 5)


# --- GDAL's OAPIF driver ---

def _gdal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


EXPECTED_GEOMETRY = {
    "hazard-areas": "SELECT id, ST_AsBinary(geom) FROM hazard_area",
    "releases": "SELECT id, ST_AsBinary(geom) FROM release",
    "remaining-ground": "SELECT hazard_area_id, ST_AsBinary(ST_Union(geom)) "
                        "FROM remaining_piece GROUP BY hazard_area_id",
    "device-finds": "SELECT id, ST_AsBinary(geom) FROM device_find",
    "tasks": "SELECT th.task_id, ST_AsBinary(ST_Union(h.geom)) FROM task_hazard_area th "
             "JOIN hazard_area h ON h.id = th.hazard_area_id GROUP BY th.task_id "
             "UNION ALL SELECT t.id, NULL FROM task t WHERE NOT EXISTS "
             "(SELECT 1 FROM task_hazard_area th WHERE th.task_id = t.id)",
    "evidence-points": "SELECT id, ST_AsBinary(geom) FROM evidence_point",
    "marker-points": "SELECT id, ST_AsBinary(geom) FROM marker_point",
}


@pytest.fixture(scope="module")
def gdal() -> None:
    if shutil.which("ogrinfo") is None or shutil.which("ogr2ogr") is None:
        pytest.fail("GDAL is not installed: apt-get install gdal-bin")


def test_gdal_lists_every_collection(gdal: None, live_server: str,
                                     api_database_url: str, token: str) -> None:
    result = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc",
                   "--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}")
    assert result.returncode == 0, result.stderr
    for i, cid in enumerate(COLLECTIONS, start=1):
        assert f"{i}: {cid} " in result.stdout, result.stdout
    summary = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc?token={token}",
                    "hazard-areas")
    assert summary.returncode == 0, summary.stderr
    count = store(api_database_url, "SELECT count(*) FROM hazard_area")[0][0]
    assert f"Feature Count: {count}\n" in summary.stdout
    assert "classification: String" in summary.stdout
    assert "date_of_information: Date" in summary.stdout


def test_gdal_reads_every_collection_as_stored(gdal: None, live_server: str,
                                               api_database_url: str, token: str,
                                               tmp_path: Path) -> None:
    for cid in COLLECTIONS:
        out = tmp_path / f"{cid}.json"
        # a small page size, so that the driver follows next links across pages
        result = _gdal("ogr2ogr", "-f", "GeoJSON", str(out),
                       f"OAPIF:{live_server}/ogc?token={token}", cid, "-oo", "PAGE_SIZE=97")
        assert result.returncode == 0, (cid, result.stderr)
        read = {f["properties"]["id"]: f["geometry"]
                for f in json.loads(out.read_text())["features"]}
        stored = {str(k): (shapely.from_wkb(g) if g is not None else None)
                  for k, g in store(api_database_url, EXPECTED_GEOMETRY[cid])}
        assert read.keys() == stored.keys(), cid
        for key, geometry in stored.items():
            if geometry is None:
                assert read[key] is None
                continue
            got = shape(read[key])
            # coordinates travel with 8 decimals (about 1 mm)
            assert got.geom_type.removeprefix("Multi") == geometry.geom_type.removeprefix(
                "Multi"), (cid, key)
            # no point of either lies further than 1e-7 degree (1 cm) from the other
            assert got.hausdorff_distance(geometry) < 1e-7, (cid, key)
            assert shapely.get_num_geometries(got) == shapely.get_num_geometries(geometry)


def test_gdal_sends_where_clauses_to_the_server(gdal: None, live_server: str,
                                                api_database_url: str, token: str) -> None:
    where = "classification = 'CHA' AND priority <= 2 AND date_of_information > '2024-01-01'"
    result = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc?token={token}",
                   "hazard-areas", "-where", where, "--debug", "on")
    assert result.returncode == 0, result.stderr
    assert "filter-lang=cql-text" in result.stderr  # filtered on the server
    count = store(api_database_url, f"SELECT count(*) FROM hazard_area WHERE {where}")[0][0]
    assert f"Feature Count: {count}\n" in result.stdout
    bbox = _gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc?token={token}",
                 "device-finds", "-spat", "37.0", "49.0", "37.3", "49.2")
    expected = store(api_database_url, "SELECT count(*) FROM device_find WHERE geom && "
                     "ST_MakeEnvelope(37.0, 49.0, 37.3, 49.2, 4326)")[0][0]
    assert f"Feature Count: {expected}\n" in bbox.stdout


# --- the CQL2 parser and compiler never fail other than with a 400 ---

_NAMES = st.sampled_from(["classification", "priority", "area_m2", "local_id", "status",
                          "date_of_information", "land_use", "reporting_organisation_id",
                          "contamination", "\"status\"", "nope", "DATE", "S_INTERSECTS"])
_VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False).map(repr),
    st.text(max_size=8).map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.sampled_from(["TRUE", "FALSE", "DATE('2025-02-30')", "DATE('2025-01-01')",
                     "TIMESTAMP('2025-01-01T00:00:00Z')", "'2024-01-01T'", "'CHA'",
                     "'abc\\'", "'%'", "'00000000-0000-4000-8000-000000000001'"]))
_PREDICATES = st.one_of(
    st.tuples(_NAMES, st.sampled_from(["=", "<>", "<", ">", "<=", ">=", "!=", "=="]),
              _VALUES).map(" ".join),
    st.tuples(_NAMES, st.sampled_from(["LIKE", "NOT LIKE"]), _VALUES).map(" ".join),
    st.tuples(_NAMES, st.sampled_from(["IN", "NOT IN"]),
              st.lists(_VALUES, min_size=1, max_size=3).map(
                  lambda v: "(" + ", ".join(v) + ")")).map(" ".join),
    st.tuples(_NAMES, st.sampled_from(["IS NULL", "IS NOT NULL", "BETWEEN 1 AND 2"])
              ).map(" ".join),
)
_FILTERS = st.recursive(_PREDICATES, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from([" AND ", " OR ", " and "]), inner).map("".join),
    inner.map(lambda e: f"NOT ({e})"), inner.map(lambda e: f"({e})")), max_leaves=6)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_FILTERS, st.text(max_size=40)))
def test_any_filter_is_read_or_refused_with_400(conn: psycopg.Connection, text: str) -> None:
    admin = Principal(uuid4(), "admin", Role.ADMIN, None, None, None)
    hazards = catalogue.collection("hazard-areas")
    try:
        query = parse_item_query(hazards, [("filter", text), ("limit", "5")])
        with conn.transaction():  # a savepoint: a database refusal would fail the test
            features.items(conn, collection=hazards, principal=admin, query=query)
    except InvalidQuery:
        pass
