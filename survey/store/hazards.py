"""Hazard areas as GeoJSON, built in PostGIS (ST_AsGeoJSON) and scoped to the caller."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg import sql

from survey.errors import NotFound
from survey.records import paging

if TYPE_CHECKING:
    from survey.access import Scope

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
    # the filters a report's "records behind this figure" link carries (issue 10); their
    # meaning is survey.reports.scope.hazard_rows': with a project or a donor, the areas
    # its tasks work
    statuses: tuple[str, ...] | None = None  # any of these (status=open,worked_on)
    admin_area_id: UUID | None = None
    hazard_area_id: UUID | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None


def _feature_sql(geom_column: str = "geom") -> sql.Composable:
    props = sql.SQL(", ").join(
        sql.SQL("{}, h.{}").format(sql.Literal(name), sql.Identifier(name))
        for name in PROPERTIES)
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', h.id, "
        "'geometry', ST_AsGeoJSON(h.{geom}, {digits})::json, "
        "'properties', json_build_object({props}))"
    ).format(geom=sql.Identifier(geom_column), digits=sql.Literal(GEOJSON_DIGITS), props=props)


# One GeoJSON Feature as text, concatenated rather than json_build_object(...,
# ST_AsGeoJSON(...)::json): the cast would parse every geometry's JSON again only to
# check it, a third of the cost of a page of large polygons. Both halves are JSON already
# (PostGIS and json_build_object). Pages of these leave the database joined by commas
# (string_agg) and go out as they are: decoding and encoding them again in Python cost
# more than building them (issue 8).
FEATURE_TEXT = """
'{{"type":"Feature","id":' || to_json({key})::text
|| ',"geometry":' || coalesce(ST_AsGeoJSON({geom}, {digits}), 'null')
|| ',"properties":' || json_build_object({props})::text || '}}'
"""


def feature_text_sql(key: sql.Composable, geometry: sql.Composable,
                     properties: Iterable[tuple[str, sql.Composable]]) -> sql.Composable:
    """SQL of one feature's GeoJSON text: `key` its id, `properties` (name, expression)."""
    props = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(name), expr)
                               for name, expr in properties)
    return sql.SQL(FEATURE_TEXT).format(key=key, geom=geometry,
                                        digits=sql.Literal(GEOJSON_DIGITS), props=props)


# --- how many match: exact when cheap, else the planner's estimate ---

# Below this many estimated rows the count is exact (counting the matching rows costs
# little); above it numberMatched is the planner's estimate, as counting a whole national
# store on every page would cost more than the page (OGC API Features allows an estimate).
EXACT_COUNT_BELOW = 10_000

ESTIMATE = "EXPLAIN (FORMAT JSON) SELECT 1 FROM {source} WHERE {where}"
COUNT = "SELECT count(*) FROM {source} WHERE {where}"


def count_matching(conn: psycopg.Connection, *, source: sql.Composable, where: sql.Composable,
                   params: Mapping[str, Any], at_least: int = 0,
                   exact_below: int = EXACT_COUNT_BELOW) -> tuple[int, bool]:
    """How many rows of `source` meet `where`, and whether that is exact: counted when
    the planner expects fewer than `exact_below`, else its estimate (never below
    `at_least`, the rows already seen)."""
    parts = {"source": source, "where": where}
    plan = conn.execute(sql.SQL(ESTIMATE).format(**parts), params).fetchone()
    assert plan is not None
    document = plan[0] if not isinstance(plan[0], str) else json.loads(plan[0])
    estimate = int(document[0]["Plan"]["Plan Rows"])
    if estimate < exact_below:
        row = conn.execute(sql.SQL(COUNT).format(**parts), params).fetchone()
        return (int(row[0]) if row else 0), True
    return max(estimate, at_least), False


# --- the listing of GET /api/v1/hazard-areas ---

# Sorted by (local_id, id); a page continues after a cursor (keyset) or an offset.
LISTING = paging.Listing(
    name="hazard-areas", source=sql.SQL("hazard_area h"), id=sql.SQL("h.id"),
    sort_keys={"local_id": paging.SortKey(sql.SQL("h.local_id"))}, default_sort="local_id",
    filters={
        "bbox": sql.SQL("h.geom && ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, "
                        "4326)"),
        "classification": sql.SQL("h.classification = %(classification)s"),
        "status": sql.SQL("h.status = %(status)s"),
        "organisation_id": sql.SQL("h.reporting_organisation_id = %(organisation_id)s"),
        "statuses": sql.SQL("h.status = ANY(%(statuses)s)"),
        "admin_area_id": sql.SQL("h.admin_area_id = %(admin_area_id)s"),
        "hazard_area_id": sql.SQL("h.id = %(hazard_area_id)s"),
        "project_id": sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
            "WHERE th.hazard_area_id = h.id AND t.project_id = %(project_id)s "
            "AND t.deleted_at IS NULL)"),
        "donor_id": sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
            "JOIN project p ON p.id = t.project_id "
            "WHERE th.hazard_area_id = h.id AND p.donor_id = %(donor_id)s "
            "AND t.deleted_at IS NULL)"),
    })

# The keys of the page are chosen first and only their features are built. With a bbox
# the matching keys are MATERIALIZED (an optimisation fence): the GiST index finds the
# box, the page is sorted from those few rows, and they are counted for free. Without
# the fence the planner walks the (programme_id, local_id) index in order and tests the
# box on every row it passes: 40,000-80,000 rows thrown away for a box in the middle of
# a national store (issue 8). Without a bbox that walk is the right plan (and the page
# stops after `limit` rows), so the CTE is inlined.
LIST_PAGE = """
WITH hits AS {fence} (
    SELECT h.local_id AS k, h.id AS i FROM hazard_area h WHERE {where}
), keys AS (
    SELECT k, i FROM hits WHERE {after} ORDER BY k, i LIMIT %(limit)s + 1 OFFSET %(offset)s
), page AS (
    SELECT k, i, row_number() OVER (ORDER BY k, i) AS n FROM keys
)
SELECT coalesce(string_agg({feature}, ',' ORDER BY page.n)
                FILTER (WHERE page.n <= %(limit)s), ''),
       count(*) FILTER (WHERE page.n <= %(limit)s),
       count(*) > %(limit)s,
       (array_agg(page.k ORDER BY page.n DESC) FILTER (WHERE page.n <= %(limit)s))[1],
       (array_agg(page.i ORDER BY page.n DESC) FILTER (WHERE page.n <= %(limit)s))[1],
       {total}
FROM hazard_area h JOIN page ON page.i = h.id
"""


@dataclass(frozen=True)
class FeaturePage:
    """One page of features: `features` is their GeoJSON joined by commas (no brackets),
    ready to be spliced into a FeatureCollection."""

    features: str
    returned: int
    matched: int
    exact: bool  # False when `matched` is the planner's estimate
    next_cursor: str | None  # None on the last page


def hazard_area_page(
    conn: psycopg.Connection,
    *,
    scope: Scope,
    filters: HazardFilter = HazardFilter(),
    limit: int = 1000,
    offset: int = 0,
    cursor: str | None = None,
    exact_below: int = EXACT_COUNT_BELOW,
) -> FeaturePage:
    """One page of hazard areas in (local_id, id) order, after `cursor` (from the page
    before) and `offset` rows: their features as text, how many match in all (exact with
    a bbox or on the last page, else as count_matching gives it), and the cursor of the
    next page."""
    where, params = paging.conditions(LISTING, scope.hazards("h"), paging.ListFilter(
        bbox=filters.bbox, classification=filters.classification, status=filters.status,
        organisation_id=filters.organisation_id, admin_area_id=filters.admin_area_id,
        project_id=filters.project_id, donor_id=filters.donor_id,
        equals={"statuses": list(filters.statuses) if filters.statuses else None,
                "hazard_area_id": filters.hazard_area_id}))
    after: sql.Composable = sql.SQL("TRUE")
    if cursor is not None:
        position = paging.decode_cursor(LISTING, cursor)
        after = sql.SQL("(k, i) > (%(after_key)s::text, %(after_id)s::uuid)")
        params |= {"after_key": position.key, "after_id": position.id}
    fenced = filters.bbox is not None
    statement = sql.SQL(LIST_PAGE).format(
        fence=sql.SQL("MATERIALIZED" if fenced else "NOT MATERIALIZED"), where=where,
        after=after, feature=feature_text_sql(
            sql.SQL("h.id"), sql.SQL("h.geom"),
            ((name, sql.Identifier("h", name)) for name in PROPERTIES)),
        total=sql.SQL("(SELECT count(*) FROM hits)" if fenced else "NULL::bigint"))
    row = conn.execute(statement, params | {"limit": limit, "offset": offset}).fetchone()
    assert row is not None
    features, returned, more, last_key, last_id, total = row
    next_cursor = (paging.encode_cursor(LISTING.name, LISTING.default_sort, last_key, last_id)
                   if more and last_id is not None else None)
    if total is not None:
        matched, exact = int(total), True
    elif not more and cursor is None and (returned > 0 or offset == 0):
        matched, exact = offset + returned, True  # the last page: nothing lies beyond it
    else:
        matched, exact = count_matching(conn, source=LISTING.source, where=where,
                                        params=params, at_least=offset + returned,
                                        exact_below=exact_below)
    return FeaturePage(str(features), int(returned), matched, exact, next_cursor)


def hazard_area_feature(conn: psycopg.Connection, *, scope: Scope,
                        hazard_area_id: UUID) -> dict[str, Any]:
    """One hazard area as a GeoJSON feature; NotFound if absent or out of scope."""
    query = sql.SQL("SELECT {feature} FROM hazard_area h WHERE h.id = {id} AND {scope}").format(
        feature=_feature_sql(), id=sql.Literal(hazard_area_id), scope=scope.hazards("h"))
    row = conn.execute(query).fetchone()
    if row is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    return dict(row[0])


def require_visible(conn: psycopg.Connection, *, scope: Scope,
                    hazard_area_id: UUID) -> None:
    """NotFound unless the hazard area exists and is in the caller's scope."""
    query = sql.SQL("SELECT 1 FROM hazard_area h WHERE h.id = {id} AND {scope}").format(
        id=sql.Literal(hazard_area_id), scope=scope.hazards("h"))
    if conn.execute(query).fetchone() is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
