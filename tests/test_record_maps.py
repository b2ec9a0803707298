"""The maps of one hazard area, one task and who-what-where: the reads (survey/maps_data.py)
on a small site built here, the pages they render (layers, styles by status, numbered
turning points, no CDN), the CLI export, and who may open which page over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape
from typer.testing import CliRunner

from api.deps import SESSION_COOKIE
from maps.common import page_html
from maps.hazard import hazard_area_map
from maps.record_page import IconPoints
from maps.style import CLASSIFICATION_FILL, PRODUCT_FILL, STATUS_OUTLINE, TASK_STATUS_STYLE
from maps.task import task_map
from maps.who import who_map
from survey import maps_data
from survey.accounts import cli_principal
from survey.auth import Principal
from survey.demo import DEMO_PASSWORD
from survey.domain.models import (
    ActivityReport,
    AdminArea,
    DeviceFind,
    Donor,
    EvidencePoint,
    HazardArea,
    MarkerPoint,
    Organisation,
    Programme,
    Project,
    Release,
    Task,
    TaskHazardArea,
)
from survey.domain.vocab import Role
from survey.errors import Forbidden, NotFound
from survey.ledger import boundary, record_release
from survey.store import repo
from tests.conftest import make_hazard

# a field near Izium, about 292 m x 222 m, and a second one 1 km north
W, S, E, N = 37.300, 49.200, 37.304, 49.202
# what would make a page fetch from elsewhere: a CDN's name anywhere, or a script,
# stylesheet, CSS url() or @import pointing off the server (a plain link in a licence
# comment or an attribution is no request)
CDN = re.compile(r"unpkg\.com|jsdelivr|cdnjs|googleapis|bootstrapcdn|code\.jquery|cloudflare"
                 r"|openstreetmap|<script[^>]+src\s*=\s*[\"']?(?:https?:)?//"
                 r"|<link[^>]+href\s*=\s*[\"']?(?:https?:)?//|url\(\s*[\"']?(?:https?:)?//"
                 r"|@import", re.I)


def strip(west: float, east: float, south: float = S, north: float = N) -> Polygon:
    return box(west, south, east, north)


def _release(conn: psycopg.Connection, hazard: HazardArea, report: ActivityReport,
             geom: Polygon, day: date, product: str = "cleared") -> Release:
    return record_release(conn, release=Release(
        programme_id=hazard.programme_id, activity_report_id=report.id,
        hazard_area_id=hazard.id, product=product,
        method="NTS" if product == "cancelled" else "MANUAL",
        technical_asset=product != "cancelled", release_date=day, depth_cm=20,
        geom=MultiPolygon([geom])), actor="test").release


@pytest.fixture
def site(conn: psycopg.Connection, programme: Programme,
         organisation: Organisation) -> dict[str, Any]:
    """One hazard area worked by two tasks (one funded by the donor), with two releases,
    a re-surveyed boundary, marker points stored out of order, evidence and two finds;
    and a second area the donor's projects never touch."""
    pid = programme.id
    hromada = repo.insert(conn, AdminArea(programme_id=pid, level=3, code="UA-T-H1",
                                          name="Test hromada",
                                          geom=MultiPolygon([box(37.2, 49.1, 37.4, 49.3)])),
                          actor="test")
    hazard = make_hazard(conn, programme, strip(W, E), local_id="UA-MAP-1",
                         admin_area_id=hromada.id, reporting_organisation_id=organisation.id)
    other = make_hazard(conn, programme, strip(W, E, S + 0.01, N + 0.01), local_id="UA-MAP-2",
                        classification="SHA", evidence="indirect", admin_area_id=hromada.id)
    donor = repo.insert(conn, Donor(programme_id=pid, name="Test donor"), actor="test")
    funded = repo.insert(conn, Project(programme_id=pid, donor_id=donor.id, code="P-1",
                                       name="Funded", start_date=date(2025, 1, 1),
                                       end_date=date(2026, 12, 31)), actor="test")
    tasks = {}
    for key, project, status, area in (("funded", funded.id, "active", hazard),
                                       ("other", None, "completed", hazard),
                                       ("elsewhere", None, "planned", other)):
        task = repo.insert(conn, Task(programme_id=pid, local_id=f"UA-MAP-T-{key}",
                                      activity_type="CLEARANCE", organisation_id=organisation.id,
                                      project_id=project, status=status,
                                      planned_start=date(2025, 2, 1),
                                      planned_end=date(2025, 6, 30)), actor="test")
        repo.insert(conn, TaskHazardArea(task_id=task.id, hazard_area_id=area.id), actor="test")
        tasks[key] = task
    reports = {key: repo.insert(conn, ActivityReport(
        programme_id=pid, task_id=tasks[key].id, hazard_area_id=hazard.id,
        organisation_id=organisation.id, kind="progress", report_date=date(2025, 3, 1),
        team_days=3), actor="test") for key in ("funded", "other")}
    first = _release(conn, hazard, reports["other"], strip(W, 37.301), date(2025, 3, 1))
    second = _release(conn, hazard, reports["funded"], strip(37.301, 37.302), date(2025, 4, 1))
    boundary.resurvey(conn, hazard_area_id=hazard.id, geom=strip(W, E + 0.001),
                      reason="TS lanes found the edge", actor="test")
    # turning points stored out of their order: the map numbers them by sequence
    corners = [(E + 0.001, S), (E + 0.001, N), (W, N), (W, S)]
    for sequence in (3, 1, 4, 2):
        x, y = corners[sequence - 1]
        repo.insert(conn, MarkerPoint(programme_id=pid, hazard_area_id=hazard.id,
                                      kind="turning", sequence=sequence,
                                      description=f"corner s{sequence}", geom=Point(x, y)),
                    actor="test")
    for kind, x in (("reference", E + 0.003), ("benchmark", E + 0.002)):
        repo.insert(conn, MarkerPoint(programme_id=pid, hazard_area_id=hazard.id, kind=kind,
                                      geom=Point(x, S - 0.0005)), actor="test")
    repo.insert(conn, EvidencePoint(programme_id=pid, hazard_area_id=hazard.id,
                                    evidence="direct", description="<b>crater</b> & wire",
                                    geom=Point(37.3035, 49.201)), actor="test")
    mine = conn.execute("SELECT id FROM ordnance_type WHERE category = 'AP_MINE' "
                        "ORDER BY model LIMIT 1").fetchone()[0]
    finds = {key: repo.insert(conn, DeviceFind(
        programme_id=pid, activity_report_id=reports[key].id, hazard_area_id=hazard.id,
        ordnance_type_id=mine, found_date=date(2025, 3, 1), depth_cm=depth,
        geom=Point(lon, 49.201)), actor="test")
        for key, depth, lon in (("other", 12, 37.3005), ("funded", 7, 37.3015))}
    admin = cli_principal("test")
    coordinator = Principal(uuid4(), "coordinator.test", Role.COORDINATOR, pid, None, None)
    donor_reader = Principal(uuid4(), "donor.test", Role.DONOR, pid, None, donor.id)
    return {"hazard": hazard, "other": other, "tasks": tasks, "releases": [first, second],
            "finds": finds, "admin": admin, "coordinator": coordinator,
            "donor": donor_reader, "hromada": hromada, "organisation": organisation}


def _html(fmap: Any) -> str:
    return page_html(fmap)


# --- the reads ----------------------------------------------------------------------------

def test_hazard_area_reads_the_books_in_order(conn: psycopg.Connection,
                                              site: dict[str, Any]) -> None:
    hazard = site["hazard"]
    data = maps_data.hazard_area_map(conn, hazard_area_id=hazard.id,
                                     principal=site["coordinator"])
    props = data.hazard_area["properties"]
    assert props["local_id"] == "UA-MAP-1" and props["status"] == "worked_on"
    # releases in booking order, numbered from 1, with what remained after each
    releases = [f["properties"] for f in data.releases["features"]]
    assert [r["order"] for r in releases] == [1, 2]
    assert [r["id"] for r in releases] == [str(r.id) for r in site["releases"]]
    assert releases[0]["remaining_after_m2"] > releases[1]["remaining_after_m2"]
    ledger = data.ledger
    assert ledger.area_m2 == pytest.approx(ledger.cancelled_m2 + ledger.reduced_m2
                                           + ledger.cleared_m2 + ledger.remaining_m2, abs=0.01)
    assert ledger.cleared_m2 == pytest.approx(sum(r["area_m2"] for r in releases))
    # the boundary before the re-survey is kept
    assert [b["properties"]["boundary_version"] for b in data.boundaries["features"]] == [1]
    assert data.remaining is not None
    # turning points numbered by sequence, whatever order they were stored in
    turning = sorted((f["properties"] for f in data.marker_points["features"]
                      if f["properties"]["kind"] == "turning"), key=lambda p: p["number"])
    assert [(p["number"], p["sequence"]) for p in turning] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert {f["properties"]["kind"] for f in data.marker_points["features"]} == {
        "turning", "reference", "benchmark"}
    finds = sorted(f["properties"]["depth_cm"] for f in data.device_finds["features"])
    assert finds == [7, 12]
    assert all(f["properties"]["model"] for f in data.device_finds["features"])
    assert [t["local_id"] for t in data.tasks] == ["UA-MAP-T-funded", "UA-MAP-T-other"]
    # simplified for the screen: the densified 10 m edges are gone, the corners stay
    drawn = shape(data.hazard_area["geometry"])
    stored = conn.execute("SELECT ST_NPoints(geom) FROM hazard_area WHERE id = %s",
                          (hazard.id,)).fetchone()[0]
    assert len(drawn.exterior.coords if drawn.geom_type == "Polygon"
               else drawn.geoms[0].exterior.coords) <= 8 < stored
    assert drawn.area == pytest.approx(strip(W, E + 0.001).area, rel=1e-3)


def test_releases_are_listed_by_date_and_a_backdated_one_says_so(
        conn: psycopg.Connection, site: dict[str, Any]) -> None:
    hazard = site["hazard"]
    report_id = site["releases"][0].activity_report_id
    report = repo.get(conn, ActivityReport, id=report_id)
    late = _release(conn, hazard, report, strip(37.302, 37.303), date(2025, 2, 15))
    data = maps_data.hazard_area_map(conn, hazard_area_id=hazard.id, principal=site["admin"])
    releases = [f["properties"] for f in data.releases["features"]]
    assert [r["id"] for r in releases] == [str(late.id), *(str(r.id) for r in site["releases"])]
    assert [(r["order"], r["booked"]) for r in releases] == [(1, 3), (2, 1), (3, 2)]
    assert [row.booked for row in data.ledger.rows] == [3, 1, 2]
    # what was left after the backdated one is what the ledger says: the least, booked last
    assert releases[0]["remaining_after_m2"] == pytest.approx(data.ledger.remaining_m2)
    html = _html(hazard_area_map(data))
    table = _table(html, "demine-releases")
    assert table is not None and "Left as booked m²" in table.group(0)
    dates = re.findall(r"<td>(\d{4}-\d\d-\d\d)</td>", table.group(0))
    assert dates == ["2025-02-15", "2025-03-01", "2025-04-01"]


def test_task_progress_counts_its_own_releases(conn: psycopg.Connection,
                                               site: dict[str, Any]) -> None:
    data = maps_data.task_map(conn, task_id=site["tasks"]["funded"].id,
                              principal=site["coordinator"])
    progress = data.progress
    second = site["releases"][1]
    assert progress.cleared_m2 == pytest.approx(second.area_m2)
    assert progress.cancelled_m2 == progress.reduced_m2 == 0
    assert progress.planned_m2 == pytest.approx(
        data.hazard_areas["features"][0]["properties"]["area_m2"])
    assert progress.percent == pytest.approx(100 * second.area_m2 / progress.planned_m2)
    assert progress.team_days == 3 and progress.devices == 1
    assert [r["id"] for r in data.latest] == [str(second.id)]
    assert [f["properties"]["depth_cm"] for f in data.device_finds["features"]] == [7]
    assert len(data.remaining["features"]) == 1


def test_who_what_where_counts_operators_by_area(conn: psycopg.Connection,
                                                 site: dict[str, Any]) -> None:
    data = maps_data.who_what_where(conn, principal=site["coordinator"])
    mine = [w for w in data.work if w.admin_area_id == site["hromada"].id]
    assert len(mine) == 1
    work = mine[0]
    assert (work.planned, work.active, work.suspended, work.completed) == (1, 1, 0, 1)
    assert work.hazard_areas == 2 and work.activity_type == "CLEARANCE"
    area = next(f for f in data.admin_areas["features"]
                if f["properties"]["id"] == str(site["hromada"].id))
    assert area["properties"]["operators"] == 1 and area["properties"]["tasks"] == 3
    assert {f["properties"]["local_id"] for f in data.tasks["features"]} >= {
        "UA-MAP-T-funded", "UA-MAP-T-other", "UA-MAP-T-elsewhere"}


def test_a_donor_sees_only_what_its_projects_touch(conn: psycopg.Connection,
                                                   site: dict[str, Any]) -> None:
    donor = site["donor"]
    data = maps_data.hazard_area_map(conn, hazard_area_id=site["hazard"].id, principal=donor)
    # its own project's release and find, the area's totals whole
    assert [f["properties"]["id"] for f in data.releases["features"]] == [
        str(site["releases"][1].id)]
    assert [f["properties"]["depth_cm"] for f in data.device_finds["features"]] == [7]
    assert data.ledger.cleared_m2 == pytest.approx(sum(r.area_m2 for r in site["releases"]))
    assert [t["local_id"] for t in data.tasks] == ["UA-MAP-T-funded"]
    assert all(e.actor != "test" for e in data.events)  # names nobody
    with pytest.raises(NotFound):
        maps_data.hazard_area_map(conn, hazard_area_id=site["other"].id, principal=donor)
    with pytest.raises(NotFound):
        maps_data.task_map(conn, task_id=site["tasks"]["other"].id, principal=donor)
    who = maps_data.who_what_where(conn, principal=donor)
    assert [f["properties"]["local_id"] for f in who.tasks["features"]] == ["UA-MAP-T-funded"]
    public = Principal(uuid4(), "public.test", Role.PUBLIC, site["hazard"].programme_id,
                       None, None)
    with pytest.raises(Forbidden):
        maps_data.hazard_area_map(conn, hazard_area_id=site["hazard"].id, principal=public)
    with pytest.raises(Forbidden):
        maps_data.who_what_where(conn, principal=public)


# --- the pages ------------------------------------------------------------------------------

def test_hazard_area_page_has_its_layers_ledger_and_numbered_turning_points(
        conn: psycopg.Connection, site: dict[str, Any]) -> None:
    data = maps_data.hazard_area_map(conn, hazard_area_id=site["hazard"].id,
                                     principal=site["admin"])
    fmap = hazard_area_map(data)
    html = _html(fmap)
    for layer in ("Earlier boundaries", "Hazard area", "Released land", "Remaining ground",
                  "Marker points", "Evidence points", "Device finds"):
        assert f'"{layer}"' in html, layer
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "demine.decorate(" in html and 'id="demine-panel"' in html
    # IMAS: CHA fill, the worked-on outline, released land by product
    assert CLASSIFICATION_FILL["CHA"] in html
    assert STATUS_OUTLINE["worked_on"]["color"] in html
    assert STATUS_OUTLINE["worked_on"]["dashArray"] in html
    assert PRODUCT_FILL["cleared"] in html
    # the ledger table beside the map
    ledger = _table(html, "demine-ledger")
    assert ledger is not None
    assert f"{data.ledger.cleared_m2:,.0f} m²" in ledger.group(0)
    assert f"{data.ledger.remaining_m2:,.0f} m²" in ledger.group(0)
    assert _table(html, "demine-releases") is not None
    # turning points as numbered discs, numbered in order of sequence
    numbered = [child for child in _walk(fmap) if isinstance(child, IconPoints)]
    assert len(numbered) == 1
    points = sorted(numbered[0].data["features"], key=lambda f: f["properties"]["number"])
    assert [(f["properties"]["number"], f["properties"]["description"]) for f in points] == [
        (1, "corner s1"), (2, "corner s2"), (3, "corner s3"), (4, "corner s4")]
    assert "demine-number demine-turning" in html
    # free text is escaped; popups link to the records
    # (the text travels inside JSON, its < as \u003c; map.js escapes it in the popup)
    assert "<b>crater" not in html and "\\u003cb\\u003ecrater" in html
    assert f"/api/v1/hazard-areas/{site['hazard'].id}/ledger" in html
    assert f"/maps/tasks/{site['tasks']['funded'].id}" in html
    assert not CDN.search(html), CDN.search(html)


def test_an_exported_file_links_to_records_only_when_it_names_the_server(
        conn: psycopg.Connection, site: dict[str, Any]) -> None:
    data = maps_data.hazard_area_map(conn, hazard_area_id=site["hazard"].id,
                                     principal=site["admin"])
    alone = page_html(hazard_area_map(data, assets="inline"))
    # relative links in a file on disk would point into the disk
    assert not re.search(r"href=\\?[\"']/(?:api|maps)/", alone)
    assert "/api/v1/hazard-areas/" not in alone
    server = "https://demine.example.org"
    linked = page_html(hazard_area_map(data, assets="inline", link_base=server))
    assert f"{server}/api/v1/hazard-areas/{site['hazard'].id}/ledger" in linked
    assert f"{server}/maps/tasks/{site['tasks']['funded'].id}" in linked


@pytest.mark.parametrize("status", list(STATUS_OUTLINE))
def test_hazard_area_outline_follows_its_status(conn: psycopg.Connection,
                                                site: dict[str, Any], status: str) -> None:
    data = maps_data.hazard_area_map(conn, hazard_area_id=site["hazard"].id,
                                     principal=site["admin"])
    feature = data.hazard_area
    data = replace(data, hazard_area={**feature, "properties": {**feature["properties"],
                                                                "status": status}})
    fmap = hazard_area_map(data)
    hazard_layer = next(c for c in _walk(fmap) if getattr(c, "layer_name", "") == "Hazard area")
    style = hazard_layer.style_function(hazard_layer.data["features"][0])
    assert style["color"] == STATUS_OUTLINE[status]["color"]
    assert style["dashArray"] == STATUS_OUTLINE[status]["dashArray"]
    assert style["fillColor"] == CLASSIFICATION_FILL["CHA"]


def test_task_page_shows_progress_and_latest_releases(conn: psycopg.Connection,
                                                      site: dict[str, Any]) -> None:
    data = maps_data.task_map(conn, task_id=site["tasks"]["funded"].id,
                              principal=site["admin"])
    html = _html(task_map(data))
    for layer in ("Planned area", "Released land", "Latest releases", "Remaining ground",
                  "Device finds"):
        assert f'"{layer}"' in html, layer
    progress = _table(html, "demine-progress")
    assert progress is not None
    assert f"{data.progress.percent:.1f} %" in progress.group(0)
    assert _table(html, "demine-latest") is not None and "UA-MAP-1" in html
    assert f"/maps/hazard-areas/{site['hazard'].id}" in html
    assert not CDN.search(html)


def test_who_page_has_a_layer_per_operator_and_the_3w_table(conn: psycopg.Connection,
                                                            site: dict[str, Any]) -> None:
    data = maps_data.who_what_where(conn, principal=site["coordinator"])
    fmap = who_map(data)
    html = _html(fmap)
    assert '"Admin areas by operators"' in html
    operator = site["organisation"].acronym or site["organisation"].name
    assert f'"Tasks: {operator}"' in html
    table = _table(html, "demine-3w")
    assert table is not None and "Test hromada" in table.group(0)
    assert "1 planned, 1 active, 1 completed" in table.group(0)
    # task points in the operator's colour, rimmed by status, side by side where they
    # share a hazard area (two of the three tasks plan on UA-MAP-1)
    layer = next(c for c in _walk(fmap) if getattr(c, "layer_name", "") ==
                 f"Tasks: {operator}")
    for feature in layer.data["features"]:
        props = feature["properties"]
        assert f"border-color:{TASK_STATUS_STYLE[props['status']]['color']}" in props["icon"]
        assert f'title="{props["local_id"]}"' in props["icon"]
    offsets = sorted(f["properties"]["dx"] for f in layer.data["features"])
    assert offsets == [-7, 0, 7]
    assert not CDN.search(html)


def test_who_page_draws_many_tasks_from_the_tiles(conn: psycopg.Connection,
                                                  site: dict[str, Any]) -> None:
    data = maps_data.who_what_where(conn, principal=site["coordinator"])
    tasks = len(data.tasks["features"])
    html = _html(who_map(data, embed_limit=tasks - 1))
    assert re.search(r'demine.tiles\("tasks",\s*"/tiles/tasks/\{z\}/\{x\}/\{y\}.mvt"', html)
    assert '"Tasks (by status)"' in html and '"Tasks: ' not in html
    assert _table(html, "demine-3w") is not None
    embedded = _html(who_map(data, embed_limit=tasks))
    assert "demine.tiles(" not in embedded and '"Tasks: ' in embedded


def _table(html: str, table_id: str) -> re.Match[str] | None:
    return re.search(rf"<table id=[\"']{table_id}[\"']>.*?</table>", html, re.S)


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


# --- export and HTTP --------------------------------------------------------------------------

def test_cli_exports_self_contained_files(api_database_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMINE_DATABASE_URL", api_database_url)
    with psycopg.connect(api_database_url) as conn:
        local_id, task_id = conn.execute(
            "SELECT h.local_id, t.local_id FROM task t JOIN task_hazard_area th ON "
            "th.task_id = t.id JOIN hazard_area h ON h.id = th.hazard_area_id "
            "ORDER BY t.local_id LIMIT 1").fetchone()
    from api.cli import app  # the `demine` command, with `map` registered

    runner = CliRunner()
    for args, name, expect in ((["hazard-area", local_id], "hazard.html", local_id),
                               (["task", task_id], "task.html", task_id),
                               (["3w"], "who.html", "Who does what where")):
        out = tmp_path / name
        result = runner.invoke(app, ["map", *args, str(out)])
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        assert expect in html
        # every asset inlined
        assert not re.search(r"(?:src|href)=[\"']?/static/", html)
        assert not CDN.search(html)
    again = runner.invoke(app, ["map", "3w", str(tmp_path / "who.html")])
    assert again.exit_code != 0 and "--overwrite" in again.output
    missing = runner.invoke(app, ["map", "task", "NO-SUCH-TASK",
                                  str(tmp_path / "x.html")])
    assert missing.exit_code == 2 and "no task" in missing.output


FUNDED = """
SELECT DISTINCT th.hazard_area_id, t.id FROM task_hazard_area th JOIN task t ON t.id = th.task_id
JOIN project p ON p.id = t.project_id JOIN donor d ON d.id = p.donor_id
JOIN app_user u ON u.donor_id = d.id WHERE u.username = 'donor.eu'
"""

UNFUNDED = """
SELECT h.id FROM hazard_area h WHERE NOT EXISTS (
    SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id
    JOIN project p ON p.id = t.project_id JOIN app_user u ON u.donor_id = p.donor_id
    WHERE th.hazard_area_id = h.id AND u.username = 'donor.eu') LIMIT 1
"""

OTHER_TASK = """
SELECT t.id FROM task t WHERE t.project_id IS NULL OR t.project_id NOT IN (
    SELECT p.id FROM project p JOIN app_user u ON u.donor_id = p.donor_id
    WHERE u.username = 'donor.eu') LIMIT 1
"""


def _signed_in(live_server: str, username: str) -> httpx.Client:
    """A client holding `username`'s session cookie, signed in on /login as a browser is
    (the cookie, not a bearer token, is what the map pages read)."""
    client = httpx.Client(base_url=live_server, timeout=30)
    form = client.get("/login")
    token = re.search(r"name='csrf_token' value='([^']+)'", form.text)
    assert token is not None
    done = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                       "next": "/", "csrf_token": token.group(1)})
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    assert client.cookies.get(SESSION_COOKIE)
    return client


def test_pages_ask_to_sign_in_and_keep_a_donor_to_its_projects(
        http: httpx.Client, live_server: str, api_database_url: str) -> None:
    with psycopg.connect(api_database_url) as conn:
        funded_area, funded_task = conn.execute(FUNDED).fetchone()
        unfunded_area = conn.execute(UNFUNDED).fetchone()[0]
        other_task = conn.execute(OTHER_TASK).fetchone()[0]
    page = f"/maps/hazard-areas/{funded_area}"
    anonymous = http.get(page, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next={page}"
    with closing(_signed_in(live_server, "donor.eu")) as donor:
        ok = donor.get(page)
        assert ok.status_code == 200 and "text/html" in ok.headers["content-type"]
        assert donor.get(f"/maps/tasks/{funded_task}").status_code == 200
        assert donor.get("/maps/3w").status_code == 200
        refused = donor.get(f"/maps/hazard-areas/{unfunded_area}")
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert donor.get(f"/maps/tasks/{other_task}").status_code == 404
        assert donor.get(f"/maps/hazard-areas/{uuid4()}").status_code == 404
    with closing(_signed_in(live_server, "coordinator")) as coordinator:
        assert coordinator.get(f"/maps/hazard-areas/{unfunded_area}").status_code == 200
        assert coordinator.get(f"/maps/tasks/{UUID(int=1)}").status_code == 404
