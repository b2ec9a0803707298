"""Finding or creating the PostGIS database, and opening connections to it.

Order of preference (DESIGN.md section 7): DEMINE_DATABASE_URL; else a PostgreSQL
server reachable at DEMINE_SERVER_URL gets a `demine` database; else a private
cluster is started in the data directory (the embedded default).
"""

from __future__ import annotations

import os
import pwd
import select
import shutil
import subprocess
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from survey.config import Settings
from survey.errors import ProvisioningError
from survey.store.adapt import register_geometry

CLUSTER_PORT = 54329


def with_dbname(url: str, dbname: str) -> str:
    """The same connection string pointing at another database."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def create_database(server_url: str, name: str, *, drop_first: bool = False) -> str:
    """Create database `name` on a server (if missing) and return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        if drop_first:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_dbname(server_url, name)


def _pg_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name))
    if not candidates:
        found = shutil.which("initdb")
        if found:
            return Path(found).parent
        raise ProvisioningError(
            "no PostgreSQL server is reachable and none is installed: run `make setup` "
            "as root (it installs postgresql and postgis), or set DEMINE_DATABASE_URL"
        )
    return candidates[-1].parent


def _run_as_owner(cmd: list[str], owner: str | None) -> None:
    if owner:
        cmd = ["runuser", "-u", owner, "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ProvisioningError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()}")


def _reachable_by(owner: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["runuser", "-u", owner, "--", "test", "-x", str(directory)],  # noqa: S603,S607
                           check=False)
    if probe.returncode != 0:
        raise ProvisioningError(
            f"the {owner} user cannot reach {directory}: choose a DEMINE_DATA_DIR that it can "
            "enter (every parent directory executable for others), or set DEMINE_DATABASE_URL")


def start_private_cluster(data_dir: Path, port: int = CLUSTER_PORT) -> str:
    """Initialise (once) and start a PostgreSQL cluster in `data_dir`; return its server
    connection string (a Unix socket in the data directory)."""
    bindir = _pg_bindir()
    pgdata = (data_dir / "pgdata").resolve()
    # PostgreSQL refuses to run as root: the cluster belongs to the postgres user then
    owner = "postgres" if os.geteuid() == 0 else None
    if owner:
        try:
            pwd.getpwnam(owner)
        except KeyError as exc:
            raise ProvisioningError("running as root needs a `postgres` system user") from exc
    if owner:
        _reachable_by(owner, pgdata.parent)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(pgdata, owner, owner)
        _run_as_owner([str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres",
                       "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"], owner)
    # trust authentication, so no TCP listener: only the owner (and root) can reach the
    # socket in the 0700 data directory
    url = make_conninfo("", host=str(pgdata), port=port, user="postgres", dbname="postgres")
    if not answers(url):
        _run_as_owner([str(bindir / "pg_ctl"), "-D", str(pgdata), "-l",
                       str(pgdata / "server.log"), "-w", "-o",
                       f"-p {port} -c listen_addresses='' -k {pgdata}", "start"], owner)
    return url


def stop_private_cluster(data_dir: Path) -> None:
    """Stop the cluster that start_private_cluster started in `data_dir` (if running)."""
    pgdata = (data_dir / "pgdata").resolve()
    if (pgdata / "postmaster.pid").exists():
        owner = "postgres" if os.geteuid() == 0 else None
        _run_as_owner([str(_pg_bindir() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w",
                       "stop"], owner)


def resolve_database_url(settings: Settings) -> str:
    """The URL of the demine database, creating the database or a cluster when needed."""
    if settings.database_url:
        if not answers(settings.database_url):
            raise ProvisioningError(
                "DEMINE_DATABASE_URL is set but the database does not answer")
        return settings.database_url
    server = settings.server_url
    if not answers(server):
        server = start_private_cluster(settings.data_dir)
    return create_database(server, settings.database_name)


def configure_connection(conn: psycopg.Connection) -> None:
    """Per-connection set-up: geometry adapters."""
    register_geometry(conn)
    # TypeInfo.fetch opened a transaction; leave the connection idle for the pool
    conn.commit()


# A connection handed out this recently (seconds) is handed out again without the check's
# round trip, unless its socket has something to read. (Not timed from its return: a reset
# callback would make the pool return every connection through its worker thread.)
CHECK_AFTER_IDLE_S = 2.0
_handed_out: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _server_spoke(conn: psycopg.Connection) -> bool:
    """Whether an idle connection's socket has something to read: a server that shuts down
    or ends the session sends a FATAL notice and closes it, and asked nothing, a healthy
    one sends nothing. True when it cannot tell (no poll, a closed connection)."""
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (AttributeError, OSError, psycopg.Error):
        return True


def check_connection(conn: psycopg.Connection) -> None:
    """The pool's check, with its round trip only where a dead connection can hide: one
    not handed out for CHECK_AFTER_IDLE_S or more, or whose socket has something to
    read. A database restart or a terminated session is seen at once without it (the
    server says so on the socket); only a connection cut silently (a network partition)
    within those seconds goes unnoticed, and then the request fails on it (503) as it
    would mid-query. Saves a round trip on most requests of a busy server."""
    now = time.monotonic()
    last = _handed_out.get(conn)
    _handed_out[conn] = now
    if last is None or now - last >= CHECK_AFTER_IDLE_S or _server_spoke(conn):
        ConnectionPool.check_connection(conn)


def open_pool(url: str, settings: Settings) -> ConnectionPool:
    """A connection pool whose connections speak shapely; waits until it is usable.

    Each connection is checked as it is handed out (check_connection), so that after a
    database restart a request gets a fresh connection instead of a dead one; a request
    that finds every connection busy for `pool_timeout_s` gets PoolTimeout (answered
    503), not a hang.
    """
    options = {"application_name": "demine"}
    if settings.statement_timeout_ms:
        options["options"] = f"-c statement_timeout={int(settings.statement_timeout_ms)}"
    pool = ConnectionPool(url, min_size=settings.pool_min_size, max_size=settings.pool_max_size,
                          configure=configure_connection, check=check_connection,
                          timeout=settings.pool_timeout_s, open=False,
                          kwargs=options)
    pool.open(wait=True, timeout=30)
    return pool


@contextmanager
def connect(url: str) -> Iterator[psycopg.Connection]:
    """One connection with the geometry adapters, for the CLI and tests."""
    with psycopg.connect(url) as conn:
        configure_connection(conn)
        yield conn


SERVER_FACTS = """
SELECT postgis_lib_version(), (SELECT max(version) FROM schema_migration)
"""


def server_facts(conn: psycopg.Connection) -> tuple[str, int]:
    """PostGIS version and schema version: a real round trip for /health."""
    row = conn.execute(SERVER_FACTS).fetchone()
    if row is None:
        raise ProvisioningError("the database did not answer")
    return str(row[0]), int(row[1])


def answers(url: str, *, timeout_s: int = 3) -> bool:
    """Whether a new connection to `url` can be opened right now (outside any pool)."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s):
            return True
    except psycopg.Error:
        return False
