"""What a caller may see: a typed `Scope` made from the caller, and the SQL conditions it
gives each kind of record.

Every query that serves a caller goes through a `Scope` (rule 6 of the house), so that a
role's reach is decided in one place. Callers outside `survey` hand a `Scope` (or the
`Principal` it is made from) to `survey`; the SQL it stands for is written only here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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

_DONOR_TASKS = sql.SQL(
    "EXISTS (SELECT 1 FROM project pr WHERE pr.id = {alias}.project_id "
    "AND pr.donor_id = {donor})")


@dataclass(frozen=True)
class Scope:
    """What one caller may read, as data: the programme (None: every programme, an
    admin's reach), the organisation it writes for (operators; None: any), the donor
    whose projects' work alone it sees (donors), and whether it sees released land only
    (the public viewer). Made from a caller by `Scope.of`; `survey` asks it for the SQL
    condition of each kind of record it reads.
    """

    programme_id: UUID | None
    organisation_id: UUID | None
    donor_id: UUID | None
    released_only: bool

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        """The caller's reach (DESIGN.md section 5): admins every programme; coordinators
        and operators their programme (operators plan against the national picture, but
        write only for their organisation); donors the work of the projects they fund;
        the public the released land of its programme. Forbidden for an account that
        belongs to no programme, or a donor account that names no donor."""
        if principal.role == Role.ADMIN:
            return cls.everything()
        if principal.programme_id is None:
            raise Forbidden("this account belongs to no programme")
        if principal.role == Role.DONOR and principal.donor_id is None:
            raise Forbidden("this donor account names no donor")  # the database refuses it
        return cls(programme_id=principal.programme_id,
                   organisation_id=(principal.organisation_id
                                    if principal.role == Role.OPERATOR else None),
                   donor_id=principal.donor_id if principal.role == Role.DONOR else None,
                   released_only=principal.role == Role.PUBLIC)

    @classmethod
    def everything(cls) -> Scope:
        """Every record of every programme: an admin's reach, and the command line's."""
        return cls(programme_id=None, organisation_id=None, donor_id=None,
                   released_only=False)

    @property
    def names_people(self) -> bool:
        """Whether the holder may see who did what (usernames, record snapshots)."""
        return self.donor_id is None and not self.released_only

    def in_programme(self, alias: str) -> sql.Composable:
        """Condition on rows (alias `alias`, with a programme_id) of the holder's
        programme; TRUE for every programme."""
        if self.programme_id is None:
            return sql.SQL("TRUE")
        return sql.SQL("{}.programme_id = {}").format(sql.Identifier(alias),
                                                      sql.Literal(self.programme_id))

    def rows(self, alias: str, donor_condition: sql.SQL, what: str) -> sql.Composable:
        """Condition on rows (alias `alias`, with a programme_id) that only those who see
        hazard areas may read: the holder's programme's; for a donor, those that
        `donor_condition` (formatted with {alias} and {donor}) allows; Forbidden for the
        public viewer (`what` names the rows in the refusal)."""
        if self.released_only:
            raise Forbidden(f"this account may not read {what}")
        if self.donor_id is None:
            return self.in_programme(alias)
        return sql.SQL("{} AND {}").format(self.in_programme(alias), donor_condition.format(
            alias=sql.Identifier(alias), donor=sql.Literal(self.donor_id)))

    def hazards(self, alias: str = "h") -> sql.Composable:
        """Condition on hazard_area rows (alias `alias`) the holder may read: a donor the
        areas worked under projects it funds; Forbidden for the public viewer."""
        return self.rows(alias, _DONOR_HAZARDS, "hazard areas")

    def releases(self, alias: str = "r") -> sql.Composable | None:
        """Condition on rows with an activity_report_id (releases, device finds; alias
        `alias`) inside the holder's hazard areas that it may see one by one; None when
        it sees them all. A donor sees its own projects' work (the areas' totals stay
        whole)."""
        if self.donor_id is None:
            return None
        return _DONOR_RELEASES.format(alias=sql.Identifier(alias),
                                      donor=sql.Literal(self.donor_id))

    def released_land(self, alias: str = "h", release_alias: str = "r") -> sql.Composable:
        """Condition on releases (alias `release_alias`) joined to their hazard areas
        (alias `alias`) that the holder may see: those `hazards` and `releases` allow, and
        for the public the released land of its programme (DESIGN.md section 5)."""
        if self.released_only:
            return self.in_programme(alias)
        releases = self.releases(release_alias)
        areas = self.hazards(alias)
        return areas if releases is None else sql.SQL("{} AND {}").format(areas, releases)

    def tasks(self, alias: str = "t") -> sql.Composable:
        """Condition on task rows (alias `alias`) the holder may read: its programme's; a
        donor the tasks of projects it funds; Forbidden for the public viewer."""
        return self.rows(alias, _DONOR_TASKS, "tasks")


def hazard_reader(principal: Principal) -> Scope:
    """The scope of a caller who reads hazard areas; Forbidden for one who may not."""
    scope = Scope.of(principal)
    if scope.released_only:
        raise Forbidden("this account may not read hazard areas")
    return scope


def hazard_scope(principal: Principal, alias: str = "h") -> sql.Composable:
    """Condition on hazard_area rows (alias `alias`) that the principal may read
    (`Scope.hazards`)."""
    return Scope.of(principal).hazards(alias)


def release_scope(principal: Principal, alias: str = "h",
                  release_alias: str = "r") -> sql.Composable:
    """Condition on releases joined to their hazard areas that the principal may see
    (`Scope.released_land`)."""
    return Scope.of(principal).released_land(alias, release_alias)


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
