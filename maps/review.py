"""The review map of a submission: what was submitted, and every issue pinned where it is.

Offline like the overview map (Leaflet served by the product, no CDN, no tiles unless a
basemap is configured). Errors and warnings are styled apart (maps/style.py).
"""

from __future__ import annotations

from typing import Any

import folium
from shapely.geometry import shape

from maps.common import base_map, bounds, decorate, escaped
from maps.style import ISSUE_STYLE, review_legend_entries, submitted_style

FEATURE_TOOLTIP = {"row": "Row", "kind": "Record", "local_id": "Local id", "errors": "Errors",
                   "warnings": "Warnings"}
ISSUE_TOOLTIP = {"row": "Row", "severity": "Severity", "field": "Field", "message": "Issue"}


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
    pins = issue_collection(issues)
    shown = [*features.get("features", []), *pins["features"]]
    fmap = base_map(height=height, basemap_url=basemap_url,
                    fit=bounds({"features": shown}) if shown else None)
    if features.get("features"):
        fields = list(FEATURE_TOOLTIP)
        folium.GeoJson(
            escaped(features, fields), name="Submitted features",
            style_function=lambda f: submitted_style(f["properties"]),
            tooltip=folium.GeoJsonTooltip(fields, aliases=list(FEATURE_TOOLTIP.values()),
                                          localize=True),
        ).add_to(fmap)
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
    # what every map carries (scale, measure, pointer position, fullscreen, print), the
    # legend, and search by the rows' local ids
    return decorate(fmap, title=title, legend=review_legend_entries(),
                    search_index=_search_index(features), static_url=static_url)


def _search_index(features: dict[str, Any]) -> list[dict[str, Any]]:
    """The submitted features with a local id, as rows for the map's search box."""
    rows = []
    for feature in features.get("features", []):
        local_id = (feature.get("properties") or {}).get("local_id")
        if not local_id or not feature.get("geometry"):
            continue
        geom = shape(feature["geometry"])
        if geom.is_empty:
            continue
        point = geom.representative_point()
        rows.append({"local_id": str(local_id), "lat": point.y, "lon": point.x,
                     "bbox": list(geom.bounds)})
    return rows
