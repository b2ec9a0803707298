"""The map of one hazard area: its boundary (and earlier ones), the land released from it
in date order, what remains, evidence, marker points with the turning points numbered in
the order a team walks them, device finds, and its ledger table in a panel beside the map.

A pure function from survey.maps_data.HazardAreaMapData to a folium.Map; symbology is
maps/style.py. Offline like every map of the product.
"""

from __future__ import annotations

from html import escape
from typing import Any

import folium

from maps import record_page as page
from maps.common import AssetMode, GeoJsonLayer, base_map, decorate
from maps.style import (
    BOUNDARY_HISTORY,
    MARKER_LABELS,
    MARKER_LINE,
    MARKER_STYLE,
    PRODUCT_FILL,
    REMAINING_OUTLINE,
    STATUS_LABELS,
    hazard_legend,
    hazard_style,
    point_style,
    release_style,
)
from survey.maps_data import HazardAreaMapData, LedgerTable, collection

# what a hazard area found by the search box shows (maps/style.py SYMBOLOGY fields)
SEARCH_FIELDS = ("classification", "status", "area_m2", "remaining_area_m2")

# device finds are clustered above this many on one map
CLUSTER_FINDS = 300

# the order a team walks a boundary's marks
WALK = ("reference", "benchmark", "start", "turning", "end")


def hazard_area_map(data: HazardAreaMapData, *, static_url: str = "/static",
                    link_base: str = "", basemap_url: str | None = None,
                    assets: AssetMode = "served") -> folium.Map:
    """A folium map of one hazard area, with its ledger table and history in a panel
    (id `demine-panel`) beside the map.

    Layers: earlier boundaries, the hazard area (IMAS fill by classification, outline by
    status), released land (fill by product, numbered in date order), remaining
    ground, marker points (turning points numbered), evidence points, device finds.
    Popups carry the key fields and links to the records (under `link_base`: "" keeps
    them relative, an exported file names the server). `assets` "inline" makes a file
    that opens from disk with the network off (maps.common.save).
    """
    props = data.hazard_area["properties"]
    base_url = page.link_base_of(link_base, assets == "inline")
    fmap = base_map(zoom_start=15, basemap_url=basemap_url)

    if data.boundaries["features"]:
        page.layer(page.with_popups(data.boundaries, _boundary_popup,
                                    lambda p: f"Boundary {p['boundary_version']} "
                                              f"(until {p['valid_to'][:10]})"),
                   "Earlier boundaries", lambda _p: BOUNDARY_HISTORY).add_to(fmap)
    hazard = page.with_popups(collection([data.hazard_area]),
                              lambda p: hazard_popup(p, base_url),
                              lambda p: f"{p['local_id']} ({p['classification']}, "
                                        f"{STATUS_LABELS.get(p['status'], p['status'])})")
    page.layer(hazard, "Hazard area", hazard_style).add_to(fmap)
    if data.releases["features"]:
        page.layer(page.with_popups(data.releases, lambda p: release_popup(p, base_url),
                                    lambda p: f"#{p['order']} {p['release_date']} "
                                              f"{p['product']} ({p['method']})"),
                   "Released land", release_style).add_to(fmap)
    if data.remaining:
        rest = collection([{"type": "Feature", "geometry": data.remaining,
                            "properties": {"local_id": props["local_id"],
                                           "area_m2": props["remaining_area_m2"]}}])
        page.layer(page.with_popups(rest, lambda p: page.popup_html(
            f"Remaining of {p['local_id']}", [("Area", page.m2(p["area_m2"]))]),
            lambda p: f"Remaining {page.m2(p['area_m2'])}"),
            "Remaining ground", lambda _p: REMAINING_OUTLINE).add_to(fmap)
    if data.marker_points["features"]:
        marker_layer(data.marker_points, base_url).add_to(fmap)
    if data.evidence_points["features"]:
        evidence_layer(data.evidence_points).add_to(fmap)
    if data.device_finds["features"]:
        finds_layer(data.device_finds).add_to(fmap)

    page.fit(fmap, [hazard, data.boundaries, data.marker_points])
    page.add_panel(fmap, _panel(data, base_url))
    shown = {"classification": {props["classification"]}, "status": {props["status"]},
             "product": page.values(data.releases, "product"),
             "line": ({"remaining"} if data.remaining else set())
             | ({"boundary"} if data.boundaries["features"] else set()),
             "marker": page.values(data.marker_points, "kind"),
             "evidence": page.values(data.evidence_points, "evidence"),
             "category": page.values(data.device_finds, "category")}
    return decorate(fmap, title=f"Hazard area {props['local_id']}",
                    legend=hazard_legend(shown),
                    search_index=page.search_rows(hazard, "hazard-areas", SEARCH_FIELDS),
                    static_url=static_url, assets=assets, link_base=link_base)


# --- popups ------------------------------------------------------------------------------

def hazard_popup(p: dict[str, Any], base_url: page.Base) -> str:
    """The popup of a hazard area: its key fields and links to its map and records."""
    return page.popup_html(
        f"Hazard area {p['local_id']}",
        [("Name", p.get("name")), ("Classification", p.get("classification")),
         ("Status", STATUS_LABELS.get(p.get("status", ""), p.get("status"))),
         ("Contamination", p.get("contamination")), ("Land use", p.get("land_use")),
         ("Priority", p.get("priority")), ("Area", page.m2(p.get("area_m2"))),
         ("Remaining", page.m2(p.get("remaining_area_m2"))),
         ("Reported by", p.get("organisation")), ("Admin area", p.get("admin_area")),
         ("Information of", p.get("date_of_information"))],
        page.links(base_url, ("Map", f"/maps/hazard-areas/{p['id']}"),
              ("Record", f"/api/v1/hazard-areas/{p['id']}"),
              ("Ledger", f"/api/v1/hazard-areas/{p['id']}/ledger")))


def release_popup(p: dict[str, Any], base_url: page.Base) -> str:
    """The popup of a release: when, how, what it released and what remained after."""
    title = (f"Release #{p['order']}" if "order" in p else "Release")
    if p.get("hazard_area"):
        title += f" in {p['hazard_area']}"
    return page.popup_html(
        title,
        [("Date", p.get("release_date")), ("Product", p.get("product")),
         ("Method", p.get("method")),
         ("Technical asset", "yes" if p.get("technical_asset") else None),
         ("Depth", f"{p['depth_cm']} cm" if p.get("depth_cm") is not None else None),
         ("Area", page.m2(p.get("area_m2"))),
         ("Remaining after", page.m2(p["remaining_after_m2"])
          if p.get("remaining_after_m2") is not None else None)],
        page.links(base_url, ("Activity report", f"/api/v1/activity-reports/"
                                            f"{p['activity_report_id']}")))


def _boundary_popup(p: dict[str, Any]) -> str:
    return page.popup_html(
        f"Earlier boundary (version {p['boundary_version']})",
        [("Valid from", p["valid_from"][:19].replace("T", " ")),
         ("Valid to", p["valid_to"][:19].replace("T", " ")), ("Reason", p["reason"]),
         ("Area", page.m2(p["area_m2"]))])


def _marker_popup(p: dict[str, Any], base_url: page.Base) -> str:
    label = MARKER_LABELS.get(p["kind"], p["kind"])
    if p["kind"] == "turning":
        label += f" {p['number']}"
    return page.popup_html(
        label,
        [("Sequence", p.get("sequence")),
         ("Bearing", f"{p['bearing_deg']:.1f}°" if p.get("bearing_deg") is not None
          else None),
         ("Distance", f"{p['distance_m']:.1f} m" if p.get("distance_m") is not None
          else None),
         ("Description", p.get("description")),
         ("Of release", "yes" if p.get("release_id") else None)],
        page.links(base_url, ("Record", f"/api/v1/marker-points/{p['id']}")))


# --- point layers ----------------------------------------------------------------------------

def marker_layer(markers: dict[str, Any], base_url: page.Base) -> folium.FeatureGroup:
    """Marker points: circles by kind, turning points as numbered discs (1, 2, 3 ... in
    order of sequence), and the line walked through them."""
    group = folium.FeatureGroup(name="Marker points")
    features = markers["features"]
    for owner in dict.fromkeys(f["properties"].get("release_id") for f in features):
        walked = sorted((f for f in features if f["properties"].get("release_id") == owner
                         and f["properties"]["kind"] in WALK),
                        key=lambda f: (WALK.index(f["properties"]["kind"]),
                                       f["properties"]["sequence"],
                                       f["properties"]["number"]))
        line = [[f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]]
                for f in walked]
        if len(line) > 1:
            folium.PolyLine(line, interactive=False, **MARKER_LINE).add_to(group)
    others = collection([f for f in features if f["properties"]["kind"] != "turning"])
    if others["features"]:
        page.layer(page.with_popups(others, lambda p: _marker_popup(p, base_url),
                                    lambda p: MARKER_LABELS.get(p["kind"], p["kind"])),
                   "Marker points", lambda p: point_style(MARKER_STYLE[p["kind"]]),
                   marker=folium.CircleMarker(radius=5), control=False).add_to(group)
    turning = collection([
        {**f, "properties": {**f["properties"], "icon": '<div class="demine-number '
                             f'demine-turning">{int(f["properties"]["number"])}</div>'}}
        for f in features if f["properties"]["kind"] == "turning"])
    if turning["features"]:
        page.IconPoints(page.with_popups(turning, lambda p: _marker_popup(p, base_url),
                                         lambda p: f"Turning point {p['number']}"),
                        name="Turning points", control=False).add_to(group)
    return group


def evidence_layer(points: dict[str, Any]) -> GeoJsonLayer:
    """Evidence points, direct and indirect styled apart (popups drawn in the browser)."""
    return GeoJsonLayer("evidence-points", points, name="Evidence points")


def finds_layer(finds: dict[str, Any]) -> GeoJsonLayer:
    """Device finds filled by ordnance category, with model and depth in their popups;
    clustered when there are many (a cluster-munition strike leaves thousands)."""
    return GeoJsonLayer("device-finds-detail", finds, name="Device finds",
                        cluster=len(finds["features"]) > CLUSTER_FINDS)


# --- the panel ------------------------------------------------------------------------------

def ledger_table(ledger: LedgerTable) -> str:
    """The ledger table: area = cancelled + reduced + cleared + remaining."""
    rows = [("Hazard area", page.m2(ledger.area_m2)),
            ("Cancelled", page.m2(ledger.cancelled_m2)),
            ("Reduced", page.m2(ledger.reduced_m2)),
            ("Cleared", page.m2(ledger.cleared_m2)),
            ("Remaining", page.m2(ledger.remaining_m2))]
    keys = {"Cancelled": PRODUCT_FILL["cancelled"], "Reduced": PRODUCT_FILL["reduced"],
            "Cleared": PRODUCT_FILL["cleared"]}
    body = "".join(
        f"<tr><td>{_key(keys.get(label))}{escape(label)}</td><td class='num'>{value}</td>"
        "</tr>" for label, value in rows)
    return (f"<table id='demine-ledger'><tr><th>Ledger</th><th class='num'>Area</th></tr>"
            f"{body}</table>")


def _key(colour: str | None) -> str:
    return f"<span class='key' style='background:{colour}'></span>" if colour else ""


def _panel(data: HazardAreaMapData, base_url: page.Base) -> str:
    p = data.hazard_area["properties"]
    head = (f"<h1>Hazard area {escape(p['local_id'])}</h1>"
            + (f"<div>{escape(p['name'])}</div>" if p.get("name") else "")
            + f"<div>{escape(p['classification'])} · "
              f"{escape(STATUS_LABELS.get(p['status'], p['status']))}"
            + (f" · {escape(p['admin_area'])}" if p.get("admin_area") else "") + "</div>")
    # what remained after each release is the ledger's, counted in booking order
    as_booked = any(r.booked != n for n, r in enumerate(data.ledger.rows, start=1))
    releases = page.table(
        ["#", "Date", "Product", "Method", "m²",
         "Left as booked m²" if as_booked else "Left m²"],
        [(r["properties"]["order"], r["properties"]["release_date"],
          r["properties"]["product"], r["properties"]["method"],
          f"{r['properties']['area_m2']:,.0f}",
          f"{r['properties']['remaining_after_m2']:,.0f}")
         for r in data.releases["features"]],
        numeric=(0, 4, 5), table_id="demine-releases") if data.releases["features"] else (
        "<p class='note'>No release recorded.</p>")
    tasks = "".join(
        f"<li>{page.anchor(base_url, '/maps/tasks/' + str(t['id']), t['local_id'])} "
        f"{escape(t['activity_type'])}, {escape(t['status'])}"
        f" — {escape(t['organisation'])}</li>" for t in data.tasks)
    finds = sum(f["properties"]["quantity"] for f in data.device_finds["features"])
    events = page.table(["When", "Action", "By", "Reason"],
                        [(e.at.strftime("%Y-%m-%d"), e.action, e.actor, e.reason or "")
                         for e in data.events[-12:]],
                        table_id="demine-history") if data.events else ""
    boundaries = page.table(
        ["Version", "Valid until", "Area m²", "Reason"],
        [(b["properties"]["boundary_version"], b["properties"]["valid_to"][:10],
          f"{b['properties']['area_m2']:,.0f}", b["properties"]["reason"])
         for b in data.boundaries["features"]],
        numeric=(0, 2)) if data.boundaries["features"] else ""
    return (head + "<h2>Ledger</h2>" + ledger_table(data.ledger)
            + "<h2>Releases by date</h2>" + releases
            + ("<p class='note'>A release was booked after one of a later date: what was "
               "left after each follows the order of booking.</p>" if as_booked else "")
            + f"<h2>Points</h2><div>{len(data.evidence_points['features'])} evidence, "
              f"{len(data.marker_points['features'])} marker points, {finds} device(s) "
              f"found in {len(data.device_finds['features'])} find(s)</div>"
            + (f"<h2>Tasks</h2><ul>{tasks}</ul>" if tasks else "")
            + (f"<h2>Earlier boundaries</h2>{boundaries}" if boundaries else "")
            + (f"<h2>History</h2>{events}" if events else "")
            + ("" if base_url is None else "<p class='links'>"
               + page.anchor(base_url, f"/api/v1/hazard-areas/{p['id']}", "Record") + " · "
               + page.anchor(base_url, f"/api/v1/hazard-areas/{p['id']}/history",
                             "History (JSON)") + "</p>"))
