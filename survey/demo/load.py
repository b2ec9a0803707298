"""Writing the demo programme through the store and the ledger, and wiping it again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

import psycopg
from psycopg import sql

from survey.demo.records import DEMO_PROGRAMME_NAME, DemoData
from survey.domain.models import ALL_MODELS, Record
from survey.domain.vocab import TaskStatus
from survey.errors import InvalidInput, ProvisioningError
from survey.ledger import lifecycle, record_release
from survey.ledger.lifecycle import Target, mark_worked_on
from survey.store import repo

ORDNANCE_IDS = """
SELECT model, id FROM ordnance_type WHERE model = ANY(%(models)s)
"""


def _resolve_ordnance(conn: psycopg.Connection, data: DemoData) -> Callable[[UUID], UUID]:
    models = sorted(set(data.ordnance_models.values()))
    found: dict[str, UUID] = dict(conn.execute(ORDNANCE_IDS, {"models": models}).fetchall())
    missing = [m for m in models if m not in found]
    if missing:
        raise ProvisioningError(
            "the ordnance catalogue lacks " + ", ".join(missing)
            + ": run `demine db upgrade` so that migration 0003 seeds it")
    return lambda placeholder: found[data.ordnance_models[placeholder]]


def load(conn: psycopg.Connection, data: DemoData, *, actor: str = "demo") -> dict[str, int]:
    """Write the demo programme in the caller's transaction; return the rows per table.

    Bulk tables go through COPY (repo.copy_records); every release goes through the
    ledger (record_release), which checks it and subtracts it from its hazard area.
    """
    counts: dict[str, int] = {}

    def copy(records: Sequence[Record]) -> None:
        if records:
            table = records[0].__table__
            counts[table] = counts.get(table, 0) + repo.copy_records(
                conn, records, actor=actor, reason="demo data")

    repo.insert(conn, data.programme, actor=actor, reason="demo data")
    counts["programme"] = 1
    # parents before children: the oblast, then its hromadas
    for level in sorted({a.level for a in data.admin_areas}):
        copy([a for a in data.admin_areas if a.level == level])
    for records in (data.organisations, data.teams, data.donors, data.projects, data.users,
                    data.hazard_areas, data.evidence_points, data.marker_points, data.tasks,
                    data.task_hazard_areas, data.activity_reports):
        copy(records)
    for release in data.releases:
        record_release(conn, release=release, actor=actor)
    counts["release"] = len(data.releases)
    # a hazard area that a started task works on, but that has no release yet, is worked on
    started = {t.id for t in data.tasks if t.status != TaskStatus.PLANNED}
    released = {r.hazard_area_id for r in data.releases}
    for link in data.task_hazard_areas:
        if link.task_id in started and link.hazard_area_id not in released:
            mark_worked_on(conn, hazard_area_id=link.hazard_area_id, actor=actor,
                           reason=f"task {link.task_id} started")
    resolve = _resolve_ordnance(conn, data)
    copy([f.model_copy(update={"ordnance_type_id": resolve(f.ordnance_type_id)})
          for f in data.device_finds])
    copy([a.model_copy(update={"ordnance_type_id": resolve(a.ordnance_type_id)})
          if a.ordnance_type_id else a for a in data.accidents])
    copy(data.victims)
    counts["closed"], counts["handed_over"] = _close_finished(conn, actor)
    return counts


FINISHED = """
SELECT h.id, max(a.report_date) FILTER (WHERE a.kind = 'completion') AS completed,
       max(a.report_date) FILTER (WHERE a.kind = 'handover') AS handed_over
FROM hazard_area h
JOIN programme p ON p.id = h.programme_id
JOIN activity_report a ON a.hazard_area_id = h.id
WHERE h.status = 'worked_on' AND h.remaining_area_m2 < p.closure_threshold_m2
GROUP BY h.id
HAVING bool_or(a.kind = 'completion')
ORDER BY h.local_id
"""


def _close_finished(conn: psycopg.Connection, actor: str) -> tuple[int, int]:
    """Close the fully released areas with a completion report, and hand over those with
    a handover certificate, through the same lifecycle rules the API applies."""
    closed = handed = 0
    for hazard_id, completed, handed_over in conn.execute(FINISHED).fetchall():
        lifecycle.transition(conn, hazard_area_id=hazard_id, target=Target.CLOSED,
                             reason="completion report", actor=actor, effective=completed)
        closed += 1
        if handed_over is not None:
            lifecycle.transition(conn, hazard_area_id=hazard_id, target=Target.HANDED_OVER,
                                 reason="handover certificate", actor=actor,
                                 effective=handed_over)
            handed += 1
    return closed, handed


# Every table of the data model but the ordnance catalogue (seeded by a migration).
DATA_TABLES = [m.__table__ for m in ALL_MODELS if m.__table__ != "ordnance_type"]


OTHER_PROGRAMMES = "SELECT code, name FROM programme WHERE name <> %(demo)s ORDER BY code"


def reset(conn: psycopg.Connection) -> None:
    """Delete all programme data (the ordnance catalogue and schema versions stay).

    Refused when the database holds any programme other than the demo's: the demo must
    never wipe real records.
    """
    others = conn.execute(OTHER_PROGRAMMES, {"demo": DEMO_PROGRAMME_NAME}).fetchall()
    if others:
        raise InvalidInput(
            "this database holds real programme data (" + ", ".join(
                f"{code} {name}" for code, name in others) + "): the demo only replaces "
            "its own data; point DEMINE_DATABASE_NAME or DEMINE_DATABASE_URL at another "
            "database", programmes=[code for code, _ in others])
    conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(map(sql.Identifier, DATA_TABLES))))
