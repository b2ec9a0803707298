"""Hazard areas as GeoJSON, built in PostGIS (ST_AsGeoJSON) and scoped to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from survey.errors import NotFound

# 8 decimals of a degree is about 1 mm: finer than any field GPS
GEOJSON_DIGITS = 8

PROPERTIES = ("local_id", "name", "classification", "status", "contamination", "evidence",
              "land_use", "priority", "beneficiaries", "reporting_organisation_id",
              "admin_area_id", "date_of_information", "area_m2", "remaining_area_m2",
              "version", "programme_id")


@dataclass(frozen=True)
class HazardFilter:
    """Optional filters of a hazard-area listing; None means no filter."""

    bbox: tuple[float, float, float, float] | None = None
    classification: str | None = None
    status: str | None = None
    organisation_id: UUID | None = None


def _feature_sql(geom_column: str = "geom") -> sql.Composable:
    props = sql.SQL(", ").join(
        sql.SQL("{}, h.{}").format(sql.Literal(name), sql.Identifier(name))
        for name in PROPERTIES)
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', h.id, "
        "'geometry', ST_AsGeoJSON(h.{geom}, {digits})::json, "
        "'properties', json_build_object({props}))"
    ).format(geom=sql.Identifier(geom_column), digits=sql.Literal(GEOJSON_DIGITS), props=props)


def _conditions(scope: sql.Composable, filters: HazardFilter) -> sql.Composable:
    parts: list[sql.Composable] = [scope]
    if filters.bbox is not None:
        parts.append(sql.SQL("h.geom && ST_MakeEnvelope({}, {}, {}, {}, 4326)").format(
            *map(sql.Literal, filters.bbox)))
    for column in ("classification", "status", "organisation_id"):
        value = getattr(filters, column)
        if value is not None:
            name = "reporting_organisation_id" if column == "organisation_id" else column
            parts.append(sql.SQL("h.{} = {}").format(sql.Identifier(name), sql.Literal(value)))
    return sql.SQL(" AND ").join(parts)


def hazard_area_features(
    conn: psycopg.Connection,
    *,
    scope: sql.Composable,
    filters: HazardFilter = HazardFilter(),
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of hazard areas as GeoJSON features, and how many match in all."""
    where = _conditions(scope, filters)
    page = sql.SQL(
        "SELECT {feature} FROM hazard_area h WHERE {where} ORDER BY h.local_id, h.id "
        "LIMIT {limit} OFFSET {offset}"
    ).format(feature=_feature_sql(), where=where, limit=sql.Literal(limit),
             offset=sql.Literal(offset))
    count = sql.SQL("SELECT count(*) FROM hazard_area h WHERE {where}").format(where=where)
    features = [row[0] for row in conn.execute(page)]
    total = conn.execute(count).fetchone()
    return features, int(total[0]) if total else 0


def hazard_area_feature(conn: psycopg.Connection, *, scope: sql.Composable,
                        hazard_area_id: UUID) -> dict[str, Any]:
    """One hazard area as a GeoJSON feature; NotFound if absent or out of scope."""
    query = sql.SQL("SELECT {feature} FROM hazard_area h WHERE h.id = {id} AND {scope}").format(
        feature=_feature_sql(), id=sql.Literal(hazard_area_id), scope=scope)
    row = conn.execute(query).fetchone()
    if row is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    return dict(row[0])


def require_visible(conn: psycopg.Connection, *, scope: sql.Composable,
                    hazard_area_id: UUID) -> None:
    """NotFound unless the hazard area exists and is in the caller's scope."""
    query = sql.SQL("SELECT 1 FROM hazard_area h WHERE h.id = {id} AND {scope}").format(
        id=sql.Literal(hazard_area_id), scope=scope)
    if conn.execute(query).fetchone() is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")


ADMIN_AREAS = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
    json_build_object('type', 'Feature', 'id', a.id,
                      'geometry', ST_AsGeoJSON(ST_Simplify(a.geom, 0.0005), 6)::json,
                      'properties', json_build_object('name', a.name, 'code', a.code,
                                                      'level', a.level))
    ORDER BY a.code), '[]'::json))
FROM admin_area a
WHERE a.level >= %(min_level)s
  AND (%(programme_id)s::uuid IS NULL OR a.programme_id = %(programme_id)s::uuid)
"""


def admin_area_collection(conn: psycopg.Connection, *, programme_id: UUID | None,
                          min_level: int = 1) -> dict[str, Any]:
    """Admin areas of a programme (every programme when None), simplified for display."""
    row = conn.execute(ADMIN_AREAS, {"programme_id": programme_id,
                                     "min_level": min_level}).fetchone()
    return dict(row[0]) if row else {"type": "FeatureCollection", "features": []}


RELEASES = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
    json_build_object('type', 'Feature', 'id', r.id,
                      'geometry', ST_AsGeoJSON(r.geom, {digits})::json,
                      'properties', json_build_object(
                          'hazard_area', h.local_id, 'product', r.product,
                          'method', r.method, 'release_date', r.release_date,
                          'area_m2', r.area_m2))
    ORDER BY r.booked_seq), '[]'::json))
FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id
WHERE {scope}
"""


def release_collection(conn: psycopg.Connection, *, scope: sql.Composable) -> dict[str, Any]:
    """Released land of the hazard areas in scope, as one GeoJSON FeatureCollection."""
    query = sql.SQL(RELEASES).format(digits=sql.Literal(GEOJSON_DIGITS), scope=scope)
    row = conn.execute(query).fetchone()
    return dict(row[0]) if row else {"type": "FeatureCollection", "features": []}
