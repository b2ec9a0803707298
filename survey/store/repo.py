"""Generic repository functions over the records of survey.domain.models.

Every table gets the same small set (insert, get, list, update, delete, bulk COPY),
composed with psycopg.sql from the model's own field names, so there is one code
path to test instead of one per table. Writes add an audit_log row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from shapely.geometry.base import BaseGeometry

from survey.domain.geometry import to_geojson
from survey.domain.models import AuditEntry, Record
from survey.domain.vocab import AuditAction
from survey.errors import NotFound, StaleVersion

R = TypeVar("R", bound=Record)


def _columns(model: type[Record]) -> list[str]:
    return list(model.model_fields)


def _writable(record: Record) -> dict[str, Any]:
    """Column values to write: set fields, without the database-generated ones."""
    values = {}
    for name in type(record).model_fields:
        if name in record.__generated__:
            continue
        value = getattr(record, name)
        if value is None:
            continue  # the column default (or NULL) applies
        values[name] = _column_value(record, name)
    return values


def _column_value(record: Record, name: str) -> Any:
    value = getattr(record, name)
    if name in record.__json__ and value is not None:
        return Jsonb(_jsonable(value))
    return _adapt(value)


def _adapt(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_adapt(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseGeometry):
        return to_geojson(value)
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(record: Record) -> dict[str, Any]:
    """A JSON-ready copy of a record for the audit log (secrets left out)."""
    data = {name: _jsonable(getattr(record, name)) for name in type(record).model_fields}
    for secret in ("password_hash", "token_sha256"):
        data.pop(secret, None)
    return data


def _programme_of(record: Record) -> UUID | None:
    value = getattr(record, "programme_id", None)
    return value if isinstance(value, UUID) else None


def _entity_id(record: Record) -> UUID | None:
    value = getattr(record, "id", None)
    return value if isinstance(value, UUID) else None


INSERT_AUDIT = """
INSERT INTO audit_log (programme_id, actor, action, entity, entity_id, before, after, reason)
VALUES (%(programme_id)s, %(actor)s, %(action)s, %(entity)s, %(entity_id)s,
        %(before)s, %(after)s, %(reason)s)
"""


def audit(
    conn: psycopg.Connection,
    *,
    actor: str,
    action: AuditAction,
    entity: str,
    entity_id: UUID | None = None,
    programme_id: UUID | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Record one write in the audit log (same transaction as the write)."""
    conn.execute(INSERT_AUDIT, {
        "programme_id": programme_id, "actor": actor, "action": action.value, "entity": entity,
        "entity_id": entity_id, "before": None if before is None else Jsonb(before),
        "after": None if after is None else Jsonb(after), "reason": reason,
    })


def insert(conn: psycopg.Connection, record: R, *, actor: str, reason: str | None = None) -> R:
    """Insert one record; return it as stored (generated columns filled in)."""
    values = _writable(record)
    query = sql.SQL("INSERT INTO {table} ({cols}) VALUES ({vals}) RETURNING {ret}").format(
        table=sql.Identifier(record.__table__),
        cols=sql.SQL(", ").join(map(sql.Identifier, values)),
        vals=sql.SQL(", ").join(map(sql.Placeholder, values)),
        ret=sql.SQL(", ").join(map(sql.Identifier, _columns(type(record)))),
    )
    with conn.cursor(row_factory=class_row(type(record))) as cur:
        cur.execute(query, values)
        stored = next(cur)
    if not isinstance(stored, AuditEntry):
        audit(conn, actor=actor, action=AuditAction.CREATE, entity=record.__table__,
              entity_id=_entity_id(stored), programme_id=_programme_of(stored),
              after=snapshot(stored), reason=reason)
    return stored


def _where(filters: Mapping[str, Any]) -> sql.Composable:
    if not filters:
        return sql.SQL("TRUE")
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
        for name in filters)


def get(conn: psycopg.Connection, model: type[R], **key: Any) -> R:
    """The record with this primary key; NotFound when there is none."""
    query = sql.SQL("SELECT {cols} FROM {table} WHERE {where}").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, _columns(model))),
        table=sql.Identifier(model.__table__), where=_where(key))
    with conn.cursor(row_factory=class_row(model)) as cur:
        cur.execute(query, key)
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no {model.__table__.replace('_', ' ')} with {_describe(key)}")
    return row


def _describe(key: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in key.items())


def list_records(
    conn: psycopg.Connection,
    model: type[R],
    *,
    where: Mapping[str, Any] | None = None,
    order_by: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[R]:
    """Records whose columns equal the `where` values, in a stable order."""
    filters = {name: _adapt(value) for name, value in (where or {}).items()}
    columns = _columns(model)
    for name in [*filters, *order_by]:
        if name not in columns:
            raise ValueError(f"{model.__name__} has no column {name!r}")
    order = list(order_by) or list(model.__key__)
    query = sql.SQL(
        "SELECT {cols} FROM {table} WHERE {where} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        table=sql.Identifier(model.__table__),
        where=_where(filters),
        order=sql.SQL(", ").join(map(sql.Identifier, order)),
        limit=sql.Literal(limit) if limit is not None else sql.SQL("ALL"),
        offset=sql.Literal(offset),
    )
    with conn.cursor(row_factory=class_row(model)) as cur:
        cur.execute(query, filters)
        return cur.fetchall()


def update(
    conn: psycopg.Connection,
    record: R,
    *,
    actor: str,
    expected_version: int | None = None,
    reason: str | None = None,
) -> R:
    """Write every column of `record`; with `expected_version`, bump the version or refuse.

    The row is locked as it is read, so the audit's `before` is the row this write
    replaces; the version is checked by the UPDATE itself (`AND version = expected`), so
    of two writers holding the same version exactly one wins and the other gets
    LedgerConflict with the current version.
    """
    model = type(record)
    columns = _columns(model)
    key = {f"key_{name}": value for name, value in record.key().items()}
    by_key = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder(f"key_{n}"))
        for n in model.__key__)
    where = by_key
    versioned = "version" in model.model_fields
    values = {name: _column_value(record, name) for name in model.model_fields
              if name not in record.__generated__ and name not in record.__key__
              and name != "version"}
    if "updated_at" in values:
        values["updated_at"] = datetime.now().astimezone()
    assign: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder(n)) for n in values]
    if versioned:
        assign.append(sql.SQL("version = version + 1"))
        if expected_version is not None:
            where = sql.SQL("{} AND version = {}").format(where, sql.Placeholder("expected"))
    lock = sql.SQL("SELECT {cols} FROM {table} WHERE {where} FOR UPDATE").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        table=sql.Identifier(model.__table__), where=by_key)
    query = sql.SQL("UPDATE {table} SET {assign} WHERE {where} RETURNING {ret}").format(
        table=sql.Identifier(model.__table__), assign=sql.SQL(", ").join(assign), where=where,
        ret=sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor(row_factory=class_row(model)) as cur:
        before = cur.execute(lock, key).fetchone()
        if before is None:
            raise NotFound(f"no {model.__table__.replace('_', ' ')} with "
                           f"{_describe(record.key())}")
        stored = cur.execute(query, values | key | {"expected": expected_version}).fetchone()
    if stored is None:
        # the row is there and locked by this transaction, so `before` is current: only
        # the version check can have refused the write
        current = int(before.model_dump(include={"version"})["version"])
        raise StaleVersion(
            f"{model.__table__.replace('_', ' ')} changed since version {expected_version} "
            f"(now {current}): reload it and apply your change again",
            current_version=current)
    audit(conn, actor=actor, action=AuditAction.UPDATE, entity=model.__table__,
          entity_id=_entity_id(stored), programme_id=_programme_of(stored),
          before=snapshot(before), after=snapshot(stored), reason=reason)
    return stored


def delete(conn: psycopg.Connection, model: type[Record], *, actor: str, reason: str | None = None,
           **key: Any) -> None:
    """Delete one record (NotFound when absent); the audit log keeps what it was."""
    before = get(conn, model, **key)
    conn.execute(sql.SQL("DELETE FROM {table} WHERE {where}").format(
        table=sql.Identifier(model.__table__), where=_where(key)), key)
    audit(conn, actor=actor, action=AuditAction.DELETE, entity=model.__table__,
          entity_id=_entity_id(before), programme_id=_programme_of(before),
          before=snapshot(before), reason=reason)


def copy_records(conn: psycopg.Connection, records: Iterable[Record], *, actor: str,
                 reason: str | None = None) -> int:
    """Bulk-load records of one model with COPY; one audit row for the batch.

    Columns that no record sets are left to their database defaults, as INSERT would.
    """
    rows = list(records)
    if not rows:
        return 0
    model = type(rows[0])
    if any(type(record) is not model for record in rows):
        raise TypeError("copy_records takes records of one model at a time")
    columns = [name for name in model.model_fields if name not in model.__generated__
               and any(getattr(record, name) is not None for record in rows)]
    query = sql.SQL("COPY {table} ({cols}) FROM STDIN").format(
        table=sql.Identifier(model.__table__),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor() as cur, cur.copy(query) as copy:
        for record in rows:
            copy.write_row([_copy_value(record, name) for name in columns])
    audit(conn, actor=actor, action=AuditAction.BULK_CREATE, entity=model.__table__,
          programme_id=_programme_of(rows[0]), after={"count": len(rows)}, reason=reason)
    return len(rows)


def _copy_value(record: Record, name: str) -> Any:
    value = getattr(record, name)
    if name in record.__json__ and value is not None:
        return json.dumps(_jsonable(value))
    return _adapt(value)
