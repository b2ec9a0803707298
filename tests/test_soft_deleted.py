"""Soft-deleted field records are kept for the audit trail and count nowhere: not in
/api/v1/stats' figures, the reports, the OGC collections or the vector tiles.

A small programme is built in the test's transaction: one live and one deleted device
find, activity report, handover certificate and task, each pair alike, so every figure
below would double (or more) if a deleted row counted. The deletes go through the record
API's own functions (survey.records), as the DELETE routes call them."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import mapbox_vector_tile
import psycopg
import pytest
from shapely.geometry import MultiPolygon, Point, box

from survey import tiles
from survey.auth import Principal
from survey.domain import models as m
from survey.domain.vocab import Role
from survey.errors import NotFound
from survey.intake.export import ExportFormat, ExportKind, ExportScope, export
from survey.ledger import stats
from survey.ogc import catalogue, features
from survey.ogc.query import ItemQuery
from survey.records import planning, points, reference, reports
from survey.reports.model import Report, ReportFilters
from survey.reports.national import national_report
from survey.reports.progress import progress_report
from survey.store import repo

LON, LAT = 30.0, 48.0  # inside the test programme's extent
PERIOD = ReportFilters(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
DAY = date(2025, 3, 10)


def figure(report: Report, section_key: str, key: str) -> Any:
    section = next(s for s in report.sections if s.key == section_key)
    return next(f.value for f in section.figures if f.key == key)


@pytest.fixture
def site(conn: psycopg.Connection) -> dict[str, Any]:
    """Each kind of record twice, one of them soft-deleted through survey.records."""
    prog = repo.insert(conn, m.Programme(code="SD", country_iso="UA", name="Soft deletes",
                                         extent=box(22.1, 44.3, 40.3, 52.4)), actor="test")
    org = repo.insert(conn, m.Organisation(programme_id=prog.id, name="SD NGO", kind="ngo"),
                      actor="test")
    area = repo.insert(conn, m.HazardArea(
        programme_id=prog.id, local_id="SD-H1", classification="CHA", evidence="direct",
        reporting_organisation_id=org.id, date_of_information=date(2025, 1, 10),
        geom=MultiPolygon([box(LON - 0.001, LAT - 0.001, LON + 0.001, LAT + 0.001)])),
        actor="test")
    ordnance = conn.execute("SELECT id FROM ordnance_type ORDER BY model LIMIT 1").fetchone()
    assert ordnance is not None

    def task(local_id: str) -> m.Task:
        made = repo.insert(conn, m.Task(
            programme_id=prog.id, local_id=local_id, activity_type="CLEARANCE",
            organisation_id=org.id, status="active", planned_start=date(2025, 3, 1),
            planned_end=date(2025, 6, 30), actual_start=date(2025, 3, 1)), actor="test")
        repo.insert(conn, m.TaskHazardArea(task_id=made.id, hazard_area_id=area.id),
                    actor="test")
        return made

    def report(work: m.Task, kind: str, team_days: str, **fields: Any) -> m.ActivityReport:
        return repo.insert(conn, m.ActivityReport(
            programme_id=prog.id, hazard_area_id=area.id, organisation_id=org.id,
            task_id=work.id, kind=kind, report_date=DAY, team_days=Decimal(team_days),
            **fields), actor="test")

    def find(on: m.ActivityReport, quantity: int, dx: float) -> m.DeviceFind:
        return repo.insert(conn, m.DeviceFind(
            programme_id=prog.id, activity_report_id=on.id, hazard_area_id=area.id,
            ordnance_type_id=ordnance[0], quantity=quantity, found_date=DAY,
            disposal_method="destroyed_in_situ", disposal_date=DAY,
            geom=Point(LON + dx, LAT)), actor="test")

    live_task, dead_task = task("SD-T1"), task("SD-T2")
    live_report = report(live_task, "progress", "7")
    dead_report = report(live_task, "progress", "5")
    dead_handover = report(live_task, "handover", "1", handover_men=4, handover_women=3)
    live_find = find(live_report, 2, 0.0002)
    dead_find = find(dead_report, 3, -0.0002)

    coordinator = Principal(uuid4(), "sd-coordinator", Role.COORDINATOR, prog.id, None,
                            None)
    # a report keeps its finds and a task its reports: delete them first, as an API
    # client must
    reference.delete_record(conn, principal=coordinator, resource=points.DEVICE_FINDS,
                            record_id=dead_find.id)
    reports.delete_report(conn, principal=coordinator, report_id=dead_report.id)
    reports.delete_report(conn, principal=coordinator, report_id=dead_handover.id)
    planning.delete_task(conn, principal=coordinator, task_id=dead_task.id)
    deleted = conn.execute(
        "SELECT (SELECT count(*) FROM device_find WHERE programme_id = %(p)s "
        "        AND deleted_at IS NOT NULL), "
        "       (SELECT count(*) FROM activity_report WHERE programme_id = %(p)s "
        "        AND deleted_at IS NOT NULL), "
        "       (SELECT count(*) FROM task WHERE programme_id = %(p)s "
        "        AND deleted_at IS NOT NULL)", {"p": prog.id}).fetchone()
    assert deleted == (1, 2, 1)  # the rows stay, marked deleted
    return {"programme": prog, "org": org, "principal": coordinator,
            "live_find": live_find.id, "dead_find": dead_find.id,
            "live_task": live_task.id, "dead_task": dead_task.id}


def test_stats_leave_deleted_finds_and_reports_out(conn: psycopg.Connection,
                                                    site: dict[str, Any]) -> None:
    plain = stats.StatsFilter(programme_id=site["programme"].id)
    # the organisation filter takes the path that joins each find to its report
    by_org = stats.StatsFilter(programme_id=site["programme"].id,
                               organisation_id=site["org"].id, date_from=date(2025, 1, 1))
    for f in (plain, by_org):
        found = stats.devices(conn, f)["total"]
        assert found == {"found": 2, "destroyed": 2}, f
        team_days = sum(float(r["team_days"]) for r in stats.productivity(conn, f))
        assert team_days == pytest.approx(7), f


def test_progress_report_leaves_deleted_records_out(conn: psycopg.Connection,
                                                    site: dict[str, Any]) -> None:
    report = progress_report(conn, principal=site["principal"], filters=PERIOD)
    assert figure(report, "devices", "devices_found") == 2
    assert figure(report, "devices", "devices_destroyed") == 2
    assert figure(report, "productivity", "team_days") == pytest.approx(7)
    assert figure(report, "tasks", "tasks_started") == 1
    assert figure(report, "tasks", "tasks_handed_over") == 0
    assert figure(report, "tasks", "beneficiaries") == 0


def test_national_report_counts_no_deleted_find(conn: psycopg.Connection,
                                                site: dict[str, Any]) -> None:
    # a completion report before both finds: only the live one is found after completion
    repo.insert(conn, m.ActivityReport(
        programme_id=site["programme"].id, hazard_area_id=conn.execute(
            "SELECT id FROM hazard_area WHERE local_id = 'SD-H1'").fetchone()[0],
        organisation_id=site["org"].id, task_id=site["live_task"], kind="completion",
        report_date=date(2025, 3, 1)), actor="test")
    report = national_report(conn, principal=site["principal"], filters=PERIOD)
    assert figure(report, "residual", "residual_items") == 2


def test_ogc_collections_serve_no_deleted_feature(conn: psycopg.Connection,
                                                  site: dict[str, Any]) -> None:
    principal = site["principal"]
    finds = catalogue.collection("device-finds")
    page = features.items(conn, collection=finds, principal=principal, query=ItemQuery())
    assert (page.returned, page.matched) == (1, 1)
    assert str(site["live_find"]) in page.features
    assert str(site["dead_find"]) not in page.features
    with pytest.raises(NotFound):
        features.item(conn, collection=finds, principal=principal,
                      feature_id=str(site["dead_find"]))
    tasks_page = features.items(conn, collection=catalogue.collection("tasks"),
                                principal=principal, query=ItemQuery())
    assert (tasks_page.returned, tasks_page.matched) == (1, 1)
    assert str(site["dead_task"]) not in tasks_page.features
    # the extent is the live find's point alone
    extent = features.extent(conn, collection=finds, principal=principal)
    assert extent.bbox == pytest.approx((LON + 0.0002, LAT, LON + 0.0002, LAT))


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def test_tiles_draw_no_deleted_find_or_task(conn: psycopg.Connection,
                                            site: dict[str, Any]) -> None:
    x, y = _tile(LON, LAT, 14)
    for layer, live, dead in (("device-finds", "live_find", "dead_find"),
                              ("tasks", "live_task", "dead_task")):
        tile = tiles.get_tile(conn, principal=site["principal"], layer=layer, z=14, x=x, y=y)
        drawn = mapbox_vector_tile.decode(tile.data)[layer]["features"]
        ids = {f["properties"]["id"] for f in drawn}
        assert ids == {str(site[live])}, layer
        assert str(site[dead]) not in ids


def test_exports_hold_no_deleted_record(conn: psycopg.Connection, site: dict[str, Any],
                                        tmp_path: Path) -> None:
    for kind, live in ((ExportKind.DEVICE_FINDS, "live_find"), (ExportKind.TASKS, "live_task")):
        out = tmp_path / f"{kind.value}.geojson"
        export(conn, out=out, fmt=ExportFormat.GEOJSON, scope=ExportScope(site["principal"]),
               kinds=[kind])
        written = json.loads(out.read_text())["features"]
        assert [f["properties"]["id"] for f in written] == [str(site[live])], kind
