"""`demine map hazard-area ID OUT.html`, `demine map task ID OUT.html` and
`demine map 3w OUT.html`: the maps of one record as one self-contained file (Leaflet,
plugins and styles inlined), which opens from disk with the network off.

They read as an admin (the command line holds the database's credentials), or as the
user named by --as-user, to hand someone a map of only what they may see. Registered on
the `map` group of maps/cli.py by `register(map_app)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import folium
    import psycopg

    from survey.auth import Principal

OUT = Annotated[Path, typer.Argument(dir_okay=False, help="the HTML file to write")]
AS_USER = Annotated[str | None, typer.Option(
    "--as-user", help="show only what this user may see (default: everything)")]
LINK_BASE = Annotated[str, typer.Option(
    help="the server's URL, put before the links to records (e.g. https://demine.example.org)")]
OVERWRITE = Annotated[bool, typer.Option(help="replace OUT if it exists")]


def _export(ctx: typer.Context, out: Path, overwrite: bool, as_user: str | None,
            build: Any) -> None:
    """Read with the principal of the command line (or --as-user), build the map with
    `build(conn, principal)` and write it to `out` with every asset inlined."""
    import getpass

    from survey.accounts import cli_principal
    from survey.cli import console, current_database_url, reported, settings_of
    from survey.intake.export import principal_named
    from survey.store import db

    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out} exists: pass --overwrite to replace it")
    from maps.common import save

    with reported():
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn:
            principal = (principal_named(conn, as_user) if as_user
                         else cli_principal(getpass.getuser()))
            fmap = build(conn, principal)
    save(fmap, out)
    console.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def hazard_area_command(
    ctx: typer.Context,
    hazard_area: Annotated[str, typer.Argument(help="UUID or local id")],
    out: OUT, as_user: AS_USER = None, link_base: LINK_BASE = "",
    overwrite: OVERWRITE = False,
) -> None:
    """Write the map of one hazard area (with its ledger table) to one HTML file."""
    def build(conn: psycopg.Connection, principal: Principal) -> folium.Map:
        from maps.hazard import hazard_area_map
        from survey import maps_data
        from survey.ledger.history import resolve_hazard_id

        data = maps_data.hazard_area_map(
            conn, hazard_area_id=resolve_hazard_id(conn, hazard_area), principal=principal)
        return hazard_area_map(data, assets="inline", link_base=link_base)

    _export(ctx, out, overwrite, as_user, build)


def task_command(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="UUID or local id")],
    out: OUT, as_user: AS_USER = None, link_base: LINK_BASE = "",
    overwrite: OVERWRITE = False,
) -> None:
    """Write the map of one task (with its progress) to one HTML file."""
    def build(conn: psycopg.Connection, principal: Principal) -> folium.Map:
        from maps.task import task_map
        from survey import maps_data

        data = maps_data.task_map(conn, task_id=maps_data.resolve_task_id(conn, task),
                                  principal=principal)
        return task_map(data, assets="inline", link_base=link_base)

    _export(ctx, out, overwrite, as_user, build)


def who_command(
    ctx: typer.Context, out: OUT,
    programme: Annotated[str | None, typer.Option(
        help="programme code (default: every programme the reader may see)")] = None,
    as_user: AS_USER = None, link_base: LINK_BASE = "", overwrite: OVERWRITE = False,
) -> None:
    """Write the who-what-where (3W) map to one HTML file."""
    def build(conn: psycopg.Connection, principal: Principal) -> folium.Map:
        from maps.who import who_map
        from survey import maps_data
        from survey.accounts import resolve_programme

        programme_id = resolve_programme(conn, programme) if programme else None
        data = maps_data.who_what_where(conn, principal=principal, programme_id=programme_id)
        return who_map(data, assets="inline", link_base=link_base)

    _export(ctx, out, overwrite, as_user, build)


def register(map_app: typer.Typer) -> None:
    """Add the record maps' commands to the `demine map` group."""
    map_app.command("hazard-area")(hazard_area_command)
    map_app.command("task")(task_command)
    map_app.command("3w")(who_command)
