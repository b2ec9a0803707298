"""Shared fixtures: a real PostGIS database per session, a transaction per test, a real
HTTP server (uvicorn) and headless Chromium. Nothing is mocked."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
import uvicorn
from shapely.geometry import MultiPolygon, box

from survey.config import Settings
from survey.domain.models import ActivityReport, HazardArea, Organisation, Programme
from survey.store import db, migrate, repo

# DEMINE_TEST_DB_SUFFIX lets two runs share one server without dropping each other's data
_SUFFIX = os.environ.get("DEMINE_TEST_DB_SUFFIX", "")


def db_name(base: str) -> str:
    """A test database's name, with this run's suffix."""
    return f"{base}{_SUFFIX}"


TEST_DB = db_name("demine_test")
API_DB = db_name("demine_test_api")


def _server_url() -> str:
    settings = Settings()
    if os.environ.get("DEMINE_TEST_SERVER_URL"):
        return os.environ["DEMINE_TEST_SERVER_URL"]
    try:
        with psycopg.connect(settings.server_url, connect_timeout=3):
            return settings.server_url
    except psycopg.OperationalError:
        return db.start_private_cluster(settings.data_dir)


@pytest.fixture(scope="session")
def server_url() -> str:
    """A PostgreSQL server with PostGIS available; never skipped."""
    return _server_url()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> str:
    """A fresh, migrated test database for this session."""
    url = db.create_database(server_url, TEST_DB, drop_first=True)
    migrate.upgrade(url)
    return url


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection whose work is rolled back after the test."""
    with db.connect(database_url) as connection, connection.transaction(force_rollback=True):
        yield connection


@pytest.fixture
def programme(conn: psycopg.Connection) -> Programme:
    return repo.insert(conn, Programme(code="UA", country_iso="UA", name="Ukraine (test)",
                                       extent=box(22.1, 44.3, 40.3, 52.4)), actor="test")


@pytest.fixture
def organisation(conn: psycopg.Connection, programme: Programme) -> Organisation:
    return repo.insert(conn, Organisation(programme_id=programme.id, name="Test operator",
                                          kind="ngo"), actor="test")


def make_hazard(conn: psycopg.Connection, programme: Programme, geom: Any, *,
                local_id: str = "UA-T-000001", **fields: Any) -> HazardArea:
    """Insert a hazard area with sensible defaults."""
    values: dict[str, Any] = {"classification": "CHA", "evidence": "direct",
                              "date_of_information": date(2025, 1, 10)} | fields
    if not isinstance(geom, MultiPolygon):
        geom = MultiPolygon([geom])
    return repo.insert(conn, HazardArea(programme_id=programme.id, local_id=local_id, geom=geom,
                                        **values), actor="test")


def make_report(conn: psycopg.Connection, hazard: HazardArea, organisation: Organisation,
                kind: str = "progress", **fields: Any) -> ActivityReport:
    return repo.insert(conn, ActivityReport(
        programme_id=hazard.programme_id, hazard_area_id=hazard.id,
        organisation_id=organisation.id, kind=kind, report_date=date(2025, 3, 1), **fields),
        actor="test")


def halo_site(database_url: str, *, prefix: str, ground: Any, classification: str = "SHA",
              team_days: int = 4) -> tuple[HazardArea, ActivityReport, int]:
    """A fresh hazard area of the demo's HALO operator with a progress report, committed.

    `ground(n)` gives the n-th site's polygon (n counts the earlier sites with the local-id
    `prefix`), so that each site lies on ground of its own; returns the area, the report
    and n."""
    with db.connect(database_url) as conn, conn.transaction():
        org_id, programme_id = conn.execute(
            "SELECT id, programme_id FROM organisation WHERE name = 'The HALO Trust'").fetchone()
        n = int(conn.execute("SELECT count(*) FROM hazard_area WHERE local_id LIKE %s",
                             (f"{prefix}%",)).fetchone()[0])
        hazard = repo.insert(conn, HazardArea(
            programme_id=programme_id, local_id=f"{prefix}{uuid4().hex[:8]}",
            classification=classification,
            evidence="direct" if classification == "CHA" else "indirect",
            reporting_organisation_id=org_id, date_of_information=date(2025, 1, 5),
            geom=MultiPolygon([ground(n)])), actor="test")
        report = repo.insert(conn, ActivityReport(
            programme_id=programme_id, hazard_area_id=hazard.id, organisation_id=org_id,
            kind="progress", report_date=date(2025, 3, 1), team_days=team_days), actor="test")
    return hazard, report, n


# --- a served app over real HTTP, on a database holding a small demo programme ---

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def api_database_url(server_url: str) -> str:
    from survey import demo

    url = db.create_database(server_url, API_DB, drop_first=True)
    migrate.upgrade(url)
    data = demo.generate(3, hazard_areas=60)
    with db.connect(url) as connection, connection.transaction():
        demo.load(connection, data)
    return url


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yield its URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(api_database_url: str) -> Iterator[str]:
    """The real app under uvicorn in a thread; yields its base URL."""
    from api.app import create_app

    settings = Settings(database_url=api_database_url, pool_max_size=4)
    with serving(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="session")
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def sign_in(http: httpx.Client, username: str) -> dict[str, str]:
    from survey.demo import DEMO_PASSWORD

    response = http.post("/api/v1/auth/token",
                         data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="session")
def coordinator(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "coordinator")


# --- headless Chromium ---

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: run `make test` (it installs it) or "
                    "apt-get install chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True,
                                      args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


# --- tests that write through the shared live server run after those that read it ---

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the `writes_live_server` tests to the end (a stable sort keeps each group's
    order): the maps, OGC and report tests count the demo as loaded, and the record API's
    tests add areas and tasks to it and soft-delete some."""
    items.sort(key=lambda item: item.get_closest_marker("writes_live_server") is not None)


# --- in CI a skipped test is a failure (a skipped database test hides a broken set-up) ---

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") and _skipped:
        print(f"\nCI: {len(_skipped)} test(s) skipped, which CI counts as failure: "
              + ", ".join(_skipped))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
