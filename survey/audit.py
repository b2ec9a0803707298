"""Reading the audit log: who changed what, when, with the record before and after.

Admins read every row; a coordinator reads the rows of its own programme (rows that
belong to no programme, such as a refused sign-in under a name that is nobody's, are for
admins). The snapshots were stripped of secrets when they were written (repo.snapshot).

Pages are newest first and keyed on the row's id (`after`): a page never repeats or skips
a row because rows were added while a reader pages through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from survey.auth import Principal
from survey.domain.models import AuditEntry
from survey.domain.vocab import AuditAction, Role
from survey.errors import Forbidden, InvalidInput

MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditFilter:
    """Which rows: each field left None matches every row. Days are UTC days, both
    ends included."""

    entity: str | None = None
    entity_id: UUID | None = None
    actor: str | None = None
    action: AuditAction | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    # the `after` of the next page; None on the last
    next_after: int | None


def audit_scope(principal: Principal) -> sql.Composable:
    """Condition on audit_log rows the principal may read."""
    if principal.role == Role.ADMIN:
        return sql.SQL("TRUE")
    if principal.role == Role.COORDINATOR and principal.programme_id is not None:
        return sql.SQL("programme_id = {}").format(sql.Literal(principal.programme_id))
    raise Forbidden("only admins and coordinators read the audit log")


# one clause per filter, each with its own named parameter
_CLAUSES: dict[str, sql.Composable] = {
    "entity": sql.SQL("entity = %(entity)s"),
    "entity_id": sql.SQL("entity_id = %(entity_id)s"),
    "actor": sql.SQL("actor = %(actor)s"),
    "action": sql.SQL("action = %(action)s"),
    "date_from": sql.SQL("at >= %(date_from)s::date::timestamp AT TIME ZONE 'UTC'"),
    "date_to": sql.SQL("at < (%(date_to)s::date + 1)::timestamp AT TIME ZONE 'UTC'"),
    "after": sql.SQL("id < %(after)s"),
}

# newest first on the primary key: the index on (programme_id, id) serves a coordinator,
# the primary key an admin, (actor, id) a filter on the actor
LIST_AUDIT = sql.SQL("""
SELECT {columns} FROM audit_log WHERE {where} ORDER BY id DESC LIMIT %(limit)s
""")


def list_audit(conn: psycopg.Connection, *, principal: Principal,
               filters: AuditFilter | None = None, limit: int = 100,
               after: int | None = None) -> AuditPage:
    """Up to `limit` rows of the audit log the principal may read, newest first, older
    than the row `after` (the `next_after` of the page before)."""
    filters = filters or AuditFilter()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is 1 to {MAX_LIMIT}")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput("date_from is after date_to")
    params: dict[str, Any] = {
        "entity": filters.entity, "entity_id": filters.entity_id, "actor": filters.actor,
        "action": filters.action.value if filters.action else None,
        "date_from": filters.date_from, "date_to": filters.date_to, "after": after}
    where = [audit_scope(principal)] + [
        clause for name, clause in _CLAUSES.items() if params[name] is not None]
    query = LIST_AUDIT.format(
        columns=sql.SQL(", ").join(map(sql.Identifier, AuditEntry.model_fields)),
        where=sql.SQL(" AND ").join(where))
    with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        rows = cur.execute(query, {**params, "limit": limit + 1}).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1].id if more and rows else None)
