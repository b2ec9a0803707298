"""Version-checked updates and soft delete, for any record with a `version` column.

The version is checked in the UPDATE itself (`WHERE id = ... AND version = expected`):
of two writers holding the same version exactly one changes the row, and the other is
told the version it missed (StaleVersion, 412 over HTTP). Every write bumps the version,
so the record a use case loaded at the expected version is the row that the write
replaced: it is the audit's `before`, with no lock taken while the caller's rules run.

Soft delete keeps the row (`deleted_at`), for the audit trail and for what refers to it;
readers leave such rows out (`LIVE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from survey.domain.models import Record
from survey.domain.vocab import AuditAction
from survey.errors import InvalidInput, NotFound, StaleVersion
from survey.store import repo

R = TypeVar("R", bound=Record)

# the condition on a table that has soft delete: rows not deleted
LIVE = sql.SQL("deleted_at IS NULL")


def _label(model: type[Record]) -> str:
    return model.__table__.replace("_", " ")


def _value(model: type[Record], name: str, value: Any) -> Any:
    if name in model.__json__ and value is not None:
        return Jsonb(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [v.value if isinstance(v, Enum) else v for v in value]
    return value


def _field(record: Record, name: str) -> Any:
    return vars(record)[name]


def _soft_deletes(model: type[Record]) -> bool:
    return "deleted_at" in model.model_fields


CURRENT_VERSION = "SELECT version, {deleted} FROM {table} WHERE id = %(id)s"


def _refusal(conn: psycopg.Connection, model: type[Record], record_id: UUID,
             expected: int) -> Exception:
    """Why an update matched no row: the record is gone, or its version moved on."""
    deleted = sql.SQL("deleted_at IS NOT NULL") if _soft_deletes(model) else sql.SQL("false")
    row = conn.execute(sql.SQL(CURRENT_VERSION).format(
        deleted=deleted, table=sql.Identifier(model.__table__)), {"id": record_id}).fetchone()
    if row is None or row[1]:
        return NotFound(f"no {_label(model)} with id {record_id}")
    return StaleVersion(
        f"the {_label(model)} changed since version {expected} (now {row[0]}): reload it "
        "(GET, which gives its ETag) and apply your change again", current_version=row[0])


def check_version(record: Record, expected_version: int) -> None:
    """StaleVersion unless `record` (as loaded) is at `expected_version`: a use case calls
    it right after loading, so a stale change is told so before any rule is checked
    against a state the client has not seen. (The UPDATE checks again; this is no lock.)"""
    current = _field(record, "version")
    if current != expected_version:
        raise StaleVersion(f"the {_label(type(record))} changed since version "
                           f"{expected_version} (now {current}): reload it (GET, which gives "
                           "its ETag) and apply your change again", current_version=current)


def update_versioned(conn: psycopg.Connection, before: R, changes: Mapping[str, Any], *,
                     expected_version: int, actor: str, reason: str | None = None) -> R:
    """Write `changes` (column -> value) to the row `before` was loaded from, if it is
    still at `expected_version`; bump the version; audit before and after.

    `before` is what the caller loaded and checked its rules against; if the row moved
    on since, the version check refuses the write (StaleVersion), so no rule was checked
    against a state that is not the one replaced.
    """
    model = type(before)
    unknown = [name for name in changes
               if name not in model.model_fields or name in model.__generated__
               or name in ("id", "version", "programme_id", "created_at", "deleted_at")]
    if unknown:
        raise InvalidInput(f"{_label(model)}: cannot change {', '.join(sorted(unknown))}")
    # validated as the model validates a whole record, so a change cannot store what the
    # model would refuse
    try:
        after_model = model.model_validate(before.model_dump() | dict(changes))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidInput(f"{_label(model)}: {problems}") from None
    values = {name: _value(model, name, getattr(after_model, name)) for name in changes}
    assign: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
        for name in values]
    assign.append(sql.SQL("version = version + 1"))
    if "updated_at" in model.model_fields:
        assign.append(sql.SQL("updated_at = now()"))
    where = [sql.SQL("id = %(id)s"), sql.SQL("version = %(expected)s")]
    if _soft_deletes(model):
        where.append(LIVE)
    query = sql.SQL("UPDATE {table} SET {assign} WHERE {where} RETURNING {cols}").format(
        table=sql.Identifier(model.__table__), assign=sql.SQL(", ").join(assign),
        where=sql.SQL(" AND ").join(where),
        cols=sql.SQL(", ").join(map(sql.Identifier, model.model_fields)))
    record_id = _field(before, "id")
    # the caller's rules were checked against `before`: if that is not the version it
    # names (it loaded before or after the change it saw), nothing is written
    check_version(before, expected_version)
    with conn.cursor(row_factory=class_row(model)) as cur:
        stored = cur.execute(query, values | {"id": record_id,
                                              "expected": expected_version}).fetchone()
    if stored is None:
        raise _refusal(conn, model, record_id, expected_version)
    repo.audit(conn, actor=actor, action=AuditAction.UPDATE, entity=model.__table__,
               entity_id=record_id, programme_id=getattr(stored, "programme_id", None),
               before=repo.snapshot(before), after=repo.snapshot(stored), reason=reason)
    return stored


def refuse_nulls(model: type[Record], changes: Mapping[str, Any]) -> None:
    """InvalidInput for a change that sets a column the record must have to null (an
    explicit null in a PATCH body), before any rule compares it with anything."""
    nulls = sorted(name for name, value in changes.items() if value is None
                   and name in model.model_fields
                   and not _nullable(model.model_fields[name].annotation))
    if nulls:
        raise InvalidInput(f"{', '.join(nulls)} cannot be emptied: send a value, or leave "
                           "the field out to keep it")


def _nullable(annotation: Any) -> bool:
    return annotation is None or type(None) in getattr(annotation, "__args__", ())


def soft_delete(conn: psycopg.Connection, before: R, *, actor: str,
                expected_version: int | None = None, reason: str | None = None) -> R:
    """Mark the row of `before` deleted (and bump its version); with `expected_version`,
    only if it is still at that version. The audit keeps what it was."""
    model = type(before)
    if not _soft_deletes(model):
        raise TypeError(f"{model.__name__} has no deleted_at column")
    record_id = _field(before, "id")
    expected = _field(before, "version") if expected_version is None else expected_version
    query = sql.SQL(
        "UPDATE {table} SET deleted_at = now(), version = version + 1 "
        "WHERE id = %(id)s AND version = %(expected)s AND deleted_at IS NULL "
        "RETURNING {cols}").format(table=sql.Identifier(model.__table__),
                                   cols=sql.SQL(", ").join(map(sql.Identifier,
                                                               model.model_fields)))
    with conn.cursor(row_factory=class_row(model)) as cur:
        stored = cur.execute(query, {"id": record_id, "expected": expected}).fetchone()
    if stored is None:
        raise _refusal(conn, model, record_id, expected)
    repo.audit(conn, actor=actor, action=AuditAction.DELETE, entity=model.__table__,
               entity_id=record_id, programme_id=getattr(stored, "programme_id", None),
               before=repo.snapshot(before), reason=reason)
    return stored


def get_live(conn: psycopg.Connection, model: type[R], record_id: UUID) -> R:
    """The record with this id unless it is soft-deleted; NotFound otherwise."""
    record = repo.get(conn, model, id=record_id)
    if _soft_deletes(model) and _field(record, "deleted_at") is not None:
        raise NotFound(f"no {_label(model)} with id {record_id}")
    return record
