"""Response and request schemas (XCreate / XUpdate / XPublic per resource)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, Strict
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


# --- examples for /docs: one hazard area near Izium (Kharkiv oblast), lon/lat ---

_AREA_ID = "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13"
_REPORT_ID = "9b1e4d2a-6c3f-4e8b-a7d5-2f0c1e9b8a64"
_SQUARE: list[Any] = [[[37.2510, 49.2010], [37.2590, 49.2010], [37.2590, 49.2060],
                      [37.2510, 49.2060], [37.2510, 49.2010]]]
_CLEARED: list[Any] = [[[37.2510, 49.2010], [37.2540, 49.2010], [37.2540, 49.2030],
                       [37.2510, 49.2030], [37.2510, 49.2010]]]
_HAZARD_AREA_EXAMPLE: dict[str, Any] = {
    "type": "Feature", "id": _AREA_ID,
    "geometry": {"type": "MultiPolygon", "coordinates": [_SQUARE]},
    "properties": {
        "local_id": "UA-KH-000123", "name": "Field east of Kapytolivka",
        "classification": "CHA", "status": "worked_on", "contamination": ["AP_MINE"],
        "evidence": "direct", "land_use": "agricultural", "priority": 1, "beneficiaries": 420,
        "reporting_organisation_id": "5a7d2c9e-1f3b-4e6a-8c0d-9b2e4f6a1c38",
        "admin_area_id": "c4e8a2f6-3b1d-4a9c-8e7f-0d5b2a6c9e14",
        "date_of_information": "2025-01-10", "area_m2": 323650.4,
        "remaining_area_m2": 190870.2, "version": 3,
        "programme_id": "0e6b3a9d-2c4f-4d8e-b1a7-6f9c2e5d8a30"}}
_LEDGER_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": _AREA_ID, "local_id": "UA-KH-000123", "classification": "CHA",
    "status": "worked_on", "area_m2": 323650.4, "cancelled_m2": 0.0, "reduced_m2": 0.0,
    "cleared_m2": 132780.2, "remaining_area_m2": 190870.2, "version": 3}


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"status": "ok", "postgis": "3.3 USE_GEOS=1 USE_PROJ=1 USE_STATS=1",
         "schema_version": 14}]})

    status: Literal["ok"]
    postgis: str
    schema_version: int


class HealthProblem(BaseModel):
    status: Literal["unavailable"]
    reason: str


class TokenPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "dm_3q9XkR2vT8pLwYc5NfHs7JbGz4", "token_type": "bearer",
        "expires_at": "2026-11-28T20:00:00Z", "username": "coordinator",
        "role": "coordinator"}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [_HAZARD_AREA_EXAMPLE]})

    type: Literal["Feature"]
    id: UUID
    geometry: GeoJSONGeometry
    properties: HazardAreaProperties


class Link(BaseModel):
    href: str = Field(examples=["/api/v1/hazard-areas?limit=50&after=UA-KH-000123"])
    rel: str = Field(examples=["next"])
    type: str = "application/geo+json"


class HazardAreasPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "FeatureCollection", "features": [_HAZARD_AREA_EXAMPLE],
        "numberMatched": 1, "numberReturned": 1,
        "links": [{"href": "/api/v1/hazard-areas?bbox=37.0,49.0,37.5,49.4&limit=50",
                   "rel": "self", "type": "application/geo+json"}]}]})

    type: Literal["FeatureCollection"]
    features: list[HazardAreaPublic]
    numberMatched: int = Field(  # noqa: N815 (OGC API Features member names)
        description="how many areas match: exact with a bbox, on the last page and below "
        "10,000; above that PostgreSQL's estimate (counting a national store on every "
        "page would cost more than the page)")
    numberReturned: int  # noqa: N815
    links: list[Link] = Field(description="`self`, and `next` unless this is the last page "
                              "(keyset: follow it as it is)")


class ReleaseCreate(BaseModel):
    """A released polygon from an activity report."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "7c2e9a4b-1d6f-4b3e-9a8c-5e0d2f7b1a96", "activity_report_id": _REPORT_ID,
        "hazard_area_id": _AREA_ID, "product": "cleared", "method": "MANUAL",
        "technical_asset": False, "depth_cm": 20, "release_date": "2025-03-01",
        "geometry": {"type": "Polygon", "coordinates": _CLEARED}}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "7c2e9a4b-1d6f-4b3e-9a8c-5e0d2f7b1a96", "hazard_area_id": _AREA_ID,
        "activity_report_id": _REPORT_ID, "product": "cleared", "method": "MANUAL",
        "technical_asset": False, "depth_cm": 20, "release_date": "2025-03-01",
        "area_m2": 48450.3, "submitted_m2": 48450.3, "clipped_m2": 0.0,
        "remaining_area_m2": 275200.1, "warnings": [],
        "geometry": {"type": "MultiPolygon", "coordinates": [_CLEARED]}}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "to": "CHA", "reason": "NTS found a PMN-2 at the field edge (report NTS-2025-041)",
        "effective_date": "2025-02-14"}]})

    to: Target = Field(description="CHA, worked_on, closed or handed_over")
    reason: Reason = Field(description="why: evidence found, report number, ...")
    effective_date: date | None = Field(default=None,
                                        description="effective date (default: today)")


class TransitionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "hazard_area_id": _AREA_ID, "to": "CHA", "before": "SHA", "after": "CHA",
        "effective": "2025-02-14",
        "reason": "NTS found a PMN-2 at the field edge (report NTS-2025-041)",
        "classification": "CHA", "status": "open", "version": 2}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "hazard_area": _LEDGER_SUMMARY_EXAMPLE,
        "releases": [{"id": "7c2e9a4b-1d6f-4b3e-9a8c-5e0d2f7b1a96",
                      "release_date": "2025-03-01", "product": "cleared", "method": "MANUAL",
                      "technical_asset": False, "depth_cm": 20,
                      "activity_report_id": _REPORT_ID, "area_m2": 48450.3,
                      "clipped_m2": 0.0, "split_from_id": None,
                      "created_at": "2025-03-02T09:14:00Z",
                      "remaining_after_m2": 275200.1}]}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "hazard_area": _LEDGER_SUMMARY_EXAMPLE,
        "events": [{"at": "2025-02-14T10:02:00Z", "actor": "coordinator",
                    "action": "transition", "before": {"classification": "SHA"},
                    "after": {"classification": "CHA"},
                    "reason": "NTS found a PMN-2 at the field edge (report NTS-2025-041)"}],
        "boundaries": [{"boundary_version": 1, "area_m2": 323650.4,
                        "valid_from": "2025-01-10T08:00:00Z",
                        "valid_to": "2025-04-02T09:00:00Z", "reason": "first survey",
                        "geometry": {"type": "MultiPolygon", "coordinates": [_SQUARE]}}]}]})

    hazard_area: LedgerSummary
    events: list[HistoryEvent]
    boundaries: list[BoundaryVersion]


class BoundaryChange(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "geometry": {"type": "Polygon", "coordinates": _CLEARED},
        "reason": "TS resurvey narrowed the area to the tree line (report TS-2025-007)",
        "effective_date": "2025-04-02", "local_id": "UA-KH-000124"}]})

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, lon/lat")
    reason: Reason
    effective_date: date | None = None
    local_id: LocalId | None = Field(default=None, description="split only: the new area's id")


# --- GET /api/v1/stats (survey.ledger.stats.ledger_stats) ---

class ReleasedTotal(BaseModel):
    area_m2: float = Field(description="released m² (geodesic)")
    releases: int = Field(description="how many releases booked it")


class ReleasedByProduct(ReleasedTotal):
    product: Product


class ReleasedByMethod(ReleasedByProduct):
    method: Method
    technical_asset: bool = Field(description="released by a technical asset (TS or clearance)")


class ReleasedByPeriod(ReleasedByProduct):
    period: date = Field(description="first day of the day, month or year (`period`)")


class ReleasedByKey(ReleasedByProduct):
    id: UUID | None = Field(description="the organisation, project, donor or admin area; "
                            "null for releases attributed to none")
    name: str | None


class ReleasedFigures(BaseModel):
    """Released land, from the ledger's summary (booked releases only)."""

    total: ReleasedTotal
    product: list[ReleasedByProduct]
    method: list[ReleasedByMethod]
    period: list[ReleasedByPeriod]
    organisation: list[ReleasedByKey]
    project: list[ReleasedByKey]
    donor: list[ReleasedByKey]
    admin_area: list[ReleasedByKey]


class RemainingTotal(BaseModel):
    open_areas: int = Field(description="open and worked-on hazard areas")
    area_m2: float = Field(description="their remaining m², as the ledger keeps it")


class RemainingByClassification(RemainingTotal):
    classification: Classification


class RemainingByContamination(RemainingTotal):
    contamination: Contamination


class RemainingFigures(BaseModel):
    """What remains today (date filters do not apply); an area with several contamination
    types counts under each."""

    as_of: str
    total: RemainingTotal
    classification: list[RemainingByClassification]
    contamination: list[RemainingByContamination]


class DeviceTotal(BaseModel):
    found: int
    destroyed: int = Field(description="of those found, disposed of")


class DevicesByCategory(DeviceTotal):
    category: str = Field(description="ordnance category: AP_MINE, AT_MINE, ...")


class DevicesByModel(DevicesByCategory):
    model: str


class DeviceFigures(BaseModel):
    total: DeviceTotal
    category: list[DevicesByCategory]
    model: list[DevicesByModel]


class OrganisationProductivity(BaseModel):
    organisation_id: UUID | None
    name: str | None
    team_days: float
    worked_m2: float = Field(description="m² released (every product) in the filter")
    m2_per_team_day: float | None = Field(description="null without team-days")


class StatsFilters(BaseModel):
    """The filters applied: those asked for, narrowed to what the caller may see."""

    programme_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None
    admin_area_id: UUID | None = None
    product: Product | None = None
    method: Method | None = None


_STATS_EXAMPLE: dict[str, Any] = {
    "filters": {"programme_id": "00000000-0000-4000-8000-000000000001",
                "date_from": "2024-01-01", "date_to": "2024-12-31", "organisation_id": None,
                "project_id": None, "donor_id": None, "admin_area_id": None,
                "product": None, "method": None},
    "period": "year",
    "released": {
        "total": {"area_m2": 5_230_400.5, "releases": 1_412},
        "product": [{"product": "cancelled", "area_m2": 2_104_000.0, "releases": 280},
                    {"product": "cleared", "area_m2": 1_926_400.5, "releases": 566},
                    {"product": "reduced", "area_m2": 1_200_000.0, "releases": 566}],
        "method": [{"product": "cleared", "method": "MANUAL", "technical_asset": True,
                    "area_m2": 1_926_400.5, "releases": 566}],
        "period": [{"product": "cleared", "period": "2024-01-01", "area_m2": 1_926_400.5,
                    "releases": 566}],
        "organisation": [{"product": "cleared", "id": "00000000-0000-4000-8001-000000000002",
                          "name": "Operator 2", "area_m2": 1_926_400.5, "releases": 566}],
        "project": [], "donor": [], "admin_area": []},
    "remaining": {
        "as_of": "now (date filters do not apply: this is what remains today)",
        "total": {"open_areas": 90, "area_m2": 3_400_000.0},
        "classification": [{"classification": "CHA", "open_areas": 60, "area_m2": 2_500_000.0},
                           {"classification": "SHA", "open_areas": 30, "area_m2": 900_000.0}],
        "contamination": [{"contamination": "AP_MINE", "open_areas": 40,
                           "area_m2": 1_800_000.0}]},
    "devices": {"total": {"found": 310, "destroyed": 295},
                "category": [{"category": "AP_MINE", "found": 210, "destroyed": 205}],
                "model": [{"category": "AP_MINE", "model": "PMN-2", "found": 120,
                           "destroyed": 118}]},
    "productivity": [{"organisation_id": "00000000-0000-4000-8001-000000000002",
                      "name": "Operator 2", "team_days": 410.0, "worked_m2": 1_926_400.5,
                      "m2_per_team_day": 4698.5}],
}


class StatsPublic(BaseModel):
    """Totals from the ledger. `remaining`, `devices` and `productivity` are absent for
    the public, which sees released land only."""

    model_config = {"json_schema_extra": {"examples": [_STATS_EXAMPLE]}}

    filters: StatsFilters
    period: Literal["day", "month", "year"]
    released: ReleasedFigures
    remaining: RemainingFigures | None = None
    devices: DeviceFigures | None = None
    productivity: list[OrganisationProductivity] | None = None
