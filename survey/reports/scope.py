"""What a report may cover, and the SQL conditions that keep every figure inside it.

A report is asked for with `ReportFilters`; `resolve` narrows them to what the caller may
see (through `access.stats_filter`, like /api/v1/stats) and refuses a donor that names
another donor's project or area. The conditions below are built from `psycopg.sql`
placeholders only; the values travel in `ReportScope.params`.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import psycopg
from psycopg import sql

from survey import access
from survey.auth import Principal
from survey.domain.vocab import Role
from survey.errors import Forbidden, InvalidInput, NotFound
from survey.ledger.stats import StatsFilter
from survey.reports.model import ROW_ID_LIMIT, ReportFilters, Source

FILTER_KEYS = ("organisation_id", "project_id", "donor_id", "admin_area_id", "hazard_area_id")

# listings whose records have no date the report's period could bound: a hazard area is
# listed as it is today (the reports say their boundaries are today's), so a link to
# them carries the report's other filters but not its period
UNDATED = frozenset({"/api/v1/hazard-areas"})


@dataclass(frozen=True)
class ReportScope:
    """The filters a report runs with, after the caller's reach was applied."""

    programme_id: UUID | None
    date_from: date | None
    date_to: date | None
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None
    admin_area_id: UUID | None = None
    hazard_area_id: UUID | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The values of every placeholder the conditions below use."""
        return {"programme_id": self.programme_id, "date_from": self.date_from,
                "date_to": self.date_to, "organisation_id": self.organisation_id,
                "project_id": self.project_id, "donor_id": self.donor_id,
                "admin_area_id": self.admin_area_id, "hazard_area_id": self.hazard_area_id}

    @property
    def attributed(self) -> bool:
        """True when a filter names whose work counts (not only when and where)."""
        return any(getattr(self, key) is not None for key in FILTER_KEYS)

    def as_filters(self) -> dict[str, str]:
        """The filters as printed in a `Source` (only those set; ids and dates as text)."""
        out = {"programme_id": self.programme_id, "date_from": self.date_from,
               "date_to": self.date_to} | {key: getattr(self, key) for key in FILTER_KEYS}
        return {key: str(value) for key, value in out.items() if value is not None}

    def href(self, path: str, **extra: Any) -> str:
        """An API listing of the records behind a figure, with the report's filters."""
        query = self.as_filters()
        query.pop("programme_id", None)
        if path in UNDATED:  # those listings show the records as they are now
            query.pop("date_from", None)
            query.pop("date_to", None)
        query |= {key: str(value) for key, value in extra.items() if value is not None}
        return f"{path}?{urlencode(query)}" if query else path

    def source(self, query: str, *, row_ids: list[UUID] | None = None,
               href: str | None = None, **extra: Any) -> Source:
        """A `Source` naming the query and the filters it ran with; `row_ids` are kept only
        when there are at most ROW_ID_LIMIT of them."""
        filters: dict[str, Any] = self.as_filters() | {key: str(value) for key, value
                                                       in extra.items() if value is not None}
        if row_ids is not None and len(row_ids) > ROW_ID_LIMIT:
            row_ids = None
        return Source(query=query, filters=filters, row_ids=row_ids, href=href)


PROJECT = "SELECT programme_id, donor_id FROM project WHERE id = %(id)s"
HAZARD = """
SELECT h.programme_id,
       EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id
               JOIN project p ON p.id = t.project_id
               WHERE th.hazard_area_id = h.id AND t.deleted_at IS NULL
                 AND p.donor_id = %(donor_id)s) AS funded
FROM hazard_area h WHERE h.id = %(id)s
"""
PROGRAMME_OF = {
    "organisation_id": "SELECT programme_id FROM organisation WHERE id = %(id)s",
    "donor_id": "SELECT programme_id FROM donor WHERE id = %(id)s",
    "admin_area_id": "SELECT programme_id FROM admin_area WHERE id = %(id)s",
}


def _programme_of(conn: psycopg.Connection, key: str, record_id: UUID,
                  programme_id: UUID | None) -> tuple[Any, ...]:
    query = {"project_id": PROJECT, "hazard_area_id": HAZARD}.get(key, PROGRAMME_OF.get(key))
    assert query is not None
    row = conn.execute(query, {"id": record_id, "donor_id": None}).fetchone()
    if row is None or (programme_id is not None and row[0] != programme_id):
        # another programme's records are not named to the caller: as if absent
        raise NotFound(f"no {key.removesuffix('_id').replace('_', ' ')} {record_id}")
    return tuple(row)


def resolve(conn: psycopg.Connection, *, principal: Principal,
            filters: ReportFilters) -> ReportScope:
    """The scope of a report the principal asked for.

    Raises Forbidden for the public (reports show hazard areas) and for a donor that
    names another donor, or a project or hazard area its own projects do not fund;
    NotFound for a record of another programme (or none).
    """
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise InvalidInput("date_to is before date_from")
    requested = StatsFilter(date_from=filters.date_from, date_to=filters.date_to,
                            organisation_id=filters.organisation_id,
                            project_id=filters.project_id, donor_id=filters.donor_id,
                            admin_area_id=filters.admin_area_id)
    narrowed, released_only = access.stats_filter(principal, requested)
    if released_only:
        raise Forbidden("reports show hazard areas, which this account may not read")
    donor = principal.donor_id if principal.role == Role.DONOR else None
    for key in FILTER_KEYS:
        value = getattr(filters, key)
        if value is None:
            continue
        row = _programme_of(conn, key, value, narrowed.programme_id)
        if donor is None:
            continue
        if key == "project_id" and row[1] != donor:
            raise Forbidden("a donor account sees the reports of its own projects only")
        if key == "hazard_area_id":
            funded = conn.execute(HAZARD, {"id": value, "donor_id": donor}).fetchone()
            if not funded or not funded[1]:
                raise Forbidden("a donor account sees the reports of the areas its "
                                "projects work only")
    return ReportScope(programme_id=narrowed.programme_id, date_from=narrowed.date_from,
                       date_to=narrowed.date_to, organisation_id=narrowed.organisation_id,
                       project_id=narrowed.project_id, donor_id=narrowed.donor_id,
                       admin_area_id=narrowed.admin_area_id,
                       hazard_area_id=filters.hazard_area_id)


NAMES = """
SELECT 'programme_id', name FROM programme WHERE id = %(programme_id)s
UNION ALL SELECT 'organisation_id', name FROM organisation WHERE id = %(organisation_id)s
UNION ALL SELECT 'project_id', code || ' ' || name FROM project WHERE id = %(project_id)s
UNION ALL SELECT 'donor_id', name FROM donor WHERE id = %(donor_id)s
UNION ALL SELECT 'admin_area_id', name FROM admin_area WHERE id = %(admin_area_id)s
UNION ALL SELECT 'hazard_area_id', local_id FROM hazard_area WHERE id = %(hazard_area_id)s
UNION ALL SELECT 'as_of', now()::text
"""


@dataclass(frozen=True)
class Meta:
    """What every report prints besides its figures."""

    programme: str
    filters: ReportFilters
    as_of: datetime
    version: str


def meta(conn: psycopg.Connection, scope: ReportScope) -> Meta:
    """Names of the filtered records, the data's as-of time (the transaction's now()) and
    the product version."""
    names: dict[str, str] = dict(conn.execute(NAMES, scope.params).fetchall())
    as_of = conn.execute("SELECT now()").fetchone()
    assert as_of is not None
    programme = names.pop("programme_id", None) or "all programmes"
    names.pop("as_of", None)
    filters = ReportFilters(date_from=scope.date_from, date_to=scope.date_to,
                            donor_id=scope.donor_id, project_id=scope.project_id,
                            organisation_id=scope.organisation_id,
                            admin_area_id=scope.admin_area_id,
                            hazard_area_id=scope.hazard_area_id, names=names)
    return Meta(programme=programme, filters=filters, as_of=as_of[0], version=version())


def version() -> str:
    """The installed product's version."""
    try:
        return importlib.metadata.version("demine")
    except importlib.metadata.PackageNotFoundError:  # a source tree not installed
        return "unknown"


# --- conditions ----------------------------------------------------------------------

def _col(alias: str, column: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column))


def _eq(alias: str, column: str, key: str) -> sql.Composable:
    return sql.SQL("{} = {}").format(_col(alias, column), sql.Placeholder(key))


def live(alias: str) -> sql.Composable:
    """`alias` is not soft-deleted (the partial indexes on live rows match this)."""
    return sql.SQL("{}.deleted_at IS NULL").format(sql.Identifier(alias))


def conjunction(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


def dates(scope: ReportScope, alias: str, column: str, *, start: bool = True,
          end: bool = True) -> list[sql.Composable]:
    """`alias.column` within the period (`start`/`end` False: that bound left out)."""
    parts: list[sql.Composable] = []
    if start and scope.date_from is not None:
        parts.append(sql.SQL("{} >= %(date_from)s").format(_col(alias, column)))
    if end and scope.date_to is not None:
        parts.append(sql.SQL("{} <= %(date_to)s").format(_col(alias, column)))
    return parts


def in_period(scope: ReportScope, alias: str, column: str) -> sql.Composable:
    return conjunction(dates(scope, alias, column))


def release_rows(scope: ReportScope, alias: str = "r") -> list[sql.Composable]:
    """Conditions on release rows (or ledger_daily rows: they carry the same attribution
    columns) for every filter but the dates."""
    parts: list[sql.Composable] = []
    if scope.programme_id is not None:
        parts.append(_eq(alias, "programme_id", "programme_id"))
    for key in ("organisation_id", "project_id", "donor_id", "admin_area_id"):
        if getattr(scope, key) is not None:
            parts.append(_eq(alias, key, key))
    if scope.hazard_area_id is not None:
        parts.append(_eq(alias, "hazard_area_id", "hazard_area_id"))
    return parts


def ledger_source(scope: ReportScope) -> sql.Composable:
    """Where released totals are read, aliased `d` with columns day, product, method,
    area_m2, releases: the rollup when only dates filter, the daily summary when an
    attribution does, the releases themselves for one hazard area (the summaries do
    not keep the area)."""
    if scope.hazard_area_id is not None:
        return sql.SQL(
            "(SELECT r.release_date AS day, r.product, r.method, r.area_m2, 1 AS releases "
            "FROM release r WHERE {}) d").format(conjunction(release_rows(scope, "r")))
    if scope.attributed:
        return sql.SQL(
            "(SELECT x.day, x.product, x.method, x.area_m2, x.releases "
            "FROM ledger_daily x WHERE {}) d").format(conjunction(release_rows(scope, "x")))
    where: list[sql.Composable] = [sql.SQL("x.dimension = 'all'")]
    if scope.programme_id is not None:
        where.append(_eq("x", "programme_id", "programme_id"))
    return sql.SQL(
        "(SELECT x.day, x.product, x.method, x.area_m2, x.releases "
        "FROM ledger_rollup x WHERE {}) d").format(conjunction(where))


def hazard_rows(scope: ReportScope, alias: str = "h") -> list[sql.Composable]:
    """Conditions on hazard_area rows in scope: the filtered programme, reporting
    organisation, admin area and area; with a project or donor, the areas its tasks
    work (as /api/v1/stats counts remaining contamination)."""
    parts: list[sql.Composable] = []
    if scope.programme_id is not None:
        parts.append(_eq(alias, "programme_id", "programme_id"))
    if scope.organisation_id is not None:
        parts.append(_eq(alias, "reporting_organisation_id", "organisation_id"))
    if scope.admin_area_id is not None:
        parts.append(_eq(alias, "admin_area_id", "admin_area_id"))
    if scope.hazard_area_id is not None:
        parts.append(_eq(alias, "id", "hazard_area_id"))
    if scope.project_id is not None or scope.donor_id is not None:
        funded = []
        if scope.project_id is not None:
            funded.append(_eq("t", "project_id", "project_id"))
        if scope.donor_id is not None:
            funded.append(_eq("p", "donor_id", "donor_id"))
        parts.append(sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
            "JOIN project p ON p.id = t.project_id "
            "WHERE th.hazard_area_id = {}.id AND t.deleted_at IS NULL AND {})").format(
                sql.Identifier(alias), conjunction(funded)))
    return parts


def report_rows(scope: ReportScope, alias: str = "a") -> tuple[sql.Composable,
                                                                list[sql.Composable]]:
    """Joins and conditions on activity_report rows (alias `alias`) in scope, except the
    dates: organisation from the report, project and donor from its task, admin area and
    area from its hazard area. Only the joins a filter needs are made. Soft-deleted
    reports are left out (a live report's task is live: a task is deleted only after
    its reports)."""
    joins: list[sql.Composable] = []
    parts: list[sql.Composable] = [live(alias)]
    if scope.programme_id is not None:
        parts.append(_eq(alias, "programme_id", "programme_id"))
    if scope.organisation_id is not None:
        parts.append(_eq(alias, "organisation_id", "organisation_id"))
    if scope.hazard_area_id is not None:
        parts.append(_eq(alias, "hazard_area_id", "hazard_area_id"))
    if scope.project_id is not None or scope.donor_id is not None:
        joins.append(sql.SQL("JOIN task rt ON rt.id = {}.task_id").format(
            sql.Identifier(alias)))
        if scope.project_id is not None:
            parts.append(_eq("rt", "project_id", "project_id"))
        if scope.donor_id is not None:
            joins.append(sql.SQL("JOIN project rp ON rp.id = rt.project_id"))
            parts.append(_eq("rp", "donor_id", "donor_id"))
    if scope.admin_area_id is not None:
        joins.append(sql.SQL("JOIN hazard_area rh ON rh.id = {}.hazard_area_id").format(
            sql.Identifier(alias)))
        parts.append(_eq("rh", "admin_area_id", "admin_area_id"))
    return sql.SQL(" ").join(joins), parts


def task_rows(scope: ReportScope, alias: str = "t") -> list[sql.Composable]:
    """Conditions on live task rows in scope (admin area and area through the areas
    tasked)."""
    parts: list[sql.Composable] = [live(alias)]
    if scope.programme_id is not None:
        parts.append(_eq(alias, "programme_id", "programme_id"))
    if scope.organisation_id is not None:
        parts.append(_eq(alias, "organisation_id", "organisation_id"))
    if scope.project_id is not None:
        parts.append(_eq(alias, "project_id", "project_id"))
    if scope.donor_id is not None:
        parts.append(sql.SQL("EXISTS (SELECT 1 FROM project tp WHERE tp.id = {}.project_id "
                             "AND tp.donor_id = %(donor_id)s)").format(sql.Identifier(alias)))
    where = []
    if scope.admin_area_id is not None:
        where.append(_eq("th_h", "admin_area_id", "admin_area_id"))
    if scope.hazard_area_id is not None:
        where.append(_eq("th", "hazard_area_id", "hazard_area_id"))
    if where:
        parts.append(sql.SQL(
            "EXISTS (SELECT 1 FROM task_hazard_area th "
            "JOIN hazard_area th_h ON th_h.id = th.hazard_area_id "
            "WHERE th.task_id = {}.id AND {})").format(sql.Identifier(alias),
                                                      conjunction(where)))
    return parts


def release_ids(conn: psycopg.Connection, scope: ReportScope) -> list[tuple[Any, ...]] | None:
    """(id, product, method) of the releases of the period in scope, when there are at
    most ROW_ID_LIMIT of them (else None): the rows a small report's figures trace to."""
    query = sql.SQL("SELECT r.id, r.product, r.method FROM release r WHERE {} "
                    "ORDER BY r.release_date, r.id LIMIT {}").format(
        conjunction(release_rows(scope) + dates(scope, "r", "release_date")),
        sql.Literal(ROW_ID_LIMIT + 1))
    rows = conn.execute(query, scope.params).fetchall()
    return None if len(rows) > ROW_ID_LIMIT else [tuple(row) for row in rows]


def day_before(day: date) -> date:
    return day - timedelta(days=1)


def with_dates(scope: ReportScope, date_from: date | None, date_to: date | None) -> ReportScope:
    return replace(scope, date_from=date_from, date_to=date_to)
