"""Hazard areas created and changed over HTTP (reads are api/routes/hazard_areas.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.deps import Conn, CurrentUser, HazardScope
from api.records import (
    ETAG_200,
    ETAG_201,
    GeoJSONResponse,
    IdempotencyKey,
    IfMatch,
    etag,
    idempotent_create,
)
from api.routes.ledger import Limits
from api.schemas import HazardAreaPublic
from api.schemas_records import HazardAreaCreate, HazardAreaUpdate
from survey.domain.geometry import as_multipolygon
from survey.domain.models import HazardArea
from survey.records import hazards
from survey.store import repo
from survey.store.hazards import hazard_area_feature, require_visible

router = APIRouter(prefix="/api/v1/hazard-areas", tags=["hazard areas"])


@router.post("", response_model=HazardAreaPublic, status_code=201, responses=ETAG_201,
             response_class=GeoJSONResponse)
def create_hazard_area(body: HazardAreaCreate, request: Request, conn: Conn,
                       user: CurrentUser, scope: HazardScope, limits: Limits,
                       key: IdempotencyKey) -> JSONResponse:
    """Records a new hazard area (open; all of it remains to be released). Send an
    Idempotency-Key to make a retry safe."""

    def create() -> tuple[Any, dict[str, str]]:
        geom = as_multipolygon(body.geometry, limits=limits)
        fields = body.model_dump(exclude={"geometry"})
        hazard = hazards.create_hazard_area(conn, principal=user, new=hazards.NewHazardArea(
            geom=geom, **fields))
        feature = hazard_area_feature(conn, scope=scope, hazard_area_id=hazard.id)
        return feature, {"ETag": etag(hazard.version),
                         "Location": f"/api/v1/hazard-areas/{hazard.id}"}

    return idempotent_create(conn, user=user, key=key, request=request, body=body,
                             create=create, response_class=GeoJSONResponse)


@router.patch("/{hazard_area_id}", response_model=HazardAreaPublic, responses=ETAG_200,
              response_class=GeoJSONResponse)
def update_hazard_area(hazard_area_id: UUID, body: HazardAreaUpdate, version: IfMatch,
                       conn: Conn, user: CurrentUser, scope: HazardScope, limits: Limits,
                       response: Response) -> dict[str, Any]:
    """Changes a hazard area's attributes (If-Match: its ETag); a new boundary is a
    re-survey and needs a reason. Classification and status: POST /{id}/transitions."""
    require_visible(conn, scope=scope, hazard_area_id=hazard_area_id)  # 404 if unseen
    hazard = repo.get(conn, HazardArea, id=hazard_area_id)
    geom = None if body.geometry is None else as_multipolygon(body.geometry, limits=limits)
    updated = hazards.update_hazard_area(
        conn, principal=user, hazard=hazard, expected_version=version, geom=geom,
        reason=body.reason, changes=body.model_dump(exclude_unset=True,
                                                    exclude={"geometry", "reason"}))
    response.headers["ETag"] = etag(updated.version)
    return hazard_area_feature(conn, scope=scope, hazard_area_id=hazard_area_id)
