"""Schemas of the planning resources: hazard-area writes, tasks, activity reports
(XCreate / XUpdate / XPublic per resource, with examples for /docs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, Strict

from api.schemas import GeoJSONGeometry, LocalId, Reason, StrictBool, StrictInt, Text
from survey.domain.vocab import (
    ActivityType,
    Classification,
    Contamination,
    DeviceCondition,
    DisposalMethod,
    Evidence,
    LandUse,
    Method,
    Product,
    ReportKind,
    TaskStatus,
)

Notes = Annotated[str, Text(4_000)]
Name = Annotated[str, Text(200)]
Count = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
TeamDays = Annotated[float, Strict(), Field(ge=0, le=100_000)]
Depth = Annotated[StrictInt, Field(ge=0, le=1000, description="cm")]
Geometry = dict[str, Any]

_RING: list[JsonValue] = [[32.61, 46.63], [32.62, 46.63], [32.62, 46.64], [32.61, 46.64],
                         [32.61, 46.63]]
_POLYGON: dict[str, JsonValue] = {"type": "Polygon", "coordinates": [_RING]}
_ID = "8a3c3bfb-3f2e-4d64-9a39-6f1b1d1e2c01"
_ORG = "1b0c7a52-0b8e-4f3d-a8a2-7e5d2e3a9c10"
_TEAM = "5e2f9d0c-6a1b-4c8e-9f3a-2d7b8c1e0a44"


class _Request(BaseModel):
    # a field the server does not know is refused, never silently dropped
    model_config = ConfigDict(extra="forbid")


class Link(BaseModel):
    href: str = Field(examples=["/api/v1/tasks?status=active&limit=50&after=UA-KH-T-0042"])
    rel: str = Field(examples=["next"])
    type: str = Field(examples=["application/geo+json"])


# --- hazard areas -------------------------------------------------------------------------

class HazardAreaCreate(_Request):
    """A new hazard area; all of it remains to be released."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "local_id": "UA-KH-000981", "name": "Field east of the dam", "classification": "SHA",
        "contamination": ["AP_MINE", "UXO"], "evidence": "indirect", "land_use": "agricultural",
        "priority": 2, "beneficiaries": 340, "reporting_organisation_id": _ORG,
        "date_of_information": "2025-03-01", "geometry": _POLYGON}]})

    id: UUID | None = Field(default=None, description="client id (a retried upload is "
                            "recognised by it)")
    programme_id: UUID | None = Field(default=None, description="admins only: the programme")
    local_id: LocalId
    name: Name | None = None
    classification: Classification
    contamination: list[Contamination] = Field(default_factory=list, max_length=6)
    evidence: Evidence
    land_use: LandUse | None = None
    priority: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    beneficiaries: Count | None = None
    reporting_organisation_id: UUID | None = Field(
        default=None, description="operators: their own organisation (the default)")
    admin_area_id: UUID | None = None
    date_of_information: date
    geometry: Geometry = Field(description="GeoJSON Polygon or MultiPolygon, lon/lat")


class HazardAreaUpdate(_Request):
    """Attributes to change; a new boundary is a re-survey and needs a reason. The
    classification and status move through POST /{id}/transitions."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"priority": 1, "land_use": "pasture", "beneficiaries": 420},
        {"geometry": _POLYGON, "reason": "technical survey TS-12 moved the north edge"}]})

    name: Name | None = None
    contamination: list[Contamination] | None = Field(default=None, max_length=6)
    evidence: Evidence | None = None
    land_use: LandUse | None = None
    priority: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    beneficiaries: Count | None = None
    reporting_organisation_id: UUID | None = None
    admin_area_id: UUID | None = None
    date_of_information: date | None = None
    geometry: Geometry | None = Field(default=None, description="a re-surveyed boundary")
    reason: Reason | None = Field(default=None, description="why the boundary changed")


# --- tasks --------------------------------------------------------------------------------

class TaskCreate(_Request):
    """A task planned by the national authority on hazard areas, assigned to an
    organisation and (optionally) one of its teams."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "local_id": "UA-KH-T-00420", "activity_type": "CLEARANCE", "hazard_area_ids": [_ID],
        "organisation_id": _ORG, "team_id": _TEAM, "planned_start": "2025-04-01",
        "planned_end": "2025-06-30"}]})

    id: UUID | None = None
    programme_id: UUID | None = Field(default=None, description="admins only: the programme")
    local_id: LocalId
    activity_type: ActivityType
    hazard_area_ids: list[UUID] = Field(min_length=1, max_length=100)
    organisation_id: UUID
    team_id: UUID | None = None
    project_id: UUID | None = None
    planned_start: date
    planned_end: date


class TaskUpdate(_Request):
    """Changes to a task. The operator of its organisation reports progress (status,
    actual_start, actual_end); the coordinator may change anything."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"status": "active", "actual_start": "2025-04-03"},
        {"team_id": _TEAM, "planned_end": "2025-07-15"}]})

    local_id: LocalId | None = None
    activity_type: ActivityType | None = None
    hazard_area_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=100)
    organisation_id: UUID | None = None
    team_id: UUID | None = None
    project_id: UUID | None = None
    status: TaskStatus | None = Field(default=None, description="planned → active | "
                                      "suspended; active → suspended | completed; "
                                      "suspended → active | completed")
    planned_start: date | None = None
    planned_end: date | None = None
    actual_start: date | None = None
    actual_end: date | None = None


class TaskProperties(BaseModel):
    local_id: str
    activity_type: ActivityType
    organisation_id: UUID
    team_id: UUID | None
    project_id: UUID | None
    status: TaskStatus
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    hazard_area_ids: list[UUID]
    version: int = Field(description="the ETag; send it as If-Match to change the task")
    programme_id: UUID
    created_at: datetime
    updated_at: datetime


class TaskPublic(BaseModel):
    """A task as a GeoJSON Feature: its geometry is the union of its hazard areas."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "Feature", "id": "0d5e1c7a-3c1f-4f65-b0a2-1a9f3e2d4c55",
        "geometry": {"type": "MultiPolygon", "coordinates": [[_RING]]},
        "properties": {
            "local_id": "UA-KH-T-00420", "activity_type": "CLEARANCE",
            "organisation_id": _ORG, "team_id": _TEAM, "project_id": None,
            "status": "planned", "planned_start": "2025-04-01", "planned_end": "2025-06-30",
            "actual_start": None, "actual_end": None, "hazard_area_ids": [_ID], "version": 1,
            "programme_id": "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
            "created_at": "2025-03-20T09:12:00+00:00",
            "updated_at": "2025-03-20T09:12:00+00:00"}}]})

    type: Literal["Feature"]
    id: UUID
    geometry: GeoJSONGeometry | None
    properties: TaskProperties


class TasksPublic(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[TaskPublic]
    numberReturned: int = Field(examples=[1])  # noqa: N815 (GeoJSON / OGC member names)
    links: list[Link]


# --- activity reports ---------------------------------------------------------------------

class ReleaseIn(_Request):
    """A released polygon filed with the report (booked through the ledger)."""

    id: UUID | None = Field(default=None, description="client id: a retried upload with "
                            "the same id returns the release already booked")
    product: Product
    method: Method
    technical_asset: StrictBool = False
    depth_cm: Depth | None = None
    release_date: date | None = Field(default=None, description="default: the report date")
    geometry: Geometry = Field(description="GeoJSON Polygon or MultiPolygon, lon/lat")


class FindIn(_Request):
    """An item of explosive ordnance found and (perhaps) disposed of."""

    id: UUID | None = None
    ordnance_type_id: UUID
    quantity: Annotated[StrictInt, Field(ge=1, le=100_000)] = 1
    found_date: date | None = Field(default=None, description="default: the report date")
    depth_cm: Depth | None = None
    condition: DeviceCondition = DeviceCondition.UNKNOWN
    disposal_method: DisposalMethod | None = None
    disposal_date: date | None = None
    geometry: Geometry = Field(description="GeoJSON Point, lon/lat")


class _Handover(_Request):
    """Who took part in a handover and who benefits from the land, by sex and age
    (handover certificates only)."""

    handover_men: Count | None = None
    handover_women: Count | None = None
    handover_boys: Count | None = None
    handover_girls: Count | None = None
    beneficiaries_men: Count | None = None
    beneficiaries_women: Count | None = None
    beneficiaries_boys: Count | None = None
    beneficiaries_girls: Count | None = None


class ActivityReportCreate(_Handover):
    """A progress, completion or cancellation report, or a handover certificate."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "task_id": "0d5e1c7a-3c1f-4f65-b0a2-1a9f3e2d4c55", "hazard_area_id": _ID,
        "kind": "progress", "report_date": "2025-04-30", "period_start": "2025-04-03",
        "period_end": "2025-04-30", "team_days": 24, "depth_cm": 13,
        "releases": [{"product": "cleared", "method": "MANUAL", "technical_asset": True,
                      "depth_cm": 13, "geometry": _POLYGON}],
        "finds": [{"ordnance_type_id": "3f6a0d9e-8b7c-4a5d-9e1f-2c3b4a5d6e7f",
                   "quantity": 2, "condition": "armed",
                   "disposal_method": "destroyed_in_situ", "disposal_date": "2025-04-29",
                   "geometry": {"type": "Point", "coordinates": [32.615, 46.635]}}]}]})

    id: UUID | None = None
    task_id: UUID | None = Field(default=None, description="the task the work was done under")
    hazard_area_id: UUID
    organisation_id: UUID | None = Field(default=None, description="default: the task's, "
                                         "or the operator's own")
    team_id: UUID | None = None
    kind: ReportKind
    report_date: date
    period_start: date | None = None
    period_end: date | None = None
    team_days: TeamDays = 0
    depth_cm: Depth | None = None
    notes: Notes | None = None
    releases: list[ReleaseIn] = Field(default_factory=list, max_length=200)
    finds: list[FindIn] = Field(default_factory=list, max_length=1000)


class ActivityReportUpdate(_Handover):
    """Corrections to a report's own fields (its releases are in the ledger)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"team_days": 26, "notes": "two days lost to rain"}]})

    team_id: UUID | None = None
    report_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    team_days: TeamDays | None = None
    depth_cm: Depth | None = None
    notes: Notes | None = None


class BookedRelease(BaseModel):
    id: UUID
    product: Product
    method: Method
    release_date: date
    area_m2: float = Field(description="geodesic area booked, m²")
    clipped_m2: float
    warnings: list[str] = []


class FiledFind(BaseModel):
    id: UUID
    ordnance_type_id: UUID
    quantity: int
    found_date: date


class ActivityReportPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
        "task_id": "0d5e1c7a-3c1f-4f65-b0a2-1a9f3e2d4c55", "hazard_area_id": _ID,
        "organisation_id": _ORG, "team_id": _TEAM, "kind": "progress",
        "report_date": "2025-04-30", "period_start": "2025-04-03", "period_end": "2025-04-30",
        "team_days": 24.0, "depth_cm": 13, "handover_men": None, "handover_women": None,
        "handover_boys": None, "handover_girls": None, "beneficiaries_men": None,
        "beneficiaries_women": None, "beneficiaries_boys": None, "beneficiaries_girls": None,
        "notes": None, "version": 1, "programme_id": "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
        "created_at": "2025-04-30T16:00:00+00:00", "updated_at": "2025-04-30T16:00:00+00:00",
        "hazard_area_status": "worked_on", "remaining_area_m2": 81234.5,
        "releases": [{"id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", "product": "cleared",
                      "method": "MANUAL", "release_date": "2025-04-30", "area_m2": 1200.5,
                      "clipped_m2": 0.0, "warnings": []}],
        "finds": [{"id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                   "ordnance_type_id": "3f6a0d9e-8b7c-4a5d-9e1f-2c3b4a5d6e7f",
                   "quantity": 2, "found_date": "2025-04-29"}]}]})

    id: UUID
    task_id: UUID | None
    hazard_area_id: UUID
    organisation_id: UUID
    team_id: UUID | None
    kind: ReportKind
    report_date: date
    period_start: date | None
    period_end: date | None
    team_days: float
    depth_cm: int | None
    handover_men: int | None
    handover_women: int | None
    handover_boys: int | None
    handover_girls: int | None
    beneficiaries_men: int | None
    beneficiaries_women: int | None
    beneficiaries_boys: int | None
    beneficiaries_girls: int | None
    notes: str | None
    version: int = Field(description="the ETag; send it as If-Match to change the report")
    programme_id: UUID
    created_at: datetime
    updated_at: datetime
    hazard_area_status: str = Field(description="the hazard area's status now")
    remaining_area_m2: float = Field(description="the hazard area's remaining m² now")
    releases: list[BookedRelease]
    finds: list[FiledFind]


class ActivityReportsPublic(BaseModel):
    items: list[ActivityReportPublic]
    numberReturned: int = Field(examples=[1])  # noqa: N815
    links: list[Link]
