"""The overview map in headless Chromium: signs in, draws the hazard areas, stays offline."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from survey.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_overview_map_draws_hazard_areas_offline(browser: Any, live_server: str,
                                                 tmp_path: Any) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # the console too: a 404 (the favicon every page asks for) is logged there
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/maps/overview")
    assert "/login" in page.url
    page.fill("#username", "coordinator")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("path.leaflet-interactive", timeout=20000)

    drawn = page.eval_on_selector_all("path.leaflet-interactive", "els => els.length")
    assert drawn >= 60  # 60 hazard areas, plus admin outlines
    fills = page.eval_on_selector_all("path.leaflet-interactive",
                                      "els => els.map(e => e.getAttribute('fill'))")
    # hazard areas by classification, released land by product
    assert {"#FF0000", "#F4A718", "#2E7D32", "#4FA3E0", "#9BD39B"} <= {f.upper() for f in fills
                                                                       if f}
    assert page.locator("#demine-legend").is_visible()
    page.screenshot(path=str(tmp_path / "overview.png"))

    host = urlparse(live_server).netloc
    foreign = [url for url in requested if urlparse(url).netloc not in (host, "")
               and not url.startswith("data:")]
    assert foreign == [], f"the map fetched from other hosts: {foreign}"
    assert errors == []
    page.close()
