"""Schemas of the release listing and of one release read back (GeoJSON, with examples)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import GeoJSONGeometry, Link
from survey.domain.vocab import Method, Product

_RING = [[32.61, 46.63], [32.62, 46.63], [32.62, 46.64], [32.61, 46.64], [32.61, 46.63]]
_FEATURE: dict[str, Any] = {
    "type": "Feature", "id": "3f8e2a1c-9b7d-4e6f-8a5b-1c2d3e4f5a6b",
    "geometry": {"type": "MultiPolygon", "coordinates": [[_RING]]},
    "properties": {
        "hazard_area_id": "8a3c3bfb-3f2e-4d64-9a39-6f1b1d1e2c01",
        "hazard_area_local_id": "UA-KH-00042",
        "activity_report_id": "c4d5e6f7-1a2b-4c3d-9e8f-0a1b2c3d4e5f",
        "product": "cleared", "method": "MANUAL", "technical_asset": False, "depth_cm": 20,
        "release_date": "2025-05-14", "area_m2": 8260.4, "clipped_m2": 0.0,
        "organisation_id": "1b0c7a52-0b8e-4f3d-a8a2-7e5d2e3a9c10",
        "project_id": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
        "donor_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
        "admin_area_id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
        "programme_id": "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
        "created_at": "2025-05-15T08:30:00+00:00"}}


class ReleaseProperties(BaseModel):
    hazard_area_id: UUID
    hazard_area_local_id: str
    activity_report_id: UUID
    product: Product
    method: Method
    technical_asset: bool
    depth_cm: int | None
    release_date: date
    area_m2: float = Field(description="geodesic area booked, m²")
    clipped_m2: float = Field(description="m² of the submitted polygon left out (outside "
                              "the boundary, already released)")
    organisation_id: UUID | None = Field(description="who released it (the report's)")
    project_id: UUID | None
    donor_id: UUID | None
    admin_area_id: UUID | None
    programme_id: UUID
    created_at: datetime


class ReleaseFeature(BaseModel):
    """A booked release as a GeoJSON Feature."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FEATURE]})

    type: Literal["Feature"]
    id: UUID
    geometry: GeoJSONGeometry
    properties: ReleaseProperties


class ReleasesPublic(BaseModel):
    """A keyset page of releases: follow the `next` link for the following page."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "FeatureCollection", "features": [_FEATURE], "numberReturned": 1,
        "links": [{"href": "/api/v1/releases?product=cleared&date_from=2025-01-01",
                   "rel": "self", "type": "application/geo+json"}]}]})

    type: Literal["FeatureCollection"]
    features: list[ReleaseFeature]
    numberReturned: int  # noqa: N815 (GeoJSON / OGC member names)
    links: list[Link]
