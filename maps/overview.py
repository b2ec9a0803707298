"""The overview map: hazard areas in IMAS colours, offline-capable (no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import folium
from branca.element import Element, Figure

from maps.style import ADMIN_OUTLINE, hazard_style, legend_entries, release_style

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
        _layer(admin_areas, "Administrative areas", lambda _p: ADMIN_OUTLINE,
               {"name": "Administrative area"}).add_to(fmap)
    if hazards.get("features"):
        _layer(hazards, title, hazard_style,
               {"local_id": "Hazard area", "classification": "Class", "status": "Status",
                "area_m2": "Area (m²)", "remaining_area_m2": "Remaining (m²)"}).add_to(fmap)
    if releases and releases.get("features"):
        _layer(releases, "Released land", release_style,
               {"hazard_area": "Hazard area", "product": "Product", "method": "Method",
                "release_date": "Date", "area_m2": "Area (m²)"}).add_to(fmap)
    shown = hazards if hazards.get("features") else (releases or {"features": []})
    if shown.get("features"):
        minx, miny, maxx, maxy = _bounds(shown)
        fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.LayerControl(collapsed=False).add_to(fmap)
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.html.add_child(Element(_legend_html()))
    root.header.add_child(Element(f"<title>{escape(title)} — demine</title>"))
    return fmap


def _escaped(collection: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The collection with the tooltip fields HTML-escaped: folium's tooltips write them
    as HTML, and names and local ids are free text from the field."""
    features = []
    for feature in collection["features"]:
        props = dict(feature.get("properties") or {})
        for name in fields:
            if isinstance(props.get(name), str):
                props[name] = escape(props[name])
        features.append({**feature, "properties": props})
    return {**collection, "features": features}


def _layer(collection: dict[str, Any], name: str,
           style: Callable[[dict[str, Any]], dict[str, Any]],
           tooltip: dict[str, str]) -> folium.GeoJson:
    """A GeoJSON layer styled from each feature's properties, with an escaped tooltip."""
    fields = list(tooltip)
    return folium.GeoJson(
        _escaped(collection, fields), name=name,
        style_function=lambda feature: style(feature["properties"]),
        tooltip=folium.GeoJsonTooltip(fields, aliases=list(tooltip.values()), localize=True))


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
