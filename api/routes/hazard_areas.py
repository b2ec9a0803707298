"""Hazard areas as GeoJSON (RFC 7946, lon/lat)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import Conn, HazardScope
from api.schemas import HazardAreaPublic, HazardAreasPublic
from survey.domain.geometry import parse_bbox
from survey.domain.vocab import Classification, HazardStatus
from survey.store.hazards import HazardFilter, hazard_area_feature, hazard_area_features

router = APIRouter(prefix="/api/v1/hazard-areas", tags=["hazard areas"])

GEOJSON = "application/geo+json"
# paging bounds: a larger offset is no page of any real programme, and an offset past
# PostgreSQL's bigint was a 500
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


def _page_links(request: Request, offset: int, limit: int, returned: int,
                matched: int) -> list[dict[str, Any]]:
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if offset + returned < matched:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON})
    return links


@router.get("", response_model=HazardAreasPublic, response_class=JSONResponse)
def list_hazard_areas(
    request: Request,
    conn: Conn,
    scope: HazardScope,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat",
                                      max_length=200)] = None,
    classification: Classification | None = None,
    status: HazardStatus | None = None,
    organisation_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    """Lists the hazard areas the caller may see, as a GeoJSON FeatureCollection."""
    filters = HazardFilter(bbox=parse_bbox(bbox) if bbox is not None else None,
                           classification=classification.value if classification else None,
                           status=status.value if status else None,
                           organisation_id=organisation_id)
    features, matched = hazard_area_features(conn, scope=scope, filters=filters, limit=limit,
                                             offset=offset)
    body = {"type": "FeatureCollection", "features": features, "numberMatched": matched,
            "numberReturned": len(features),
            "links": _page_links(request, offset, limit, len(features), matched)}
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/{hazard_area_id}", response_model=HazardAreaPublic, response_class=JSONResponse)
def read_hazard_area(hazard_area_id: UUID, conn: Conn, scope: HazardScope) -> JSONResponse:
    """One hazard area as a GeoJSON Feature."""
    feature = hazard_area_feature(conn, scope=scope, hazard_area_id=hazard_area_id)
    # the version is the ETag: send it back as If-Match on a boundary change
    etag = f'"{feature["properties"]["version"]}"'
    return JSONResponse(feature, media_type=GEOJSON, headers={"ETag": etag})
