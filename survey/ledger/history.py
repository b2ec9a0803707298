"""Reading the books of one hazard area: its release timeline and its history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from survey.errors import InvalidInput, NotFound

SUMMARY = """
SELECT h.id, h.local_id, h.classification, h.status, h.area_m2, h.remaining_area_m2,
       h.version,
       coalesce(sum(r.area_m2) FILTER (WHERE r.product = 'cancelled'), 0) AS cancelled_m2,
       coalesce(sum(r.area_m2) FILTER (WHERE r.product = 'reduced'), 0) AS reduced_m2,
       coalesce(sum(r.area_m2) FILTER (WHERE r.product = 'cleared'), 0) AS cleared_m2
FROM hazard_area h LEFT JOIN release r ON r.hazard_area_id = h.id
WHERE h.id = {id} AND {scope}
GROUP BY h.id
"""

# remaining after each release, from the geodesic areas in the order they were booked
TIMELINE = """
SELECT r.id, r.release_date, r.product, r.method, r.technical_asset, r.depth_cm,
       r.activity_report_id, r.area_m2, r.clipped_m2, r.split_from_id, r.created_at,
       h.area_m2 - sum(r.area_m2) OVER (ORDER BY r.booked_seq) AS remaining_after_m2
FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id
WHERE r.hazard_area_id = %(id)s
ORDER BY r.booked_seq
"""

EVENTS = """
SELECT at, actor, action, before, after, reason
FROM audit_log
WHERE entity = 'hazard_area' AND entity_id = %(id)s
ORDER BY at, id
"""

BOUNDARIES = """
SELECT boundary_version, area_m2, valid_from, valid_to, reason,
       ST_AsGeoJSON(geom, 8)::json AS geometry
FROM hazard_area_boundary WHERE hazard_area_id = %(id)s ORDER BY boundary_version
"""


def _summary(conn: psycopg.Connection, hazard_area_id: UUID,
             scope: sql.Composable) -> dict[str, Any]:
    query = sql.SQL(SUMMARY).format(id=sql.Literal(hazard_area_id), scope=scope)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query).fetchone()
    if row is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    return row


def ledger(conn: psycopg.Connection, *, hazard_area_id: UUID,
           scope: sql.Composable) -> dict[str, Any]:
    """The hazard area's books: totals by product and each release with what remained."""
    summary = _summary(conn, hazard_area_id, scope)
    with conn.cursor(row_factory=dict_row) as cur:
        releases = cur.execute(TIMELINE, {"id": hazard_area_id}).fetchall()
    return {"hazard_area": summary, "releases": releases}


def history(conn: psycopg.Connection, *, hazard_area_id: UUID,
            scope: sql.Composable) -> dict[str, Any]:
    """Transitions and changes (from the audit log) and earlier boundaries."""
    summary = _summary(conn, hazard_area_id, scope)
    with conn.cursor(row_factory=dict_row) as cur:
        events = cur.execute(EVENTS, {"id": hazard_area_id}).fetchall()
        boundaries = cur.execute(BOUNDARIES, {"id": hazard_area_id}).fetchall()
    return {"hazard_area": summary, "events": events, "boundaries": boundaries}


def resolve_hazard_id(conn: psycopg.Connection, ref: str) -> UUID:
    """A hazard area's id from its UUID or its local id (e.g. UA-KH-000123)."""
    try:
        return UUID(ref)
    except ValueError:
        pass
    rows = conn.execute("SELECT id FROM hazard_area WHERE local_id = %s", (ref,)).fetchall()
    if not rows:
        raise NotFound(f"no hazard area with local id {ref}")
    if len(rows) > 1:
        raise InvalidInput(f"{len(rows)} programmes have a hazard area {ref}: give its UUID")
    return UUID(str(rows[0][0]))
