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


# --- the review map of a submission (maps/review.py) ---

# each issue pinned where it is: errors block the submission, warnings inform
ISSUE_STYLE: dict[str, dict[str, Any]] = {
    "error": {"color": "#7F0000", "fill": True, "fillColor": "#D7191C", "fillOpacity": 0.9,
              "radius": 7, "weight": 2},
    "warning": {"color": "#7A4A00", "fill": True, "fillColor": "#FDAE61", "fillOpacity": 0.9,
                "radius": 6, "weight": 2},
}

# submitted features by what was found on them (outline), filled lightly
SUBMITTED_OUTLINE = {"error": "#D7191C", "warning": "#F08C00", "clean": "#1F4E9A"}
# one light fill for all of them: the pins alone are filled in the issues' colours
SUBMITTED_FILL = "#9ECAE1"


def submitted_style(properties: dict[str, Any]) -> dict[str, Any]:
    """Leaflet path options for one submitted feature: red outline when its row has
    errors, orange (dashed) with warnings only, blue when clean."""
    state = ("error" if properties.get("errors") else
             "warning" if properties.get("warnings") else "clean")
    return {"color": SUBMITTED_OUTLINE[state], "weight": 3 if state != "clean" else 2,
            "fillColor": SUBMITTED_FILL, "fillOpacity": 0.2,
            "dashArray": "5 4" if state == "warning" else None}


def review_legend_entries() -> list[tuple[str, dict[str, Any]]]:
    """(label, swatch style) pairs for the review map's legend."""
    return [("Error (blocks approval)", {"fill": ISSUE_STYLE["error"]["fillColor"]}),
            ("Warning", {"fill": ISSUE_STYLE["warning"]["fillColor"]}),
            ("Row with errors", {"outline": SUBMITTED_OUTLINE["error"], "dashed": False}),
            ("Row with warnings", {"outline": SUBMITTED_OUTLINE["warning"], "dashed": True}),
            ("Row without issues", {"outline": SUBMITTED_OUTLINE["clean"], "dashed": False})]
