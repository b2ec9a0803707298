"""The `demine` command as a user runs it: provisioning, migrations, status."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from survey.store import db, migrate
from tests.conftest import db_name

CLI_DB = db_name("demine_test_cli")

DEMINE = str(Path(sys.executable).with_name("demine"))


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DEMINE, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env}, check=False)


def said(text: str) -> str:
    """Output with rich's line wrapping undone, for matching phrases."""
    return " ".join(text.split())


def migrate_all_but_last(url: str) -> migrate.Migration:
    """Bring a database to the schema before the newest migration, as `demine db upgrade`
    did before that migration shipped; return the migration left pending."""
    return migrate_before(url, migrate.available()[-1].version)[0]


def migrate_before(url: str, version: int) -> list[migrate.Migration]:
    """Bring a database to the schema before migration `version`, as `demine db upgrade`
    did before it shipped; return the migrations left pending, in order."""
    done = [m for m in migrate.available() if m.version < version]
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(migrate.CREATE_VERSIONS)
        for migration in done:
            conn.execute(sql.SQL(migration.text))  # type: ignore[arg-type]
            conn.execute("INSERT INTO schema_migration (version, name, sha256) "
                         "VALUES (%s, %s, %s)", (migration.version, migration.name,
                                                 migration.sha256))
    return [m for m in migrate.available() if m.version >= version]


def test_db_upgrade_creates_database_and_is_idempotent(server_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(CLI_DB)))
    env = {"DEMINE_SERVER_URL": server_url, "DEMINE_DATABASE_NAME": CLI_DB}
    first = run("db", "upgrade", **env)
    assert first.returncode == 0, first.stderr
    assert "applied migrations: 0001_postgis" in first.stderr
    second = run("db", "upgrade", **env)
    assert second.returncode == 0 and "applied" not in second.stderr
    status = run("db", "status", **env)
    assert status.returncode == 0
    assert "0 pending" in status.stdout and "0002_core: applied" in status.stdout


def test_unreachable_database_url_is_a_clear_error() -> None:
    result = run("db", "upgrade", DEMINE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/x")
    assert result.returncode == 2
    assert "does not answer" in result.stderr


def test_private_cluster_when_no_server_is_reachable() -> None:
    # the embedded default: initdb + pg_ctl in the data directory, as postgres when root
    # (pytest's own tmp_path is private to root, so the postgres user could not reach it)
    data_dir = Path(tempfile.mkdtemp(prefix="demine-cluster-"))
    data_dir.chmod(0o755)
    port = 54391
    try:
        url = db.start_private_cluster(data_dir, port=port)
        assert f"port={port}" in url and "host=/" in url  # a socket, no TCP listener
        created = db.create_database(url, "demine")
        assert [mig.name for mig in migrate.upgrade(created)][:2] == ["postgis", "core"]
        with psycopg.connect(created) as conn:
            assert conn.execute("SELECT count(*) FROM ordnance_type").fetchone()[0] >= 80
        # a second start finds it running and reuses it
        assert db.start_private_cluster(data_dir, port=port) == url
    finally:
        db.stop_private_cluster(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_read_only_commands_do_not_migrate(server_url: str) -> None:
    # they refuse with exit 2 and name what is pending; only `db upgrade` (and demo, serve,
    # restore) may change the schema
    url = db.create_database(server_url, db_name("demine_test_cli_behind"), drop_first=True)
    last = migrate_all_but_last(url)
    pending = f"{last.version:04d}_{last.name}"
    env = {"DEMINE_DATABASE_URL": url}
    for args in (["check"], ["check", "--repair"], ["stats"], ["ledger", "show", "UA-KH-000001"]):
        result = run(*args, **env)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "schema is behind" in said(result.stderr) and pending in result.stderr, args
    status = run("db", "status", **env)
    assert status.returncode == 0, status.stderr
    assert f"{pending}: pending" in status.stdout and "1 pending" in status.stdout
    with psycopg.connect(url) as conn:
        assert last.version not in migrate.applied(conn)
    upgrade = run("db", "upgrade", **env)
    assert upgrade.returncode == 0 and f"applied migrations: {pending}" in said(upgrade.stderr)
    assert run("check", **env).returncode == 0


def test_invalid_settings_are_a_clear_error() -> None:
    result = run("db", "status", DEMINE_POOL_MAX_SIZE="eighty")
    assert result.returncode == 2
    assert "DEMINE_POOL_MAX_SIZE" in result.stderr and "Traceback" not in result.stderr
