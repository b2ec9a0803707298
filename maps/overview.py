"""The overview map: hazard areas in IMAS colours, offline-capable (no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

import folium
from branca.element import Element, Figure

from maps.style import hazard_style, legend_entries, release_style

# Leaflet is served by the product itself; folium's default CDN list is replaced
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"

UKRAINE_CENTRE = (49.2, 37.3)


def _offline(fmap: folium.Map, static_url: str) -> None:
    fmap.default_js = [("leaflet", f"{static_url}/{LEAFLET_JS}")]
    fmap.default_css = [("leaflet_css", f"{static_url}/{LEAFLET_CSS}")]


def _swatch(style: dict[str, object]) -> str:
    if "fill" in style:
        return f"background:{style['fill']};opacity:0.75;border:1px solid #333"
    line = "dashed" if style.get("dashed") else "solid"
    return f"background:#fff;border:2px {line} {style['outline']}"


def _legend_html() -> str:
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:12px;margin-right:6px;'
        f'{_swatch(style)}"></span>{escape(label)}</div>'
        for label, style in legend_entries())
    return ('<div id="demine-legend" style="position:absolute;bottom:28px;right:12px;'
            'z-index:1000;background:#fff;padding:8px 10px;font:12px sans-serif;'
            f'border:1px solid #999;border-radius:4px">{rows}</div>')


def overview_map(
    hazards: dict[str, Any],
    *,
    static_url: str = "/static",
    admin_areas: dict[str, Any] | None = None,
    releases: dict[str, Any] | None = None,
    basemap_url: str | None = None,
    title: str = "Hazard areas",
) -> folium.Map:
    """A folium map of hazard areas (fill by classification, outline by status) with the
    land released from them on top (fill by product).

    Without `basemap_url` the map has no background tiles, so it works with no network;
    give the URL template of a tile server (e.g. one on the local network) to add one.
    """
    fmap = folium.Map(location=UKRAINE_CENTRE, zoom_start=10, tiles=None, control_scale=True,
                      prefer_canvas=False)
    _offline(fmap, static_url)
    if basemap_url:
        folium.TileLayer(basemap_url, attr="basemap", name="Basemap").add_to(fmap)
    if admin_areas and admin_areas.get("features"):
        folium.GeoJson(admin_areas, name="Administrative areas",
                       style_function=lambda _f: {"color": "#555", "weight": 1, "fill": False,
                                                  "dashArray": "4 4"},
                       tooltip=folium.GeoJsonTooltip(["name"], labels=False)).add_to(fmap)
    if hazards.get("features"):
        folium.GeoJson(
            hazards, name=title,
            style_function=lambda feature: hazard_style(feature["properties"]),
            tooltip=folium.GeoJsonTooltip(
                ["local_id", "classification", "status", "area_m2", "remaining_area_m2"],
                aliases=["Hazard area", "Class", "Status", "Area (m²)", "Remaining (m²)"],
                localize=True),
        ).add_to(fmap)
        if releases and releases.get("features"):
            folium.GeoJson(
                releases, name="Released land",
                style_function=lambda feature: release_style(feature["properties"]),
                tooltip=folium.GeoJsonTooltip(
                    ["hazard_area", "product", "method", "release_date", "area_m2"],
                    aliases=["Hazard area", "Product", "Method", "Date", "Area (m²)"],
                    localize=True),
            ).add_to(fmap)
        minx, miny, maxx, maxy = _bounds(hazards)
        fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.LayerControl(collapsed=False).add_to(fmap)
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.html.add_child(Element(_legend_html()))
    root.header.add_child(Element(f"<title>{escape(title)} — demine</title>"))
    return fmap


def _bounds(collection: dict[str, Any]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for part in coords:
                walk(part)

    for feature in collection["features"]:
        walk(feature["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)
