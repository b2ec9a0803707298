"""The `demine` command line: database, demo data and ledger commands.

A thin front over the same functions the API calls. `serve` is added by api/cli.py,
so that survey never imports api.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from survey.config import Settings
from survey.errors import DemineError

app = typer.Typer(help="demine: humanitarian demining information system", no_args_is_help=True)
db_app = typer.Typer(help="Database: provisioning and migrations", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)


def database_url(settings: Settings) -> str:
    """Find or provision the database and bring its schema up to date."""
    from survey.store import db, migrate

    url = db.resolve_database_url(settings)
    applied = migrate.upgrade(url)
    if applied:
        err.print(f"applied migrations: {', '.join(f'{m.version:04d}_{m.name}' for m in applied)}")
    return url


def fail(exc: DemineError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}")
    for key, value in exc.detail.items():
        err.print(f"  {key}: {value}")
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database if needed and apply pending migrations (a no-op when current)."""
    try:
        url = database_url(Settings())
    except DemineError as exc:
        raise fail(exc) from exc
    console.print(f"database is current: {_redact(url)}")


@db_app.command("status")
def db_status() -> None:
    """Show applied and pending migrations."""
    import psycopg

    from survey.store import db, migrate

    try:
        url = db.resolve_database_url(Settings())
        with psycopg.connect(url) as conn:
            done = migrate.applied(conn)
            todo = migrate.pending(conn)
    except DemineError as exc:
        raise fail(exc) from exc
    console.print(f"database: {_redact(url)}")
    for migration in migrate.available():
        state = "applied" if migration.version in done else "pending"
        console.print(f"  {migration.version:04d}_{migration.name}: {state}")
    console.print(f"{len(todo)} pending")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same data")] = 1,
    reset: Annotated[bool, typer.Option(help="delete existing programme data first")] = True,
) -> None:
    """Load a deterministic demo programme (Izium, Kharkiv oblast)."""
    from survey import demo as demo_data
    from survey.store import db

    try:
        url = database_url(Settings())
        started = time.perf_counter()
        data = demo_data.generate(seed)
        with db.connect(url) as conn, conn.transaction():
            if reset:
                demo_data.reset(conn)
            counts = demo_data.load(conn, data)
    except DemineError as exc:
        raise fail(exc) from exc
    for table, count in counts.items():
        console.print(f"  {table}: {count}")
    console.print(f"demo loaded in {time.perf_counter() - started:.1f} s; users "
                  f"{', '.join(demo_data.DEMO_USERS)} with password '{demo_data.DEMO_PASSWORD}'")


def _redact(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    if params.get("password"):
        params["password"] = "***"  # noqa: S105
    return make_conninfo(**params)
