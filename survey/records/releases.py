"""Released land as records: a keyset listing of releases and one release, as GeoJSON.

These are the records behind every released-land figure (issue 10: a report's figure
links to `/api/v1/releases?...` with the report's filters). The filters therefore mean
what the reports' conditions mean (survey.reports.scope.release_rows): organisation,
project, donor and admin area are the release's attribution columns (filled when it is
booked), the dates bound `release_date`, both ends included.

Who sees which releases is `access.release_scope`: admins all; coordinators and
operators their programme; a donor the releases of its own projects; the public the
released land of its programme.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from survey import access
from survey.auth import Principal
from survey.errors import NotFound
from survey.records import paging
from survey.store.hazards import GEOJSON_DIGITS

PROPERTIES = ("hazard_area_id", "activity_report_id", "product", "method", "technical_asset",
              "depth_cm", "release_date", "area_m2", "clipped_m2", "organisation_id",
              "project_id", "donor_id", "admin_area_id", "programme_id", "created_at")

FEATURE = """
json_build_object(
    'type', 'Feature', 'id', r.id,
    'geometry', ST_AsGeoJSON(r.geom, {digits})::json,
    'properties', json_build_object({props}, 'hazard_area_local_id', h.local_id))
"""


def _feature_sql() -> sql.Composable:
    props = sql.SQL(", ").join(sql.SQL("{}, r.{}").format(sql.Literal(name),
                                                         sql.Identifier(name))
                               for name in PROPERTIES)
    return sql.SQL(FEATURE).format(digits=sql.Literal(GEOJSON_DIGITS), props=props)


def _column(name: str) -> sql.Composable:
    return sql.SQL("r.{} = {}").format(sql.Identifier(name), sql.Placeholder(name))


RELEASES = paging.Listing(
    name="releases",
    source=sql.SQL("release r JOIN hazard_area h ON h.id = r.hazard_area_id"),
    id=sql.SQL("r.id"),
    sort_keys={
        "release_date": paging.SortKey(sql.SQL("r.release_date"), "date"),
        "area_m2": paging.SortKey(sql.SQL("r.area_m2"), "double precision"),
        "created_at": paging.SortKey(sql.SQL("r.created_at"), "timestamptz"),
    },
    default_sort="release_date",
    filters={
        "bbox": sql.SQL("r.geom && ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, "
                        "4326)"),
        "organisation_id": _column("organisation_id"),
        "project_id": _column("project_id"),
        "donor_id": _column("donor_id"),
        "admin_area_id": _column("admin_area_id"),
        "date_from": sql.SQL("r.release_date >= %(date_from)s"),
        "date_to": sql.SQL("r.release_date <= %(date_to)s"),
        "hazard_area_id": _column("hazard_area_id"),
        "activity_report_id": _column("activity_report_id"),
        "product": _column("product"),
        "method": _column("method"),
        "technical_asset": _column("technical_asset"),
        # the hazard area's state now (as the hazard-area listing filters it)
        "classification": sql.SQL("h.classification = %(classification)s"),
        "status": sql.SQL("h.status = %(status)s"),
    })


def list_releases(conn: psycopg.Connection, *, principal: Principal,
                  filters: paging.ListFilter | None = None, sort: str | None = None,
                  cursor: str | None = None, limit: int = paging.DEFAULT_LIMIT) -> paging.Page:
    """A keyset page of the releases the principal may see, as GeoJSON features."""
    return paging.fetch_page(conn, RELEASES, select=_feature_sql(),
                             scope=access.release_scope(principal, "h", "r"),
                             filters=filters, sort=sort, cursor=cursor, limit=limit)


RELEASE_BY_ID = """
SELECT {feature} FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id
WHERE r.id = %(id)s AND {scope}
"""


def release_feature(conn: psycopg.Connection, *, principal: Principal,
                    release_id: UUID) -> dict[str, Any]:
    """One release as a GeoJSON feature; NotFound if absent or out of the caller's sight."""
    query = sql.SQL(RELEASE_BY_ID).format(feature=_feature_sql(),
                                          scope=access.release_scope(principal, "h", "r"))
    row = conn.execute(query, {"id": release_id}).fetchone()
    if row is None:
        raise NotFound(f"no release with id {release_id}")
    return dict(row[0])
