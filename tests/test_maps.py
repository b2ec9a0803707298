"""Map building without a server: symbology by status, layers embedded or tiled, escaping,
and offline assets (nothing from another host, served or inlined)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import folium
import pytest
from folium.plugins import MarkerCluster
from shapely.geometry import Point, box, mapping

from maps.common import STATIC_DIR, base_map, decorate, page_html
from maps.overview import overview_map
from maps.style import CLASSIFICATION_FILL, STATUS_OUTLINE, SYMBOLOGY, feature_style
from survey.maps_overview import LayerData

# a URL with a host: in a served page only 127.0.0.1 would be acceptable, and none is used
HOST_URL = re.compile(r"""(?:https?:)?//([A-Za-z0-9.-]+)""")
# attributes and CSS that make the browser fetch something
FETCHES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]+)""")


def _hazards(*rows: tuple[str, str, str]) -> dict[str, object]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(box(37.3 + i / 100, 49.2, 37.305 + i / 100,
                                                    49.205)),
         "properties": {"id": f"00000000-0000-0000-0000-00000000000{i}", "local_id": local_id,
                        "classification": classification, "status": status,
                        "area_m2": 1000.0, "remaining_area_m2": 500.0}}
        for i, (local_id, classification, status) in enumerate(rows)]}


def _layers(hazards: dict[str, object] | None = None, *, tiled: tuple[str, ...] = ()
            ) -> dict[str, LayerData]:
    hazards = hazards or _hazards(("UA-1", "CHA", "open"), ("UA-2", "SHA", "worked_on"))
    finds = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(Point(37.301, 49.201)),
         "properties": {"id": "f1", "category": "AP_MINE", "model": "PMN-2", "quantity": 1,
                        "date": "2025-03-01"}}]}
    layers = {"hazard-areas": LayerData("hazard-areas", 2, hazards),
              "device-finds": LayerData("device-finds", 1, finds)}
    for name in tiled:
        layers[name] = LayerData(name, 250_000, None)
    return layers


def _fetched(html: str) -> list[str]:
    return [a or b for a, b in FETCHES.findall(html)]


def test_styles_by_classification_and_status() -> None:
    open_cha = feature_style("hazard-areas", {"classification": "CHA", "status": "open"})
    worked_sha = feature_style("hazard-areas", {"classification": "SHA",
                                                "status": "worked_on"})
    assert open_cha["fillColor"] == CLASSIFICATION_FILL["CHA"] == "#FF0000"
    assert worked_sha["fillColor"] == CLASSIFICATION_FILL["SHA"] == "#F4A718"
    assert open_cha["color"] == STATUS_OUTLINE["open"]["color"]
    assert worked_sha["dashArray"] == STATUS_OUTLINE["worked_on"]["dashArray"] is not None
    assert feature_style("releases", {"product": "cleared"})["fillColor"] == "#2E7D32"
    assert feature_style("tasks", {"status": "active"})["color"] != \
        feature_style("tasks", {"status": "planned"})["color"]
    # an unknown value falls back to the kind's default instead of failing
    assert feature_style("hazard-areas", {"classification": "??"})["fillColor"] == "#999999"


def test_small_layers_are_embedded_large_ones_tiled_and_the_page_says_so() -> None:
    html = page_html(overview_map(_layers(tiled=("releases",))))
    # the symbology travels as data, the embedded layer as GeoJSON, the big one as tiles
    found = re.search(r"window.DEMINE_SYMBOLOGY = (\{.*?\});", html)
    assert found is not None
    symbology = json.loads(found[1])
    assert symbology["hazard-areas"]["by"]["status"]["worked_on"]["dashArray"] == "6 4"
    assert 'demine.geojson("hazard-areas"' in html
    assert '"UA-2"' in html and '"worked_on"' in html
    assert 'demine.geojson("device-finds"' in html and '"cluster": true' in html
    assert re.search(r'demine.tiles\("releases",\s*"/tiles/releases/\{z\}/\{x\}/\{y\}.mvt"',
                     html)
    # no silent truncation: the summary says what is shown and how
    assert "Hazard areas: 2 (in the page)" in html
    assert "Released land: 250,000 (from the vector tiles, from zoom 12)" in html
    assert "at most 4,000 features per tile" in html
    # the controls of every map
    assert "demine.decorate(" in html and "L.control.layers" in html
    assert "demine-legend" in html


def test_free_text_is_escaped() -> None:
    hazards = _hazards(("<img src=x onerror=alert(1)>", "CHA", "open"))
    html = page_html(overview_map(_layers(hazards), title="<script>x</script>"))
    assert "<img src=x onerror" not in html
    assert "<script>x</script>" not in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html


def test_a_served_page_fetches_nothing_from_another_host() -> None:
    html = page_html(overview_map(_layers(tiled=("releases",))))
    fetched = _fetched(html)
    assert "/static/vendor/leaflet/leaflet.js" in fetched
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in fetched
    assert "/static/demine/map.js" in fetched
    assert all(not HOST_URL.match(url) for url in fetched), fetched
    # and no host anywhere in the page (the one allowed would be 127.0.0.1)
    hosts = set(HOST_URL.findall(html)) - {"127.0.0.1"}
    assert hosts == set(), hosts
    # every file the page asks for is in the product
    for url in fetched:
        if url.startswith("/static/"):
            assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url


def test_an_exported_page_inlines_every_asset() -> None:
    html = page_html(overview_map(_layers(), assets="inline"))
    # the markup and the stylesheets (the scripts' own strings are code, not requests:
    # the browser test checks those by watching the requests)
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.DOTALL)
    fetched = _fetched(markup)
    assert any(url.startswith("data:image/png;base64,") for url in fetched)
    assert all(url.startswith(("data:", "#")) for url in fetched), fetched
    assert "<script src=" not in html and 'rel="stylesheet"' not in html
    # the vendored code is in the page (its licence comments name their sites: not fetched)
    assert "L.Control.MousePosition" in html and "vectorGrid" in html
    assert 'demine.geojson("hazard-areas"' in html


def test_folium_plugins_get_the_products_copies_or_fail() -> None:
    fmap = base_map()
    MarkerCluster().add_to(fmap)
    decorate(fmap, title="t")
    html = page_html(fmap)
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in html
    assert "cdnjs" not in html

    class Foreign(folium.MacroElement):  # type: ignore[misc]
        default_js = [("somewhere", "https://cdn.example.org/x.js")]

    fmap = base_map()
    fmap.add_child(Foreign())
    decorate(fmap, title="t")
    with pytest.raises(ValueError, match="somewhere"):
        page_html(fmap)


def test_every_vendored_plugin_carries_its_licence() -> None:
    vendor = Path(STATIC_DIR) / "vendor"
    for directory in vendor.iterdir():
        names = {p.name.upper() for p in directory.iterdir()}
        assert any(n.startswith(("LICENSE", "LICENCE")) for n in names), directory.name


def test_every_kind_has_a_title_and_popup_fields() -> None:
    for kind, rule in SYMBOLOGY.items():
        assert rule["title"], kind
        assert isinstance(rule["fields"], list), kind
