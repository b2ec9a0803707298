"""Vector tiles over real HTTP: decoded with mapbox-vector-tile and checked against SQL
written independently of survey/tiles.py's queries (issue 9, item 1)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import mapbox_vector_tile
import psycopg
import pytest
from shapely.geometry import shape

from survey import tiles
from survey.auth import Principal, hash_password
from survey.demo import DEMO_PASSWORD
from survey.domain.vocab import Role
from survey.store import db
from tests.conftest import sign_in

MVT = "application/vnd.mapbox-vector-tile"
ZOOMS = (6, 10, 14)

FIELDS = {
    "hazard-areas": {"id", "local_id", "classification", "status", "area_m2",
                     "remaining_area_m2"},
    "remaining": {"hazard_area_id", "classification"},
    "releases": {"id", "product", "method", "date", "area_m2", "hazard_area_id"},
    "device-finds": {"id", "category", "model", "quantity", "date"},
    "tasks": {"id", "local_id", "status", "activity"},
    "admin-areas": {"id", "code", "name", "level", "remaining_m2"},
}

# The rows of each layer whose geometry meets the tile with its 64-unit buffer, written
# without the module's queries: {geom} is the layer's geometry, {where} the role's rows.
# At low zoom a shape narrower than a tile unit (a roadside strip at z6) may vanish from
# an MVT: the plain, unsimplified encoding keeps some as zig-zag slivers, a simplified one
# drops them. So a tile must hold every row the plain encoding draws that is at least
# two units wide ({wide}), and nothing the plain encoding does not draw.
_ENVELOPE = "ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)"
_DRAWN = ("ST_AsMVTGeom(ST_Transform({geom}, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), "
          "4096, 64, true) IS NOT NULL")
_UNIT = "(40075016.686 / (1 << %(z)s) / 4096)"
_WIDE = ("(%(wide)s = 0 OR GeometryType({geom}) = 'POINT' OR (ST_MaximumInscribedCircle("
         "ST_Transform({geom}, 3857))).radius >= " + _UNIT + ")")
_MEETS = (f"ST_Intersects(ST_Transform({{geom}}, 3857), {_ENVELOPE}) AND {_DRAWN} "
          f"AND {_WIDE}")
ROWS = {
    "hazard-areas": "SELECT count(*) FROM hazard_area h WHERE {where} AND " + _MEETS.format(
        geom="h.geom"),
    "remaining": "SELECT count(*) FROM remaining_piece p JOIN hazard_area h "
                 "ON h.id = p.hazard_area_id WHERE {where} AND " + _MEETS.format(geom="p.geom"),
    "releases": "SELECT count(*) FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id "
                "WHERE {where} AND " + _MEETS.format(geom="r.geom"),
    "device-finds": "SELECT count(*) FROM device_find d WHERE {where} AND d.deleted_at IS NULL "
                    "AND " + _MEETS.format(geom="d.geom"),
    "tasks": "SELECT count(*) FROM (SELECT t.id FROM task t "
             "JOIN task_hazard_area th ON th.task_id = t.id "
             "JOIN hazard_area h ON h.id = th.hazard_area_id "
             "WHERE {where} AND t.deleted_at IS NULL "
             "AND ST_Intersects(ST_Transform(h.geom, 3857), " + _ENVELOPE + ") "
             "GROUP BY t.id HAVING " + _DRAWN.format(geom="ST_Collect(h.geom)") + " AND "
             + _WIDE.format(geom="ST_Collect(h.geom)") + ") s",
    "admin-areas": "SELECT count(*) FROM admin_area a WHERE {where} AND " + _MEETS.format(
        geom="a.geom"),
}
# a place on a feature of each layer, to centre the tiles on
PLACE = {
    "hazard-areas": "SELECT ST_PointOnSurface(geom) FROM hazard_area ORDER BY local_id",
    "remaining": "SELECT ST_PointOnSurface(geom) FROM remaining_piece ORDER BY id",
    "releases": "SELECT ST_PointOnSurface(geom) FROM release ORDER BY area_m2 DESC, id",
    "device-finds": "SELECT geom FROM device_find ORDER BY id",
    "tasks": "SELECT ST_PointOnSurface(h.geom) FROM task t JOIN task_hazard_area th "
             "ON th.task_id = t.id JOIN hazard_area h ON h.id = th.hazard_area_id "
             "ORDER BY t.local_id",
    "admin-areas": "SELECT ST_PointOnSurface(geom) FROM admin_area ORDER BY level DESC, code",
}
DONOR_RELEASES = ("EXISTS (SELECT 1 FROM activity_report ar JOIN task t ON t.id = ar.task_id "
                  "JOIN project pr ON pr.id = t.project_id "
                  "WHERE ar.id = r.activity_report_id AND pr.donor_id = %(donor)s)")
DONOR_TASKS = "t.project_id IN (SELECT id FROM project WHERE donor_id = %(donor)s)"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode(body: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(body) if body else {}


@pytest.fixture(scope="module")
def api_conn(api_database_url: str) -> Iterator[psycopg.Connection]:
    with db.connect(api_database_url) as connection:
        connection.autocommit = True
        yield connection


@pytest.fixture(scope="module")
def ids(api_conn: psycopg.Connection) -> dict[str, UUID]:
    programme, donor = api_conn.execute(
        "SELECT u.programme_id, u.donor_id FROM app_user u WHERE username = 'donor.eu'"
    ).fetchone()
    return {"programme": programme, "donor": donor}


@pytest.fixture(scope="module")
def public(http: httpx.Client, api_conn: psycopg.Connection,
           ids: dict[str, UUID]) -> Iterator[dict[str, str]]:
    """A public viewer of the demo programme (the demo has none), removed afterwards so
    that the shared API database holds the demo's accounts only."""
    api_conn.execute(
        "INSERT INTO app_user (programme_id, username, full_name, role, password_hash) "
        "VALUES (%s, 'public.tiles', 'Public viewer (tiles)', 'public', %s) "
        "ON CONFLICT (username) DO NOTHING",
        (ids["programme"], hash_password(DEMO_PASSWORD)))
    yield sign_in(http, "public.tiles")
    api_conn.execute("DELETE FROM app_user WHERE username = 'public.tiles'")


@pytest.fixture(scope="module")
def donor(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "donor.eu")


def place(api_conn: psycopg.Connection, layer: str, z: int) -> tuple[int, int]:
    point = api_conn.execute(f"SELECT ST_X(g), ST_Y(g) FROM ({PLACE[layer]} LIMIT 1) s(g)"
                             ).fetchone()
    return tile_of(point[0], point[1], z)


def expected(api_conn: psycopg.Connection, layer: str, z: int, x: int, y: int,
             where: str = "TRUE", *, wide: bool = False, **params: Any) -> int:
    """How many rows of `layer` the tile must draw (`wide`: only those two units wide
    or more; else every row the plain encoding draws)."""
    query = ROWS[layer].format(where=where)
    return int(api_conn.execute(query, {"z": z, "x": x, "y": y, "wide": int(wide),
                                        **params}).fetchone()[0])


def assert_count(api_conn: psycopg.Connection, features: list[Any], layer: str, z: int,
                 x: int, y: int, where: str = "TRUE", **params: Any) -> None:
    drawn = expected(api_conn, layer, z, x, y, where, **params)
    wide = expected(api_conn, layer, z, x, y, where, wide=True, **params)
    assert wide <= len(features) <= drawn
    if z >= 10:  # shapes are many units wide: nothing may go missing
        assert len(features) == drawn


def get_tile(http: httpx.Client, headers: dict[str, str], layer: str, z: int, x: int,
             y: int) -> httpx.Response:
    response = http.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    return response


@pytest.mark.parametrize("z", ZOOMS)
@pytest.mark.parametrize("layer", list(FIELDS))
def test_tiles_hold_what_sql_finds(http: httpx.Client, coordinator: dict[str, str],
                                   api_conn: psycopg.Connection, layer: str, z: int) -> None:
    x, y = place(api_conn, layer, z)
    response = get_tile(http, coordinator, layer, z, x, y)
    decoded = decode(response.content)
    assert set(decoded) == {layer}  # no `capped` layer: the demo is far below the cap
    features = decoded[layer]["features"]
    assert features
    assert_count(api_conn, features, layer, z, x, y)
    for feature in features:
        assert set(feature["properties"]) == FIELDS[layer]
        geometry = shape(feature["geometry"])
        assert geometry.is_valid and not geometry.is_empty
        if layer == "device-finds":
            assert geometry.geom_type == "Point"
        else:
            assert geometry.geom_type in ("Polygon", "MultiPolygon")
    if layer in ("hazard-areas", "remaining"):
        assert {f["properties"]["classification"] for f in features} <= {"SHA", "CHA"}
    if layer == "hazard-areas":
        # drawing order: largest first, so that smaller areas are drawn over them
        areas = [f["properties"]["area_m2"] for f in features]
        assert areas == sorted(areas, reverse=True)


@pytest.mark.parametrize("z", ZOOMS)
def test_donor_sees_its_releases_and_tasks_only(http: httpx.Client, donor: dict[str, str],
                                                coordinator: dict[str, str],
                                                api_conn: psycopg.Connection,
                                                ids: dict[str, UUID], z: int) -> None:
    params = {"donor": ids["donor"]}
    for layer, where in (("releases", DONOR_RELEASES), ("tasks", DONOR_TASKS)):
        x, y = place(api_conn, layer, z)
        mine = decode(get_tile(http, donor, layer, z, x, y).content)
        everyone = decode(get_tile(http, coordinator, layer, z, x, y).content)
        features = mine.get(layer, {"features": []})["features"]
        assert_count(api_conn, features, layer, z, x, y, where, **params)
        assert len(features) <= len(everyone[layer]["features"])
        if z == 6:  # the whole demo: its donors fund some of the work, not all
            assert 0 < len(features) < len(everyone[layer]["features"])
    admin = decode(get_tile(http, donor, "admin-areas", z, *place(api_conn, "admin-areas",
                                                                   z)).content)
    assert {k for f in admin["admin-areas"]["features"] for k in f["properties"]} == (
        FIELDS["admin-areas"] - {"remaining_m2"})
    for layer in ("hazard-areas", "remaining", "device-finds"):
        refused = http.get(f"/tiles/{layer}/{z}/0/0.mvt", headers=donor)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("z", ZOOMS)
def test_public_sees_released_land_only(http: httpx.Client, public: dict[str, str],
                                        api_conn: psycopg.Connection, z: int) -> None:
    x, y = place(api_conn, "releases", z)
    released = decode(get_tile(http, public, "releases", z, x, y).content)
    assert_count(api_conn, released["releases"]["features"], "releases", z, x, y)
    # released land, not which hazard area it came from
    assert {name for f in released["releases"]["features"] for name in f["properties"]} == (
        FIELDS["releases"] - {"hazard_area_id"})
    admin = decode(get_tile(http, public, "admin-areas", z, *place(api_conn, "admin-areas",
                                                                    z)).content)
    assert "remaining_m2" not in admin["admin-areas"]["features"][0]["properties"]
    for layer in ("hazard-areas", "remaining", "device-finds", "tasks"):
        assert http.get(f"/tiles/{layer}/{z}/0/0.mvt", headers=public).status_code == 403
        assert http.get(f"/tiles/{layer}.json", headers=public).status_code == 403


def test_readable_layers_follow_the_roles() -> None:
    def principal(role: Role) -> Principal:
        return Principal(UUID(int=1), "x", role, UUID(int=2), None, UUID(int=3))

    assert tiles.readable_layers(principal(Role.COORDINATOR)) == list(FIELDS)
    assert tiles.readable_layers(principal(Role.DONOR)) == ["releases", "tasks", "admin-areas"]
    assert tiles.readable_layers(principal(Role.PUBLIC)) == ["releases", "admin-areas"]


def test_an_empty_tile_is_a_valid_empty_answer(http: httpx.Client,
                                               coordinator: dict[str, str]) -> None:
    for layer in FIELDS:
        response = get_tile(http, coordinator, layer, 14, 0, 0)  # the Pacific
        assert response.content == b""
        assert decode(response.content) == {}
        assert "x-tile-capped" not in response.headers


def test_unauthorised_and_bad_addresses(http: httpx.Client,
                                        coordinator: dict[str, str]) -> None:
    for path in ("/tiles/hazard-areas/10/600/340.mvt", "/tiles/hazard-areas.json"):
        response = http.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert http.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert http.get("/tiles/minefields/6/1/1.mvt", headers=coordinator).status_code == 404
    assert http.get("/tiles/minefields.json", headers=coordinator).status_code == 404
    for address in ("23/0/0", "6/64/0", "6/0/-1"):
        response = http.get(f"/tiles/hazard-areas/{address}.mvt", headers=coordinator)
        assert response.status_code == 400, address


def test_the_session_cookie_reads_tiles(http: httpx.Client, live_server: str,
                                        coordinator: dict[str, str],
                                        api_conn: psycopg.Connection) -> None:
    token = coordinator["Authorization"].removeprefix("Bearer ")
    x, y = place(api_conn, "hazard-areas", 10)
    with httpx.Client(base_url=live_server, cookies={"demine_token": token}) as browser:
        response = browser.get(f"/tiles/hazard-areas/10/{x}/{y}.mvt")
    assert response.status_code == 200
    assert decode(response.content)["hazard-areas"]["features"]


def _add_find(api_conn: psycopg.Connection, lon: float, lat: float) -> UUID:
    return api_conn.execute(
        "INSERT INTO device_find (programme_id, ordnance_type_id, found_date, geom) "
        "SELECT programme_id, (SELECT id FROM ordnance_type ORDER BY model LIMIT 1), "
        "'2025-06-01', ST_SetSRID(ST_MakePoint(%s, %s), 4326) FROM hazard_area LIMIT 1 "
        "RETURNING id", (lon, lat)).fetchone()[0]


def test_etag_changes_with_the_layer_and_304_otherwise(http: httpx.Client,
                                                       coordinator: dict[str, str],
                                                       donor: dict[str, str],
                                                       api_conn: psycopg.Connection) -> None:
    x, y = place(api_conn, "device-finds", 14)
    path = f"/tiles/device-finds/14/{x}/{y}.mvt"
    first = get_tile(http, coordinator, "device-finds", 14, x, y)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = http.get(path, headers={**coordinator, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert etag.startswith('W/"')  # weak: gzip may send the same tile encoded
    for listed in (f'"x", {etag}', etag.removeprefix("W/"), "*"):
        assert http.get(path, headers={**coordinator, "If-None-Match": listed}
                        ).status_code == 304
    # another layer's change leaves this layer's tag alone
    hazards = get_tile(http, coordinator, "hazard-areas", 14, x, y).headers["etag"]
    # a role that sees other rows never shares a tag
    releases = f"/tiles/releases/14/{x}/{y}.mvt"
    assert (http.get(releases, headers=coordinator).headers["etag"]
            != http.get(releases, headers=donor).headers["etag"])

    lon, lat = api_conn.execute(f"SELECT ST_X(g), ST_Y(g) FROM ({PLACE['device-finds']} "
                                "LIMIT 1) s(g)").fetchone()
    added = _add_find(api_conn, lon + 1e-5, lat)
    try:
        changed = http.get(path, headers={**coordinator, "If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        found = decode(changed.content)["device-finds"]["features"]
        assert len(found) == len(decode(first.content)["device-finds"]["features"]) + 1
        assert str(added) in {f["properties"]["id"] for f in found}
        assert get_tile(http, coordinator, "hazard-areas", 14, x, y).headers["etag"] == hazards
    finally:
        api_conn.execute("DELETE FROM device_find WHERE id = %s", (added,))
    assert http.get(path, headers={**coordinator, "If-None-Match": changed.headers["etag"]}
                    ).status_code == 200


def test_versions_move_at_commit_and_writers_do_not_wait(api_database_url: str,
                                                         api_conn: psycopg.Connection,
                                                         ids: dict[str, UUID]) -> None:
    version = ("SELECT version FROM tile_version WHERE programme_id = %s "
               "AND layer = 'device-finds'")
    before = api_conn.execute(version, (ids["programme"],)).fetchone()[0]
    with (db.connect(api_database_url) as first, db.connect(api_database_url) as second,
          first.transaction(force_rollback=True)):
        _add_find(first, 37.3, 49.2)
        # not committed: nobody sees a new version yet
        assert api_conn.execute(version, (ids["programme"],)).fetchone()[0] == before
        # a second writer in the same programme neither waits for the first
        # (lock_timeout would raise) nor is seen before its commit
        done = threading.Event()

        def write() -> None:
            with second.transaction():
                second.execute("SET LOCAL lock_timeout = '2s'")
                added = _add_find(second, 37.31, 49.2)
                second.execute("DELETE FROM device_find WHERE id = %s", (added,))
            done.set()

        worker = threading.Thread(target=write)
        worker.start()
        worker.join(timeout=10)
        assert done.is_set()
    after = api_conn.execute(version, (ids["programme"],)).fetchone()[0]
    assert after == before + 1  # the committed writer only; the rolled back one left none
    assert api_conn.execute("SELECT count(*) FROM tile_dirty").fetchone()[0] == 0


def test_each_change_moves_the_layers_it_draws_on(api_conn: psycopg.Connection,
                                                  ids: dict[str, UUID]) -> None:
    def versions() -> dict[str, int]:
        return dict(api_conn.execute("SELECT layer, version FROM tile_version "
                                     "WHERE programme_id = %s", (ids["programme"],)).fetchall())

    before = versions()
    api_conn.execute("UPDATE hazard_area SET priority = priority WHERE id = "
                     "(SELECT id FROM hazard_area ORDER BY local_id LIMIT 1)")
    after = versions()
    moved = {layer for layer in after if after[layer] != before.get(layer)}
    assert moved == {"hazard-areas", "remaining", "tasks", "admin-areas"}
    assert all(after[layer] == before[layer] + 1 for layer in moved)
    # the catalogue names no programme: every programme's finds move
    api_conn.execute("UPDATE ordnance_type SET description = description WHERE model = "
                     "(SELECT min(model) FROM ordnance_type)")
    assert {layer for layer, v in versions().items() if v != after[layer]} == {"device-finds"}
    # a statement that changes nothing moves nothing
    settled = versions()
    api_conn.execute("UPDATE release SET depth_cm = depth_cm WHERE false")
    assert versions() == settled


def test_tilejson(http: httpx.Client, coordinator: dict[str, str], donor: dict[str, str],
                  live_server: str) -> None:
    for layer, fields in FIELDS.items():
        response = http.get(f"/tiles/{layer}.json", headers=coordinator)
        assert response.status_code == 200
        document = response.json()
        assert document["tilejson"] == "3.0.0"
        assert document["minzoom"] == 0 and document["maxzoom"] == 16
        west, south, east, north = document["bounds"]
        assert 22 <= west < east <= 41 and 44 <= south < north <= 53  # Ukraine
        (template,) = document["tiles"]
        assert template.startswith(f"{live_server}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt?v=")
        ours, capped = document["vector_layers"]
        assert ours["id"] == layer and set(ours["fields"]) == fields
        assert capped["id"] == "capped" and set(capped["fields"]) == {"layer", "shown",
                                                                      "cap"}
        assert document["feature_cap"] == tiles.FEATURE_CAP
        tile = http.get(template.format(z=6, x=38, y=22), headers=coordinator)
        assert tile.status_code == 200
    mine = http.get("/tiles/admin-areas.json", headers=donor).json()
    assert set(mine["vector_layers"][0]["fields"]) == FIELDS["admin-areas"] - {"remaining_m2"}


def test_a_capped_tile_says_so_and_keeps_a_stable_order(api_conn: psycopg.Connection,
                                                        ids: dict[str, UUID]) -> None:
    coordinator = Principal(UUID(int=1), "coordinator", Role.COORDINATOR, ids["programme"],
                            None, None)
    x, y = place(api_conn, "hazard-areas", 6)
    whole = tiles.get_tile(api_conn, principal=coordinator, layer="hazard-areas", z=6, x=x, y=y)
    assert not whole.capped and whole.shown > 5
    cut = tiles.get_tile(api_conn, principal=coordinator, layer="hazard-areas", z=6, x=x, y=y,
                         cap=5)
    assert cut.capped and cut.shown <= 5
    decoded = decode(cut.data)
    assert set(decoded) == {"hazard-areas", "capped"}
    (note,) = decoded["capped"]["features"]
    assert note["properties"] == {"layer": "hazard-areas", "shown": cut.shown, "cap": 5}

    ids_whole = [f["properties"]["id"] for f in decode(whole.data)["hazard-areas"]["features"]]
    ids_cut = [f["properties"]["id"] for f in decoded["hazard-areas"]["features"]]
    assert ids_cut == ids_whole[:len(ids_cut)]
    assert cut.data == tiles.get_tile(api_conn, principal=coordinator, layer="hazard-areas",
                                      z=6, x=x, y=y, cap=5).data
