"""The review pages in headless Chromium: a coordinator sees a submission's issues on the
map and in the table and approves a clean one; an operator sees no Approve button, and
forged approve posts are refused. Nothing is fetched from beyond the served host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
import pytest
from shapely.geometry import box, mapping

from survey.config import Settings
from survey.demo import DEMO_PASSWORD
from survey.store import db, migrate
from tests.conftest import db_name, serving

pytestmark = pytest.mark.browser

X0, Y0 = 37.45, 49.28

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "maps"


def plot(i: int, dx: float = 0.0) -> dict[str, Any]:
    x = X0 + i * 0.006 + dx
    return mapping(box(x, Y0, x + 0.004, Y0 + 0.002))


def feature(i: int, local_id: str, geometry: Any = None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry or plot(i),
            "properties": {"local_id": local_id, "classification": "SHA",
                           "evidence": "indirect", "date_of_information": "2025-02-01",
                           **props}}


@pytest.fixture(scope="module")
def review_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, str]]:
    from api.app import create_app
    from survey import demo

    url = db.create_database(server_url, db_name("demine_test_review"), drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as conn, conn.transaction():
        demo.load(conn, demo.generate(4, hazard_areas=12))
    settings = Settings(database_url=url, pool_max_size=4,
                        data_dir=tmp_path_factory.mktemp("review-data"))
    with serving(create_app(settings)) as base:
        yield base, url


def upload(base: str, username: str, name: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post("/api/v1/auth/token",
                            data={"username": username, "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        created = client.post("/api/v1/submissions", headers=headers,
                              files={"file": (name, body, "application/geo+json")},
                              data={"kind": "hazard-areas"})
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result


def sign_in(browser: Any, base: str, username: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{base}/submissions")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Submissions')")
    return context, page, requested


def foreign(requested: list[str], base: str) -> list[str]:
    host = urlparse(base).netloc
    return [u for u in requested if urlparse(u).netloc not in (host, "")
            and not u.startswith(("data:", "about:"))]


def status_of(url: str, submission_id: str) -> str:
    with psycopg.connect(url) as conn:
        return str(conn.execute("SELECT status FROM submission WHERE id = %s",
                                (submission_id,)).fetchone()[0])


def test_coordinator_reviews_and_approves(browser: Any, review_server: tuple[str, str],
                                          tmp_path: Any) -> None:
    base, url = review_server
    bow_tie = {"type": "Polygon", "coordinates": [[[X0, Y0 + 0.01], [X0 + 0.004, Y0 + 0.012],
                                                   [X0 + 0.004, Y0 + 0.01], [X0, Y0 + 0.012],
                                                   [X0, Y0 + 0.01]]]}
    messy = upload(base, "operator.halo", "messy.geojson", [
        feature(0, "UA-RV-0001"),
        feature(1, "UA-RV-0002", classification="MAYBE"),        # error, no location
        feature(2, "UA-RV-0003", geometry=bow_tie),               # error, pinned where
        feature(3, "UA-RV-0004"),
        feature(3, "UA-RV-0005", geometry=plot(3, dx=0.00002)),   # near duplicate: warning
    ])
    assert messy["status"] == "rejected"
    clean = upload(base, "operator.halo", "clean.geojson",
                   [feature(6 + i, f"UA-RV-01{i:02d}") for i in range(3)])
    assert clean["status"] == "validated", clean["issues"]

    context, page, requested = sign_in(browser, base, "coordinator")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert page.locator(f"a[href='/submissions/{messy['id']}']").is_visible()

    page.goto(f"{base}/submissions/{messy['id']}")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    assert page.locator("#status").inner_text() == "rejected"
    assert page.locator("#approve").count() == 0  # a rejected file cannot be approved
    fills = {(f or "").upper() for f in page.eval_on_selector_all(
        "path.leaflet-interactive", "els => els.map(e => e.getAttribute('fill'))")}
    strokes = {(s or "").upper() for s in page.eval_on_selector_all(
        "path.leaflet-interactive", "els => els.map(e => e.getAttribute('stroke'))")}
    assert {"#D7191C", "#FDAE61"} <= fills  # error and warning pins, styled apart
    assert "#D7191C" in strokes  # rows with errors outlined in red
    table = page.locator("#issues")
    assert table.locator("tr.error").count() >= 2 and table.locator("tr.warning").count() >= 1
    assert "classification" in table.inner_text()
    issues = messy["issues"]
    pins = page.eval_on_selector_all(
        "path.leaflet-interactive[fill='#D7191C'], path.leaflet-interactive[fill='#FDAE61']",
        "els => els.length")
    assert pins == sum(1 for i in issues if i.get("row") is not None)  # every row issue pinned
    # what every map carries: legend, scale, measure, fullscreen, search by local id
    for control in ("#demine-legend", ".leaflet-control-scale", "#polyline-measure-control",
                    ".leaflet-control-zoom-fullscreen", ".leaflet-control-search",
                    ".demine-print", ".leaflet-control-mouseposition"):
        assert page.locator(control).count() >= 1, control
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-errors.png"), full_page=True)

    page.goto(f"{base}/submissions/{clean['id']}")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    assert page.locator("#no-issues").is_visible()
    page.click("#approve")
    page.wait_for_selector("#notice")
    assert "Approved" in page.locator("#notice").inner_text()
    assert page.locator("#status").inner_text() == "approved"
    assert page.locator("#approve").count() == 0
    assert status_of(url, clean["id"]) == "approved"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM hazard_area WHERE local_id LIKE 'UA-RV-01%'"
                            ).fetchone()[0] == 3
    assert errors == []
    assert foreign(requested, base) == [], "the review pages fetched from other hosts"
    context.close()


def test_operator_sees_no_approve_and_forged_posts_are_refused(
        browser: Any, review_server: tuple[str, str]) -> None:
    base, url = review_server
    pending = upload(base, "operator.halo", "pending.geojson",
                     [feature(20 + i, f"UA-RV-02{i:02d}") for i in range(2)])
    assert pending["status"] == "validated", pending["issues"]
    target = f"{base}/submissions/{pending['id']}/approve"

    context, page, requested = sign_in(browser, base, "operator.halo")
    page.goto(f"{base}/submissions/{pending['id']}")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    assert page.locator("#status").inner_text() == "validated"
    assert page.locator("#approve").count() == 0 and page.locator("#reject").count() == 0
    # the operator's own post with the page's token: a valid form, refused for the role
    token = next(c["value"] for c in context.cookies() if c["name"] == "demine_csrf")
    own = page.request.post(target, form={"csrf_token": token},
                            headers={"Origin": base}, max_redirects=0)
    assert own.status == 403
    assert foreign(requested, base) == []
    context.close()

    coordinator, page, _ = sign_in(browser, base, "coordinator")
    page.goto(f"{base}/submissions/{pending['id']}")
    page.wait_for_selector("#approve")
    token = next(c["value"] for c in coordinator.cookies() if c["name"] == "demine_csrf")
    # another site makes the coordinator's browser post: no token, a wrong one, or the
    # right one from a foreign origin (as a script there could not read it anyway)
    for form, origin in (({}, base), ({"csrf_token": "forged"}, base),
                         ({"csrf_token": token}, "http://evil.example")):
        forged = page.request.post(target, form=form, headers={"Origin": origin},
                                   max_redirects=0)
        assert forged.status == 403, (form, origin)
    assert status_of(url, pending["id"]) == "validated"
    # and a post without the session cookie at all
    with httpx.Client(base_url=base, cookies={"demine_csrf": token}) as anonymous:
        refused = anonymous.post(f"/submissions/{pending['id']}/approve",
                                 data={"csrf_token": token})
        assert refused.status_code == 401
    assert status_of(url, pending["id"]) == "validated"
    coordinator.close()
