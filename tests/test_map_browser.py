"""The overview map in headless Chromium: signs in, draws the layers (embedded, and from
the vector tiles past the threshold), opens a hazard area's popup on click, stays on
127.0.0.1 (favicon included), and an exported file draws with the network off.

Screenshots go to test-artifacts/maps/ (looked at by people, not compared)."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from survey.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "maps"
HAZARD_FILLS = ("#ff0000", "#f4a718")

# a point of the page where a hazard area is on top (not a release or a find over it)
FIND_HAZARD = """(fills) => {
    for (const el of document.querySelectorAll("path.leaflet-interactive")) {
        if (!fills.includes((el.getAttribute("fill") || "").toLowerCase())) continue;
        const r = el.getBoundingClientRect();
        for (let i = 1; i < 12; i++) for (let j = 1; j < 12; j++) {
            const x = r.left + r.width * i / 12, y = r.top + r.height * j / 12;
            if (x < 60 || y < 10 || x > innerWidth - 340 || y > innerHeight - 60) continue;
            if (document.elementFromPoint(x, y) === el) return [x, y];
        }
    }
    return null;
}"""


# every feature drawn by the tile layers: [tile layer, feature id, fill colour]
TILE_FEATURES = """() => {
    const out = [];
    Object.values(window.demineMap._layers).forEach(layer => {
        Object.values(layer._vectorTiles || {}).forEach(tile => {
            Object.entries(tile._features || {}).forEach(([id, f]) => {
                out.push([f.layerName, id, f.feature.options.fillColor || ""]);
            });
        });
    });
    return out;
}"""


# the popup map.js gives the first tiled release drawn (a click's popup, without the click)
TILED_RELEASE_POPUP = """() => {
    for (const layer of Object.values(window.demineMap._layers)) {
        for (const tile of Object.values(layer._vectorTiles || {})) {
            for (const f of Object.values(tile._features || {})) {
                if (f.layerName === "releases") {
                    return window.demine.popup("releases", f.feature.properties);
                }
            }
        }
    }
    return null;
}"""


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                                             2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="session")
def mbtiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raster MBTiles file: one pale tile for every address at zooms 0 to 14 around the
    demo (TMS rows, as the format stores them)."""
    import math

    from survey.demo.gazetteer import DEMO_REGION_LL

    minx, miny, maxx, maxy = DEMO_REGION_LL.bounds
    path = tmp_path_factory.mktemp("basemap") / "basemap.mbtiles"
    tile = _png(256, 256, (236, 232, 214))
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, "
                   "tile_row integer, tile_data blob)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)",
                       [("name", "test"), ("format", "png")])
        for z in range(15):
            n = 2**z

            def column(lon: float, n: int = n) -> int:
                return min(n - 1, int((lon + 180) / 360 * n))

            def row(lat: float, n: int = n) -> int:
                rad = math.radians(lat)
                return min(n - 1, int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n))

            for x in range(column(minx), column(maxx) + 1):
                for y in range(row(maxy), row(miny) + 1):
                    db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, n - 1 - y, tile))
    return path


@pytest.fixture(scope="session")
def tiled_server(api_database_url: str, mbtiles: Path) -> Iterator[str]:
    """The app with a threshold of 10 features (so the demo's layers come from the
    vector tiles) and the MBTiles basemap."""
    from api.app import create_app
    from api.settings import ApiSettings
    from tests.conftest import serving

    settings = ApiSettings(database_url=api_database_url, pool_max_size=4,
                           map_tile_threshold=10, basemap_mbtiles=str(mbtiles))
    with serving(create_app(settings)) as base:
        yield base


class Watched:
    """A page with its requests, failed answers and console errors recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.requested: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.answers: dict[str, int] = {}
        self.page.on("request", lambda r: self.requested.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", self._answer)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # the console too: a 404 (the favicon every page asks for) is logged there
        self.page.on("console",
                     lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _answer(self, response: Any) -> None:
        self.answers[response.url] = response.status

    def sign_in(self, base: str, username: str = "coordinator") -> None:
        self.page.goto(f"{base}/maps/overview")
        assert "/login" in self.page.url
        self.page.fill("#username", username)
        self.page.fill("#password", DEMO_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector(".demine-summary", timeout=20000)

    def foreign(self, host: str) -> list[str]:
        return [url for url in self.requested if urlparse(url).scheme not in ("data", "blob")
                and urlparse(url).netloc != host]

    def click_a_hazard_area(self) -> str:
        point = self.page.evaluate(FIND_HAZARD, list(HAZARD_FILLS))
        assert point is not None, "no hazard area is drawn where it can be clicked"
        self.page.mouse.click(*point)
        self.page.wait_for_selector(".leaflet-popup-content .demine-popup", timeout=5000)
        return str(self.page.inner_html(".leaflet-popup-content"))

    def click_a_tiled_hazard_area(self) -> str:
        """Clicks hazard areas where they are (the search's point inside each) until one
        opens a hazard area's popup; tiles draw on canvas, with no element to find."""
        rows = self.page.evaluate(
            "() => fetch('/maps/search?q=-', {credentials: 'same-origin'}).then(r => r.json())")
        for row in rows:
            x, y = self.page.evaluate(
                "([lat, lon]) => { const p = window.demineMap.latLngToContainerPoint("
                "[lat, lon]); return [p.x, p.y]; }", [row["lat"], row["lon"]])
            if not (60 < x < 1280 - 340 and 10 < y < 800 - 60):
                continue
            self.page.mouse.click(x, y)
            popup = self.page.locator(".leaflet-popup-content .demine-popup")
            try:
                popup.wait_for(timeout=2000)
            except Exception:  # nothing drawn there (under a control, or capped)
                continue
            if popup.get_attribute("data-kind") == "hazard-areas":
                return str(self.page.inner_html(".leaflet-popup-content"))
        raise AssertionError("no tiled hazard area opened its popup")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_timeout(400)  # the popup fades in
        self.page.screenshot(path=str(ARTIFACTS / name))

    def close(self) -> None:
        self.context.close()


def _fills(page: Any, selector: str = "path.leaflet-interactive") -> set[str]:
    return {f.upper() for f in page.eval_on_selector_all(
        selector, "els => els.map(e => e.getAttribute('fill'))") if f}


def _visible_hazard_areas(database_url: str) -> int:
    """How many hazard areas the demo's coordinator sees now: other tests of the session
    add areas to the shared demo (60 when loaded)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM hazard_area h JOIN app_user u "
                           "ON u.programme_id = h.programme_id "
                           "WHERE u.username = 'coordinator'").fetchone()
    assert row is not None and row[0] >= 60
    return int(row[0])


def test_overview_embeds_the_demo_and_opens_a_popup(browser: Any, live_server: str,
                                                    api_database_url: str) -> None:
    watched = Watched(browser)
    page = watched.page
    watched.sign_in(live_server)
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    # hazard areas by classification, released land by product, all in the page
    assert {"#FF0000", "#F4A718", "#2E7D32", "#4FA3E0", "#9BD39B"} <= _fills(page)
    summary = page.inner_text(".demine-summary")
    count = _visible_hazard_areas(api_database_url)
    assert f"Hazard areas: {count:,} (in the page)" in summary
    assert "from the vector tiles" not in summary
    # the layers in the layer control, the legend and the controls of every map
    layers = page.eval_on_selector_all(".leaflet-control-layers-overlays label",
                                       "els => els.map(e => e.textContent.trim())")
    assert {"Administrative areas", "Tasks", "Hazard areas", "Released land",
            "Device finds", "Place names"} <= set(layers)
    for control in ("#demine-legend", ".leaflet-control-scale", "#polyline-measure-control",
                    ".leaflet-control-zoom-fullscreen", ".leaflet-control-search",
                    ".demine-print", ".leaflet-control-mouseposition"):
        assert page.locator(control).count() == 1, (control, watched.errors)
    assert page.locator(".demine-label").count() > 0  # place names: there is no basemap
    # device finds clustered
    assert page.locator(".demine-cluster, .leaflet-marker-icon").count() > 0
    # the pointer's position in lat/lon and MGRS, and the admin area under it with its
    # remaining contamination
    page.mouse.move(600, 400)
    page.mouse.move(640, 420)
    assert "MGRS 37U" in page.inner_text(".leaflet-control-mouseposition")
    page.wait_for_selector(".demine-hover .demine-popup", timeout=5000)
    assert "Remaining contamination (m²)" in page.inner_text(".demine-hover")
    # a click on a hazard area opens its popup, with a link to the record
    popup = watched.click_a_hazard_area()
    assert "Hazard area" in popup and "/maps/hazard-areas/" in popup
    watched.screenshot("overview.png")

    # search by local id: the box asks the server, the map goes there with a popup
    page.keyboard.press("Escape")
    local_id = page.evaluate("""() => {
        const d = window.DEMINE_SYMBOLOGY && document.querySelector('.demine-popup td');
        return d ? d.textContent : null; }""")
    assert local_id
    page.click(".leaflet-control-search .search-button")
    # typed key by key: the box searches on keyup
    page.locator(".leaflet-control-search input").press_sequentially(local_id, delay=20)
    page.wait_for_selector(".leaflet-control-search .search-tip", timeout=5000)
    page.click(".leaflet-control-search .search-tip")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.leaflet-popup-content td')]"
        f".some(td => td.textContent === {local_id!r})", timeout=5000)

    host = urlparse(live_server).netloc
    assert watched.foreign(host) == [], "the map fetched from other hosts"
    refused = {url: status for url, status in watched.answers.items() if status >= 400}
    assert refused == {}
    assert watched.errors == []
    assert page.request.get(f"{live_server}/favicon.ico").status == 200
    watched.close()


def test_overview_past_the_threshold_draws_from_the_tiles(browser: Any, tiled_server: str,
                                                          api_database_url: str) -> None:
    watched = Watched(browser)
    page = watched.page
    watched.sign_in(tiled_server)
    summary = page.inner_text(".demine-summary")
    count = _visible_hazard_areas(api_database_url)
    assert f"Hazard areas: {count:,} (from the vector tiles)" in summary
    # the tile layer draws features (on canvas: thousands a tile), in the IMAS colours
    page.wait_for_function("() => window.demineDrawn && window.demineDrawn['hazard-areas']",
                           timeout=20000)
    drawn = page.evaluate(TILE_FEATURES)
    hazards = {fid: colour for layer, fid, colour in drawn if layer == "hazard-areas"}
    assert len(hazards) == count
    assert {"#FF0000", "#F4A718"} <= {colour.upper() for colour in hazards.values()}
    page.wait_for_load_state("networkidle")
    tiles = {url: status for url, status in watched.answers.items() if ".mvt" in url}
    assert any("/tiles/hazard-areas/" in url for url in tiles)
    assert tiles and set(tiles.values()) == {200}, tiles
    # the offline basemap, from the MBTiles file
    basemap = {url: status for url, status in watched.answers.items() if "/basemap/" in url}
    assert basemap and set(basemap.values()) == {200}
    # a click on a tiled hazard area opens the same popup as an embedded one
    popup = watched.click_a_tiled_hazard_area()
    assert "Hazard area" in popup and "/maps/hazard-areas/" in popup
    # a tiled release's popup links to the map of the hazard area it was released from
    # (releases are drawn from zoom 12)
    with psycopg.connect(api_database_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) "
                                "AS p FROM release ORDER BY area_m2 DESC LIMIT 1) r").fetchone()
    page.evaluate("([lat, lon]) => window.demineMap.setView([lat, lon], 14, {animate: false})",
                  [lat, lon])
    page.wait_for_function("() => window.demineDrawn && window.demineDrawn['releases']",
                           timeout=20000)
    release = page.evaluate(TILED_RELEASE_POPUP)
    assert release and "/maps/hazard-areas/" in release, release
    watched.screenshot("overview-tiles.png")
    host = urlparse(tiled_server).netloc
    assert watched.foreign(host) == []
    assert watched.errors == []
    watched.close()


def test_exported_overview_opens_from_disk_with_the_network_off(
        browser: Any, api_database_url: str, tmp_path: Path) -> None:
    from maps.cli import export_overview
    from survey.accounts import cli_principal
    from survey.store import db

    out = tmp_path / "overview.html"
    with db.connect(api_database_url) as conn:
        counts = export_overview(conn, cli_principal("test"), out)
    assert counts["hazard-areas"] >= 60
    watched = Watched(browser)
    # nothing but the file itself may load
    watched.context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith("file:") else route.abort())
    watched.context.set_offline(True)
    page = watched.page
    page.goto(out.as_uri())
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)
    assert {"#FF0000", "#F4A718"} <= _fills(page)
    popup = watched.click_a_hazard_area()
    assert "Hazard area" in popup and "Open the record" not in popup  # no server to open
    watched.screenshot("overview-export.png")
    assert [url for url in watched.requested if not url.startswith(("file:", "data:"))] == []
    assert watched.failed == [] and watched.errors == []
    watched.close()


def test_a_public_viewer_gets_released_land_and_no_hazard_fields(
        live_server: str, api_database_url: str) -> None:
    import re

    import httpx
    import psycopg

    from survey.auth import hash_password

    with psycopg.connect(api_database_url) as conn:
        conn.execute("INSERT INTO app_user (programme_id, username, full_name, role, "
                     "password_hash) SELECT id, 'public.maps', 'Public', 'public', %s "
                     "FROM programme ON CONFLICT (username) DO NOTHING",
                     (hash_password("public-pass"),))
    with httpx.Client(base_url=live_server, timeout=30) as client:
        form = client.get("/login").text
        token = re.search(r"name='csrf_token' value='([^']+)'", form)
        assert token is not None
        signed = client.post("/login", data={"username": "public.maps",
                                             "password": "public-pass",
                                             "csrf_token": token[1]})
        assert signed.status_code == 303
        page = client.get("/maps/overview").text
        assert client.get("/maps/search", params={"q": "UA"}).json() == []
    assert "Released land: " in page and 'demine.geojson("releases"' in page
    assert '"hazard-areas": {' not in page  # no hazard-area symbology, nor its fields
    assert '"hazard_area_id": "' not in page and '"hazard_area": "' not in page
    assert '"remaining_area_m2"' not in page and "Hazard areas: " not in page


def test_basemap_tiles_come_from_the_mbtiles_file(live_server: str, tiled_server: str) -> None:
    import math

    import httpx

    from survey.demo.gazetteer import DEMO_REGION_LL

    lon, lat = DEMO_REGION_LL.centroid.x, DEMO_REGION_LL.centroid.y
    z = 10
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    with httpx.Client(timeout=30) as client:
        tile = client.get(f"{tiled_server}/basemap/{z}/{x}/{y}.png")
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
        assert tile.content == _png(256, 256, (236, 232, 214))  # the file's tile, XYZ → TMS
        # a tile the file lacks: a transparent pixel, not a 404 in every console
        empty = client.get(f"{tiled_server}/basemap/{z}/{x}/{2**z - 1 - y}.png")
        assert empty.status_code == 200 and len(empty.content) < 100
        # no basemap configured: 404 problem+json
        none = client.get(f"{live_server}/basemap/{z}/{x}/{y}.png")
        assert none.status_code == 404
        assert none.headers["content-type"].startswith("application/problem+json")
