"""Totals from the ledger, one SQL statement per figure set (no Python loops over rows).

Released area comes from the summaries the release triggers keep: `ledger_rollup` (one
attribution at a time) when the request filters on dates and product only, which is what
national and donor-wide figures ask; `ledger_daily` (every attribution at once) when it
filters on an organisation, project, donor, admin area or method. Remaining
contamination, devices and team-days are aggregated from their tables, joining only what
a filter needs. Every figure can be traced: `release_attribution` lists the releases
behind any released total.
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

ATTRIBUTIONS = ("organisation_id", "project_id", "donor_id", "admin_area_id")


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

    @property
    def rolled_up(self) -> bool:
        """True when the rollup can answer: no attribution or method filter."""
        return self.method is None and all(getattr(self, a) is None for a in ATTRIBUTIONS)


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


def _ledger_where(f: StatsFilter, columns: tuple[str, ...]) -> sql.Composable:
    parts = _dates("d", "day", f)
    for column in ("programme_id", "product", *columns):
        value = getattr(f, column)
        if value is not None:
            parts.append(_eq("d", column, value))
    return _and(parts)


_LABELS = """
SELECT g.breakdown, g.product, g.method, g.technical_asset, g.period, g.area_m2, g.releases,
       CASE g.breakdown WHEN 'organisation' THEN o.name WHEN 'project' THEN pr.code
                        WHEN 'donor' THEN dn.name WHEN 'admin_area' THEN aa.name END AS label,
       g.key_id
FROM g
LEFT JOIN organisation o ON g.breakdown = 'organisation' AND o.id = g.key_id
LEFT JOIN project pr ON g.breakdown = 'project' AND pr.id = g.key_id
LEFT JOIN donor dn ON g.breakdown = 'donor' AND dn.id = g.key_id
LEFT JOIN admin_area aa ON g.breakdown = 'admin_area' AND aa.id = g.key_id
WHERE g.releases <> 0 OR g.breakdown = 'total'
ORDER BY g.breakdown, g.period NULLS FIRST, label NULLS FIRST, g.product, g.method
"""

RELEASED_ROLLUP = """
WITH g AS (
    SELECT CASE WHEN GROUPING(product) = 1 THEN 'total'
                WHEN GROUPING(method) = 0 THEN 'method'
                WHEN GROUPING(period) = 0 THEN 'period'
                ELSE 'product' END AS breakdown,
           product, method, technical_asset, period, NULL::uuid AS key_id,
           sum(area_m2) AS area_m2, sum(releases)::bigint AS releases
    FROM (SELECT d.*, date_trunc({period}, d.day::timestamp)::date AS period
          FROM ledger_rollup d WHERE d.dimension = 'all' AND {where}) f
    GROUP BY GROUPING SETS ((), (product), (product, method, technical_asset),
                            (period, product))
    UNION ALL
    SELECT d.dimension, d.product, NULL, NULL, NULL, d.key_id, sum(d.area_m2),
           sum(d.releases)::bigint
    FROM ledger_rollup d WHERE d.dimension <> 'all' AND {where}
    GROUP BY d.dimension, d.key_id, d.product
)
{labels}
"""

RELEASED_DAILY = """
WITH f AS (
    SELECT d.*, date_trunc({period}, d.day::timestamp)::date AS period
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
           product, method, technical_asset, period,
           coalesce(organisation_id, project_id, donor_id, admin_area_id) AS key_id,
           sum(area_m2) AS area_m2, sum(releases)::bigint AS releases
    FROM f
    GROUP BY GROUPING SETS ((), (product), (product, method, technical_asset),
                            (period, product), (organisation_id, product),
                            (project_id, product), (donor_id, product),
                            (admin_area_id, product))
)
{labels}
"""


def released(conn: psycopg.Connection, f: StatsFilter, period: Period = "month") -> dict[str, Any]:
    """Released m² by product, method, period, organisation, project, donor, admin area."""
    if f.rolled_up:
        query = sql.SQL(RELEASED_ROLLUP).format(period=sql.Literal(period),
                                                where=_ledger_where(f, ()),
                                                labels=sql.SQL(_LABELS))
    else:
        query = sql.SQL(RELEASED_DAILY).format(period=sql.Literal(period),
                                               where=_ledger_where(f, (*ATTRIBUTIONS,
                                                                       "method")),
                                               labels=sql.SQL(_LABELS))
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
            "WHERE th.hazard_area_id = h.id AND t.deleted_at IS NULL AND {})").format(
                _and(funded)))
    return _and(parts)


# Grouped once by classification and contamination list (a handful of distinct lists),
# then spread over the types: the hazard areas are read in one pass.
REMAINING = """
WITH g AS (
    SELECT h.classification, h.contamination, count(*) AS n,
           coalesce(sum(h.remaining_area_m2), 0) AS area_m2
    FROM hazard_area h
    WHERE h.status IN ('open', 'worked_on') AND {where}
    GROUP BY h.classification, h.contamination
)
SELECT 'classification' AS breakdown, classification AS key, sum(n) AS open_areas,
       sum(area_m2) AS area_m2
FROM g GROUP BY classification
UNION ALL
SELECT 'total', NULL, coalesce(sum(n), 0), coalesce(sum(area_m2), 0) FROM g
UNION ALL
SELECT 'contamination', c.type, sum(n), sum(area_m2)
FROM g CROSS JOIN LATERAL unnest(g.contamination) AS c(type)
GROUP BY c.type
ORDER BY 1, 2
"""


def remaining(conn: psycopg.Connection, f: StatsFilter) -> dict[str, Any]:
    """Remaining contamination (open and worked-on areas): by classification and type.

    An area with several contamination types counts under each of them, so the
    by-contamination figures do not add up to the total.
    """
    query = sql.SQL(REMAINING).format(where=_hazard_where(f))
    out: dict[str, Any] = {"as_of": "now (date filters do not apply: this is what remains "
                                     "today)", "total": {"open_areas": 0, "area_m2": 0.0},
                           "classification": [], "contamination": []}
    for kind, key, areas, area in conn.execute(query).fetchall():
        figures = {"open_areas": int(areas), "area_m2": float(area)}
        if kind == "total":
            out["total"] = figures
        else:
            out[kind].append({kind: key, **figures})
    return out


def _report_scope(alias: str, f: StatsFilter, date_column: str,
                  report_column: str | None) -> tuple[sql.Composable, sql.Composable]:
    """Joins and conditions for rows tied to an activity report: only the joins a filter
    needs are made (`report_column` is how `alias` reaches its report, or None when
    `alias` is the report itself). Soft-deleted rows are left out (a live find's report
    is live: a report is deleted only after its finds)."""
    # deleted_at IS NULL also lets the planner use the partial indexes on live rows
    parts = [sql.SQL("{}.deleted_at IS NULL").format(sql.Identifier(alias)),
             *_dates(alias, date_column, f)]
    if f.programme_id is not None:
        parts.append(_eq(alias, "programme_id", f.programme_id))
    joins: list[sql.Composable] = []
    report = alias
    if report_column and any(getattr(f, a) is not None
                             for a in ("organisation_id", "project_id", "donor_id")):
        joins.append(sql.SQL("JOIN activity_report ar ON ar.id = {}.{}").format(
            sql.Identifier(alias), sql.Identifier(report_column)))
        report = "ar"
    if f.organisation_id is not None:
        parts.append(_eq(report, "organisation_id", f.organisation_id))
    if f.project_id is not None or f.donor_id is not None:
        joins.append(sql.SQL("JOIN task t ON t.id = {}.task_id").format(sql.Identifier(report)))
        if f.project_id is not None:
            parts.append(_eq("t", "project_id", f.project_id))
        if f.donor_id is not None:
            joins.append(sql.SQL("JOIN project p ON p.id = t.project_id"))
            parts.append(_eq("p", "donor_id", f.donor_id))
    if f.admin_area_id is not None:
        joins.append(sql.SQL("JOIN hazard_area h ON h.id = {}.hazard_area_id").format(
            sql.Identifier(alias)))
        parts.append(_eq("h", "admin_area_id", f.admin_area_id))
    return sql.SQL(" ").join(joins), _and(parts)


# counted per catalogue entry first, then named and grouped (a few hundred rows)
DEVICES = """
WITH per_type AS (
    SELECT d.ordnance_type_id, sum(d.quantity) AS found,
           coalesce(sum(d.quantity) FILTER (WHERE d.disposal_method IS NOT NULL), 0)
               AS destroyed
    FROM device_find d {joins}
    WHERE {where}
    GROUP BY d.ordnance_type_id
)
SELECT o.category, o.model, GROUPING(o.model) AS per_category,
       sum(n.found)::bigint AS found, sum(n.destroyed)::bigint AS destroyed
FROM per_type n JOIN ordnance_type o ON o.id = n.ordnance_type_id
GROUP BY GROUPING SETS ((o.category), (o.category, o.model))
ORDER BY o.category, per_category DESC, found DESC, o.model
"""


def devices(conn: psycopg.Connection, f: StatsFilter) -> dict[str, Any]:
    """Items found and destroyed (disposed of), by category and by model."""
    joins, where = _report_scope("d", f, "found_date", "activity_report_id")
    query = sql.SQL(DEVICES).format(joins=joins, where=where)
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
    SELECT a.organisation_id, sum(a.team_days) AS team_days
    FROM activity_report a {joins}
    WHERE {report_where}
    GROUP BY a.organisation_id
), rel AS (
    {worked}
)
SELECT organisation_id, o.name, coalesce(td.team_days, 0) AS team_days,
       coalesce(rel.worked_m2, 0) AS worked_m2,
       coalesce(rel.worked_m2, 0) / nullif(td.team_days, 0) AS m2_per_team_day
FROM td FULL JOIN rel USING (organisation_id)
LEFT JOIN organisation o ON o.id = organisation_id
ORDER BY o.name
"""

WORKED_ROLLUP = """
SELECT d.key_id AS organisation_id, sum(d.area_m2) AS worked_m2
FROM ledger_rollup d
WHERE d.dimension = 'organisation' AND {where}
GROUP BY d.key_id
"""

WORKED_DAILY = """
SELECT d.organisation_id, sum(d.area_m2) AS worked_m2
FROM ledger_daily d
WHERE {where}
GROUP BY d.organisation_id
"""


def productivity(conn: psycopg.Connection, f: StatsFilter) -> list[dict[str, Any]]:
    """Team-days and released m² per team-day, per organisation.

    Numerator and denominator cover the same work: every released m² (cancelled, reduced
    and cleared) over the team-days of every activity report in the filter. Narrow it with
    the product filter (e.g. product=cleared) to read clearance productivity alone, though
    the team-days then still include the organisation's survey days.
    """
    joins, report_where = _report_scope("a", f, "report_date", None)
    if f.rolled_up:
        worked = sql.SQL(WORKED_ROLLUP).format(where=_ledger_where(f, ()))
    else:
        worked = sql.SQL(WORKED_DAILY).format(where=_ledger_where(f, (*ATTRIBUTIONS,
                                                                      "method")))
    query = sql.SQL(PRODUCTIVITY).format(joins=joins, report_where=report_where, worked=worked)
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
