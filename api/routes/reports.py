"""Reports for donors and national authorities: progress, national status, forecast.

JSON by default (the figures, each with its source); `format=html|pdf|csv|xlsx` renders
the same report through `maps.reports.render` in the language asked for.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import Conn, CurrentUser
from api.schemas_reports import ReportPublic
from survey.errors import InvalidInput
from survey.reports.forecast import ForecastOptions, forecast_report
from survey.reports.model import Report, ReportFilters
from survey.reports.national import national_report
from survey.reports.progress import progress_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Format = Literal["json", "html", "pdf", "csv", "xlsx"]
Lang = Literal["en", "uk"]

RENDERED: dict[int | str, dict[str, Any]] = {200: {
    "description": "The report as JSON, or rendered in the format asked for",
    "content": {"text/html": {}, "application/pdf": {}, "text/csv": {}, "application/zip": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}}


def report_filters(
    date_from: Annotated[date | None, Query(description="first day of the period")] = None,
    date_to: Annotated[date | None, Query(description="last day of the period")] = None,
    donor_id: UUID | None = None,
    project_id: UUID | None = None,
    organisation_id: UUID | None = None,
    admin_area_id: UUID | None = None,
    hazard_area_id: UUID | None = None,
) -> ReportFilters:
    return ReportFilters(date_from=date_from, date_to=date_to, donor_id=donor_id,
                         project_id=project_id, organisation_id=organisation_id,
                         admin_area_id=admin_area_id, hazard_area_id=hazard_area_id)


Filters = Annotated[ReportFilters, Depends(report_filters)]


def forecast_options(
    teams: Annotated[int | None, Query(ge=1, description="teams in the field (default: "
                                       "measured over the window)")] = None,
    team_days_per_team_month: Annotated[float | None, Query(
        gt=0, le=31, description="team-days a team works a month (default: measured)")
    ] = None,
) -> ForecastOptions:
    return ForecastOptions(teams=teams, team_days_per_team_month=team_days_per_team_month)


Options = Annotated[ForecastOptions, Depends(forecast_options)]


class Output:
    """How the caller wants the report: `format`, `lang`, and for CSV one `table`."""

    def __init__(self, format: Format = "json", lang: Lang = "en",
                 table: Annotated[str | None, Query(
                     description="CSV only: the key of one table (default: a ZIP of all)")
                 ] = None) -> None:
        self.format, self.lang, self.table = format, lang, table


OutputParams = Annotated[Output, Depends()]


def _answer(report: Report, output: Output, request: Request) -> Any:
    if output.format == "json":
        return ReportPublic.model_validate(report.to_dict())
    try:
        from maps.reports import render
    except ImportError as exc:  # the renderers are not installed in this build
        raise InvalidInput(f"format={output.format} is not available on this server: "
                           "ask for format=json") from exc
    content, media_type, filename = render(
        report, format=output.format, lang=output.lang,
        base_url=str(request.base_url).rstrip("/"), table=output.table)
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/progress", response_model=ReportPublic, responses=RENDERED)
def read_progress_report(conn: Conn, user: CurrentUser, filters: Filters,
                         output: OutputParams, request: Request) -> Any:
    """Land released, devices destroyed, tasks and handovers, productivity and cost."""
    return _answer(progress_report(conn, principal=user, filters=filters), output, request)


@router.get("/national", response_model=ReportPublic, responses=RENDERED)
def read_national_report(conn: Conn, user: CurrentUser, filters: Filters, options: Options,
                         output: OutputParams, request: Request) -> Any:
    """Article 7 style status: what remains where, released per year, finds after
    completion, the completion forecast and the annex tables."""
    return _answer(national_report(conn, principal=user, filters=filters, options=options),
                   output, request)


@router.get("/forecast", response_model=ReportPublic, responses=RENDERED)
def read_forecast_report(conn: Conn, user: CurrentUser, filters: Filters, options: Options,
                         output: OutputParams, request: Request) -> Any:
    """Team-days still needed and the month of completion at the current capacity, with
    the range from the teams' spread; the period is the measuring window."""
    return _answer(forecast_report(conn, principal=user, filters=filters, options=options),
                   output, request)
