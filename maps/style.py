"""IMAS land release symbology (Technical Note 07.11/01, Annex C of IMAS 07.11) as data."""

from __future__ import annotations

from typing import Any

# fill by classification
CLASSIFICATION_FILL = {"CHA": "#FF0000", "SHA": "#F4A718"}
FILL_OPACITY = 0.5

# status is shown by the outline
STATUS_OUTLINE: dict[str, dict[str, Any]] = {
    "open": {"color": "#000000", "weight": 2, "dashArray": None},
    "worked_on": {"color": "#1F4E9A", "weight": 3, "dashArray": "6 4"},
    "closed": {"color": "#2E7D32", "weight": 2, "dashArray": None},
    "handed_over": {"color": "#2E7D32", "weight": 1, "dashArray": "2 4"},
}

# released land, by product
PRODUCT_FILL = {"cancelled": "#9BD39B", "reduced": "#4FA3E0", "cleared": "#2E7D32"}

ADMIN_OUTLINE = {"color": "#555555", "weight": 1, "fill": False, "dashArray": "4 4"}


def hazard_style(properties: dict[str, Any]) -> dict[str, Any]:
    """Leaflet path options for one hazard-area feature."""
    outline = STATUS_OUTLINE.get(properties.get("status", "open"), STATUS_OUTLINE["open"])
    return {
        "fillColor": CLASSIFICATION_FILL.get(properties.get("classification", "SHA"), "#999999"),
        "fillOpacity": FILL_OPACITY,
        **outline,
    }


def release_style(properties: dict[str, Any]) -> dict[str, Any]:
    """Leaflet path options for one released polygon, filled by product."""
    return {"fillColor": PRODUCT_FILL.get(properties.get("product", ""), "#999999"),
            "fillOpacity": 0.8, "color": "#1B5E20", "weight": 1}


STATUS_LABELS = {"open": "Open", "worked_on": "Worked on", "closed": "Closed",
                 "handed_over": "Handed over"}


def legend_entries() -> list[tuple[str, dict[str, Any]]]:
    """(label, swatch style) pairs for a map legend: fills, then status outlines."""
    fills = [("Confirmed hazardous area (CHA)", CLASSIFICATION_FILL["CHA"]),
             ("Suspected hazardous area (SHA)", CLASSIFICATION_FILL["SHA"]),
             *[(f"Released: {product}", colour) for product, colour in PRODUCT_FILL.items()]]
    outlines = [(f"Status: {STATUS_LABELS[status]}", style)
                for status, style in STATUS_OUTLINE.items()]
    return ([(label, {"fill": colour}) for label, colour in fills]
            + [(label, {"outline": style["color"], "dashed": bool(style["dashArray"])})
               for label, style in outlines])
