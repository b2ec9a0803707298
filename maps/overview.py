"""The overview map: hazard areas in IMAS colours, offline-capable (no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import folium
from branca.element import Element, Figure

from maps.common import UKRAINE_CENTRE, bounds, escaped, legend_html, offline
from maps.style import ADMIN_OUTLINE, hazard_style, legend_entries, release_style


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
    offline(fmap, static_url)
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
        minx, miny, maxx, maxy = bounds(shown)
        fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.LayerControl(collapsed=False).add_to(fmap)
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.html.add_child(Element(legend_html(
        legend_entries(), placement="position:absolute;bottom:28px;right:12px;z-index:1000;")))
    root.header.add_child(Element(f"<title>{escape(title)} — demine</title>"))
    return fmap


def _layer(collection: dict[str, Any], name: str,
           style: Callable[[dict[str, Any]], dict[str, Any]],
           tooltip: dict[str, str]) -> folium.GeoJson:
    """A GeoJSON layer styled from each feature's properties, with an escaped tooltip."""
    fields = list(tooltip)
    return folium.GeoJson(
        escaped(collection, fields), name=name,
        style_function=lambda feature: style(feature["properties"]),
        tooltip=folium.GeoJsonTooltip(fields, aliases=list(tooltip.values()), localize=True))
