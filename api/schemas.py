"""Response and request schemas (XCreate / XUpdate / XPublic per resource)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from survey.domain.vocab import Classification, Contamination, Evidence, HazardStatus, LandUse


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    postgis: str
    schema_version: int


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    username: str
    role: str


class GeoJSONGeometry(BaseModel):
    type: str
    coordinates: list[Any]


class HazardAreaProperties(BaseModel):
    local_id: str
    name: str | None
    classification: Classification
    status: HazardStatus
    contamination: list[Contamination]
    evidence: Evidence
    land_use: LandUse | None
    priority: int | None
    beneficiaries: int | None
    reporting_organisation_id: UUID | None
    admin_area_id: UUID | None
    date_of_information: date
    area_m2: float = Field(description="geodesic area of the boundary, m²")
    remaining_area_m2: float = Field(description="geodesic area not yet released, m²")
    version: int
    programme_id: UUID


class HazardAreaPublic(BaseModel):
    type: Literal["Feature"]
    id: UUID
    geometry: GeoJSONGeometry
    properties: HazardAreaProperties


class Link(BaseModel):
    href: str
    rel: str
    type: str = "application/geo+json"


class HazardAreasPublic(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[HazardAreaPublic]
    numberMatched: int  # noqa: N815 (OGC API Features member names)
    numberReturned: int  # noqa: N815
    links: list[Link]
