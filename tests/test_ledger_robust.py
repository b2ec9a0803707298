"""The ledger made robust (issue 6): a retried upload racing its original, overlays that
leave no slivers (also in a store repaired by migration 0005), attribution that follows its
sources into the summaries, and a timeline read against the boundary in force."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
import shapely
from psycopg import sql
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from survey.access import Scope
from survey.domain.models import (
    AdminArea,
    Donor,
    HazardArea,
    Organisation,
    Programme,
    Project,
    Release,
    Task,
)
from survey.ledger import boundary, check, history, record_release
from survey.ledger.releases import RecordedRelease
from survey.store import db, migrate, repo
from tests.conftest import db_name, halo_site, make_hazard, make_report, sign_in

# --- committed sites in the API database (the race needs transactions of their own) ---

SW, SS = 37.52, 49.33  # empty ground in the demo's north-east, apart from test_api_ledger's


@pytest.fixture
def site(api_database_url: str) -> dict[str, Any]:
    """A fresh hazard area of the HALO operator with a progress report, committed."""
    hazard, report, n = halo_site(
        api_database_url, prefix="UA-ROB-", classification="CHA", team_days=2,
        ground=lambda n: box(SW + 0.004 * n, SS, SW + 0.004 * n + 0.003, SS + 0.002))
    return {"hazard": hazard, "report": report, "west": SW + 0.004 * n}


def _release(site: dict[str, Any], west: float, east: float) -> Release:
    x = site["west"]
    return Release(programme_id=site["hazard"].programme_id,
                   activity_report_id=site["report"].id, hazard_area_id=site["hazard"].id,
                   product="cleared", method="MANUAL", technical_asset=True,
                   release_date=date(2025, 3, 1),
                   geom=MultiPolygon([box(x + west, SS, x + east, SS + 0.002)]))


WAITING_FOR_LOCKS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'
"""


@contextmanager
def area_held(url: str, hazard_id: UUID, waiters: int) -> Iterator[None]:
    """Hold the hazard area's lock until `waiters` sessions queue behind it, then let go:
    whatever the body starts then runs exactly into the race."""
    with psycopg.connect(url) as holder, holder.transaction():
        holder.execute("SELECT 1 FROM hazard_area WHERE id = %s FOR UPDATE", (hazard_id,))
        yield
        deadline = time.monotonic() + 30
        with psycopg.connect(url, autocommit=True) as watch:
            while watch.execute(WAITING_FOR_LOCKS).fetchone()[0] < waiters:
                assert time.monotonic() < deadline, "the racers never queued for the lock"
                time.sleep(0.02)


def test_a_retry_racing_its_original_gets_the_first_result(api_database_url: str,
                                                           site: dict[str, Any]) -> None:
    release = _release(site, 0.0, 0.001)
    outcomes: dict[str, RecordedRelease | Exception] = {}

    def book(name: str) -> None:
        try:
            with db.connect(api_database_url) as conn, conn.transaction():
                outcomes[name] = record_release(conn, release=release, actor="test")
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            outcomes[name] = exc

    racers = [threading.Thread(target=book, args=(name,)) for name in ("original", "retry")]
    with area_held(api_database_url, site["hazard"].id, waiters=2):
        for racer in racers:
            racer.start()
    for racer in racers:
        racer.join(timeout=60)
    results = list(outcomes.values())
    assert all(isinstance(r, RecordedRelease) for r in results), results
    booked = [r for r in results if isinstance(r, RecordedRelease)]
    assert sorted(r.already_booked for r in booked) == [False, True]
    assert {r.release.id for r in booked} == {release.id}
    assert booked[0].remaining_area_m2 == pytest.approx(booked[1].remaining_area_m2)
    with db.connect(api_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM release WHERE hazard_area_id = %s",
                            (site["hazard"].id,)).fetchone()[0] == 1


def test_a_retried_upload_racing_over_http_is_200(http: httpx.Client, api_database_url: str,
                                                  site: dict[str, Any]) -> None:
    halo = sign_in(http, "operator.halo")
    x = site["west"]
    body = {"id": str(uuid4()), "activity_report_id": str(site["report"].id),
            "hazard_area_id": str(site["hazard"].id), "product": "cleared",
            "method": "MANUAL", "technical_asset": True, "release_date": "2025-03-01",
            "geometry": mapping(box(x, SS, x + 0.001, SS + 0.002))}
    statuses: list[int] = []
    ids: set[str] = set()

    def post() -> None:
        response = http.post("/api/v1/releases", json=body, headers=halo)
        statuses.append(response.status_code)
        ids.add(response.json().get("id", response.text))

    racers = [threading.Thread(target=post) for _ in range(2)]
    with area_held(api_database_url, site["hazard"].id, waiters=2):
        for racer in racers:
            racer.start()
    for racer in racers:
        racer.join(timeout=60)
    assert sorted(statuses) == [200, 201], ids
    assert ids == {body["id"]}


# --- slivers: what remains keeps none, and a plain overlay agrees with the ledger ---

PARTS = """
SELECT count(*), count(*) FILTER (WHERE ST_Area(d.geom::geography) < 0.001)
FROM remaining_piece p, ST_Dump(p.geom) d WHERE p.hazard_area_id = ANY(%(ids)s)
"""

# what QGIS or PostGIS finds when it overlays the two layers without the ledger's care
PLAIN_OVERLAP = """
SELECT coalesce(max(ST_Area(ST_Intersection(r.geom, p.geom)::geography)), 0)
FROM release r JOIN remaining_piece p ON p.hazard_area_id = r.hazard_area_id
                                      AND r.geom && p.geom
WHERE r.hazard_area_id = ANY(%(ids)s)
"""

# a field near Izium, densified to 4 m edges as a GIS would hand it over, and three plots
# that together take all of it, each drawn 0.2 m beyond the field's edge (GPS noise, which
# the ledger clips): their edges meet the field's and each other's only up to floating point
FIELD = shapely.segmentize(box(37.300, 49.200, 37.303, 49.202), 0.00005)
PLOTS = [box(37.299997, 49.199998, 37.3012, 49.202002),
         box(37.3012, 49.2005, 37.303003, 49.202002),
         box(37.3012, 49.199998, 37.303003, 49.2005)]


def _sliver_free(conn: psycopg.Connection, ids: list[UUID]) -> None:
    _, slivers = conn.execute(PARTS, {"ids": ids}).fetchone()
    assert slivers == 0
    assert conn.execute(PLAIN_OVERLAP, {"ids": ids}).fetchone()[0] < 0.01
    assert check.find_discrepancies(conn) == []
    assert check.summary_drift(conn) == 0


def test_bookings_leave_no_slivers(conn: psycopg.Connection, programme: Programme,
                                   organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, FIELD)
    report = make_report(conn, hazard, organisation)
    released = 0.0
    for plot in [*PLOTS[:2], None]:
        # the last one is what remains, as a GIS would read it off the ledger's layer
        geom = (MultiPolygon([shapely.segmentize(plot, 5e-5)]) if plot is not None else
                conn.execute("SELECT demine_remaining(%s)", (hazard.id,)).fetchone()[0])
        booked = record_release(conn, release=Release(
            programme_id=programme.id, activity_report_id=report.id, hazard_area_id=hazard.id,
            product="cleared", method="MANUAL", technical_asset=True,
            release_date=date(2025, 4, 1), geom=geom), actor="test")
        released += booked.release.area_m2 or 0
        _sliver_free(conn, [hazard.id])
    # nothing is left, not even slivers
    after = repo.get(conn, HazardArea, id=hazard.id)
    assert after.remaining_area_m2 == pytest.approx(0, abs=1e-9)
    assert released == pytest.approx(after.area_m2, abs=0.01)


def test_boundary_changes_leave_no_slivers(conn: psycopg.Connection, programme: Programme,
                                           organisation: Organisation) -> None:
    hazard = make_hazard(conn, programme, FIELD, local_id="UA-T-SPLIT")
    report = make_report(conn, hazard, organisation)
    for plot in PLOTS[:2]:
        record_release(conn, release=Release(
            programme_id=programme.id, activity_report_id=report.id, hazard_area_id=hazard.id,
            product="reduced", method="MDD", technical_asset=True,
            release_date=date(2025, 4, 1), geom=MultiPolygon([plot])), actor="test")
    boundary.resurvey(conn, hazard_area_id=hazard.id, geom=box(37.2995, 49.1998, 37.303, 49.202),
                      reason="TS lanes", actor="test")
    child = boundary.split(conn, hazard_area_id=hazard.id,
                           part=box(37.3008, 49.1990, 37.304, 49.2010), reason="rubble",
                           actor="test")
    _sliver_free(conn, [hazard.id, child.id])


def _apply_migrations_up_to(url: str, version: int) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(migrate.CREATE_VERSIONS)
        for migration in migrate.available():
            if migration.version <= version:
                conn.execute(sql.SQL(migration.text))  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_migration (version, name, sha256) "
                              "VALUES (%s, %s, %s)",
                              (migration.version, migration.name, migration.sha256))


# how releases were booked before 0005: floating-point overlays, the pieces cut with the
# release as stored, the area's total following its pieces
BOOKED_BEFORE_0005 = """
WITH r AS (
    INSERT INTO release (programme_id, activity_report_id, hazard_area_id, product, method,
                         technical_asset, release_date, geom)
    SELECT h.programme_id, %(report)s, h.id, 'cleared', 'MANUAL', true, '2025-03-01',
           ST_Multi(ST_CollectionExtract(ST_Intersection(demine_densify(%(geom)s),
                                                         demine_remaining(h.id)), 3))
    FROM hazard_area h WHERE h.id = %(hazard)s
    RETURNING geom
)
UPDATE remaining_piece p
SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(p.geom, r.geom), 3))
FROM r WHERE p.hazard_area_id = %(hazard)s AND p.geom && r.geom
"""


# the records of a store of version 0004, written as its code wrote them (today's models
# have columns that later migrations add)
OLD_STORE = """
WITH p AS (
    INSERT INTO programme (code, country_iso, name, extent)
    VALUES ('UA', 'UA', 'old store', ST_Multi(ST_MakeEnvelope(22.1, 44.3, 40.3, 52.4, 4326)))
    RETURNING id
), o AS (
    INSERT INTO organisation (programme_id, name, kind) SELECT id, 'op', 'ngo' FROM p
    RETURNING id, programme_id
), h AS (
    INSERT INTO hazard_area (programme_id, local_id, classification, evidence,
                             date_of_information, geom)
    SELECT id, 'UA-OLD-1', 'CHA', 'direct', '2025-01-10', %(field)s FROM p
    RETURNING id, area_m2
)
INSERT INTO activity_report (programme_id, hazard_area_id, organisation_id, kind, report_date)
SELECT o.programme_id, h.id, o.id, 'progress', '2025-03-01' FROM o, h
RETURNING hazard_area_id, id, organisation_id, (SELECT area_m2 FROM h)
"""


def test_migration_repairs_a_store_full_of_slivers(server_url: str) -> None:
    url = db.create_database(server_url, db_name("demine_test_ledger_repair"), drop_first=True)
    _apply_migrations_up_to(url, 4)
    with db.connect(url) as conn, conn.transaction():
        hazard_id, report_id, org_id, area_m2 = conn.execute(
            OLD_STORE, {"field": MultiPolygon([FIELD])}).fetchone()
        for plot in PLOTS:
            conn.execute(BOOKED_BEFORE_0005, {"report": report_id, "hazard": hazard_id,
                                              "geom": shapely.segmentize(plot, 5e-5)})
        conn.execute("UPDATE hazard_area h SET remaining_area_m2 = (SELECT sum(area_m2) "
                     "FROM remaining_piece WHERE hazard_area_id = h.id)")
        assert check.find_discrepancies(conn) == []  # balanced, but full of slivers
        parts, slivers = conn.execute(PARTS, {"ids": [hazard_id]}).fetchone()
        assert slivers == parts > 10
    migrate.upgrade(url)
    with db.connect(url) as conn:
        _sliver_free(conn, [hazard_id])
        assert conn.execute("SELECT count(*) FROM release WHERE organisation_id = %s",
                            (org_id,)).fetchone()[0] == len(PLOTS)
        stored = conn.execute("SELECT sum(area_m2) FROM release").fetchone()[0]
        assert stored == pytest.approx(area_m2, abs=0.01)


# --- attribution: stored on the release, and following its sources ---

@pytest.fixture
def attributed(conn: psycopg.Connection, programme: Programme,
               organisation: Organisation) -> dict[str, Any]:
    """A booked release with every attribution set, and a second choice of each."""
    ids: dict[str, Any] = {"programme": programme.id, "org": organisation.id}

    def add(record: Any) -> Any:
        return repo.insert(conn, record, actor="test").id

    ids["org2"] = add(Organisation(programme_id=programme.id, name="Second", kind="ngo"))
    for n in (1, 2):
        ids[f"admin{n}"] = add(AdminArea(programme_id=programme.id, level=3, code=f"A{n}",
                                         name=f"Hromada {n}",
                                         geom=MultiPolygon([box(37.0, 49.0, 37.5, 49.5)])))
        ids[f"donor{n}"] = add(Donor(programme_id=programme.id, name=f"Donor {n}"))
        ids[f"project{n}"] = add(Project(programme_id=programme.id, donor_id=ids[f"donor{n}"],
                                         code=f"P-{n}", name=f"Project {n}",
                                         start_date=date(2025, 1, 1),
                                         end_date=date(2025, 12, 31)))
        ids[f"task{n}"] = add(Task(programme_id=programme.id, local_id=f"T-{n}",
                                   activity_type="CLEARANCE", organisation_id=organisation.id,
                                   project_id=ids[f"project{n}"],
                                   planned_start=date(2025, 1, 1),
                                   planned_end=date(2025, 6, 1)))
    hazard = make_hazard(conn, programme, FIELD, admin_area_id=ids["admin1"])
    ids["hazard"] = hazard.id
    ids["report"] = make_report(conn, hazard, organisation, task_id=ids["task1"]).id
    ids["release"] = record_release(conn, release=Release(
        programme_id=programme.id, activity_report_id=ids["report"], hazard_area_id=hazard.id,
        product="cleared", method="MANUAL", technical_asset=True,
        release_date=date(2025, 4, 1), geom=MultiPolygon([box(37.3, 49.2, 37.301, 49.201)])),
        actor="test").release.id
    return ids


ATTRIBUTION = "SELECT organisation_id, project_id, donor_id, admin_area_id FROM release " \
              "WHERE id = %s"

# the released totals, aggregated afresh from the releases through their sources
FRESH = """
SELECT r.release_date, r.product, r.method, r.technical_asset, ar.organisation_id,
       t.project_id, p.donor_id, h.admin_area_id, sum(r.area_m2), count(*)
FROM release r
JOIN activity_report ar ON ar.id = r.activity_report_id
JOIN hazard_area h ON h.id = r.hazard_area_id
LEFT JOIN task t ON t.id = ar.task_id
LEFT JOIN project p ON p.id = t.project_id
WHERE r.programme_id = %s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""

KEPT = """
SELECT day, product, method, technical_asset, organisation_id, project_id, donor_id,
       admin_area_id, area_m2, releases
FROM ledger_daily WHERE programme_id = %s AND releases <> 0
"""

KEPT_ROLLUP = """
SELECT dimension, key_id, sum(area_m2), sum(releases) FROM ledger_rollup
WHERE programme_id = %s AND dimension <> 'all' AND releases <> 0
GROUP BY 1, 2
"""


def _summaries_are_fresh(conn: psycopg.Connection, programme_id: UUID) -> None:
    assert check.summary_drift(conn) == 0
    fresh = {tuple(row[:8]): (pytest.approx(row[8]), row[9])
             for row in conn.execute(FRESH, (programme_id,))}
    kept = {tuple(row[:8]): (row[8], row[9]) for row in conn.execute(KEPT, (programme_id,))}
    assert kept == fresh
    rolled: dict[tuple[str, Any], list[float]] = {}
    for key, (area, count) in fresh.items():
        for dimension, value in zip(("organisation", "project", "donor", "admin_area"),
                                    key[4:], strict=True):
            total = rolled.setdefault((dimension, value), [0.0, 0])
            total[0] += area.expected
            total[1] += count
    kept_rollup = {(d, k): [a, n] for d, k, a, n in conn.execute(KEPT_ROLLUP, (programme_id,))}
    assert kept_rollup == {k: [pytest.approx(a), n] for k, (a, n) in rolled.items()}


def test_attribution_is_filled_in_by_the_database(conn: psycopg.Connection,
                                                  attributed: dict[str, Any]) -> None:
    a = attributed
    assert conn.execute(ATTRIBUTION, (a["release"],)).fetchone() == (
        a["org"], a["project1"], a["donor1"], a["admin1"])
    # whatever a writer puts there, the sources decide
    conn.execute("UPDATE release SET organisation_id = %s, donor_id = NULL WHERE id = %s",
                 (a["org2"], a["release"]))
    assert conn.execute(ATTRIBUTION, (a["release"],)).fetchone() == (
        a["org"], a["project1"], a["donor1"], a["admin1"])
    _summaries_are_fresh(conn, a["programme"])


CHANGES = {
    "hazard area's admin area": ("UPDATE hazard_area SET admin_area_id = %(admin2)s "
                                 "WHERE id = %(hazard)s", ("org", "project1", "donor1", "admin2")),
    "report's organisation": ("UPDATE activity_report SET organisation_id = %(org2)s "
                              "WHERE id = %(report)s", ("org2", "project1", "donor1", "admin1")),
    "report's task": ("UPDATE activity_report SET task_id = %(task2)s WHERE id = %(report)s",
                      ("org", "project2", "donor2", "admin1")),
    "task's project": ("UPDATE task SET project_id = %(project2)s WHERE id = %(task1)s",
                       ("org", "project2", "donor2", "admin1")),
    "task without project": ("UPDATE task SET project_id = NULL WHERE id = %(task1)s",
                             ("org", None, None, "admin1")),
    "project's donor": ("UPDATE project SET donor_id = %(donor2)s WHERE id = %(project1)s",
                        ("org", "project1", "donor2", "admin1")),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_attribution_follows_its_sources(conn: psycopg.Connection, attributed: dict[str, Any],
                                         change: str) -> None:
    statement, expected = CHANGES[change]
    conn.execute(statement, attributed)
    _summaries_are_fresh(conn, attributed["programme"])
    assert conn.execute(ATTRIBUTION, (attributed["release"],)).fetchone() == tuple(
        attributed[name] if name else None for name in expected)


def test_check_names_stale_attribution_and_repair_fixes_it(conn: psycopg.Connection,
                                                           attributed: dict[str, Any]) -> None:
    # a bulk load with the triggers off (as benchmarks/stats_scale.py does) skips them
    conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute("UPDATE hazard_area SET admin_area_id = %(admin2)s WHERE id = %(hazard)s",
                 attributed)
    conn.execute("SET LOCAL session_replication_role = DEFAULT")
    assert check.summary_drift(conn) >= 1
    check.rebuild_summary(conn)
    _summaries_are_fresh(conn, attributed["programme"])
    assert conn.execute(ATTRIBUTION, (attributed["release"],)).fetchone()[3] == (
        attributed["admin2"])


# --- the timeline reads each step against the boundary in force when it was booked ---

def test_timeline_after_a_resurvey(api_database_url: str, site: dict[str, Any]) -> None:
    hazard_id = site["hazard"].id
    x = site["west"]

    def committed(fn: Any) -> Any:
        with db.connect(api_database_url) as conn, conn.transaction():
            return fn(conn)

    first = committed(lambda c: record_release(c, release=_release(site, 0.0, 0.001),
                                               actor="test"))
    grown = committed(lambda c: boundary.resurvey(
        c, hazard_area_id=hazard_id, geom=Polygon(box(x, SS, x + 0.004, SS + 0.002)),
        reason="TS found the edge further east", actor="test"))
    second = committed(lambda c: record_release(c, release=_release(site, 0.001, 0.002),
                                                actor="test"))
    books = committed(lambda c: history.ledger(c, hazard_area_id=hazard_id,
                                               scope=Scope.everything()))
    steps = {row["id"]: row["remaining_after_m2"] for row in books["releases"]}
    old_area = site["hazard"].area_m2
    assert grown.area_m2 > old_area * 1.3
    assert steps[first.release.id] == pytest.approx(old_area - first.release.area_m2,
                                                    abs=0.01)
    assert steps[second.release.id] == pytest.approx(
        grown.area_m2 - first.release.area_m2 - second.release.area_m2, abs=0.01)
    assert steps[second.release.id] == pytest.approx(books["hazard_area"]["remaining_area_m2"],
                                                     abs=0.01)
