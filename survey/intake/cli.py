"""`demine import FILE --as KIND`: a field file through the intake from the command line.

The same functions as POST /api/v1/submissions and .../approve. The command line acts as
an admin of the programme (survey.intake.submission.local_principal): whoever runs it on
the server holds the database's credentials already; the audit log names the operating-
system user.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from survey.intake.kinds import RecordKind

# a progress bar for files larger than this (smaller ones are read in a blink)
PROGRESS_BYTES = 2 * 2**20
# issues listed one by one in the summary; --json prints all of them
LISTED_ISSUES = 40

PROGRAMMES = "SELECT id, code FROM programme ORDER BY code"


def _programme_id(conn: Any, code: str | None) -> Any:
    from survey.errors import InvalidInput

    found = conn.execute(PROGRAMMES).fetchall()
    if code is not None:
        for pid, pcode in found:
            if pcode == code:
                return pid
        raise InvalidInput(f"no programme {code!r}: the database holds "
                           + (", ".join(c for _, c in found) or "none"))
    if len(found) == 1:
        return found[0][0]
    if not found:
        raise InvalidInput("the database holds no programme yet: create one first")
    raise InvalidInput("the database holds several programmes: name one with --programme ("
                       + ", ".join(c for _, c in found) + ")")


def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="the field file (GeoJSON, GeoPackage, zipped "
                                              "Shapefile, KML/KMZ, GPX, CSV, XLSX, KoBo/ODK "
                                              "exports, turn-point sheets)")],
    as_: Annotated[RecordKind, typer.Option("--as", help="what the file holds")],
    mapping: Annotated[str | None, typer.Option(
        help="a column mapping: nts, progress-report, device-find, a record kind, or a "
             "YAML file")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check the file, keep nothing")
                       ] = False,
    approve: Annotated[bool, typer.Option("--approve", help="approve at once when the file "
                                          "has no errors (all records or none)")] = False,
    json_: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    programme: Annotated[str | None, typer.Option(
        help="the programme's code, when the database holds several")] = None,
) -> None:
    """Import a field file: check every row, keep the report, approve on request.

    Exit status 1 when the file has errors (nothing of it is written), 2 when the command
    could not run (or the approval was refused: then nothing was written either).
    """
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from survey.cli import console, database_url, err, reported, settings_of
    from survey.intake import submission
    from survey.store import db

    approval = None
    with reported():
        settings = settings_of(ctx)
        url = database_url(settings)
        with db.connect(url) as conn:
            with conn.transaction():
                principal = submission.local_principal(_programme_id(conn, programme),
                                                       getpass.getuser())
                show = file.stat().st_size >= PROGRESS_BYTES
                with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                              TextColumn("{task.completed:,.0f} rows"), TimeElapsedColumn(),
                              console=err, transient=True, disable=not show) as bar:
                    task = bar.add_task(f"reading {file.name}", total=None)

                    def progress(phase: str, rows: int) -> None:
                        bar.update(task, description=f"{phase}: {file.name}", completed=rows)

                    report = submission.submit(
                        conn, path=file, name=file.name, kind=as_, principal=principal,
                        mapping=mapping, dry_run=dry_run,
                        store=settings.data_dir / "submissions", progress=progress)
            if approve and not dry_run and report.status == "validated":
                with conn.transaction(), err.status("approving: writing every record",
                                                    spinner="dots"):
                    # a refusal's note is committed with this transaction, then raised
                    outcome = submission.approve(conn, submission_id=report.submission_id,
                                                 principal=principal)
                approval = outcome.result()
    if json_:
        out = report.as_dict()
        if approval is not None:
            out["approval"] = {"written": approval.written, "warnings": approval.warnings}
        typer.echo(json.dumps(out, ensure_ascii=False, default=str, indent=1))
    else:
        _summary(console, report, approval, dry_run)
    if report.errors:
        raise typer.Exit(code=1)


def _summary(console: Any, report: Any, approval: Any, dry_run: bool) -> None:
    from rich.table import Table

    data = report.report
    counts = data.get("counts", {})
    crs = data.get("crs") or "?"
    if data.get("epsg"):
        crs = f"EPSG:{data['epsg']}"
    if report.repeat:
        console.print(f"[yellow]{data.get('message')}[/yellow]")
    console.print(f"[bold]{data.get('file')}[/bold] ({data.get('format')}, source CRS {crs}): "
                  f"{counts.get('features', 0):,} feature(s) read, "
                  f"{counts.get('staged', 0):,} record(s), {counts.get('errors', 0):,} "
                  f"error(s), {counts.get('warnings', 0):,} warning(s)")
    totals = data.get("totals") or {}
    if totals:
        table = Table("kind", "records", "area m²", "length m", title="Totals (geodesic)")
        for kind, t in totals.items():
            area, length = t.get("area_m2"), t.get("length_m")
            table.add_row(kind, f"{t['count']:,}", "" if area is None else f"{area:,.2f}",
                          "" if length is None else f"{length:,.2f}")
        console.print(table)
    if report.issues:
        by_code: dict[tuple[str, str, str], int] = {}
        for issue in report.issues:
            key = (issue["severity"], issue.get("code") or "", issue.get("field") or "")
            by_code[key] = by_code.get(key, 0) + 1
        table = Table("severity", "issue", "field", "rows", title="Issues")
        for (severity, code, field), n in sorted(by_code.items()):
            style = "red" if severity == "error" else "yellow"
            table.add_row(f"[{style}]{severity}[/{style}]", code, field, f"{n:,}")
        console.print(table)
        listed = Table("row", "field", "severity", "message",
                       title=f"First {min(LISTED_ISSUES, len(report.issues))} of "
                             f"{len(report.issues):,} issue(s) (--json lists all)")
        for issue in report.issues[:LISTED_ISSUES]:
            listed.add_row("" if issue.get("row") is None else str(issue["row"]),
                           issue.get("field") or "", issue["severity"], issue["message"])
        console.print(listed)
    if dry_run:
        console.print("dry run: nothing was kept")
    elif report.repeat is None:
        console.print(f"submission {report.submission_id}: {report.status}")
    if approval is not None:
        written = ", ".join(f"{table} {n:,}" for table, n in approval.written.items())
        console.print(f"[green]approved[/green]: {written or 'nothing to write'}")
        for warning in approval.warnings:
            console.print(f"  row {warning.get('row')}: {warning.get('message')}")
