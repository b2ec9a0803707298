"""The `demine` command line: database, backups, demo data and ledger commands.

A thin front over the same functions the API calls. `serve` is added by api/cli.py,
so that survey never imports api.

Settings are read once, by the callback, and kept on the typer context. Only the commands
that set a database up (`db upgrade`, `demo`, `serve`, `restore`) apply migrations; the
others read the database as it is, and refuse with exit 2 when its schema is behind this
code, naming the pending migrations, so that a look at the data never changes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from survey.config import Settings
from survey.errors import DemineError, ProvisioningError

app = typer.Typer(help="demine: humanitarian demining information system", no_args_is_help=True)
db_app = typer.Typer(help="Database: provisioning and migrations", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)


@app.callback()
def main(ctx: typer.Context) -> None:
    """demine: humanitarian demining information system."""
    with reported():
        ctx.obj = Settings()


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the callback read (read here when a command runs on its own)."""
    return ctx.ensure_object(Settings)


def fail(exc: DemineError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}")
    for key, value in exc.detail.items():
        err.print(f"  {key}: {value}")
    return typer.Exit(code=2)


@contextmanager
def reported() -> Iterator[None]:
    """Turn a domain error, or DEMINE_* settings that do not validate, into a message in red
    (with its details) and exit code 2."""
    try:
        yield
    except DemineError as exc:
        raise fail(exc) from exc
    except ValidationError as exc:
        problems = "; ".join(f"DEMINE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        err.print(f"[red]error:[/red] the DEMINE_* settings are not valid: {problems}")
        raise typer.Exit(code=2) from exc


def database_url(settings: Settings) -> str:
    """Find or provision the database and bring its schema up to date."""
    from survey.store import db, migrate

    url = db.resolve_database_url(settings)
    applied = migrate.upgrade(url)
    if applied:
        err.print(f"applied migrations: {', '.join(f'{m.version:04d}_{m.name}' for m in applied)}")
    return url


def current_database_url(settings: Settings) -> str:
    """Find the database, which must already have this code's schema: never migrates."""
    import psycopg

    from survey.store import db, migrate

    url = db.resolve_database_url(settings)
    with psycopg.connect(url) as conn:
        todo = migrate.pending(conn)
    if todo:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in todo)
        raise ProvisioningError(
            f"the database schema is behind this demine ({len(todo)} migration(s) pending: "
            f"{names}); this command only reads, so it changed nothing: run `demine db "
            "upgrade` (after `demine backup FILE`, if you want a way back)",
            pending=[m.version for m in todo])
    return url


def _redact(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    if params.get("password"):
        params["password"] = "***"  # noqa: S105
    return make_conninfo("", **params)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create the database if needed and apply pending migrations (a no-op when current)."""
    with reported():
        url = database_url(settings_of(ctx))
    console.print(f"database is current: {_redact(url)}")


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Show applied and pending migrations (applies none)."""
    import psycopg

    from survey.store import db, migrate

    with reported():
        url = db.resolve_database_url(settings_of(ctx))
        with psycopg.connect(url) as conn:
            done = migrate.applied(conn)
            todo = migrate.pending(conn)
    console.print(f"database: {_redact(url)}")
    for migration in migrate.available():
        state = "applied" if migration.version in done else "pending"
        console.print(f"  {migration.version:04d}_{migration.name}: {state}")
    console.print(f"{len(todo)} pending")


@app.command()
def demo(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same data")] = 1,
    reset: Annotated[bool, typer.Option(help="delete existing programme data first")] = True,
) -> None:
    """Load a deterministic demo programme (Izium, Kharkiv oblast)."""
    from survey import demo as demo_data
    from survey.store import db

    with reported():
        url = database_url(settings_of(ctx))
        started = time.perf_counter()
        data = demo_data.generate(seed)
        with db.connect(url) as conn, conn.transaction():
            if reset:
                demo_data.reset(conn)
            counts = demo_data.load(conn, data)
    for table, count in counts.items():
        console.print(f"  {table}: {count}")
    console.print(f"demo loaded in {time.perf_counter() - started:.1f} s; users "
                  f"{', '.join(demo_data.DEMO_USERS)} with password '{demo_data.DEMO_PASSWORD}'")


@app.command()
def backup(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(dir_okay=False,
                                        help="file to write (pg_dump custom format)")],
    overwrite: Annotated[bool, typer.Option(help="replace the file if it exists")] = False,
) -> None:
    """Back the database up to a file that pg_restore reads (applies no migration)."""
    from survey.store import backup as store_backup
    from survey.store import db

    with reported():
        url = db.resolve_database_url(settings_of(ctx))
        archive = store_backup.backup(url, out, overwrite=overwrite)
    size_mb = out.stat().st_size / 2**20
    console.print(f"backup written: {out} ({size_mb:.1f} MB, database {archive.database}, "
                  f"schema version {archive.schema_version})")


@app.command()
def restore(
    ctx: typer.Context,
    archive: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                            help="a file written by `demine backup`")],
    replace: Annotated[bool, typer.Option(
        "--replace", "--force",
        help="replace a database that holds data (all of it: back it up first)")] = False,
) -> None:
    """Restore a backup into the configured database, migrated to this demine's schema.

    All or nothing: the backup is restored and migrated in a new database, which then
    takes the configured database's name. A database that holds data is only replaced
    with --replace; a backup from a newer demine is refused before anything is touched.
    """
    from survey.store import backup as store_backup
    from survey.store import db

    with reported():
        url = db.resolve_database_url(settings_of(ctx))
        done = store_backup.restore(url, archive, replace=replace)
    info = done.archive
    console.print(f"restored {archive} (taken {info.created or 'at an unknown time'} from "
                  f"database {info.database or '?'}, schema version {info.schema_version}) "
                  f"into database {done.database}"
                  + ("; it replaced the database's previous contents" if done.replaced else ""))
    if done.applied:
        console.print("applied migrations: "
                      + ", ".join(f"{m.version:04d}_{m.name}" for m in done.applied))
    if done.leftover:
        err.print(f"[yellow]warning:[/yellow] the replaced database was kept as "
                  f"{done.leftover}: drop it when you no longer need it")


ledger_app = typer.Typer(help="The land release ledger", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("show")
def ledger_show(ctx: typer.Context,
                hazard_area: Annotated[str, typer.Argument(help="UUID or local id")]) -> None:
    """Show a hazard area's books: each release and what remained after it."""
    from rich.table import Table

    from survey.access import Scope
    from survey.ledger import history
    from survey.store import db

    with reported():
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn:
            books = history.ledger(conn, hazard_area_id=history.resolve_hazard_id(conn,
                                                                                  hazard_area),
                                   scope=Scope.everything())
    h = books["hazard_area"]
    console.print(f"[bold]{h['local_id']}[/bold] {h['classification']} {h['status']}: "
                  f"{h['area_m2']:,.2f} m² = cancelled {h['cancelled_m2']:,.2f} + reduced "
                  f"{h['reduced_m2']:,.2f} + cleared {h['cleared_m2']:,.2f} + remaining "
                  f"{h['remaining_area_m2']:,.2f}")
    table = Table("date", "product", "method", "area m²", "remaining after m²", "release")
    for r in books["releases"]:
        table.add_row(str(r["release_date"]), r["product"], r["method"], f"{r['area_m2']:,.2f}",
                      f"{r['remaining_after_m2']:,.2f}", str(r["id"]))
    console.print(table)


@app.command()
def check(ctx: typer.Context,
          repair: Annotated[bool, typer.Option(help="recompute remaining geometry of the "
                                               "offenders and rebuild the summary")] = False
          ) -> None:
    """Check the conservation invariant over the whole store (exit 1 when it fails)."""
    from survey.ledger import check as ledger_check
    from survey.store import db

    with reported():
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn, conn.transaction():
            offenders = ledger_check.find_discrepancies(conn)
            drift = ledger_check.summary_drift(conn)
            if repair and (offenders or drift):
                ledger_check.repair(conn, hazard_area_ids=[o.hazard_area_id for o in offenders],
                                    actor="demine check --repair")
                ledger_check.rebuild_summary(conn)
                remaining_offenders = ledger_check.find_discrepancies(conn)
                drift_after = ledger_check.summary_drift(conn)
    for o in offenders:
        console.print(f"{o.hazard_area_id} {o.local_id}: area {o.area_m2:.2f} m² ≠ released "
                      f"{o.cancelled_m2 + o.reduced_m2 + o.cleared_m2:.2f} + remaining "
                      f"{o.remaining_ground_m2:.2f} (discrepancy {o.discrepancy_m2:+.4f} m²; "
                      f"kept remaining total {o.remaining_area_m2:.2f} m²)")
    if drift:
        console.print(f"ledger summary: {drift} row(s) differ from the releases")
    if not offenders and not drift:
        console.print("ledger balances: area = cancelled + reduced + cleared + remaining "
                      "for every hazard area")
        return
    if repair:
        console.print(f"repaired {len(offenders)} hazard area(s) and the summary; "
                      f"{len(remaining_offenders)} still off, summary drift {drift_after}")
        if not remaining_offenders and not drift_after:
            return
    raise typer.Exit(code=1)


@app.command()
def stats(
    ctx: typer.Context,
    date_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    period: Annotated[str, typer.Option(help="day, month or year")] = "year",
) -> None:
    """National totals from the ledger (JSON)."""
    import json
    from datetime import date

    from survey.ledger import stats as ledger_stats
    from survey.store import db

    if period not in ("day", "month", "year"):
        raise typer.BadParameter("period is day, month or year")
    try:
        f = ledger_stats.StatsFilter(
            date_from=date.fromisoformat(date_from) if date_from else None,
            date_to=date.fromisoformat(date_to) if date_to else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with reported():
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn:
            figures = ledger_stats.ledger_stats(conn, f, period=period)  # type: ignore[arg-type]
    console.print_json(json.dumps(figures, default=str))


# Commands that live with their feature (STYLE.md habit 15), registered last: they import
# this module's helpers.
from survey.intake.cli import import_command  # noqa: E402
from survey.intake.export_cli import export_command  # noqa: E402

app.command("import")(import_command)
app.command("export")(export_command)
from survey.accounts_cli import token_app, user_app  # noqa: E402

app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
