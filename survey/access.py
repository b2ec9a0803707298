"""What a caller may see: row scopes as SQL conditions, one function per kind of record.

Every query that serves a caller goes through one of these (rule 6 of the house), so
that a role's reach is decided in one place.
"""

from __future__ import annotations

from psycopg import sql

from survey.auth import Principal
from survey.domain.vocab import Role
from survey.errors import Forbidden

_DONOR_HAZARDS = sql.SQL(
    "EXISTS (SELECT 1 FROM task_hazard_area th JOIN task t ON t.id = th.task_id "
    "JOIN project pr ON pr.id = t.project_id "
    "WHERE th.hazard_area_id = {alias}.id AND pr.donor_id = {donor})")


def hazard_scope(principal: Principal, alias: str = "h") -> sql.Composable:
    """Condition on hazard_area rows (table alias `alias`) that the principal may read.

    Admins see every programme; coordinators and operators their programme (operators
    plan against the national picture, but write only for their organisation); donors
    the areas worked under projects they fund; the public sees no hazard areas.
    """
    table = sql.Identifier(alias)
    if principal.role == Role.ADMIN:
        return sql.SQL("TRUE")
    if principal.role == Role.PUBLIC or principal.programme_id is None:
        raise Forbidden("this account may not read hazard areas")
    in_programme = sql.SQL("{}.programme_id = {}").format(table,
                                                          sql.Literal(principal.programme_id))
    if principal.role == Role.DONOR:
        return sql.SQL("{} AND {}").format(in_programme, _DONOR_HAZARDS.format(
            alias=table, donor=sql.Literal(principal.donor_id)))
    return in_programme
