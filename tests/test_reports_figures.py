"""Report figures: cross-checked against totals computed here from the release rows, an
empty period, a forecast on a programme whose answer was worked out by hand, and donors
kept to their own projects over real HTTP."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from api.schemas_reports import ReportPublic
from survey.auth import Principal
from survey.domain import models as m
from survey.domain.vocab import Role
from survey.errors import Forbidden
from survey.ledger import record_release
from survey.reports.forecast import ForecastOptions, add_months, forecast_report
from survey.reports.model import ROW_ID_LIMIT, Report, ReportFilters
from survey.reports.progress import progress_report
from survey.store import repo
from tests.conftest import sign_in

PERIOD = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


def section(report: ReportPublic | Report, key: str) -> Any:
    return next(s for s in report.sections if s.key == key)


def figure(report: ReportPublic | Report, section_key: str, key: str) -> Any:
    return next(f.value for f in section(report, section_key).figures if f.key == key)


def table(report: ReportPublic | Report, section_key: str, key: str) -> list[dict[str, Any]]:
    return next(t.rows for t in section(report, section_key).tables if t.key == key)


# --- figures against the release rows (the demo programme, over HTTP) -----------------

# The checks below read the release rows and their records directly, not the ledger
# summaries or the attribution columns the reports use.
RELEASED_CHECK = """
SELECT r.product, r.method,
       sum(r.area_m2) FILTER (WHERE r.release_date BETWEEN %(start)s AND %(end)s) AS period,
       count(*) FILTER (WHERE r.release_date BETWEEN %(start)s AND %(end)s) AS releases,
       sum(r.area_m2) FILTER (WHERE r.release_date <= %(end)s) AS cumulative
FROM release r
JOIN activity_report ar ON ar.id = r.activity_report_id
LEFT JOIN task t ON t.id = ar.task_id
LEFT JOIN project p ON p.id = t.project_id
WHERE %(donor)s::uuid IS NULL OR p.donor_id = %(donor)s::uuid
GROUP BY r.product, r.method
"""

MONTHLY_CHECK = """
SELECT date_trunc('month', r.release_date)::date, sum(r.area_m2) FROM release r
WHERE r.release_date BETWEEN %(start)s AND %(end)s GROUP BY 1 ORDER BY 1
"""

DEVICES_CHECK = """
SELECT coalesce(sum(quantity), 0),
       coalesce(sum(quantity) FILTER (WHERE disposal_method IS NOT NULL), 0)
FROM device_find WHERE found_date BETWEEN %(start)s AND %(end)s
"""

TEAM_DAYS_CHECK = """
SELECT coalesce(sum(team_days), 0) FROM activity_report
WHERE report_date BETWEEN %(start)s AND %(end)s AND deleted_at IS NULL
"""

HANDOVER_CHECK = """
SELECT coalesce(sum(coalesce(handover_men, 0) + coalesce(handover_women, 0)
                    + coalesce(handover_boys, 0) + coalesce(handover_girls, 0)), 0),
       coalesce(sum(handover_women), 0)
FROM activity_report WHERE kind = 'handover' AND report_date BETWEEN %(start)s AND %(end)s
"""

# what remained at the end of a day: today's remaining of the areas known on that day
# (recorded by then, or worked by then) plus what was released from them after it
REMAINING_CHECK = """
WITH known AS (
    SELECT h.id, h.remaining_area_m2 FROM hazard_area h
    WHERE h.date_of_information <= %(day)s
       OR h.id IN (SELECT hazard_area_id FROM release WHERE release_date <= %(day)s)
)
SELECT (SELECT sum(remaining_area_m2) FROM known)
     + (SELECT coalesce(sum(r.area_m2), 0) FROM release r JOIN known k ON k.id = r.hazard_area_id
        WHERE r.release_date > %(day)s)
"""


def released_check(api_database_url: str, donor: UUID | None = None
                   ) -> dict[tuple[str, str], dict[str, float]]:
    with psycopg.connect(api_database_url) as conn:
        rows = conn.execute(RELEASED_CHECK, {"start": date(2025, 1, 1),
                                             "end": date(2025, 12, 31),
                                             "donor": donor}).fetchall()
    return {(p, mth): {"period": float(a or 0), "releases": int(n),
                       "cumulative": float(c or 0)} for p, mth, a, n, c in rows}


def totals_by(check: dict[tuple[str, str], dict[str, float]], index: int
              ) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, figures in check.items():
        entry = out.setdefault(key[index], {"period": 0.0, "releases": 0, "cumulative": 0.0})
        for name, value in figures.items():
            entry[name] += value
    return out


def get_report(http: httpx.Client, kind: str, headers: dict[str, str],
               **params: Any) -> ReportPublic:
    response = http.get(f"/api/v1/reports/{kind}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return ReportPublic.model_validate(response.json())


def test_progress_figures_match_the_release_rows(http: httpx.Client,
                                                 coordinator: dict[str, str],
                                                 api_database_url: str) -> None:
    report = get_report(http, "progress", coordinator, **PERIOD)
    check = released_check(api_database_url)
    assert check, "the demo changed: no releases"
    total_period = sum(v["period"] for v in check.values())
    assert total_period > 0
    assert figure(report, "released", "released_period_m2") == pytest.approx(total_period,
                                                                           rel=1e-9)
    assert figure(report, "released", "released_period_km2") == pytest.approx(
        total_period / 1e6, rel=1e-9)
    assert figure(report, "released", "released_cumulative_m2") == pytest.approx(
        sum(v["cumulative"] for v in check.values()), rel=1e-9)
    for key, index in (("product", 0), ("method", 1)):
        expected = {k: v for k, v in totals_by(check, index).items() if v["cumulative"]}
        rows = {row[key]: row for row in table(report, "released", f"released_by_{key}")}
        assert set(rows) == set(expected)
        for name, figures in expected.items():
            assert rows[name]["period_m2"] == pytest.approx(figures["period"], rel=1e-9,
                                                            abs=1e-6)
            assert rows[name]["period_releases"] == figures["releases"]
            assert rows[name]["cumulative_m2"] == pytest.approx(figures["cumulative"],
                                                                rel=1e-9)
            assert rows[name]["_href"].startswith("/api/v1/releases?")
    with psycopg.connect(api_database_url) as conn:
        period = {"start": date(2025, 1, 1), "end": date(2025, 12, 31)}
        monthly = conn.execute(MONTHLY_CHECK, period).fetchall()
        found, destroyed = conn.execute(DEVICES_CHECK, period).fetchone()
        team_days = float(conn.execute(TEAM_DAYS_CHECK, period).fetchone()[0])
        people, women = conn.execute(HANDOVER_CHECK, period).fetchone()
        at_end = conn.execute(REMAINING_CHECK, {"day": date(2025, 12, 31)}).fetchone()[0]
        at_start = conn.execute(REMAINING_CHECK, {"day": date(2024, 12, 31)}).fetchone()[0]
    months = table(report, "released", "released_monthly")
    assert [(date.fromisoformat(str(r["month"])), r["total"]) for r in months] == [
        (month, pytest.approx(area, rel=1e-9)) for month, area in monthly]
    assert figure(report, "devices", "devices_found") == found > 0
    assert figure(report, "devices", "devices_destroyed") == destroyed
    assert sum(r["found"] for r in table(report, "devices", "devices_by_category")) == found
    assert sum(r["items"] for r in table(report, "devices", "devices_by_disposal")) == found
    assert figure(report, "productivity", "team_days") == pytest.approx(team_days)
    assert sum(r["team_days"] for r in table(report, "productivity",
                                             "productivity_by_method")) == pytest.approx(
        team_days)
    assert figure(report, "tasks", "beneficiaries") == people
    assert figure(report, "tasks", "beneficiaries_women") == women
    # the report reads the summaries and relies on the ledger's conservation (area =
    # released + remaining, to 0.01 m² an area): equal to a square metre over the demo
    assert figure(report, "released", "remaining_end") == pytest.approx(at_end, abs=1)
    assert figure(report, "released", "remaining_start") == pytest.approx(at_start, abs=1)
    # traceability: every figure and table names its query, filters and listing
    for s in report.sections:
        for item in [*s.figures, *s.tables]:
            assert item.source.query.startswith("survey.reports.")
            assert item.source.filters["date_from"] == "2025-01-01"
            assert item.source.href and item.source.href.startswith("/api/v1/")
    assert report.version and report.as_of.tzinfo is not None and not report.empty
    completed = table(report, "completed", "completed_areas")
    assert completed and all(r["_href"].startswith("/api/v1/hazard-areas/")
                             for r in completed)
    spec = section(report, "map").maps[0]
    assert spec.bounds is not None
    shown = {f["id"] for layer in spec.layers if layer.key == "releases"
             for f in layer.features}
    assert len(shown) == section(report, "map").params["map_releases_shown"] > 0


def test_row_ids_trace_a_small_report_to_its_releases(http: httpx.Client,
                                                      coordinator: dict[str, str],
                                                      api_database_url: str) -> None:
    with psycopg.connect(api_database_url) as conn:
        area, count = conn.execute(
            "SELECT hazard_area_id, count(*) FROM release GROUP BY 1 "
            "ORDER BY 2 DESC LIMIT 1").fetchone()
        ids = {row[0] for row in conn.execute(
            "SELECT id FROM release WHERE hazard_area_id = %s", (area,))}
        area_total = conn.execute("SELECT sum(area_m2) FROM release WHERE hazard_area_id = %s",
                                  (area,)).fetchone()[0]
    assert 1 < count <= ROW_ID_LIMIT
    report = get_report(http, "progress", coordinator, hazard_area_id=str(area))
    source = next(f.source for f in section(report, "released").figures
                  if f.key == "released_period_m2")
    assert set(source.row_ids or []) == ids
    assert figure(report, "released", "released_period_m2") == pytest.approx(area_total)
    by_product = table(report, "released", "released_by_product")
    assert set().union(*(set(map(UUID, r["_source"]["row_ids"])) for r in by_product)) == ids


def test_an_empty_period_is_a_valid_report_that_says_so(http: httpx.Client,
                                                        coordinator: dict[str, str]) -> None:
    for kind in ("progress", "national"):
        report = get_report(http, kind, coordinator, date_from="1995-01-01",
                            date_to="1995-12-31")
        if kind == "progress":
            assert report.empty
            released = section(report, "released")
            assert any("Nothing was recorded" in note for note in released.notes)
            assert figure(report, "released", "released_period_m2") == 0
            assert figure(report, "devices", "devices_found") == 0
            assert table(report, "released", "released_by_product") == []
            assert section(report, "map").maps[0].layers == []
        else:  # what remains today still shows; nothing was released by 1995
            assert table(report, "released_by_year", "released_by_year") == []


# --- donors ------------------------------------------------------------------------------

def _donors(api_database_url: str) -> tuple[UUID, UUID, UUID]:
    """(donor.eu's donor, another donor, a project of the other donor)."""
    with psycopg.connect(api_database_url) as conn:
        own = conn.execute("SELECT donor_id FROM app_user WHERE username = 'donor.eu'"
                           ).fetchone()[0]
        other, project = conn.execute(
            "SELECT p.donor_id, p.id FROM project p WHERE p.donor_id <> %s LIMIT 1",
            (own,)).fetchone()
    return own, other, project


@pytest.fixture(scope="module")
def donor(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "donor.eu")


def test_a_donor_cannot_obtain_another_donors_report(http: httpx.Client,
                                                     donor: dict[str, str],
                                                     coordinator: dict[str, str],
                                                     api_database_url: str) -> None:
    _, other, project = _donors(api_database_url)
    for kind in ("progress", "national", "forecast"):
        for params in ({"donor_id": str(other)}, {"project_id": str(project)}):
            refused = http.get(f"/api/v1/reports/{kind}", params=params, headers=donor)
            assert refused.status_code == 403, (kind, params, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
            allowed = http.get(f"/api/v1/reports/{kind}", params=params, headers=coordinator)
            assert allowed.status_code == 200, allowed.text
    assert http.get("/api/v1/reports/progress", params=PERIOD).status_code == 401


def test_a_donors_report_shows_its_own_projects_only(http: httpx.Client,
                                                     donor: dict[str, str],
                                                     api_database_url: str) -> None:
    own, other, _ = _donors(api_database_url)
    report = get_report(http, "progress", donor, **PERIOD)
    assert report.filters.donor_id == own
    check = released_check(api_database_url, donor=own)
    assert figure(report, "released", "released_period_m2") == pytest.approx(
        sum(v["period"] for v in check.values()), rel=1e-9)
    everything = released_check(api_database_url)
    assert sum(v["period"] for v in everything.values()) > sum(
        v["period"] for v in check.values()), "the demo changed: one donor does it all"
    with psycopg.connect(api_database_url) as conn:
        others = {str(row[0]) for row in conn.execute(
            "SELECT r.id FROM release r JOIN activity_report ar ON ar.id = r.activity_report_id"
            " JOIN task t ON t.id = ar.task_id JOIN project p ON p.id = t.project_id"
            " WHERE p.donor_id = %s", (other,))}
        other_projects = {str(row[0]) for row in conn.execute(
            "SELECT id FROM project WHERE donor_id = %s", (other,))}
    assert others
    text = report.model_dump_json()
    assert not any(release in text for release in others)
    assert not any(project in text for project in other_projects)
    spec = section(report, "map").maps[0]
    shown = {f["id"] for layer in spec.layers if layer.key == "releases"
             for f in layer.features}
    assert shown and not shown & others
    # nor the national report: no find or release made under another donor's project
    with psycopg.connect(api_database_url) as conn:
        other_finds = {str(row[0]) for row in conn.execute(
            "SELECT d.id FROM device_find d JOIN activity_report ar"
            " ON ar.id = d.activity_report_id JOIN task t ON t.id = ar.task_id"
            " JOIN project p ON p.id = t.project_id WHERE p.donor_id = %s", (other,))}
    assert other_finds
    for kind in ("national", "forecast"):
        text = get_report(http, kind, donor, **PERIOD).model_dump_json()
        assert not any(i in text for i in others | other_finds | other_projects), kind


# --- the forecast on a programme worked out by hand ---------------------------------------

# WGS84 radii at the origin, so that a box of w x h metres has an area of w*h m² to about
# one part in a million (the boxes are a hundred metres across)
LON0, LAT0 = 36.0, 48.0
_A, _E2 = 6378137.0, 0.00669437999014
_S = math.sin(math.radians(LAT0))
_N = _A / math.sqrt(1 - _E2 * _S * _S)
_M = _A * (1 - _E2) / (1 - _E2 * _S * _S) ** 1.5


def rect(x: float, y: float, w: float, h: float) -> Polygon:
    """A box `w` x `h` metres whose south-west corner is `x`, `y` metres from the origin."""
    dlon = math.degrees(1 / (_N * math.cos(math.radians(LAT0))))
    dlat = math.degrees(1 / _M)
    return box(LON0 + x * dlon, LAT0 + y * dlat, LON0 + (x + w) * dlon, LAT0 + (y + h) * dlat)


# The programme, by hand (window 2025-01-01 .. 2025-06-30, 181 days):
#
#   W1  CHA in admin area X, 200 x 100 = 20,000 m²; manual clearance (cleared, MANUAL):
#         team A 2,000 m² in 10 team-days, team B 3,000 m² in 10, team C 1,000 m² in 10;
#         and before the window (2024-12-20) team B 1,000 m² in 50 team-days, which
#         lowers what remains but is not part of the measured productivity
#   W2  SHA in X, 500 x 100 = 50,000 m²; team A cancels 20,000 m² by NTS in 2 team-days
#   R1  CHA in admin area Y, 10,000 m², untouched;  R2  SHA in Y, 100,000 m², untouched
#   and team C spends 3 team-days on a report that releases nothing (method 'none')
#
# Productivity by method: MANUAL 6,000 / 30 = 200 m²/team-day; NTS 20,000 / 2 = 10,000.
# Method mix: CHA is all MANUAL, SHA all NTS, so team-days per m² are
#   CHA 1/200 = 0.005, SHA 1/10,000 = 0.0001.
# Remaining: W1 20,000 - 6,000 - 1,000 = 13,000 (CHA, X); W2 50,000 - 20,000 = 30,000
#   (SHA, X); R1 10,000 (CHA, Y); R2 100,000 (SHA, Y); 153,000 m² in all.
# Team-days needed: X CHA 13,000 x 0.005 = 65; X SHA 30,000 x 0.0001 = 3;
#   Y CHA 10,000 x 0.005 = 50; Y SHA 100,000 x 0.0001 = 10; total 128
#   (CHA 115, SHA 13).
# Given capacity 2 teams x 10 team-days a month = 20 a month: 128 / 20 = 6.4 months,
#   so the work that starts next month ends in the 7th month: as-of month + 7.
# Team efficiency (team-days its land takes at the pooled productivity / team-days spent):
#   A (2,000/200 + 20,000/10,000) / 12 = 12/12 = 1.0; B (3,000/200) / 10 = 1.5;
#   C (1,000/200) / 10 = 0.5.  Quartiles of (0.5, 1.0, 1.5), linear: 0.75 and 1.25.
#   Fast: 6.4 / 1.25 = 5.12 months -> as-of month + 6;
#   slow: 6.4 / 0.75 = 8.533 months -> as-of month + 9.
# Measured capacity instead: 3 teams released land, with 32 team-days (the 3 team-days
#   that released nothing do not count) over 181 / 30.4375 = 5.9466 months:
#   32 / 5.9466 = 5.3812 team-days a month (1.7937 a team), and 128 / 5.3812 = 23.787
#   months -> as-of month + 24.

@pytest.fixture
def hand_programme(conn: psycopg.Connection) -> dict[str, Any]:
    prog = repo.insert(conn, m.Programme(code="HF", country_iso="UA", name="Hand forecast",
                                         extent=box(35, 47, 37, 49)), actor="test")
    org = repo.insert(conn, m.Organisation(programme_id=prog.id, name="Hand NGO", kind="ngo"),
                      actor="test")
    teams = {name: repo.insert(conn, m.Team(programme_id=prog.id, organisation_id=org.id,
                                            name=f"Team {name}"), actor="test")
             for name in "ABC"}
    admin = {name: repo.insert(conn, m.AdminArea(
        programme_id=prog.id, level=3, code=f"H{name}", name=f"Hromada {name}",
        geom=MultiPolygon([rect(x, -100, 3000, 3000)])), actor="test")
        for name, x in (("X", -100), ("Y", 4000))}

    def hazard(local_id: str, classification: str, geom: Polygon, area: str) -> m.HazardArea:
        return repo.insert(conn, m.HazardArea(
            programme_id=prog.id, local_id=local_id, classification=classification,
            evidence="direct" if classification == "CHA" else "indirect",
            admin_area_id=admin[area].id, reporting_organisation_id=org.id,
            date_of_information=date(2024, 6, 1),
            geom=MultiPolygon([geom])), actor="test")

    w1 = hazard("HF-W1", "CHA", rect(0, 0, 200, 100), "X")
    w2 = hazard("HF-W2", "SHA", rect(0, 200, 500, 100), "X")
    hazard("HF-R1", "CHA", rect(4100, 0, 100, 100), "Y")
    hazard("HF-R2", "SHA", rect(4100, 200, 1000, 100), "Y")

    def work(area: m.HazardArea, team: str, team_days: float, day: date,
             released: Polygon | None = None, method: str = "MANUAL") -> None:
        report = repo.insert(conn, m.ActivityReport(
            programme_id=prog.id, hazard_area_id=area.id, organisation_id=org.id,
            team_id=teams[team].id, kind="progress", report_date=day,
            team_days=team_days), actor="test")
        if released is not None:
            record_release(conn, release=m.Release(
                programme_id=prog.id, activity_report_id=report.id, hazard_area_id=area.id,
                product="cancelled" if method == "NTS" else "cleared", method=method,
                release_date=day, geom=MultiPolygon([released])), actor="test")

    # clearance strips 50 m deep inside W1, 10 m apart
    work(w1, "A", 10, date(2025, 2, 10), rect(10, 10, 40, 50))  # 2,000 m²
    work(w1, "B", 10, date(2025, 3, 10), rect(60, 10, 60, 50))  # 3,000 m²
    work(w1, "C", 10, date(2025, 4, 10), rect(130, 10, 20, 50))  # 1,000 m²
    work(w2, "A", 2, date(2025, 5, 10), rect(10, 210, 250, 80), method="NTS")  # 20,000 m²
    work(w1, "C", 3, date(2025, 6, 10))  # nothing released
    # outside the window: must not count
    work(w1, "B", 50, date(2024, 12, 20), rect(160, 10, 20, 50))  # 1,000 m² in 2024
    return {"programme": prog, "org": org}


def admin_principal() -> Principal:
    return Principal(uuid4(), "admin", Role.ADMIN, None, None, None)


def test_forecast_matches_the_hand_computation(conn: psycopg.Connection,
                                               hand_programme: dict[str, Any]) -> None:
    window = ReportFilters(date_from=date(2025, 1, 1), date_to=date(2025, 6, 30),
                           organisation_id=hand_programme["org"].id)
    report = forecast_report(conn, principal=admin_principal(), filters=window,
                             options=ForecastOptions(teams=2, team_days_per_team_month=10))
    today = report.as_of.date()
    rel = 1e-3  # the boxes' areas are w*h to about 1e-6; the stored ones are geodesic
    productivity = {r["method"]: r["m2_per_team_day"]
                    for r in table(report, "forecast", "forecast_productivity")}
    assert productivity == {"MANUAL": pytest.approx(200, rel=rel),
                            "NTS": pytest.approx(10_000, rel=rel)}
    by_area = {(r["admin_area"], r["classification"]): r["team_days"]
               for r in table(report, "forecast", "forecast_by_admin_area")}
    assert by_area == {("Hromada X", "CHA"): pytest.approx(65, rel=rel),
                       ("Hromada X", "SHA"): pytest.approx(3, rel=rel),
                       ("Hromada Y", "CHA"): pytest.approx(50, rel=rel),
                       ("Hromada Y", "SHA"): pytest.approx(10, rel=rel)}
    assert figure(report, "forecast", "remaining_m2") == pytest.approx(153_000, rel=rel)
    assert figure(report, "forecast", "team_days_needed") == pytest.approx(128, rel=rel)
    assert figure(report, "forecast", "capacity") == pytest.approx(20)
    assert figure(report, "forecast", "months_needed") == pytest.approx(6.4, rel=rel)
    assert figure(report, "forecast", "completion_month") == add_months(today, 7)
    assert figure(report, "forecast", "months_low") == pytest.approx(6.4 / 1.25, rel=rel)
    assert figure(report, "forecast", "completion_low") == add_months(today, 6)
    assert figure(report, "forecast", "months_high") == pytest.approx(6.4 / 0.75, rel=rel)
    assert figure(report, "forecast", "completion_high") == add_months(today, 9)
    assert section(report, "forecast").params["p25"] == pytest.approx(0.75, abs=0.01)
    assert section(report, "forecast").params["p75"] == pytest.approx(1.25, abs=0.01)
    assert any("as given" in note for note in section(report, "forecast").notes)

    measured = forecast_report(conn, principal=admin_principal(), filters=window)
    capacity = 32 / (181 / 30.4375)
    assert figure(measured, "forecast", "capacity") == pytest.approx(capacity, rel=1e-6)
    assert section(measured, "forecast").params["teams"] == 3
    assert figure(measured, "forecast", "months_needed") == pytest.approx(128 / capacity,
                                                                        rel=rel)
    assert figure(measured, "forecast", "completion_month") == add_months(today, 24)


def test_a_donor_principal_is_refused_another_donors_project(
        conn: psycopg.Connection, hand_programme: dict[str, Any]) -> None:
    prog = hand_programme["programme"]
    mine, theirs = (repo.insert(conn, m.Donor(programme_id=prog.id, name=name), actor="test")
                    for name in ("Mine", "Theirs"))
    project = repo.insert(conn, m.Project(programme_id=prog.id, donor_id=theirs.id, code="T-1",
                                          name="Theirs", start_date=date(2025, 1, 1),
                                          end_date=date(2025, 12, 31)), actor="test")
    principal = Principal(uuid4(), "d", Role.DONOR, prog.id, None, mine.id)
    with pytest.raises(Forbidden):
        progress_report(conn, principal=principal,
                        filters=ReportFilters(project_id=project.id))
    with pytest.raises(Forbidden):
        progress_report(conn, principal=principal, filters=ReportFilters(donor_id=theirs.id))
    unfunded = conn.execute("SELECT id FROM hazard_area WHERE local_id = 'HF-W1'").fetchone()
    with pytest.raises(Forbidden):
        progress_report(conn, principal=principal,
                        filters=ReportFilters(hazard_area_id=unfunded[0]))
    own = progress_report(conn, principal=principal, filters=ReportFilters())
    assert own.filters.donor_id == mine.id and own.empty


# --- the national report and the rendered formats ----------------------------------------

RESIDUAL_CHECK = """
SELECT coalesce(sum(d.quantity), 0), count(DISTINCT d.hazard_area_id)
FROM device_find d
WHERE d.found_date BETWEEN %(start)s AND %(end)s
  AND d.found_date > (SELECT min(a.report_date) FROM activity_report a
                      WHERE a.hazard_area_id = d.hazard_area_id AND a.kind = 'completion')
"""

REMAINING_BY_CLASS_CHECK = """
SELECT classification, count(*), sum(remaining_area_m2) FROM hazard_area
WHERE status IN ('open', 'worked_on') GROUP BY 1
"""


def test_national_figures_match_the_records(http: httpx.Client, coordinator: dict[str, str],
                                            api_database_url: str) -> None:
    report = get_report(http, "national", coordinator, **PERIOD)
    with psycopg.connect(api_database_url) as conn:
        items, areas = conn.execute(RESIDUAL_CHECK, {"start": date(2025, 1, 1),
                                                     "end": date(2025, 12, 31)}).fetchone()
        classes = {c: (n, a) for c, n, a in conn.execute(REMAINING_BY_CLASS_CHECK)}
        per_year = dict(conn.execute(
            "SELECT extract(year FROM release_date)::int, sum(area_m2) FROM release "
            "WHERE release_date <= '2025-12-31' GROUP BY 1").fetchall())
    assert figure(report, "residual", "residual_items") == items
    assert figure(report, "residual", "residual_areas") == areas
    rows = {r["classification"]: r for r in table(report, "hazard_areas",
                                                   "remaining_by_classification")}
    assert {c: (r["areas"], pytest.approx(r["remaining_m2"])) for c, r in rows.items()} == {
        c: (n, pytest.approx(a)) for c, (n, a) in classes.items()}
    years = {r["year"]: r["total"] for r in table(report, "released_by_year",
                                                   "released_by_year")}
    assert years == {y: pytest.approx(a, rel=1e-9) for y, a in per_year.items()}
    assert section(report, "forecast").figures and section(report, "annex").tables[0].rows


def test_format_renders_the_same_figures(http: httpx.Client,
                                         coordinator: dict[str, str]) -> None:
    report = get_report(http, "progress", coordinator, **PERIOD)
    response = http.get("/api/v1/reports/progress", headers=coordinator,
                        params=PERIOD | {"format": "csv", "table": "released_by_product",
                                         "lang": "uk"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    expected = table(report, "released", "released_by_product")
    assert len(lines) == 1 + len(expected)
    for row, line in zip(expected, lines[1:], strict=True):
        assert any(float(cell) == pytest.approx(row["period_m2"])
                   for cell in line.split(",") if cell.replace(".", "", 1).isdigit())


def test_cost_per_square_metre_where_the_project_has_a_budget(
        conn: psycopg.Connection, hand_programme: dict[str, Any]) -> None:
    prog, org = hand_programme["programme"], hand_programme["org"]
    donor = repo.insert(conn, m.Donor(programme_id=prog.id, name="Budget donor"), actor="test")
    funded, unfunded = (repo.insert(conn, m.Project(
        programme_id=prog.id, donor_id=donor.id, code=code, name=code,
        start_date=date(2025, 1, 1), end_date=date(2025, 12, 31), budget_usd=budget),
        actor="test") for code, budget in (("B-1", Decimal("100000")), ("B-2", None)))
    area = repo.insert(conn, m.HazardArea(
        programme_id=prog.id, local_id="HF-B1", classification="CHA", evidence="direct",
        date_of_information=date(2024, 6, 1), geom=MultiPolygon([rect(0, 600, 100, 100)])),
        actor="test")
    task = repo.insert(conn, m.Task(programme_id=prog.id, local_id="HF-T-B1",
                                    activity_type="CLEARANCE", organisation_id=org.id,
                                    project_id=funded.id, planned_start=date(2025, 1, 1),
                                    planned_end=date(2025, 12, 31)), actor="test")
    report = repo.insert(conn, m.ActivityReport(
        programme_id=prog.id, task_id=task.id, hazard_area_id=area.id,
        organisation_id=org.id, kind="progress", report_date=date(2025, 3, 1),
        team_days=Decimal(8)), actor="test")
    record_release(conn, release=m.Release(
        programme_id=prog.id, activity_report_id=report.id, hazard_area_id=area.id,
        product="cleared", method="MANUAL", release_date=date(2025, 3, 1),
        geom=MultiPolygon([rect(10, 610, 50, 40)])), actor="test")  # 2,000 m²
    # 100,000 USD over 2,000 m² released under the project: 50 USD/m²
    report_ = progress_report(conn, principal=admin_principal(),
                              filters=ReportFilters(date_from=date(2025, 1, 1),
                                                    date_to=date(2025, 12, 31),
                                                    donor_id=donor.id))
    rows = table(report_, "productivity", "cost_per_m2")
    assert [(r["code"], r["budget_usd"]) for r in rows] == [("B-1", 100_000)]
    assert rows[0]["released_m2"] == pytest.approx(2000, rel=1e-3)
    assert rows[0]["usd_per_m2"] == pytest.approx(50, rel=1e-3)
    assert figure(report_, "productivity", "m2_per_team_day") == pytest.approx(250, rel=1e-3)
    assert unfunded.budget_usd is None
