"""What a caller may see: row scopes as SQL conditions, one function per kind of record.

Every query that serves a caller goes through one of these (rule 6 of the house), so
that a role's reach is decided in one place.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from psycopg import sql

from survey.auth import Principal
from survey.domain.vocab import Role
from survey.errors import Forbidden
from survey.ledger.stats import StatsFilter

_DONOR_HAZARDS = sql.SQL(
    "EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
    "JOIN project pr ON pr.id = t.project_id "
    "WHERE th.hazard_area_id = {alias}.id AND pr.donor_id = {donor} "
    "AND t.deleted_at IS NULL)")

# a release is a donor's work when its report belongs to a task of a project it funds
_DONOR_RELEASES = sql.SQL(
    "EXISTS (SELECT 1 FROM activity_report ar JOIN task t ON t.id = ar.task_id "
    "JOIN project pr ON pr.id = t.project_id "
    "WHERE ar.id = {alias}.activity_report_id AND pr.donor_id = {donor})")


class Scope(sql.Composed):
    """A condition on hazard_area rows that also says whose work inside those areas the
    caller may see: with `donor_id` set, only the releases of that donor's projects, and
    nothing that names people.

    It composes like any SQL condition, so the functions that only need the rows take it
    as one; those that show releases or people ask `release_condition` and `names_people`.
    """

    def __init__(self, condition: sql.Composable, *, donor_id: UUID | None = None) -> None:
        super().__init__([condition])
        self.donor_id = donor_id


def hazard_scope(principal: Principal, alias: str = "h") -> Scope:
    """Condition on hazard_area rows (table alias `alias`) that the principal may read.

    Admins see every programme; coordinators and operators their programme (operators
    plan against the national picture, but write only for their organisation); donors
    the areas worked under projects they fund; the public sees no hazard areas.
    """
    table = sql.Identifier(alias)
    if principal.role == Role.ADMIN:
        return Scope(sql.SQL("TRUE"))
    if principal.role == Role.PUBLIC or principal.programme_id is None:
        raise Forbidden("this account may not read hazard areas")
    in_programme = sql.SQL("{}.programme_id = {}").format(table,
                                                          sql.Literal(principal.programme_id))
    if principal.role == Role.DONOR:
        if principal.donor_id is None:  # the database refuses such a donor account
            raise Forbidden("this donor account names no donor")
        return Scope(sql.SQL("{} AND {}").format(in_programme, _DONOR_HAZARDS.format(
            alias=table, donor=sql.Literal(principal.donor_id))), donor_id=principal.donor_id)
    return Scope(in_programme)


def release_condition(scope: sql.Composable, alias: str = "r") -> sql.Composable | None:
    """Condition on release rows (alias `alias`) inside the areas of `scope` that the
    holder of the scope may see one by one; None when it sees them all. A donor sees the
    releases of its own projects (the areas' totals stay whole)."""
    donor_id = scope.donor_id if isinstance(scope, Scope) else None
    if donor_id is None:
        return None
    return _DONOR_RELEASES.format(alias=sql.Identifier(alias), donor=sql.Literal(donor_id))


def names_people(scope: sql.Composable) -> bool:
    """Whether the holder of `scope` may see who did what (usernames, record snapshots)."""
    return not (isinstance(scope, Scope) and scope.donor_id is not None)


def release_scope(principal: Principal, alias: str = "h",
                  release_alias: str = "r") -> sql.Composable:
    """Condition on releases (alias `release_alias`) joined to their hazard areas (alias
    `alias`) that the principal may see: the releases that hazard_scope and
    release_condition allow, and for the public the released land of its programme
    (DESIGN.md section 5: the public viewer sees released land only)."""
    if principal.role == Role.PUBLIC and principal.programme_id is not None:
        return sql.SQL("{}.programme_id = {}").format(sql.Identifier(alias),
                                                     sql.Literal(principal.programme_id))
    scope = hazard_scope(principal, alias)
    releases = release_condition(scope, release_alias)
    return scope if releases is None else sql.SQL("{} AND {}").format(scope, releases)


def stats_filter(principal: Principal, requested: StatsFilter) -> tuple[StatsFilter, bool]:
    """The caller's filter narrowed to what they may see, and whether only released land.

    Coordinators, operators and the public read their programme (the public only its
    released land); donors only the projects they fund, whatever they asked for.
    """
    if principal.role == Role.ADMIN:
        return requested, False
    if principal.programme_id is None:
        raise Forbidden("this account belongs to no programme")
    narrowed = replace(requested, programme_id=principal.programme_id)
    if principal.role == Role.DONOR:
        if requested.donor_id not in (None, principal.donor_id):
            raise Forbidden("a donor account sees the figures of its own projects only")
        narrowed = replace(narrowed, donor_id=principal.donor_id)
    return narrowed, principal.role == Role.PUBLIC


def check_write(principal: Principal, *, programme_id: UUID,
                organisation_id: UUID | None = None) -> None:
    """Refuse a write the principal may not make.

    Admins write anywhere; coordinators (the national authority) within their programme;
    operators within their programme and only for their own organisation.
    """
    if principal.role == Role.ADMIN:
        return
    if principal.role not in (Role.COORDINATOR, Role.OPERATOR):
        raise Forbidden(f"a {principal.role} account cannot change records")
    if principal.programme_id != programme_id:
        raise Forbidden("this record belongs to another programme")
    if principal.role == Role.OPERATOR and organisation_id != principal.organisation_id:
        raise Forbidden("operators record work for their own organisation only")


def check_coordinator(principal: Principal, *, programme_id: UUID) -> None:
    """Refuse what only the national authority (coordinator) or an admin may do."""
    if principal.role == Role.ADMIN:
        return
    if principal.role != Role.COORDINATOR or principal.programme_id != programme_id:
        raise Forbidden("only the national authority's coordinators may do this")
