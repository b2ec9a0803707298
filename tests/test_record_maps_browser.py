"""The maps of one hazard area, one task and who-what-where in headless Chromium: signed in
with the session cookie, they draw their layers with no console error and no request
leaving 127.0.0.1, a click on the area opens its popup, and each map leaves a screenshot
under test-artifacts/maps/. An exported file draws from file:// with the network cut."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from typer.testing import CliRunner

from api.deps import SESSION_COOKIE
from survey.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "maps"

# the demo area with the most turning points and releases, a point on its ground that
# no release covers (a click there reaches the area itself), and a task planned on it
SHOWCASE = """
SELECT h.id, h.local_id, ST_X(p.geom), ST_Y(p.geom),
       (SELECT count(*) FROM marker_point m WHERE m.hazard_area_id = h.id
          AND m.kind = 'turning') AS turning,
       (SELECT t.id FROM task_hazard_area th JOIN task t ON t.id = th.task_id
         WHERE th.hazard_area_id = h.id ORDER BY t.planned_start DESC LIMIT 1) AS task_id,
       (SELECT t.local_id FROM task_hazard_area th JOIN task t ON t.id = th.task_id
         WHERE th.hazard_area_id = h.id ORDER BY t.planned_start DESC LIMIT 1) AS task_local
FROM hazard_area h
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(demine_remaining(h.id)) AS geom) p
WHERE h.remaining_area_m2 > 1000
  AND EXISTS (SELECT 1 FROM release r WHERE r.hazard_area_id = h.id)
  AND EXISTS (SELECT 1 FROM task_hazard_area th WHERE th.hazard_area_id = h.id)
ORDER BY turning DESC, (SELECT count(*) FROM release r WHERE r.hazard_area_id = h.id) DESC,
         h.local_id
LIMIT 1
"""

# the screen position of the first circle marker whose feature has property `name`
CIRCLE_WITH = """(name) => {
    const map = Object.keys(window).filter(k => k.startsWith("map_"))
        .map(k => window[k]).find(v => v instanceof L.Map);
    const r = map.getContainer().getBoundingClientRect();
    let found = null;
    map.eachLayer(l => {
        if (!found && l instanceof L.CircleMarker && l.feature
                && l.feature.properties[name] !== undefined) {
            const p = map.latLngToContainerPoint(l.getLatLng());
            found = [r.left + p.x, r.top + p.y];
        }
    });
    return found;
}"""

# the screen position of a lon/lat on the page's map
TO_SCREEN = """([lon, lat]) => {
    const map = Object.keys(window).filter(k => k.startsWith("map_"))
        .map(k => window[k]).find(v => v instanceof L.Map);
    const p = map.latLngToContainerPoint([lat, lon]);
    const r = map.getContainer().getBoundingClientRect();
    return [r.left + p.x, r.top + p.y];
}"""


@pytest.fixture(scope="module")
def showcase(api_database_url: str) -> dict[str, Any]:
    with psycopg.connect(api_database_url) as conn:
        row = conn.execute(SHOWCASE).fetchone()
    assert row is not None, "the demo changed"
    hazard_id, local_id, lon, lat, turning, task_id, task_local = row
    assert turning >= 3, "the demo has no area with turning points any more"
    return {"id": hazard_id, "local_id": local_id, "point": [lon, lat], "turning": turning,
            "task_id": task_id, "task_local": task_local}


@pytest.fixture(scope="module")
def session(browser: Any, live_server: str) -> dict[str, Any]:
    """A coordinator's browser state after signing in on /login (the session cookie)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server}/login?next=/")
    page.fill("#username", "coordinator")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    state: dict[str, Any] = context.storage_state()
    context.close()
    assert any(c["name"] == SESSION_COOKIE for c in state["cookies"])
    return state


class Watched:
    """A page with its console errors and every URL it requested."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requested: list[str] = []
        page.on("request", lambda request: self.requested.append(request.url))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def foreign(self) -> list[str]:
        """Requests that left 127.0.0.1 (data: and blob: URLs stay in the page)."""
        return [url for url in self.requested
                if not url.startswith(("data:", "blob:", "file:"))
                and urlparse(url).hostname != "127.0.0.1"]

    def overlays(self) -> list[str]:
        return [t.strip() for t in self.page.eval_on_selector_all(
            ".leaflet-control-layers-overlays label", "els => els.map(e => e.textContent)")]

    def click_at(self, lon: float, lat: float) -> None:
        x, y = self.page.evaluate(TO_SCREEN, [lon, lat])
        self.page.mouse.click(x, y)


@pytest.fixture
def signed_in(browser: Any, session: dict[str, Any]) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 850},
                                  storage_state=session)
    watched = Watched(context.new_page())
    yield watched
    context.close()


def _shoot(watched: Watched, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(ARTIFACTS / name))


def _popup(watched: Watched) -> str:
    watched.page.wait_for_selector(".leaflet-popup-content .demine-popup", timeout=10000)
    return str(watched.page.inner_text(".leaflet-popup-content"))


def test_hazard_area_map_in_chromium(signed_in: Watched, live_server: str,
                                     showcase: dict[str, Any]) -> None:
    page = signed_in.page
    page.goto(f"{live_server}/maps/hazard-areas/{showcase['id']}")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    page.wait_for_function("() => Object.keys(window).some(k => k.startsWith('map_') "
                           "&& window[k].demineReady)")
    overlays = signed_in.overlays()
    for layer in ("Hazard area", "Released land", "Remaining ground", "Marker points",
                  "Device finds"):
        assert layer in overlays, overlays
    fills = {f.upper() for f in page.eval_on_selector_all(
        "path.leaflet-interactive", "els => els.map(e => e.getAttribute('fill'))") if f}
    assert fills & {"#FF0000", "#F4A718"} and fills & {"#2E7D32", "#4FA3E0", "#9BD39B"}
    # turning points numbered 1, 2, 3 ... in order
    numbers = page.eval_on_selector_all(".demine-turning", "els => els.map(e => e.textContent)")
    assert sorted(int(n) for n in numbers) == list(range(1, showcase["turning"] + 1))
    # the ledger beside the map
    ledger = page.inner_text("#demine-ledger")
    assert "Remaining" in ledger and "Cleared" in ledger
    assert page.locator("#demine-legend").is_visible()
    for control in (".leaflet-control-scale", "#polyline-measure-control",
                    ".leaflet-control-mouseposition", ".leaflet-control-search",
                    ".demine-print"):
        assert page.locator(control).count() == 1, (control, signed_in.errors)
    _shoot(signed_in, "hazard-area.png")
    # a click on the area's unreleased ground opens its popup
    signed_in.click_at(*showcase["point"])
    text = _popup(signed_in)
    assert f"Hazard area {showcase['local_id']}" in text and "Remaining" in text
    assert page.locator(".leaflet-popup-content a", has_text="Ledger").count() == 1
    page.wait_for_timeout(400)  # the popup fades in
    _shoot(signed_in, "hazard-area-popup.png")
    # a device find's popup: model and depth
    page.click(".leaflet-popup-close-button")
    page.wait_for_selector(".leaflet-popup", state="detached")
    x, y = page.evaluate(CIRCLE_WITH, "model")
    page.mouse.click(x, y)
    found = _popup(signed_in)
    assert "Device find" in found and "Model" in found and "Depth (cm)" in found
    # the print view: the map (without its controls), then the ledger under it
    page.emulate_media(media="print")
    map_box = page.locator(".folium-map").bounding_box()
    panel_box = page.locator("#demine-panel").bounding_box()
    assert map_box and panel_box and map_box["y"] + map_box["height"] <= panel_box["y"] + 1
    assert not page.locator(".leaflet-control-layers").is_visible()
    page.emulate_media(media="screen")
    assert signed_in.foreign() == []
    assert signed_in.errors == []


def test_task_map_in_chromium(signed_in: Watched, live_server: str,
                              showcase: dict[str, Any]) -> None:
    page = signed_in.page
    page.goto(f"{live_server}/maps/tasks/{showcase['task_id']}")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    overlays = signed_in.overlays()
    assert "Planned area" in overlays and "Remaining ground" in overlays, overlays
    assert "Task " + showcase["task_local"] in page.inner_text("#demine-panel h1")
    assert "%" in page.inner_text("#demine-progress")
    _shoot(signed_in, "task.png")
    signed_in.click_at(*showcase["point"])
    assert f"Hazard area {showcase['local_id']}" in _popup(signed_in)
    assert signed_in.foreign() == []
    assert signed_in.errors == []


def test_who_what_where_map_in_chromium(signed_in: Watched, live_server: str,
                                        api_database_url: str) -> None:
    page = signed_in.page
    page.goto(f"{live_server}/maps/3w")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    overlays = signed_in.overlays()
    assert "Admin areas by operators" in overlays
    assert {"Tasks: HALO", "Tasks: FSD"} <= set(overlays), overlays
    assert "HALO" in page.inner_text("#demine-3w")
    _shoot(signed_in, "3w.png")
    # every task drawn, none hidden under another (tasks on one area sit side by side)
    icons = page.locator(".demine-task")
    with psycopg.connect(api_database_url) as conn:
        planned = conn.execute("SELECT count(DISTINCT task_id) FROM task_hazard_area"
                               ).fetchone()[0]
    assert icons.count() == planned
    boxes = [icons.nth(i).bounding_box() for i in range(icons.count())]
    centres = {(round(b["x"] + b["width"] / 2), round(b["y"] + b["height"] / 2))
               for b in boxes if b}
    assert len(centres) == planned
    icons.first.click()
    assert f"Task {icons.first.get_attribute('title')}" in _popup(signed_in)
    assert signed_in.foreign() == []
    assert signed_in.errors == []


def test_exported_map_draws_from_disk_with_the_network_cut(
        browser: Any, api_database_url: str, showcase: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import app  # the `demine` command, with `map` registered

    monkeypatch.setenv("DEMINE_DATABASE_URL", api_database_url)
    out = tmp_path / "hazard.html"
    result = CliRunner().invoke(app, ["map", "hazard-area",
                                      showcase["local_id"], str(out)])
    assert result.exit_code == 0, result.output
    context = browser.new_context(viewport={"width": 1400, "height": 850}, offline=True)
    page = context.new_page()
    watched = Watched(page)
    page.goto(out.as_uri())
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    assert page.locator(".demine-turning").count() == showcase["turning"]
    watched.click_at(*showcase["point"])
    assert f"Hazard area {showcase['local_id']}" in _popup(watched)
    page.wait_for_timeout(400)  # the popup fades in
    _shoot(watched, "hazard-area-exported.png")
    assert [u for u in watched.requested if not u.startswith(("file:", "data:"))] == []
    assert watched.errors == [], json.dumps(watched.errors)
    context.close()
