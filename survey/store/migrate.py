"""Schema migrations: numbered `.sql` files applied in order, once, in one transaction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from survey.errors import ProvisioningError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# any constant works; it keeps two processes from migrating the same database at once
_LOCK_KEY = 0x64656D696E65

CREATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version integer PRIMARY KEY,
    name text NOT NULL,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("survey.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def applied(conn: psycopg.Connection) -> dict[int, str]:
    """Versions recorded as applied, with their checksums (empty on a new database)."""
    exists = conn.execute("SELECT to_regclass('schema_migration') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, sha256 FROM schema_migration").fetchall()
    return {version: digest for version, digest in rows}


def pending(conn: psycopg.Connection) -> list[Migration]:
    """Migrations not yet applied; a changed applied file is an error, not a silent skip."""
    done = applied(conn)
    todo = []
    for migration in available():
        if migration.version in done:
            if done[migration.version] != migration.sha256:
                raise ProvisioningError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; add a new migration instead of editing an applied one")
        else:
            todo.append(migration)
    return todo


def upgrade(url: str) -> list[Migration]:
    """Apply every pending migration in one transaction; return what was applied."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(CREATE_VERSIONS)
        todo = pending(conn)
        for migration in todo:
            try:
                # a migration file is trusted package data, run as one script
                conn.execute(sql.SQL(migration.text))  # type: ignore[arg-type]
            except psycopg.errors.FeatureNotSupported as exc:
                raise ProvisioningError(POSTGIS_MISSING, cause=str(exc)) from exc
            except psycopg.errors.UndefinedFile as exc:
                raise ProvisioningError(POSTGIS_MISSING, cause=str(exc)) from exc
            conn.execute(
                "INSERT INTO schema_migration (version, name, sha256) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.sha256))
    return todo


POSTGIS_MISSING = (
    "the server has no PostGIS extension: run `make setup` as root, or install the Debian "
    "package postgresql-<major>-postgis-3 for your server's major version"
)
