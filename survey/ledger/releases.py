"""Recording a release against its hazard area (DESIGN.md section 4).

All geometry work happens in PostGIS, on the one hazard area the release touches and
only on the pieces of its remaining ground that the release reaches: containment (0.5 m
of GPS noise clipped, more refused), no double counting (an overlap with earlier
releases is refused with its area and their ids), and the remaining area reduced by
exactly the stored release in the same transaction. Every overlay runs on the ledger's
grid (0005), and a sliver that a cut would leave of the remaining ground is booked to the
release it lies against, so that the books balance and other tools' overlays agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg.rows import class_row, dict_row
from shapely.geometry import MultiPolygon

from survey.domain.models import Release
from survey.domain.vocab import HazardStatus, Method, Product
from survey.errors import InvalidGeometry, InvalidInput, LedgerConflict, NotFound
from survey.ledger.dates import check_programme_date
from survey.ledger.lifecycle import mark_worked_on
from survey.store import repo

GPS_TOLERANCE_M = 0.5
# overlaps below this are noise (slivers of remaining ground, below demine_sliver_m2() in
# 0005, go into the release that lies against them)
NOISE_M2 = 0.01
# a remaining piece grown past this many vertices (holes of releases) is cut up again
PIECE_MAX_VERTICES = 512

# The lock, then whether this release id is booked already (a retried upload), in a
# statement of its own: a statement sees what was committed when it began, so asked in the
# locking statement the question would be answered from before the wait for the lock, and
# a retry racing its original would be refused as an overlap with itself. The two travel
# in one round trip (a pipeline); the server runs the second once the first holds the lock.
LOCK_HAZARD = """
SELECT status, programme_id, remaining_area_m2
FROM hazard_area WHERE id = %(hazard_area_id)s FOR UPDATE
"""

BOOKED = "SELECT * FROM release WHERE id = %(release_id)s"

# One pass over the one hazard area: how far the release leaves the boundary, how much
# of it was already released, and the part that will be stored. The release is densified
# and put on the ledger grid first, and every overlay runs on that grid (demine_densify and
# demine_grid in 0005): boundary, releases and pieces share it, so no overlay meets two
# nearly coincident lines that floating point cannot tell apart.
MEASURE_RELEASE = """
WITH g AS (
    SELECT demine_densify(%(geom)s) AS g
), cut AS (
    SELECT g.g, h.geom AS boundary,
           ST_Difference(g.g, h.geom, demine_grid()) AS excess,
           ST_Multi(ST_CollectionExtract(ST_Intersection(g.g, h.geom, demine_grid()), 3))
               AS inside
    FROM g, hazard_area h WHERE h.id = %(hazard_area_id)s
), here AS (
    SELECT coalesce(ST_Union(p.geom, demine_grid()),
                    ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4326)) AS remaining
    FROM remaining_piece p, cut
    WHERE p.hazard_area_id = %(hazard_area_id)s AND p.geom && cut.inside
), measured AS (
    SELECT
        ST_Area(g::geography) AS submitted_m2,
        ST_Area(excess::geography) AS excess_m2,
        ST_IsEmpty(excess)
            OR ST_CoveredBy(g, ST_Buffer(boundary::geography, %(tolerance)s)::geometry)
            AS within_tolerance,
        ST_Area(ST_Difference(inside, remaining, demine_grid())::geography) AS overlap_m2,
        ST_Multi(ST_CollectionExtract(ST_Intersection(inside, remaining, demine_grid()), 3))
            AS stored,
        g AS densified
    FROM cut, here
)
SELECT *, ST_Area(stored::geography) AS stored_m2 FROM measured
"""

# The releases an overlap refusal names: those overlapped by more than a sliver, or, when
# the refused overlap is made of smaller ones (a strip along several releases), all of them.
OVERLAPPED_RELEASES = """
WITH o AS (
    SELECT id, ST_Area(ST_Intersection(geom, %(geom)s, demine_grid())::geography) AS overlap_m2
    FROM release
    WHERE hazard_area_id = %(hazard_area_id)s AND ST_Intersects(geom, %(geom)s)
)
SELECT id, overlap_m2 FROM o
WHERE overlap_m2 > demine_sliver_m2()
   OR (overlap_m2 > 0 AND NOT EXISTS (SELECT 1 FROM o WHERE overlap_m2 > demine_sliver_m2()))
ORDER BY overlap_m2 DESC
"""

# Only the pieces the release reaches are rewritten; the area's remaining_area_m2 moves
# by exactly what those pieces lost. A part of a piece that the cut leaves below the sliver
# size (demine_sliver_m2: the release drawn against an earlier line that it meant to meet)
# is not kept: it comes back (as one geometry) to be booked to the release, which lies
# against it, so that the books stay balanced and no piece keeps a sliver that would trip
# another tool's overlay of pieces and releases.
SUBTRACT_RELEASE = """
WITH before AS (
    SELECT id, geom, area_m2 FROM remaining_piece
    WHERE hazard_area_id = %(hazard_area_id)s AND geom && %(geom)s
), part AS (
    SELECT b.id, d.geom, ST_Area(d.geom::geography) < demine_sliver_m2() AS sliver
    FROM before b, ST_Dump(ST_Difference(b.geom, %(geom)s, demine_grid())) AS d
), kept AS (
    SELECT b.id, coalesce(ST_Multi(ST_Collect(part.geom) FILTER (WHERE NOT part.sliver)),
                          ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4326)) AS geom
    FROM before b LEFT JOIN part ON part.id = b.id
    GROUP BY b.id
), after AS (
    UPDATE remaining_piece p
    SET geom = kept.geom
    FROM kept WHERE p.id = kept.id
    RETURNING p.id, p.area_m2, ST_NPoints(p.geom) AS vertices, ST_IsEmpty(p.geom) AS empty
), moved AS (
    UPDATE hazard_area h
    SET remaining_area_m2 = h.remaining_area_m2
            + (SELECT coalesce(sum(area_m2), 0) FROM after)
            - (SELECT coalesce(sum(area_m2), 0) FROM before),
        version = h.version + 1, updated_at = now()
    WHERE h.id = %(hazard_area_id)s
    RETURNING h.remaining_area_m2
)
SELECT (SELECT remaining_area_m2 FROM moved),
       coalesce((SELECT array_agg(id) FROM after WHERE empty OR vertices > %(max_vertices)s),
                '{}'),
       (SELECT ST_Collect(geom) FROM part WHERE sliver)
"""

# unioned one by one with the release: a sliver thinner than the grid merges into the
# release along the edge it lies against, where alone it would collapse to a line
ABSORB_SLIVERS = """
UPDATE release r
SET geom = (SELECT ST_Multi(ST_CollectionExtract(ST_Union(x.g, demine_grid()), 3))
            FROM (SELECT r.geom AS g UNION ALL
                  SELECT d.geom FROM ST_Dump(%(slivers)s) AS d) x)
WHERE r.id = %(release_id)s
RETURNING r.*
"""

# Emptied pieces go; overgrown ones are cut up again (their area is unchanged up to the
# densified cut lines, and the area's total follows whatever that difference is).
RECUT_PIECES = """
WITH old AS (
    DELETE FROM remaining_piece WHERE id = ANY(%(ids)s) RETURNING geom, area_m2
), new AS (
    INSERT INTO remaining_piece (hazard_area_id, geom)
    SELECT %(hazard_area_id)s, p FROM old, demine_pieces(old.geom) AS p
    WHERE NOT ST_IsEmpty(old.geom)
    RETURNING area_m2
)
UPDATE hazard_area
SET remaining_area_m2 = remaining_area_m2 + (SELECT coalesce(sum(area_m2), 0) FROM new)
                        - (SELECT coalesce(sum(area_m2), 0) FROM old)
WHERE id = %(hazard_area_id)s
RETURNING remaining_area_m2
"""


@dataclass(frozen=True)
class RecordedRelease:
    """A stored release and what the ledger did with it."""

    release: Release
    submitted_m2: float
    clipped_m2: float
    remaining_area_m2: float
    warnings: tuple[str, ...]
    already_booked: bool = False


def check_product_method(release: Release) -> None:
    """IMAS 07.11: cancellation is by non-technical survey and nothing else; NTS never
    reduces or clears; a cancellation used no technical asset."""
    if (release.product == Product.CANCELLED) != (release.method == Method.NTS):
        raise InvalidInput(
            f"{release.product} land cannot be released by {release.method}: cancellation "
            "is by non-technical survey (method NTS) only, and reduction or clearance by "
            "MANUAL, MDD, MECHANICAL or COMBINED", product=release.product.value,
            method=release.method.value)
    if release.product == Product.CANCELLED and release.technical_asset:
        raise InvalidInput("cancelled land was released without a technical asset: set "
                           "technical_asset to false")


def record_release(conn: psycopg.Connection, *, release: Release, actor: str) -> RecordedRelease:
    """Store a release on its hazard area and reduce the area's remaining ground.

    A release whose id is already booked on the same area is returned as it is (a retried
    upload), checked after the area's lock so that a retry racing its original waits for
    it instead of being refused as an overlap with itself.
    """
    check_product_method(release)
    check_programme_date(conn, programme_id=release.programme_id, day=release.release_date,
                         what="release date")
    params = {"hazard_area_id": release.hazard_area_id, "geom": release.geom,
              "tolerance": GPS_TOLERANCE_M, "release_id": release.id}
    with conn.cursor() as lock, conn.cursor(row_factory=class_row(Release)) as lookup:
        with conn.pipeline():
            lock.execute(LOCK_HAZARD, params)
            lookup.execute(BOOKED, params)
        locked, booked = lock.fetchone(), lookup.fetchone()
    if locked is None:
        raise NotFound(f"no hazard area with id {release.hazard_area_id}")
    status, programme_id, remaining_now = locked
    if status in (HazardStatus.CLOSED, HazardStatus.HANDED_OVER):
        raise LedgerConflict(
            f"hazard area {release.hazard_area_id} is {status}: nothing is left to release",
            hazard_area_id=str(release.hazard_area_id))
    if programme_id != release.programme_id:
        raise LedgerConflict("the release and its hazard area belong to different programmes")
    if booked is not None:
        if booked.hazard_area_id != release.hazard_area_id:
            raise LedgerConflict(f"release {release.id} is already booked on another hazard "
                                 "area")
        return RecordedRelease(booked, (booked.area_m2 or 0) + booked.clipped_m2,
                               booked.clipped_m2, float(remaining_now),
                               ("already booked: this is the release recorded before",),
                               already_booked=True)

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
        overlapped = _overlapped(conn, release.hazard_area_id, m["densified"])
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
    subtract = {"hazard_area_id": release.hazard_area_id, "geom": saved.geom,
                "release_id": saved.id, "max_vertices": PIECE_MAX_VERTICES}
    remaining_m2, recut, slivers = next(conn.execute(SUBTRACT_RELEASE, subtract))
    if slivers is not None:  # the release takes them in (its insert's audit row is before)
        with conn.cursor(row_factory=class_row(Release)) as cur:
            saved = next(cur.execute(ABSORB_SLIVERS, {**subtract, "slivers": slivers}))
    if recut:
        remaining_m2 = next(conn.execute(RECUT_PIECES, {**subtract, "ids": recut}))[0]
    if status == HazardStatus.OPEN:
        mark_worked_on(conn, hazard_area_id=release.hazard_area_id, actor=actor,
                       reason=f"first release {saved.id}", effective=release.release_date)
    return RecordedRelease(saved, m["submitted_m2"], saved.clipped_m2, remaining_m2,
                           tuple(warnings))


def _overlapped(conn: psycopg.Connection, hazard_area_id: UUID,
                geom: MultiPolygon) -> list[tuple[UUID, float]]:
    rows = conn.execute(OVERLAPPED_RELEASES,
                        {"hazard_area_id": hazard_area_id, "geom": geom}).fetchall()
    return [(rid, area) for rid, area in rows]
