"""Map pages of one record: a hazard area, a task, and who does what where (3W).

Signed in like /maps/overview: the session cookie (or a bearer token) reads; without one
the page sends the browser to /login and back. A record the reader may not see answers
404 (problem+json, as the API does), an account that may read no such record 403.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import AppSettings, Conn, page_reader, to_login
from api.routes.maps import basemap_of
from maps.common import page_html
from maps.hazard import hazard_area_map
from maps.task import task_map
from maps.who import who_map
from survey import maps_data

router = APIRouter(include_in_schema=False)


@router.get("/maps/hazard-areas/{hazard_area_id}")
def read_hazard_area_map(hazard_area_id: UUID, request: Request, conn: Conn,
                         settings: AppSettings) -> Response:
    """Map of one hazard area with its ledger table."""
    principal = page_reader(request, conn)
    if principal is None:
        return to_login(request)
    data = maps_data.hazard_area_map(conn, hazard_area_id=hazard_area_id, principal=principal)
    return HTMLResponse(page_html(hazard_area_map(data, basemap_url=basemap_of(settings))))


@router.get("/maps/tasks/{task_id}")
def read_task_map(task_id: UUID, request: Request, conn: Conn,
                  settings: AppSettings) -> Response:
    """Map of one task with its progress."""
    principal = page_reader(request, conn)
    if principal is None:
        return to_login(request)
    data = maps_data.task_map(conn, task_id=task_id, principal=principal)
    return HTMLResponse(page_html(task_map(data, basemap_url=basemap_of(settings))))


@router.get("/maps/3w")
def read_who_map(request: Request, conn: Conn, settings: AppSettings) -> Response:
    """Who does what where: operators by admin area, activity and task status."""
    principal = page_reader(request, conn)
    if principal is None:
        return to_login(request)
    data = maps_data.who_what_where(conn, principal=principal)
    return HTMLResponse(page_html(who_map(data, basemap_url=basemap_of(settings),
                                          embed_limit=settings.map_tile_threshold)))
