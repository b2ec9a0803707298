"""Recording a release against its hazard area (DESIGN.md section 4).

All geometry work happens in PostGIS, on the one hazard area the release touches:
containment (0.5 m of GPS noise clipped, more refused), no double counting (an overlap
with earlier releases is refused with its area and their ids), and remaining_geom
reduced by exactly the stored release in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from shapely.geometry import MultiPolygon

from survey.domain.models import Release
from survey.domain.vocab import HazardStatus
from survey.errors import InvalidGeometry, LedgerConflict, NotFound
from survey.ledger.lifecycle import mark_worked_on
from survey.store import repo

GPS_TOLERANCE_M = 0.5
# overlaps and slivers below this are floating-point noise from earlier overlays
NOISE_M2 = 0.01

DENSIFY = "SELECT demine_densify(%(geom)s)"

LOCK_HAZARD = """
SELECT status, programme_id FROM hazard_area WHERE id = %(hazard_area_id)s FOR UPDATE
"""

# One pass over the one hazard area: how far the release leaves the boundary, how much
# of it was already released, and the part that will be stored.
MEASURE_RELEASE = """
WITH hz AS (
    SELECT geom, remaining_geom FROM hazard_area WHERE id = %(hazard_area_id)s
), cut AS (
    SELECT hz.geom, hz.remaining_geom,
           ST_Difference(%(geom)s, hz.geom) AS excess,
           ST_Multi(ST_CollectionExtract(ST_Intersection(%(geom)s, hz.geom), 3)) AS inside
    FROM hz
), measured AS (
    SELECT
        ST_Area(%(geom)s::geography) AS submitted_m2,
        ST_Area(excess::geography) AS excess_m2,
        ST_IsEmpty(excess)
            OR ST_CoveredBy(%(geom)s, ST_Buffer(geom::geography, %(tolerance)s)::geometry)
            AS within_tolerance,
        ST_Area(ST_Difference(inside, remaining_geom)::geography) AS overlap_m2,
        ST_Multi(ST_CollectionExtract(ST_Intersection(inside, remaining_geom), 3)) AS stored
    FROM cut
)
SELECT *, ST_Area(stored::geography) AS stored_m2 FROM measured
"""

OVERLAPPED_RELEASES = """
SELECT id, ST_Area(ST_Intersection(geom, %(geom)s)::geography) AS overlap_m2
FROM release
WHERE hazard_area_id = %(hazard_area_id)s AND ST_Intersects(geom, %(geom)s)
ORDER BY overlap_m2 DESC
"""

SUBTRACT_RELEASE = """
UPDATE hazard_area
SET remaining_geom = ST_Multi(ST_CollectionExtract(ST_Difference(remaining_geom, %(geom)s), 3)),
    version = version + 1,
    updated_at = now()
WHERE id = %(hazard_area_id)s
RETURNING remaining_area_m2, status
"""


@dataclass(frozen=True)
class RecordedRelease:
    """A stored release and what the ledger did with it."""

    release: Release
    submitted_m2: float
    clipped_m2: float
    remaining_area_m2: float
    warnings: tuple[str, ...]


def record_release(conn: psycopg.Connection, *, release: Release, actor: str) -> RecordedRelease:
    """Store a release on its hazard area and reduce the area's remaining geometry."""
    # densified first, so that every edge the overlays cut is short (see 0002_core.sql)
    geom = next(conn.execute(DENSIFY, {"geom": release.geom}))[0]
    params = {"hazard_area_id": release.hazard_area_id, "geom": geom,
              "tolerance": GPS_TOLERANCE_M}
    locked = conn.execute(LOCK_HAZARD, params).fetchone()
    if locked is None:
        raise NotFound(f"no hazard area with id {release.hazard_area_id}")
    status, programme_id = locked
    if status in (HazardStatus.CLOSED, HazardStatus.HANDED_OVER):
        raise LedgerConflict(
            f"hazard area {release.hazard_area_id} is {status}: nothing is left to release",
            hazard_area_id=str(release.hazard_area_id))
    if programme_id != release.programme_id:
        raise LedgerConflict("the release and its hazard area belong to different programmes")

    with conn.cursor(row_factory=dict_row) as cur:
        m = next(cur.execute(MEASURE_RELEASE, params))
    warnings = []
    if not m["within_tolerance"]:
        raise LedgerConflict(
            f"the release lies {m['excess_m2']:.2f} m² outside hazard area "
            f"{release.hazard_area_id}, more than {GPS_TOLERANCE_M} m of GPS noise allows: "
            "re-survey the hazard area boundary first, or correct the release polygon",
            reason="outside_hazard_area", excess_m2=round(m["excess_m2"], 2))
    if m["excess_m2"] > NOISE_M2:
        warnings.append(f"{m['excess_m2']:.2f} m² outside the hazard area boundary "
                        f"(within {GPS_TOLERANCE_M} m GPS tolerance) was clipped")
    if m["overlap_m2"] > NOISE_M2:
        overlapped = _overlapped(conn, release.hazard_area_id, release.geom)
        raise LedgerConflict(
            f"the release overlaps earlier releases of this hazard area by "
            f"{m['overlap_m2']:.2f} m²: the same ground cannot be released twice",
            reason="overlap", overlap_m2=round(m["overlap_m2"], 2),
            overlaps=[{"release_id": str(rid), "overlap_m2": round(a, 2)}
                      for rid, a in overlapped])
    if m["stored"].is_empty or m["stored_m2"] < NOISE_M2:
        raise InvalidGeometry("nothing of the release is left inside the hazard area")
    clipped_m2 = max(0.0, m["submitted_m2"] - m["stored_m2"])
    saved = repo.insert(conn, release.model_copy(update={"geom": m["stored"],
                                                         "clipped_m2": clipped_m2}), actor=actor)
    with conn.cursor() as cur:
        remaining_m2, _ = next(cur.execute(SUBTRACT_RELEASE,
                                           {"geom": saved.geom, **params}))
    if status == HazardStatus.OPEN:
        mark_worked_on(conn, hazard_area_id=release.hazard_area_id, actor=actor,
                       reason=f"first release {saved.id}", effective=release.release_date)
    return RecordedRelease(saved, m["submitted_m2"], saved.clipped_m2, remaining_m2,
                           tuple(warnings))


def _overlapped(conn: psycopg.Connection, hazard_area_id: UUID,
                geom: MultiPolygon) -> list[tuple[UUID, float]]:
    rows = conn.execute(OVERLAPPED_RELEASES,
                        {"hazard_area_id": hazard_area_id, "geom": geom}).fetchall()
    return [(rid, area) for rid, area in rows if area > NOISE_M2]
