"""Tasks over HTTP: the coordinator plans and assigns, the operator reports progress."""

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
    GEOJSON,
    Cursor,
    GeoJSONResponse,
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
from api.schemas_records import TaskCreate, TaskPublic, TasksPublic, TaskUpdate
from survey.domain.vocab import ActivityType, TaskStatus
from survey.records import planning
from survey.records.paging import ListFilter

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

SORTS = ", ".join(planning.TASKS.sort_names())


@router.get("", response_model=TasksPublic, response_class=GeoJSONResponse)
def list_tasks(
    request: Request,
    conn: Conn,
    user: CurrentUser,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat: tasks with "
                                      "a hazard area in the box", max_length=200)] = None,
    status: TaskStatus | None = None,
    activity_type: ActivityType | None = None,
    organisation_id: UUID | None = None,
    team_id: UUID | None = None,
    project_id: UUID | None = None,
    donor_id: UUID | None = None,
    admin_area_id: UUID | None = None,
    hazard_area_id: UUID | None = None,
    date_from: Annotated[date | None, Query(description="planned to end on or after")] = None,
    date_to: Annotated[date | None, Query(description="planned to start on or before")] = None,
    sort: Annotated[str | None, Query(description=f"one of {SORTS} (- for descending)",
                                      pattern=planning.TASKS.sort_pattern())] = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Lists the tasks the caller may see, as a GeoJSON FeatureCollection (keyset pages:
    follow the `next` link)."""
    filters = ListFilter(bbox=bbox_of(bbox), status=status.value if status else None,
                         organisation_id=organisation_id, project_id=project_id,
                         donor_id=donor_id, admin_area_id=admin_area_id,
                         date_from=date_from, date_to=date_to,
                         equals={"team_id": team_id, "hazard_area_id": hazard_area_id,
                                 "activity_type": activity_type.value if activity_type
                                 else None})
    page = planning.list_tasks(conn, principal=user, filters=filters, sort=sort,
                               cursor=cursor, limit=limit)
    return {"type": "FeatureCollection", "features": page.rows,
            "numberReturned": len(page.rows),
            "links": page_links(request, page, media_type=GEOJSON)}


@router.get("/{task_id}", response_model=TaskPublic, responses=ETAG_200,
            response_class=GeoJSONResponse)
def read_task(task_id: UUID, conn: Conn, user: CurrentUser,
              response: Response) -> dict[str, Any]:
    """One task as a GeoJSON Feature (geometry: the union of its hazard areas); the ETag
    is its version."""
    feature = planning.task_feature(conn, principal=user, task_id=task_id)
    with_etag(response, feature["properties"]["version"])
    return feature


@router.post("", response_model=TaskPublic, status_code=201, responses=ETAG_201,
             response_class=GeoJSONResponse)
def create_task(body: TaskCreate, request: Request, conn: Conn, user: CurrentUser,
                key: IdempotencyKey) -> JSONResponse:
    """Plans a task on hazard areas and assigns it to an organisation's team
    (coordinators). Send an Idempotency-Key to make a retry safe."""

    def create() -> tuple[Any, dict[str, str]]:
        task = planning.create_task(conn, principal=user, new=planning.NewTask(
            **body.model_dump()))
        feature = planning.task_feature(conn, principal=user, task_id=task.id)
        return feature, {"ETag": etag(task.version), "Location": f"/api/v1/tasks/{task.id}"}

    return idempotent_create(conn, user=user, key=key, request=request, body=body,
                             create=create, response_class=GeoJSONResponse)


@router.patch("/{task_id}", response_model=TaskPublic, responses=ETAG_200,
              response_class=GeoJSONResponse)
def update_task(task_id: UUID, body: TaskUpdate, version: IfMatch, conn: Conn,
                user: CurrentUser, response: Response) -> dict[str, Any]:
    """Changes a task (If-Match: its ETag). The operator of its organisation reports
    progress (status, actual dates); the coordinator may re-plan and re-assign."""
    task = planning.update_task(conn, principal=user, task_id=task_id,
                                changes=body.model_dump(exclude_unset=True),
                                expected_version=version)
    with_etag(response, task.version)
    return planning.task_feature(conn, principal=user, task_id=task_id)


@router.delete("/{task_id}", status_code=204, response_class=Response)
def delete_task(task_id: UUID, version: OptionalIfMatch, conn: Conn,
                user: CurrentUser) -> Response:
    """Deletes a task nothing was reported on (coordinators); one with booked releases
    stays (409)."""
    planning.delete_task(conn, principal=user, task_id=task_id, expected_version=version)
    return Response(status_code=204)
