"""`demine report progress|national|forecast ... OUT`: a report rendered to a file.

Registered on the `demine` command by api/cli.py (survey's CLI never imports maps). The
figures come from `survey.reports` (the same functions the API calls) in one read-only
snapshot, so that every figure of a report is of the same instant; the command line acts
as an admin (`survey.accounts.cli_principal`).
"""

from __future__ import annotations

import getpass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer


class Kind(StrEnum):
    progress = "progress"
    national = "national"
    forecast = "forecast"


class Language(StrEnum):
    en = "en"
    uk = "uk"


class OutputFormat(StrEnum):
    json = "json"
    html = "html"
    pdf = "pdf"
    csv = "csv"
    xlsx = "xlsx"


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def report(
    ctx: typer.Context,
    kind: Annotated[Kind, typer.Argument(help="progress, national or forecast")],
    out: Annotated[Path, typer.Argument(dir_okay=False, help="file to write ('-': stdout)")],
    date_from: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD")] = None,
    donor: Annotated[UUID | None, typer.Option(help="donor id")] = None,
    project: Annotated[UUID | None, typer.Option(help="project id")] = None,
    organisation: Annotated[UUID | None, typer.Option(help="organisation id")] = None,
    admin_area: Annotated[UUID | None, typer.Option(help="admin area id")] = None,
    hazard_area: Annotated[UUID | None, typer.Option(help="hazard area id")] = None,
    lang: Annotated[Language, typer.Option(help="language of the report")] = Language.en,
    format: Annotated[OutputFormat, typer.Option(
        help="json, html, pdf, csv (a ZIP of one CSV a table, or --table) or xlsx")
    ] = OutputFormat.pdf,
    table: Annotated[str | None, typer.Option(help="csv: this table alone (its key)")] = None,
    base_url: Annotated[str, typer.Option(
        help="put in front of the record links, e.g. https://demine.example.org")] = "",
    teams: Annotated[int | None, typer.Option(
        min=1, help="forecast: teams deployed (default: as measured)")] = None,
    team_days: Annotated[float | None, typer.Option(
        "--team-days-per-team-month", min=0.1,
        help="forecast: team-days a team works a month (default: as measured)")] = None,
) -> None:
    """Render a report (progress, national status or completion forecast) to a file."""
    import sys

    from psycopg import IsolationLevel

    from maps.reports import render
    from survey import accounts
    from survey.cli import console, current_database_url, reported, settings_of
    from survey.reports.forecast import ForecastOptions, forecast_report
    from survey.reports.model import ReportFilters
    from survey.reports.national import national_report
    from survey.reports.progress import progress_report
    from survey.store import db

    filters = ReportFilters(date_from=_day(date_from), date_to=_day(date_to), donor_id=donor,
                            project_id=project, organisation_id=organisation,
                            admin_area_id=admin_area, hazard_area_id=hazard_area)
    options = ForecastOptions(teams=teams, team_days_per_team_month=team_days)
    with reported():
        url = current_database_url(settings_of(ctx))
        principal = accounts.cli_principal(getpass.getuser())
        with db.connect(url) as conn:
            # one snapshot: every figure of the report is of the same instant
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                if kind is Kind.progress:
                    made = progress_report(conn, principal=principal, filters=filters)
                elif kind is Kind.national:
                    made = national_report(conn, principal=principal, filters=filters,
                                           options=options)
                else:
                    made = forecast_report(conn, principal=principal, filters=filters,
                                           options=options)
        rendered = render(made, format=format.value, lang=lang.value,  # type: ignore[arg-type]
                          base_url=base_url, table=table)
    if str(out) == "-":
        sys.stdout.buffer.write(rendered.content)
        return
    out.write_bytes(rendered.content)
    note = " (nothing recorded in the period)" if made.empty else ""
    console.print(f"{kind.value} report written: {out} ({rendered.media_type}, "
                  f"{len(rendered.content):,} bytes){note}")


def register(app: typer.Typer) -> None:
    """Add `report` to the `demine` command."""
    app.command("report")(report)
