"""What every map of the product shares: Leaflet from the product itself (never a CDN),
escaped tooltips, the extent of a collection and the legend box. Symbology is data in
maps/style.py; this module only draws it."""

from __future__ import annotations

from html import escape
from typing import Any

import folium

# Leaflet is served by the product itself; folium's default CDN list is replaced
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"

UKRAINE_CENTRE = (49.2, 37.3)


def offline(fmap: folium.Map, static_url: str) -> None:
    """Load Leaflet from the product's own static files instead of folium's CDN list."""
    fmap.default_js = [("leaflet", f"{static_url}/{LEAFLET_JS}")]
    fmap.default_css = [("leaflet_css", f"{static_url}/{LEAFLET_CSS}")]


def swatch(style: dict[str, Any], *, dot: bool = False) -> str:
    """The CSS of one legend key: a filled square (a dot for point symbols) or an outline."""
    if "fill" in style:
        shape = "border-radius:50%" if dot else "opacity:0.75"
        return f"background:{style['fill']};{shape};border:1px solid #333"
    line = "dashed" if style.get("dashed") else "solid"
    return f"background:#fff;border:2px {line} {style['outline']}"


def legend_html(entries: list[tuple[str, dict[str, Any]]], *, dot: bool = False,
                placement: str = "") -> str:
    """The legend box (id `demine-legend`) of `entries` (label, style) from maps/style.py;
    `placement` is extra CSS for where the box sits when it is not inside a control."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:12px;margin-right:6px;'
        f'{swatch(style, dot=dot)}"></span>{escape(label)}</div>'
        for label, style in entries)
    return (f'<div id="demine-legend" style="{placement}background:#fff;padding:8px 10px;'
            f'font:12px sans-serif;border:1px solid #999;border-radius:4px">{rows}</div>')


def escaped(collection: dict[str, Any], fields: list[str]) -> dict[str, Any]:
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


def bounds(collection: dict[str, Any]) -> tuple[float, float, float, float]:
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
