"""The fast paths of issue 8's performance work, held to what they must still mean.

Keyset pages of `GET /api/v1/hazard-areas` across a page boundary while areas are added;
numberMatched exact where it is cheap and the planner's estimate where counting would
cost more than the page (and said so); the bbox page found through the GiST index; gzip
for clients that ask; `/api/v1/stats` answering in its documented model; `demine serve`
in several worker processes.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from shapely.geometry import MultiPolygon, box

from api.schemas import HazardAreasPublic, StatsPublic
from survey.access import Scope
from survey.domain.models import HazardArea, Programme
from survey.store import db, repo
from survey.store.hazards import HazardFilter, count_matching, hazard_area_page
from tests.conftest import _free_port, make_hazard
from tests.test_ogc import public  # noqa: F401 (the fixture: a public viewer, removed after)

LIST = "/api/v1/hazard-areas"


def _ids(page: dict[str, Any]) -> list[str]:
    return [f["id"] for f in page["features"]]


def _next(page: dict[str, Any]) -> str | None:
    return next((lk["href"] for lk in page["links"] if lk["rel"] == "next"), None)


def _local_ids(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return {str(i): local for i, local in conn.execute(
            "SELECT id, local_id FROM hazard_area")}


@pytest.fixture
def added(api_database_url: str) -> Iterator[list[HazardArea]]:
    """Areas a test adds to the demo programme while it pages; deleted afterwards."""
    made: list[HazardArea] = []
    yield made
    with db.connect(api_database_url) as conn, conn.transaction():
        for area in made:
            conn.execute("DELETE FROM hazard_area WHERE id = %s", (area.id,))


def _add(url: str, local_id: str, n: int) -> HazardArea:
    """A committed hazard area of the demo programme, on ground of its own (near Izium,
    where the demo lies)."""
    with db.connect(url) as conn, conn.transaction():
        programme_id = conn.execute("SELECT programme_id FROM organisation "
                                    "WHERE name = 'The HALO Trust'").fetchone()[0]
        x = 37.30 + n * 0.003
        return repo.insert(conn, HazardArea(
            programme_id=programme_id, local_id=local_id, classification="SHA",
            evidence="indirect", date_of_information=date(2025, 2, 1),
            geom=MultiPolygon([box(x, 49.05, x + 0.001, 49.051)])), actor="test")


# --- keyset pages ---

def test_keyset_pages_hold_while_areas_are_added(http: httpx.Client, api_database_url: str,
                                                 coordinator: dict[str, str],
                                                 added: list[HazardArea]) -> None:
    before = _local_ids(api_database_url)
    first = http.get(LIST, params={"limit": 7}, headers=coordinator).json()
    seen = _ids(first)
    link = _next(first)
    assert link is not None and "cursor=" in link and "offset=" not in link
    cursor_local = max(before[i] for i in seen)
    # one area sorts behind the cursor (already paged past), one ahead of it
    added.append(_add(api_database_url, "A-PERF-BEHIND", 0))
    added.append(_add(api_database_url, "ZZ-PERF-AHEAD", 1))
    assert "A-PERF-BEHIND" < cursor_local < "ZZ-PERF-AHEAD"
    while link:
        page = http.get(link, headers=coordinator).json()
        HazardAreasPublic.model_validate(page)
        assert page["numberReturned"] == len(page["features"]) <= 7
        seen += _ids(page)
        link = _next(page)
    # nothing twice, nothing skipped: every area there was, plus the one added ahead
    assert len(seen) == len(set(seen))
    assert set(seen) == set(before) | {str(added[1].id)}
    assert [before.get(i, "ZZ-PERF-AHEAD") for i in seen] == sorted(
        before.get(i, "ZZ-PERF-AHEAD") for i in seen)


def test_offset_still_pages_and_cannot_mix_with_a_cursor(http: httpx.Client,
                                                         coordinator: dict[str, str]) -> None:
    whole = _ids(http.get(LIST, params={"limit": 20}, headers=coordinator).json())
    shifted = http.get(LIST, params={"limit": 5, "offset": 5}, headers=coordinator).json()
    assert _ids(shifted) == whole[5:10]
    # the next page of an offset page continues where it ended, by cursor
    following = http.get(_next(shifted), headers=coordinator).json()  # type: ignore[arg-type]
    assert _ids(following) == whole[10:15]
    cursor = _next(shifted).split("cursor=")[1].split("&")[0]  # type: ignore[union-attr]
    both = http.get(LIST, params={"cursor": cursor, "offset": 3}, headers=coordinator)
    assert both.status_code == 422
    assert both.headers["content-type"] == "application/problem+json"
    forged = http.get(LIST, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=coordinator)
    assert forged.status_code == 422
    assert "cursor" in forged.json()["detail"]


def test_bbox_pages_follow_the_box_and_count_it_exactly(http: httpx.Client,
                                                        api_database_url: str,
                                                        coordinator: dict[str, str]) -> None:
    area = "37.0,49.0,37.3,49.25"  # the western part of the demo programme
    with psycopg.connect(api_database_url) as conn:
        inside = {str(r[0]) for r in conn.execute(
            "SELECT id FROM hazard_area WHERE geom && ST_MakeEnvelope(37.0, 49.0, 37.3, "
            "49.25, 4326)")}
    assert 3 < len(inside) < 60
    page = http.get(LIST, params={"bbox": area, "limit": 3}, headers=coordinator).json()
    assert page["numberMatched"] == len(inside)
    seen = _ids(page)
    link = _next(page)
    while link:
        page = http.get(link, headers=coordinator).json()
        assert page["numberMatched"] == len(inside)
        seen += _ids(page)
        link = _next(page)
    assert sorted(seen) == sorted(inside)


# --- numberMatched: exact when cheap, else the planner's estimate ---

def _scope(programme: Programme) -> Scope:
    """A coordinator's reach: the programme's hazard areas."""
    return Scope(programme_id=programme.id, organisation_id=None, donor_id=None,
                 released_only=False)


def test_number_matched_exact_or_estimated(conn: psycopg.Connection,
                                           programme: Programme) -> None:
    for i in range(40):
        x = 37.0 + i * 0.01
        make_hazard(conn, programme, box(x, 49.0, x + 0.005, 49.005), local_id=f"UA-P-{i:04d}")
    conn.execute("ANALYZE hazard_area")
    scope = _scope(programme)
    where = scope.hazards("h")
    exact = hazard_area_page(conn, scope=scope, limit=10)
    assert (exact.returned, exact.matched, exact.exact) == (10, 40, True)
    assert exact.features.count('"type":"Feature"') == 10
    estimated = hazard_area_page(conn, scope=scope, limit=10, exact_below=5)
    plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM hazard_area h "
                                "WHERE {}").format(where)).fetchone()
    assert plan is not None
    assert not estimated.exact
    assert estimated.matched == max(int(plan[0][0]["Plan"]["Plan Rows"]), 10)
    # the same through count_matching itself
    assert count_matching(conn, source=sql.SQL("hazard_area h"), where=where, params={},
                          exact_below=5) == (estimated.matched, False)
    assert count_matching(conn, source=sql.SQL("hazard_area h"), where=where,
                          params={}) == (40, True)
    # a bbox counts the box's rows exactly, however low the threshold
    boxed = hazard_area_page(conn, scope=scope, limit=3, exact_below=1,
                             filters=HazardFilter(bbox=(37.0, 48.9, 37.095, 49.1)))
    assert (boxed.returned, boxed.matched, boxed.exact) == (3, 10, True)
    # the last page needs no count: nothing lies beyond it
    last = hazard_area_page(conn, scope=scope, limit=10, offset=35, exact_below=1)
    assert (last.returned, last.matched, last.exact, last.next_cursor) == (5, 40, True, None)
    # a cursor page counts (its rows before the cursor are unknown), estimated if asked
    middle = hazard_area_page(conn, scope=scope, limit=10, cursor=exact.next_cursor,
                              exact_below=5)
    assert middle.returned == 10 and not middle.exact and middle.next_cursor is not None


def test_the_bbox_page_is_found_through_the_spatial_index(conn: psycopg.Connection,
                                                          programme: Programme) -> None:
    for i in range(300):
        x, y = 36.0 + (i % 20) * 0.01, 48.0 + (i // 20) * 0.01
        make_hazard(conn, programme, box(x, y, x + 0.005, y + 0.005),
                    local_id=f"UA-G-{i:04d}")
    conn.execute("ANALYZE hazard_area")
    conn.execute("SET LOCAL enable_seqscan = off")  # a small table: as on a large one
    page = hazard_area_page(conn, scope=_scope(programme), limit=5,
                            filters=HazardFilter(bbox=(36.05, 48.05, 36.08, 48.08)))
    assert (page.returned, page.matched) == (5, 16)
    from survey.store import hazards

    where, params = hazards.paging.conditions(hazards.LISTING, _scope(programme).hazards("h"),
                                              hazards.paging.ListFilter(
                                                  bbox=(36.05, 48.05, 36.08, 48.08)))
    statement = sql.SQL("EXPLAIN (FORMAT JSON) " + hazards.LIST_PAGE).format(
        fence=sql.SQL("MATERIALIZED"), where=where, after=sql.SQL("TRUE"),
        feature=sql.SQL("h.local_id"), total=sql.SQL("NULL"))
    plan = json.dumps(conn.execute(statement, params | {"limit": 5, "offset": 0}
                                   ).fetchone()[0])
    assert "hazard_area_geom_idx" in plan


# --- gzip, stats, workers ---

def test_large_answers_are_gzipped_for_clients_that_ask(http: httpx.Client,
                                                        coordinator: dict[str, str]) -> None:
    headers = coordinator | {"Accept-Encoding": "gzip"}
    with http.stream("GET", LIST, headers=headers) as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "gzip"
    body = json.loads(gzip.decompress(raw))
    assert body["numberReturned"] == len(body["features"]) > 0
    assert len(raw) < len(json.dumps(body)) / 2
    small = http.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    plain = http.get(LIST, headers=coordinator | {"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json()["features"]


def test_stats_answer_in_their_model(http: httpx.Client, coordinator: dict[str, str],
                                     public: dict[str, str]) -> None:  # noqa: F811
    answer = http.get("/api/v1/stats", params={"period": "year"}, headers=coordinator)
    assert answer.status_code == 200
    stats = StatsPublic.model_validate(answer.json())
    assert stats.released.total.releases > 0 and stats.remaining is not None
    assert stats.devices is not None and stats.productivity is not None
    released_only = http.get("/api/v1/stats", headers=public).json()
    assert set(released_only) == {"filters", "period", "released"}
    StatsPublic.model_validate(released_only)
    documented = http.get("/openapi.json").json()["paths"]["/api/v1/stats"]["get"]
    ok = documented["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/StatsPublic")


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                           text=True, check=False).stdout.split()
    return [int(p) for p in found]


def test_serve_runs_the_worker_processes_it_is_asked_for(api_database_url: str) -> None:
    port = _free_port()
    demine = Path(sys.executable).parent / "demine"
    env = os.environ | {"DEMINE_DATABASE_URL": api_database_url, "DEMINE_WORKERS": "2"}
    process = subprocess.Popen([str(demine), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.3)
        # uvicorn's supervisor, and under it two workers (a spawn helper may sit beside)
        workers = [c for c in _children(process.pid)
                   if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]
        assert len(workers) == 2
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
