"""Team-days against released land: the measure behind productivity and the forecast.

Team-days are recorded per activity report, released land per release; a report's
releases may use several methods. A report's team-days are therefore shared among its
methods in proportion to the area each released (a single-method report keeps them
all); reports that released nothing keep theirs under the method 'none'.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from survey.reports.scope import ReportScope, conjunction, dates, report_rows

# allow-list of the groupings a caller may ask for
GROUPS = {
    "method": sql.SQL("w.method"),
    "team_id": sql.SQL("w.team_id"),
    "classification": sql.SQL("w.classification"),
}

# One pass over the period's reports; each report's releases are summed by method through
# the covering index release_report_cover_idx (no polygon is read), and the area's
# classification through hazard_area_class_idx.
WORK = """
WITH w AS (
    SELECT a.id, a.team_id, coalesce(l.method, 'none') AS method, l.area_m2,
           a.team_days * coalesce(l.area_m2 / nullif(sum(l.area_m2) OVER (PARTITION BY a.id),
                                                     0), 1) AS team_days,
           {classification} AS classification
    FROM activity_report a {joins} {classify}
    LEFT JOIN LATERAL (
        SELECT r.method, sum(r.area_m2) AS area_m2
        FROM release r WHERE r.activity_report_id = a.id
        GROUP BY r.method
    ) l ON true
    WHERE {where}
)
SELECT {columns},
       coalesce(sum(w.team_days), 0)::float8 AS team_days,
       coalesce(sum(w.area_m2), 0)::float8 AS area_m2,
       count(*) AS reports  -- reports with work by the method: one row a report and method
FROM w
GROUP BY {groups}
"""

CLASSIFY = sql.SQL("JOIN hazard_area wh ON wh.id = a.hazard_area_id")


def work(conn: psycopg.Connection, scope: ReportScope,
         group: tuple[str, ...] = ("method",)) -> list[dict[str, Any]]:
    """Team-days, released m² and reports of the activity reports dated in the period,
    grouped by `group` (keys of GROUPS)."""
    joins, parts = report_rows(scope, "a")
    columns = sql.SQL(", ").join(sql.SQL("{} AS {}").format(GROUPS[g], sql.Identifier(g))
                                 for g in group)
    groups = sql.SQL(", ").join(GROUPS[g] for g in group)
    query = sql.SQL(WORK).format(
        joins=joins, columns=columns, groups=groups,
        classification=sql.SQL("wh.classification" if "classification" in group else "NULL"),
        classify=CLASSIFY if "classification" in group else sql.SQL(""),
        where=conjunction(parts + dates(scope, "a", "report_date")))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, scope.params).fetchall()


def regroup(rows: list[dict[str, Any]], group: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of `work` summed again over fewer of its keys."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[g] for g in group)
        entry = out.setdefault(key, {g: row[g] for g in group} | {"team_days": 0.0,
                                                                   "area_m2": 0.0})
        entry["team_days"] += row["team_days"]
        entry["area_m2"] += row["area_m2"]
    return list(out.values())


METHOD_ORDER = ("NTS", "MANUAL", "MDD", "MECHANICAL", "COMBINED", "none")


def team_days_by_method(conn: psycopg.Connection, scope: ReportScope) -> list[dict[str, Any]]:
    """Team-days, released m² and m² per team-day by method, in a fixed method order."""
    rows = work(conn, scope, ("method",))
    for row in rows:
        row["m2_per_team_day"] = (row["area_m2"] / row["team_days"]
                                  if row["team_days"] and row["method"] != "none" else None)
    return sorted(rows, key=lambda r: METHOD_ORDER.index(r["method"]))
