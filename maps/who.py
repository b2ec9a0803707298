"""The who-what-where (3W) map: which operators work in which admin areas, on what
activity, and how far their tasks have come.

Admin areas are shaded by how many operators work in them; each task is a point on its
planned area, filled in its operator's colour (one layer per operator, so that the layer
control shows or hides an operator) and outlined by its status. The 3W table sits in a
panel beside the map. A pure function from survey.maps_data.WhoWhatWhereData to a
folium.Map; symbology is maps/style.py.
"""

from __future__ import annotations

from html import escape
from itertools import groupby
from typing import Any

import folium

from maps import record_page as page
from maps.common import AssetMode, TileLayer, base_map, decorate
from maps.style import (
    OPERATOR_PALETTE,
    TASK_STATUS_LABELS,
    operator_count_style,
    task_point_style,
    who_legend,
)
from survey.maps_data import OperatorWork, WhoWhatWhereData, collection

STATUSES = ("planned", "active", "suspended", "completed")


def operator_colours(organisations: list[dict[str, Any]]) -> dict[str, str]:
    """Each operator's colour (by id, as text), in the order of their names."""
    return {str(o["id"]): OPERATOR_PALETTE[i % len(OPERATOR_PALETTE)]
            for i, o in enumerate(sorted(organisations, key=lambda o: o["name"]))}


TASK_TILES = "/tiles/tasks/{z}/{x}/{y}.mvt"


def who_map(data: WhoWhatWhereData, *, static_url: str = "/static", link_base: str = "",
            basemap_url: str | None = None, assets: AssetMode = "served",
            title: str = "Who does what where",
            embed_limit: int | None = None) -> folium.Map:
    """A folium map of who works where on what, with the 3W table in a panel (id
    `demine-panel`).

    With more tasks than `embed_limit` (None: no limit, as an exported file needs) the
    tasks are drawn from the vector tiles by status instead of one embedded layer per
    operator; the admin areas and the table still say who works where.
    """
    fmap = base_map(zoom_start=10, basemap_url=basemap_url)
    base = page.link_base_of(link_base, assets == "inline")
    tiled = embed_limit is not None and len(data.tasks["features"]) > embed_limit
    colours = operator_colours(data.organisations)
    by_area: dict[str, list[OperatorWork]] = {}
    for work in data.work:
        by_area.setdefault(str(work.admin_area_id), []).append(work)
    areas = page.with_popups(
        data.admin_areas, lambda p: _area_popup(p, by_area.get(str(p["id"]), [])),
        lambda p: f"{p['name']}: {p['operators']} operator(s), {p['tasks']} task(s)")
    if areas["features"]:
        page.layer(areas, "Admin areas by operators", operator_count_style).add_to(fmap)
    if tiled:
        TileLayer("tasks", TASK_TILES, name="Tasks (by status)").add_to(fmap)
    # tasks on one hazard area share its point: set them side by side
    spread = page.spread(data.tasks, 14)
    for org in sorted(data.organisations, key=lambda o: o["name"]) if not tiled else []:
        org_id = str(org["id"])
        tasks = collection([f for f in spread["features"]
                            if str(f["properties"]["organisation_id"]) == org_id])
        if not tasks["features"]:
            continue
        icons = collection([{**f, "properties": {
            **f["properties"], "icon": task_icon(colours[org_id], f["properties"])}}
            for f in tasks["features"]])
        page.IconPoints(page.with_popups(icons, lambda p: _task_popup(p, base),
                                         lambda p: f"{p['local_id']} {p['activity_type']} "
                                                   f"({p['status']}) — {p['acronym'] or ''}"),
                        name=f"Tasks: {org.get('acronym') or org['name']}",
                        size=16).add_to(fmap)
    page.fit(fmap, [data.admin_areas] if tiled else [data.admin_areas, data.tasks])
    page.add_panel(fmap, _panel(data, colours) + (
        f"<p class='note'>{len(data.tasks['features']):,} tasks: more than {embed_limit:,}, "
        "so the map draws them from the vector tiles, by status.</p>" if tiled else ""))
    legend = who_legend([(o["acronym"] or o["name"], colours[str(o["id"])])
                         for o in sorted(data.organisations, key=lambda o: o["name"])])
    index = [] if tiled else page.search_rows(
        collection([{**f, "properties": {**f["properties"],
                                         "activity": f["properties"]["activity_type"]}}
                    for f in data.tasks["features"]]), "tasks", ("status", "activity"))
    return decorate(fmap, title=title, legend=legend, search_index=index,
                    static_url=static_url, assets=assets, link_base=link_base)


def task_icon(colour: str, props: dict[str, Any]) -> str:
    """A task's icon on the 3W map: a disc in its operator's colour, its rim in the colour
    (dashed when planned or suspended) of its status; titled with its local id."""
    style = task_point_style(colour, props["status"])
    rim = "dashed" if style.get("dashArray") else "solid"
    return (f'<div class="demine-task" title="{escape(props["local_id"])}" '
            f'style="background:{style["fillColor"]};border-style:{rim};'
            f'border-color:{style["color"]}"></div>')


def _task_popup(p: dict[str, Any], base: page.Base) -> str:
    return page.popup_html(
        f"Task {p['local_id']}",
        [("Operator", p.get("organisation")), ("Team", p.get("team")),
         ("Activity", p.get("activity_type")),
         ("Status", TASK_STATUS_LABELS.get(p.get("status", ""), p.get("status"))),
         ("Planned", f"{p['planned_start']} to {p['planned_end']}"),
         ("Hazard areas", p.get("hazard_areas"))],
        page.links(base, ("Map", f"/maps/tasks/{p['id']}"),
              ("Record", f"/api/v1/tasks/{p['id']}")))


def _area_popup(p: dict[str, Any], work: list[OperatorWork]) -> str:
    rows = [(w.acronym or w.organisation, f"{w.activity_type}: " + ", ".join(
        f"{getattr(w, s)} {s}" for s in STATUSES if getattr(w, s))) for w in work]
    return page.popup_html(f"{p['name']} ({p['code']})",
                           [("Operators", p["operators"]), ("Tasks", p["tasks"]), *rows])


def _by_status(counts: list[int]) -> str:
    """Counts by task status as words: "1 planned, 3 active"."""
    return ", ".join(f"{n} {status}" for n, status in zip(counts, STATUSES, strict=True)
                     if n)


def _panel(data: WhoWhatWhereData, colours: dict[str, str]) -> str:
    names = {str(f["properties"]["id"]): f["properties"]["name"]
             for f in data.admin_areas["features"]}
    ordered = sorted(data.work, key=lambda w: (names.get(str(w.admin_area_id), ""),
                                               w.organisation, w.activity_type))
    rows = []
    for area_id, group in groupby(ordered, key=lambda w: str(w.admin_area_id)):
        for n, w in enumerate(group):
            key = (f"<span class='key' style='background:"
                   f"{colours[str(w.organisation_id)]}'></span>")
            rows.append(
                "<tr>" + (f"<td>{escape(names.get(area_id, '?'))}</td>" if n == 0
                          else "<td></td>")
                + f"<td>{key}{escape(w.acronym or w.organisation)}</td>"
                + f"<td>{escape(w.activity_type)}</td>"
                + f"<td>{escape(_by_status([getattr(w, s) for s in STATUSES]))}</td></tr>")
    head = "<tr><th>Admin area</th><th>Operator</th><th>Activity</th><th>Tasks</th></tr>"
    table = (f"<table id='demine-3w'>{head}{''.join(rows)}</table>" if rows
             else "<p class='note'>No task on record.</p>")
    totals = []
    for org in sorted(data.organisations, key=lambda o: o["name"]):
        mine = [w for w in data.work if str(w.organisation_id) == str(org["id"])]
        totals.append((org["acronym"] or org["name"], len({w.admin_area_id for w in mine}),
                       ", ".join(sorted({w.activity_type for w in mine})),
                       _by_status([sum(getattr(w, s) for w in mine) for s in STATUSES])))
    by_operator = page.table(["Operator", "Areas", "Activities", "Task-areas"], totals,
                             numeric=(1,), table_id="demine-operators")
    tasks = len(data.tasks["features"])
    return ("<h1>Who does what where</h1>"
            f"<div class='note'>{len(data.organisations)} operator(s), {tasks} task(s) "
            f"in {len({w.admin_area_id for w in data.work})} admin area(s). A task counts "
            "in the admin area of each hazard area it plans on (task-areas).</div>"
            f"<h2>By operator</h2>{by_operator}<h2>By admin area</h2>{table}")
