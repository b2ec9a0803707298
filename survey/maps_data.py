"""What the record maps show (maps/hazard.py, maps/task.py, maps/who.py), read in PostGIS
and scoped to the caller by survey/access.py.

Everything comes back as plain dataclasses holding GeoJSON dicts: the builders in `maps`
know nothing of SQL. Geometry is simplified for the screen here (densified 10 m edges are
for the ledger's arithmetic, not for drawing), with a tolerance small enough (about a
metre) that the drawn shape cannot be told from the booked one at any useful zoom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row
from shapely.geometry import mapping, shape

from survey import access
from survey.auth import Principal
from survey.errors import InvalidInput, NotFound
from survey.ledger import history

# about 1 m at the latitudes of a programme: the densified vertices along a straight edge
# go, the corners stay
SCREEN_TOLERANCE_DEG = 0.00001
# 7 decimals of a degree is about 1 cm
SCREEN_DIGITS = 7
# admin areas are context, drawn coarser (about 50 m)
ADMIN_TOLERANCE_DEG = 0.0005

# a task map lists this many of its latest releases in its panel
LATEST_RELEASES = 10

Collection = dict[str, Any]


def collection(features: list[dict[str, Any]]) -> Collection:
    """A GeoJSON FeatureCollection of `features`."""
    return {"type": "FeatureCollection", "features": features}


@dataclass(frozen=True)
class LedgerRow:
    """One release in a hazard area's books: what remained after it is counted in the
    order releases were booked (`booked`, from 1), which a backdated report can make
    differ from the order of their dates."""

    release_id: UUID
    release_date: date
    product: str
    method: str
    area_m2: float
    remaining_after_m2: float
    booked: int


@dataclass(frozen=True)
class LedgerTable:
    """A hazard area's books: area = cancelled + reduced + cleared + remaining."""

    area_m2: float
    cancelled_m2: float
    reduced_m2: float
    cleared_m2: float
    remaining_m2: float
    rows: list[LedgerRow] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryEvent:
    """A change of a hazard area from the audit log (who: a username, or only a role for
    those who may not see names)."""

    at: Any
    actor: str
    action: str
    reason: str | None


@dataclass(frozen=True)
class HazardAreaMapData:
    """Everything the map of one hazard area draws and lists."""

    hazard_area: dict[str, Any]           # GeoJSON Feature
    remaining: dict[str, Any] | None      # GeoJSON geometry of the ground still suspect
    boundaries: Collection                # earlier boundaries (re-survey, split)
    releases: Collection                  # in date order (`order`), `booked` as booked
    evidence_points: Collection
    marker_points: Collection             # `number` counts each kind in sequence order
    device_finds: Collection
    ledger: LedgerTable
    events: list[HistoryEvent]
    tasks: list[dict[str, Any]]           # the tasks planned on it that the caller sees


@dataclass(frozen=True)
class TaskProgress:
    """Released land of a task by product against its planned area."""

    planned_m2: float
    remaining_m2: float
    cancelled_m2: float
    reduced_m2: float
    cleared_m2: float
    team_days: float
    devices: int

    @property
    def released_m2(self) -> float:
        return self.cancelled_m2 + self.reduced_m2 + self.cleared_m2

    @property
    def percent(self) -> float:
        """Released as a share of the planned area (0 when nothing was planned)."""
        return 100.0 * self.released_m2 / self.planned_m2 if self.planned_m2 > 0 else 0.0


@dataclass(frozen=True)
class TaskMapData:
    """Everything the map of one task draws and lists."""

    task: dict[str, Any]                  # the task's fields (no geometry)
    hazard_areas: Collection              # its planned area
    remaining: Collection                 # what still remains of it
    releases: Collection                  # the task's own releases, newest first
    device_finds: Collection              # the finds of the task's reports
    progress: TaskProgress
    latest: list[dict[str, Any]]          # the properties of its LATEST_RELEASES newest


@dataclass(frozen=True)
class OperatorWork:
    """One operator's tasks in one admin area, for one activity type."""

    admin_area_id: UUID
    organisation_id: UUID
    organisation: str
    acronym: str | None
    activity_type: str
    planned: int
    active: int
    suspended: int
    completed: int
    hazard_areas: int

    @property
    def tasks(self) -> int:
        return self.planned + self.active + self.suspended + self.completed


@dataclass(frozen=True)
class WhoWhatWhereData:
    """Who works where on what: admin areas with their operators, and each task as a
    point (on its planned area)."""

    admin_areas: Collection               # properties: code, name, operators, tasks
    work: list[OperatorWork]
    tasks: Collection
    organisations: list[dict[str, Any]]   # id, name, acronym, kind of those in `work`


# --- scopes -------------------------------------------------------------------------------

def _work_condition(scope: access.Scope, alias: str) -> sql.Composable:
    """Rows with an activity_report_id (releases, device finds) that the holder of
    `scope` may see one by one: a donor its own projects' work only."""
    condition = scope.releases(alias)
    return sql.SQL("TRUE") if condition is None else condition


Query = sql.SQL | sql.Composed


def _rows(conn: psycopg.Connection, query: Query,
          params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _features(conn: psycopg.Connection, query: Query,
              params: dict[str, Any]) -> Collection:
    """A FeatureCollection from a query whose one column is a GeoJSON Feature."""
    return collection([row[0] for row in conn.execute(query, params)])


def _screen(geom: str) -> sql.Composable:
    """The GeoJSON of a geometry column simplified for the screen."""
    return sql.SQL("ST_AsGeoJSON(ST_SimplifyPreserveTopology({}, %(tolerance)s), "
                   "%(digits)s)::json").format(sql.SQL(geom))


_SCREEN = {"tolerance": SCREEN_TOLERANCE_DEG, "digits": SCREEN_DIGITS}


# --- one hazard area ------------------------------------------------------------------------

HAZARD_AREA = """
SELECT json_build_object(
    'type', 'Feature', 'id', h.id, 'geometry', {geometry},
    'properties', json_build_object(
        'id', h.id, 'local_id', h.local_id, 'name', h.name,
        'classification', h.classification, 'status', h.status,
        'contamination', array_to_string(h.contamination, ', '), 'evidence', h.evidence,
        'land_use', h.land_use, 'priority', h.priority, 'beneficiaries', h.beneficiaries,
        'date_of_information', h.date_of_information, 'area_m2', h.area_m2,
        'remaining_area_m2', h.remaining_area_m2, 'organisation', o.name,
        'admin_area', a.name)) AS feature,
    {remaining} AS remaining
FROM hazard_area h
LEFT JOIN organisation o ON o.id = h.reporting_organisation_id
LEFT JOIN admin_area a ON a.id = h.admin_area_id
WHERE h.id = %(id)s AND {scope}
"""

# what remains, drawn over the area: the ground a team still has to treat
REMAINING = "ST_SimplifyPreserveTopology(demine_remaining(h.id), %(tolerance)s)"

RELEASE_SHAPES = """
SELECT r.id, {geometry} AS geometry FROM release r WHERE r.id = ANY(%(ids)s)
"""

EVIDENCE_POINTS = """
SELECT json_build_object(
    'type', 'Feature', 'id', e.id, 'geometry', ST_AsGeoJSON(e.geom, %(digits)s)::json,
    'properties', json_build_object('id', e.id, 'evidence', e.evidence,
                                    'description', e.description,
                                    'observed_on', e.observed_on))
FROM evidence_point e WHERE e.hazard_area_id = %(id)s AND e.deleted_at IS NULL
ORDER BY e.observed_on, e.id
"""

# Marker points of the area and of its releases the caller may see; each kind numbered
# in order of sequence within its owner (the area, or one release), so that the turning
# points of a boundary read 1, 2, 3 ... in the order a team walks them.
MARKER_POINTS = """
SELECT json_build_object(
    'type', 'Feature', 'id', m.id, 'geometry', ST_AsGeoJSON(m.geom, %(digits)s)::json,
    'properties', json_build_object(
        'id', m.id, 'kind', m.kind, 'sequence', m.sequence,
        'number', row_number() OVER (PARTITION BY m.release_id, m.kind
                                     ORDER BY m.sequence, m.id),
        'bearing_deg', m.bearing_deg, 'distance_m', m.distance_m,
        'description', m.description, 'release_id', m.release_id))
FROM marker_point m
WHERE m.deleted_at IS NULL
  AND (m.hazard_area_id = %(id)s
       OR m.release_id IN (SELECT r.id FROM release r
                           WHERE r.hazard_area_id = %(id)s AND {work}))
ORDER BY m.release_id NULLS FIRST, m.kind, m.sequence, m.id
"""

DEVICE_FINDS = """
SELECT json_build_object(
    'type', 'Feature', 'id', d.id, 'geometry', ST_AsGeoJSON(d.geom, %(digits)s)::json,
    'properties', json_build_object(
        'id', d.id, 'model', o.model, 'category', o.category, 'quantity', d.quantity,
        'depth_cm', d.depth_cm, 'found_date', d.found_date, 'condition', d.condition,
        'disposal_method', d.disposal_method))
FROM device_find d JOIN ordnance_type o ON o.id = d.ordnance_type_id
WHERE {where} AND {work} AND d.deleted_at IS NULL
ORDER BY d.found_date, d.id
"""

AREA_TASKS = """
SELECT t.id, t.local_id, t.activity_type, t.status, o.name AS organisation
FROM task t JOIN task_hazard_area th ON th.task_id = t.id
JOIN organisation o ON o.id = t.organisation_id
WHERE th.hazard_area_id = %(id)s AND t.deleted_at IS NULL AND {scope}
ORDER BY t.planned_start, t.local_id
"""


def hazard_area_map(conn: psycopg.Connection, *, hazard_area_id: UUID,
                    principal: Principal) -> HazardAreaMapData:
    """The map data of one hazard area the principal may read (NotFound otherwise): its
    boundary and earlier ones, what remains, its releases in date order, evidence,
    marker and device-find points, its ledger table and history."""
    scope = access.hazard_reader(principal)
    query = sql.SQL(HAZARD_AREA).format(geometry=_screen("h.geom"), scope=scope.hazards("h"),
                                        remaining=sql.SQL("ST_AsGeoJSON({}, %(digits)s)::json")
                                        .format(sql.SQL(REMAINING)))
    row = conn.execute(query, {"id": hazard_area_id, **_SCREEN}).fetchone()
    if row is None:
        raise NotFound(f"no hazard area with id {hazard_area_id}")
    feature, remaining = row
    books = history.ledger(conn, hazard_area_id=hazard_area_id, scope=scope)
    past = history.history(conn, hazard_area_id=hazard_area_id, scope=scope)
    work = _work_condition(scope, "r")
    # date order; releases of one day in the order they were booked (a stable sort)
    booked = {r["id"]: n for n, r in enumerate(books["releases"], start=1)}
    dated = sorted(books["releases"], key=lambda r: r["release_date"])
    releases = _release_features(conn, dated, booked)
    markers = _features(conn, sql.SQL(MARKER_POINTS).format(work=work),
                        {"id": hazard_area_id, **_SCREEN})
    evidence = _features(conn, sql.SQL(EVIDENCE_POINTS), {"id": hazard_area_id, **_SCREEN})
    finds = _features(conn, sql.SQL(DEVICE_FINDS).format(
        where=sql.SQL("d.hazard_area_id = %(id)s"), work=_work_condition(scope, "d")),
        {"id": hazard_area_id, **_SCREEN})
    tasks = _rows(conn, sql.SQL(AREA_TASKS).format(scope=access.Scope.of(principal).tasks("t")),
                  {"id": hazard_area_id})
    summary = books["hazard_area"]
    ledger = LedgerTable(
        area_m2=summary["area_m2"], cancelled_m2=summary["cancelled_m2"],
        reduced_m2=summary["reduced_m2"], cleared_m2=summary["cleared_m2"],
        remaining_m2=summary["remaining_area_m2"],
        rows=[LedgerRow(r["id"], r["release_date"], r["product"], r["method"], r["area_m2"],
                        r["remaining_after_m2"], booked[r["id"]]) for r in dated])
    return HazardAreaMapData(
        hazard_area=feature, remaining=remaining,
        boundaries=_boundaries(past["boundaries"]), releases=releases,
        evidence_points=evidence, marker_points=markers, device_finds=finds, ledger=ledger,
        events=[HistoryEvent(e["at"], e["actor"], e["action"], e["reason"])
                for e in past["events"]],
        tasks=tasks)


def _release_features(conn: psycopg.Connection, timeline: list[dict[str, Any]],
                      booked: dict[UUID, int]) -> Collection:
    """The releases of a ledger timeline as features in its order (`order` numbers them
    from 1, `booked` says when each was booked), their shapes simplified for the
    screen."""
    ids = [r["id"] for r in timeline]
    query = sql.SQL(RELEASE_SHAPES).format(geometry=_screen("r.geom"))
    shapes = {row[0]: row[1] for row in conn.execute(query, {"ids": ids, **_SCREEN})}
    return collection([
        {"type": "Feature", "id": str(r["id"]), "geometry": shapes[r["id"]],
         "properties": {"id": str(r["id"]), "order": n, "booked": booked[r["id"]],
                        "release_date": r["release_date"].isoformat(),
                        "product": r["product"], "method": r["method"],
                        "technical_asset": r["technical_asset"], "depth_cm": r["depth_cm"],
                        "area_m2": r["area_m2"],
                        "remaining_after_m2": r["remaining_after_m2"],
                        "activity_report_id": str(r["activity_report_id"])}}
        for n, r in enumerate(timeline, start=1)])


def _boundaries(rows: list[dict[str, Any]]) -> Collection:
    # earlier boundaries are few (one per re-survey or split): simplified here rather
    # than by a second query
    return collection([
        {"type": "Feature", "id": f"boundary-{b['boundary_version']}",
         "geometry": mapping(shapely.simplify(shape(b["geometry"]), SCREEN_TOLERANCE_DEG,
                                              preserve_topology=True)),
         "properties": {"boundary_version": b["boundary_version"], "area_m2": b["area_m2"],
                        "valid_from": b["valid_from"].isoformat(),
                        "valid_to": b["valid_to"].isoformat(), "reason": b["reason"]}}
        for b in rows])


# --- one task ------------------------------------------------------------------------------

TASK = """
SELECT t.id, t.local_id, t.activity_type, t.status, t.planned_start, t.planned_end,
       t.actual_start, t.actual_end, t.version, o.id AS organisation_id,
       o.name AS organisation, o.acronym, tm.name AS team, pr.code AS project,
       pr.name AS project_name, dn.name AS donor
FROM task t
JOIN organisation o ON o.id = t.organisation_id
LEFT JOIN team tm ON tm.id = t.team_id
LEFT JOIN project pr ON pr.id = t.project_id
LEFT JOIN donor dn ON dn.id = pr.donor_id
WHERE t.id = %(id)s AND t.deleted_at IS NULL AND {scope}
"""

TASK_AREAS = """
SELECT json_build_object(
    'type', 'Feature', 'id', h.id, 'geometry', {geometry},
    'properties', json_build_object(
        'id', h.id, 'local_id', h.local_id, 'name', h.name,
        'classification', h.classification, 'status', h.status, 'area_m2', h.area_m2,
        'remaining_area_m2', h.remaining_area_m2)) AS feature,
    json_build_object('type', 'Feature', 'id', h.id,
                      'geometry', ST_AsGeoJSON({remaining}, %(digits)s)::json,
                      'properties', json_build_object('local_id', h.local_id,
                                                      'area_m2', h.remaining_area_m2))
FROM task_hazard_area th JOIN hazard_area h ON h.id = th.hazard_area_id
WHERE th.task_id = %(id)s AND {scope}
ORDER BY h.local_id
"""

TASK_RELEASES = """
SELECT json_build_object(
    'type', 'Feature', 'id', r.id, 'geometry', {geometry},
    'properties', json_build_object(
        'id', r.id, 'hazard_area_id', r.hazard_area_id, 'hazard_area', h.local_id,
        'release_date', r.release_date, 'product', r.product, 'method', r.method,
        'technical_asset', r.technical_asset, 'depth_cm', r.depth_cm,
        'area_m2', r.area_m2, 'activity_report_id', r.activity_report_id))
FROM release r
JOIN activity_report ar ON ar.id = r.activity_report_id
JOIN hazard_area h ON h.id = r.hazard_area_id
WHERE ar.task_id = %(id)s AND {work}
ORDER BY r.release_date DESC, r.booked_seq DESC
"""

TASK_EFFORT = """
SELECT coalesce(sum(ar.team_days), 0)::float AS team_days
FROM activity_report ar WHERE ar.task_id = %(id)s AND ar.deleted_at IS NULL
"""


def task_map(conn: psycopg.Connection, *, task_id: UUID,
             principal: Principal) -> TaskMapData:
    """The map data of one task the principal may read (NotFound otherwise): its planned
    hazard areas and what remains of them, its releases (newest first) and finds, and
    its progress (released by product against the planned area)."""
    with conn.cursor(row_factory=dict_row) as cur:
        task = cur.execute(sql.SQL(TASK).format(scope=access.Scope.of(principal).tasks("t")),
                           {"id": task_id}).fetchone()
    if task is None:
        raise NotFound(f"no task with id {task_id}")
    scope = access.hazard_reader(principal)
    areas: list[dict[str, Any]] = []
    remaining: list[dict[str, Any]] = []
    query = sql.SQL(TASK_AREAS).format(geometry=_screen("h.geom"), scope=scope.hazards("h"),
                                       remaining=sql.SQL(REMAINING))
    for area, rest in conn.execute(query, {"id": task_id, **_SCREEN}):
        areas.append(area)
        if rest["geometry"] is not None:
            remaining.append(rest)
    releases = _features(conn, sql.SQL(TASK_RELEASES).format(
        geometry=_screen("r.geom"), work=_work_condition(scope, "r")),
        {"id": task_id, **_SCREEN})
    finds = _features(conn, sql.SQL(DEVICE_FINDS).format(
        where=sql.SQL("d.activity_report_id IN (SELECT ar.id FROM activity_report ar "
                      "WHERE ar.task_id = %(id)s)"),
        work=_work_condition(scope, "d")), {"id": task_id, **_SCREEN})
    effort = conn.execute(TASK_EFFORT, {"id": task_id}).fetchone()
    released = {"cancelled": 0.0, "reduced": 0.0, "cleared": 0.0}
    for feature in releases["features"]:
        props = feature["properties"]
        released[props["product"]] += props["area_m2"]
    progress = TaskProgress(
        planned_m2=sum(a["properties"]["area_m2"] for a in areas),
        remaining_m2=sum(a["properties"]["remaining_area_m2"] for a in areas),
        cancelled_m2=released["cancelled"], reduced_m2=released["reduced"],
        cleared_m2=released["cleared"], team_days=float(effort[0]) if effort else 0.0,
        devices=sum(f["properties"]["quantity"] for f in finds["features"]))
    return TaskMapData(task=task, hazard_areas=collection(areas),
                       remaining=collection(remaining), releases=releases,
                       device_finds=finds, progress=progress,
                       latest=[f["properties"] for f in releases["features"][:LATEST_RELEASES]])


# --- who does what where (3W) --------------------------------------------------------------

# Each task counts in the admin area of each hazard area it plans on: one row per admin
# area, operator and activity type, its tasks counted by status.
WORK = """
SELECT h.admin_area_id, o.id AS organisation_id, o.name AS organisation, o.acronym,
       t.activity_type,
       count(DISTINCT t.id) FILTER (WHERE t.status = 'planned') AS planned,
       count(DISTINCT t.id) FILTER (WHERE t.status = 'active') AS active,
       count(DISTINCT t.id) FILTER (WHERE t.status = 'suspended') AS suspended,
       count(DISTINCT t.id) FILTER (WHERE t.status = 'completed') AS completed,
       count(DISTINCT h.id) AS hazard_areas
FROM task t
JOIN organisation o ON o.id = t.organisation_id
JOIN task_hazard_area th ON th.task_id = t.id
JOIN hazard_area h ON h.id = th.hazard_area_id
WHERE h.admin_area_id IS NOT NULL AND t.deleted_at IS NULL AND {scope}
GROUP BY h.admin_area_id, o.id, t.activity_type
ORDER BY o.name, t.activity_type
"""

# the admin areas worked in, and their siblings for context
WORK_AREAS = """
SELECT json_build_object(
    'type', 'Feature', 'id', a.id,
    'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, %(admin_tolerance)s),
                             6)::json,
    'properties', json_build_object('id', a.id, 'code', a.code, 'name', a.name,
                                    'level', a.level))
FROM admin_area a
WHERE a.id = ANY(%(ids)s)
   OR a.parent_id IN (SELECT w.parent_id FROM admin_area w WHERE w.id = ANY(%(ids)s))
ORDER BY a.code
"""

# each task as one point on its planned area
TASK_POINTS = """
SELECT json_build_object(
    'type', 'Feature', 'id', t.id,
    'geometry', ST_AsGeoJSON(ST_PointOnSurface(ST_Collect(h.geom)), %(digits)s)::json,
    'properties', json_build_object(
        'id', t.id, 'local_id', t.local_id, 'activity_type', t.activity_type,
        'status', t.status, 'organisation_id', o.id, 'organisation', o.name,
        'acronym', o.acronym, 'team', tm.name, 'planned_start', t.planned_start,
        'planned_end', t.planned_end, 'hazard_areas', string_agg(h.local_id, ', '
                                                                 ORDER BY h.local_id)))
FROM task t
JOIN organisation o ON o.id = t.organisation_id
LEFT JOIN team tm ON tm.id = t.team_id
JOIN task_hazard_area th ON th.task_id = t.id
JOIN hazard_area h ON h.id = th.hazard_area_id
WHERE t.deleted_at IS NULL AND {scope}
GROUP BY t.id, o.id, tm.name
ORDER BY o.name, t.local_id
"""

ORGANISATIONS = """
SELECT id, name, acronym, kind FROM organisation WHERE id = ANY(%(ids)s) ORDER BY name
"""


def who_what_where(conn: psycopg.Connection, *, principal: Principal,
                   programme_id: UUID | None = None) -> WhoWhatWhereData:
    """Who works where on what, from the tasks the principal may read (of one programme
    when `programme_id` is given): per admin area (of the hazard areas a task plans on)
    each operator's tasks by activity type and status; and each task as a point."""
    scope = access.Scope.of(principal).tasks("t")
    if programme_id is not None:
        scope = sql.SQL("{} AND t.programme_id = {}").format(scope,
                                                            sql.Literal(programme_id))
    work = [OperatorWork(**row) for row in _rows(conn, sql.SQL(WORK).format(scope=scope), {})]
    worked = sorted({w.admin_area_id for w in work})
    areas = _features(conn, sql.SQL(WORK_AREAS), {"ids": worked,
                                                  "admin_tolerance": ADMIN_TOLERANCE_DEG})
    for area in areas["features"]:
        props = area["properties"]
        here = [w for w in work if str(w.admin_area_id) == str(props["id"])]
        props["operators"] = len({w.organisation_id for w in here})
        props["tasks"] = sum(w.tasks for w in here)
        props["active"] = sum(w.active for w in here)
    tasks = _features(conn, sql.SQL(TASK_POINTS).format(scope=scope), _SCREEN)
    organisations = _rows(conn, sql.SQL(ORGANISATIONS),
                          {"ids": sorted({w.organisation_id for w in work})})
    return WhoWhatWhereData(admin_areas=areas, work=work, tasks=tasks,
                            organisations=organisations)


def resolve_task_id(conn: psycopg.Connection, ref: str) -> UUID:
    """A task's id from its UUID or its local id (e.g. UA-KH-T-00012)."""
    try:
        return UUID(ref)
    except ValueError:
        pass
    rows = conn.execute("SELECT id FROM task WHERE local_id = %s AND deleted_at IS NULL",
                        (ref,)).fetchall()
    if not rows:
        raise NotFound(f"no task with local id {ref}")
    if len(rows) > 1:
        raise InvalidInput(f"{len(rows)} programmes have a task {ref}: give its UUID")
    return UUID(str(rows[0][0]))
