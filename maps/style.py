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


# --- the maps' symbology as data: written into every page (maps/common.py) and read by
# maps/static/demine/map.js, for embedded and tiled layers alike. Keys are the layer
# names of the vector tiles (/tiles/{layer}/...); "by" styles a feature by a property
# ("*" when the value has no entry), "fields" are a popup's rows, "link" the record's
# page ({property} placeholders; no link when one is missing); "tiles_min_zoom" the
# zoom from which a layer drawn from the tiles shows (a country of released land is
# sub-pixel clutter, and a million of it is not worth fetching at z6). ---

TASK_STATUS_STYLE: dict[str, dict[str, Any]] = {
    "planned": {"color": "#6A1B9A", "dashArray": "6 4"},
    "active": {"color": "#1F4E9A", "dashArray": None},
    "suspended": {"color": "#757575", "dashArray": "2 4"},
    "completed": {"color": "#2E7D32", "dashArray": None},
}

# device finds, by ordnance category (mines warm, projectiles cool, the rest neutral)
CATEGORY_FILL = {
    "AP_MINE": "#B71C1C", "AT_MINE": "#E65100", "SUBMUNITION": "#AD1457",
    "PROJECTILE": "#283593", "MORTAR": "#1565C0", "ROCKET": "#00838F",
    "GRENADE": "#6A1B9A", "AIRCRAFT_BOMB": "#4E342E", "AXO": "#558B2F", "IED": "#000000",
    "OTHER": "#616161",
}

SYMBOLOGY: dict[str, dict[str, Any]] = {
    "hazard-areas": {
        "title": "Hazard area",
        "base": {"fillOpacity": FILL_OPACITY, "weight": 2, "fill": True},
        "by": {"classification": {**{k: {"fillColor": v} for k, v in
                                       CLASSIFICATION_FILL.items()},
                                  "*": {"fillColor": "#999999"}},
               "status": {**STATUS_OUTLINE, "*": STATUS_OUTLINE["open"]}},
        "fields": [["local_id", "Local id"], ["classification", "Class"],
                   ["status", "Status"], ["area_m2", "Area (m²)"],
                   ["remaining_area_m2", "Remaining (m²)"]],
        "link": "/maps/hazard-areas/{id}",
    },
    "remaining": {
        "tiles_min_zoom": 12,
        "title": "Remaining ground",
        "base": {"fillOpacity": 0.35, "stroke": False, "fill": True},
        "by": {"classification": {**{k: {"fillColor": v} for k, v in
                                       CLASSIFICATION_FILL.items()},
                                  "*": {"fillColor": "#999999"}}},
        "fields": [["classification", "Class"]],
        "link": "/maps/hazard-areas/{hazard_area_id}",
    },
    "releases": {
        "tiles_min_zoom": 12,
        "title": "Released land",
        "base": {"fillOpacity": 0.8, "color": "#1B5E20", "weight": 1, "fill": True},
        "by": {"product": {**{k: {"fillColor": v} for k, v in PRODUCT_FILL.items()},
                           "*": {"fillColor": "#999999"}}},
        "fields": [["hazard_area", "Hazard area"], ["product", "Product"],
                   ["method", "Method"], ["date", "Date"], ["area_m2", "Area (m²)"]],
        "link": "/maps/hazard-areas/{hazard_area_id}",
    },
    "device-finds": {
        "tiles_min_zoom": 12,
        "title": "Device find",
        "radius": 6,
        "cluster_by": "category",
        "base": {"color": "#FFFFFF", "weight": 1, "fillOpacity": 0.9, "fill": True},
        "by": {"category": {**{k: {"fillColor": v} for k, v in CATEGORY_FILL.items()},
                            "*": {"fillColor": CATEGORY_FILL["OTHER"]}}},
        "fields": [["category", "Category"], ["model", "Model"], ["quantity", "Quantity"],
                   ["date", "Found"]],
        "link": None,
    },
    "tasks": {
        "tiles_min_zoom": 12,
        "title": "Task",
        "base": {"weight": 3, "fill": True, "fillOpacity": 0.05, "fillColor": "#1F4E9A"},
        "by": {"status": {**TASK_STATUS_STYLE, "*": TASK_STATUS_STYLE["planned"]}},
        "fields": [["local_id", "Local id"], ["status", "Status"],
                   ["activity", "Activity"]],
        "link": "/maps/tasks/{id}",
    },
    "admin-areas": {
        "title": "Administrative area",
        "base": {**ADMIN_OUTLINE, "fillOpacity": 0.0},
        "by": {},
        "fields": [["name", "Name"], ["code", "Code"],
                   ["remaining_m2", "Remaining contamination (m²)"]],
        "link": None,
    },
    # admin-area names at a point inside each, for maps without a basemap
    "place-names": {"title": "Place", "label": "name", "base": {}, "by": {}, "fields": [],
                    "link": None},
}


def symbology() -> dict[str, dict[str, Any]]:
    """SYMBOLOGY as the pages get it (window.DEMINE_SYMBOLOGY)."""
    return SYMBOLOGY


def feature_style(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The Leaflet path options map.js gives a feature of `kind` (the same rule, in
    Python, for tests and static renderers)."""
    rule = SYMBOLOGY[kind]
    out = dict(rule.get("base", {}))
    for name, table in rule.get("by", {}).items():
        value = properties.get(name)
        out.update(table.get(value) if value is not None and value in table
                   else table.get("*", {}))
    return out


def overview_legend_entries() -> list[tuple[str, dict[str, Any]]]:
    """The overview's legend: hazard fills and outlines, released land, task outlines,
    device finds by category (dots)."""
    tasks = [(f"Task: {status}", {"outline": style["color"],
                                  "dashed": bool(style["dashArray"])})
             for status, style in TASK_STATUS_STYLE.items()]
    finds = [(f"Find: {category.replace('_', ' ').lower()}", {"fill": colour, "dot": True})
             for category, colour in CATEGORY_FILL.items()]
    return [*legend_entries(), *tasks, *finds]


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
    return [("Error (blocks approval)", {"fill": ISSUE_STYLE["error"]["fillColor"], "dot": True}),
            ("Warning", {"fill": ISSUE_STYLE["warning"]["fillColor"], "dot": True}),
            ("Row with errors", {"outline": SUBMITTED_OUTLINE["error"], "dashed": False}),
            ("Row with warnings", {"outline": SUBMITTED_OUTLINE["warning"], "dashed": True}),
            ("Row without issues", {"outline": SUBMITTED_OUTLINE["clean"], "dashed": False})]


# --- the maps of one record (maps/hazard.py, maps/task.py, maps/who.py) ---

# points as circle markers (radius in pixels); turning points are numbered discs instead
MARKER_STYLE: dict[str, dict[str, Any]] = {
    "reference": {"fillColor": "#000000", "color": "#000000", "radius": 6},
    "benchmark": {"fillColor": "#7B3294", "color": "#000000", "radius": 5},
    "start": {"fillColor": "#1A9641", "color": "#000000", "radius": 5},
    "turning": {"fillColor": "#FFFFFF", "color": "#000000", "radius": 5},
    "intermediate": {"fillColor": "#BABABA", "color": "#000000", "radius": 3},
    "end": {"fillColor": "#D7191C", "color": "#000000", "radius": 5},
}
MARKER_LABELS = {"reference": "Reference point", "benchmark": "Benchmark",
                 "start": "Start point", "turning": "Turning point",
                 "intermediate": "Intermediate point", "end": "End point"}
# the line a team walks from the reference point to the benchmark and round the turning points
MARKER_LINE = {"color": "#000000", "weight": 1.5, "dashArray": "4 3"}

EVIDENCE_STYLE: dict[str, dict[str, Any]] = {
    "direct": {"fillColor": "#67001F", "color": "#FFFFFF", "radius": 5},
    "indirect": {"fillColor": "#F4A582", "color": "#67001F", "radius": 5},
}

# an earlier boundary (re-survey, split), and the ground that still remains
BOUNDARY_HISTORY = {"color": "#555555", "weight": 2, "dashArray": "8 6", "fill": False}
REMAINING_OUTLINE = {"color": "#7F0000", "weight": 1.5, "dashArray": "2 3", "fill": False}
# the latest releases of a task, outlined over its released land
LATEST_OUTLINE = {"color": "#FFD600", "weight": 3, "dashArray": None, "fill": False}

TASK_STATUS_LABELS = {"planned": "Planned", "active": "Active", "suspended": "Suspended",
                      "completed": "Completed"}

# the record maps' point layers, drawn by maps/static/demine/map.js like the overview's
# (popups built in the browser from the fields: a page with thousands of finds stays small)
SYMBOLOGY.update({
    "evidence-points": {
        "title": "Evidence",
        "radius": 5,
        "base": {"weight": 1.5, "fillOpacity": 0.95, "fill": True},
        "by": {"evidence": {**{k: {key: v for key, v in st.items() if key != "radius"}
                               for k, st in EVIDENCE_STYLE.items()},
                            "*": {"fillColor": "#999999", "color": "#333333"}}},
        "fields": [["evidence", "Evidence"], ["description", "Description"],
                   ["observed_on", "Observed"]],
        "link": "/api/v1/evidence-points/{id}",
    },
    "device-finds-detail": {
        "title": "Device find",
        "radius": 5,
        "cluster_by": "category",
        "base": {"color": "#FFFFFF", "weight": 1, "fillOpacity": 0.95, "fill": True},
        "by": {"category": {**{k: {"fillColor": v} for k, v in CATEGORY_FILL.items()},
                            "*": {"fillColor": CATEGORY_FILL["OTHER"]}}},
        "fields": [["model", "Model"], ["category", "Category"], ["quantity", "Quantity"],
                   ["depth_cm", "Depth (cm)"], ["found_date", "Found"],
                   ["condition", "Condition"], ["disposal_method", "Disposal"]],
        "link": "/api/v1/device-finds/{id}",
    },
})

# one colour per operator on the 3W map, in the order of their names (ColorBrewer Dark2)
OPERATOR_PALETTE = ["#1B9E77", "#D95F02", "#7570B3", "#E7298A", "#66A61E", "#E6AB02",
                    "#A6761D", "#666666"]
# admin areas by how many operators work in them: none, 1, 2, 3, 4 or more
OPERATOR_COUNT_FILL = ["#FFFFFF", "#DEEBF7", "#9ECAE1", "#4292C6", "#08519C"]


def point_style(base: dict[str, Any]) -> dict[str, Any]:
    """Leaflet circle-marker options from a point style (its radius is the marker's)."""
    return {"fill": True, "fillOpacity": 0.95, "weight": 1.5,
            **{k: v for k, v in base.items() if k != "radius"}}


def operator_count_style(properties: dict[str, Any]) -> dict[str, Any]:
    """Leaflet options for one admin area of the 3W map, filled by its operators."""
    count = min(int(properties.get("operators") or 0), len(OPERATOR_COUNT_FILL) - 1)
    return {"fillColor": OPERATOR_COUNT_FILL[count], "fillOpacity": 0.6 if count else 0.1,
            "color": "#555555", "weight": 1}


def task_point_style(colour: str, status: str) -> dict[str, Any]:
    """Leaflet options for a task on the 3W map: filled by operator, outlined by status."""
    outline = TASK_STATUS_STYLE.get(status, TASK_STATUS_STYLE["planned"])
    return {"fill": True, "fillColor": colour, "fillOpacity": 0.9, "weight": 3, **outline}


Present = dict[str, set[str]]


def hazard_legend(present: Present | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(label, swatch style) pairs for the map of a hazard area or a task: IMAS fills
    and outlines, remaining ground and earlier boundaries, marker and evidence points,
    finds by category. `present` (group -> values drawn; groups: classification,
    status, product, task_status, line, marker, evidence, category) keeps the legend to
    what the map shows; None lists everything."""
    entries: list[tuple[str, str, tuple[str, dict[str, Any]]]] = []
    for value, colour in CLASSIFICATION_FILL.items():
        entries.append(("classification", value,
                        (f"{'Confirmed' if value == 'CHA' else 'Suspected'} hazardous area "
                         f"({value})", {"fill": colour})))
    for value, style in STATUS_OUTLINE.items():
        entries.append(("status", value, (f"Status: {STATUS_LABELS[value]}",
                                          {"outline": style["color"],
                                           "dashed": bool(style["dashArray"])})))
    for value, colour in PRODUCT_FILL.items():
        entries.append(("product", value, (f"Released: {value}", {"fill": colour})))
    for value, style in TASK_STATUS_STYLE.items():
        entries.append(("task_status", value, (f"Task: {TASK_STATUS_LABELS[value]}",
                                               {"outline": style["color"],
                                                "dashed": bool(style["dashArray"])})))
    entries.append(("line", "remaining", ("Remaining ground",
                                          {"outline": REMAINING_OUTLINE["color"],
                                           "dashed": True})))
    entries.append(("line", "latest", ("Latest releases",
                                       {"outline": LATEST_OUTLINE["color"], "dashed": False})))
    entries.append(("line", "boundary", ("Earlier boundary",
                                         {"outline": BOUNDARY_HISTORY["color"],
                                          "dashed": True})))
    for value, style in MARKER_STYLE.items():
        entries.append(("marker", value, (MARKER_LABELS[value],
                                          {"fill": style["fillColor"], "dot": True})))
    for value, style in EVIDENCE_STYLE.items():
        entries.append(("evidence", value, (f"Evidence ({value})",
                                            {"fill": style["fillColor"], "dot": True})))
    for value, colour in CATEGORY_FILL.items():
        entries.append(("category", value,
                        (f"Find: {value.replace('_', ' ').lower()}",
                         {"fill": colour, "dot": True})))
    return [pair for group, value, pair in entries
            if present is None or value in present.get(group, set())]


def who_legend(operators: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    """(label, swatch style) pairs for the 3W map: operators (name, colour), task
    statuses, and admin areas by operator count."""
    counts = ["No operator", "1 operator", "2 operators", "3 operators", "4 or more"]
    return ([(name, {"fill": colour, "dot": True}) for name, colour in operators]
            + [(f"Task: {TASK_STATUS_LABELS[s]}", {"outline": st["color"],
                                                   "dashed": bool(st["dashArray"])})
               for s, st in TASK_STATUS_STYLE.items()]
            + [(label, {"fill": fill}) for label, fill in zip(counts, OPERATOR_COUNT_FILL,
                                                              strict=True)])
