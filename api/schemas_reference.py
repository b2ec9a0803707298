"""Schemas of the reference and field-point resources (XCreate / XUpdate / XPublic, and
the query parameters of each listing). The rules live in survey.records.reference,
.points and .casualties; these only say what goes over the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import GeoJSONGeometry, Link, StrictBool, StrictInt, Text
from survey.domain.vocab import (
    AccidentKind,
    Capability,
    Classification,
    DeviceCondition,
    DisposalMethod,
    Evidence,
    HazardStatus,
    MarkerKind,
    OrdnanceCategory,
    OrganisationKind,
)

Name = Annotated[str, Text(200, min_length=1)]
Code = Annotated[str, Text(64, min_length=1)]
Description = Annotated[str, Text(2_000, min_length=1)]
CountryIso = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["UA"])]
Geometry = Annotated[dict[str, Any], Field(description="GeoJSON geometry (RFC 7946, lon/lat)")]
PointGeometry = Annotated[dict[str, Any], Field(
    description="GeoJSON Point, [longitude, latitude] in WGS84",
    examples=[{"type": "Point", "coordinates": [37.2601, 49.1883]}])]
Budget = Annotated[float, Field(ge=0, le=1e12, description="US dollars (the cost per m² "
                                "in the reports comes from it)")]
Depth = Annotated[StrictInt, Field(ge=0, le=10_000, description="centimetres below ground")]

PROGRAMME = Field(default=None, description="admins: the record's programme (everyone "
                  "else's records are in their own)")
CLIENT_ID = Field(default=None, description="client id of a record made in the field (a "
                  "retried upload with the same id is refused as a duplicate, 409)")
OWN_ORGANISATION = Field(default=None, description="the reporting organisation; an "
                         "operator's own by default (and only its own)")
_EXAMPLE_ID = "3f6c1c1e-5b7e-4c47-9a59-1f1e2d3c4b5a"
_PROGRAMME_ID = "7a1d0a52-86b4-4bd2-9d4e-0c2f5e3b8a11"


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Update(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    links: list[Link] = Field(description="`self`, and `next` while there are more rows")


# --- organisations -------------------------------------------------------------------------

class OrganisationCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Danish Refugee Council", "acronym": "DRC", "kind": "ngo",
        "country_iso": "DK"}]})

    programme_id: UUID | None = PROGRAMME
    name: Name
    acronym: Code | None = None
    kind: OrganisationKind
    country_iso: CountryIso | None = None


class OrganisationUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"acronym": "DRC-DDG"}]})

    name: Name | None = None
    acronym: Code | None = None
    kind: OrganisationKind | None = None
    country_iso: CountryIso | None = None


class OrganisationPublic(_Public):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": _EXAMPLE_ID, "programme_id": _PROGRAMME_ID, "name": "The HALO Trust",
         "acronym": "HALO", "kind": "ngo", "country_iso": "GB",
         "created_at": "2026-01-05T09:00:00Z", "version": 1}]})

    id: UUID
    programme_id: UUID
    name: str
    acronym: str | None
    kind: OrganisationKind
    country_iso: str | None
    created_at: datetime
    version: int = Field(description="the ETag; send it back as If-Match to change it")


class OrganisationsPublic(Page):
    items: list[OrganisationPublic]


# --- teams -------------------------------------------------------------------------------

class TeamCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "organisation_id": _EXAMPLE_ID, "name": "HALO Manual 3",
        "capabilities": ["MANUAL", "TS"]}]})

    programme_id: UUID | None = PROGRAMME
    organisation_id: UUID
    name: Name
    capabilities: list[Capability] = Field(default_factory=list, max_length=6)


class TeamUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"capabilities": ["MANUAL", "TS", "EOD"]}]})

    organisation_id: UUID | None = None
    name: Name | None = None
    capabilities: list[Capability] | None = Field(default=None, max_length=6)


class TeamPublic(_Public):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": _EXAMPLE_ID, "programme_id": _PROGRAMME_ID, "organisation_id": _EXAMPLE_ID,
         "name": "HALO Manual 1", "capabilities": ["TS", "MANUAL"],
         "created_at": "2026-01-05T09:00:00Z", "version": 1}]})

    id: UUID
    programme_id: UUID
    organisation_id: UUID
    name: str
    capabilities: list[Capability]
    created_at: datetime
    version: int


class TeamsPublic(Page):
    items: list[TeamPublic]


# --- donors ------------------------------------------------------------------------------

class DonorCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Government of Japan", "country_iso": "JP"}]})

    programme_id: UUID | None = PROGRAMME
    name: Name
    country_iso: CountryIso | None = None


class DonorUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Government of Japan (JICA)"}]})

    name: Name | None = None
    country_iso: CountryIso | None = None


class DonorPublic(_Public):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": _EXAMPLE_ID, "programme_id": _PROGRAMME_ID, "name": "European Union",
         "country_iso": None, "created_at": "2026-01-05T09:00:00Z", "version": 1}]})

    id: UUID
    programme_id: UUID
    name: str
    country_iso: str | None
    created_at: datetime
    version: int


class DonorsPublic(Page):
    items: list[DonorPublic]


# --- projects ----------------------------------------------------------------------------

class ProjectCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "donor_id": _EXAMPLE_ID, "code": "JP-HMA-2026", "name": "Clearance in Izium raion",
        "start_date": "2026-01-01", "end_date": "2027-12-31", "target_area_m2": 2500000,
        "target_devices": 300}]})

    programme_id: UUID | None = PROGRAMME
    donor_id: UUID
    code: Code
    name: Name
    start_date: date
    end_date: date
    target_area_m2: float | None = Field(default=None, ge=0, le=1e12)
    target_devices: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    budget_usd: Budget | None = None


class ProjectUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"end_date": "2028-06-30"}]})

    donor_id: UUID | None = None
    code: Code | None = None
    name: Name | None = None
    start_date: date | None = None
    end_date: date | None = None
    target_area_m2: float | None = Field(default=None, ge=0, le=1e12)
    target_devices: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    budget_usd: Budget | None = None


class ProjectPublic(_Public):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": _EXAMPLE_ID, "programme_id": _PROGRAMME_ID, "donor_id": _EXAMPLE_ID,
         "code": "EU-HMA-IZM-2", "name": "Land release in Izium raion, phase 2",
         "start_date": "2025-01-01", "end_date": "2026-12-31", "target_area_m2": 8000000,
         "target_devices": 800, "budget_usd": 4200000.0, "created_at": "2026-01-05T09:00:00Z",
         "version": 1}]})

    id: UUID
    programme_id: UUID
    donor_id: UUID
    code: str
    name: str
    start_date: date
    end_date: date
    target_area_m2: float | None
    target_devices: int | None
    budget_usd: float | None = Field(description="US dollars; null when unknown")
    created_at: datetime
    version: int


class ProjectsPublic(Page):
    items: list[ProjectPublic]


# --- ordnance types ----------------------------------------------------------------------

class OrdnanceTypeCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category": "AP_MINE", "subcategory": "blast", "model": "PMN-4",
        "aliases": ["PMN4"], "origin": "RU"}]})

    category: OrdnanceCategory
    subcategory: Code
    model: Code
    aliases: list[Code] = Field(default_factory=list, max_length=50)
    origin: Code | None = None
    description: Description | None = None


class OrdnanceTypeUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"aliases": ["PMN4", "PMN 4"]}]})

    category: OrdnanceCategory | None = None
    subcategory: Code | None = None
    model: Code | None = None
    aliases: list[Code] | None = Field(default=None, max_length=50)
    origin: Code | None = None
    description: Description | None = None


class OrdnanceTypePublic(_Public):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": _EXAMPLE_ID, "category": "AP_MINE", "subcategory": "blast",
         "model": "PMN-2", "aliases": ["PMN2"], "origin": "SU", "description": None,
         "version": 1}]})

    id: UUID
    category: OrdnanceCategory
    subcategory: str
    model: str
    aliases: list[str]
    origin: str | None
    description: str | None
    version: int


class OrdnanceTypesPublic(Page):
    items: list[OrdnanceTypePublic]


# --- GeoJSON resources -------------------------------------------------------------------

class _Feature(_Public):
    type: Literal["Feature"]
    id: UUID
    geometry: GeoJSONGeometry


class _FeatureCollection(Page):
    type: Literal["FeatureCollection"]
    numberReturned: int = Field(examples=[1])  # noqa: N815 (OGC API Features member names)


class AdminAreaCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "level": 3, "code": "UA6304019", "name": "Balakliia hromada",
        "parent_id": _EXAMPLE_ID, "geometry": {"type": "Polygon", "coordinates": [
            [[36.6, 49.3], [37.0, 49.3], [37.0, 49.6], [36.6, 49.6], [36.6, 49.3]]]}}]})

    programme_id: UUID | None = PROGRAMME
    parent_id: UUID | None = None
    level: Annotated[StrictInt, Field(ge=0, le=5)]
    code: Code
    name: Name
    geometry: Geometry


class AdminAreaUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Balakliia urban hromada"}]})

    parent_id: UUID | None = None
    level: Annotated[StrictInt, Field(ge=0, le=5)] | None = None
    code: Code | None = None
    name: Name | None = None
    geometry: Geometry | None = None


class AdminAreaProperties(_Public):
    programme_id: UUID
    parent_id: UUID | None
    level: int
    code: str
    name: str
    area_m2: float = Field(description="geodesic area, m²")
    version: int


class AdminAreaPublic(_Feature):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "Feature", "id": "c4e8a2f6-3b1d-4a9c-8e7f-0d5b2a6c9e14",
        "geometry": {"type": "MultiPolygon", "coordinates": [[[
            [36.95, 49.05], [37.60, 49.05], [37.60, 49.40], [36.95, 49.40], [36.95, 49.05]]]]},
        "properties": {"programme_id": _PROGRAMME_ID,
                       "parent_id": "9e3b7c1a-5d2f-4a8e-b6c0-1f4d8a2e7b53", "level": 2,
                       "code": "UA6320", "name": "Izium raion", "area_m2": 1_845_000_000.0,
                       "version": 1}}]})

    properties: AdminAreaProperties


class AdminAreasPublic(_FeatureCollection):
    features: list[AdminAreaPublic]


class DeviceFindCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "activity_report_id": _EXAMPLE_ID, "ordnance_type_id": _EXAMPLE_ID, "quantity": 2,
        "found_date": "2026-05-14", "depth_cm": 8, "condition": "armed",
        "disposal_method": "destroyed_in_situ", "disposal_date": "2026-05-14",
        "geometry": {"type": "Point", "coordinates": [37.2601, 49.1883]}}]})

    id: UUID | None = CLIENT_ID
    programme_id: UUID | None = PROGRAMME
    organisation_id: UUID | None = OWN_ORGANISATION
    activity_report_id: UUID | None = Field(default=None, description="the report it was "
                                            "recorded in (its organisation and hazard area "
                                            "apply)")
    hazard_area_id: UUID | None = None
    ordnance_type_id: UUID
    quantity: Annotated[StrictInt, Field(ge=1, le=100_000)] = 1
    found_date: date
    depth_cm: Depth | None = None
    condition: DeviceCondition = DeviceCondition.UNKNOWN
    disposal_method: DisposalMethod | None = None
    disposal_date: date | None = None
    geometry: PointGeometry


class DeviceFindUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"disposal_method": "destroyed_in_situ", "disposal_date": "2026-05-15"}]})

    organisation_id: UUID | None = None
    activity_report_id: UUID | None = None
    hazard_area_id: UUID | None = None
    ordnance_type_id: UUID | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    found_date: date | None = None
    depth_cm: Depth | None = None
    condition: DeviceCondition | None = None
    disposal_method: DisposalMethod | None = None
    disposal_date: date | None = None
    geometry: PointGeometry | None = None


class DeviceFindProperties(_Public):
    programme_id: UUID
    organisation_id: UUID | None
    activity_report_id: UUID | None
    hazard_area_id: UUID | None
    ordnance_type_id: UUID
    quantity: int
    found_date: date
    depth_cm: int | None
    condition: DeviceCondition
    disposal_method: DisposalMethod | None
    disposal_date: date | None
    version: int


class DeviceFindPublic(_Feature):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "Feature", "id": "e1a4c7d2-8f3b-4b6e-9a0c-5d2f7e1b4a86",
        "geometry": {"type": "Point", "coordinates": [37.2553, 49.2031]},
        "properties": {"programme_id": _PROGRAMME_ID, "organisation_id": _EXAMPLE_ID,
                       "activity_report_id": "9b1e4d2a-6c3f-4e8b-a7d5-2f0c1e9b8a64",
                       "hazard_area_id": "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13",
                       "ordnance_type_id": "4b8e2a6c-1d3f-4e7a-9c5b-0a2d6f8e1c37",
                       "quantity": 1, "found_date": "2025-03-01", "depth_cm": 8,
                       "condition": "armed", "disposal_method": "destroyed_in_situ",
                       "disposal_date": "2025-03-01", "version": 1}}]})

    properties: DeviceFindProperties


class DeviceFindsPublic(_FeatureCollection):
    features: list[DeviceFindPublic]


class EvidencePointCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "hazard_area_id": _EXAMPLE_ID, "evidence": "direct",
        "description": "PMN-2 visible at the field edge", "observed_on": "2026-04-02",
        "geometry": {"type": "Point", "coordinates": [37.2611, 49.1879]}}]})

    id: UUID | None = CLIENT_ID
    programme_id: UUID | None = PROGRAMME
    organisation_id: UUID | None = OWN_ORGANISATION
    hazard_area_id: UUID | None = None
    evidence: Evidence
    description: Description
    observed_on: date | None = None
    geometry: PointGeometry


class EvidencePointUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"description": "PMN-2 and tripwire at the field edge"}]})

    organisation_id: UUID | None = None
    hazard_area_id: UUID | None = None
    evidence: Evidence | None = None
    description: Description | None = None
    observed_on: date | None = None
    geometry: PointGeometry | None = None


class EvidencePointProperties(_Public):
    programme_id: UUID
    organisation_id: UUID | None
    hazard_area_id: UUID | None
    evidence: Evidence
    description: str
    observed_on: date | None
    created_at: datetime
    version: int


class EvidencePointPublic(_Feature):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "Feature", "id": "a7c2e9f4-3b1d-4e8a-b5c6-2d0f9e4a1b78",
        "geometry": {"type": "Point", "coordinates": [37.2553, 49.2031]},
        "properties": {"programme_id": _PROGRAMME_ID, "organisation_id": _EXAMPLE_ID,
                       "hazard_area_id": "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13",
                       "evidence": "direct",
                       "description": "PMN-2 fuze visible at the field edge, farmer's report",
                       "observed_on": "2025-01-09", "created_at": "2025-01-10T08:12:00Z",
                       "version": 1}}]})

    properties: EvidencePointProperties


class EvidencePointsPublic(_FeatureCollection):
    features: list[EvidencePointPublic]


Bearing = Annotated[float, Field(ge=0, lt=360, description="degrees from north")]
Distance = Annotated[float, Field(ge=0, le=100_000, description="metres")]


class MarkerPointCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "hazard_area_id": _EXAMPLE_ID, "kind": "turning", "sequence": 3,
        "bearing_deg": 112.5, "distance_m": 48.2,
        "geometry": {"type": "Point", "coordinates": [37.2622, 49.1871]}}]})

    id: UUID | None = CLIENT_ID
    programme_id: UUID | None = PROGRAMME
    organisation_id: UUID | None = OWN_ORGANISATION
    hazard_area_id: UUID | None = Field(default=None, description="this or release_id")
    release_id: UUID | None = None
    kind: MarkerKind
    sequence: Annotated[StrictInt, Field(ge=0, le=100_000)] = 0
    bearing_deg: Bearing | None = None
    distance_m: Distance | None = None
    description: Description | None = None
    geometry: PointGeometry


class MarkerPointUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sequence": 4, "bearing_deg": 90.0}]})

    organisation_id: UUID | None = None
    hazard_area_id: UUID | None = None
    release_id: UUID | None = None
    kind: MarkerKind | None = None
    sequence: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = None
    bearing_deg: Bearing | None = None
    distance_m: Distance | None = None
    description: Description | None = None
    geometry: PointGeometry | None = None


class MarkerPointProperties(_Public):
    programme_id: UUID
    organisation_id: UUID | None
    hazard_area_id: UUID | None
    release_id: UUID | None
    kind: MarkerKind
    sequence: int
    bearing_deg: float | None
    distance_m: float | None
    description: str | None
    version: int


class MarkerPointPublic(_Feature):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "Feature", "id": "d5f1b8a3-7c2e-4a9d-8e6b-3c0a1f7d2e49",
        "geometry": {"type": "Point", "coordinates": [37.2553, 49.2031]},
        "properties": {"programme_id": _PROGRAMME_ID, "organisation_id": _EXAMPLE_ID,
                       "hazard_area_id": "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13",
                       "release_id": None, "kind": "turning", "sequence": 2,
                       "bearing_deg": 87.5, "distance_m": 142.0,
                       "description": "painted rock by the track", "version": 1}}]})

    properties: MarkerPointProperties


class MarkerPointsPublic(_FeatureCollection):
    features: list[MarkerPointPublic]


class AccidentCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "kind": "demining", "accident_date": "2026-06-03", "hazard_area_id": _EXAMPLE_ID,
        "ordnance_type_id": _EXAMPLE_ID,
        "description": "deminer injured while excavating a signal",
        "geometry": {"type": "Point", "coordinates": [37.2605, 49.1881]}}]})

    id: UUID | None = CLIENT_ID
    programme_id: UUID | None = PROGRAMME
    organisation_id: UUID | None = OWN_ORGANISATION
    kind: AccidentKind
    accident_date: date
    hazard_area_id: UUID | None = None
    ordnance_type_id: UUID | None = None
    description: Description | None = None
    geometry: PointGeometry


class AccidentUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"description": "deminer injured while excavating a signal; evacuated"}]})

    organisation_id: UUID | None = None
    kind: AccidentKind | None = None
    accident_date: date | None = None
    hazard_area_id: UUID | None = None
    ordnance_type_id: UUID | None = None
    description: Description | None = None
    geometry: PointGeometry | None = None


class AccidentProperties(_Public):
    programme_id: UUID
    organisation_id: UUID | None
    kind: AccidentKind
    accident_date: date
    hazard_area_id: UUID | None
    ordnance_type_id: UUID | None
    description: str | None
    version: int


class AccidentPublic(_Feature):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "Feature", "id": "f8b3d6a1-2e4c-4f7b-a9d0-6c1e5b3a8d24",
        "geometry": {"type": "Point", "coordinates": [37.2553, 49.2031]},
        "properties": {"programme_id": _PROGRAMME_ID, "organisation_id": None,
                       "kind": "mine", "accident_date": "2024-11-04",
                       "hazard_area_id": "3f2c6a1e-8b4d-4c7a-9e21-5d0b7f6a9c13",
                       "ordnance_type_id": "4b8e2a6c-1d3f-4e7a-9c5b-0a2d6f8e1c37",
                       "description": "tractor struck an AT mine while ploughing",
                       "version": 1}}]})

    properties: AccidentProperties


class AccidentsPublic(_FeatureCollection):
    features: list[AccidentPublic]


# --- victims (personal data) -------------------------------------------------------------

Sex = Literal["female", "male", "unknown"]
Outcome = Literal["injured", "killed"]
Age = Annotated[StrictInt, Field(ge=0, le=120)]


class VictimCreate(_Create):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "accident_id": _EXAMPLE_ID, "sex": "male", "age_years": 34, "outcome": "injured",
        "activity_at_time": "manual clearance", "tampered": False}]})

    id: UUID | None = CLIENT_ID
    accident_id: UUID
    full_name: Name | None = Field(default=None, description="personal data")
    sex: Sex | None = None
    age_years: Age | None = Field(default=None, description="personal data")
    outcome: Outcome
    activity_at_time: Name | None = Field(default=None, description="personal data")
    tampered: StrictBool | None = None


class VictimUpdate(_Update):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "killed"}]})

    full_name: Name | None = None
    sex: Sex | None = None
    age_years: Age | None = None
    outcome: Outcome | None = None
    activity_at_time: Name | None = None
    tampered: StrictBool | None = None


class VictimPublic(_Public):
    """A victim. `full_name`, `age_years` and `activity_at_time` are personal data: they
    are in the answer only for admins, coordinators and the operator whose organisation
    reported the accident (`personal_data` says whether they are)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": _EXAMPLE_ID, "programme_id": _PROGRAMME_ID, "accident_id": _EXAMPLE_ID,
         "sex": "male", "outcome": "injured", "tampered": False, "age_group": "adult",
         "version": 1, "personal_data": False}]})

    id: UUID
    programme_id: UUID
    accident_id: UUID
    sex: Sex | None
    outcome: Outcome
    tampered: bool | None
    age_group: Literal["child", "adult"] | None = Field(description="under 18: child")
    version: int
    personal_data: bool = Field(description="whether the personal fields are in this answer")
    full_name: str | None = Field(default=None, description="personal data")
    age_years: int | None = Field(default=None, description="personal data")
    activity_at_time: str | None = Field(default=None, description="personal data")


class VictimsPublic(Page):
    items: list[VictimPublic]


# --- query parameters of the listings ----------------------------------------------------

Limit = Annotated[int, Field(ge=1, le=1000, description="rows per page (1 to 1000)")]
CursorText = Annotated[str | None, Field(max_length=2000, description="from the `next` "
                                         "link of the page before")]
Bbox = Annotated[str | None, Field(max_length=200, description="minlon,minlat,maxlon,maxlat",
                                   examples=["36.5,49.0,37.5,49.6"])]
Q = Annotated[str | None, Field(max_length=100, description="text the name contains "
                                "(case-insensitive)")]


class _Query(BaseModel):
    limit: Limit = 100
    cursor: CursorText = None


class OrganisationQuery(_Query):
    sort: Literal["name", "-name", "created_at", "-created_at"] | None = None
    kind: OrganisationKind | None = None
    q: Q = None


class TeamQuery(_Query):
    sort: Literal["name", "-name", "created_at", "-created_at"] | None = None
    organisation_id: UUID | None = None
    capability: Capability | None = None
    q: Q = None


class DonorQuery(_Query):
    sort: Literal["name", "-name", "created_at", "-created_at"] | None = None
    q: Q = None


class ProjectQuery(_Query):
    sort: Literal["code", "-code", "name", "-name", "start_date", "-start_date", "end_date",
                  "-end_date"] | None = None
    donor_id: UUID | None = None
    date_from: date | None = Field(default=None, description="projects running on or after")
    date_to: date | None = Field(default=None, description="projects running on or before")
    q: Q = None
    project_id: UUID | None = None
    organisation_id: UUID | None = Field(default=None, description="projects with a task "
                                         "by the organisation")
    admin_area_id: UUID | None = Field(default=None, description="projects with a task on "
                                       "a hazard area in the admin area")
    hazard_area_id: UUID | None = Field(default=None, description="projects with a task on "
                                        "the hazard area")


class OrdnanceTypeQuery(_Query):
    sort: Literal["model", "-model", "category", "-category", "subcategory",
                  "-subcategory"] | None = None
    category: OrdnanceCategory | None = None
    subcategory: Annotated[str | None, Field(max_length=64)] = None
    q: Annotated[str | None, Field(max_length=100, description="text the model or one of "
                                   "its aliases contains", examples=["PMN"])] = None


class AdminAreaQuery(_Query):
    sort: Literal["code", "-code", "name", "-name", "level", "-level"] | None = None
    bbox: Bbox = None
    level: Annotated[int | None, Field(ge=0, le=5)] = None
    parent_id: UUID | None = None
    q: Q = None


class _PointQuery(_Query):
    bbox: Bbox = None
    organisation_id: UUID | None = None
    hazard_area_id: UUID | None = None
    admin_area_id: UUID | None = Field(default=None, description="points inside this area")
    status: HazardStatus | None = Field(default=None, description="of the hazard area")
    classification: Classification | None = Field(default=None,
                                                  description="of the hazard area")


class DeviceFindQuery(_PointQuery):
    sort: Literal["found_date", "-found_date", "quantity", "-quantity"] | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None
    activity_report_id: UUID | None = None
    ordnance_type_id: UUID | None = None
    category: OrdnanceCategory | None = None
    model: Annotated[str | None, Field(max_length=64, description="the ordnance model, "
                                       "as the catalogue names it", examples=["PMN-2"])] = None
    condition: DeviceCondition | None = None
    date_from: date | None = Field(default=None, description="found on or after")
    date_to: date | None = Field(default=None, description="found on or before")


class EvidencePointQuery(_PointQuery):
    sort: Literal["created_at", "-created_at", "evidence", "-evidence"] | None = None
    evidence: Evidence | None = None
    date_from: date | None = Field(default=None, description="observed on or after")
    date_to: date | None = Field(default=None, description="observed on or before")


class MarkerPointQuery(_PointQuery):
    sort: Literal["sequence", "-sequence", "kind", "-kind"] | None = None
    kind: MarkerKind | None = None
    release_id: UUID | None = None


class AccidentQuery(_Query):
    sort: Literal["accident_date", "-accident_date", "kind", "-kind"] | None = None
    bbox: Bbox = None
    kind: AccidentKind | None = None
    organisation_id: UUID | None = None
    hazard_area_id: UUID | None = None
    admin_area_id: UUID | None = None
    ordnance_type_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None


class VictimQuery(_Query):
    sort: Literal["accident_date", "-accident_date", "outcome", "-outcome"] | None = None
    accident_id: UUID | None = None
    outcome: Outcome | None = None
    sex: Sex | None = None
