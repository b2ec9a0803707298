"""`demine export`: the records of the store as GeoPackage, GeoJSON, zipped Shapefile, CSV
or KML, filtered (survey.intake.export). Reads only, and never migrates: on a schema that
is behind it says which migrations are pending and exits 2, as the other read-only
commands do.

survey/cli.py registers it: `app.command("export")(export_command)`.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from survey.intake.export import ExportFormat, ExportKind

KINDS_HELP = ("record kind to export, repeatable: hazard-areas, releases, evidence-points, "
              "marker-points, device-finds, tasks, tracks (default: all)")


def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(dir_okay=False, help="the file to write")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg, geojson, shp, csv or kml")],
    kind: Annotated[list[str] | None, typer.Option("--kind", help=KINDS_HELP)] = None,
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat")] = None,
    admin_area: Annotated[str | None, typer.Option(
        help="admin area (code, name or id): records that intersect it")] = None,
    organisation: Annotated[str | None, typer.Option(
        help="organisation (name, acronym or id)")] = None,
    project: Annotated[str | None, typer.Option(help="project (code, name or id)")] = None,
    status: Annotated[str | None, typer.Option(
        help="hazard area status: open, worked_on, closed, handed_over")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    as_user: Annotated[str | None, typer.Option(
        "--as-user", help="export only what this user may see (default: everything)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
) -> None:
    """Export records as GeoPackage, GeoJSON, zipped Shapefile, CSV or KML (reads only)."""
    import psycopg
    from rich.progress import Progress, SpinnerColumn, TextColumn
    from rich.table import Table

    from survey.cli import console, current_database_url, err, reported, settings_of
    from survey.domain.geometry import parse_bbox
    from survey.domain.vocab import HazardStatus
    from survey.intake import export as ex
    from survey.store import db

    try:
        export_format = ex.ExportFormat(fmt.lower())
        kinds = [ex.ExportKind(k) for k in kind or []]
        hazard_status = HazardStatus(status) if status else None
        first = date.fromisoformat(date_from) if date_from else None
        last = date.fromisoformat(date_to) if date_to else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out} exists: pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise typer.BadParameter(f"there is no folder {out.parent} to write {out.name} in")

    started = time.perf_counter()
    with reported():
        url = current_database_url(settings_of(ctx))
        with db.connect(url) as conn:
            # one snapshot for every layer, and nothing written by mistake
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                filters = ex.ExportFilter(
                    bbox=parse_bbox(bbox) if bbox else None,
                    admin_area_id=ex.resolve(conn, "admin area", admin_area)
                    if admin_area else None,
                    organisation_id=ex.resolve(conn, "organisation", organisation)
                    if organisation else None,
                    project_id=ex.resolve(conn, "project", project) if project else None,
                    status=hazard_status, date_from=first, date_to=last)
                scope = (ex.ExportScope(ex.principal_named(conn, as_user)) if as_user
                         else ex.ExportScope.whole_store())
                chosen = ex.visible_kinds(conn, scope, kinds)
                suffix, _ = ex.layout(export_format, chosen)
                if out.suffix and out.suffix.lower() != suffix:
                    raise typer.BadParameter(
                        f"this export is a {suffix} file ({_why(export_format, chosen)}): "
                        f"name it {out.with_suffix(suffix).name}")
                with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                              TextColumn("{task.completed:,.0f} features"), console=err,
                              transient=True) as bar:
                    tasks = {k: bar.add_task(k.layer, total=None) for k in chosen}
                    result = ex.export(conn, out=out, fmt=export_format, scope=scope,
                                       filters=filters, kinds=chosen,
                                       progress=lambda k, n: bar.advance(tasks[k], n))
    table = Table("layer", "features")
    for k, count in result.counts.items():
        table.add_row(k.layer, f"{count:,}")
    console.print(table)
    size_mb = out.stat().st_size / 2**20
    console.print(f"wrote {out} ({size_mb:.1f} MB, {result.total:,} features) in "
                  f"{time.perf_counter() - started:.1f} s")
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {note}")


def _why(fmt: ExportFormat, kinds: tuple[ExportKind, ...]) -> str:
    if fmt == "shp":
        return "one Shapefile per kind, zipped"
    if fmt in ("geojson", "csv") and len(kinds) > 1:
        return f"{len(kinds)} kinds, one file each, zipped; choose one with --kind for a bare file"
    return f"a {fmt} export"
