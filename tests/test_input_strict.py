"""Strict input (issue 6): GeoJSON by RFC 7946, numbers that are numbers, text that
PostgreSQL can hold, bounded paging, bounded geometry sizes and plausible dates. Every
refusal is a 422 problem+json over real HTTP, and nothing is booked."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import hypothesis
import psycopg
import pytest
from hypothesis import strategies as st
from psycopg import sql
from shapely.geometry import Point, Polygon, box, mapping

from api.settings import ApiSettings
from survey.domain.models import Programme
from survey.store import db, migrate
from tests.conftest import db_name, halo_site, sign_in

W, S, E, N = 37.55, 49.40, 37.554, 49.402  # ground of these tests, east of test_api_ledger's
PROBLEM = "application/problem+json"


@pytest.fixture
def site(api_database_url: str) -> dict[str, Any]:
    hazard, report, n = halo_site(api_database_url, prefix="UA-INP-", ground=lambda n: box(
        W, S + 0.006 * n, E, N + 0.006 * n))
    return {"hazard": hazard, "report": report, "offset": 0.006 * n}


@pytest.fixture(scope="module")
def halo(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "operator.halo")


def release(site: dict[str, Any], geometry: Any = None, **extra: Any) -> dict[str, Any]:
    o = site["offset"]
    if geometry is None:
        geometry = mapping(box(W, S + o, W + 0.001, N + o))
    return {"activity_report_id": str(site["report"].id),
            "hazard_area_id": str(site["hazard"].id), "product": "cleared",
            "method": "MANUAL", "technical_asset": True, "depth_cm": 13,
            "release_date": "2025-03-01", "geometry": geometry} | extra


def post_raw(http: httpx.Client, path: str, body: Any, headers: dict[str, str]
             ) -> httpx.Response:
    """POST with Python's own JSON encoder: NaN and Infinity go out as JSON clients write
    them (httpx itself refuses to encode them)."""
    return http.post(path, content=json.dumps(body), headers=headers
                     | {"Content-Type": "application/json"})


def refused(response: httpx.Response, *fragments: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    for fragment in fragments:
        assert fragment in problem["detail"], problem["detail"]
    return problem


def releases_of(http: httpx.Client, site: dict[str, Any], headers: dict[str, str]) -> list[Any]:
    books = http.get(f"/api/v1/hazard-areas/{site['hazard'].id}/ledger", headers=headers)
    assert books.status_code == 200, books.text
    return list(books.json()["releases"])


def _ring(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def _deep(levels: int) -> Any:
    nested: Any = [[W, S], [E, S], [E, N], [W, S]]
    for _ in range(levels):
        nested = [nested]
    return nested


# --- 1. GeoJSON by RFC 7946, with the rule broken and where -------------------------------

def _bad_geometries(o: float) -> list[tuple[str, Any, str]]:
    s, n = S + o, N + o
    good = _ring(W, s, W + 0.001, n)
    return [
        ("unclosed ring", {"type": "MultiPolygon", "coordinates": [
            [good], [_ring(W + 0.002, s, W + 0.003, n)[:-1]]]},
         "ring 0 of polygon 1 is not closed: its first position (37.552, "),
        ("ring of 3 positions", {"type": "Polygon", "coordinates": [
            [[W, s], [E, s], [W, s]]]}, "ring 0 has 3 position(s); a ring needs at least 4"),
        ("Feature", {"type": "Feature", "properties": {},
                     "geometry": {"type": "Polygon", "coordinates": [good]}},
         "a Feature was sent where a geometry belongs"),
        ("booleans", {"type": "Polygon", "coordinates": [
            [[True, False], [E, s], [E, n], [True, False]]]},
         "position 0 of ring 0: the longitude is true, not a number"),
        ("3D", {"type": "Polygon", "coordinates": [[p + [120.0] for p in good]]},
         "position 0 of ring 0 has 3 numbers: heights (Z) are not kept"),
        ("Banana", {"type": "Banana"}, "unknown type 'Banana'"),
        ("no coordinates", {"type": "Polygon"}, 'the Polygon has no "coordinates" member'),
        ("a string", {"type": "Polygon", "coordinates": [[["37.55", s], [E, s], [E, n],
                                                          ["37.55", s]]]},
         "the longitude is the text '37.55', not a number"),
        ("900 deep", {"type": "Polygon", "coordinates": _deep(900)},
         "nested deeper than a Polygon has"),
        ("too shallow", {"type": "Polygon", "coordinates": good},
         "ring 0 must be an array of positions, but holds the number"),
        ("projected crs", {"type": "Polygon", "coordinates": [good],
                           "crs": {"type": "name", "properties": {"name": "EPSG:32637"}}},
         "coordinate reference system other than WGS84"),
        ("NaN", {"type": "Polygon", "coordinates": [[[math.nan, s]] + good[1:-1] + [[math.nan,
                                                                                   s]]]},
         "the longitude is the number nan, not a finite number"),
        ("Infinity", {"type": "Polygon", "coordinates": [[[W, math.inf]] + good[1:-1]
                                                         + [[W, math.inf]]]},
         "the latitude is the number inf, not a finite number"),
    ]


CASES = [name for name, _, _ in _bad_geometries(0)]


@pytest.mark.parametrize("case", CASES)
def test_invalid_geojson_is_422_and_nothing_is_booked(http: httpx.Client, site: dict[str, Any],
                                                      halo: dict[str, str], case: str) -> None:
    geometry, message = {name: (g, m) for name, g, m in _bad_geometries(site["offset"])}[case]
    started = time.perf_counter()
    response = post_raw(http, "/api/v1/releases", release(site, geometry), halo)
    problem = refused(response, message)
    assert problem["title"] == "Invalid geometry"
    assert time.perf_counter() - started < 5
    assert releases_of(http, site, halo) == []


def test_the_same_geometry_once_fixed_is_booked(http: httpx.Client, site: dict[str, Any],
                                                halo: dict[str, str]) -> None:
    o = site["offset"]
    ring = _ring(W, S + o, W + 0.001, N + o)
    booked = http.post("/api/v1/releases", headers=halo, json=release(
        site, {"type": "Polygon", "coordinates": [ring], "bbox": [W, S + o, W + 0.001, N + o],
               "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}}))
    assert booked.status_code == 201, booked.text


def test_a_boolean_is_not_a_number(http: httpx.Client, site: dict[str, Any],
                                   halo: dict[str, str]) -> None:
    depth = http.post("/api/v1/releases", json=release(site, depth_cm=True), headers=halo)
    assert depth.status_code == 422, depth.text
    assert "depth_cm" in depth.json()["detail"]
    asset = http.post("/api/v1/releases", json=release(site, technical_asset=1), headers=halo)
    assert asset.status_code == 422 and "technical_asset" in asset.json()["detail"]
    assert releases_of(http, site, halo) == []


def test_geometry_in_a_boundary_change_is_as_strict(http: httpx.Client, site: dict[str, Any],
                                                    halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    o = site["offset"]
    etag = http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"]
    open_ring = _ring(W, S + o, E + 0.001, N + o)[:-1]
    resurvey = http.post(f"/api/v1/hazard-areas/{hid}/resurvey", headers=halo
                         | {"If-Match": etag},
                         json={"geometry": {"type": "Polygon", "coordinates": [open_ring]},
                               "reason": "TS found the edge"})
    refused(resurvey, "ring 0 is not closed")
    split = http.post(f"/api/v1/hazard-areas/{hid}/split", headers=halo | {"If-Match": etag},
                      json={"geometry": {"type": "Banana"}, "reason": "rubble"})
    refused(split, "unknown type 'Banana'")
    assert http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"] == etag


# --- 2. text PostgreSQL cannot hold, and paging past bigint --------------------------------

def test_nul_and_control_characters_in_text_are_422(http: httpx.Client, site: dict[str, Any],
                                                    coordinator: dict[str, str],
                                                    halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    o = site["offset"]
    moved = http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                      json={"to": "worked_on", "reason": "task T-9\x00 started"})
    refused(moved, "reason", "U+0000")
    bell = http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                     json={"to": "worked_on", "reason": "task \x07 started"})
    refused(bell, "U+0007")
    etag = http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"]
    wider = mapping(box(W, S + o, E + 0.001, N + o))
    resurvey = http.post(f"/api/v1/hazard-areas/{hid}/resurvey",
                         headers=halo | {"If-Match": etag},
                         json={"geometry": wider, "reason": "TS found\x00 the edge"})
    refused(resurvey, "reason", "U+0000")
    split = http.post(f"/api/v1/hazard-areas/{hid}/split", headers=halo | {"If-Match": etag},
                      json={"geometry": mapping(box(37.553, S + o, E, N + o)),
                            "reason": "rubble", "local_id": "UA-X\x00"})
    refused(split, "local_id")
    too_long = http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                         json={"to": "worked_on", "reason": "x" * 2_001})
    refused(too_long, "at most 2000 characters")
    history = http.get(f"/api/v1/hazard-areas/{hid}/history", headers=coordinator).json()
    assert [e for e in history["events"] if e["action"] == "transition"] == []


def test_text_is_trimmed_and_keeps_tabs_and_line_breaks(http: httpx.Client,
                                                        site: dict[str, Any],
                                                        coordinator: dict[str, str]) -> None:
    hid = site["hazard"].id
    moved = http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                      json={"to": "worked_on", "reason": "  task T-9\tstarted\r\nteam 3  \n"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["reason"] == "task T-9\tstarted\nteam 3"


def test_paging_is_bounded(http: httpx.Client, coordinator: dict[str, str]) -> None:
    for params in ({"offset": "9223372036854775808"}, {"offset": "1000000001"},
                   {"limit": "9223372036854775808"}, {"limit": "10001"}, {"offset": "-1"},
                   {"bbox": "1," * 200}):
        response = http.get("/api/v1/hazard-areas", params=params, headers=coordinator)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == PROBLEM
    last = http.get("/api/v1/hazard-areas", params={"offset": "1000000000"},
                    headers=coordinator)
    assert last.status_code == 200 and last.json()["features"] == []


# --- 3. size limits ------------------------------------------------------------------------

def _circle(lon: float, lat: float, radius: float, vertices: int) -> list[list[float]]:
    ring = [[lon + radius * math.cos(2 * math.pi * i / (vertices - 1)),
             lat + radius * math.sin(2 * math.pi * i / (vertices - 1)) * 0.65]
            for i in range(vertices - 1)]
    return ring + [ring[0]]


def test_a_geometry_over_the_vertex_limit_is_422_at_once(http: httpx.Client,
                                                         site: dict[str, Any],
                                                         halo: dict[str, str]) -> None:
    centre = (W + 0.002, S + site["offset"] + 0.001)
    ring = _circle(*centre, 0.0009, 100_001)
    started = time.perf_counter()
    response = http.post("/api/v1/releases", headers=halo, json=release(
        site, {"type": "Polygon", "coordinates": [ring]}))
    elapsed = time.perf_counter() - started
    problem = refused(response, "100,001 vertices; at most 100,000 are accepted")
    assert (problem["vertices"], problem["max_vertices"]) == (100_001, 100_000)
    assert elapsed < 5
    assert releases_of(http, site, halo) == []


@pytest.fixture(scope="module")
def small_limits(api_database_url: str) -> Iterator[httpx.Client]:
    """A second server on the same database, with DEMINE_MAX_VERTICES=50 and
    DEMINE_MAX_PARTS=3."""
    from api.app import create_app
    from tests.conftest import serving

    settings = ApiSettings(database_url=api_database_url, pool_max_size=2, max_vertices=50,
                        max_parts=3)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base,
                                                             timeout=30) as client:
        yield client


def test_the_limits_are_settings(small_limits: httpx.Client, site: dict[str, Any]) -> None:
    halo = sign_in(small_limits, "operator.halo")
    centre = (W + 0.002, S + site["offset"] + 0.001)
    many = small_limits.post("/api/v1/releases", headers=halo, json=release(
        site, {"type": "Polygon", "coordinates": [_circle(*centre, 0.0005, 51)]}))
    problem = refused(many, "51 vertices; at most 50 are accepted")
    assert (problem["vertices"], problem["max_vertices"]) == (51, 50)
    holes = [_ring(centre[0] + 0.0001 * i, centre[1], centre[0] + 0.0001 * i + 0.00005,
                   centre[1] + 0.00005) for i in range(3)]
    holey = small_limits.post("/api/v1/releases", headers=halo, json=release(
        site, {"type": "Polygon", "coordinates": [_circle(*centre, 0.0009, 20), *holes]}))
    problem = refused(holey, "4 parts (rings or lines); at most 3 are accepted")
    assert (problem["parts"], problem["max_parts"]) == (4, 3)
    fits = small_limits.post("/api/v1/releases", headers=halo, json=release(site))
    assert fits.status_code == 201, fits.text


# --- 4. plausible dates --------------------------------------------------------------------

def test_release_dates_must_be_plausible(http: httpx.Client, site: dict[str, Any],
                                         halo: dict[str, str],
                                         coordinator: dict[str, str]) -> None:
    ancient = http.post("/api/v1/releases", json=release(site, release_date="0001-01-01"),
                        headers=halo)
    problem = refused(ancient, "the release date 0001-01-01 is before the programme's "
                      "records begin (1990-01-01)")
    assert problem["earliest"] == "1990-01-01"
    future = http.post("/api/v1/releases", json=release(site, release_date="9999-12-31"),
                       headers=halo)
    refused(future, "the release date 9999-12-31 is in the future")
    assert releases_of(http, site, halo) == []
    today = datetime.now(UTC).date()
    booked = http.post("/api/v1/releases", headers=halo,
                       json=release(site, release_date=today.isoformat()))
    assert booked.status_code == 201, booked.text
    # filters are not records: any dates may be asked for
    stats = http.get("/api/v1/stats", params={"date_from": "0001-01-01",
                                               "date_to": "9999-12-31", "period": "year"},
                     headers=coordinator)
    assert stats.status_code == 200, stats.text
    years = {p["period"][:4] for p in stats.json()["released"]["period"]}
    assert "0001" not in years and "9999" not in years


def test_effective_dates_must_be_plausible(http: httpx.Client, site: dict[str, Any],
                                           coordinator: dict[str, str],
                                           halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    o = site["offset"]
    tomorrow_but_one = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    moved = http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                      json={"to": "worked_on", "reason": "task T-9 started",
                            "effective_date": tomorrow_but_one})
    refused(moved, f"the effective date {tomorrow_but_one} is in the future")
    etag = http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"]
    wider = mapping(box(W, S + o, E + 0.001, N + o))
    resurvey = http.post(f"/api/v1/hazard-areas/{hid}/resurvey",
                         headers=halo | {"If-Match": etag},
                         json={"geometry": wider, "reason": "TS found the edge",
                               "effective_date": "1899-12-31"})
    refused(resurvey, "the effective date 1899-12-31 is before the programme's records")
    split = http.post(f"/api/v1/hazard-areas/{hid}/split", headers=halo | {"If-Match": etag},
                      json={"geometry": mapping(box(37.553, S + o, E, N + o)),
                            "reason": "rubble", "effective_date": "9999-12-31"})
    refused(split, "the effective date 9999-12-31 is in the future")
    assert http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"] == etag
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    slack = http.post(f"/api/v1/hazard-areas/{hid}/transitions", headers=coordinator,
                      json={"to": "worked_on", "reason": "task T-9 started (UTC+12)",
                            "effective_date": tomorrow})
    assert slack.status_code == 200, slack.text


def test_records_from_is_the_programme_s(conn: psycopg.Connection,
                                         programme: Programme) -> None:
    from survey.errors import InvalidInput
    from survey.ledger.dates import check_programme_date

    assert programme.records_from == date(1990, 1, 1)
    conn.execute("UPDATE programme SET records_from = '2020-01-01' WHERE id = %s",
                 (programme.id,))
    check_programme_date(conn, programme_id=programme.id, day=date(2020, 1, 1))
    with pytest.raises(InvalidInput, match=r"2019-12-31 is before .* \(2020-01-01\)"):
        check_programme_date(conn, programme_id=programme.id, day=date(2019, 12, 31),
                             what="release date")
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("UPDATE programme SET records_from = '1800-01-01' WHERE id = %s",
                     (programme.id,))


def test_migration_0006_applies_to_a_store_with_data(server_url: str) -> None:
    url = db.create_database(server_url, db_name("demine_test_input_0006"), drop_first=True)
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(migrate.CREATE_VERSIONS)
        for mig in migrate.available():
            if mig.version < 6:
                conn.execute(sql.SQL(mig.text))  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_migration (version, name, sha256) "
                             "VALUES (%s, %s, %s)", (mig.version, mig.name, mig.sha256))
        conn.execute("INSERT INTO programme (code, country_iso, name, extent) VALUES "
                     "('UA', 'UA', 'before 0006', "
                     "ST_Multi(ST_MakeEnvelope(22.1, 44.3, 40.3, 52.4, 4326)))")
    applied = migrate.upgrade(url)
    assert 6 in [mig.version for mig in applied]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT records_from FROM programme").fetchall() == [
            (date(1990, 1, 1),)]


def test_the_demo_dates_pass_the_rule() -> None:
    from survey import demo
    from survey.domain.dates import check_record_date

    data = demo.generate(3, hazard_areas=60)
    records_from = data.programme.records_from
    for rel in data.releases:
        check_record_date(rel.release_date, records_from=records_from, what="release date")
    for report in data.activity_reports:
        check_record_date(report.report_date, records_from=records_from, what="report date")


# --- the parser itself, for every caller (API, intake) -------------------------------------

def test_parser_refuses_before_reading_a_million_vertices() -> None:
    from survey.domain.geometry import parse_geojson
    from survey.errors import InvalidGeometry

    ring = _circle(W, S, 0.001, 1_000_000)
    started = time.perf_counter()
    with pytest.raises(InvalidGeometry, match="1,000,000 vertices") as caught:
        parse_geojson({"type": "Polygon", "coordinates": [ring]})
    assert time.perf_counter() - started < 0.5
    assert caught.value.detail == {"vertices": 1_000_000, "max_vertices": 100_000}


def test_parser_reads_every_rfc7946_type() -> None:
    from survey.domain.geometry import as_point, parse_geojson

    ring = _ring(W, S, E, N)
    assert parse_geojson({"type": "Point", "coordinates": [W, S]}) == Point(W, S)
    assert parse_geojson({"type": "Polygon", "coordinates": (tuple(map(tuple, ring)),)}
                         ) == Polygon(ring)
    for kind, coords in [("MultiPoint", [[W, S], [E, N]]), ("LineString", [[W, S], [E, N]]),
                         ("MultiLineString", [[[W, S], [E, N]]]),
                         ("MultiPolygon", [[ring], [_ring(38, 49, 38.1, 49.1)]])]:
        assert parse_geojson({"type": kind, "coordinates": coords}).geom_type == kind
    collection = parse_geojson({"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [W, S]}]})
    assert collection.geom_type == "GeometryCollection"
    assert as_point({"type": "Point", "coordinates": [37, 49]}) == Point(37, 49)


@pytest.mark.parametrize(("geometry", "message"), [
    ({"type": "GeometryCollection", "geometries": [{"type": "GeometryCollection",
                                                    "geometries": []}]},
     "inside a GeometryCollection"),
    ({"type": "LineString", "coordinates": [[W, S]]}, "a line needs at least 2"),
    ({"type": "Point", "coordinates": [W, S, 10]}, "heights (Z) are not kept"),
    ({"type": "Point", "coordinates": [W]}, "has 1 numbers"),
    ({"type": "Point", "coordinates": [10**400, S]}, "not a finite number"),
    ({"type": "FeatureCollection", "features": []}, "a FeatureCollection was sent"),
    ({"type": "Polygon", "coordinates": True}, "coordinates must be an array, got true"),
    ([[W, S]], "expected a GeoJSON geometry object, got an array"),
    ({"coordinates": []}, 'no "type" member'),
])
def test_parser_says_which_rule_was_broken(geometry: Any, message: str) -> None:
    from survey.domain.geometry import as_geometry
    from survey.errors import InvalidGeometry

    with pytest.raises(InvalidGeometry, match=message.replace("(", r"\(").replace(")", r"\)")):
        as_geometry(geometry)


def test_shapely_input_with_heights_is_refused() -> None:
    from survey.domain.geometry import as_multipolygon
    from survey.errors import InvalidGeometry

    with pytest.raises(InvalidGeometry, match="heights"):
        as_multipolygon(Polygon([(W, S, 1), (E, S, 1), (E, N, 1)]))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=40)
# nearly right: arrays of numbers nested one to five deep, closed rings more often than not
NUMBER = st.sampled_from([0, 1, 37.5, 49.3, -180, 90.0]) | st.floats() | st.booleans()
NESTED = st.recursive(st.lists(NUMBER, min_size=1, max_size=3),
                      lambda inner: st.lists(inner, max_size=5).map(
                          lambda xs: xs + xs[:1] if xs and len(xs) > 2 else xs),
                      max_leaves=60)
TYPES = st.sampled_from(["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                         "MultiPolygon", "GeometryCollection", "Feature", "Banana"])


@hypothesis.settings(max_examples=600, deadline=None)
@hypothesis.given(kind=TYPES, coordinates=NESTED | JSON, crs=st.none() | JSON)
def test_any_json_is_a_geometry_or_a_named_refusal(kind: str, coordinates: Any,
                                                   crs: Any) -> None:
    from survey.domain.geometry import as_geometry, as_multipolygon
    from survey.errors import InvalidGeometry

    value = {"type": kind, "coordinates": coordinates, "geometries": coordinates}
    if crs is not None:
        value["crs"] = crs
    for parse in (as_geometry, as_multipolygon):
        try:
            parse(value)
        except InvalidGeometry as exc:
            assert exc.message
