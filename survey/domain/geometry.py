"""Geometry rules: types, validity, and geodesic measures on the WGS84 ellipsoid."""

from __future__ import annotations

from typing import Annotated, Any

import shapely
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from survey.errors import InvalidGeometry

WGS84 = Geod(ellps="WGS84")


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Area in square metres on the WGS84 ellipsoid (holes subtracted, parts added)."""
    if geom.is_empty:
        return 0.0
    # pyproj sums signed ring areas: exteriors counter-clockwise, holes clockwise
    area, _ = WGS84.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area)


def as_geometry(value: Any) -> BaseGeometry:
    """A shapely geometry from a shapely object or a GeoJSON geometry mapping."""
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, dict):
        try:
            return shape(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidGeometry(f"not a GeoJSON geometry: {exc}") from exc
    raise InvalidGeometry(f"expected a geometry, got {type(value).__name__}")


def as_multipolygon(value: Any) -> MultiPolygon:
    """A valid, non-empty MultiPolygon; a Polygon is promoted, anything else is refused."""
    geom = as_geometry(value)
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


def as_point(value: Any) -> Point:
    """A valid Point in lon/lat."""
    geom = as_geometry(value)
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
