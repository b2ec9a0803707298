"""The national status report, in the shape of an Ottawa Convention Article 7 report:
hazard areas and what remains of them by admin area, classification and contamination;
area released per year by product; contamination found after completion; the completion
forecast; annex tables (one CSV each)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from survey.auth import Principal
from survey.reports.forecast import ForecastOptions, forecast_section, window
from survey.reports.model import N_, Chart, Column, Figure, Report, ReportFilters, Section, Table
from survey.reports.progress import PRODUCT_LABELS, PRODUCTS, device_scope
from survey.reports.scope import (
    ReportScope,
    conjunction,
    dates,
    hazard_rows,
    ledger_source,
    meta,
    resolve,
)

ANNEX_LIMIT = 5000

# open and worked-on areas (what remains), per admin area and classification with totals
BY_ADMIN = """
SELECT GROUPING(aa.name, h.classification) AS level, aa.name AS admin_area, h.admin_area_id,
       h.classification, count(*) AS areas, coalesce(sum(h.remaining_area_m2), 0)::float8
           AS remaining_m2
FROM hazard_area h LEFT JOIN admin_area aa ON aa.id = h.admin_area_id
WHERE h.status IN ('open', 'worked_on') AND {where}
GROUP BY GROUPING SETS ((aa.name, h.admin_area_id, h.classification), (h.classification), ())
ORDER BY aa.name NULLS LAST, h.classification
"""

# an area with several contamination types counts under each
BY_CONTAMINATION = """
SELECT c.type AS contamination, count(*) AS areas,
       coalesce(sum(h.remaining_area_m2), 0)::float8 AS remaining_m2
FROM hazard_area h CROSS JOIN LATERAL unnest(h.contamination) AS c(type)
WHERE h.status IN ('open', 'worked_on') AND {where}
GROUP BY c.type ORDER BY c.type
"""


def hazard_section(conn: psycopg.Connection, scope: ReportScope) -> Section:
    where = conjunction(hazard_rows(scope))
    with conn.cursor(row_factory=dict_row) as cur:
        grouped = cur.execute(sql.SQL(BY_ADMIN).format(where=where), scope.params).fetchall()
        contamination = cur.execute(sql.SQL(BY_CONTAMINATION).format(where=where),
                                    scope.params).fetchall()
    admin: dict[Any, dict[str, Any]] = {}
    classes = []
    total = {"areas": 0, "remaining_m2": 0.0}
    for row in grouped:
        if row["level"] == 0:
            entry = admin.setdefault(row["admin_area_id"], {
                "admin_area": row["admin_area"] or "—", "SHA_areas": 0, "SHA_m2": 0.0,
                "CHA_areas": 0, "CHA_m2": 0.0, "areas": 0, "remaining_m2": 0.0})
            if row["admin_area_id"] is not None:
                entry["_href"] = f"/api/v1/admin-areas/{row['admin_area_id']}"
            entry[f"{row['classification']}_areas"] = int(row["areas"])
            entry[f"{row['classification']}_m2"] = row["remaining_m2"]
            entry["areas"] += int(row["areas"])
            entry["remaining_m2"] += row["remaining_m2"]
        elif row["classification"] is not None:
            classes.append({"classification": row["classification"],
                            "areas": int(row["areas"]), "remaining_m2": row["remaining_m2"],
                            "remaining_km2": row["remaining_m2"] / 1e6})
        else:
            total = {"areas": int(row["areas"]), "remaining_m2": row["remaining_m2"]}
    admin_rows = list(admin.values())
    for entry in admin_rows:
        entry["remaining_km2"] = entry["remaining_m2"] / 1e6
    for row in contamination:
        row["areas"] = int(row["areas"])
        row["remaining_km2"] = row["remaining_m2"] / 1e6
    href = scope.href("/api/v1/hazard-areas", status="open,worked_on")
    source = scope.source("survey.reports.national.hazard_section", href=href)
    counts = [Column("areas", N_("Hazard areas"), None, "int"),
              Column("remaining_m2", N_("Remaining"), "m²", "area"),
              Column("remaining_km2", N_("Remaining"), "km²", "float")]
    return Section(
        key="hazard_areas", title=N_("Remaining contamination"),
        figures=[Figure("hazard_areas", N_("Hazard areas open or worked on"), total["areas"],
                        None, source),
                 Figure("remaining_m2", N_("Remaining contamination"),
                        total["remaining_m2"], "m²", source),
                 Figure("remaining_km2", N_("Remaining contamination"),
                        total["remaining_m2"] / 1e6, "km²", source)],
        tables=[
            Table("remaining_by_admin_area", N_("Remaining contamination by admin area"),
                  [Column("admin_area", N_("Admin area")),
                   Column("SHA_areas", N_("SHA"), None, "int"),
                   Column("SHA_m2", N_("SHA remaining"), "m²", "area"),
                   Column("CHA_areas", N_("CHA"), None, "int"),
                   Column("CHA_m2", N_("CHA remaining"), "m²", "area"), *counts],
                  admin_rows, source),
            Table("remaining_by_classification",
                  N_("Remaining contamination by classification"),
                  [Column("classification", N_("Classification"), translate_values=True),
                   *counts], classes, source),
            Table("remaining_by_contamination",
                  N_("Remaining contamination by contamination type"),
                  [Column("contamination", N_("Contamination"), translate_values=True),
                   *counts], contamination, source,
                  note=N_("An area with several contamination types counts under each of "
                          "them."))],
        notes=[N_("What remains today, whatever the period: open and worked-on hazard "
                  "areas.")])


BY_YEAR = """
SELECT extract(year FROM d.day)::int AS year, d.product, sum(d.area_m2)::float8 AS area_m2
FROM {source}
WHERE {until}
GROUP BY 1, 2
HAVING sum(d.releases) <> 0
ORDER BY 1, 2
"""


def released_by_year(conn: psycopg.Connection, scope: ReportScope) -> Section:
    query = sql.SQL(BY_YEAR).format(source=ledger_source(scope),
                                    until=conjunction(dates(scope, "d", "day", start=False)))
    years: dict[int, dict[str, Any]] = {}
    for year, product, area in conn.execute(query, scope.params).fetchall():
        years.setdefault(year, {"year": year} | {p: 0.0 for p in PRODUCTS})[product] = area
    rows = list(years.values())
    for row in rows:
        row["total"] = sum(row[p] for p in PRODUCTS)
        row["total_km2"] = row["total"] / 1e6
        year_end = date(row["year"], 12, 31)
        row["_href"] = scope.href("/api/v1/releases", date_from=date(row["year"], 1, 1),
                                  date_to=min(year_end, scope.date_to or year_end))
    # released to date: everything up to the end of the period, whenever it began
    source = scope.source("survey.reports.national.released_by_year",
                          href=replace(scope, date_from=None).href("/api/v1/releases"))
    return Section(
        key="released_by_year", title=N_("Land released per year"),
        figures=[Figure("released_total_m2", N_("Released to date"),
                        sum(r["total"] for r in rows), "m²", source)],
        tables=[Table("released_by_year", N_("Land released per year by product"),
                      [Column("year", N_("Year"), None, "int"),
                       *[Column(p, PRODUCT_LABELS[p], "m²", "area") for p in PRODUCTS],
                       Column("total", N_("Total"), "m²", "area"),
                       Column("total_km2", N_("Total"), "km²", "float")], rows, source)],
        charts=[Chart("released_by_year_chart", N_("Land released per year by product"),
                      "monthly_stacked_bar", "released_by_year", "year", list(PRODUCTS),
                      "m²")],
        notes=[N_("Every year up to the end of the period.")])


# a find on an area after its first completion report: contamination the clearance missed
RESIDUAL = """
WITH c AS (
    SELECT a.hazard_area_id, min(a.report_date) AS completed
    FROM activity_report a WHERE a.kind = 'completion' AND a.deleted_at IS NULL
    GROUP BY a.hazard_area_id
)
SELECT df.id, h.id AS hazard_id, h.local_id, h.status, c.completed, df.found_date,
       o.category, o.model, df.quantity
FROM device_find df {joins}
JOIN c ON c.hazard_area_id = df.hazard_area_id AND df.found_date > c.completed
JOIN hazard_area h ON h.id = df.hazard_area_id
JOIN ordnance_type o ON o.id = df.ordnance_type_id
WHERE {where}
ORDER BY df.found_date, h.local_id
"""


def residual_section(conn: psycopg.Connection, scope: ReportScope) -> Section:
    # the finds in scope as the progress report counts them: a donor's are those made under
    # its projects, whoever else works the same area
    joins, where = device_scope(scope)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql.SQL(RESIDUAL).format(joins=joins, where=where),
                           scope.params).fetchall()
    for row in rows:
        row["_href"] = f"/api/v1/device-finds/{row.pop('id')}"
        row["hazard_area_href"] = f"/api/v1/hazard-areas/{row.pop('hazard_id')}"
        row["local_id_href"] = row["hazard_area_href"]  # the local id opens the area
    source = scope.source("survey.reports.national.residual",
                          href=scope.href("/api/v1/device-finds"))
    return Section(
        key="residual", title=N_("Contamination found after completion"),
        figures=[Figure("residual_items", N_("Items found after completion"),
                        sum(r["quantity"] for r in rows), "items", source),
                 Figure("residual_areas", N_("Completed areas with later finds"),
                        len({r["local_id"] for r in rows}), None, source)],
        tables=[Table("residual", N_("Items found on hazard areas after their completion"),
                      [Column("local_id", N_("Hazard area"), kind="link"),
                       Column("status", N_("Status"), translate_values=True),
                       Column("completed", N_("Completed"), kind="date"),
                       Column("found_date", N_("Found"), kind="date"),
                       Column("category", N_("Category"), translate_values=True),
                       Column("model", N_("Model")),
                       Column("quantity", N_("Items"), "items", "int")], rows, source)],
        notes=[N_("A find counts when it was made after the area's first completion report, "
                  "within the period.")])


ANNEX = """
SELECT h.id, h.local_id, h.name, aa.name AS admin_area, h.classification,
       array_to_string(h.contamination, ', ') AS contamination, h.status,
       h.area_m2, h.remaining_area_m2 AS remaining_m2, h.date_of_information,
       count(*) OVER () AS total
FROM hazard_area h LEFT JOIN admin_area aa ON aa.id = h.admin_area_id
WHERE h.status IN ('open', 'worked_on') AND {where}
ORDER BY aa.name NULLS LAST, h.local_id
LIMIT %(limit)s
"""


def annex_section(conn: psycopg.Connection, scope: ReportScope) -> Section:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql.SQL(ANNEX).format(where=conjunction(hazard_rows(scope))),
                           scope.params | {"limit": ANNEX_LIMIT}).fetchall()
    total = int(rows[0]["total"]) if rows else 0
    for row in rows:
        del row["total"]
        row["admin_area"] = row["admin_area"] or "—"
        row["_href"] = f"/api/v1/hazard-areas/{row.pop('id')}"
    notes = [N_("Every open and worked-on hazard area, as recorded today.")]
    if len(rows) < total:
        notes.append(N_("The annex lists the first {annex_shown} of {annex_total} hazard "
                        "areas; the API lists them all."))
    return Section(
        key="annex", title=N_("Annex: hazard areas"),
        tables=[Table("annex_hazard_areas", N_("Open and worked-on hazard areas"),
                      [Column("local_id", N_("Local id"), kind="link"),
                       Column("name", N_("Name")), Column("admin_area", N_("Admin area")),
                       Column("classification", N_("Classification"), translate_values=True),
                       Column("contamination", N_("Contamination")),
                       Column("status", N_("Status"), translate_values=True),
                       Column("area_m2", N_("Area"), "m²", "area"),
                       Column("remaining_m2", N_("Remaining"), "m²", "area"),
                       Column("date_of_information", N_("Date of information"),
                              kind="date")],
                      rows, scope.source("survey.reports.national.annex",
                                         href=scope.href("/api/v1/hazard-areas",
                                                         status="open,worked_on")))],
        notes=notes, params={"annex_shown": len(rows), "annex_total": total})


def national_report(conn: psycopg.Connection, *, principal: Principal,
                    filters: ReportFilters, options: ForecastOptions | None = None) -> Report:
    """The national status report for the period (the forecast measures over it, by
    default the 365 days to today)."""
    scope = resolve(conn, principal=principal, filters=filters)
    info = meta(conn, scope)
    today = info.as_of.date()
    hazards = hazard_section(conn, scope)
    by_year = released_by_year(conn, scope)
    residual = residual_section(conn, scope)
    forecast, _ = forecast_section(conn, window(scope, today), options or ForecastOptions(),
                                   today)
    annex = annex_section(conn, scope)
    empty = (not hazards.tables[0].rows and not by_year.tables[0].rows
             and not residual.tables[0].rows)
    if empty:
        hazards = replace(hazards, notes=[N_("Nothing is recorded for these filters."),
                                          *hazards.notes])
    return Report(kind="national", title=N_("National status report"),
                  programme=info.programme, filters=info.filters, as_of=info.as_of,
                  version=info.version,
                  sections=[hazards, by_year, residual, forecast, annex], empty=empty)
