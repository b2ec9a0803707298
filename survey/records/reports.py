"""Activity reports: what a team did on a hazard area, with the land it released and the
ordnance it found, filed by the operator that did the work (DESIGN.md section 3).

One function per write: `file_report` (the report, its releases booked through the
ledger, its finds through survey.records.points, all in the caller's transaction),
`update_report`, `delete_report`, and `book_release` for a release filed later against a
report (the rule that a report's releases lie on its own hazard area lives here, for the
API's release route and any other caller).

Kinds: progress, completion (lets the coordinator close the area), cancellation (land
cancelled by non-technical survey), handover (the certificate that hands a closed area
over, with who took part and who benefits, by sex and age).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from shapely.geometry import MultiPolygon, Point

from survey import access
from survey.auth import Principal
from survey.domain.models import ActivityReport, HazardArea, Release, Task
from survey.domain.vocab import (
    DeviceCondition,
    DisposalMethod,
    HazardStatus,
    Method,
    Product,
    ReportKind,
    TaskStatus,
)
from survey.errors import (
    IllegalTransition,
    InUse,
    InvalidInput,
    LedgerConflict,
    NotFound,
)
from survey.ledger.dates import check_programme_date
from survey.ledger.lifecycle import mark_worked_on
from survey.ledger.releases import RecordedRelease, record_release
from survey.records import paging, planning, points
from survey.records.versioning import (
    check_version,
    get_live,
    refuse_nulls,
    soft_delete,
    update_versioned,
)
from survey.store import repo
from survey.store.hazards import require_visible

HANDOVER_FIELDS = ("handover_men", "handover_women", "handover_boys", "handover_girls",
                   "beneficiaries_men", "beneficiaries_women", "beneficiaries_boys",
                   "beneficiaries_girls")
# what a report's update may change (kind, area and task are what it is about)
UPDATABLE = frozenset({"team_id", "report_date", "period_start", "period_end", "team_days",
                       "depth_cm", "notes", *HANDOVER_FIELDS})
# reports of work done on the ground (a handover certificate is not)
WORK = frozenset({ReportKind.PROGRESS, ReportKind.COMPLETION, ReportKind.CANCELLATION})


@dataclass(frozen=True)
class NewRelease:
    product: Product
    method: Method
    geom: MultiPolygon
    technical_asset: bool = False
    depth_cm: int | None = None
    release_date: date | None = None  # the report's date when None
    id: UUID | None = None


@dataclass(frozen=True)
class NewFind:
    ordnance_type_id: UUID
    geom: Point
    quantity: int = 1
    found_date: date | None = None  # the report's date when None
    depth_cm: int | None = None
    condition: DeviceCondition = DeviceCondition.UNKNOWN
    disposal_method: DisposalMethod | None = None
    disposal_date: date | None = None
    id: UUID | None = None


@dataclass(frozen=True)
class NewReport:
    hazard_area_id: UUID
    kind: ReportKind
    report_date: date
    task_id: UUID | None = None
    organisation_id: UUID | None = None
    team_id: UUID | None = None
    period_start: date | None = None
    period_end: date | None = None
    team_days: float = 0
    depth_cm: int | None = None
    handover_men: int | None = None
    handover_women: int | None = None
    handover_boys: int | None = None
    handover_girls: int | None = None
    beneficiaries_men: int | None = None
    beneficiaries_women: int | None = None
    beneficiaries_boys: int | None = None
    beneficiaries_girls: int | None = None
    notes: str | None = None
    id: UUID | None = None
    releases: Sequence[NewRelease] = field(default_factory=tuple)
    finds: Sequence[NewFind] = field(default_factory=tuple)


@dataclass(frozen=True)
class FiledReport:
    report: ActivityReport
    releases: list[RecordedRelease]


# --- who sees which reports ---------------------------------------------------------------

_DONOR_REPORTS = sql.SQL(
    "EXISTS (SELECT 1 FROM task t JOIN project pr ON pr.id = t.project_id "
    "WHERE t.id = a.task_id AND pr.donor_id = {donor})")


def report_scope(principal: Principal) -> sql.Composable:
    """Condition on activity_report rows (alias `a`) the principal may read
    (planning.programme_scope); a donor reads the reports of tasks of projects it funds."""
    return planning.programme_scope(principal, "a", _DONOR_REPORTS, "activity reports")


# --- reads ----------------------------------------------------------------------------------

_COLUMNS = ("id", "task_id", "hazard_area_id", "organisation_id", "team_id", "kind",
            "report_date", "period_start", "period_end", "team_days", "depth_cm",
            *HANDOVER_FIELDS, "notes", "version", "programme_id", "created_at", "updated_at")

REPORT_JSON = """
json_build_object({columns},
    'hazard_area_status', h.status, 'remaining_area_m2', h.remaining_area_m2,
    'releases', coalesce((
        SELECT json_agg(json_build_object(
            'id', r.id, 'product', r.product, 'method', r.method,
            'release_date', r.release_date, 'area_m2', r.area_m2,
            'clipped_m2', r.clipped_m2, 'warnings', '[]'::json) ORDER BY r.booked_seq)
        FROM release r WHERE r.activity_report_id = a.id), '[]'::json),
    'finds', coalesce((
        SELECT json_agg(json_build_object(
            'id', d.id, 'ordnance_type_id', d.ordnance_type_id, 'quantity', d.quantity,
            'found_date', d.found_date) ORDER BY d.found_date, d.id)
        FROM device_find d WHERE d.activity_report_id = a.id AND d.deleted_at IS NULL),
        '[]'::json))
"""


def _report_sql() -> sql.Composable:
    columns = sql.SQL(", ").join(sql.SQL("{}, a.{}").format(sql.Literal(n), sql.Identifier(n))
                                 for n in _COLUMNS)
    return sql.SQL(REPORT_JSON).format(columns=columns)


REPORTS = paging.Listing(
    name="activity-reports",
    source=sql.SQL("activity_report a JOIN hazard_area h ON h.id = a.hazard_area_id"),
    id=sql.SQL("a.id"),
    sort_keys={
        "report_date": paging.SortKey(sql.SQL("a.report_date"), "date"),
        "created_at": paging.SortKey(sql.SQL("a.created_at"), "timestamptz"),
        "kind": paging.SortKey(sql.SQL("a.kind")),
        "team_days": paging.SortKey(sql.SQL("a.team_days::double precision"),
                                    "double precision"),
    },
    default_sort="report_date",
    filters={
        "bbox": sql.SQL("h.geom && ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, "
                        "4326)"),
        "classification": sql.SQL("h.classification = %(classification)s"),
        "organisation_id": sql.SQL("a.organisation_id = %(organisation_id)s"),
        "project_id": sql.SQL("EXISTS (SELECT 1 FROM task t WHERE t.id = a.task_id "
                              "AND t.project_id = %(project_id)s)"),
        "donor_id": sql.SQL("EXISTS (SELECT 1 FROM task t JOIN project p "
                            "ON p.id = t.project_id WHERE t.id = a.task_id "
                            "AND p.donor_id = %(donor_id)s)"),
        "admin_area_id": sql.SQL("h.admin_area_id = %(admin_area_id)s"),
        "date_from": sql.SQL("a.report_date >= %(date_from)s"),
        "date_to": sql.SQL("a.report_date <= %(date_to)s"),
        "hazard_area_id": sql.SQL("a.hazard_area_id = %(hazard_area_id)s"),
        "task_id": sql.SQL("a.task_id = %(task_id)s"),
        "team_id": sql.SQL("a.team_id = %(team_id)s"),
        "kind": sql.SQL("a.kind = %(kind)s"),
    },
    live=sql.SQL("a.deleted_at IS NULL"))


def list_reports(conn: psycopg.Connection, *, principal: Principal,
                 filters: paging.ListFilter | None = None, sort: str | None = None,
                 cursor: str | None = None, limit: int = paging.DEFAULT_LIMIT) -> paging.Page:
    """A keyset page of the reports the principal may read (JSON objects)."""
    return paging.fetch_page(conn, REPORTS, select=_report_sql(),
                             scope=report_scope(principal), filters=filters, sort=sort,
                             cursor=cursor, limit=limit)


REPORT_BY_ID = """
SELECT {report} FROM activity_report a JOIN hazard_area h ON h.id = a.hazard_area_id
WHERE a.id = %(id)s AND a.deleted_at IS NULL AND {scope}
"""


def report_json(conn: psycopg.Connection, *, principal: Principal,
                report_id: UUID) -> dict[str, Any]:
    """One report with its releases and finds; NotFound if absent, deleted or unseen."""
    query = sql.SQL(REPORT_BY_ID).format(report=_report_sql(), scope=report_scope(principal))
    row = conn.execute(query, {"id": report_id}).fetchone()
    if row is None:
        raise NotFound(f"no activity report with id {report_id}")
    return dict(row[0])


def visible_report(conn: psycopg.Connection, *, principal: Principal,
                   report_id: UUID) -> ActivityReport:
    """The live report if the principal may read it; NotFound otherwise."""
    report_json(conn, principal=principal, report_id=report_id)
    return get_live(conn, ActivityReport, report_id)


# --- rules ----------------------------------------------------------------------------------

TEAM_OF = "SELECT organisation_id FROM team WHERE id = %(id)s"


def _check_team(conn: psycopg.Connection, team_id: UUID | None, organisation_id: UUID) -> None:
    if team_id is None:
        return
    row = conn.execute(TEAM_OF, {"id": team_id}).fetchone()
    if row is None or row[0] != organisation_id:
        raise InvalidInput(f"team {team_id} is not a team of the reporting organisation")


def _check_period(report: ActivityReport) -> None:
    if report.period_start and report.period_end and report.period_end < report.period_start:
        raise InvalidInput("period_end is before period_start")
    if report.period_end and report.period_end > report.report_date:
        raise InvalidInput("the period reported on ends after the report's date")
    if report.kind != ReportKind.HANDOVER:
        given = [name for name in HANDOVER_FIELDS if getattr(report, name) is not None]
        if given:
            raise InvalidInput(f"{', '.join(given)}: only a handover certificate counts who "
                               "took part and who benefits")


def _organisation(principal: Principal, new: NewReport, task: Task | None) -> UUID:
    if task is not None:
        if new.organisation_id not in (None, task.organisation_id):
            raise InvalidInput("the report's organisation is its task's: leave "
                               "organisation_id out, or name the task's")
        return task.organisation_id
    if new.organisation_id is not None:
        return new.organisation_id
    if principal.organisation_id is not None:
        return principal.organisation_id
    raise InvalidInput("name the organisation that did the work (organisation_id), or the "
                       "task it was done under (task_id)")


def _check_task(task: Task, hazard_area_id: UUID, hazard_ids: list[UUID],
                kind: ReportKind) -> None:
    if hazard_area_id not in hazard_ids:
        raise InvalidInput(f"task {task.local_id} does not work on hazard area "
                           f"{hazard_area_id}: report on one of its areas, or ask the "
                           "coordinator to add the area to the task")
    if kind in WORK and task.status == TaskStatus.SUSPENDED:
        raise IllegalTransition(f"task {task.local_id} is suspended: resume it (status "
                                "active) before reporting more work")
    if kind == ReportKind.PROGRESS and task.status == TaskStatus.COMPLETED:
        raise IllegalTransition(f"task {task.local_id} is completed: no more progress can "
                                "be reported on it")


def _check_area(hazard: HazardArea, new: NewReport) -> None:
    closed = hazard.status in (HazardStatus.CLOSED, HazardStatus.HANDED_OVER)
    if new.kind == ReportKind.HANDOVER:
        if hazard.status != HazardStatus.CLOSED:
            raise IllegalTransition(f"hazard area {hazard.local_id} is {hazard.status}: a "
                                    "handover certificate hands over a closed area (file "
                                    "the completion report; the coordinator closes it)")
        if new.releases:
            raise InvalidInput("a handover certificate releases no land: file releases "
                               "with a progress, completion or cancellation report")
    elif closed:
        raise LedgerConflict(f"hazard area {hazard.local_id} is {hazard.status}: no more "
                             "work can be reported on it")
    if new.kind == ReportKind.CANCELLATION and any(
            r.product != Product.CANCELLED for r in new.releases):
        raise InvalidInput("a cancellation report releases cancelled land only (by "
                           "non-technical survey): file reduced or cleared land with a "
                           "progress or completion report")


# --- writes ---------------------------------------------------------------------------------

def file_report(conn: psycopg.Connection, *, principal: Principal,
                new: NewReport) -> FiledReport:
    """File a report with its releases and finds, in the caller's transaction.

    The operator that did the work files it (check_write: its own organisation; a
    coordinator may file for any). Releases are booked through the ledger
    (record_release: containment, no double counting, remaining ground reduced); finds go
    through the find rules every path shares. The first work reported on a planned task
    starts it, and an open area that work is reported on is worked on from that day.
    """
    require_visible(conn, scope=access.hazard_reader(principal),
                    hazard_area_id=new.hazard_area_id)
    hazard = repo.get(conn, HazardArea, id=new.hazard_area_id)
    task = None
    if new.task_id is not None:
        task = planning.visible_task(conn, principal=principal, task_id=new.task_id)
        _check_task(task, hazard.id, planning.task_hazard_area_ids(conn, task.id), new.kind)
    organisation_id = _organisation(principal, new, task)
    access.check_write(principal, programme_id=hazard.programme_id,
                       organisation_id=organisation_id)
    _check_area(hazard, new)
    team_id = new.team_id if new.team_id is not None else (task.team_id if task else None)
    _check_team(conn, team_id, organisation_id)
    values = {name: getattr(new, name) for name in (
        "kind", "report_date", "period_start", "period_end", "depth_cm", "notes",
        *HANDOVER_FIELDS)}
    report = ActivityReport(**({"id": new.id} if new.id else {}),
                            programme_id=hazard.programme_id, task_id=new.task_id,
                            hazard_area_id=hazard.id, organisation_id=organisation_id,
                            team_id=team_id, team_days=Decimal(str(new.team_days)), **values)
    _check_period(report)
    for name in ("report_date", "period_start", "period_end"):
        check_programme_date(conn, programme_id=hazard.programme_id,
                             day=getattr(report, name), what=name)
    stored = repo.insert(conn, report, actor=principal.username)
    started = new.period_start or new.report_date
    if task is not None and task.status == TaskStatus.PLANNED and new.kind in WORK:
        _start_task(conn, task, started, principal)
    if new.kind in (ReportKind.PROGRESS, ReportKind.COMPLETION):
        mark_worked_on(conn, hazard_area_id=hazard.id, actor=principal.username,
                       reason=f"{new.kind.value} report {stored.id}", effective=started)
    booked = [record_release(conn, release=Release(
        **({"id": r.id} if r.id else {}), programme_id=hazard.programme_id,
        activity_report_id=stored.id, hazard_area_id=hazard.id, product=r.product,
        method=r.method, technical_asset=r.technical_asset, depth_cm=r.depth_cm,
        release_date=r.release_date or new.report_date, geom=r.geom),
        actor=principal.username) for r in new.releases]
    for find in new.finds:
        points.create_device_find(conn, principal=principal, fields={
            "id": find.id, "programme_id": hazard.programme_id,
            "activity_report_id": stored.id, "hazard_area_id": hazard.id,
            "organisation_id": organisation_id, "ordnance_type_id": find.ordnance_type_id,
            "quantity": find.quantity, "found_date": find.found_date or new.report_date,
            "depth_cm": find.depth_cm, "condition": find.condition,
            "disposal_method": find.disposal_method, "disposal_date": find.disposal_date,
            "geom": find.geom})
    return FiledReport(stored, booked)


def _start_task(conn: psycopg.Connection, task: Task, started: date,
                principal: Principal) -> None:
    """The first work reported on a planned task starts it (as its operator would)."""
    update_versioned(conn, task, {"status": TaskStatus.ACTIVE,
                                  "actual_start": task.actual_start or started},
                     expected_version=task.version, actor=principal.username,
                     reason="first work reported")
    for hazard_id in planning.task_hazard_area_ids(conn, task.id):
        mark_worked_on(conn, hazard_area_id=hazard_id, actor=principal.username,
                       reason=f"task {task.local_id} started", effective=started)


def update_report(conn: psycopg.Connection, *, principal: Principal, report_id: UUID,
                  changes: Mapping[str, Any], expected_version: int) -> ActivityReport:
    """Correct a report's own fields at `expected_version` (its organisation's operator or
    a coordinator). Its releases are in the ledger and change only through it."""
    report = visible_report(conn, principal=principal, report_id=report_id)
    access.check_write(principal, programme_id=report.programme_id,
                       organisation_id=report.organisation_id)
    refused = sorted(set(changes) - UPDATABLE)
    if refused:
        raise InvalidInput(f"{', '.join(refused)} cannot be changed: file another report")
    if not changes:
        raise InvalidInput(f"send at least one of {', '.join(sorted(UPDATABLE))}")
    check_version(report, expected_version)
    changes = dict(changes)
    refuse_nulls(ActivityReport, changes)
    if "team_days" in changes:
        changes["team_days"] = Decimal(str(changes["team_days"]))
    merged = report.model_copy(update=changes)
    _check_period(merged)
    if "team_id" in changes:
        _check_team(conn, merged.team_id, report.organisation_id)
    for name in {"report_date", "period_start", "period_end"} & set(changes):
        check_programme_date(conn, programme_id=report.programme_id,
                             day=getattr(merged, name), what=name)
    return update_versioned(conn, report, changes, expected_version=expected_version,
                            actor=principal.username)


BOOKED_ON_REPORT = """
SELECT (SELECT count(*) FROM release WHERE activity_report_id = %(id)s),
       (SELECT count(*) FROM device_find WHERE activity_report_id = %(id)s
        AND deleted_at IS NULL)
"""


def delete_report(conn: psycopg.Connection, *, principal: Principal, report_id: UUID,
                  expected_version: int | None = None) -> ActivityReport:
    """Soft-delete a report that booked nothing: one with releases is in the ledger and
    stays (InUse); one with finds keeps them until they are deleted first."""
    report = visible_report(conn, principal=principal, report_id=report_id)
    access.check_write(principal, programme_id=report.programme_id,
                       organisation_id=report.organisation_id)
    releases, finds = next(conn.execute(BOOKED_ON_REPORT, {"id": report_id}))
    if releases:
        raise InUse(f"the report has {releases} release(s) booked in the ledger: it cannot "
                    "be deleted", releases=int(releases))
    if finds:
        raise InUse(f"the report has {finds} device find(s): delete them first",
                    finds=int(finds))
    return soft_delete(conn, report, actor=principal.username,
                       expected_version=expected_version)


def book_release(conn: psycopg.Connection, *, principal: Principal,
                 release: Release) -> RecordedRelease:
    """Book a release filed against an existing report: the report must be live and of
    the release's hazard area, and the caller must write for the report's organisation."""
    report = get_live(conn, ActivityReport, release.activity_report_id)
    access.check_write(principal, programme_id=report.programme_id,
                       organisation_id=report.organisation_id)
    if report.hazard_area_id != release.hazard_area_id:
        raise InvalidInput("the activity report belongs to another hazard area")
    if report.kind == ReportKind.HANDOVER:
        raise InvalidInput("a handover certificate releases no land: file the release with "
                           "a progress, completion or cancellation report")
    if report.kind == ReportKind.CANCELLATION and release.product != Product.CANCELLED:
        raise InvalidInput("a cancellation report releases cancelled land only")
    booked = record_release(conn, release=release.model_copy(
        update={"programme_id": report.programme_id}), actor=principal.username)
    if not booked.already_booked:
        # the report as read lists its releases: its ETag (the version) moves with them
        conn.execute(TOUCH_REPORT, {"id": report.id})
    return booked


TOUCH_REPORT = """
UPDATE activity_report SET version = version + 1, updated_at = now() WHERE id = %(id)s
"""
