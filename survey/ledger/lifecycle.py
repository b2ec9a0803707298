"""Hazard-area lifecycle (DESIGN.md section 4): classification and status transitions."""

from __future__ import annotations

from uuid import UUID

import psycopg

from survey.domain.vocab import AuditAction, HazardStatus
from survey.store import repo

SET_STATUS = """
UPDATE hazard_area
SET status = %(status)s, status_changed_at = now(), version = version + 1, updated_at = now()
WHERE id = %(hazard_area_id)s AND status = %(from_status)s
RETURNING programme_id
"""


def mark_worked_on(conn: psycopg.Connection, *, hazard_area_id: UUID, actor: str,
                   reason: str) -> bool:
    """open -> worked_on, when the first task or release touches the area; True if it moved."""
    row = conn.execute(SET_STATUS, {"status": HazardStatus.WORKED_ON.value,
                                    "from_status": HazardStatus.OPEN.value,
                                    "hazard_area_id": hazard_area_id}).fetchone()
    if row is None:
        return False
    repo.audit(conn, actor=actor, action=AuditAction.TRANSITION, entity="hazard_area",
               entity_id=hazard_area_id, programme_id=row[0],
               before={"status": HazardStatus.OPEN.value},
               after={"status": HazardStatus.WORKED_ON.value}, reason=reason)
    return True
