"""Reading the books of one hazard area: its release timeline and its history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from survey.access import Scope
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

# Remaining after each release, from the geodesic areas in the order they were booked,
# each read against the boundary in force when it was booked: an earlier boundary kept by a
# re-survey or split (hazard_area_boundary) while the release's booking time falls in its
# validity, else today's.
TIMELINE = """
SELECT r.id, r.release_date, r.product, r.method, r.technical_asset, r.depth_cm,
       r.activity_report_id, r.area_m2, r.clipped_m2, r.split_from_id, r.created_at,
       coalesce(b.area_m2, h.area_m2) - sum(r.area_m2) OVER (ORDER BY r.booked_seq)
           AS remaining_after_m2
FROM release r
JOIN hazard_area h ON h.id = r.hazard_area_id
LEFT JOIN LATERAL (
    SELECT hb.area_m2 FROM hazard_area_boundary hb
    WHERE hb.hazard_area_id = r.hazard_area_id
      AND r.created_at >= hb.valid_from AND r.created_at < hb.valid_to
    ORDER BY hb.boundary_version DESC LIMIT 1
) b ON true
WHERE r.hazard_area_id = %(id)s
ORDER BY r.booked_seq
"""

# the actor's role travels along, for those who may not see usernames (donors)
EVENTS = """
SELECT a.at, a.actor, u.role AS actor_role, a.action, a.before, a.after, a.reason
FROM audit_log a LEFT JOIN app_user u ON u.username = a.actor
WHERE a.entity = 'hazard_area' AND a.entity_id = %(id)s
ORDER BY a.at, a.id
"""

# the fields of a hazard area's audit snapshots that describe the area itself; the rest
# (submissions, organisations, geometry, ids of others' releases) stays with those who
# may see everything
AREA_FIELDS = frozenset({"local_id", "classification", "status", "effective", "area_m2",
                         "remaining_area_m2", "boundary"})

# the releases of one area that a narrowed scope lets its holder see one by one
VISIBLE_RELEASES = """
SELECT r.id FROM release r WHERE r.hazard_area_id = {id} AND {releases}
"""

BOUNDARIES = """
SELECT boundary_version, area_m2, valid_from, valid_to, reason,
       ST_AsGeoJSON(geom, 8)::json AS geometry
FROM hazard_area_boundary WHERE hazard_area_id = %(id)s ORDER BY boundary_version
"""


def _summary(conn: psycopg.Connection, hazard_area_id: UUID, scope: Scope) -> dict[str, Any]:
    query = sql.SQL(SUMMARY).format(id=sql.Literal(hazard_area_id), scope=scope.hazards("h"))
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query).fetchone()
    if row is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    return row


def ledger(conn: psycopg.Connection, *, hazard_area_id: UUID,
           scope: Scope) -> dict[str, Any]:
    """The hazard area's books: totals by product and each release with what remained."""
    summary = _summary(conn, hazard_area_id, scope)
    with conn.cursor(row_factory=dict_row) as cur:
        releases = cur.execute(TIMELINE, {"id": hazard_area_id}).fetchall()
    condition = scope.releases("r")
    if condition is not None:  # a donor: its own projects' releases, the totals whole
        query = sql.SQL(VISIBLE_RELEASES).format(id=sql.Literal(hazard_area_id),
                                                 releases=condition)
        visible = {row[0] for row in conn.execute(query)}
        releases = [release for release in releases if release["id"] in visible]
    return {"hazard_area": summary, "releases": releases}


def history(conn: psycopg.Connection, *, hazard_area_id: UUID,
            scope: Scope) -> dict[str, Any]:
    """Transitions and changes (from the audit log) and earlier boundaries."""
    summary = _summary(conn, hazard_area_id, scope)
    with conn.cursor(row_factory=dict_row) as cur:
        events = cur.execute(EVENTS, {"id": hazard_area_id}).fetchall()
        boundaries = cur.execute(BOUNDARIES, {"id": hazard_area_id}).fetchall()
    named = scope.names_people
    events = [_named(event) if named else _anonymous(event) for event in events]
    return {"hazard_area": summary, "events": events, "boundaries": boundaries}


def _named(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "actor_role"}


def _anonymous(event: dict[str, Any]) -> dict[str, Any]:
    """An event without who made it (only the role) and with only the area's own fields."""
    def area_fields(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if snapshot is None else {
            k: v for k, v in snapshot.items() if k in AREA_FIELDS}

    return {**_named(event), "actor": event["actor_role"] or "—",
            "before": area_fields(event["before"]), "after": area_fields(event["after"])}


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
