"""Boundary changes that keep the books straight: re-survey and split.

A re-survey (technical survey improves the boundary) keeps the old boundary in
hazard_area_boundary and recomputes what remains against the new one (the one place
where a union over the area's releases is affordable: boundaries change rarely). A split (the part
that cannot be finished now becomes its own hazard area, DOMAIN.md 2.1) carries the
releases inside the part with it; a release that straddles the cut is split in two, the
new piece pointing at the release it came from (`split_from_id`).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.rows import class_row, dict_row
from shapely.geometry.base import BaseGeometry

from survey.domain.geometry import as_multipolygon
from survey.domain.models import HazardArea
from survey.domain.vocab import AuditAction, HazardStatus
from survey.errors import InvalidGeometry, LedgerConflict, NotFound, StaleVersion
from survey.ledger.dates import check_hazard_date
from survey.ledger.lifecycle import mark_worked_on
from survey.ledger.releases import GPS_TOLERANCE_M, NOISE_M2
from survey.store import repo

LOCK = "SELECT * FROM hazard_area WHERE id = %(id)s FOR UPDATE"

RELEASES_OUTSIDE = """
WITH b AS (SELECT demine_densify(%(geom)s) AS g)
SELECT r.id, ST_Area(ST_Difference(r.geom, b.g)::geography) AS outside_m2,
       ST_CoveredBy(r.geom, ST_Buffer(b.g::geography, %(tolerance)s)::geometry) AS within_noise
FROM release r, b
WHERE r.hazard_area_id = %(id)s AND NOT ST_CoveredBy(r.geom, b.g)
"""

KEEP_BOUNDARY = """
INSERT INTO hazard_area_boundary (hazard_area_id, boundary_version, geom, valid_from,
                                  valid_to, reason)
SELECT h.id, coalesce((SELECT max(boundary_version) FROM hazard_area_boundary
                       WHERE hazard_area_id = h.id), 0) + 1,
       h.geom,
       coalesce((SELECT max(valid_to) FROM hazard_area_boundary WHERE hazard_area_id = h.id),
                h.created_at),
       now(), %(reason)s
FROM hazard_area h WHERE h.id = %(id)s
"""

# A boundary change is rare: recomputing remaining from the area's releases (here and
# after a split) is where a union over its history is affordable.
# released land that the new line misses by GPS noise stays inside: the boundary takes it in
SET_BOUNDARY = """
WITH b AS (SELECT demine_densify(%(geom)s) AS g)
UPDATE hazard_area h
SET geom = ST_Multi(ST_CollectionExtract(ST_Union(b.g, coalesce(
        (SELECT ST_Union(r.geom, demine_grid()) FROM release r
         WHERE r.hazard_area_id = %(id)s AND NOT ST_CoveredBy(r.geom, b.g)),
        ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4326)), demine_grid()), 3)),
    date_of_information = %(effective)s,
    version = version + 1,
    updated_at = now()
FROM b
WHERE h.id = %(id)s
"""

# geom minus the union of its releases, on the ledger grid; slivers of what remains go
# into the release they lie against (demine_recompute_remaining in 0005)
RECOMPUTE_REMAINING = """
UPDATE hazard_area SET remaining_area_m2 = demine_recompute_remaining(id) WHERE id = %(id)s
"""


def _locked(conn: psycopg.Connection, hazard_area_id: UUID) -> HazardArea:
    with conn.cursor(row_factory=class_row(HazardArea)) as cur:
        hazard = cur.execute(LOCK, {"id": hazard_area_id}).fetchone()
    if hazard is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    if hazard.status in (HazardStatus.CLOSED, HazardStatus.HANDED_OVER):
        raise LedgerConflict(f"hazard area {hazard.local_id} is {hazard.status}: its boundary "
                             "can no longer change")
    return hazard


IN_EXTENT = """
SELECT ST_CoveredBy(%(geom)s, extent) FROM programme WHERE id = %(programme_id)s
"""


def _check_extent(conn: psycopg.Connection, hazard: HazardArea, geom: BaseGeometry) -> None:
    row = conn.execute(IN_EXTENT, {"geom": geom, "programme_id": hazard.programme_id}
                       ).fetchone()
    if row is None or not row[0]:
        raise InvalidGeometry("the boundary lies outside the programme's country: are "
                              "longitude and latitude swapped, or the coordinates projected "
                              "(metres) instead of degrees?")


def _check_version(hazard: HazardArea, expected_version: int | None) -> None:
    if expected_version is not None and hazard.version != expected_version:
        raise StaleVersion(f"hazard area {hazard.local_id} changed since version "
                             f"{expected_version} (now {hazard.version}): reload it first",
                             current_version=hazard.version)


def resurvey(conn: psycopg.Connection, *, hazard_area_id: UUID, geom: Any, reason: str,
             actor: str, effective: date | None = None,
             expected_version: int | None = None) -> HazardArea:
    """Replace the boundary; the old one goes to history, remaining is recomputed.

    Every release already recorded must lie inside the new boundary: released land
    cannot be surveyed out of the books. Where the new line misses a release by no more
    than GPS noise (0.5 m), the boundary is widened to take the release in.
    """
    check_hazard_date(conn, hazard_area_id=hazard_area_id, day=effective, what="effective date")
    new_geom = as_multipolygon(geom)
    hazard = _locked(conn, hazard_area_id)
    _check_version(hazard, expected_version)
    _check_extent(conn, hazard, new_geom)
    params = {"id": hazard_area_id, "geom": new_geom, "reason": reason,
              "effective": effective or date.today(), "tolerance": GPS_TOLERANCE_M}
    outside = [(rid, area) for rid, area, within_noise
               in conn.execute(RELEASES_OUTSIDE, params) if not within_noise]
    if outside:
        raise LedgerConflict(
            f"{len(outside)} release(s) would lie outside the new boundary "
            f"({sum(a for _, a in outside):.2f} m² in all): the new boundary must include "
            "all land already released",
            reason="releases_outside",
            releases=[{"release_id": str(rid), "outside_m2": round(a, 2)} for rid, a in outside])
    conn.execute(KEEP_BOUNDARY, params)
    conn.execute(SET_BOUNDARY, params)
    conn.execute(RECOMPUTE_REMAINING, params)
    after = repo.get(conn, HazardArea, id=hazard_area_id)
    repo.audit(conn, actor=actor, action=AuditAction.UPDATE, entity="hazard_area",
               entity_id=hazard_area_id, programme_id=hazard.programme_id,
               before={"boundary": "re-survey", "area_m2": hazard.area_m2,
                       "remaining_area_m2": hazard.remaining_area_m2},
               after={"area_m2": after.area_m2, "remaining_area_m2": after.remaining_area_m2},
               reason=reason)
    return after


CUT = """
WITH h AS (SELECT geom FROM hazard_area WHERE id = %(id)s),
     c AS (SELECT ST_Multi(ST_CollectionExtract(
                      ST_Intersection(h.geom, demine_densify(%(part)s), demine_grid()), 3)) AS g
           FROM h)
SELECT c.g AS cut, ST_Area(c.g::geography) AS cut_m2,
       ST_Area(ST_Difference(h.geom, c.g, demine_grid())::geography) AS rest_m2
FROM h, c
"""

RELEASES_IN_CUT = """
SELECT r.id, ST_Area(ST_Intersection(r.geom, %(cut)s, demine_grid())::geography) AS inside_m2,
       ST_Area(ST_Difference(r.geom, %(cut)s, demine_grid())::geography) AS outside_m2
FROM release r
WHERE r.hazard_area_id = %(id)s AND ST_Intersects(r.geom, %(cut)s)
"""

MOVE_RELEASE = "UPDATE release SET hazard_area_id = %(child)s WHERE id = %(release)s"

# the straddling release keeps its id and the part outside the cut; the part inside
# becomes a new release of the child area, with the same report, product and method
SPLIT_RELEASE = """
WITH piece AS (
    INSERT INTO release (id, programme_id, activity_report_id, hazard_area_id, product, method,
                         technical_asset, depth_cm, release_date, geom, clipped_m2,
                         split_from_id)
    SELECT %(new_id)s, programme_id, activity_report_id, %(child)s, product, method,
           technical_asset, depth_cm, release_date,
           ST_Multi(ST_CollectionExtract(ST_Intersection(geom, %(cut)s, demine_grid()), 3)),
           0, id
    FROM release WHERE id = %(release)s
    RETURNING id
)
UPDATE release
SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(geom, %(cut)s, demine_grid()), 3))
WHERE id = %(release)s
"""

# what remains of both is then recomputed from their releases (RECOMPUTE_REMAINING)
SHRINK_PARENT = """
UPDATE hazard_area
SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(geom, %(cut)s, demine_grid()), 3)),
    version = version + 1, updated_at = now()
WHERE id = %(id)s
"""


def split(conn: psycopg.Connection, *, hazard_area_id: UUID, part: BaseGeometry | dict[str, Any],
          reason: str, actor: str, local_id: str | None = None,
          effective: date | None = None, expected_version: int | None = None) -> HazardArea:
    """Split `part` off a hazard area into a new one; releases follow their ground.

    Returns the new hazard area. The parent keeps the rest, its old boundary goes to
    history, and both satisfy the conservation invariant afterwards.
    """
    check_hazard_date(conn, hazard_area_id=hazard_area_id, day=effective, what="effective date")
    part_geom = as_multipolygon(part)
    parent = _locked(conn, hazard_area_id)
    _check_version(parent, expected_version)
    _check_extent(conn, parent, part_geom)
    with conn.cursor(row_factory=dict_row) as cur:
        cut = next(cur.execute(CUT, {"id": hazard_area_id, "part": part_geom}))
    if cut["cut_m2"] < NOISE_M2:
        raise InvalidGeometry("the part to split off does not overlap the hazard area")
    if cut["rest_m2"] < NOISE_M2:
        raise InvalidGeometry("the part to split off covers the whole hazard area: "
                              "change its attributes instead")
    params: dict[str, Any] = {"id": hazard_area_id, "cut": cut["cut"], "reason": reason}
    conn.execute(KEEP_BOUNDARY, params)
    child = repo.insert(conn, HazardArea(
        programme_id=parent.programme_id,
        local_id=local_id or _child_local_id(conn, parent),
        name=parent.name, classification=parent.classification,
        status=HazardStatus.OPEN, contamination=parent.contamination,
        evidence=parent.evidence, land_use=parent.land_use, priority=parent.priority,
        reporting_organisation_id=parent.reporting_organisation_id,
        admin_area_id=parent.admin_area_id, parent_id=parent.id,
        date_of_information=effective or date.today(), source_crs=parent.source_crs,
        geom=cut["cut"]), actor=actor, reason=reason)
    params["child"] = child.id
    moved = 0
    for release_id, inside_m2, outside_m2 in conn.execute(RELEASES_IN_CUT, params).fetchall():
        if inside_m2 <= NOISE_M2:
            continue
        if outside_m2 <= NOISE_M2:
            conn.execute(MOVE_RELEASE, {"child": child.id, "release": release_id})
        else:
            conn.execute(SPLIT_RELEASE, {**params, "release": release_id, "new_id": uuid4()})
        moved += 1
    conn.execute(SHRINK_PARENT, params)
    conn.execute(RECOMPUTE_REMAINING, params)
    conn.execute(RECOMPUTE_REMAINING, {"id": child.id})
    if moved:
        mark_worked_on(conn, hazard_area_id=child.id, actor=actor,
                       reason=f"split from {parent.local_id} with {moved} release(s)",
                       effective=effective)
    repo.audit(conn, actor=actor, action=AuditAction.UPDATE, entity="hazard_area",
               entity_id=parent.id, programme_id=parent.programme_id,
               before={"area_m2": parent.area_m2},
               after={"split_into": str(child.id), "releases_moved": moved}, reason=reason)
    return repo.get(conn, HazardArea, id=child.id)


def _child_local_id(conn: psycopg.Connection, parent: HazardArea) -> str:
    """The parent's id with the first free suffix: -A to -Z, then -27, -28, ..."""
    taken = {row[0] for row in conn.execute(
        "SELECT local_id FROM hazard_area WHERE programme_id = %s AND local_id LIKE %s",
        (parent.programme_id, f"{parent.local_id}-%"))}
    for n in range(1, 10_000):
        suffix = chr(ord("A") + n - 1) if n <= 26 else str(n)
        if f"{parent.local_id}-{suffix}" not in taken:
            return f"{parent.local_id}-{suffix}"
    raise LedgerConflict(f"{parent.local_id} has been split too often: name the new area")
