"""Cost of booking one release: a fresh area vs an area that already has 1,000 releases.

The ledger subtracts each release from the touched area's remaining geometry, so the
cost should follow that area, not its history or the size of the table. Baseline: a raw
SQL INSERT of the same polygon with no ledger checks.
"""

from __future__ import annotations

import random
from datetime import date

import psycopg
from shapely.geometry import MultiPolygon, box

from benchmarks.common import scratch_database, summary, timings, write_section
from survey.domain.models import ActivityReport, HazardArea, Organisation, Programme, Release
from survey.ledger import record_release
from survey.store import db, repo

HISTORY = 1_000
REPEAT = 60
# a 1.2 km x 1.2 km field near Izium; history fills its southern part with 20 m x 25 m plots
X0, Y0 = 37.30, 49.20
DX, DY = 0.0165, 0.0108

RAW_INSERT = """
INSERT INTO release (programme_id, activity_report_id, hazard_area_id, product, method,
                     technical_asset, release_date, geom)
VALUES (%(programme_id)s, %(report)s, %(hazard)s, 'cleared', 'MANUAL', true, '2025-05-01',
        %(geom)s)
"""


def _area(conn: psycopg.Connection, programme: Programme, org: Organisation,
          local_id: str, dx: float) -> tuple[HazardArea, ActivityReport]:
    hazard = repo.insert(conn, HazardArea(
        programme_id=programme.id, local_id=local_id, classification="CHA", evidence="direct",
        date_of_information=date(2025, 1, 1),
        geom=MultiPolygon([box(X0 + dx, Y0, X0 + dx + DX, Y0 + DY)])), actor="bench")
    report = repo.insert(conn, ActivityReport(
        programme_id=programme.id, hazard_area_id=hazard.id, organisation_id=org.id,
        kind="progress", report_date=date(2025, 5, 1)), actor="bench")
    return hazard, report


def run() -> dict[str, str]:
    url = scratch_database("demine_bench_release")
    rnd = random.Random(7)
    with db.connect(url) as conn:
        with conn.transaction():
            programme = repo.insert(conn, Programme(code="UA", country_iso="UA", name="bench",
                                                    extent=box(22, 44, 41, 53)), actor="bench")
            org = repo.insert(conn, Organisation(programme_id=programme.id, name="op",
                                                 kind="ngo"), actor="bench")
            fresh, fresh_report = _area(conn, programme, org, "FRESH", 0.0)
            busy, busy_report = _area(conn, programme, org, "BUSY", 0.05)
            # 1,000 plots of 20 m x 25 m (0.00028 x 0.000225 deg) in 25 rows of 40
            plot_w, plot_h = 0.00028, 0.000225
            for i in range(HISTORY):
                col, row = i % 40, i // 40
                x, y = X0 + 0.05 + col * plot_w * 1.05, Y0 + row * plot_h * 1.05
                record_release(conn, release=Release(
                    programme_id=programme.id, activity_report_id=busy_report.id,
                    hazard_area_id=busy.id, product="cleared", method="MANUAL",
                    technical_asset=True, release_date=date(2025, 5, 1),
                    geom=MultiPolygon([box(x, y, x + plot_w, y + plot_h)])), actor="bench")
        vertices, pieces = conn.execute(
            "SELECT sum(ST_NPoints(geom)), count(*) FROM remaining_piece "
            "WHERE hazard_area_id = %s", (busy.id,)).fetchone()

        def plot(dx: float) -> MultiPolygon:
            # a new 20 m x 25 m plot in the untouched northern half
            x = X0 + dx + rnd.uniform(0.001, DX - 0.001)
            y = Y0 + rnd.uniform(DY * 0.6, DY - 0.001)
            return MultiPolygon([box(x, y, x + 0.00028, y + 0.000225)])

        def book(hazard: HazardArea, report: ActivityReport, dx: float) -> None:
            with conn.transaction(force_rollback=True):
                record_release(conn, release=Release(
                    programme_id=programme.id, activity_report_id=report.id,
                    hazard_area_id=hazard.id, product="cleared", method="MANUAL",
                    technical_asset=True, release_date=date(2025, 5, 1), geom=plot(dx)),
                    actor="bench")

        def raw(hazard: HazardArea, report: ActivityReport, dx: float) -> None:
            with conn.transaction(force_rollback=True):
                conn.execute(RAW_INSERT, {"programme_id": programme.id, "report": report.id,
                                          "hazard": hazard.id, "geom": plot(dx)})

        # interleave the two cases so that drift on the machine hits both alike
        fresh_t: list[float] = []
        busy_t: list[float] = []
        for _ in range(REPEAT):
            fresh_t += timings(lambda: book(fresh, fresh_report, 0.0), 1)
            busy_t += timings(lambda: book(busy, busy_report, 0.05), 1)
        raw_t = timings(lambda: raw(fresh, fresh_report, 0.0), REPEAT)
    ratio = sorted(busy_t)[len(busy_t) // 2] / sorted(fresh_t)[len(fresh_t) // 2]
    body = f"""
Booking one 20 m x 25 m release through `record_release` (lock, containment, overlap,
insert with audit, subtraction from the remaining pieces it touches), each in a
rolled-back transaction,
the two cases interleaved. Target: the area with {HISTORY:,} releases costs no more than
2x the fresh one.

| case | time per release |
|---|---|
| fresh hazard area (0 releases) | {summary(fresh_t)} |
| hazard area with {HISTORY:,} releases ({vertices:,} vertices in {pieces} pieces remain) \
| {summary(busy_t)} |
| baseline: raw SQL INSERT, no ledger checks | {summary(raw_t)} |

Ratio busy / fresh (medians): **{ratio:.2f}x** ({'meets' if ratio <= 2 else 'misses'} the
2x target).
"""
    write_section("Booking a release: cost follows the touched area", body)
    return {"ratio": f"{ratio:.2f}", "fresh": summary(fresh_t), "busy": summary(busy_t)}


if __name__ == "__main__":
    print(run())
