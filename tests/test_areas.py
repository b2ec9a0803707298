"""Geodesic areas from PostGIS agree with pyproj.Geod on the WGS84 ellipsoid."""

from __future__ import annotations

import psycopg
import pytest
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from survey.domain.geometry import WGS84, geodesic_area_m2
from survey.domain.models import Programme
from tests.conftest import make_hazard


def _km_square_near_kharkiv() -> Polygon:
    # corners placed by geodesic distance: 1,000 m sides from a point near Kharkiv
    lon0, lat0 = 36.23, 49.99
    lon1, lat1, _ = WGS84.fwd(lon0, lat0, 90, 1000)
    lon2, lat2, _ = WGS84.fwd(lon1, lat1, 0, 1000)
    lon3, lat3, _ = WGS84.fwd(lon0, lat0, 0, 1000)
    return Polygon([(lon0, lat0), (lon1, lat1), (lon2, lat2), (lon3, lat3)])


CASES: dict[str, BaseGeometry] = {
    "km square near Kharkiv": _km_square_near_kharkiv(),
    "long thin strip (tree line)": Polygon([(37.30, 49.20), (37.33, 49.2045), (37.3301, 49.2047),
                                           (37.2999, 49.2002)]),
    "polygon with a hole (farmstead)": Polygon(
        [(37.10, 49.10), (37.12, 49.10), (37.12, 49.115), (37.10, 49.115)],
        [[(37.105, 49.104), (37.109, 49.104), (37.109, 49.107), (37.105, 49.107)]]),
    "multipolygon": MultiPolygon([box(37.40, 49.30, 37.41, 49.305),
                                  box(37.42, 49.30, 37.425, 49.31)]),
    "high latitude (Finland)": Polygon([(27.0, 68.0), (27.05, 68.0), (27.05, 68.02),
                                        (27.0, 68.02)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_area_m2_matches_pyproj_geod(conn: psycopg.Connection, programme: Programme,
                                     name: str) -> None:
    geom = CASES[name]
    expected = geodesic_area_m2(geom)
    hazard = make_hazard(conn, programme, geom)
    assert hazard.area_m2 == pytest.approx(expected, rel=1e-6)
    assert hazard.remaining_area_m2 == pytest.approx(expected, rel=1e-6)


def test_km_square_is_a_square_km() -> None:
    assert geodesic_area_m2(CASES["km square near Kharkiv"]) == pytest.approx(1e6, rel=1e-3)


def test_postgis_agrees_with_pyproj_without_densifying(conn: psycopg.Connection) -> None:
    for geom in CASES.values():
        area = conn.execute("SELECT ST_Area(%s::geography)", (geom,)).fetchone()[0]
        assert area == pytest.approx(geodesic_area_m2(geom), rel=1e-9)


def test_densified_boundary_keeps_every_surveyed_vertex(conn: psycopg.Connection,
                                                        programme: Programme) -> None:
    strip = CASES["long thin strip (tree line)"]
    hazard = make_hazard(conn, programme, strip)
    stored = {tuple(round(c, 9) for c in xy) for poly in hazard.geom.geoms
              for xy in poly.exterior.coords}
    for xy in strip.exterior.coords:
        assert tuple(round(c, 9) for c in xy) in stored
    longest = conn.execute(
        "SELECT max(ST_Length(ST_MakeLine(p1.geom, p2.geom)::geography)) FROM "
        "(SELECT (ST_DumpPoints(geom)).* FROM hazard_area WHERE id = %(id)s) p1 JOIN "
        "(SELECT (ST_DumpPoints(geom)).* FROM hazard_area WHERE id = %(id)s) p2 "
        "ON p1.path[1] = p2.path[1] AND p1.path[2] = p2.path[2] "
        "AND p2.path[3] = p1.path[3] + 1", {"id": hazard.id}).fetchone()[0]
    assert longest <= 10.0 + 1e-6
