"""Migrations on a real server: from empty, idempotent, and constraints that bite."""

from __future__ import annotations

import typing
from enum import StrEnum
from typing import Any

import psycopg
import pytest
from psycopg import sql

from survey.domain import models as m
from survey.domain.vocab import AuditAction
from survey.errors import ProvisioningError
from survey.store import db, migrate, repo
from tests.conftest import db_name
from tests.samples import sample_records

EXPECTED_TABLES = {
    "programme", "organisation", "team", "donor", "project", "app_user", "api_token",
    "admin_area", "submission", "hazard_area", "remaining_piece", "hazard_area_boundary",
    "evidence_point",
    "ordnance_type", "task", "task_hazard_area", "activity_report", "release", "marker_point",
    "device_find", "accident", "victim", "audit_log", "login_failure",
    "intake_staging", "survey_track",
}


@pytest.fixture
def empty_database(server_url: str) -> str:
    return db.create_database(server_url, db_name("demine_test_migrations"), drop_first=True)


def test_upgrade_from_empty_then_noop(empty_database: str) -> None:
    applied = migrate.upgrade(empty_database)
    assert [mig.version for mig in applied] == [mig.version for mig in migrate.available()]
    assert migrate.upgrade(empty_database) == []
    with psycopg.connect(empty_database) as conn:
        tables = {row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables >= EXPECTED_TABLES
        versions = conn.execute("SELECT count(*) FROM schema_migration").fetchone()
        assert versions == (len(migrate.available()),)
        assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")


def test_changed_migration_is_refused(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("UPDATE schema_migration SET sha256 = 'x' WHERE version = 2")
    with pytest.raises(ProvisioningError, match="changed after it was applied"):
        migrate.upgrade(empty_database)


def test_every_table_has_its_model(conn: psycopg.Connection) -> None:
    for model in m.ALL_MODELS:
        columns = [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position", (model.__table__,))]
        assert columns == list(model.model_fields), model.__table__


def test_geometry_columns_are_4326_with_gist_indexes(conn: psycopg.Connection) -> None:
    rows = conn.execute("SELECT f_table_name, f_geometry_column, srid, type "
                        "FROM geometry_columns").fetchall()
    assert rows and all(srid == 4326 for _, _, srid, _ in rows)
    indexed = {row[0] for row in conn.execute(
        "SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")}
    assert {"hazard_area", "release", "device_find", "admin_area", "evidence_point"} <= indexed


def test_catalogue_is_seeded(conn: psycopg.Connection) -> None:
    count, categories = conn.execute(
        "SELECT count(*), count(DISTINCT category) FROM ordnance_type").fetchone()
    assert count >= 80 and categories >= 9
    models = {row[0] for row in conn.execute("SELECT model FROM ordnance_type")}
    for required in ("PMN", "PMN-2", "PMN-4", "PFM-1", "PFM-1S", "POM-2", "POM-3", "OZM-72",
                     "MON-50", "MON-90", "TM-57", "TM-62M", "TM-62P3", "PTM-1", "PTM-3",
                     "9N210", "9N235", "PTAB-1M", "ShOAB-0.5", "M77", "M42", "VOG-17",
                     "RGD-5", "F-1"):
        assert required in models, required
    aliases = conn.execute("SELECT aliases FROM ordnance_type WHERE model = 'PMN-2'").fetchone()
    assert "ПМН-2" in aliases[0]


def _enum_columns(model: type[m.Record]) -> list[tuple[str, bool]]:
    """(column, is_array) for every field typed with a vocabulary enum."""
    found = []
    for name, field in model.model_fields.items():
        annotation: Any = field.annotation
        is_array = typing.get_origin(annotation) is list
        args = typing.get_args(annotation) or (annotation,)
        if any(isinstance(arg, type) and issubclass(arg, StrEnum) for arg in args):
            found.append((name, is_array))
    return found


ENUM_CASES = [(model, column, is_array) for model in m.ALL_MODELS
              for column, is_array in _enum_columns(model)]


@pytest.mark.parametrize(("model", "column", "is_array"), ENUM_CASES,
                         ids=[f"{mdl.__table__}.{col}" for mdl, col, _ in ENUM_CASES])
def test_every_enumeration_rejects_a_bad_value(conn: psycopg.Connection, model: type[m.Record],
                                               column: str, is_array: bool) -> None:
    record = sample_records(conn)[model]
    if not repo.list_records(conn, model, where=record.key()):
        record = repo.insert(conn, record, actor="test")
    bad = ["not-a-value"] if is_array else "not-a-value"
    key = record.key()
    query = sql.SQL("UPDATE {} SET {} = %(bad)s WHERE {}").format(
        sql.Identifier(model.__table__), sql.Identifier(column),
        sql.SQL(" AND ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k))
                              for k in key))
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute(query, {"bad": bad, **key})


def test_enumerations_were_found() -> None:
    columns = {(mdl.__table__, col) for mdl, col, _ in ENUM_CASES}
    assert {("hazard_area", "classification"), ("hazard_area", "status"),
            ("hazard_area", "contamination"), ("release", "product"), ("release", "method"),
            ("team", "capabilities"), ("app_user", "role"), ("task", "activity_type"),
            ("device_find", "condition"), ("ordnance_type", "category")} <= columns
    assert len(columns) >= 20


def test_audit_log_takes_every_audit_action(conn: psycopg.Connection) -> None:
    # the CHECK of audit_log.action is rebuilt by later migrations (0007: sign-in); every
    # action of the vocabulary must stay writable
    for action in AuditAction:
        with conn.transaction():
            conn.execute("INSERT INTO audit_log (actor, action, entity) VALUES "
                         "('test', %s, 'app_user')", (action.value,))
