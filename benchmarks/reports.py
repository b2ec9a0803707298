"""Reports over the national store: a national progress report for one year.

Targets (issue 10): JSON under 2 s, PDF under 15 s. The store is the one of
`benchmarks/national.py` (100,000 hazard areas, about 1,000,000 releases); this benchmark
does not build it (`python -m benchmarks.national` does, once). Requests go over real
HTTP (uvicorn on loopback) as the coordinator; each report section is also timed on its
own, in one transaction, to show where the time goes.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import uvicorn

from benchmarks import national
from benchmarks.common import summary, timings, write_section
from survey.config import Settings
from survey.reports import forecast, progress
from survey.reports.scope import ReportScope, release_ids

YEAR = {"date_from": "2024-01-01", "date_to": "2024-12-31"}
TITLE = "Reports at 100,000 hazard areas and 1,000,000 releases"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str) -> tuple[uvicorn.Server, str]:
    from api.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(database_url=url)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def brief(seconds: list[float]) -> str:
    """Median and p95 (common.summary), and the fastest run: on a shared machine the
    fastest is the closest to what the work itself costs."""
    return f"{summary(seconds)}, fastest {min(seconds) * 1000:.0f} ms"


def section_timings(url: str) -> list[tuple[str, float]]:
    """Seconds per section of the progress report (second run: caches warm)."""
    from datetime import date

    scope = ReportScope(programme_id=None, date_from=date(2024, 1, 1),
                        date_to=date(2024, 12, 31))
    with psycopg.connect(url) as conn:
        scope = ReportScope(programme_id=conn.execute(
            "SELECT id FROM programme LIMIT 1").fetchone()[0],  # type: ignore[index]
            date_from=scope.date_from, date_to=scope.date_to)
        parts: list[tuple[str, Callable[[], Any]]] = [
            ("release ids (only when few)", lambda: release_ids(conn, scope)),
            ("land released", lambda: progress.released_section(conn, scope, None)),
            ("devices", lambda: progress.devices_section(conn, scope)),
            ("tasks and handovers", lambda: progress.tasks_section(conn, scope)),
            ("team-days, productivity, cost", lambda: progress.productivity_section(
                conn, scope)),
            ("map", lambda: progress.map_section(conn, scope, 380700)),
            ("completed areas", lambda: progress.completed_section(conn, scope)),
            ("forecast (national report section)", lambda: forecast.forecast_section(
                conn, scope, forecast.ForecastOptions(), date(2024, 12, 31))),
        ]
        out = []
        for name, fn in parts:
            fn()
            start = time.perf_counter()
            fn()
            out.append((name, time.perf_counter() - start))
    return out


def run() -> dict[str, str]:
    server_url = Settings().server_url
    if not national._complete(server_url):
        sys.exit("the national store is not built (or still building): run "
                 "`python -m benchmarks.national` first")
    url = national.ensure()
    with psycopg.connect(url) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM hazard_area), "
                              "(SELECT count(*) FROM release), "
                              "(SELECT count(*) FROM release WHERE release_date BETWEEN "
                              "'2024-01-01' AND '2024-12-31'), "
                              "(SELECT count(*) FROM device_find)").fetchone()
        assert counts is not None
    load_before = os.getloadavg()[0]
    sections = section_timings(url)
    server, base = serve(url)
    results: dict[str, str] = {}
    rows: list[str] = []
    try:
        with httpx.Client(base_url=base, timeout=300) as client:
            token = client.post("/api/v1/auth/token", data={
                "username": "coordinator", "password": national.PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}

            def get(kind: str, **params: str) -> httpx.Response:
                response = client.get(f"/api/v1/reports/{kind}", headers=headers,
                                      params=YEAR | params)
                assert response.status_code == 200, response.text[:500]
                return response

            start = time.perf_counter()
            first = get("progress")
            cold = time.perf_counter() - start
            rows.append(f"| progress, JSON, first request | {cold * 1000:.0f} ms "
                        f"({len(first.content) / 1e6:.1f} MB) |")
            progress_json = timings(lambda: get("progress"), 5)
            rows.append(f"| progress, JSON | {brief(progress_json)} |")
            results["progress_json"] = brief(progress_json)
            for kind in ("national", "forecast"):
                measured = timings(lambda kind=kind: get(kind), 3)  # type: ignore[misc]
                rows.append(f"| {kind}, JSON | {brief(measured)} |")
                results[f"{kind}_json"] = brief(measured)
            donor_token = client.post("/api/v1/auth/token", data={
                "username": "donor", "password": national.PASSWORD}).json()
            donor = {"Authorization": f"Bearer {donor_token['access_token']}"}
            measured = timings(lambda: client.get("/api/v1/reports/progress", headers=donor,
                                                  params=YEAR), 3)
            rows.append(f"| progress, JSON, as a donor (its projects only) | {brief(measured)} |")
            results["donor_json"] = brief(measured)
            pdf = client.get("/api/v1/reports/progress", headers=headers,
                             params=YEAR | {"format": "pdf"})
            if pdf.status_code == 200 and pdf.content.startswith(b"%PDF"):
                measured = timings(lambda: get("progress", format="pdf"), 3)
                rows.append(f"| progress, PDF | {brief(measured)} "
                            f"({len(pdf.content) / 1e6:.1f} MB) |")
                results["progress_pdf"] = brief(measured)
            else:
                rows.append(f"| progress, PDF | not available ({pdf.status_code}) |")
    finally:
        server.should_exit = True
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores)"
    section_rows = "\n".join(f"| {name} | {seconds * 1000:.0f} ms |"
                             for name, seconds in sections)
    body = f"""
`python -m benchmarks.reports`. Store: {counts[0]:,} hazard areas, {counts[1]:,} releases
({counts[2]:,} of them in 2024), {counts[3]:,} device finds (`benchmarks/national.py`).
A national progress report for 2024 (no filter but the year) as the coordinator, over
real HTTP (uvicorn on loopback), after one warm-up. Targets: JSON under 2 s, PDF under
15 s. The machine is shared with other work while this runs: {load}; the figures are
upper bounds and vary with that load by a factor of three or more.

| request (2024) | time |
|---|---|
{chr(10).join(rows)}

Where the time of the progress report goes (each section alone, in one transaction):

| section | time |
|---|---|
{section_rows}
"""
    write_section(TITLE, body)
    return results


if __name__ == "__main__":
    print(run())
