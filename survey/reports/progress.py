"""The progress report: what was released, found, handed over and spent in a period.

Every released figure comes from the ledger's summaries (`ledger_rollup`, `ledger_daily`)
or, for one hazard area, from its releases; devices, tasks and team-days from their
tables. Each query below is one statement whatever the size of the store.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from survey.auth import Principal
from survey.reports import measures
from survey.reports.model import (
    N_,
    Chart,
    Column,
    Figure,
    MapLayer,
    MapSpec,
    Report,
    ReportFilters,
    Section,
    Table,
)
from survey.reports.scope import (
    ReportScope,
    conjunction,
    dates,
    hazard_rows,
    ledger_source,
    live,
    meta,
    release_ids,
    release_rows,
    report_rows,
    resolve,
    task_rows,
)

PRODUCTS = ("cancelled", "reduced", "cleared")
PRODUCT_LABELS = {"cancelled": N_("Cancelled"), "reduced": N_("Reduced"),
                  "cleared": N_("Cleared")}
METHODS = ("NTS", "MANUAL", "MDD", "MECHANICAL", "COMBINED")
MAP_FEATURE_LIMIT = 1000  # per layer: the page map is an overview, the web map has the rest
COMPLETED_LIMIT = 200  # a page table: the listing behind its source has them all
KM2 = 1e6


def _km2(m2: float) -> float:
    return m2 / KM2


# --- land released ---------------------------------------------------------------------

# one pass over the summary: the period's and the cumulative (to the period's end) totals
RELEASED = """
SELECT CASE WHEN GROUPING(d.product) = 1 AND GROUPING(d.method) = 1 THEN 'total'
            WHEN GROUPING(d.method) = 1 THEN 'product' ELSE 'method' END AS breakdown,
       d.product, d.method,
       coalesce(sum(d.area_m2) FILTER (WHERE {period}), 0) AS period_m2,
       coalesce(sum(d.releases) FILTER (WHERE {period}), 0)::bigint AS period_releases,
       coalesce(sum(d.area_m2), 0) AS cumulative_m2,
       coalesce(sum(d.releases), 0)::bigint AS cumulative_releases
FROM {source}
WHERE {until}
GROUP BY GROUPING SETS ((), (d.product), (d.method))
"""


def released(conn: psycopg.Connection, scope: ReportScope) -> dict[str, Any]:
    """Released m² and releases by product and by method, this period and cumulative."""
    query = sql.SQL(RELEASED).format(
        period=conjunction(dates(scope, "d", "day", end=False)),
        source=ledger_source(scope), until=conjunction(dates(scope, "d", "day", start=False)))
    out: dict[str, Any] = {"total": None, "product": {}, "method": {}}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query, scope.params):
            figures = {key: float(row[key]) if key.endswith("m2") else int(row[key])
                       for key in ("period_m2", "period_releases", "cumulative_m2",
                                   "cumulative_releases")}
            if row["breakdown"] == "total":
                out["total"] = figures
            else:
                out[row["breakdown"]][row[row["breakdown"]]] = figures
    if out["total"] is None:
        out["total"] = {"period_m2": 0.0, "period_releases": 0, "cumulative_m2": 0.0,
                        "cumulative_releases": 0}
    return out


MONTHLY = """
SELECT date_trunc('month', d.day::timestamp)::date AS month, d.product,
       sum(d.area_m2) AS area_m2
FROM {source}
WHERE {period}
GROUP BY 1, 2
HAVING sum(d.releases) <> 0
ORDER BY 1, 2
"""


def monthly(conn: psycopg.Connection, scope: ReportScope) -> list[dict[str, Any]]:
    """Released m² per month of the period, one row a month with a column per product."""
    query = sql.SQL(MONTHLY).format(source=ledger_source(scope),
                                    period=conjunction(dates(scope, "d", "day")))
    months: dict[date, dict[str, Any]] = {}
    for month, product, area in conn.execute(query, scope.params).fetchall():
        row = months.setdefault(month, {"month": month} | {p: 0.0 for p in PRODUCTS})
        row[product] = float(area)
    for row in months.values():
        row["total"] = sum(row[p] for p in PRODUCTS)
    return list(months.values())


# What remained of the areas in scope at the end of a day D: the area of those known by
# then (recorded by D, or worked before their date of information) less what was released
# up to D. With the ledger's conservation (area = released + remaining) this equals what
# remains now of those areas plus what was released from them after D, but it reads the
# summaries instead of every later release. Boundary changes are not undone (the figure
# follows today's boundaries).
REMAINING_AT = """
WITH h AS MATERIALIZED (
    SELECT h.id, h.area_m2, h.date_of_information
    FROM hazard_area h WHERE {hazards}
), known AS (
    SELECT coalesce(sum(h.area_m2) FILTER (WHERE CASE WHEN h.date_of_information <= %(start)s
        THEN true ELSE EXISTS (SELECT 1 FROM release r WHERE r.hazard_area_id = h.id
                                                         AND r.release_date <= %(start)s)
        END), 0) AS s,
           coalesce(sum(h.area_m2) FILTER (WHERE CASE WHEN h.date_of_information <= %(end)s
        THEN true ELSE EXISTS (SELECT 1 FROM release r WHERE r.hazard_area_id = h.id
                                                         AND r.release_date <= %(end)s)
        END), 0) AS e
    FROM h
), released AS (
    {released}
)
SELECT known.s - released.s, known.e - released.e
FROM known, released
"""

# released by each day on the areas in scope: from the ledger's summaries when the scope
# names no one's work (they then hold exactly the releases on those areas), else from the
# releases on the areas
RELEASED_BY_LEDGER = """
SELECT coalesce(sum(d.area_m2) FILTER (WHERE d.day <= %(start)s), 0) AS s,
       coalesce(sum(d.area_m2), 0) AS e
FROM {source} WHERE d.day <= %(end)s
"""
RELEASED_ON_AREAS = """
SELECT coalesce(sum(r.area_m2) FILTER (WHERE r.release_date <= %(start)s), 0) AS s,
       coalesce(sum(r.area_m2), 0) AS e
FROM h JOIN release r ON r.hazard_area_id = h.id AND r.release_date <= %(end)s
"""


def remaining_at(conn: psycopg.Connection, scope: ReportScope, start: date,
                 end: date) -> tuple[float, float]:
    """Remaining contamination (m²) of the hazard areas in scope at the end of `start` and
    of `end` (start <= end)."""
    by_work = any(getattr(scope, key) is not None
                  for key in ("organisation_id", "project_id", "donor_id"))
    released = (sql.SQL(RELEASED_ON_AREAS) if by_work else
                sql.SQL(RELEASED_BY_LEDGER).format(source=ledger_source(scope)))
    query = sql.SQL(REMAINING_AT).format(hazards=conjunction(hazard_rows(scope)),
                                         released=released)
    row = conn.execute(query, scope.params | {"start": start, "end": end}).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


# --- devices -------------------------------------------------------------------------

DEVICES = """
WITH f AS (
    SELECT df.ordnance_type_id, df.disposal_method, sum(df.quantity) AS found
    FROM device_find df {joins}
    WHERE {where}
    GROUP BY 1, 2
)
SELECT CASE WHEN GROUPING(o.category) = 0 AND GROUPING(o.model) = 0 THEN 'model'
            WHEN GROUPING(o.category) = 0 THEN 'category'
            WHEN GROUPING(f.disposal_method) = 0 THEN 'disposal' ELSE 'total' END AS breakdown,
       o.category, o.model, f.disposal_method,
       coalesce(sum(f.found), 0)::bigint AS found,
       coalesce(sum(f.found) FILTER (WHERE f.disposal_method IS NOT NULL), 0)::bigint
           AS destroyed
FROM f JOIN ordnance_type o ON o.id = f.ordnance_type_id
GROUP BY GROUPING SETS ((), (o.category), (o.category, o.model), (f.disposal_method))
ORDER BY 1, found DESC, 2, 3
"""


def device_scope(scope: ReportScope) -> tuple[sql.Composable, sql.Composable]:
    """Joins and conditions on live device_find rows (alias df) in scope, with the period
    (a live find's report is live: a report is deleted only after its finds)."""
    parts = [live("df"), *dates(scope, "df", "found_date")]
    if scope.programme_id is not None:
        parts.append(sql.SQL("df.programme_id = %(programme_id)s"))
    if scope.hazard_area_id is not None:
        parts.append(sql.SQL("df.hazard_area_id = %(hazard_area_id)s"))
    joins: list[sql.Composable] = []
    if scope.admin_area_id is not None:
        joins.append(sql.SQL("JOIN hazard_area dh ON dh.id = df.hazard_area_id"))
        parts.append(sql.SQL("dh.admin_area_id = %(admin_area_id)s"))
    if any(v is not None for v in (scope.organisation_id, scope.project_id, scope.donor_id)):
        report_joins, report_parts = report_rows(
            ReportScope(programme_id=None, date_from=None, date_to=None,
                        organisation_id=scope.organisation_id, project_id=scope.project_id,
                        donor_id=scope.donor_id), "dr")
        joins += [sql.SQL("JOIN activity_report dr ON dr.id = df.activity_report_id"),
                  report_joins]
        parts += report_parts
    return sql.SQL(" ").join(joins), conjunction(parts)


def devices(conn: psycopg.Connection, scope: ReportScope) -> dict[str, Any]:
    """Items found and destroyed in the period: by category, by model, by disposal."""
    joins, where = device_scope(scope)
    query = sql.SQL(DEVICES).format(joins=joins, where=where)
    out: dict[str, Any] = {"total": {"found": 0, "destroyed": 0}, "category": [],
                           "model": [], "disposal": []}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query, scope.params):
            kind = row.pop("breakdown")
            figures = {"found": int(row["found"]), "destroyed": int(row["destroyed"])}
            if kind == "total":
                out["total"] = figures
            elif kind == "category":
                out["category"].append({"category": row["category"], **figures})
            elif kind == "model":
                out["model"].append({"category": row["category"], "model": row["model"],
                                     **figures})
            else:
                out["disposal"].append({"disposal_method": row["disposal_method"] or "none",
                                        "items": figures["found"]})
    return out


# --- tasks and handovers -----------------------------------------------------------------

TASKS = """
SELECT t.activity_type,
       count(*) FILTER (WHERE {started}) AS started,
       count(*) FILTER (WHERE t.status = 'completed' AND {completed}) AS completed,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM activity_report ha WHERE ha.task_id = t.id AND ha.kind = 'handover'
             AND ha.deleted_at IS NULL AND {handed})) AS handed_over
FROM task t
WHERE {where}
GROUP BY ROLLUP (t.activity_type)
ORDER BY t.activity_type NULLS LAST
"""


def tasks(conn: psycopg.Connection, scope: ReportScope) -> list[dict[str, Any]]:
    """Tasks started, completed and handed over in the period, by activity type; the
    last row (activity_type None) is the total."""
    query = sql.SQL(TASKS).format(
        started=conjunction(dates(scope, "t", "actual_start") +
                            [sql.SQL("t.actual_start IS NOT NULL")]),
        completed=conjunction(dates(scope, "t", "actual_end") +
                              [sql.SQL("t.actual_end IS NOT NULL")]),
        handed=conjunction(dates(scope, "ha", "report_date")),
        where=conjunction(task_rows(scope)))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, scope.params).fetchall()


HANDOVERS = """
SELECT a.id, a.report_date, t.local_id AS task, h.local_id AS hazard_area, h.id AS hazard_id,
       coalesce(a.handover_men, 0) AS men, coalesce(a.handover_women, 0) AS women,
       coalesce(a.handover_boys, 0) AS boys, coalesce(a.handover_girls, 0) AS girls
FROM activity_report a {joins}
JOIN hazard_area h ON h.id = a.hazard_area_id
LEFT JOIN task t ON t.id = a.task_id
WHERE a.kind = 'handover' AND {where}
ORDER BY a.report_date, h.local_id
"""


def handovers(conn: psycopg.Connection, scope: ReportScope) -> list[dict[str, Any]]:
    """Handover certificates of the period, with the people handed the land."""
    joins, parts = report_rows(scope, "a")
    query = sql.SQL(HANDOVERS).format(joins=joins, where=conjunction(
        parts + dates(scope, "a", "report_date")))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, scope.params).fetchall()
    for row in rows:
        row["total"] = row["men"] + row["women"] + row["boys"] + row["girls"]
        row["_href"] = f"/api/v1/activity-reports/{row.pop('id')}"
        row["hazard_area_href"] = f"/api/v1/hazard-areas/{row.pop('hazard_id')}"
    return rows


# --- cost ----------------------------------------------------------------------------------

COST = """
SELECT p.id, p.code, p.name, dn.name AS donor, p.budget_usd,
       coalesce((SELECT sum(x.area_m2) FROM ledger_rollup x
                 WHERE x.dimension = 'project' AND x.key_id = p.id AND {until}), 0)
           AS released_m2
FROM project p JOIN donor dn ON dn.id = p.donor_id
WHERE p.budget_usd IS NOT NULL AND {where}
ORDER BY p.code
"""


def cost(conn: psycopg.Connection, scope: ReportScope) -> list[dict[str, Any]]:
    """Per project with a budget: its budget over all land released under it up to the
    end of the period (the budget pays for the whole project, whoever did the work)."""
    parts: list[sql.Composable] = []
    if scope.programme_id is not None:
        parts.append(sql.SQL("p.programme_id = %(programme_id)s"))
    if scope.project_id is not None:
        parts.append(sql.SQL("p.id = %(project_id)s"))
    if scope.donor_id is not None:
        parts.append(sql.SQL("p.donor_id = %(donor_id)s"))
    if any(getattr(scope, k) is not None
           for k in ("organisation_id", "admin_area_id", "hazard_area_id")):
        only_tasks = ReportScope(programme_id=None, date_from=None, date_to=None,
                                 organisation_id=scope.organisation_id,
                                 admin_area_id=scope.admin_area_id,
                                 hazard_area_id=scope.hazard_area_id)
        parts.append(sql.SQL("EXISTS (SELECT 1 FROM task t WHERE t.project_id = p.id "
                             "AND {})").format(conjunction(task_rows(only_tasks))))
    query = sql.SQL(COST).format(until=conjunction(dates(scope, "x", "day", start=False)),
                                 where=conjunction(parts))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, scope.params).fetchall()
    for row in rows:
        row["budget_usd"] = float(row["budget_usd"])
        row["released_m2"] = float(row["released_m2"])
        row["usd_per_m2"] = (row["budget_usd"] / row["released_m2"]
                             if row["released_m2"] > 0 else None)
        row["_href"] = f"/api/v1/projects/{row.pop('id')}"
    return rows


# --- map -----------------------------------------------------------------------------------

# the largest releases first, so that a capped map still shows most of the land; the
# geometry is read only for the releases shown
MAP_TOP = """
SELECT r.id, r.hazard_area_id
FROM release r WHERE {where}
ORDER BY r.area_m2 DESC, r.id LIMIT %(limit)s
"""

MAP_EXTENT = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(h.geom)::geometry AS e FROM hazard_area h WHERE h.id = ANY(%(hazards)s)) x
"""

MAP_RELEASES = """
SELECT r.id, r.product, r.method,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(r.geom, %(tolerance)s), 6)::json AS geometry
FROM release r WHERE r.id = ANY(%(ids)s)
ORDER BY r.area_m2 DESC, r.id
"""

MAP_HAZARDS = """
SELECT h.id, h.local_id, h.classification, h.status,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(h.geom, %(tolerance)s), 6)::json AS geometry
FROM hazard_area h WHERE h.id = ANY(%(hazards)s)
ORDER BY h.area_m2 DESC, h.id
"""


def release_map(conn: psycopg.Connection, scope: ReportScope, releases_total: int
                ) -> tuple[MapSpec, dict[str, int]]:
    """The period's largest releases (at most MAP_FEATURE_LIMIT of `releases_total`) over
    their hazard areas, simplified for a page (tolerance a thousandth of the extent)."""
    where = conjunction(release_rows(scope) + dates(scope, "r", "release_date"))
    top = conn.execute(sql.SQL(MAP_TOP).format(where=where),
                       scope.params | {"limit": MAP_FEATURE_LIMIT}).fetchall()
    counts = {"map_releases_total": releases_total,
              "map_releases_shown": len(top), "map_hazards_shown": 0}
    if not top:
        return MapSpec(key="releases_map", title=N_("Land released in the period"),
                       layers=[], bounds=None), counts
    ids = [row[0] for row in top]
    hazard_ids = list({row[1] for row in top})
    extent = conn.execute(MAP_EXTENT, {"hazards": hazard_ids}).fetchone()
    assert extent is not None
    bounds = (float(extent[0]), float(extent[1]), float(extent[2]), float(extent[3]))
    tolerance = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 1000
    params = {"tolerance": tolerance, "ids": ids, "hazards": hazard_ids}
    with conn.cursor(row_factory=dict_row) as cur:
        hazards = cur.execute(MAP_HAZARDS, params).fetchall()
        releases = cur.execute(MAP_RELEASES, params).fetchall()
    hazard_features = [{"type": "Feature", "id": str(h["id"]), "geometry": h["geometry"],
                        "properties": {"local_id": h["local_id"],
                                       "classification": h["classification"],
                                       "status": h["status"]}} for h in hazards]
    release_features = [{"type": "Feature", "id": str(r["id"]), "geometry": r["geometry"],
                         "properties": {"product": r["product"], "method": r["method"]}}
                        for r in releases]
    counts["map_hazards_shown"] = len(hazard_features)
    spec = MapSpec(key="releases_map", title=N_("Land released in the period"), layers=[
        MapLayer(key="hazard_areas", title=N_("Hazard areas"), style="hazard",
                 features=hazard_features),
        MapLayer(key="releases", title=N_("Released land"), style="release",
                 features=release_features)], bounds=bounds)
    return spec, counts


# --- completed hazard areas -----------------------------------------------------------------

COMPLETED = """
WITH c AS (
    SELECT a.hazard_area_id, min(a.report_date) AS completed
    FROM activity_report a
    WHERE a.kind = 'completion' AND a.deleted_at IS NULL AND {period}
    GROUP BY a.hazard_area_id
)
SELECT h.id, h.local_id, h.name, h.classification, h.status, h.area_m2,
       h.area_m2 - h.remaining_area_m2 AS released_m2, c.completed,
       (SELECT min(ho.report_date) FROM activity_report ho
        WHERE ho.hazard_area_id = h.id AND ho.kind = 'handover'
          AND ho.deleted_at IS NULL) AS handed_over,
       count(*) OVER () AS total
FROM c JOIN hazard_area h ON h.id = c.hazard_area_id
WHERE {hazards}
ORDER BY c.completed, h.local_id
LIMIT %(limit)s
"""


def completed(conn: psycopg.Connection, scope: ReportScope) -> tuple[list[dict[str, Any]],
                                                                       int]:
    """Hazard areas completed in the period (their first completion report in it), with
    the handover date if any; at most COMPLETED_LIMIT rows, and how many there are."""
    query = sql.SQL(COMPLETED).format(period=conjunction(dates(scope, "a", "report_date")),
                                      hazards=conjunction(hazard_rows(scope)))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, scope.params | {"limit": COMPLETED_LIMIT}).fetchall()
    total = int(rows[0]["total"]) if rows else 0
    for row in rows:
        del row["total"]
        row["_href"] = f"/api/v1/hazard-areas/{row.pop('id')}"
        row["area_m2"] = float(row["area_m2"])
        row["released_m2"] = float(row["released_m2"])
    return rows, total


# --- the report ----------------------------------------------------------------------------

def _ids(ids: list[tuple[Any, ...]] | None, *, product: str | None = None,
         method: str | None = None) -> list[Any] | None:
    if ids is None:
        return None
    return [i for i, p, m in ids if (product is None or p == product)
            and (method is None or m == method)]


AREA_COLUMNS = [Column("period_m2", N_("Released this period"), "m²", "area"),
                Column("period_km2", N_("Released this period"), "km²", "float"),
                Column("cumulative_m2", N_("Released to date"), "m²", "area"),
                Column("cumulative_km2", N_("Released to date"), "km²", "float"),
                Column("period_releases", N_("Releases this period"), None, "int")]


def _release_row(key: str, value: str, figures: dict[str, Any], scope: ReportScope,
                 ids: list[tuple[Any, ...]] | None) -> dict[str, Any]:
    row = {key: value, **figures, "period_km2": _km2(figures["period_m2"]),
           "cumulative_km2": _km2(figures["cumulative_m2"])}
    row["_href"] = scope.href("/api/v1/releases", **{key: value})
    row["_source"] = scope.source("survey.reports.progress.released", **{key: value},
                                  row_ids=_ids(ids, **{key: value}),
                                  href=row["_href"])
    return row


def released_section(conn: psycopg.Connection, scope: ReportScope,
                     ids: list[tuple[Any, ...]] | None) -> tuple[Section, int]:
    """The land released section, and how many releases the period holds."""
    figures = released(conn, scope)
    total = figures["total"]
    href = scope.href("/api/v1/releases")
    source = scope.source("survey.reports.progress.released", row_ids=_ids(ids), href=href)
    # released to date: its records run from the first release, whatever the period
    to_date_source = scope.source("survey.reports.progress.released", href=replace(
        scope, date_from=None).href("/api/v1/releases"))
    by_product = [_release_row("product", p, figures["product"][p], scope, ids)
                  for p in PRODUCTS if p in figures["product"]]
    by_method = [_release_row("method", m, figures["method"][m], scope, ids)
                 for m in METHODS if m in figures["method"]]
    months = monthly(conn, scope)
    remaining_figures: list[Figure] = []
    remaining_source = scope.source("survey.reports.progress.remaining_at",
                                    href=scope.href("/api/v1/hazard-areas"))
    end_day = scope.date_to or date.today()
    start_day = (scope.date_from - timedelta(days=1)) if scope.date_from else end_day
    at_start, at_end = remaining_at(conn, scope, min(start_day, end_day), end_day)
    if scope.date_from is not None:
        remaining_figures.append(Figure("remaining_start", N_("Remaining contamination at "
                                                              "the start of the period"),
                                        at_start, "m²", remaining_source))
    remaining_figures.append(Figure("remaining_end", N_("Remaining contamination at the "
                                                        "end of the period"),
                                    at_end, "m²", remaining_source))
    section = Section(
        key="released", title=N_("Land released"),
        figures=[Figure("released_period_m2", N_("Released this period"),
                        total["period_m2"], "m²", source),
                 Figure("released_period_km2", N_("Released this period"),
                        _km2(total["period_m2"]), "km²", source),
                 Figure("released_cumulative_m2", N_("Released to date"),
                        total["cumulative_m2"], "m²", to_date_source),
                 Figure("releases_period", N_("Releases this period"),
                        total["period_releases"], None, source),
                 *remaining_figures],
        tables=[
            Table("released_by_product", N_("Land released by product"),
                  [Column("product", N_("Product"), translate_values=True), *AREA_COLUMNS],
                  by_product, source),
            Table("released_by_method", N_("Land released by method"),
                  [Column("method", N_("Method"), translate_values=True), *AREA_COLUMNS],
                  by_method, source),
            Table("released_monthly", N_("Land released per month by product"),
                  [Column("month", N_("Month"), kind="date"),
                   *[Column(p, PRODUCT_LABELS[p], "m²", "area") for p in PRODUCTS],
                   Column("total", N_("Total"), "m²", "area")], months,
                  scope.source("survey.reports.progress.monthly", href=href))],
        charts=[Chart("released_monthly_chart", N_("Land released per month by product"),
                      "monthly_stacked_bar", "released_monthly", "month", list(PRODUCTS),
                      "m²")],
        notes=[N_("Remaining contamination on a day is what remains of the areas in scope "
                  "now plus what was released from them after that day; an area counts from "
                  "its date of information (or its first release, if earlier), and "
                  "boundaries are today's.")])
    return section, int(total["period_releases"])


def devices_section(conn: psycopg.Connection, scope: ReportScope) -> tuple[Section, bool]:
    found = devices(conn, scope)
    href = scope.href("/api/v1/device-finds")
    source = scope.source("survey.reports.progress.devices", href=href)
    for row in found["category"]:
        row["_href"] = scope.href("/api/v1/device-finds", category=row["category"])
    for row in found["model"]:
        row["_href"] = scope.href("/api/v1/device-finds", model=row["model"])
    counts = [Column("found", N_("Found"), "items", "int"),
              Column("destroyed", N_("Destroyed"), "items", "int")]
    section = Section(
        key="devices", title=N_("Explosive ordnance found and destroyed"),
        figures=[Figure("devices_found", N_("Items found"), found["total"]["found"], "items",
                        source),
                 Figure("devices_destroyed", N_("Items destroyed"),
                        found["total"]["destroyed"], "items", source)],
        tables=[Table("devices_by_category", N_("Items by category"),
                      [Column("category", N_("Category"), translate_values=True), *counts],
                      found["category"], source),
                Table("devices_by_model", N_("Items by model"),
                      [Column("category", N_("Category"), translate_values=True),
                       Column("model", N_("Model")), *counts], found["model"], source),
                Table("devices_by_disposal", N_("Items by disposal method"),
                      [Column("disposal_method", N_("Disposal method"),
                              translate_values=True),
                       Column("items", N_("Items"), "items", "int")],
                      found["disposal"], source)],
        charts=[Chart("devices_chart", N_("Items by category"), "bar", "devices_by_category",
                      "category", ["found", "destroyed"], "items")],
        notes=[N_("Destroyed counts every item disposed of (destroyed in situ, moved and "
                  "destroyed, rendered safe or handed to the authority).")])
    return section, found["total"]["found"] == 0


def tasks_section(conn: psycopg.Connection, scope: ReportScope) -> tuple[Section, bool]:
    counts = tasks(conn, scope)
    total = counts[-1] if counts and counts[-1]["activity_type"] is None else {
        "started": 0, "completed": 0, "handed_over": 0}
    by_type = [dict(row) for row in counts if row["activity_type"] is not None]
    handed = handovers(conn, scope)
    people = {k: sum(row[k] for row in handed) for k in ("men", "women", "boys", "girls")}
    task_source = scope.source("survey.reports.progress.tasks",
                               href=scope.href("/api/v1/tasks"))
    handover_source = scope.source("survey.reports.progress.handovers",
                                   href=scope.href("/api/v1/activity-reports",
                                                   kind="handover"))
    people_columns = [Column(k, label, "people", "int") for k, label in
                      (("men", N_("Men")), ("women", N_("Women")), ("boys", N_("Boys")),
                       ("girls", N_("Girls")), ("total", N_("Total")))]
    section = Section(
        key="tasks", title=N_("Tasks and handovers"),
        figures=[Figure("tasks_started", N_("Tasks started"), total["started"], None,
                        task_source),
                 Figure("tasks_completed", N_("Tasks completed"), total["completed"], None,
                        task_source),
                 Figure("tasks_handed_over", N_("Tasks handed over"), total["handed_over"],
                        None, task_source),
                 Figure("beneficiaries", N_("People the land was handed over to"),
                        sum(people.values()), "people", handover_source),
                 *[Figure(f"beneficiaries_{k}", label, people[k], "people", handover_source)
                   for k, label in (("men", N_("Men")), ("women", N_("Women")),
                                    ("boys", N_("Boys")), ("girls", N_("Girls")))]],
        tables=[Table("tasks_by_type", N_("Tasks by activity type"),
                      [Column("activity_type", N_("Activity"), translate_values=True),
                       Column("started", N_("Started"), None, "int"),
                       Column("completed", N_("Completed"), None, "int"),
                       Column("handed_over", N_("Handed over"), None, "int")],
                      by_type, task_source),
                Table("handovers", N_("Handovers"),
                      [Column("report_date", N_("Handover date"), kind="date"),
                       Column("hazard_area", N_("Hazard area")),
                       Column("task", N_("Task")), *people_columns],
                      handed, handover_source)])
    return section, not handed and not total["started"] and not total["completed"]


def productivity_section(conn: psycopg.Connection, scope: ReportScope) -> tuple[Section, bool]:
    rows = measures.team_days_by_method(conn, scope)
    budget = cost(conn, scope)
    source = scope.source("survey.reports.measures.team_days_by_method",
                          href=scope.href("/api/v1/activity-reports"))
    team_days = sum(row["team_days"] for row in rows)
    worked = sum(row["area_m2"] for row in rows)
    notes = [N_("A report's team-days are shared among its methods in proportion to the "
                "area each released; team-days of reports that released no land are shown "
                "as 'none'."),
             N_("Productivity counts the land released by the period's activity reports, "
                "whatever the date of each release.")]
    tables = [Table("productivity_by_method", N_("Team-days and productivity by method"),
                    [Column("method", N_("Method"), translate_values=True),
                     Column("team_days", N_("Team-days"), "team-days", "float"),
                     Column("area_m2", N_("Released"), "m²", "area"),
                     Column("m2_per_team_day", N_("Productivity"), "m²/team-day", "float"),
                     Column("reports", N_("Activity reports"), None, "int")],
                    rows, source)]
    if budget:
        tables.append(Table(
            "cost_per_m2", N_("Cost per square metre released"),
            [Column("code", N_("Project")), Column("name", N_("Name")),
             Column("donor", N_("Donor")),
             Column("budget_usd", N_("Budget"), "USD", "float"),
             Column("released_m2", N_("Released to date"), "m²", "area"),
             Column("usd_per_m2", N_("Cost per m²"), "USD/m²", "float")],
            budget, scope.source("survey.reports.progress.cost",
                                 href=scope.href("/api/v1/projects")),
            note=N_("The project's whole budget over all land released under it up to the "
                    "end of the period.")))
    else:
        notes.append(N_("No project in scope has a budget recorded: no cost per m² is "
                        "given."))
    section = Section(
        key="productivity", title=N_("Team-days and productivity"),
        figures=[Figure("team_days", N_("Team-days"), team_days, "team-days", source),
                 Figure("m2_per_team_day", N_("Released per team-day"),
                        worked / team_days if team_days else None, "m²/team-day", source)],
        tables=tables, notes=notes)
    return section, team_days == 0


def map_section(conn: psycopg.Connection, scope: ReportScope, releases_total: int) -> Section:
    spec, counts = release_map(conn, scope, releases_total)
    notes = [N_("Geometries are simplified for the page (to a thousandth of the map's "
                "extent).")]
    if counts["map_releases_shown"] < counts["map_releases_total"]:
        notes.append(N_("The map shows the {map_releases_shown} largest of the period's "
                        "{map_releases_total} releases, over their hazard areas."))
    if not spec.layers:
        notes = [N_("No land was released in the period: there is nothing to map.")]
    return Section(key="map", title=N_("Map of the period's releases"), maps=[spec],
                   notes=notes, params=counts)


def completed_section(conn: psycopg.Connection, scope: ReportScope) -> Section:
    rows, total = completed(conn, scope)
    notes = [N_("An area counts as completed on the date of its first completion report "
                "in the period.")]
    if len(rows) < total:
        notes.append(N_("The table lists the first {completed_shown} of {completed_total} "
                        "completed hazard areas."))
    return Section(
        key="completed", title=N_("Completed hazard areas"),
        figures=[Figure("completed_areas", N_("Hazard areas completed"), total, None,
                        scope.source("survey.reports.progress.completed",
                                     href=scope.href("/api/v1/hazard-areas",
                                                     status="closed")))],
        tables=[Table("completed_areas", N_("Completed hazard areas"),
                      [Column("local_id", N_("Local id"), kind="link"),
                       Column("name", N_("Name")),
                       Column("classification", N_("Classification"), translate_values=True),
                       Column("status", N_("Status"), translate_values=True),
                       Column("area_m2", N_("Area"), "m²", "area"),
                       Column("released_m2", N_("Released"), "m²", "area"),
                       Column("completed", N_("Completed"), kind="date"),
                       Column("handed_over", N_("Handed over"), kind="date")],
                      rows, scope.source("survey.reports.progress.completed",
                                         href=scope.href("/api/v1/hazard-areas")))],
        notes=notes, params={"completed_shown": len(rows), "completed_total": total})


def progress_report(conn: psycopg.Connection, *, principal: Principal,
                    filters: ReportFilters) -> Report:
    """The progress report for a period and filter, as the principal may see it.

    Raises Forbidden when a donor asks for another donor's project or area (see
    `scope.resolve`).
    """
    scope = resolve(conn, principal=principal, filters=filters)
    return progress_of_scope(conn, scope)


def progress_of_scope(conn: psycopg.Connection, scope: ReportScope) -> Report:
    """The progress report for an already resolved scope."""
    info = meta(conn, scope)
    ids = release_ids(conn, scope)
    released_s, releases_total = released_section(conn, scope, ids)
    devices_s, no_devices = devices_section(conn, scope)
    tasks_s, no_tasks = tasks_section(conn, scope)
    productivity_s, no_team_days = productivity_section(conn, scope)
    empty = releases_total == 0 and no_devices and no_tasks and no_team_days
    if empty:
        released_s = _with_note(released_s, N_("Nothing was recorded in this period: no "
                                               "release, find, task or activity report."))
    sections = [released_s, devices_s, tasks_s, productivity_s,
                map_section(conn, scope, releases_total), completed_section(conn, scope)]
    return Report(kind="progress", title=N_("Progress report"), programme=info.programme,
                  filters=info.filters, as_of=info.as_of, version=info.version,
                  sections=sections, empty=empty)


def _with_note(section: Section, note: str) -> Section:
    return replace(section, notes=[note, *section.notes])
