"""`demine backup` and `demine restore` as a user runs them: real pg_dump and pg_restore
against a real server, round trips compared table by table."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from survey.store import backup, db, migrate
from tests.conftest import db_name
from tests.test_cli import migrate_all_but_last, run, said

TABLES = """
SELECT schemaname, tablename FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2
"""


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Rows and an md5 of the ordered rows' text, per table (PostGIS's own included)."""
    out = {}
    with psycopg.connect(url) as conn:
        for schema, table in conn.execute(TABLES).fetchall():
            count, digest = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                " FROM {} t").format(sql.Identifier(schema, table))).fetchone()
            out[f"{schema}.{table}"] = (count, digest)
    return out


def fresh(server_url: str, base: str) -> str:
    """An empty database of this run (dropped first if a former run left it)."""
    return db.create_database(server_url, db_name(base), drop_first=True)


def leftovers(server_url: str) -> list[str]:
    """Scratch databases a restore left behind (none, if it cleans up after itself)."""
    with psycopg.connect(server_url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname ~ '_(restoring|"
                            "replaced)_[0-9a-f]{8}$' AND datname LIKE %s",
                            (f"demine_test%{db_name('')}%",)).fetchall()
    return [name for (name,) in rows]


@pytest.fixture(scope="module")
def archive(api_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of the database holding the small demo (conftest's api database)."""
    out = tmp_path_factory.mktemp("backup") / "demine.dump"
    result = run("backup", str(out), DEMINE_DATABASE_URL=api_database_url)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(api_database_url) as conn:
        version = conn.execute("SELECT max(version) FROM schema_migration").fetchone()[0]
    assert f"schema version {version}" in said(result.stdout)
    return out


def test_round_trip_is_equal_table_by_table(api_database_url: str, archive: Path,
                                           server_url: str) -> None:
    target = fresh(server_url, "demine_test_restored")
    result = run("restore", str(archive), DEMINE_DATABASE_URL=target)
    assert result.returncode == 0, result.stderr
    assert "applied migrations" not in result.stdout  # the backup was current
    assert "replaced" not in result.stdout  # the target was empty
    source, restored = fingerprint(api_database_url), fingerprint(target)
    assert source["public.hazard_area"][0] >= 60 and source["public.release"][0] > 0
    assert restored == source
    check = run("check", DEMINE_DATABASE_URL=target)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ledger balances" in said(check.stdout)
    assert leftovers(server_url) == []


def test_a_database_with_data_is_replaced_only_when_asked_and_whole(
        api_database_url: str, archive: Path, server_url: str, tmp_path: Path) -> None:
    target = fresh(server_url, "demine_test_replaced")
    assert run("restore", str(archive), DEMINE_DATABASE_URL=target).returncode == 0
    with psycopg.connect(target) as conn, conn.transaction():  # a change made since
        conn.execute("UPDATE hazard_area SET name = 'renamed after the backup' "
                     "WHERE local_id = 'UA-KH-000001'")
    before = fingerprint(target)

    refused = run("restore", str(archive), DEMINE_DATABASE_URL=target)
    assert refused.returncode == 2
    assert "already holds data" in said(refused.stderr) and "--replace" in refused.stderr
    assert fingerprint(target) == before

    # a file damaged in the middle reads as a demine backup, then fails half-way through
    # pg_restore: the target stays as it was
    damaged = tmp_path / "damaged.dump"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4096] = bytes(4096)
    damaged.write_bytes(data)
    with psycopg.connect(server_url) as conn:
        assert backup.read_archive(backup.client_bindir(conn), damaged).schema_version > 0
    failed = run("restore", str(damaged), "--replace", DEMINE_DATABASE_URL=target)
    assert failed.returncode == 2, failed.stdout
    assert "pg_restore failed, so nothing was changed" in said(failed.stderr)
    assert fingerprint(target) == before
    assert leftovers(server_url) == []

    with psycopg.connect(target):  # someone still at work on it (a running `demine serve`)
        busy = run("restore", str(archive), "--replace", DEMINE_DATABASE_URL=target)
    assert busy.returncode == 2 and "1 session(s) are connected" in said(busy.stderr)
    assert fingerprint(target) == before

    replaced = run("restore", str(archive), "--replace", DEMINE_DATABASE_URL=target)
    assert replaced.returncode == 0, replaced.stderr
    assert "replaced the database's previous contents" in said(replaced.stdout)
    assert fingerprint(target) == fingerprint(api_database_url)
    assert leftovers(server_url) == []


def test_a_backup_from_a_newer_schema_is_refused_untouched(server_url: str,
                                                           tmp_path: Path) -> None:
    # a database that a newer demine migrated: one more version than this code knows
    future = fresh(server_url, "demine_test_future")
    migrate.upgrade(future)
    newest = migrate.available()[-1].version
    with psycopg.connect(future) as conn, conn.transaction():
        conn.execute("INSERT INTO schema_migration (version, name, sha256) "
                     "VALUES (%s, 'from_the_future', repeat('0', 64))", (newest + 1,))
    out = tmp_path / "future.dump"
    made = run("backup", str(out), DEMINE_DATABASE_URL=future)
    assert made.returncode == 0 and f"schema version {newest + 1}" in said(made.stdout)

    target = fresh(server_url, "demine_test_not_future")
    refused = run("restore", str(out), DEMINE_DATABASE_URL=target)
    assert refused.returncode == 2
    message = said(refused.stderr)
    assert "comes from a newer demine" in message and f"knows up to {newest}" in message
    assert fingerprint(target) == {}  # not even PostGIS: nothing was touched
    assert leftovers(server_url) == []


def test_an_older_backup_is_migrated_forward(server_url: str, tmp_path: Path) -> None:
    older = fresh(server_url, "demine_test_older")
    last = migrate_all_but_last(older)
    out = tmp_path / "older.dump"
    assert run("backup", str(out), DEMINE_DATABASE_URL=older).returncode == 0
    again = run("backup", str(out), DEMINE_DATABASE_URL=older)
    assert again.returncode == 2 and "--overwrite" in again.stderr  # never silently replaced
    assert run("backup", str(out), "--overwrite", DEMINE_DATABASE_URL=older).returncode == 0
    with psycopg.connect(older) as conn:  # backing up changed nothing
        assert last.version not in migrate.applied(conn)

    target = fresh(server_url, "demine_test_newer")
    result = run("restore", str(out), DEMINE_DATABASE_URL=target)
    assert result.returncode == 0, result.stderr
    assert f"applied migrations: {last.version:04d}_{last.name}" in said(result.stdout)
    with psycopg.connect(target) as conn:
        assert set(migrate.applied(conn)) == {m.version for m in migrate.available()}


def test_not_a_backup_is_refused(server_url: str, tmp_path: Path) -> None:
    target = fresh(server_url, "demine_test_not_a_backup")
    junk = tmp_path / "notes.dump"
    junk.write_text("minutes of the coordination meeting\n")
    result = run("restore", str(junk), DEMINE_DATABASE_URL=target)
    assert result.returncode == 2 and "is not a pg_dump archive" in said(result.stderr)
    assert fingerprint(target) == {}


def test_client_programs_follow_the_server_version(server_url: str) -> None:
    with psycopg.connect(server_url) as conn:
        major = conn.info.server_version // 10000
        bindir = backup.client_bindir(conn)
    assert bindir == Path(f"/usr/lib/postgresql/{major}/bin")
    assert (bindir / "pg_dump").exists() and (bindir / "pg_restore").exists()


def test_round_trip_on_the_private_cluster(tmp_path: Path) -> None:
    # the embedded default: a Unix socket URL, no TCP (see test_cli's private cluster test)
    data_dir = Path(tempfile.mkdtemp(prefix="demine-cluster-"))
    data_dir.chmod(0o755)
    try:
        server = db.start_private_cluster(data_dir, port=54392)
        source = db.create_database(server, "demine")
        migrate.upgrade(source)
        with psycopg.connect(source) as conn, conn.transaction():
            conn.execute("INSERT INTO programme (code, country_iso, name, extent) VALUES "
                         "('XK', 'XK', 'Socket test programme', "
                         "ST_Multi(ST_MakeEnvelope(20, 41.8, 21.8, 43.3, 4326)))")
        out = tmp_path / "cluster.dump"
        made = run("backup", str(out), DEMINE_DATABASE_URL=source)
        assert made.returncode == 0, made.stderr
        target = db.create_database(server, "demine_restored")
        restored = run("restore", str(out), DEMINE_DATABASE_URL=target)
        assert restored.returncode == 0, restored.stderr
        assert fingerprint(target) == fingerprint(source)
    finally:
        db.stop_private_cluster(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
