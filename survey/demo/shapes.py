"""Hazard-area shapes, drawn in a local metric plane and turned into lon/lat.

The plane is an affine lon/lat scaling at Izium, so straight lines stay straight in both.
Shapes are densified to edges of at most 8 m before they are turned into lon/lat. The
database densifies ledger geometry to 10 m edges; geometry that is already that dense
comes back unchanged, so the releases carved here in Python are the ones the ledger
measures, and their cuts agree with it to floating-point noise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

import shapely
from shapely import affinity, ops
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from survey.domain.geometry import WGS84, geodesic_area_m2

# --- the local metric plane ----------------------------------------------------------

LON0, LAT0 = 37.30, 49.20
_A, _F = 6378137.0, 1 / 298.257223563
_E2 = _F * (2 - _F)
_SIN = math.sin(math.radians(LAT0))
# metres per degree of longitude and latitude at LAT0 on the WGS84 ellipsoid
KX = math.radians(1) * _A / math.sqrt(1 - _E2 * _SIN**2) * math.cos(math.radians(LAT0))
KY = math.radians(1) * _A * (1 - _E2) / (1 - _E2 * _SIN**2) ** 1.5

DENSIFY_M = 8.0  # below the database's 10 m (demine_densify): its pass changes nothing
SLIVER_M2 = 50.0
SPACING_M = 25.0  # the least gap between two hazard areas

G = TypeVar("G", bound=BaseGeometry)


def to_ll(geom: G) -> G:
    """Local metres to lon/lat."""
    return shapely.transform(geom, lambda xy: xy / (KX, KY) + (LON0, LAT0))


def to_m(geom: G) -> G:
    """Lon/lat to local metres."""
    return shapely.transform(geom, lambda xy: (xy - (LON0, LAT0)) * (KX, KY))


def ll_line(coords: Sequence[tuple[float, float]]) -> LineString:
    """A lon/lat polyline in local metres."""
    return to_m(LineString(coords))


# --- shapes in local metres ------------------------------------------------------------

def _field(rnd: random.Random, lo: float = 100, hi: float = 800) -> Polygon:
    """An irregular quadrilateral or pentagon, sides lo-hi m."""
    w = rnd.uniform(lo, hi)
    h = rnd.uniform(max(lo, w / 4), min(hi, w * 4))
    j = 0.12 * min(w, h)
    pts = [(x + rnd.uniform(-j, j), y + rnd.uniform(-j, j))
           for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]
    if rnd.random() < 0.45:  # a fifth corner, bulging one side outward
        i = rnd.randrange(4)
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % 4]
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        norm = math.hypot(mx, my) or 1.0
        bulge = rnd.uniform(0.05, 0.2) * math.hypot(x2 - x1, y2 - y1)
        pts.insert(i + 1, (mx + mx / norm * bulge, my + my / norm * bulge))
    return Polygon(pts)


def _bent_line(rnd: random.Random, length: float, segments: int, bend_deg: float) -> LineString:
    heading, x, y = 0.0, -length / 2, 0.0
    pts = [(x, y)]
    for _ in range(segments):
        heading += math.radians(rnd.uniform(-bend_deg, bend_deg))
        x += length / segments * math.cos(heading)
        y += length / segments * math.sin(heading)
        pts.append((x, y))
    return LineString(pts)


def _tree_line(rnd: random.Random) -> Polygon:
    """A shelter belt: a strip 20-40 m wide, 300-1500 m long, slightly bent."""
    line = _bent_line(rnd, rnd.uniform(300, 1500), rnd.randint(2, 4), 9)
    strip = line.buffer(rnd.uniform(10, 20), cap_style="flat", join_style="mitre")
    assert isinstance(strip, Polygon)
    return strip


def _forest_edge(rnd: random.Random) -> Polygon:
    """An irregular, star-shaped outline of 8-20 vertices."""
    n = rnd.randint(8, 20)
    r0 = rnd.uniform(150, 450)
    stretch = rnd.uniform(1.0, 2.2)
    pts = []
    radius = r0
    for i in range(n):
        angle = 2 * math.pi * (i + rnd.uniform(-0.35, 0.35)) / n
        radius = 0.5 * radius + 0.5 * r0 * rnd.uniform(0.6, 1.4)
        pts.append((radius * math.cos(angle) * stretch, radius * math.sin(angle)))
    return Polygon(pts)


def _field_with_farmstead(rnd: random.Random) -> Polygon | None:
    """A field with a farmstead (not suspected) cut out of it as a hole."""
    shell = _field(rnd, 300, 800)
    side = rnd.uniform(40, 90)
    cx, cy = shell.centroid.x, shell.centroid.y
    spread = 0.2 * math.sqrt(shell.area)
    yard = affinity.rotate(
        box(-side / 2, -side / 2, side / 2, side * rnd.uniform(0.4, 0.6)),
        rnd.uniform(-25, 25))
    yard = affinity.translate(yard, cx + rnd.uniform(-spread, spread),
                              cy + rnd.uniform(-spread, spread))
    if not shell.buffer(-20).contains(yard):
        return None
    return Polygon(shell.exterior.coords, [list(yard.exterior.coords)[::-1]])


def _split_field(rnd: random.Random) -> MultiPolygon | None:
    """Two fields either side of a farm track: one hazard area of two parts."""
    big = _field(rnd, 300, 800)
    angle = rnd.uniform(0, 180)
    track = affinity.rotate(box(-2000, -rnd.uniform(4, 8), 2000, rnd.uniform(4, 8)), angle)
    offset = rnd.uniform(-0.2, 0.2) * math.sqrt(big.area)
    track = affinity.translate(track, big.centroid.x + offset, big.centroid.y - offset)
    parts = big.difference(track)
    if not isinstance(parts, MultiPolygon) or len(parts.geoms) != 2:
        return None
    if min(p.area for p in parts.geoms) < 8000:
        return None
    return parts


def verge(rnd: random.Random, road: LineString) -> BaseGeometry | None:
    """One or both verges of a stretch of road, 15-30 m wide, set 5 m off its centre line."""
    length = rnd.uniform(400, 2000)
    start = rnd.uniform(0, max(0.0, road.length - length))
    stretch = ops.substring(road, start, start + length)
    width = rnd.uniform(15, 30)
    sides = [1, -1] if rnd.random() < 0.4 else [rnd.choice([1, -1])]
    parts = []
    for side in sides:
        inner = stretch.offset_curve(5 * side, join_style="mitre")
        outer = stretch.offset_curve((5 + width) * side, join_style="mitre")
        if not isinstance(inner, LineString) or not isinstance(outer, LineString):
            return None
        parts.append(Polygon([*inner.coords, *outer.coords[::-1]]))
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


# The shape drawn for each kind of hazard area but road verges (which follow a road).
SHAPE_OF_KIND: dict[str, Callable[[random.Random], BaseGeometry | None]] = {
    "field": _field, "tree line": _tree_line, "forest edge": _forest_edge,
    "field (farmstead)": _field_with_farmstead, "fields": _split_field,
}


# --- helpers -----------------------------------------------------------------------------

def densified_ll(geom_m: BaseGeometry) -> MultiPolygon:
    """A shape in local metres as a lon/lat multipolygon with edges of at most 8 m."""
    ll = to_ll(shapely.segmentize(geom_m, DENSIFY_M))
    return ll if isinstance(ll, MultiPolygon) else MultiPolygon([ll])


def polygons(geom: BaseGeometry, min_m2: float = SLIVER_M2) -> MultiPolygon:
    """The polygon parts of an overlay result of at least min_m2 each."""
    parts = [g for g in shapely.get_parts(geom)
             if isinstance(g, Polygon) and not g.is_empty and geodesic_area_m2(g) >= min_m2]
    return MultiPolygon(parts)


def random_point_in(rnd: random.Random, geom: BaseGeometry, tries: int = 200) -> Point:
    """A uniformly drawn point inside `geom` (its representative point after `tries`)."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    for _ in range(tries):
        x, y = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        if shapely.contains_xy(geom, x, y):
            return Point(x, y)
    return geom.representative_point()


def bearing_and_distance(a: Point, b: Point) -> tuple[float, float]:
    """Bearing (degrees from north, [0, 360)) and distance in metres from a to b (lon/lat)."""
    azimuth, _, distance = WGS84.inv(a.x, a.y, b.x, b.y)
    bearing = round(azimuth % 360.0, 1)
    return (0.0 if bearing >= 360.0 else bearing), round(distance, 2)

