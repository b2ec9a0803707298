"""Backups of the demine database as pg_dump archives, and all-or-nothing restores.

A backup is a plain `pg_dump --format=custom` archive, which pg_restore and any
PostgreSQL tool can read. Its schema version is the schema_migration table inside it,
read back with pg_restore without touching any database; so the version recorded is the
one of the data itself, and a restore can refuse an archive from a newer demine before
anything is touched.

A restore goes into a new scratch database next to the target, is migrated forward
there, and only then takes the target's name (two renames in one transaction); the
replaced database is dropped after. A restore that fails at any point leaves the target
as it was, and a target that holds data is only replaced when the caller says so.

pg_dump and pg_restore come from /usr/lib/postgresql/<major>/bin for the server's major
version (or the nearest newer one installed), never from PATH: an older pg_dump refuses a
newer server, and an archive is only readable by a pg_restore at least as new as the
pg_dump that wrote it.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from survey.errors import DemineError, InvalidInput, ProvisioningError
from survey.store import migrate
from survey.store.db import with_dbname

PG_LIB = Path("/usr/lib/postgresql")

# migrations seed these (and extensions own theirs): rows there alone are not data
SEED_TABLES = ("schema_migration", "ordnance_type")


@dataclass(frozen=True)
class Archive:
    """A backup file as pg_restore reads it: when and from where, and its schema."""

    path: Path
    migrations: dict[int, tuple[str, str]]  # version -> (name, sha256), from schema_migration
    created: str = ""
    database: str = ""

    @property
    def schema_version(self) -> int:
        return max(self.migrations)


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    archive: Archive
    database: str
    replaced: bool  # the target held data, which the backup's replaced
    applied: list[migrate.Migration] = field(default_factory=list)
    leftover: str | None = None  # the replaced database, when it could not be dropped


def client_bindir(conn: psycopg.Connection) -> Path:
    """The directory of pg_dump and pg_restore for this connection's server."""
    major = conn.info.server_version // 10000
    installed = sorted(int(p.parent.parent.name) for p in PG_LIB.glob("*/bin/pg_restore")
                       if p.parent.parent.name.isdigit()
                       and (p.parent / "pg_dump").exists())
    usable = [v for v in installed if v >= major]
    if not usable:
        raise ProvisioningError(
            f"pg_dump and pg_restore for PostgreSQL {major} are not installed (found: "
            f"{', '.join(map(str, installed)) or 'none'}): install the Debian package "
            f"postgresql-client-{major}", server_major=major)
    return PG_LIB / str(usable[0]) / "bin"


def _client(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo for a PostgreSQL client program, and its environment: the password
    travels in PGPASSWORD, not on a command line that `ps` shows."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # the programs and their arguments are ours; file names are passed as arguments
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603


# --- reading an archive -----------------------------------------------------------------

_HEADER = re.compile(r"^;\s+(Archive created at|dbname:)\s*(.*)$")
_COPY = re.compile(r"^COPY \S*schema_migration \(([^)]*)\) FROM stdin;$")


def read_archive(bindir: Path, path: Path) -> Archive:
    """The schema recorded in a backup file, read without any database."""
    listing = _run([str(bindir / "pg_restore"), "--list", str(path)])
    if listing.returncode != 0:
        raise InvalidInput(f"{path} is not a pg_dump archive (custom format) that this "
                           f"pg_restore can read: {listing.stderr.strip()}", file=str(path))
    header = {m[1]: m[2].strip() for m in map(_HEADER.match, listing.stdout.splitlines()) if m}
    if not re.search(r"TABLE DATA \S+ schema_migration ", listing.stdout):
        raise InvalidInput(f"{path} is not a demine backup: it holds no schema_migration "
                           "table", file=str(path))
    data = _run([str(bindir / "pg_restore"), "--data-only", "--table=schema_migration",
                 "--file=-", str(path)])
    if data.returncode != 0:
        raise InvalidInput(f"{path} could not be read: {data.stderr.strip()}", file=str(path))
    migrations: dict[int, tuple[str, str]] = {}
    columns: list[str] | None = None
    for line in data.stdout.splitlines():
        if columns is None:
            match = _COPY.match(line)
            if match:
                columns = [c.strip().strip('"') for c in match[1].split(",")]
        elif line == "\\.":
            break
        else:
            row = dict(zip(columns, line.split("\t"), strict=False))
            migrations[int(row["version"])] = (row["name"], row["sha256"])
    if not migrations:
        raise InvalidInput(f"{path} is not a demine backup: its schema_migration table is "
                           "empty", file=str(path))
    return Archive(path=path, migrations=migrations, created=header.get("Archive created at", ""),
                   database=header.get("dbname:", ""))


def check_known(archive: Archive) -> None:
    """Refuse an archive whose schema this code does not know: from a newer demine, or
    with a migration that differs from the one shipped here."""
    known = {m.version: m for m in migrate.available()}
    unknown = sorted(v for v in archive.migrations if v not in known)
    if unknown:
        newest = max(known)
        names = ", ".join(f"{v:04d}_{archive.migrations[v][0]}" for v in unknown)
        if archive.schema_version > newest:
            message = (f"{archive.path} comes from a newer demine: its schema version is "
                       f"{archive.schema_version}, this demine knows up to {newest} ({names} "
                       "unknown here). Restore it with that demine version or newer; nothing "
                       "was changed")
        else:
            message = (f"{archive.path} holds migrations this demine does not have ({names}); "
                       "nothing was changed")
        raise InvalidInput(message, archive_schema_version=archive.schema_version,
                           known_schema_version=newest)
    for version, (name, digest) in sorted(archive.migrations.items()):
        if known[version].sha256 != digest:
            raise InvalidInput(
                f"{archive.path}: migration {version:04d}_{name} differs from the one this "
                "demine ships, so the backup's schema is not one this demine can migrate; "
                "nothing was changed", migration=version)


# --- backup -----------------------------------------------------------------------------

SCHEMA_VERSION = """
SELECT CASE WHEN to_regclass('schema_migration') IS NULL THEN NULL
            ELSE (SELECT max(version) FROM schema_migration) END
"""


def backup(url: str, out: Path, *, overwrite: bool = False) -> Archive:
    """Write the database to `out` as a pg_dump custom-format archive; return what the
    archive records. The file appears whole or not at all."""
    if out.exists() and not overwrite:
        raise InvalidInput(f"{out} exists: choose another file name, or pass --overwrite",
                           file=str(out))
    if not out.parent.is_dir():
        raise InvalidInput(f"the directory {out.parent} does not exist", file=str(out))
    with psycopg.connect(url) as conn:
        bindir = client_bindir(conn)
        version = conn.execute(SCHEMA_VERSION).fetchone()
    if version is None or version[0] is None:
        raise InvalidInput("this database has no demine schema, so there is nothing to back "
                           "up: check DEMINE_DATABASE_URL or DEMINE_DATABASE_NAME")
    conninfo, env = _client(url)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        # one snapshot: pg_dump reads every table in one repeatable-read transaction
        result = _run([str(bindir / "pg_dump"), "--format=custom", f"--file={partial}",
                       f"--dbname={conninfo}"], env)
        if result.returncode != 0:
            raise ProvisioningError(f"pg_dump failed: {result.stderr.strip()}")
        archive = read_archive(bindir, partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return Archive(path=out, migrations=archive.migrations, created=archive.created,
                   database=archive.database)


# --- restore ----------------------------------------------------------------------------

DATABASE = """
SELECT datlocprovider, datcollate, datctype, pg_encoding_to_char(encoding)
FROM pg_database WHERE datname = %(name)s
"""

OTHER_SESSIONS = """
SELECT count(*) FROM pg_stat_activity WHERE datname = %(name)s AND pid <> pg_backend_pid()
"""

# every ordinary table outside the catalogues that no extension owns (spatial_ref_sys)
USER_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


def tables_with_rows(url: str) -> list[str]:
    """The tables of a database that hold rows, but for what migrations seed."""
    with psycopg.connect(url) as conn:
        tables = [(schema, name) for schema, name in conn.execute(USER_TABLES).fetchall()
                  if name not in SEED_TABLES]
        found = []
        for schema, name in tables:
            row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
                sql.Identifier(schema, name))).fetchone()
            if row and row[0]:
                found.append(name if schema == "public" else f"{schema}.{name}")
    return found


def _maintenance_url(url: str, target: str) -> str:
    return with_dbname(url, "template1" if target == "postgres" else "postgres")


def _create_like(admin: psycopg.Connection, name: str, like: str) -> None:
    """Create an empty database with the encoding and collation of `like` (if it exists)."""
    row = admin.execute(DATABASE, {"name": like}).fetchone()
    query = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    if row is not None and row[0] == "c":  # libc locales; otherwise the server's default
        # CREATE DATABASE takes no parameters: the catalogue's own values, as literals
        query = sql.SQL("{} ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
            query, sql.Literal(row[3]), sql.Literal(row[1]), sql.Literal(row[2]))
    admin.execute(query)


def _busy(target: str, sessions: int) -> InvalidInput:
    return InvalidInput(
        f"{sessions} session(s) are connected to database {target} (is `demine serve` "
        "running?): stop them, then restore again; nothing was changed",
        database=target, sessions=sessions)


def _refuse_busy(admin: psycopg.Connection, target: str, wait_s: float = 5.0) -> None:
    # a session that just closed lingers a moment; PostgreSQL's own rename waits 5 s too
    deadline = time.monotonic() + wait_s
    while True:
        row = admin.execute(OTHER_SESSIONS, {"name": target}).fetchone()
        sessions = int(row[0]) if row else 0
        if not sessions:
            return
        if time.monotonic() > deadline:
            raise _busy(target, sessions)
        time.sleep(0.1)


def _holding(url: str, target: str, *, replace: bool) -> list[str]:
    """The tables of the target that hold data; refused unless they are to be replaced."""
    holding = tables_with_rows(url)
    if holding and not replace:
        raise InvalidInput(
            f"database {target} already holds data ({', '.join(holding[:6])}"
            f"{', ...' if len(holding) > 6 else ''}); a restore would replace all of it. "
            "Keep a copy first (`demine backup FILE`), then restore with --replace; "
            "nothing was changed", database=target, tables=holding)
    return holding


def restore(url: str, path: Path, *, replace: bool = False) -> Restored:
    """Restore a backup into the database at `url`, migrated to this code's schema.

    Refused, before anything is touched, when the archive is not a demine backup, comes
    from a newer schema, or the target holds data and `replace` is false. The target
    keeps its name and changes all at once, or not at all.
    """
    target = str(conninfo_to_dict(url).get("dbname") or "")
    if not target:
        raise InvalidInput("the database URL names no database to restore into")
    with psycopg.connect(_maintenance_url(url, target), autocommit=True) as admin:
        bindir = client_bindir(admin)
        archive = read_archive(bindir, path)
        check_known(archive)
        exists = admin.execute(DATABASE, {"name": target}).fetchone() is not None
        holding: list[str] = []
        if exists:
            _refuse_busy(admin, target)
            holding = _holding(url, target, replace=replace)
        scratch = f"{target[:40]}_restoring_{secrets.token_hex(4)}"
        _create_like(admin, scratch, target)
        try:
            conninfo, env = _client(with_dbname(url, scratch))
            result = _run([str(bindir / "pg_restore"), "--single-transaction",
                           "--exit-on-error", "--no-owner", "--no-privileges",
                           f"--dbname={conninfo}", str(path)], env)
            if result.returncode != 0:
                raise ProvisioningError(f"pg_restore failed, so nothing was changed: "
                                        f"{result.stderr.strip()}")
            try:
                applied = migrate.upgrade(with_dbname(url, scratch))
            except DemineError as exc:
                raise ProvisioningError(f"migrating the restored backup failed, so nothing "
                                        f"was changed: {exc.message}", **exc.detail) from exc
            retired = f"{target[:40]}_replaced_{secrets.token_hex(4)}"
            if exists and not replace:  # data may have arrived while the restore ran
                _holding(url, target, replace=False)
            try:
                with admin.transaction():
                    if exists:
                        admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                            sql.Identifier(target), sql.Identifier(retired)))
                    admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(scratch), sql.Identifier(target)))
            except psycopg.errors.ObjectInUse as exc:
                row = admin.execute(OTHER_SESSIONS, {"name": target}).fetchone()
                raise _busy(target, int(row[0]) if row else 1) from exc
        except BaseException:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(scratch)))
            raise
        leftover = None
        if exists:
            try:
                admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(retired)))
            except psycopg.Error:
                leftover = retired
    return Restored(archive=archive, database=target, replaced=bool(holding), applied=applied,
                    leftover=leftover)
