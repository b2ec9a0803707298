"""Response and request schemas (XCreate / XUpdate / XPublic per resource)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from survey.domain.vocab import (
    Classification,
    Contamination,
    Evidence,
    HazardStatus,
    LandUse,
    Method,
    Product,
)
from survey.ledger.lifecycle import Target


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    postgis: str
    schema_version: int


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
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


class ReleaseCreate(BaseModel):
    """A released polygon from an activity report."""

    id: UUID | None = Field(default=None, description="client id: a retried upload with the "
                            "same id returns the release already recorded")
    activity_report_id: UUID
    hazard_area_id: UUID
    product: Product
    method: Method
    technical_asset: bool = False
    depth_cm: int | None = Field(default=None, ge=0, le=1000)
    release_date: date
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, lon/lat")


class ReleasePublic(BaseModel):
    id: UUID
    hazard_area_id: UUID
    activity_report_id: UUID
    product: Product
    method: Method
    technical_asset: bool
    depth_cm: int | None
    release_date: date
    area_m2: float = Field(description="geodesic area booked, m²")
    submitted_m2: float | None = Field(default=None, description="area of the polygon sent")
    clipped_m2: float = Field(description="m² left out: outside the boundary (GPS noise)")
    remaining_area_m2: float | None = Field(default=None,
                                            description="the hazard area's remaining m² after")
    warnings: list[str] = []
    geometry: GeoJSONGeometry


class TransitionCreate(BaseModel):
    to: Target = Field(description="CHA, worked_on, closed or handed_over")
    reason: str = Field(min_length=3, description="why: evidence found, report number, ...")
    effective_date: date | None = Field(default=None,
                                        description="effective date (default: today)")


class TransitionPublic(BaseModel):
    hazard_area_id: UUID
    to: Target
    before: str
    after: str
    effective: date
    reason: str
    classification: Classification
    status: HazardStatus
    version: int


class LedgerSummary(BaseModel):
    id: UUID
    local_id: str
    classification: Classification
    status: HazardStatus
    area_m2: float
    cancelled_m2: float
    reduced_m2: float
    cleared_m2: float
    remaining_area_m2: float
    version: int


class LedgerEntry(BaseModel):
    id: UUID
    release_date: date
    product: Product
    method: Method
    technical_asset: bool
    depth_cm: int | None
    activity_report_id: UUID
    area_m2: float
    clipped_m2: float
    split_from_id: UUID | None
    created_at: datetime
    remaining_after_m2: float


class LedgerPublic(BaseModel):
    hazard_area: LedgerSummary
    releases: list[LedgerEntry]


class HistoryEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


class BoundaryVersion(BaseModel):
    boundary_version: int
    area_m2: float
    valid_from: datetime
    valid_to: datetime
    reason: str
    geometry: GeoJSONGeometry


class HistoryPublic(BaseModel):
    hazard_area: LedgerSummary
    events: list[HistoryEvent]
    boundaries: list[BoundaryVersion]


class BoundaryChange(BaseModel):
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, lon/lat")
    reason: str = Field(min_length=3)
    effective_date: date | None = None
    local_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
                                 description="split only: the new area's id")
