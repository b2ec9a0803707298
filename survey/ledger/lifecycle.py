"""Hazard-area lifecycle (DESIGN.md section 4): classification and status transitions.

SHA -> CHA on direct evidence or technical-survey confirmation; open -> worked_on with the
first task or release; worked_on -> closed when the remaining area is below the
programme's threshold and a completion report exists; closed -> handed_over with a
handover certificate. Every transition is audited with its date, reason and actor; an
impossible one is an error that names the possible ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from survey.domain.vocab import AuditAction, Classification, HazardStatus
from survey.errors import IllegalTransition, InvalidInput, NotFound
from survey.ledger.dates import check_hazard_date
from survey.store import repo


class Target(StrEnum):
    """What a transition moves a hazard area to."""

    CHA = "CHA"
    WORKED_ON = "worked_on"
    CLOSED = "closed"
    HANDED_OVER = "handed_over"


STATUS_NEXT: dict[HazardStatus, Target] = {
    HazardStatus.OPEN: Target.WORKED_ON,
    HazardStatus.WORKED_ON: Target.CLOSED,
    HazardStatus.CLOSED: Target.HANDED_OVER,
}


@dataclass(frozen=True)
class Transition:
    hazard_area_id: UUID
    target: Target
    before: str
    after: str
    effective: date
    reason: str


STATE = """
SELECT h.classification, h.status, h.remaining_area_m2, h.programme_id,
       p.closure_threshold_m2,
       EXISTS (SELECT 1 FROM evidence_point e WHERE e.hazard_area_id = h.id
               AND e.evidence = 'direct' AND e.deleted_at IS NULL) AS has_direct_evidence,
       EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id
               WHERE th.hazard_area_id = h.id AND t.activity_type = 'TS'
                 AND t.status IN ('active', 'completed') AND t.deleted_at IS NULL)
           AS has_ts_task,
       EXISTS (SELECT 1 FROM device_find d WHERE d.hazard_area_id = h.id
               AND d.deleted_at IS NULL) AS has_finds,
       EXISTS (SELECT 1 FROM activity_report a WHERE a.hazard_area_id = h.id
               AND a.kind = 'completion' AND a.deleted_at IS NULL) AS has_completion,
       EXISTS (SELECT 1 FROM activity_report a WHERE a.hazard_area_id = h.id
               AND a.kind = 'handover' AND a.deleted_at IS NULL) AS has_handover
FROM hazard_area h JOIN programme p ON p.id = h.programme_id
WHERE h.id = %(id)s
FOR UPDATE OF h
"""

SET_CLASSIFICATION = """
UPDATE hazard_area SET classification = 'CHA', evidence = 'direct', version = version + 1,
       updated_at = now()
WHERE id = %(id)s
"""

SET_STATUS = """
UPDATE hazard_area
SET status = %(status)s, status_changed_at = %(effective)s, version = version + 1,
    updated_at = now()
WHERE id = %(id)s AND status = %(from_status)s
RETURNING programme_id
"""


def allowed_targets(classification: str, status: str) -> list[Target]:
    """The transitions the current state allows."""
    allowed = []
    if classification == Classification.SHA and status in (HazardStatus.OPEN,
                                                           HazardStatus.WORKED_ON):
        allowed.append(Target.CHA)
    nxt = STATUS_NEXT.get(HazardStatus(status))
    if nxt is not None:
        allowed.append(nxt)
    return allowed


def transition(conn: psycopg.Connection, *, hazard_area_id: UUID, target: Target, reason: str,
               actor: str, effective: date | None = None) -> Transition:
    """Move a hazard area to `target`, checking the conditions the standard sets."""
    check_hazard_date(conn, hazard_area_id=hazard_area_id, day=effective, what="effective date")
    if not reason.strip():
        raise InvalidInput("a transition needs a reason (what was found, which report)")
    effective = effective or date.today()
    with conn.cursor(row_factory=dict_row) as cur:
        state = cur.execute(STATE, {"id": hazard_area_id}).fetchone()
    if state is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    allowed = allowed_targets(state["classification"], state["status"])
    if target not in allowed:
        names = ", ".join(t.value for t in allowed) or "none (the area is handed over)"
        raise IllegalTransition(
            f"a {state['classification']} that is {state['status']} cannot move to "
            f"{target.value}; allowed: {names}",
            current={"classification": state["classification"], "status": state["status"]},
            allowed=[t.value for t in allowed])
    _check_conditions(target, state)
    if target == Target.CHA:
        conn.execute(SET_CLASSIFICATION, {"id": hazard_area_id})
        before, after = Classification.SHA.value, Classification.CHA.value
    else:
        conn.execute(SET_STATUS, {"status": target.value, "from_status": state["status"],
                                  "id": hazard_area_id, "effective": effective})
        before, after = state["status"], target.value
    field = "classification" if target == Target.CHA else "status"
    repo.audit(conn, actor=actor, action=AuditAction.TRANSITION, entity="hazard_area",
               entity_id=hazard_area_id, programme_id=state["programme_id"],
               before={field: before}, after={field: after, "effective": effective.isoformat()},
               reason=reason)
    return Transition(hazard_area_id, target, before, after, effective, reason)


def _check_conditions(target: Target, state: dict[str, object]) -> None:
    if target == Target.CHA and not (state["has_direct_evidence"] or state["has_ts_task"]
                                     or state["has_finds"]):
        raise IllegalTransition(
            "confirming a CHA needs direct evidence: record a direct evidence point or a "
            "device find, or a technical survey of the area that has started")
    if target == Target.CLOSED:
        remaining = float(state["remaining_area_m2"])  # type: ignore[arg-type]
        threshold = float(state["closure_threshold_m2"])  # type: ignore[arg-type]
        missing = []
        if remaining > threshold:
            missing.append(f"{remaining:.2f} m² remain (the programme closes areas with at "
                           f"most {threshold:g} m² left)")
        if not state["has_completion"]:
            missing.append("no completion report is recorded")
        if missing:
            raise IllegalTransition("the area cannot be closed: " + "; ".join(missing))
    if target == Target.HANDED_OVER and not state["has_handover"]:
        raise IllegalTransition("handing over needs a handover certificate: record an "
                                "activity report of kind 'handover' first")


def mark_worked_on(conn: psycopg.Connection, *, hazard_area_id: UUID, actor: str,
                   reason: str, effective: date | None = None) -> bool:
    """open -> worked_on, when the first task or release touches the area; True if it moved."""
    effective = effective or date.today()
    row = conn.execute(SET_STATUS, {"status": HazardStatus.WORKED_ON.value,
                                    "from_status": HazardStatus.OPEN.value,
                                    "id": hazard_area_id, "effective": effective}).fetchone()
    if row is None:
        return False
    repo.audit(conn, actor=actor, action=AuditAction.TRANSITION, entity="hazard_area",
               entity_id=hazard_area_id, programme_id=row[0],
               before={"status": HazardStatus.OPEN.value},
               after={"status": HazardStatus.WORKED_ON.value,
                      "effective": effective.isoformat()}, reason=reason)
    return True
