"""The overview's tiled layers in headless Chromium: 512-pixel tiles (the tile of zoom
z - 1 where the map is at z, as VectorGrid has no zoomOffset of its own), bounded by the
page's extent, and every hazard area drawn where it lies."""

from __future__ import annotations

import re
from typing import Any

from tests.test_map_browser import Watched, mbtiles, tiled_server  # noqa: F401 (fixtures)

# for each hazard area the tiles drew: its id, and whether the point inside it (from the
# maps' search) falls within the drawn shape's pixel box (2 px of slack); and the map's
# zoom, the tile layer's tile size and bounds
PLACED = """(rows) => {
    const m = window.demineMap, inside = new Map(rows.map(r => [r.id, r])), out = [];
    let size = null, bounds = null;
    m.eachLayer(layer => {
        if (!(layer._url || "").includes("/tiles/hazard-areas/")) { return; }
        size = layer.getTileSize().x;
        bounds = layer.options.bounds ? layer.options.bounds.toBBoxString() : null;
        Object.values(layer._vectorTiles).forEach(tile => {
            const origin = tile.getOffset();
            Object.entries(tile._features).forEach(([id, f]) => {
                const row = inside.get(id);
                if (!row) { return; }
                const p = m.latLngToLayerPoint([row.lat, row.lon]).subtract(origin);
                const b = f.feature._pxBounds;
                out.push([id, b.min.x - 2 <= p.x && p.x <= b.max.x + 2
                              && b.min.y - 2 <= p.y && p.y <= b.max.y + 2]);
            });
        });
    });
    return {zoom: m.getZoom(), size: size, bounds: bounds, placed: out};
}"""


def test_tiles_are_512_pixels_bounded_and_in_place(browser: Any, tiled_server: str  # noqa: F811
                                                   ) -> None:
    watched = Watched(browser)
    page = watched.page
    watched.sign_in(tiled_server)
    page.wait_for_function("() => window.demineDrawn && window.demineDrawn['hazard-areas']",
                           timeout=20000)
    rows = page.evaluate(
        "() => fetch('/maps/search?q=-', {credentials: 'same-origin'}).then(r => r.json())")
    assert len(rows) >= 10  # the search answers up to 20 of the 60
    seen = page.evaluate(PLACED, rows)
    assert seen["size"] == 512
    # the tiles asked for are one zoom above the map's
    zooms = {int(found.group(1)) for url in watched.answers
             if (found := re.search(r"/tiles/hazard-areas/(\d+)/\d+/\d+\.mvt", url))}
    assert zooms == {seen["zoom"] - 1}
    # every hazard area found is drawn, each where it lies (a wrong zoom or tile size
    # would put the shapes of one tile over another place)
    assert {fid for fid, _ in seen["placed"]} == {row["id"] for row in rows}
    assert all(ok for _, ok in seen["placed"]), [fid for fid, ok in seen["placed"] if not ok]
    # the layer asks only for the tiles over the page's extent, which holds every area
    assert seen["bounds"] is not None
    minx, miny, maxx, maxy = map(float, seen["bounds"].split(","))
    assert all(minx <= r["lon"] <= maxx and miny <= r["lat"] <= maxy for r in rows)
    assert watched.errors == []
    watched.close()
