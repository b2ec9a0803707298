"""The completion forecast: how many team-days the remaining contamination needs, and in
which month it is finished at the current capacity.

The method, stated beside the figures (as the notes of the section), so that a
coordinator can defend it in an Article 5 extension request:

1. Productivity by method over the window: m² released per team-day (`measures.work`:
   a report's team-days shared among its methods by area).
2. The method mix of each classification over the window: the share of the m² released
   in SHA (and in CHA) areas by each method. Team-days per m² of a classification is
   then sum over methods of share / productivity. A classification with no release in
   the window takes the mix of all releases.
3. Team-days needed = remaining m² (open and worked-on areas, today) x team-days per m²
   of its classification; by classification and admin area.
4. Capacity = teams x team-days per team per month, each measured over the window
   (teams that released land; land-release team-days / window months / teams) unless
   given. Months needed = team-days needed / capacity. Work starts on the first day of
   the month after the as-of date; the completion month is the one in which the last
   team-day falls.
5. The range, from the spread of productivity across teams: a team's efficiency is the
   team-days its released land would take at the methods' productivity over the
   team-days it spent (1 = average; comparing teams by raw m²/team-day would only compare
   their methods). Months needed / 75th percentile of the efficiencies (fast teams) to
   months / 25th percentile (slow teams); percentiles by linear interpolation, as
   PostgreSQL's percentile_cont.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from survey.auth import Principal
from survey.errors import InvalidInput
from survey.reports import measures
from survey.reports.model import N_, Column, Figure, Report, ReportFilters, Section, Table
from survey.reports.scope import ReportScope, conjunction, hazard_rows, meta, resolve

DAYS_PER_MONTH = 365.25 / 12
DEFAULT_WINDOW_DAYS = 365
CLASSIFICATIONS = ("SHA", "CHA")


@dataclass(frozen=True)
class ForecastOptions:
    """Capacity given instead of measured (None: measured over the window)."""

    teams: int | None = None
    team_days_per_team_month: float | None = None


REMAINING = """
SELECT h.admin_area_id, aa.name AS admin_area, h.classification,
       count(*) AS areas, sum(h.remaining_area_m2)::float8 AS remaining_m2
FROM hazard_area h LEFT JOIN admin_area aa ON aa.id = h.admin_area_id
WHERE h.status IN ('open', 'worked_on') AND {where}
GROUP BY h.admin_area_id, aa.name, h.classification
ORDER BY aa.name NULLS LAST, h.classification
"""


def remaining(conn: psycopg.Connection, scope: ReportScope) -> list[dict[str, Any]]:
    """Remaining m² of open and worked-on areas in scope by admin area and classification."""
    query = sql.SQL(REMAINING).format(where=conjunction(hazard_rows(scope)))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, scope.params).fetchall()


def window(scope: ReportScope, today: date) -> ReportScope:
    """The measuring window: the report's period, by default the year to today."""
    end = scope.date_to or today
    start = scope.date_from or end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    return replace(scope, date_from=start, date_to=end)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def completion_month(as_of: date, months: float | None) -> date | None:
    """The month in which `months` of work starting next month ends."""
    if months is None or math.isinf(months):
        return None
    return add_months(as_of, max(1, math.ceil(months - 1e-9)))


@dataclass(frozen=True)
class Forecast:
    productivity: list[dict[str, Any]]  # per method
    mix: dict[str, dict[str, float]]  # classification -> method -> share of m²
    team_days_per_m2: dict[str, float | None]
    rows: list[dict[str, Any]]  # per admin area and classification
    by_classification: list[dict[str, Any]]
    team_days_needed: float | None
    remaining_m2: float
    teams: int | None
    team_days_per_team_month: float | None
    capacity: float | None  # team-days a month
    window_months: float
    window_team_days: float
    months: float | None
    completion: date | None
    team_efficiency: list[float]  # per team, sorted
    p25: float | None
    p75: float | None
    months_low: float | None
    months_high: float | None
    completion_low: date | None
    completion_high: date | None


def compute(conn: psycopg.Connection, scope: ReportScope, options: ForecastOptions,
            today: date) -> Forecast:
    """The forecast for a scope whose dates are the measuring window."""
    if scope.date_from is None or scope.date_to is None:
        raise InvalidInput("a forecast needs a measuring window")
    # one pass over the window's reports, summed again per grouping below
    detail = [r for r in measures.work(conn, scope, ("classification", "team_id", "method"))
              if r["method"] != "none"]
    by_method = sorted(measures.regroup(detail, ("method",)),
                       key=lambda r: measures.METHOD_ORDER.index(r["method"]))
    for row in by_method:
        row["m2_per_team_day"] = row["area_m2"] / row["team_days"] if row["team_days"] else None
    productivity = {r["method"]: r["m2_per_team_day"] for r in by_method
                    if r["m2_per_team_day"]}
    mix: dict[str, dict[str, float]] = {}
    overall: dict[str, float] = {}
    for row in measures.regroup(detail, ("classification", "method")):
        if row["method"] == "none" or not row["area_m2"]:
            continue
        mix.setdefault(row["classification"], {})[row["method"]] = row["area_m2"]
        overall[row["method"]] = overall.get(row["method"], 0.0) + row["area_m2"]

    def per_m2(areas: dict[str, float]) -> float | None:
        total = sum(areas.values())
        if not total or not all(m in productivity for m in areas):
            return None
        return sum(area / total / productivity[m] for m, area in areas.items())

    k = {c: per_m2(mix.get(c) or overall) for c in CLASSIFICATIONS}
    shares = {c: {m: a / sum(areas.values()) for m, a in areas.items()}
              for c, areas in ((c, mix.get(c) or overall) for c in CLASSIFICATIONS) if areas}

    rows = remaining(conn, scope)
    needed_total: float | None = 0.0
    classes: dict[str, dict[str, Any]] = {}
    for row in rows:
        factor = k.get(row["classification"])
        row["team_days"] = row["remaining_m2"] * factor if factor is not None else None
        if row["team_days"] is None:
            needed_total = None
        elif needed_total is not None:
            needed_total += row["team_days"]
        c = classes.setdefault(row["classification"], {
            "classification": row["classification"], "areas": 0, "remaining_m2": 0.0,
            "team_days_per_m2": factor, "team_days": 0.0 if factor is not None else None})
        c["areas"] += row["areas"]
        c["remaining_m2"] += row["remaining_m2"]
        if c["team_days"] is not None:
            c["team_days"] += row["team_days"]
    remaining_m2 = sum(row["remaining_m2"] for row in rows)
    if not rows:
        needed_total = 0.0

    window_days = (scope.date_to - scope.date_from).days + 1
    window_months = window_days / DAYS_PER_MONTH
    teams_rows = measures.regroup(detail, ("team_id", "method"))
    # per team: team-days spent, and team-days its work would take at the methods' pooled
    # productivity; their ratio is the team's efficiency (1 = as fast as the average)
    per_team: dict[Any, list[float]] = {}
    for r in teams_rows:
        if r["team_id"] is not None and r["method"] in productivity:
            acc = per_team.setdefault(r["team_id"], [0.0, 0.0])
            acc[0] += r["area_m2"] / productivity[r["method"]]
            acc[1] += r["team_days"]
    window_team_days = sum(r["team_days"] for r in by_method)
    measured_teams = len(per_team) or None
    teams = options.teams if options.teams is not None else measured_teams
    if options.team_days_per_team_month is not None:
        per_team_month: float | None = options.team_days_per_team_month
    elif window_team_days and measured_teams:
        per_team_month = window_team_days / window_months / measured_teams
    else:
        per_team_month = None
    if teams is not None and per_team_month is not None:
        capacity: float | None = teams * per_team_month
    else:  # teams not recorded on the reports: the window's rate as a whole
        capacity = window_team_days / window_months if window_team_days else None
    months = (needed_total / capacity if needed_total is not None and capacity
              else None)
    efficiency = sorted(expected / spent for expected, spent in per_team.values() if spent > 0)
    p25 = p75 = months_low = months_high = None
    if len(efficiency) >= 2:
        quartiles = statistics.quantiles(efficiency, n=4, method="inclusive")
        p25, p75 = quartiles[0], quartiles[2]
        if months is not None and p25 > 0 and p75 > 0:
            months_low = months / p75
            months_high = months / p25
    return Forecast(
        productivity=by_method, mix=shares, team_days_per_m2=k, rows=rows,
        by_classification=[classes[c] for c in CLASSIFICATIONS if c in classes],
        team_days_needed=needed_total, remaining_m2=remaining_m2, teams=teams,
        team_days_per_team_month=per_team_month, capacity=capacity,
        window_months=window_months, window_team_days=window_team_days, months=months,
        completion=completion_month(today, months), team_efficiency=efficiency,
        p25=p25, p75=p75, months_low=months_low, months_high=months_high,
        completion_low=completion_month(today, months_low),
        completion_high=completion_month(today, months_high))


ASSUMPTIONS = [
    N_("Productivity is measured over the window from {window_from} to {window_to} "
       "({window_months} months, {window_team_days} team-days of land release): m² released "
       "per team-day by method, a report's team-days shared among its methods by area."),
    N_("Each classification is assumed to be released with the method mix measured on it "
       "in the window; a classification with no release in the window takes the mix of "
       "all releases."),
    N_("The remaining area is today's, of open and worked-on hazard areas; areas not yet "
       "recorded are not in it."),
    N_("Capacity: {teams} teams at {team_days_per_team_month} team-days a month each "
       "({capacity} team-days a month), as measured over the window."),
    N_("Work starts on the first day of next month and goes on at the same capacity and "
       "productivity until the remaining area is released."),
    N_("The range comes from the spread of productivity across teams: a team's efficiency "
       "is the team-days its land would take at the methods' measured productivity over the "
       "team-days it spent. Months needed are divided by the 75th percentile of the teams' "
       "efficiency ({p75}) for the early date and by the 25th percentile ({p25}) for the "
       "late date."),
]


def forecast_section(conn: psycopg.Connection, scope: ReportScope, options: ForecastOptions,
                     today: date) -> tuple[Section, Forecast]:
    """The forecast as a report section (also part of the national report)."""
    f = compute(conn, scope, options, today)
    href = scope.href("/api/v1/activity-reports")
    source = scope.source("survey.reports.forecast.compute", href=href,
                          teams=options.teams,
                          team_days_per_team_month=options.team_days_per_team_month)
    remaining_source = scope.source("survey.reports.forecast.remaining",
                                    href=scope.href("/api/v1/hazard-areas"))
    for row in f.rows:
        row["admin_area"] = row["admin_area"] or "—"
        if row["admin_area_id"] is not None:
            row["_href"] = f"/api/v1/admin-areas/{row['admin_area_id']}"
        row.pop("admin_area_id")
        row["remaining_km2"] = row["remaining_m2"] / 1e6
    mix_rows = [{"classification": c, "method": m, "share": share * 100}
                for c, methods in f.mix.items() for m, share in sorted(methods.items())]
    notes = list(ASSUMPTIONS)
    if options.teams is not None or options.team_days_per_team_month is not None:
        notes[3] = N_("Capacity: {teams} teams at {team_days_per_team_month} team-days a "
                      "month each ({capacity} team-days a month), as given.")
    if f.p25 is None:
        notes[-1] = N_("Fewer than two teams released land in the window: no range is "
                       "given.")
    if f.months is None:
        notes.append(N_("No completion month can be given: the window measured no "
                        "productivity or no capacity for some of the remaining area."))
    params = {
        "window_from": scope.date_from, "window_to": scope.date_to,
        "window_months": round(f.window_months, 2),
        "window_team_days": round(f.window_team_days, 2),
        "teams": f.teams, "team_days_per_team_month":
            None if f.team_days_per_team_month is None else round(f.team_days_per_team_month, 2),
        "capacity": None if f.capacity is None else round(f.capacity, 2),
        "p25": None if f.p25 is None else round(f.p25, 2),
        "p75": None if f.p75 is None else round(f.p75, 2)}
    section = Section(
        key="forecast", title=N_("Completion forecast"),
        figures=[
            Figure("remaining_m2", N_("Remaining contamination"), f.remaining_m2, "m²",
                   remaining_source),
            Figure("team_days_needed", N_("Team-days needed"), f.team_days_needed,
                   "team-days", source),
            Figure("capacity", N_("Capacity"), f.capacity, "team-days/month", source),
            Figure("months_needed", N_("Months needed"), f.months, "months", source),
            Figure("completion_month", N_("Completion month"), _month(f.completion), "month",
                   source),
            Figure("months_low", N_("Months needed (fast teams)"), f.months_low, "months",
                   source),
            Figure("completion_low", N_("Earliest completion month"),
                   _month(f.completion_low), "month", source),
            Figure("months_high", N_("Months needed (slow teams)"), f.months_high, "months",
                   source),
            Figure("completion_high", N_("Latest completion month"),
                   _month(f.completion_high), "month", source)],
        tables=[
            Table("forecast_productivity", N_("Measured productivity by method"),
                  [Column("method", N_("Method"), translate_values=True),
                   Column("team_days", N_("Team-days"), "team-days", "float"),
                   Column("area_m2", N_("Released"), "m²", "area"),
                   Column("m2_per_team_day", N_("Productivity"), "m²/team-day", "float")],
                  f.productivity, source),
            Table("forecast_mix", N_("Method mix by classification"),
                  [Column("classification", N_("Classification"), translate_values=True),
                   Column("method", N_("Method"), translate_values=True),
                   Column("share", N_("Share of area"), "%", "float")], mix_rows, source),
            Table("forecast_by_classification", N_("Team-days needed by classification"),
                  [Column("classification", N_("Classification"), translate_values=True),
                   Column("areas", N_("Hazard areas"), None, "int"),
                   Column("remaining_m2", N_("Remaining"), "m²", "area"),
                   Column("team_days_per_m2", N_("Team-days per m²"), "team-days/m²",
                          "float"),
                   Column("team_days", N_("Team-days needed"), "team-days", "float")],
                  f.by_classification, source),
            Table("forecast_by_admin_area",
                  N_("Team-days needed by admin area and classification"),
                  [Column("admin_area", N_("Admin area")),
                   Column("classification", N_("Classification"), translate_values=True),
                   Column("areas", N_("Hazard areas"), None, "int"),
                   Column("remaining_m2", N_("Remaining"), "m²", "area"),
                   Column("remaining_km2", N_("Remaining"), "km²", "float"),
                   Column("team_days", N_("Team-days needed"), "team-days", "float")],
                  f.rows, source)],
        notes=notes, params=params)
    return section, f


def _month(day: date | None) -> date | None:
    """A month as its first day (figures with unit "month" print the month)."""
    return day


def forecast_report(conn: psycopg.Connection, *, principal: Principal,
                    filters: ReportFilters, options: ForecastOptions | None = None) -> Report:
    """The completion forecast; the filters' period is the measuring window (default: the
    365 days to today)."""
    scope = resolve(conn, principal=principal, filters=filters)
    info = meta(conn, scope)
    today = info.as_of.date()
    scope = window(scope, today)
    info = replace(info, filters=replace(info.filters, date_from=scope.date_from,
                                         date_to=scope.date_to))
    section, f = forecast_section(conn, scope, options or ForecastOptions(), today)
    return Report(kind="forecast", title=N_("Completion forecast"), programme=info.programme,
                  filters=info.filters, as_of=info.as_of, version=info.version,
                  sections=[section], empty=f.window_team_days == 0 and f.remaining_m2 == 0)
