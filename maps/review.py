"""The review map of a submission: what was submitted, and every issue pinned where it is.

Offline like the overview map (Leaflet served by the product, no CDN, no tiles unless a
basemap is configured). Errors and warnings are styled apart (maps/style.py).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from maps.common import UKRAINE_CENTRE, bounds, escaped, legend_html, offline
from maps.style import ISSUE_STYLE, review_legend_entries, submitted_style

FEATURE_TOOLTIP = {"row": "Row", "kind": "Record", "local_id": "Local id", "errors": "Errors",
                   "warnings": "Warnings"}
ISSUE_TOOLTIP = {"row": "Row", "severity": "Severity", "field": "Field", "message": "Issue"}


class _Legend(MacroElement):  # type: ignore[misc]
    """The legend as a Leaflet control, so that it stays on the map whatever the page
    around the map holds."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div");
                div.innerHTML = {{ this.html }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = json.dumps(html)


def issue_collection(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """Issues with a location as GeoJSON points (properties: row, severity, field,
    message, code)."""
    features = []
    for issue in issues:
        location = issue.get("location")
        if not location:
            continue
        features.append({"type": "Feature",
                         "geometry": {"type": "Point",
                                      "coordinates": [float(location[0]), float(location[1])]},
                         "properties": {"row": issue.get("row") if issue.get("row") is not None
                                        else "", "severity": issue.get("severity", "error"),
                                        "field": issue.get("field") or "",
                                        "message": issue.get("message", ""),
                                        "code": issue.get("code", "")}})
    return {"type": "FeatureCollection", "features": features}


def review_map(features: dict[str, Any], issues: list[dict[str, Any]], *,
               static_url: str = "/static", basemap_url: str | None = None,
               title: str = "Submission", height: str = "60vh") -> folium.Map:
    """A folium map of a submission: its features outlined by what was found on their row
    (errors red, warnings orange, clean blue) and each issue with a location pinned as a
    circle (errors red, warnings orange), one layer per severity.

    `features` is a GeoJSON FeatureCollection whose properties carry row, kind,
    local_id, errors and warnings; `issues` are the report's issues, those without a
    `location` ([lon, lat]) are left off the map.
    """
    fmap = folium.Map(location=UKRAINE_CENTRE, zoom_start=10, tiles=None, control_scale=True,
                      prefer_canvas=False, height=height)
    offline(fmap, static_url)
    if basemap_url:
        folium.TileLayer(basemap_url, attr="basemap", name="Basemap").add_to(fmap)
    if features.get("features"):
        fields = list(FEATURE_TOOLTIP)
        folium.GeoJson(
            escaped(features, fields), name="Submitted features",
            style_function=lambda f: submitted_style(f["properties"]),
            tooltip=folium.GeoJsonTooltip(fields, aliases=list(FEATURE_TOOLTIP.values()),
                                          localize=True),
        ).add_to(fmap)
    pins = issue_collection(issues)
    for severity, label in (("warning", "Warnings"), ("error", "Errors")):
        chosen = {"type": "FeatureCollection",
                  "features": [f for f in pins["features"]
                               if f["properties"]["severity"] == severity]}
        if not chosen["features"]:
            continue
        style = ISSUE_STYLE[severity]
        fields = list(ISSUE_TOOLTIP)
        folium.GeoJson(
            escaped(chosen, fields), name=label,
            marker=folium.CircleMarker(radius=style["radius"]),
            style_function=lambda _f, style=style: {k: v for k, v in style.items()
                                                    if k != "radius"},
            tooltip=folium.GeoJsonTooltip(fields, aliases=list(ISSUE_TOOLTIP.values())),
        ).add_to(fmap)
    shown = [*features.get("features", []), *pins["features"]]
    if shown:
        minx, miny, maxx, maxy = bounds({"features": shown})
        fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.add_child(_Legend(legend_html(review_legend_entries(), dot=True)))
    root = fmap.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(f"<title>{escape(title)} — demine</title>"))
    return fmap
