"""`demine map overview OUT.html`: a map exported to one self-contained file.

Registered on the `demine` command by api/cli.py (survey's CLI never imports maps). The
file carries Leaflet, its plugins, the styles and the data inline: it opens from disk with
the network off. So every layer must be small enough to embed: a larger area is refused
with the counts (narrow it with --bbox) rather than cut short without a word.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from maps.common import save
from maps.overview import LAYER_NAMES, overview_map
from survey import maps_overview
from survey.accounts import cli_principal
from survey.auth import Principal
from survey.domain.vocab import Role
from survey.errors import InvalidInput
from survey.maps_overview import Bbox

map_app = typer.Typer(help="Maps exported to self-contained HTML files", no_args_is_help=True)


def export_overview(conn: psycopg.Connection, principal: Principal, out: Path, *,
                    bbox: Bbox | None = None, threshold: int = 20_000,
                    link_base: str = "") -> dict[str, int]:
    """Writes the overview of what `principal` may see (within `bbox`) to `out`, with
    every asset and every feature inline; returns the feature count per layer. Refuses
    (InvalidInput) when a layer holds more than `threshold` features."""
    layers = maps_overview.overview_data(conn, principal, threshold=threshold, bbox=bbox)
    too_big = {name: layer.total for name, layer in layers.items() if not layer.embedded}
    if too_big:
        counts = ", ".join(f"{LAYER_NAMES[name].lower()}: {total:,}"
                           for name, total in too_big.items())
        raise InvalidInput(f"too much for one self-contained file ({counts}; at most "
                           f"{threshold:,} per layer): narrow it with --bbox, or raise "
                           "--threshold")
    fmap = overview_map(
        layers, extent=maps_overview.extent(conn, principal) if bbox is None else bbox,
        place_names=maps_overview.place_names(conn, principal, bbox=bbox),
        assets="inline", link_base=link_base,
        search_index=maps_overview.search_index(conn, principal, bbox=bbox, limit=threshold)
        if principal.role != Role.PUBLIC else None,
        as_of=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    save(fmap, out)
    return {name: layer.total for name, layer in layers.items()}


@map_app.command("overview")
def overview(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="the HTML file to write")],
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat")] = None,
    as_user: Annotated[str | None, typer.Option(
        "--as-user", help="show only what this user may see (default: everything)")] = None,
    threshold: Annotated[int, typer.Option(
        help="most features of one layer the file may hold")] = 20_000,
    link_base: Annotated[str, typer.Option(
        help="server URL put before the records' links (e.g. https://demine.example.org)"
    )] = "",
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
) -> None:
    """The national overview (or the part in --bbox) as one file that opens offline.

    Leaflet, its plugins and every feature are inside the file; a layer too large for
    it is refused with the counts (narrow it with --bbox)."""
    from survey.cli import current_database_url, reported, settings_of
    from survey.domain.geometry import parse_bbox
    from survey.intake.export import principal_named
    from survey.store import db

    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out} exists: pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise typer.BadParameter(f"there is no folder {out.parent} to write {out.name} in")
    with reported():
        box = parse_bbox(bbox) if bbox else None
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                principal = (principal_named(conn, as_user) if as_user
                             else cli_principal(getpass.getuser()))
                counts = export_overview(conn, principal, out, bbox=box,
                                         threshold=threshold, link_base=link_base)
    shown = ", ".join(f"{LAYER_NAMES[name].lower()} {n:,}" for name, n in counts.items())
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {shown}")


def register(app: typer.Typer) -> None:
    """Adds `demine map ...` to the `demine` command: the overview here, the maps of one
    record (hazard-area, task, 3w) from maps/cli_records.py."""
    from maps.cli_records import register as register_record_maps

    register_record_maps(map_app)
    app.add_typer(map_app, name="map")
