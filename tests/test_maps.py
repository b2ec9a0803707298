"""Map building without a server: escaping, offline assets, symbology."""

from __future__ import annotations

from shapely.geometry import box, mapping

from maps.overview import overview_map


def _collection(**props: object) -> dict[str, object]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "1", "geometry": mapping(box(37.3, 49.2, 37.31, 49.21)),
         "properties": {"local_id": "UA-1", "classification": "CHA", "status": "open",
                        "area_m2": 1.0, "remaining_area_m2": 1.0, **props}}]}


def test_free_text_is_escaped_in_tooltips() -> None:
    admin = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(box(37, 49, 38, 50)),
         "properties": {"name": "<img src=x onerror=alert(1)>"}}]}
    html = overview_map(_collection(), admin_areas=admin).get_root().render()
    assert "<img src=x onerror" not in html
    # escaped for HTML, then embedded as JSON (which writes & as \u0026)
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html


def test_no_asset_comes_from_another_host() -> None:
    html = overview_map(_collection()).get_root().render()
    head = html.split("<body>")[0]
    assert "/static/vendor/leaflet/leaflet.js" in head
    assert "http://" not in head and "https://" not in head


def test_released_land_alone_still_frames_the_map() -> None:
    releases = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(box(37.3, 49.2, 37.301, 49.201)),
         "properties": {"hazard_area": "UA-1", "product": "cleared", "method": "MANUAL",
                        "release_date": "2025-01-01", "area_m2": 8000.0}}]}
    html = overview_map({"type": "FeatureCollection", "features": []},
                        releases=releases).get_root().render()
    assert "fitBounds" in html and "#2E7D32" in html
