"""Activity reports over HTTP: the operator files progress, completion and cancellation
reports (with their releases and finds) and handover certificates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import Conn, CurrentUser
from api.records import (
    ETAG_200,
    ETAG_201,
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    OptionalIfMatch,
    bbox_of,
    etag,
    idempotent_create,
    page_links,
    with_etag,
)
from api.routes.ledger import Limits
from api.schemas_records import (
    ActivityReportCreate,
    ActivityReportPublic,
    ActivityReportsPublic,
    ActivityReportUpdate,
)
from survey.domain.geometry import as_multipolygon, as_point
from survey.domain.vocab import Classification, ReportKind
from survey.records import reports
from survey.records.paging import ListFilter

router = APIRouter(prefix="/api/v1/activity-reports", tags=["activity reports"])

SORTS = ", ".join(reports.REPORTS.sort_names())


@router.get("", response_model=ActivityReportsPublic)
def list_activity_reports(
    request: Request,
    conn: Conn,
    user: CurrentUser,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat: reports "
                                      "on hazard areas in the box", max_length=200)] = None,
    kind: ReportKind | None = None,
    classification: Classification | None = None,
    hazard_area_id: UUID | None = None,
    task_id: UUID | None = None,
    organisation_id: UUID | None = None,
    team_id: UUID | None = None,
    project_id: UUID | None = None,
    donor_id: UUID | None = None,
    admin_area_id: UUID | None = None,
    date_from: Annotated[date | None, Query(description="report date on or after")] = None,
    date_to: Annotated[date | None, Query(description="report date on or before")] = None,
    sort: Annotated[str | None, Query(description=f"one of {SORTS} (- for descending)",
                                      pattern=reports.REPORTS.sort_pattern())] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Lists the activity reports the caller may see (keyset pages: follow `next`)."""
    filters = ListFilter(
        bbox=bbox_of(bbox), classification=classification.value if classification else None,
        organisation_id=organisation_id, project_id=project_id, donor_id=donor_id,
        admin_area_id=admin_area_id, date_from=date_from, date_to=date_to,
        equals={"hazard_area_id": hazard_area_id, "task_id": task_id, "team_id": team_id,
                "kind": kind.value if kind else None})
    page = reports.list_reports(conn, principal=user, filters=filters, sort=sort,
                                cursor=cursor, limit=limit)
    return {"items": page.rows, "numberReturned": len(page.rows),
            "links": page_links(request, page)}


@router.get("/{report_id}", response_model=ActivityReportPublic, responses=ETAG_200)
def read_activity_report(report_id: UUID, conn: Conn, user: CurrentUser,
                         response: Response) -> dict[str, Any]:
    """One activity report with its releases and finds; the ETag is its version."""
    body = reports.report_json(conn, principal=user, report_id=report_id)
    with_etag(response, body["version"])
    return body


@router.post("", response_model=ActivityReportPublic, status_code=201, responses=ETAG_201)
def create_activity_report(body: ActivityReportCreate, request: Request, conn: Conn,
                           user: CurrentUser, limits: Limits,
                           key: IdempotencyKey) -> JSONResponse:
    """Files a report of the caller's organisation, with the releases it books and the
    finds it records, in one transaction. Send an Idempotency-Key to make a retry safe."""

    def create() -> tuple[Any, dict[str, str]]:
        fields = body.model_dump(exclude={"releases", "finds"})
        new = reports.NewReport(
            **fields,
            releases=[reports.NewRelease(geom=as_multipolygon(r.geometry, limits=limits),
                                         **r.model_dump(exclude={"geometry"}))
                      for r in body.releases],
            finds=[reports.NewFind(geom=as_point(f.geometry, limits=limits),
                                   **f.model_dump(exclude={"geometry"}))
                   for f in body.finds])
        filed = reports.file_report(conn, principal=user, new=new)
        answer = reports.report_json(conn, principal=user, report_id=filed.report.id)
        warnings = {str(b.release.id): list(b.warnings) for b in filed.releases}
        for release in answer["releases"]:
            release["warnings"] = warnings.get(str(release["id"]), [])
        return answer, {"ETag": etag(filed.report.version),
                        "Location": f"/api/v1/activity-reports/{filed.report.id}"}

    return idempotent_create(conn, user=user, key=key, request=request, body=body,
                             create=create)


@router.patch("/{report_id}", response_model=ActivityReportPublic, responses=ETAG_200)
def update_activity_report(report_id: UUID, body: ActivityReportUpdate, version: IfMatch,
                           conn: Conn, user: CurrentUser,
                           response: Response) -> dict[str, Any]:
    """Corrects a report's own fields (If-Match: its ETag); releases change only through
    the ledger."""
    report = reports.update_report(conn, principal=user, report_id=report_id,
                                   changes=body.model_dump(exclude_unset=True),
                                   expected_version=version)
    with_etag(response, report.version)
    return reports.report_json(conn, principal=user, report_id=report_id)


@router.delete("/{report_id}", status_code=204, response_class=Response)
def delete_activity_report(report_id: UUID, version: OptionalIfMatch, conn: Conn,
                           user: CurrentUser) -> Response:
    """Deletes a report that booked nothing; one with releases stays in the ledger (409)."""
    reports.delete_report(conn, principal=user, report_id=report_id,
                          expected_version=version)
    return Response(status_code=204)
