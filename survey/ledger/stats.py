"""Totals from the ledger, one SQL statement per figure set (no Python loops over rows).

Released area comes from `ledger_daily`, the summary the release triggers keep, so a
national figure reads thousands of summary rows instead of every release; remaining
contamination, devices and team-days are aggregated from their tables. Every figure can
be traced: `release_attribution` lists the releases behind any released total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Period = Literal["day", "month", "year"]


@dataclass(frozen=True)
class StatsFilter:
    """Which releases, devices and reports count; None means no restriction."""

    programme_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None
    admin_area_id: UUID | None = None
    product: str | None = None
    method: str | None = None


def _eq(alias: str, column: str, value: Any) -> sql.Composable:
    return sql.SQL("{}.{} = {}").format(sql.Identifier(alias), sql.Identifier(column),
                                        sql.Literal(value))


def _and(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


def _dates(alias: str, column: str, f: StatsFilter) -> list[sql.Composable]:
    parts: list[sql.Composable] = []
    col = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column))
    if f.date_from is not None:
        parts.append(sql.SQL("{} >= {}").format(col, sql.Literal(f.date_from)))
    if f.date_to is not None:
        parts.append(sql.SQL("{} <= {}").format(col, sql.Literal(f.date_to)))
    return parts


def _ledger_where(f: StatsFilter) -> sql.Composable:
    parts = _dates("d", "day", f)
    for column in ("programme_id", "organisation_id", "project_id", "donor_id",
                   "admin_area_id", "product", "method"):
        value = getattr(f, column)
        if value is not None:
            parts.append(_eq("d", column, value))
    return _and(parts)


RELEASED = """
WITH f AS (
    SELECT d.*, date_trunc({period}, d.day)::date AS period
    FROM ledger_daily d WHERE {where}
), g AS (
    SELECT CASE WHEN GROUPING(product) = 1 THEN 'total'
                WHEN GROUPING(method) = 0 THEN 'method'
                WHEN GROUPING(period) = 0 THEN 'period'
                WHEN GROUPING(organisation_id) = 0 THEN 'organisation'
                WHEN GROUPING(project_id) = 0 THEN 'project'
                WHEN GROUPING(donor_id) = 0 THEN 'donor'
                WHEN GROUPING(admin_area_id) = 0 THEN 'admin_area'
                ELSE 'product' END AS breakdown,
           product, method, technical_asset, period, organisation_id, project_id, donor_id,
           admin_area_id, sum(area_m2) AS area_m2, sum(releases)::bigint AS releases
    FROM f
    GROUP BY GROUPING SETS ((), (product), (product, method, technical_asset),
                            (period, product), (organisation_id, product),
                            (project_id, product), (donor_id, product),
                            (admin_area_id, product))
)
SELECT g.breakdown, g.product, g.method, g.technical_asset, g.period, g.area_m2, g.releases,
       coalesce(o.name, pr.code, dn.name, aa.name) AS label,
       coalesce(g.organisation_id, g.project_id, g.donor_id, g.admin_area_id) AS key_id
FROM g
LEFT JOIN organisation o ON o.id = g.organisation_id
LEFT JOIN project pr ON pr.id = g.project_id
LEFT JOIN donor dn ON dn.id = g.donor_id
LEFT JOIN admin_area aa ON aa.id = g.admin_area_id
WHERE g.releases <> 0 OR g.breakdown = 'total'
ORDER BY g.breakdown, g.period NULLS FIRST, label NULLS FIRST, g.product, g.method
"""


def released(conn: psycopg.Connection, f: StatsFilter, period: Period = "month") -> dict[str, Any]:
    """Released m² by product, method, period, organisation, project, donor, admin area."""
    query = sql.SQL(RELEASED).format(period=sql.Literal(period), where=_ledger_where(f))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query).fetchall()
    out: dict[str, Any] = {name: [] for name in ("product", "method", "period", "organisation",
                                                 "project", "donor", "admin_area")}
    out["total"] = {"area_m2": 0.0, "releases": 0}
    for row in rows:
        kind = row.pop("breakdown")
        figures = {"area_m2": float(row["area_m2"] or 0), "releases": int(row["releases"] or 0)}
        if kind == "total":
            out["total"] = figures
            continue
        entry = {"product": row["product"], **figures}
        if kind == "method":
            entry |= {"method": row["method"], "technical_asset": row["technical_asset"]}
        elif kind == "period":
            entry["period"] = row["period"].isoformat()
        elif kind != "product":
            entry |= {"id": str(row["key_id"]) if row["key_id"] else None,
                      "name": row["label"]}
        out[kind].append(entry)
    return out


def _hazard_where(f: StatsFilter) -> sql.Composable:
    parts: list[sql.Composable] = []
    if f.programme_id is not None:
        parts.append(_eq("h", "programme_id", f.programme_id))
    if f.organisation_id is not None:
        parts.append(_eq("h", "reporting_organisation_id", f.organisation_id))
    if f.admin_area_id is not None:
        parts.append(_eq("h", "admin_area_id", f.admin_area_id))
    if f.project_id is not None or f.donor_id is not None:
        funded = [_eq("t", "project_id", f.project_id)] if f.project_id else []
        if f.donor_id is not None:
            funded.append(_eq("p", "donor_id", f.donor_id))
        parts.append(sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
            "LEFT JOIN project p ON p.id = t.project_id "
            "WHERE th.hazard_area_id = h.id AND {})").format(_and(funded)))
    return _and(parts)


REMAINING = """
WITH h AS (
    SELECT h.id, h.classification, h.contamination, h.remaining_area_m2
    FROM hazard_area h
    WHERE h.status IN ('open', 'worked_on') AND {where}
)
SELECT CASE WHEN GROUPING(classification) = 0 THEN 'classification' ELSE 'total' END AS breakdown,
       classification AS key, count(*) AS open_areas, coalesce(sum(remaining_area_m2), 0) AS area_m2
FROM h GROUP BY GROUPING SETS ((classification), ())
UNION ALL
SELECT 'contamination', c.type, count(*), coalesce(sum(h.remaining_area_m2), 0)
FROM h CROSS JOIN LATERAL unnest(h.contamination) AS c(type)
GROUP BY c.type
ORDER BY 1, 2
"""


def remaining(conn: psycopg.Connection, f: StatsFilter) -> dict[str, Any]:
    """Remaining contamination (open and worked-on areas): by classification and type.

    An area with several contamination types counts under each of them, so the
    by-contamination figures do not add up to the total.
    """
    query = sql.SQL(REMAINING).format(where=_hazard_where(f))
    out: dict[str, Any] = {"total": {"open_areas": 0, "area_m2": 0.0}, "classification": [],
                           "contamination": []}
    for kind, key, areas, area in conn.execute(query).fetchall():
        figures = {"open_areas": int(areas), "area_m2": float(area)}
        if kind == "total":
            out["total"] = figures
        else:
            out[kind].append({kind: key, **figures})
    return out


def _report_where(alias: str, f: StatsFilter, date_column: str) -> sql.Composable:
    """Conditions on rows tied to an activity report `ar`, its task `t` and project `p`."""
    parts = _dates(alias, date_column, f)
    if f.programme_id is not None:
        parts.append(_eq(alias, "programme_id", f.programme_id))
    if f.organisation_id is not None:
        parts.append(_eq("ar", "organisation_id", f.organisation_id))
    if f.project_id is not None:
        parts.append(_eq("t", "project_id", f.project_id))
    if f.donor_id is not None:
        parts.append(_eq("p", "donor_id", f.donor_id))
    if f.admin_area_id is not None:
        parts.append(_eq("h", "admin_area_id", f.admin_area_id))
    return _and(parts)


DEVICES = """
SELECT o.category, o.model, GROUPING(o.model) AS per_category,
       sum(d.quantity)::bigint AS found,
       coalesce(sum(d.quantity) FILTER (WHERE d.disposal_method IS NOT NULL), 0)::bigint
           AS destroyed
FROM device_find d
JOIN ordnance_type o ON o.id = d.ordnance_type_id
LEFT JOIN activity_report ar ON ar.id = d.activity_report_id
LEFT JOIN task t ON t.id = ar.task_id
LEFT JOIN project p ON p.id = t.project_id
LEFT JOIN hazard_area h ON h.id = d.hazard_area_id
WHERE {where}
GROUP BY GROUPING SETS ((o.category), (o.category, o.model))
ORDER BY o.category, per_category DESC, found DESC, o.model
"""


def devices(conn: psycopg.Connection, f: StatsFilter) -> dict[str, Any]:
    """Items found and destroyed (disposed of), by category and by model."""
    query = sql.SQL(DEVICES).format(where=_report_where("d", f, "found_date"))
    out: dict[str, Any] = {"total": {"found": 0, "destroyed": 0}, "category": [], "model": []}
    for category, model, per_category, found, destroyed in conn.execute(query).fetchall():
        if per_category:
            out["category"].append({"category": category, "found": found,
                                    "destroyed": destroyed})
            out["total"]["found"] += found
            out["total"]["destroyed"] += destroyed
        else:
            out["model"].append({"category": category, "model": model, "found": found,
                                 "destroyed": destroyed})
    return out


PRODUCTIVITY = """
WITH td AS (
    SELECT ar.organisation_id, sum(ar.team_days) AS team_days
    FROM activity_report ar
    LEFT JOIN task t ON t.id = ar.task_id
    LEFT JOIN project p ON p.id = t.project_id
    LEFT JOIN hazard_area h ON h.id = ar.hazard_area_id
    WHERE {report_where}
    GROUP BY ar.organisation_id
), rel AS (
    SELECT d.organisation_id,
           sum(d.area_m2) FILTER (WHERE d.product IN ('reduced', 'cleared')) AS worked_m2
    FROM ledger_daily d WHERE {ledger_where}
    GROUP BY d.organisation_id
)
SELECT organisation_id, o.name, coalesce(td.team_days, 0) AS team_days,
       coalesce(rel.worked_m2, 0) AS worked_m2,
       coalesce(rel.worked_m2, 0) / nullif(td.team_days, 0) AS m2_per_team_day
FROM td FULL JOIN rel USING (organisation_id)
LEFT JOIN organisation o ON o.id = organisation_id
ORDER BY o.name
"""


def productivity(conn: psycopg.Connection, f: StatsFilter) -> list[dict[str, Any]]:
    """Team-days and m² per team-day, per organisation.

    The numerator is land physically worked (reduced and cleared); cancellation by
    non-technical survey is left out so that desk work does not inflate it.
    """
    query = sql.SQL(PRODUCTIVITY).format(report_where=_report_where("ar", f, "report_date"),
                                         ledger_where=_ledger_where(f))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query).fetchall()
    return [{"organisation_id": str(r["organisation_id"]) if r["organisation_id"] else None,
             "name": r["name"], "team_days": float(r["team_days"]),
             "worked_m2": float(r["worked_m2"]),
             "m2_per_team_day": None if r["m2_per_team_day"] is None
             else float(r["m2_per_team_day"])} for r in rows]


def ledger_stats(conn: psycopg.Connection, f: StatsFilter, *, period: Period = "month",
                 released_only: bool = False) -> dict[str, Any]:
    """Every figure set; `released_only` keeps to released land (the public's view)."""
    out: dict[str, Any] = {"released": released(conn, f, period)}
    if not released_only:
        out |= {"remaining": remaining(conn, f), "devices": devices(conn, f),
                "productivity": productivity(conn, f)}
    return out
