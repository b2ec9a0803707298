"""The ledger over real HTTP: booking releases, books, lifecycle, boundary, stats."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from shapely.geometry import box, mapping

from api.schemas import HistoryPublic, LedgerPublic, ReleasePublic, TransitionPublic
from tests.conftest import halo_site, sign_in

W, S, E, N = 37.50, 49.35, 37.504, 49.352  # empty ground in the demo's north-east


@pytest.fixture
def site(api_database_url: str) -> dict[str, Any]:
    """A fresh hazard area of the HALO operator with a progress report, committed."""
    hazard, report, n = halo_site(api_database_url, prefix="UA-API-", ground=lambda n: box(
        W, S + 0.006 * n, E, N + 0.006 * n))  # each site on ground of its own
    return {"hazard": hazard, "report": report, "offset": 0.006 * n}


def release_body(site: dict[str, Any], west: float, east: float, **extra: Any) -> dict[str, Any]:
    o = site["offset"]
    return {"activity_report_id": str(site["report"].id), "hazard_area_id": str(site["hazard"].id),
            "product": "cleared", "method": "MANUAL", "technical_asset": True, "depth_cm": 13,
            "release_date": "2025-03-01",
            "geometry": mapping(box(west, S + o, east, N + o))} | extra


@pytest.fixture(scope="module")
def halo(http: httpx.Client) -> dict[str, str]:
    return sign_in(http, "operator.halo")


def test_booking_a_release_and_reading_the_books(http: httpx.Client, site: dict[str, Any],
                                                 halo: dict[str, str]) -> None:
    created = http.post("/api/v1/releases", json=release_body(site, W, 37.501), headers=halo)
    assert created.status_code == 201, created.text
    release = ReleasePublic.model_validate(created.json())
    assert release.area_m2 > 7000 and release.remaining_area_m2 is not None
    assert release.remaining_area_m2 == pytest.approx(site["hazard"].area_m2 - release.area_m2,
                                                      abs=0.01)
    books = http.get(f"/api/v1/hazard-areas/{site['hazard'].id}/ledger", headers=halo)
    assert books.status_code == 200
    ledger = LedgerPublic.model_validate(books.json())
    assert ledger.hazard_area.status == "worked_on"
    assert ledger.hazard_area.cleared_m2 == pytest.approx(release.area_m2)
    assert [e.id for e in ledger.releases] == [release.id]
    assert ledger.releases[0].remaining_after_m2 == pytest.approx(release.remaining_area_m2,
                                                                  abs=0.01)


def test_overlap_is_409_with_area_and_ids(http: httpx.Client, site: dict[str, Any],
                                          halo: dict[str, str]) -> None:
    first = http.post("/api/v1/releases", json=release_body(site, W, 37.502), headers=halo)
    again = http.post("/api/v1/releases", json=release_body(site, 37.501, 37.503),
                      headers=halo)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    problem = again.json()
    assert problem["reason"] == "overlap" and problem["overlap_m2"] > 7000
    assert [o["release_id"] for o in problem["overlaps"]] == [first.json()["id"]]
    outside = http.post("/api/v1/releases", json=release_body(site, E - 0.0005, E + 0.001),
                        headers=halo)
    assert outside.status_code == 409 and outside.json()["reason"] == "outside_hazard_area"
    assert outside.json()["excess_m2"] > 5000


def test_retry_with_the_same_id_is_idempotent(http: httpx.Client, site: dict[str, Any],
                                              halo: dict[str, str]) -> None:
    body = release_body(site, W, 37.501, id=str(uuid4()))
    first = http.post("/api/v1/releases", json=body, headers=halo)
    retry = http.post("/api/v1/releases", json=body, headers=halo)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"] == body["id"]


def test_method_that_cannot_give_the_product_is_422(http: httpx.Client, site: dict[str, Any],
                                                    halo: dict[str, str]) -> None:
    wrong = http.post("/api/v1/releases", headers=halo,
                      json=release_body(site, W, 37.501, product="cancelled", method="MANUAL",
                                        technical_asset=False))
    assert wrong.status_code == 422
    assert "non-technical survey" in wrong.json()["detail"]


def test_split_with_a_taken_local_id_is_409(http: httpx.Client, site: dict[str, Any],
                                            halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    o = site["offset"]
    etag = http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"]
    taken = http.post(f"/api/v1/hazard-areas/{hid}/split", headers=halo | {"If-Match": etag},
                      json={"geometry": mapping(box(37.503, S + o - 0.001, E + 0.001,
                                                    N + o + 0.001)),
                            "reason": "rubble", "local_id": site["hazard"].local_id})
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    html = http.post(f"/api/v1/hazard-areas/{hid}/split", headers=halo | {"If-Match": etag},
                     json={"geometry": mapping(box(37.503, S + o, E, N + o)),
                           "reason": "rubble", "local_id": "<img src=x onerror=alert(1)>"})
    assert html.status_code == 422


def test_bad_geometry_and_foreign_operator(http: httpx.Client, site: dict[str, Any],
                                           halo: dict[str, str]) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[W, S], [E, N], [E, S], [W, N], [W, S]]]}
    bad = http.post("/api/v1/releases", json=release_body(site, W, E) | {"geometry": bowtie},
                    headers=halo)
    assert bad.status_code == 422 and "not valid" in bad.json()["detail"]
    fsd = sign_in(http, "operator.fsd")
    foreign = http.post("/api/v1/releases", json=release_body(site, W, 37.501), headers=fsd)
    assert foreign.status_code == 403
    assert "own organisation" in foreign.json()["detail"]
    donor = sign_in(http, "donor.eu")
    assert http.post("/api/v1/releases", json=release_body(site, W, 37.501),
                     headers=donor).status_code == 403


def test_transitions_and_history(http: httpx.Client, site: dict[str, Any],
                                 coordinator: dict[str, str], halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    illegal = http.post(f"/api/v1/hazard-areas/{hid}/transitions",
                        json={"to": "closed", "reason": "finished"}, headers=coordinator)
    assert illegal.status_code == 409
    assert illegal.json()["allowed"] == ["CHA", "worked_on"]
    by_operator = http.post(f"/api/v1/hazard-areas/{hid}/transitions",
                            json={"to": "worked_on", "reason": "started"}, headers=halo)
    assert by_operator.status_code == 403
    moved = http.post(f"/api/v1/hazard-areas/{hid}/transitions",
                      json={"to": "worked_on", "reason": "task T-9 started",
                            "effective_date": "2025-02-20"}, headers=coordinator)
    assert moved.status_code == 200, moved.text
    state = TransitionPublic.model_validate(moved.json())
    assert (state.before, state.after, state.status) == ("open", "worked_on", "worked_on")
    past = HistoryPublic.model_validate(
        http.get(f"/api/v1/hazard-areas/{hid}/history", headers=coordinator).json())
    last = [e for e in past.events if e.action == "transition"][-1]
    assert last.actor == "coordinator" and last.reason == "task T-9 started"
    assert last.after == {"status": "worked_on", "effective": "2025-02-20"}


def test_resurvey_with_if_match(http: httpx.Client, site: dict[str, Any],
                                halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    o = site["offset"]
    read = http.get(f"/api/v1/hazard-areas/{hid}", headers=halo)
    etag = read.headers["etag"]
    body = {"geometry": mapping(box(W, S + o, E + 0.001, N + o)), "reason": "TS found the edge"}
    stale = http.post(f"/api/v1/hazard-areas/{hid}/resurvey", json=body,
                      headers=halo | {"If-Match": '"999"'})
    # RFC 9110: a stale If-Match is 412 Precondition Failed
    assert stale.status_code == 412 and stale.json()["current_version"] == int(etag.strip('"'))
    done = http.post(f"/api/v1/hazard-areas/{hid}/resurvey", json=body,
                     headers=halo | {"If-Match": etag})
    assert done.status_code == 200, done.text
    assert done.json()["properties"]["area_m2"] > site["hazard"].area_m2 * 1.2
    history = http.get(f"/api/v1/hazard-areas/{hid}/history", headers=halo).json()
    assert len(history["boundaries"]) == 1


def test_split_over_http(http: httpx.Client, site: dict[str, Any], halo: dict[str, str]) -> None:
    hid = site["hazard"].id
    o = site["offset"]
    http.post("/api/v1/releases", json=release_body(site, 37.5032, E), headers=halo)
    part = mapping(box(37.503, S + o - 0.001, E + 0.001, N + o + 0.001))
    body = {"geometry": part, "reason": "dense vegetation: later"}
    unversioned = http.post(f"/api/v1/hazard-areas/{hid}/split", json=body, headers=halo)
    assert unversioned.status_code == 428 and "If-Match" in unversioned.json()["detail"]
    etag = http.get(f"/api/v1/hazard-areas/{hid}", headers=halo).headers["etag"]
    child = http.post(f"/api/v1/hazard-areas/{hid}/split", json=body,
                      headers=halo | {"If-Match": etag})
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]
    books = http.get(f"/api/v1/hazard-areas/{child_id}/ledger", headers=halo).json()
    assert len(books["releases"]) == 1
    summary = books["hazard_area"]
    assert summary["area_m2"] == pytest.approx(summary["cleared_m2"]
                                               + summary["remaining_area_m2"], abs=0.01)


def _sql_total(api_database_url: str, query: str, *args: Any) -> float:
    with psycopg.connect(api_database_url) as conn:
        return float(conn.execute(query, args).fetchone()[0] or 0)


def test_stats_totals_trace_to_the_releases(http: httpx.Client, api_database_url: str,
                                            coordinator: dict[str, str]) -> None:
    response = http.get("/api/v1/stats", params={"period": "year"}, headers=coordinator)
    assert response.status_code == 200, response.text
    stats = response.json()
    released = stats["released"]
    expected = _sql_total(api_database_url, "SELECT sum(area_m2) FROM release")
    assert released["total"]["area_m2"] == pytest.approx(expected, rel=1e-9)
    assert sum(p["area_m2"] for p in released["product"]) == pytest.approx(expected, rel=1e-9)
    assert {p["product"] for p in released["product"]} == {"cancelled", "reduced", "cleared"}
    assert sum(p["area_m2"] for p in released["period"]) == pytest.approx(expected, rel=1e-9)
    assert all(p["period"].endswith("-01-01") for p in released["period"])
    assert sum(o["area_m2"] for o in released["organisation"]) == pytest.approx(expected,
                                                                                rel=1e-9)
    remaining = stats["remaining"]
    open_m2 = _sql_total(api_database_url, "SELECT sum(remaining_area_m2) FROM hazard_area "
                         "WHERE status IN ('open', 'worked_on')")
    assert remaining["total"]["area_m2"] == pytest.approx(open_m2, rel=1e-9)
    assert {c["classification"] for c in remaining["classification"]} <= {"SHA", "CHA"}
    finds = _sql_total(api_database_url, "SELECT sum(quantity) FROM device_find")
    assert stats["devices"]["total"]["found"] == finds
    assert any(m["model"] == "PFM-1" for m in stats["devices"]["model"])
    worked = [p for p in stats["productivity"] if p["m2_per_team_day"]]
    assert worked and all(p["m2_per_team_day"] > 0 for p in worked)


def test_stats_filters(http: httpx.Client, api_database_url: str,
                       coordinator: dict[str, str]) -> None:
    cleared = http.get("/api/v1/stats", params={"product": "cleared", "method": "MDD",
                                                 "date_from": "2025-01-01",
                                                 "date_to": "2025-06-30"},
                       headers=coordinator).json()["released"]["total"]["area_m2"]
    expected = _sql_total(api_database_url, "SELECT sum(area_m2) FROM release WHERE product = "
                          "'cleared' AND method = 'MDD' AND release_date BETWEEN "
                          "'2025-01-01' AND '2025-06-30'")
    assert cleared == pytest.approx(expected, rel=1e-9)
    backwards = http.get("/api/v1/stats", params={"date_from": "2025-06-01",
                                                   "date_to": "2025-01-01"},
                         headers=coordinator)
    assert backwards.status_code == 422


def test_donor_stats_are_narrowed_to_their_projects(http: httpx.Client, api_database_url: str,
                                                    coordinator: dict[str, str]) -> None:
    donor = sign_in(http, "donor.eu")
    mine = http.get("/api/v1/stats", headers=donor).json()
    donor_id = mine["filters"]["donor_id"]
    assert donor_id is not None
    expected = _sql_total(api_database_url, "SELECT sum(area_m2) FROM release_attribution "
                          "WHERE donor_id = %s", UUID(donor_id))
    assert mine["released"]["total"]["area_m2"] == pytest.approx(expected, rel=1e-9)
    everything = http.get("/api/v1/stats", headers=coordinator).json()
    assert mine["released"]["total"]["area_m2"] < everything["released"]["total"]["area_m2"]
    other = http.get("/api/v1/stats", params={"donor_id": str(uuid4())}, headers=donor)
    assert other.status_code == 403
