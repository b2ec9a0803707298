"""The map of one task, for the team that does it: the planned area (its hazard areas),
what the task has released so far (by product) with its latest releases outlined, what
remains, the device finds of its reports, and its progress in a panel beside the map.

A pure function from survey.maps_data.TaskMapData to a folium.Map; symbology is
maps/style.py. Offline like every map of the product.
"""

from __future__ import annotations

from html import escape
from typing import Any

import folium

from maps import record_page as page
from maps.common import AssetMode, base_map, decorate
from maps.hazard import SEARCH_FIELDS, finds_layer, hazard_popup, release_popup
from maps.style import (
    LATEST_OUTLINE,
    PRODUCT_FILL,
    REMAINING_OUTLINE,
    STATUS_LABELS,
    TASK_STATUS_LABELS,
    hazard_legend,
    hazard_style,
    release_style,
)
from survey.maps_data import TaskMapData, TaskProgress, collection


def task_map(data: TaskMapData, *, static_url: str = "/static", link_base: str = "",
             basemap_url: str | None = None, assets: AssetMode = "served") -> folium.Map:
    """A folium map of one task with its progress in a panel (id `demine-panel`).

    Layers: planned area (its hazard areas: IMAS fill by classification, outline by
    status), released land of the task (fill by product), its latest releases
    outlined, remaining ground, device finds. Popups carry the key fields and links to
    the records under `link_base`.
    """
    task = data.task
    base = page.link_base_of(link_base, assets == "inline")
    fmap = base_map(zoom_start=15, basemap_url=basemap_url)
    areas = page.with_popups(data.hazard_areas, lambda p: hazard_popup(p, base),
                             lambda p: f"{p['local_id']} ({p['classification']}, "
                                       f"{STATUS_LABELS.get(p['status'], p['status'])})")
    if areas["features"]:
        page.layer(areas, "Planned area", hazard_style).add_to(fmap)
    if data.releases["features"]:
        releases = page.with_popups(data.releases, lambda p: release_popup(p, base),
                                    lambda p: f"{p['release_date']} {p['product']} "
                                              f"({p['method']})")
        page.layer(releases, "Released land", release_style).add_to(fmap)
        latest_ids = {r["id"] for r in data.latest}
        latest = collection([f for f in releases["features"]
                             if f["properties"]["id"] in latest_ids])
        page.layer(latest, "Latest releases", lambda _p: LATEST_OUTLINE).add_to(fmap)
    if data.remaining["features"]:
        rest = page.with_popups(data.remaining, lambda p: page.popup_html(
            f"Remaining of {p['local_id']}", [("Area", page.m2(p["area_m2"]))]),
            lambda p: f"Remaining of {p['local_id']}: {page.m2(p['area_m2'])}")
        page.layer(rest, "Remaining ground", lambda _p: REMAINING_OUTLINE).add_to(fmap)
    if data.device_finds["features"]:
        finds_layer(data.device_finds).add_to(fmap)

    page.fit(fmap, [areas, data.releases])
    page.add_panel(fmap, _panel(data, base))
    shown = {"classification": page.values(data.hazard_areas, "classification"),
             "status": page.values(data.hazard_areas, "status"),
             "product": page.values(data.releases, "product"),
             "line": ({"remaining"} if data.remaining["features"] else set())
             | ({"latest"} if data.latest else set()),
             "category": page.values(data.device_finds, "category")}
    return decorate(fmap, title=f"Task {task['local_id']}", legend=hazard_legend(shown),
                    search_index=page.search_rows(areas, "hazard-areas", SEARCH_FIELDS),
                    static_url=static_url, assets=assets, link_base=link_base)


def progress_table(progress: TaskProgress) -> str:
    """Released by product against the planned area, with a bar of the shares."""
    rows = [("Planned area", progress.planned_m2, None),
            ("Cancelled", progress.cancelled_m2, PRODUCT_FILL["cancelled"]),
            ("Reduced", progress.reduced_m2, PRODUCT_FILL["reduced"]),
            ("Cleared", progress.cleared_m2, PRODUCT_FILL["cleared"])]
    body = "".join(
        f"<tr><td>{_key(colour)}{escape(label)}</td><td class='num'>{page.m2(value)}</td>"
        f"<td class='num'>{_share(value, progress.planned_m2)}</td></tr>"
        for label, value, colour in rows)
    body += (f"<tr class='total'><td>Released</td><td class='num'>"
             f"{page.m2(progress.released_m2)}</td><td class='num'>{progress.percent:.1f} %"
             f"</td></tr><tr><td>Remaining of the planned area</td><td class='num'>"
             f"{page.m2(progress.remaining_m2)}</td>"
             f"<td class='num'>{_share(progress.remaining_m2, progress.planned_m2)}</td></tr>")
    bar = "".join(
        f"<span title='{label}' style='display:inline-block;height:100%;"
        f"width:{100 * value / progress.planned_m2:.2f}%;background:{PRODUCT_FILL[label]}'>"
        "</span>"
        for label, value in (("cancelled", progress.cancelled_m2),
                             ("reduced", progress.reduced_m2),
                             ("cleared", progress.cleared_m2))
        if progress.planned_m2 > 0 and value > 0)
    return (f"<table id='demine-progress'><tr><th>Progress to date</th><th class='num'>Area"
            f"</th><th class='num'>Share</th></tr>{body}</table>"
            "<div id='demine-progress-bar' style='height:10px;border:1px solid #999;"
            f"background:#fff;white-space:nowrap;overflow:hidden'>{bar}</div>"
            f"<div class='note'>{progress.team_days:,.1f} team-days · {progress.devices:,} "
            "device(s) found</div>")


def _share(value: float, planned: float) -> str:
    return f"{100 * value / planned:.1f} %" if planned > 0 else "—"


def _key(colour: str | None) -> str:
    return f"<span class='key' style='background:{colour}'></span>" if colour else ""


def _area_item(p: dict[str, Any], base: page.Base) -> str:
    link = page.anchor(base, f"/maps/hazard-areas/{p['id']}", p["local_id"])
    status = STATUS_LABELS.get(p["status"], p["status"])
    return (f"<li>{link} {escape(p['classification'])}, {escape(status)}, "
            f"{page.m2(p['area_m2'])}</li>")


def _panel(data: TaskMapData, base: page.Base) -> str:
    t = data.task
    facts: list[tuple[str, Any]] = [
        ("Activity", t["activity_type"]),
        ("Status", TASK_STATUS_LABELS.get(t["status"], t["status"])),
        ("Operator", t["organisation"]), ("Team", t.get("team")),
        ("Project", f"{t['project']} — {t['project_name']}" if t.get("project") else None),
        ("Donor", t.get("donor")),
        ("Planned", f"{t['planned_start']} to {t['planned_end']}"),
        ("Started", t.get("actual_start")), ("Ended", t.get("actual_end"))]
    facts_html = "".join(f"<tr><th>{escape(label)}</th><td>{escape(str(value))}</td></tr>"
                         for label, value in facts if value not in (None, ""))
    latest = page.table(
        ["Date", "Hazard area", "Product", "Method", "m²"],
        [(r["release_date"], r["hazard_area"], r["product"], r["method"],
          f"{r['area_m2']:,.0f}") for r in data.latest],
        numeric=(4,), table_id="demine-latest") if data.latest else (
        "<p class='note'>No release recorded yet.</p>")
    areas = "".join(_area_item(a["properties"], base) for a in data.hazard_areas["features"])
    return (f"<h1>Task {escape(t['local_id'])}</h1><table>{facts_html}</table>"
            "<h2>Progress</h2>" + progress_table(data.progress)
            + f"<h2>Latest releases</h2>{latest}"
            + f"<h2>Planned area</h2><ul>{areas}</ul>"
            + ("" if base is None else "<p class='links'>"
               + page.anchor(base, f"/api/v1/tasks/{t['id']}", "Record") + "</p>"))
