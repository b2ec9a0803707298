"""Tasks: the national authority plans work on hazard areas and assigns it to an
organisation's team; the operator reports its progress (DESIGN.md sections 3 and 5).

One function per write (load, check rights, domain rules, write, audit):
`create_task`, `update_task`, `delete_task`. Reads are scoped to the caller
(`task_scope`) and built in PostgreSQL as GeoJSON: a task's geometry is the union of its
hazard areas (null when it has none the caller may see).

Status moves planned → active → completed, with suspended in between
(`TASK_NEXT`); starting a task puts its open hazard areas to worked on (the lifecycle
rule the intake and the ledger follow), from the day work started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from survey import access
from survey.access import Scope
from survey.auth import Principal
from survey.domain.models import Task, TaskHazardArea
from survey.domain.vocab import ActivityType, HazardStatus, TaskStatus
from survey.errors import (
    Forbidden,
    IllegalTransition,
    InUse,
    InvalidInput,
    LedgerConflict,
    NotFound,
)
from survey.ledger.dates import check_programme_date
from survey.ledger.lifecycle import mark_worked_on
from survey.records import paging
from survey.records.hazards import programme_of
from survey.records.versioning import (
    check_version,
    get_live,
    refuse_nulls,
    soft_delete,
    update_versioned,
)
from survey.store import repo
from survey.store.hazards import GEOJSON_DIGITS

MAX_HAZARD_AREAS = 100

TASK_NEXT: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PLANNED: frozenset({TaskStatus.ACTIVE, TaskStatus.SUSPENDED}),
    TaskStatus.ACTIVE: frozenset({TaskStatus.SUSPENDED, TaskStatus.COMPLETED}),
    TaskStatus.SUSPENDED: frozenset({TaskStatus.ACTIVE, TaskStatus.COMPLETED}),
    TaskStatus.COMPLETED: frozenset(),
}

# what the operator of the task's organisation may change: its progress
OPERATOR_FIELDS = frozenset({"status", "actual_start", "actual_end"})
# what nobody changes through an update
FIXED_FIELDS = frozenset({"id", "programme_id", "version", "created_at", "updated_at",
                          "deleted_at", "provenance"})


@dataclass(frozen=True)
class NewTask:
    """A task as the coordinator plans it."""

    local_id: str
    activity_type: ActivityType
    hazard_area_ids: Sequence[UUID]
    organisation_id: UUID
    planned_start: date
    planned_end: date
    team_id: UUID | None = None
    project_id: UUID | None = None
    id: UUID | None = None
    programme_id: UUID | None = None  # an admin (no programme of its own) names one


# --- who sees which tasks ---------------------------------------------------------------

def programme_scope(principal: Principal, alias: str, donor_condition: sql.SQL,
                    what: str) -> sql.Composable:
    """Condition on rows (alias `alias`, with a programme_id) the principal may read
    (`access.Scope.rows`): its programme's; a donor those `donor_condition` allows; the
    public none."""
    return Scope.of(principal).rows(alias, donor_condition, what)


def task_scope(principal: Principal) -> sql.Composable:
    """Condition on task rows (alias `t`) the principal may read (`access.Scope.tasks`);
    a donor reads the tasks of projects it funds."""
    return Scope.of(principal).tasks("t")


# --- reads ------------------------------------------------------------------------------

_PROPERTIES = ("local_id", "activity_type", "organisation_id", "team_id", "project_id",
               "status", "planned_start", "planned_end", "actual_start", "actual_end",
               "version", "programme_id", "created_at", "updated_at")

# the union of its hazard areas; the hazard areas the caller may see (a donor sees the
# areas of its projects, which a task of its project is on)
TASK_FEATURE = """
json_build_object(
    'type', 'Feature', 'id', t.id,
    'geometry', (SELECT ST_AsGeoJSON(ST_Multi(ST_Union(h.geom)), {digits})::json
                 FROM task_hazard_area th JOIN hazard_area h ON h.id = th.hazard_area_id
                 WHERE th.task_id = t.id),
    'properties', json_build_object({props},
        'hazard_area_ids', coalesce((SELECT json_agg(th.hazard_area_id
                                                     ORDER BY th.hazard_area_id)
                                     FROM task_hazard_area th WHERE th.task_id = t.id),
                                    '[]'::json)))
"""


def _feature_sql() -> sql.Composable:
    props = sql.SQL(", ").join(sql.SQL("{}, t.{}").format(sql.Literal(n), sql.Identifier(n))
                               for n in _PROPERTIES)
    return sql.SQL(TASK_FEATURE).format(digits=sql.Literal(GEOJSON_DIGITS), props=props)


TASKS = paging.Listing(
    name="tasks",
    source=sql.SQL("task t"),
    id=sql.SQL("t.id"),
    sort_keys={
        "local_id": paging.SortKey(sql.SQL("t.local_id")),
        "planned_start": paging.SortKey(sql.SQL("t.planned_start"), "date"),
        "planned_end": paging.SortKey(sql.SQL("t.planned_end"), "date"),
        "status": paging.SortKey(sql.SQL("t.status")),
        "created_at": paging.SortKey(sql.SQL("t.created_at"), "timestamptz"),
    },
    default_sort="local_id",
    filters={
        "bbox": sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th JOIN hazard_area h "
            "ON h.id = th.hazard_area_id WHERE th.task_id = t.id AND h.geom && "
            "ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326))"),
        "status": sql.SQL("t.status = %(status)s"),
        "organisation_id": sql.SQL("t.organisation_id = %(organisation_id)s"),
        "project_id": sql.SQL("t.project_id = %(project_id)s"),
        "donor_id": sql.SQL("EXISTS (SELECT 1 FROM project p WHERE p.id = t.project_id "
                            "AND p.donor_id = %(donor_id)s)"),
        "admin_area_id": sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th JOIN hazard_area h "
            "ON h.id = th.hazard_area_id WHERE th.task_id = t.id "
            "AND h.admin_area_id = %(admin_area_id)s)"),
        # tasks whose planned period meets the range
        "date_from": sql.SQL("t.planned_end >= %(date_from)s"),
        "date_to": sql.SQL("t.planned_start <= %(date_to)s"),
        "hazard_area_id": sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th WHERE th.task_id = t.id "
            "AND th.hazard_area_id = %(hazard_area_id)s)"),
        "team_id": sql.SQL("t.team_id = %(team_id)s"),
        "activity_type": sql.SQL("t.activity_type = %(activity_type)s"),
    },
    live=sql.SQL("t.deleted_at IS NULL"))


def list_tasks(conn: psycopg.Connection, *, principal: Principal,
               filters: paging.ListFilter | None = None, sort: str | None = None,
               cursor: str | None = None, limit: int = paging.DEFAULT_LIMIT) -> paging.Page:
    """A keyset page of the tasks the principal may read, as GeoJSON features."""
    return paging.fetch_page(conn, TASKS, select=_feature_sql(), scope=task_scope(principal),
                             filters=filters, sort=sort, cursor=cursor, limit=limit)


TASK_BY_ID = "SELECT {feature} FROM task t WHERE t.id = %(id)s AND t.deleted_at IS NULL AND {scope}"


def task_feature(conn: psycopg.Connection, *, principal: Principal,
                 task_id: UUID) -> dict[str, Any]:
    """One task as a GeoJSON feature; NotFound if absent, deleted or out of scope."""
    query = sql.SQL(TASK_BY_ID).format(feature=_feature_sql(), scope=task_scope(principal))
    row = conn.execute(query, {"id": task_id}).fetchone()
    if row is None:
        raise NotFound(f"no task with id {task_id}")
    return dict(row[0])


def visible_task(conn: psycopg.Connection, *, principal: Principal, task_id: UUID) -> Task:
    """The live task `task_id` if the principal may read it; NotFound otherwise (so a
    caller learns nothing of tasks it may not see)."""
    query = sql.SQL("SELECT 1 FROM task t WHERE t.id = %(id)s AND {scope}").format(
        scope=task_scope(principal))
    if conn.execute(query, {"id": task_id}).fetchone() is None:
        raise NotFound(f"no task with id {task_id}")
    return get_live(conn, Task, task_id)


def task_hazard_area_ids(conn: psycopg.Connection, task_id: UUID) -> list[UUID]:
    return [row[0] for row in conn.execute(
        "SELECT hazard_area_id FROM task_hazard_area WHERE task_id = %(id)s "
        "ORDER BY hazard_area_id", {"id": task_id})]


# --- checks shared by create and update --------------------------------------------------

HAZARDS_OF = """
SELECT id, programme_id, status, local_id FROM hazard_area WHERE id = ANY(%(ids)s)
"""


def _check_hazard_areas(conn: psycopg.Connection, programme_id: UUID,
                        ids: Sequence[UUID]) -> None:
    if not ids:
        raise InvalidInput("a task works on at least one hazard area: send hazard_area_ids")
    if len(ids) > MAX_HAZARD_AREAS:
        raise InvalidInput(f"a task works on at most {MAX_HAZARD_AREAS} hazard areas")
    if len(set(ids)) != len(ids):
        raise InvalidInput("hazard_area_ids names a hazard area twice")
    found = {row[0]: row for row in conn.execute(HAZARDS_OF, {"ids": list(ids)})}
    for hazard_id in ids:
        row = found.get(hazard_id)
        if row is None or row[1] != programme_id:
            raise InvalidInput(f"no hazard area {hazard_id} in this programme",
                               hazard_area_id=str(hazard_id))
        if row[2] in (HazardStatus.CLOSED, HazardStatus.HANDED_OVER):
            raise LedgerConflict(f"hazard area {row[3]} is {row[2]}: no more work can be "
                                 "tasked on it", hazard_area_id=str(hazard_id))


ORGANISATION_OF = "SELECT programme_id FROM organisation WHERE id = %(id)s"
TEAM_OF = "SELECT organisation_id FROM team WHERE id = %(id)s"
PROJECT_OF = "SELECT programme_id FROM project WHERE id = %(id)s"


def _check_assignment(conn: psycopg.Connection, programme_id: UUID, organisation_id: UUID,
                      team_id: UUID | None, project_id: UUID | None) -> None:
    row = conn.execute(ORGANISATION_OF, {"id": organisation_id}).fetchone()
    if row is None or row[0] != programme_id:
        raise InvalidInput(f"no organisation {organisation_id} in this programme")
    if team_id is not None:
        team = conn.execute(TEAM_OF, {"id": team_id}).fetchone()
        if team is None or team[0] != organisation_id:
            raise InvalidInput(f"team {team_id} is not a team of organisation "
                               f"{organisation_id}: assign a team of the organisation tasked")
    if project_id is not None:
        project = conn.execute(PROJECT_OF, {"id": project_id}).fetchone()
        if project is None or project[0] != programme_id:
            raise InvalidInput(f"no project {project_id} in this programme")


def _check_dates(start: date, end: date, what: str = "planned") -> None:
    if end < start:
        raise InvalidInput(f"{what}_end is before {what}_start")


def _start_work(conn: psycopg.Connection, task: Task, started: date, actor: str) -> None:
    """Work has started: the task's open hazard areas are worked on from `started`."""
    for hazard_id in task_hazard_area_ids(conn, task.id):
        mark_worked_on(conn, hazard_area_id=hazard_id, actor=actor,
                       reason=f"task {task.local_id} started", effective=started)


# --- writes -----------------------------------------------------------------------------

def create_task(conn: psycopg.Connection, *, principal: Principal, new: NewTask) -> Task:
    """Plan a task on hazard areas and assign it to an organisation (and its team).

    Only the national authority (coordinator) or an admin tasks work; the hazard areas
    must be of the programme and still open or worked on; the team must belong to the
    organisation. A new task is planned; work starts with its first update to active (or
    its first progress report).
    """
    programme_id = programme_of(principal, new.programme_id)
    access.check_coordinator(principal, programme_id=programme_id)
    _check_dates(new.planned_start, new.planned_end)
    _check_hazard_areas(conn, programme_id, list(new.hazard_area_ids))
    _check_assignment(conn, programme_id, new.organisation_id, new.team_id, new.project_id)
    task = repo.insert(conn, Task(
        **({"id": new.id} if new.id else {}), programme_id=programme_id,
        local_id=new.local_id, activity_type=new.activity_type,
        organisation_id=new.organisation_id, team_id=new.team_id, project_id=new.project_id,
        status=TaskStatus.PLANNED, planned_start=new.planned_start,
        planned_end=new.planned_end), actor=principal.username)
    for hazard_id in new.hazard_area_ids:
        repo.insert(conn, TaskHazardArea(task_id=task.id, hazard_area_id=hazard_id),
                    actor=principal.username)
    return task


def _check_rights(principal: Principal, task: Task, changes: Mapping[str, Any]) -> None:
    try:
        access.check_coordinator(principal, programme_id=task.programme_id)
        return
    except Forbidden:
        pass
    access.check_write(principal, programme_id=task.programme_id,
                       organisation_id=task.organisation_id)
    others = sorted(set(changes) - OPERATOR_FIELDS)
    if others:
        raise Forbidden(f"the operator of a task reports its progress (status, actual_start, "
                        f"actual_end); {', '.join(others)} are the coordinator's to change")


def check_status_change(current: TaskStatus, target: TaskStatus) -> None:
    """IllegalTransition unless a task may move from `current` to `target`."""
    if target == current:
        return
    allowed = TASK_NEXT[current]
    if target not in allowed:
        names = ", ".join(sorted(s.value for s in allowed)) or "none (the task is completed)"
        raise IllegalTransition(f"a {current.value} task cannot become {target.value}; "
                                f"allowed: {names}", current=current.value,
                                allowed=sorted(s.value for s in allowed))


def update_task(conn: psycopg.Connection, *, principal: Principal, task_id: UUID,
                changes: Mapping[str, Any], expected_version: int) -> Task:
    """Change a task at `expected_version` (StaleVersion otherwise).

    The coordinator changes anything (re-plan, re-assign, other hazard areas); the operator
    of the task's organisation reports progress (status, actual dates). A status change
    must be one TASK_NEXT allows: active sets actual_start (default today) and puts the
    task's open hazard areas to worked on; completed sets actual_end (default today).
    """
    task = visible_task(conn, principal=principal, task_id=task_id)
    changes = dict(changes)
    fixed = sorted(set(changes) & FIXED_FIELDS)
    if fixed:
        raise InvalidInput(f"{', '.join(fixed)} cannot be changed")
    if not changes:
        raise InvalidInput("nothing to change: send the fields to change")
    _check_rights(principal, task, changes)
    check_version(task, expected_version)
    if "hazard_area_ids" in changes and changes["hazard_area_ids"] is None:
        raise InvalidInput("hazard_area_ids cannot be emptied: a task works on at least one")
    hazard_ids = changes.pop("hazard_area_ids", None)
    refuse_nulls(Task, changes)
    status = TaskStatus(changes.get("status", task.status))
    check_status_change(task.status, status)
    if status == TaskStatus.ACTIVE and task.status != TaskStatus.ACTIVE:
        changes.setdefault("actual_start", task.actual_start or date.today())
    if status == TaskStatus.COMPLETED and task.status != TaskStatus.COMPLETED:
        changes.setdefault("actual_end", task.actual_end or date.today())
    merged = task.model_copy(update=changes)
    _check_dates(merged.planned_start, merged.planned_end)
    if merged.actual_start and merged.actual_end:
        _check_dates(merged.actual_start, merged.actual_end, "actual")
    if merged.actual_end and not merged.actual_start:
        raise InvalidInput("actual_end needs actual_start: a task ends after it started")
    for name in {"actual_start", "actual_end"} & set(changes):
        # not before the programme's records begin, not in the future
        check_programme_date(conn, programme_id=task.programme_id,
                             day=getattr(merged, name), what=name)
    if {"organisation_id", "team_id", "project_id"} & set(changes):
        _check_assignment(conn, task.programme_id, merged.organisation_id, merged.team_id,
                          merged.project_id)
    # with only its hazard areas changed, the task's version moves all the same
    stored = update_versioned(conn, task, changes, expected_version=expected_version,
                              actor=principal.username)
    if hazard_ids is not None:
        _relink(conn, stored, list(hazard_ids), principal)
    if stored.status == TaskStatus.ACTIVE and task.status != TaskStatus.ACTIVE:
        _start_work(conn, stored, stored.actual_start or date.today(), principal.username)
    return stored


REPORTED_AREAS = """
SELECT DISTINCT hazard_area_id FROM activity_report
WHERE task_id = %(id)s AND deleted_at IS NULL
"""


def _relink(conn: psycopg.Connection, task: Task, hazard_ids: list[UUID],
            principal: Principal) -> None:
    """The task's hazard areas become `hazard_ids`; an area it has reports on stays."""
    current = set(task_hazard_area_ids(conn, task.id))
    wanted = set(hazard_ids)
    reported = {row[0] for row in conn.execute(REPORTED_AREAS, {"id": task.id})}
    kept_by_reports = sorted(str(h) for h in (current - wanted) & reported)
    if kept_by_reports:
        raise LedgerConflict("the task has activity reports on hazard area(s) "
                             f"{', '.join(kept_by_reports)}: they stay on the task",
                             hazard_area_ids=kept_by_reports)
    if not wanted or len(wanted) > MAX_HAZARD_AREAS:
        raise InvalidInput(f"a task works on 1 to {MAX_HAZARD_AREAS} hazard areas")
    added = [h for h in hazard_ids if h not in current]
    if added:
        _check_hazard_areas(conn, task.programme_id, added)
    for hazard_id in sorted(current - wanted):
        repo.delete(conn, TaskHazardArea, actor=principal.username, task_id=task.id,
                    hazard_area_id=hazard_id)
    for hazard_id in sorted(wanted - current):
        repo.insert(conn, TaskHazardArea(task_id=task.id, hazard_area_id=hazard_id),
                    actor=principal.username)


REPORTS_OF_TASK = """
SELECT count(*) FILTER (WHERE a.deleted_at IS NULL),
       (SELECT count(*) FROM release r JOIN activity_report x ON x.id = r.activity_report_id
        WHERE x.task_id = %(id)s)
FROM activity_report a WHERE a.task_id = %(id)s
"""


def delete_task(conn: psycopg.Connection, *, principal: Principal, task_id: UUID,
                expected_version: int | None = None) -> Task:
    """Soft-delete a task nothing was reported or booked against (the coordinator's).

    A task with releases booked through its reports is in the ledger and stays (409); one
    with reports is refused too: delete the reports first.
    """
    task = visible_task(conn, principal=principal, task_id=task_id)
    access.check_coordinator(principal, programme_id=task.programme_id)
    reports, releases = next(conn.execute(REPORTS_OF_TASK, {"id": task_id}))
    if releases:
        raise InUse(f"task {task.local_id} has {releases} release(s) booked in the ledger: "
                    "it cannot be deleted", releases=int(releases))
    if reports:
        raise InUse(f"task {task.local_id} has {reports} activity report(s): delete them "
                    "first", reports=int(reports))
    return soft_delete(conn, task, actor=principal.username,
                       expected_version=expected_version)
