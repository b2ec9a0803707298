"""Hazard areas as GeoJSON (RFC 7946, lon/lat)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import Conn, HazardScope
from api.records import GeoJSONResponse
from api.schemas import HazardAreaPublic, HazardAreasPublic
from survey.domain.geometry import parse_bbox
from survey.domain.vocab import Classification, HazardStatus
from survey.errors import InvalidInput
from survey.store.hazards import FeaturePage, HazardFilter, hazard_area_feature, hazard_area_page

router = APIRouter(prefix="/api/v1/hazard-areas", tags=["hazard areas"])

GEOJSON = "application/geo+json"
# paging bounds: a larger offset is no page of any real programme, and an offset past
# PostgreSQL's bigint was a 500
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000
_STATUS = "|".join(s.value for s in HazardStatus)


def _page_links(request: Request, page: FeaturePage, limit: int) -> list[dict[str, Any]]:
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if page.next_cursor is not None:
        # keyset: a row added or removed meanwhile moves no other row between pages
        nxt = request.url.remove_query_params("offset").include_query_params(
            cursor=page.next_cursor, limit=limit)
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON})
    return links


@router.get("", response_model=HazardAreasPublic, response_class=GeoJSONResponse)
def list_hazard_areas(
    request: Request,
    conn: Conn,
    scope: HazardScope,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat",
                                      max_length=200)] = None,
    classification: Classification | None = None,
    status: Annotated[str | None, Query(
        description="one status, or several separated by commas (open,worked_on)",
        pattern="^(" + _STATUS + ")(,(" + _STATUS + "))*$", max_length=200)] = None,
    organisation_id: Annotated[UUID | None, Query(
        description="the reporting organisation")] = None,
    admin_area_id: UUID | None = None,
    hazard_area_id: UUID | None = None,
    project_id: Annotated[UUID | None, Query(
        description="areas a task of the project works")] = None,
    donor_id: Annotated[UUID | None, Query(
        description="areas a task of a project of the donor works")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description=(
        "rows to skip (kept for old clients: follow the `next` link instead)"))] = 0,
    cursor: Annotated[str | None, Query(max_length=2000, description=(
        "where the page starts: from the `next` link of the page before"))] = None,
) -> Response:
    """Lists the hazard areas the caller may see, as a GeoJSON FeatureCollection, by
    local id. Page with the `next` link (keyset: areas added while paging move no other
    area between pages). `numberMatched` is exact with a bbox or below 10,000 areas; for
    larger listings it is PostgreSQL's estimate."""
    if cursor is not None and offset:
        raise InvalidInput("give either cursor (from a `next` link) or offset, not both")
    statuses = tuple(dict.fromkeys(status.split(","))) if status else ()
    filters = HazardFilter(bbox=parse_bbox(bbox) if bbox is not None else None,
                           classification=classification.value if classification else None,
                           status=statuses[0] if len(statuses) == 1 else None,
                           statuses=statuses if len(statuses) > 1 else None,
                           organisation_id=organisation_id, admin_area_id=admin_area_id,
                           hazard_area_id=hazard_area_id, project_id=project_id,
                           donor_id=donor_id)
    page = hazard_area_page(conn, scope=scope, filters=filters, limit=limit, offset=offset,
                            cursor=cursor)
    tail = {"numberMatched": page.matched, "numberReturned": page.returned,
            "links": _page_links(request, page, limit)}
    # the features go out as PostgreSQL wrote them: never decoded here
    body = b"".join((b'{"type":"FeatureCollection","features":[', page.features.encode(),
                     b"],", orjson.dumps(tail)[1:]))
    return Response(body, media_type=GEOJSON)


@router.get("/{hazard_area_id}", response_model=HazardAreaPublic,
            response_class=GeoJSONResponse)
def read_hazard_area(hazard_area_id: UUID, conn: Conn, scope: HazardScope) -> JSONResponse:
    """One hazard area as a GeoJSON Feature."""
    feature = hazard_area_feature(conn, scope=scope, hazard_area_id=hazard_area_id)
    # the version is the ETag: send it back as If-Match on a boundary change
    etag = f'"{feature["properties"]["version"]}"'
    return JSONResponse(feature, media_type=GEOJSON, headers={"ETag": etag})
