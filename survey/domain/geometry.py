"""Geometry rules: types, validity, and geodesic measures on the WGS84 ellipsoid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import shapely
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pyproj import Geod
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from survey.errors import InvalidGeometry, InvalidInput

WGS84 = Geod(ellps="WGS84")


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Area in square metres on the WGS84 ellipsoid (holes subtracted, parts added)."""
    if geom.is_empty:
        return 0.0
    # pyproj sums signed ring areas: exteriors counter-clockwise, holes clockwise
    area, _ = WGS84.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


# Size limits of one geometry sent to the system. An operator once booked a release of
# 1,000,000 vertices: it took 23 s and cut the remaining ground into 16,146 pieces. The API
# reads its own limits from the settings (DEMINE_MAX_VERTICES, DEMINE_MAX_PARTS).
MAX_VERTICES = 100_000
MAX_PARTS = 10_000


@dataclass(frozen=True)
class GeometryLimits:
    """How large one geometry may be: vertices in all, and parts (rings or lines) in all."""

    max_vertices: int = MAX_VERTICES
    max_parts: int = MAX_PARTS


DEFAULT_LIMITS = GeometryLimits()

# RFC 7946 section 3.1: the geometry types, and what a Feature or collection holds instead
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection")
_CONTAINERS = {"Feature": 'a Feature was sent where a geometry belongs: send its "geometry" '
                          "member",
               "FeatureCollection": "a FeatureCollection was sent where a geometry belongs: "
                                    'send the "geometry" member of one of its features'}
# what each type's coordinates are, for messages about wrong nesting
_NESTING = {"Point": "a position [longitude, latitude]",
            "MultiPoint": "an array of positions",
            "LineString": "an array of positions",
            "MultiLineString": "an array of lines, each an array of positions",
            "Polygon": "an array of rings, each an array of positions",
            "MultiPolygon": "an array of polygons, each an array of rings of positions"}
# the only coordinate reference system RFC 7946 allows (and its old names)
_WGS84_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84",
                "urn:ogc:def:crs:EPSG::4326", "EPSG:4326",
                "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
_ARRAYS = (list, tuple)
_NUMBERS = (int, float)


def _json_type(value: Any) -> str:
    """What a JSON value is, in words, without printing a value of any size or depth."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _NUMBERS):
        return f"the number {value!r}" if isinstance(value, float) or abs(value) < 10**15 \
            else "a very large number"
    if isinstance(value, str):
        return f"the text {_quote(value)}"
    if isinstance(value, _ARRAYS):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _quote(text: str) -> str:
    return repr(text if len(text) <= 30 else text[:30] + "…")


def _array(value: Any, where: str) -> Sequence[Any]:
    if isinstance(value, _ARRAYS):
        return value
    raise InvalidGeometry(f"{where} must be an array, got {_json_type(value)}")


def _number(value: Any, where: str, axis: str, kind: str) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        hint = ""
        if isinstance(value, _ARRAYS):
            hint = f": the coordinates are nested deeper than a {kind} has ({_NESTING[kind]})"
        raise InvalidGeometry(f"{where}: the {axis} is {_json_type(value)}, not a number{hint}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidGeometry(f"{where}: the {axis} is {_json_type(value)}, not a finite "
                              "number (NaN and Infinity are not coordinates)")
    return number


def _position(value: Any, where: str, kind: str) -> tuple[float, float]:
    """One position, [longitude, latitude]: exactly two finite numbers."""
    if not isinstance(value, _ARRAYS):
        raise InvalidGeometry(f"{where} must be a position [longitude, latitude], got "
                              f"{_json_type(value)}: a {kind}'s coordinates are "
                              f"{_NESTING[kind]}")
    if len(value) == 3:
        raise InvalidGeometry(f"{where} has 3 numbers: heights (Z) are not kept, the store "
                              "is two-dimensional; send [longitude, latitude]")
    if len(value) != 2:
        raise InvalidGeometry(f"{where} has {len(value)} numbers; a position is "
                              "[longitude, latitude]")
    return (_number(value[0], where, "longitude", kind),
            _number(value[1], where, "latitude", kind))


def _positions(value: Sequence[Any], where: str, kind: str) -> list[tuple[float, float]]:
    """Every position of an array; the common case costs one type check per number."""
    out: list[tuple[float, float]] = []
    append = out.append
    for i, pos in enumerate(value):
        if type(pos) in _ARRAYS and len(pos) == 2:
            x, y = pos
            if type(x) in _NUMBERS and type(y) in _NUMBERS:
                try:
                    fx, fy = float(x), float(y)
                except OverflowError:
                    fx = fy = math.inf
                if math.isfinite(fx) and math.isfinite(fy):
                    append((fx, fy))
                    continue
        append(_position(pos, f"position {i} of {where}", kind))  # raises, saying why
    return out


def _ring(value: Sequence[Any], where: str, kind: str) -> list[tuple[float, float]]:
    """A linear ring (RFC 7946 3.1.6): four or more positions, the last equal to the first."""
    _check_nesting(value, where, kind)
    if len(value) < 4:
        raise InvalidGeometry(f"{where} has {len(value)} position(s); a ring needs at least 4, "
                              "its first position repeated as the last")
    ring = _positions(value, where, kind)
    if ring[0] != ring[-1]:
        raise InvalidGeometry(f"{where} is not closed: its first position {_pair(ring[0])} "
                              f"differs from its last {_pair(ring[-1])}")
    return ring


def _check_nesting(value: Sequence[Any], where: str, kind: str) -> None:
    """An array of positions must hold arrays of numbers: say so when it is one level off."""
    if not value:
        return
    first = value[0]
    if not isinstance(first, _ARRAYS):
        raise InvalidGeometry(f"{where} must be an array of positions, but holds "
                              f"{_json_type(first)}: a {kind}'s coordinates are "
                              f"{_NESTING[kind]}")
    if first and isinstance(first[0], _ARRAYS):
        raise InvalidGeometry(f"{where} holds arrays of arrays, not positions: the "
                              f"coordinates are nested deeper than a {kind} has "
                              f"({_NESTING[kind]})")


def _pair(position: tuple[float, float]) -> str:
    return f"({position[0]:.9g}, {position[1]:.9g})"


class _Budget:
    """What is left of the size limits while one geometry (or collection) is read."""

    def __init__(self, limits: GeometryLimits) -> None:
        self.limits = limits
        self.vertices = 0
        self.parts = 0

    def spend(self, vertices: int, parts: int) -> None:
        self.vertices += vertices
        self.parts += parts
        if self.parts > self.limits.max_parts:
            raise InvalidGeometry(
                f"the geometry has {self.parts:,} parts (rings or lines); at most "
                f"{self.limits.max_parts:,} are accepted: send it in several pieces",
                parts=self.parts, max_parts=self.limits.max_parts)
        if self.vertices > self.limits.max_vertices:
            raise InvalidGeometry(
                f"the geometry has {self.vertices:,} vertices; at most "
                f"{self.limits.max_vertices:,} are accepted: simplify it or send it in "
                "several pieces", vertices=self.vertices,
                max_vertices=self.limits.max_vertices)


def _arrays(value: Sequence[Any], within: str, what: str) -> list[tuple[str, Sequence[Any]]]:
    """The arrays one level down, each with where it is; no position is read yet."""
    found = []
    for i, item in enumerate(value):
        where = f"{what} {i} of {within}" if within else f"{what} {i}"
        found.append((where, _array(item, where)))
    return found


def _read(value: Any, budget: _Budget, *, in_collection: bool) -> BaseGeometry:
    """One GeoJSON geometry object, checked rule by rule. Never recursive beyond one
    GeometryCollection level: every depth of nesting is spelled out per type."""
    if not isinstance(value, Mapping):
        raise InvalidGeometry("a GeoJSON geometry is an object with \"type\" and "
                              f"\"coordinates\", got {_json_type(value)}")
    kind = value.get("type")
    if isinstance(kind, str) and kind in _CONTAINERS:
        raise InvalidGeometry(_CONTAINERS[kind])
    if not isinstance(kind, str) or kind not in GEOMETRY_TYPES:
        if kind is None:
            what = 'it has no "type" member'
        elif isinstance(kind, str):
            what = f"unknown type {_quote(kind)}"
        else:
            what = f'its "type" is {_json_type(kind)}'
        raise InvalidGeometry(f"not a GeoJSON geometry: {what}; the types are "
                              + ", ".join(GEOMETRY_TYPES) + " (RFC 7946)")
    _check_crs(value.get("crs"))
    if kind == "GeometryCollection":
        if in_collection:
            raise InvalidGeometry("a GeometryCollection inside a GeometryCollection is not "
                                  "accepted (RFC 7946 3.1.8): send its members")
        members = _array(value.get("geometries"), "the \"geometries\" of a GeometryCollection")
        return GeometryCollection([_read(m, budget, in_collection=True) for m in members])
    if "coordinates" not in value:
        raise InvalidGeometry(f"the {kind} has no \"coordinates\" member")
    coords = value["coordinates"]
    if kind == "Point":
        if isinstance(coords, _ARRAYS) and len(coords) == 0:
            return Point()
        budget.spend(1, 0)
        return Point(_position(coords, "the point", kind))
    coords = _array(coords, "coordinates")
    if kind == "MultiPoint":
        budget.spend(len(coords), 0)
        return MultiPoint(_positions(coords, "the points", kind))
    if kind == "LineString":
        return _line(coords, "the line", kind, budget) if coords else LineString()
    if kind == "MultiLineString":
        lines = _arrays(coords, "", "line")
        budget.spend(sum(len(line) for _, line in lines), len(lines))
        return MultiLineString([_line(line, where, kind, None) for where, line in lines])
    if kind == "Polygon":
        rings = _arrays(coords, "", "ring")
        budget.spend(sum(len(ring) for _, ring in rings), len(rings))
        if not rings:
            return Polygon()
        shell, *holes = (_ring(ring, where, kind) for where, ring in rings)
        return Polygon(shell, holes)
    polygons = [_arrays(_array(polygon, f"polygon {i}"), f"polygon {i}", "ring")
                for i, polygon in enumerate(coords)]
    budget.spend(sum(len(ring) for rings in polygons for _, ring in rings),
                 sum(len(rings) for rings in polygons))
    parts = []
    for i, rings in enumerate(polygons):
        if not rings:
            raise InvalidGeometry(f"polygon {i} has no rings")
        shell, *holes = (_ring(ring, where, kind) for where, ring in rings)
        parts.append(Polygon(shell, holes))
    return MultiPolygon(parts)


def _line(value: Sequence[Any], where: str, kind: str, budget: _Budget | None) -> LineString:
    if budget is not None:
        budget.spend(len(value), 1)
    _check_nesting(value, where, kind)
    if len(value) < 2:
        raise InvalidGeometry(f"{where} has {len(value)} position(s); a line needs at least 2")
    return LineString(_positions(value, where, kind))


def _check_crs(crs: Any) -> None:
    """RFC 7946 removed "crs": coordinates are WGS84 lon/lat. A crs naming anything else
    means the numbers are something else (projected metres, a national grid)."""
    if crs is None:
        return
    properties = crs.get("properties") if isinstance(crs, Mapping) else None
    name = properties.get("name") if isinstance(properties, Mapping) else None
    if not isinstance(name, str) or name not in _WGS84_NAMES:
        raise InvalidGeometry("the geometry names a coordinate reference system other than "
                              "WGS84 longitude/latitude: reproject it to EPSG:4326 and drop "
                              "the \"crs\" member (RFC 7946)")


def parse_geojson(value: Any, *, limits: GeometryLimits = DEFAULT_LIMITS) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object, strictly by RFC 7946.

    Refused, with the rule that was broken and where: a Feature where a geometry belongs,
    unknown types, positions that are not exactly two finite numbers (no booleans, no
    heights: the store is 2D), lines of fewer than 2 positions, rings of fewer than 4 or
    not closed, coordinates nested deeper or shallower than the type has, and geometries
    above `limits` (counted before any position is read). Nothing here recurses on the
    input, so no nesting depth can exhaust the stack.
    """
    return _read(value, _Budget(limits), in_collection=False)


def as_geometry(value: Any, *, limits: GeometryLimits = DEFAULT_LIMITS) -> BaseGeometry:
    """A shapely geometry from a shapely object or a GeoJSON geometry mapping.

    Mappings go through parse_geojson (strict RFC 7946, size limits). Shapely objects are
    taken as they are (they come from the store or from a reader), but never with heights:
    the store is 2D.
    """
    if isinstance(value, BaseGeometry):
        if shapely.has_z(value):
            raise InvalidGeometry("the geometry has heights (Z): the store is "
                                  "two-dimensional; drop them")
        return value
    if isinstance(value, Mapping):
        return parse_geojson(value, limits=limits)
    raise InvalidGeometry(f"expected a GeoJSON geometry object, got {_json_type(value)}")


def as_multipolygon(value: Any, *, limits: GeometryLimits = DEFAULT_LIMITS) -> MultiPolygon:
    """A valid, non-empty MultiPolygon; a Polygon is promoted, anything else is refused."""
    geom = as_geometry(value, limits=limits)
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon):
        raise InvalidGeometry(f"expected a Polygon or MultiPolygon, got {geom.geom_type}")
    if geom.is_empty:
        raise InvalidGeometry("the polygon is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidGeometry("the coordinates are not longitude/latitude in degrees "
                              "(projected metres, or a UTM/MGRS grid?): send WGS84 lon/lat")
    if not geom.is_valid:
        raise InvalidGeometry(f"the polygon is not valid: {shapely.is_valid_reason(geom)}")
    return geom


def as_multipolygon_or_empty(value: Any) -> MultiPolygon:
    """Like as_multipolygon, but an empty geometry is allowed (a fully released area)."""
    geom = as_geometry(value)
    if geom.is_empty:
        return MultiPolygon()
    return as_multipolygon(geom)


def as_point(value: Any, *, limits: GeometryLimits = DEFAULT_LIMITS) -> Point:
    """A valid Point in lon/lat."""
    geom = as_geometry(value, limits=limits)
    if not isinstance(geom, Point) or geom.is_empty:
        raise InvalidGeometry(f"expected a Point, got {geom.geom_type}")
    lon, lat = geom.x, geom.y
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidGeometry(f"point ({lon}, {lat}) is not a longitude/latitude pair")
    return geom


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """The GeoJSON mapping of a geometry (lon/lat order, as stored)."""
    return dict(geom.__geo_interface__)


_schema = WithJsonSchema({"type": "object", "description": "GeoJSON geometry (RFC 7946)"})
_serialise = PlainSerializer(to_geojson, when_used="json")

MultiPolygonField = Annotated[MultiPolygon, PlainValidator(as_multipolygon), _serialise, _schema]
RemainingField = Annotated[
    MultiPolygon, PlainValidator(as_multipolygon_or_empty), _serialise, _schema
]
PointField = Annotated[Point, PlainValidator(as_point), _serialise, _schema]


def parse_bbox(text: str, *, error: type[InvalidInput] = InvalidInput
               ) -> tuple[float, float, float, float]:
    """`minlon,minlat,maxlon,maxlat` (or the six numbers of a 3D box) in degrees, with a
    message a person can act on; `error` is the class raised (a query's is a bad request)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise error("bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    minx, miny, maxx, maxy = values
    # a box across the antimeridian (minlon > maxlon) is no box of any programme
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise error("bbox is not minlon,minlat,maxlon,maxlat in degrees "
                    "(longitude first; min before max)")
    return minx, miny, maxx, maxy
