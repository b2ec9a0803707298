"""Response and request schemas (XCreate / XUpdate / XPublic per resource)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, GetCoreSchemaHandler, Strict
from pydantic_core import core_schema

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

# Text that PostgreSQL cannot store (NUL), lone surrogates (not UTF-8) and the other control
# characters (invisible in every report); tab and line breaks are ordinary text
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _plain_text(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    bad = _NOT_TEXT.search(value)
    if bad:
        raise ValueError(f"character {bad.start() + 1} is U+{ord(bad.group()):04X}, a control "
                         "character: only printable text, tabs and line breaks are accepted")
    return value


@dataclass(frozen=True)
class Text:
    """Free text: trimmed, min_length..max_length characters after trimming, and no NUL or
    other control characters (tab and line breaks are fine; CR LF becomes LF).

    Use it for every free-text field of a request: `Annotated[str, Text(2_000)]`.
    """

    max_length: int
    min_length: int = 0
    pattern: str | None = None

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            _plain_text, core_schema.str_schema(strip_whitespace=True, strict=True,
                                                min_length=self.min_length or None,
                                                max_length=self.max_length,
                                                pattern=self.pattern))


Reason = Annotated[str, Text(2_000, min_length=3)]
LocalId = Annotated[str, Text(64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
# a number where a number belongs: JSON true/false are not 1/0
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]


class Health(BaseModel):
    status: Literal["ok"]
    postgis: str
    schema_version: int


class HealthProblem(BaseModel):
    status: Literal["unavailable"]
    reason: str


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
    technical_asset: StrictBool = False
    depth_cm: StrictInt | None = Field(default=None, ge=0, le=1000)
    release_date: date = Field(description="not before the programme's records begin, not "
                               "in the future")
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
    reason: Reason = Field(description="why: evidence found, report number, ...")
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
    reason: Reason
    effective_date: date | None = None
    local_id: LocalId | None = Field(default=None, description="split only: the new area's id")
