"""At scale: 1,000 hazard areas and 10,000 random releases, then `demine check`.

The releases go through the ledger one by one, as the API books them; `demine check`
runs as a user runs it, against the committed database.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from shapely.geometry import MultiPolygon, box

from survey.domain.models import ActivityReport, HazardArea, Organisation, Programme, Release
from survey.ledger import record_release
from survey.store import db, migrate, repo
from tests.conftest import db_name

pytestmark = pytest.mark.slow

AREAS, RELEASES_PER_AREA = 1_000, 10
DEMINE = str(Path(sys.executable).with_name("demine"))


@pytest.fixture(scope="module")
def scale_db(server_url: str) -> str:
    url = db.create_database(server_url, db_name("demine_test_scale"), drop_first=True)
    migrate.upgrade(url)
    rnd = random.Random(20261127)
    products = [("cancelled", "NTS", False), ("reduced", "MDD", True),
                ("reduced", "MANUAL", False), ("cleared", "MANUAL", True),
                ("cleared", "MECHANICAL", True)]
    with db.connect(url) as conn, conn.transaction():
        programme = repo.insert(conn, Programme(code="UA", country_iso="UA", name="scale",
                                                extent=box(22.1, 44.3, 40.3, 52.4)), actor="t")
        org = repo.insert(conn, Organisation(programme_id=programme.id, name="op", kind="ngo"),
                          actor="t")
        hazards, reports = [], []
        for i in range(AREAS):
            x, y = 36.0 + (i % 40) * 0.01, 48.5 + (i // 40) * 0.01
            w, h = rnd.uniform(0.002, 0.006), rnd.uniform(0.002, 0.006)
            hz = HazardArea(programme_id=programme.id, local_id=f"UA-S-{i:06d}",
                            classification=rnd.choice(["SHA", "CHA"]), evidence="direct",
                            date_of_information=date(2024, 1, 1),
                            geom=MultiPolygon([box(x, y, x + w, y + h)]))
            hazards.append(hz)
            reports.append(ActivityReport(programme_id=programme.id, hazard_area_id=hz.id,
                                          organisation_id=org.id, kind="progress",
                                          report_date=date(2024, 6, 1), team_days=3))
        repo.copy_records(conn, hazards, actor="t")
        repo.copy_records(conn, reports, actor="t")
        for hz, report in zip(hazards, reports, strict=True):
            minx, miny, maxx, maxy = hz.geom.bounds
            # ten strips from a random partition of the area's width: they touch, never overlap
            cuts = sorted(rnd.uniform(minx, maxx) for _ in range(RELEASES_PER_AREA - 1))
            edges = [minx, *cuts, maxx]
            for west, east in zip(edges, edges[1:], strict=False):
                product, method, asset = rnd.choice(products)
                record_release(conn, release=Release(
                    programme_id=programme.id, activity_report_id=report.id,
                    hazard_area_id=hz.id, product=product, method=method,
                    technical_asset=asset, release_date=date(2024, 6, 1)
                    + timedelta(days=rnd.randrange(400)),
                    geom=MultiPolygon([box(west, miny + (maxy - miny) * rnd.uniform(0, 0.3),
                                           east, maxy)])), actor="t")
    return url


def check(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DEMINE, "check", *args], capture_output=True, text=True,
                          timeout=600, check=False,
                          env={**os.environ, "DEMINE_DATABASE_URL": url, "COLUMNS": "200"})


def test_scale_books_balance_then_corruption_is_named(scale_db: str) -> None:
    with psycopg.connect(scale_db) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM hazard_area), "
                              "(SELECT count(*) FROM release)").fetchone()
    assert counts == (AREAS, AREAS * RELEASES_PER_AREA)
    clean = check(scale_db)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "ledger balances" in clean.stdout

    with psycopg.connect(scale_db) as conn:
        victim = conn.execute("SELECT id FROM hazard_area WHERE local_id = 'UA-S-000417'"
                              ).fetchone()[0]
        # corrupt one row on purpose: a piece of its remaining ground is lost
        conn.execute("DELETE FROM remaining_piece WHERE id = (SELECT id FROM remaining_piece "
                     "WHERE hazard_area_id = %s ORDER BY area_m2 DESC LIMIT 1)", (victim,))
    broken = check(scale_db)
    assert broken.returncode == 1
    assert str(UUID(str(victim))) in broken.stdout and "UA-S-000417" in broken.stdout
    assert broken.stdout.count("discrepancy") == 1

    repaired = check(scale_db, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired 1 hazard area" in repaired.stdout
    assert check(scale_db).returncode == 0
