"""The conservation invariant over the whole store (`demine check`), and its repair.

area_m2 = cancelled + reduced + cleared + remaining, to 0.01 m² plus a relative 1e-9
(DESIGN.md section 4), where remaining is measured from the remaining pieces' geometry and
must also equal the kept remaining_area_m2. One query finds every offender; repair
rebuilds the remaining pieces of the ids it is given from their releases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from survey.domain.vocab import AuditAction
from survey.ledger.boundary import RECOMPUTE_REMAINING
from survey.store import repo

ABS_TOLERANCE_M2 = 0.01
REL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Discrepancy:
    hazard_area_id: UUID
    local_id: str
    area_m2: float
    cancelled_m2: float
    reduced_m2: float
    cleared_m2: float
    remaining_area_m2: float
    remaining_ground_m2: float
    discrepancy_m2: float


# The remaining ground is measured from its pieces, and the kept total must agree
OFFENDERS = """
WITH r AS (
    SELECT hazard_area_id,
           sum(area_m2) FILTER (WHERE product = 'cancelled') AS cancelled,
           sum(area_m2) FILTER (WHERE product = 'reduced') AS reduced,
           sum(area_m2) FILTER (WHERE product = 'cleared') AS cleared,
           sum(area_m2) AS released
    FROM release GROUP BY hazard_area_id
), p AS (
    SELECT hazard_area_id, sum(area_m2) AS pieces FROM remaining_piece GROUP BY hazard_area_id
), books AS (
    SELECT h.id AS hazard_area_id, h.local_id, h.area_m2,
           coalesce(r.cancelled, 0) AS cancelled_m2, coalesce(r.reduced, 0) AS reduced_m2,
           coalesce(r.cleared, 0) AS cleared_m2, h.remaining_area_m2,
           coalesce(p.pieces, 0) AS remaining_ground_m2,
           h.area_m2 - coalesce(r.released, 0) - coalesce(p.pieces, 0) AS discrepancy_m2
    FROM hazard_area h
    LEFT JOIN r ON r.hazard_area_id = h.id
    LEFT JOIN p ON p.hazard_area_id = h.id
)
SELECT * FROM books
WHERE abs(discrepancy_m2) > %(abs)s + %(rel)s * area_m2
   OR abs(remaining_area_m2 - remaining_ground_m2) > %(abs)s + %(rel)s * area_m2
ORDER BY local_id
"""

# the attribution kept on each release (who, which project and donor, which admin area)
# must be what its report, task, project and hazard area say now
ATTRIBUTION_DRIFT = """
SELECT count(*)
FROM release r JOIN release_attribution_derived d ON d.release_id = r.id
WHERE (r.organisation_id, r.project_id, r.donor_id, r.admin_area_id)
      IS DISTINCT FROM (d.organisation_id, d.project_id, d.donor_id, d.admin_area_id)
"""

# the summary table must equal a fresh aggregation of the releases (nil UUID stands for
# "none" so that the full join matches keys with NULLs in them)
SUMMARY_DRIFT = """
WITH fresh AS (
    SELECT programme_id, day, product, method, technical_asset,
           coalesce(organisation_id, %(nil)s) AS o, coalesce(project_id, %(nil)s) AS p,
           coalesce(donor_id, %(nil)s) AS d, coalesce(admin_area_id, %(nil)s) AS a,
           sum(area_m2) AS area_m2, count(*) AS releases
    FROM release_attribution GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
), kept AS (
    SELECT programme_id, day, product, method, technical_asset,
           coalesce(organisation_id, %(nil)s) AS o, coalesce(project_id, %(nil)s) AS p,
           coalesce(donor_id, %(nil)s) AS d, coalesce(admin_area_id, %(nil)s) AS a,
           area_m2, releases
    FROM ledger_daily WHERE releases <> 0
)
SELECT count(*) FROM fresh FULL JOIN kept
    USING (programme_id, day, product, method, technical_asset, o, p, d, a)
WHERE fresh.releases IS DISTINCT FROM kept.releases
   OR abs(coalesce(fresh.area_m2, 0) - coalesce(kept.area_m2, 0)) > %(abs)s
"""


# the rollup must equal the daily summary rolled up
ROLLUP_DRIFT = """
WITH want AS (
    SELECT programme_id, day, product, dimension, coalesce(method, '-') AS m,
           coalesce(technical_asset::text, '-') AS t, coalesce(key_id, %(nil)s) AS k,
           area_m2, releases
    FROM ledger_rollup_of_daily WHERE releases <> 0
), kept AS (
    SELECT programme_id, day, product, dimension, coalesce(method, '-') AS m,
           coalesce(technical_asset::text, '-') AS t, coalesce(key_id, %(nil)s) AS k,
           area_m2, releases
    FROM ledger_rollup WHERE releases <> 0
)
SELECT count(*) FROM want FULL JOIN kept USING (programme_id, day, product, dimension, m, t, k)
WHERE want.releases IS DISTINCT FROM kept.releases
   OR abs(coalesce(want.area_m2, 0) - coalesce(kept.area_m2, 0)) > %(abs)s
"""


def find_discrepancies(conn: psycopg.Connection) -> list[Discrepancy]:
    """Every hazard area whose books do not balance."""
    with conn.cursor(row_factory=class_row(Discrepancy)) as cur:
        return cur.execute(OFFENDERS, {"abs": ABS_TOLERANCE_M2, "rel": REL_TOLERANCE}).fetchall()


def summary_drift(conn: psycopg.Connection) -> int:
    """How many rows differ from what they summarise (0 when in step): the releases'
    attribution against its sources, the daily summary against the releases, the rollup
    against the daily summary."""
    params = {"abs": ABS_TOLERANCE_M2, "nil": UUID(int=0)}
    drift = 0
    for query in (ATTRIBUTION_DRIFT, SUMMARY_DRIFT, ROLLUP_DRIFT):
        row = conn.execute(query, params).fetchone()
        drift += int(row[0]) if row else 0
    return drift


def repair(conn: psycopg.Connection, *, hazard_area_ids: Iterable[UUID], actor: str) -> int:
    """Rebuild the remaining pieces from scratch (geom minus the union of its releases,
    on the ledger grid; slivers go into the releases they lie against)."""
    count = 0
    for hazard_area_id in hazard_area_ids:
        # locked first, so that no release is booked between reading the releases and
        # writing what remains
        conn.execute("SELECT 1 FROM hazard_area WHERE id = %s FOR UPDATE", (hazard_area_id,))
        conn.execute(RECOMPUTE_REMAINING, {"id": hazard_area_id})
        conn.execute("UPDATE hazard_area SET version = version + 1, updated_at = now() "
                     "WHERE id = %s", (hazard_area_id,))
        repo.audit(conn, actor=actor, action=AuditAction.UPDATE, entity="hazard_area",
                   entity_id=hazard_area_id, reason="demine check --repair: remaining "
                   "recomputed from the releases")
        count += 1
    return count


def rebuild_summary(conn: psycopg.Connection) -> None:
    """Derive every release's attribution again, then rebuild the daily summary and its
    rollup from the releases."""
    conn.execute("SELECT ledger_daily_rebuild()")
