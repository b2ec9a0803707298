"""Records of the data model (DESIGN.md section 3), one pydantic model per table.

Each model mirrors its table column for column, so rows load straight into it
(`class_row`). `__table__` names the table; `__generated__` lists the columns the
database computes (geodesic areas), which are read back but never written.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, WithJsonSchema
from shapely.geometry import LineString, MultiLineString

from survey.domain.geometry import (
    MultiPolygonField,
    PointField,
    RemainingField,
    as_geometry,
    to_geojson,
)
from survey.domain.vocab import (
    AccidentKind,
    ActivityType,
    AuditAction,
    Capability,
    Classification,
    Contamination,
    DeviceCondition,
    DisposalMethod,
    Evidence,
    HazardStatus,
    LandUse,
    MarkerKind,
    Method,
    OrdnanceCategory,
    OrganisationKind,
    Product,
    ReportKind,
    Role,
    SubmissionFormat,
    SubmissionStatus,
    TaskStatus,
)
from survey.errors import InvalidGeometry


class Record(BaseModel):
    """A row of one table."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    __table__: ClassVar[str]
    __generated__: ClassVar[frozenset[str]] = frozenset()
    __geometry__: ClassVar[frozenset[str]] = frozenset()
    __json__: ClassVar[frozenset[str]] = frozenset()
    __key__: ClassVar[tuple[str, ...]] = ("id",)

    def key(self) -> dict[str, Any]:
        """The primary-key values of this record."""
        return {name: getattr(self, name) for name in self.__key__}


class Programme(Record):
    __table__ = "programme"
    __geometry__ = frozenset({"extent"})

    id: UUID = Field(default_factory=uuid4)
    code: str
    country_iso: str
    name: str
    extent: MultiPolygonField
    national_crs: int = 4326
    closure_threshold_m2: float = 1.0
    languages: list[str] = Field(default_factory=lambda: ["en"])
    created_at: datetime | None = None
    # the first day its records may carry: an earlier date is refused as a typo (0006)
    records_from: date = date(1990, 1, 1)


class Organisation(Record):
    __table__ = "organisation"

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    name: str
    acronym: str | None = None
    kind: OrganisationKind
    country_iso: str | None = None
    created_at: datetime | None = None
    # ETag / If-Match (0012)
    version: int = 1


class Team(Record):
    __table__ = "team"

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    organisation_id: UUID
    name: str
    capabilities: list[Capability] = Field(default_factory=list)
    created_at: datetime | None = None
    # ETag / If-Match (0012)
    version: int = 1


class Donor(Record):
    __table__ = "donor"

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    name: str
    country_iso: str | None = None
    created_at: datetime | None = None
    # ETag / If-Match (0012)
    version: int = 1


class Project(Record):
    __table__ = "project"

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    donor_id: UUID
    code: str
    name: str
    start_date: date
    end_date: date
    target_area_m2: float | None = None
    target_devices: int | None = None
    created_at: datetime | None = None
    # ETag / If-Match (0012)
    version: int = 1
    budget_usd: Decimal | None = None  # migration 0014; reports give the cost per m²


class AppUser(Record):
    __table__ = "app_user"

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID | None = None
    username: str
    full_name: str
    role: Role
    organisation_id: UUID | None = None
    donor_id: UUID | None = None
    password_hash: str
    active: bool = True
    created_at: datetime | None = None


class ApiToken(Record):
    __table__ = "api_token"

    id: UUID = Field(default_factory=uuid4)
    user_id: UUID
    token_sha256: str
    created_at: datetime | None = None
    expires_at: datetime
    revoked_at: datetime | None = None
    # a long-lived token for a field device or a script is named; a sign-in's is not (0010)
    name: str | None = None


class AdminArea(Record):
    __table__ = "admin_area"
    __generated__ = frozenset({"area_m2"})
    __geometry__ = frozenset({"geom"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    parent_id: UUID | None = None
    level: int
    code: str
    name: str
    geom: MultiPolygonField
    area_m2: float | None = None
    # ETag / If-Match (0012)
    version: int = 1


class Submission(Record):
    __table__ = "submission"
    __json__ = frozenset({"issues", "payload", "report"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    source_file: str
    source_sha256: str
    format: SubmissionFormat
    form_id: str | None = None
    form_version: str | None = None
    submitted_by: UUID | None = None
    submitted_at: datetime | None = None
    status: SubmissionStatus = SubmissionStatus.RECEIVED
    issues: list[dict[str, Any]] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    decided_by: UUID | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    # the intake's (0008): see survey.intake.submission
    organisation_id: UUID | None = None
    kind: str | None = None
    stored_path: str | None = None
    instance_ids: list[str] = Field(default_factory=list)
    idempotency_key: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)


class HazardArea(Record):
    __table__ = "hazard_area"
    # remaining_area_m2 is the ledger's to write (the sum of the remaining pieces)
    __generated__ = frozenset({"area_m2", "remaining_area_m2"})
    __geometry__ = frozenset({"geom"})
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    local_id: str
    name: str | None = None
    classification: Classification
    status: HazardStatus = HazardStatus.OPEN
    contamination: list[Contamination] = Field(default_factory=list)
    evidence: Evidence
    land_use: LandUse | None = None
    priority: int | None = None
    beneficiaries: int | None = None
    reporting_organisation_id: UUID | None = None
    admin_area_id: UUID | None = None
    parent_id: UUID | None = None
    submission_id: UUID | None = None
    date_of_information: date
    source_crs: str = "EPSG:4326"
    geom: MultiPolygonField
    area_m2: float | None = None
    remaining_area_m2: float | None = None
    version: int = 1
    status_changed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # where it came from when the intake brought it (0008)
    provenance: dict[str, Any] | None = None


class RemainingPiece(Record):
    """A piece of what remains of a hazard area (see migration 0002)."""

    __table__ = "remaining_piece"
    __generated__ = frozenset({"id", "area_m2"})
    __geometry__ = frozenset({"geom"})

    id: int | None = None
    hazard_area_id: UUID
    geom: RemainingField
    area_m2: float | None = None


class HazardAreaBoundary(Record):
    __table__ = "hazard_area_boundary"
    __generated__ = frozenset({"area_m2"})
    __geometry__ = frozenset({"geom"})
    __key__ = ("hazard_area_id", "boundary_version")

    hazard_area_id: UUID
    boundary_version: int
    geom: MultiPolygonField
    area_m2: float | None = None
    valid_from: datetime
    valid_to: datetime
    reason: str


class EvidencePoint(Record):
    __table__ = "evidence_point"
    __geometry__ = frozenset({"geom"})
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    hazard_area_id: UUID | None = None
    evidence: Evidence
    description: str
    observed_on: date | None = None
    geom: PointField
    created_at: datetime | None = None
    provenance: dict[str, Any] | None = None
    # ETag / If-Match, the reporting organisation, soft delete (0012)
    version: int = 1
    organisation_id: UUID | None = None
    deleted_at: datetime | None = None


class OrdnanceType(Record):
    __table__ = "ordnance_type"

    id: UUID = Field(default_factory=uuid4)
    category: OrdnanceCategory
    subcategory: str
    model: str
    aliases: list[str] = Field(default_factory=list)
    origin: str | None = None
    description: str | None = None
    # ETag / If-Match (0012)
    version: int = 1


class Task(Record):
    __table__ = "task"
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    local_id: str
    activity_type: ActivityType
    organisation_id: UUID
    team_id: UUID | None = None
    project_id: UUID | None = None
    status: TaskStatus = TaskStatus.PLANNED
    planned_start: date
    planned_end: date
    actual_start: date | None = None
    actual_end: date | None = None
    version: int = 1
    created_at: datetime | None = None
    provenance: dict[str, Any] | None = None
    # the record API (0011): when it last changed, and soft delete
    updated_at: datetime | None = None
    deleted_at: datetime | None = None


class TaskHazardArea(Record):
    __table__ = "task_hazard_area"
    __key__ = ("task_id", "hazard_area_id")

    task_id: UUID
    hazard_area_id: UUID


class ActivityReport(Record):
    __table__ = "activity_report"
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    task_id: UUID | None = None
    hazard_area_id: UUID
    organisation_id: UUID
    team_id: UUID | None = None
    kind: ReportKind
    report_date: date
    period_start: date | None = None
    period_end: date | None = None
    team_days: Decimal = Decimal(0)
    depth_cm: int | None = None
    handover_men: int | None = None
    handover_women: int | None = None
    handover_boys: int | None = None
    handover_girls: int | None = None
    notes: str | None = None
    submission_id: UUID | None = None
    created_at: datetime | None = None
    provenance: dict[str, Any] | None = None
    # the record API (0011): a version (the ETag), when it last changed, and soft delete
    version: int = 1
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    # beneficiaries of a handover, by sex and age (0011)
    beneficiaries_men: int | None = None
    beneficiaries_women: int | None = None
    beneficiaries_boys: int | None = None
    beneficiaries_girls: int | None = None


class Release(Record):
    __table__ = "release"
    # the attribution is filled in by the database when the release is booked (0005)
    __generated__ = frozenset({"area_m2", "booked_seq", "organisation_id", "project_id",
                               "donor_id", "admin_area_id"})
    __geometry__ = frozenset({"geom"})
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    activity_report_id: UUID
    hazard_area_id: UUID
    product: Product
    method: Method
    technical_asset: bool = False
    depth_cm: int | None = None
    release_date: date
    geom: MultiPolygonField
    area_m2: float | None = None
    clipped_m2: float = 0.0
    created_at: datetime | None = None
    split_from_id: UUID | None = None
    booked_seq: int | None = None
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None
    admin_area_id: UUID | None = None
    provenance: dict[str, Any] | None = None


class MarkerPoint(Record):
    __table__ = "marker_point"
    __geometry__ = frozenset({"geom"})
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    hazard_area_id: UUID | None = None
    release_id: UUID | None = None
    kind: MarkerKind
    sequence: int = 0
    bearing_deg: float | None = None
    distance_m: float | None = None
    description: str | None = None
    geom: PointField
    provenance: dict[str, Any] | None = None
    # ETag / If-Match, the reporting organisation, soft delete (0012)
    version: int = 1
    organisation_id: UUID | None = None
    deleted_at: datetime | None = None


class DeviceFind(Record):
    __table__ = "device_find"
    __geometry__ = frozenset({"geom"})
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    activity_report_id: UUID | None = None
    hazard_area_id: UUID | None = None
    ordnance_type_id: UUID
    quantity: int = 1
    found_date: date
    depth_cm: int | None = None
    condition: DeviceCondition = DeviceCondition.UNKNOWN
    disposal_method: DisposalMethod | None = None
    disposal_date: date | None = None
    geom: PointField
    provenance: dict[str, Any] | None = None
    # ETag / If-Match, the reporting organisation, soft delete (0012)
    version: int = 1
    organisation_id: UUID | None = None
    deleted_at: datetime | None = None


def _as_multilinestring(value: Any) -> MultiLineString:
    geom = as_geometry(value)
    if isinstance(geom, LineString):
        geom = MultiLineString([geom])
    if not isinstance(geom, MultiLineString) or geom.is_empty:
        raise InvalidGeometry(f"expected a LineString or MultiLineString, got {geom.geom_type}")
    return geom


MultiLineStringField = Annotated[
    MultiLineString, PlainValidator(_as_multilinestring),
    PlainSerializer(to_geojson, when_used="json"),
    WithJsonSchema({"type": "object", "description": "GeoJSON geometry (RFC 7946)"})]


class SurveyTrack(Record):
    """The route a team walked (0008), with its geodesic length."""

    __table__ = "survey_track"
    __generated__ = frozenset({"length_m"})
    __geometry__ = frozenset({"geom"})
    __json__ = frozenset({"provenance"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    hazard_area_id: UUID | None = None
    task_id: UUID | None = None
    organisation_id: UUID | None = None
    name: str | None = None
    recorded_on: date | None = None
    geom: MultiLineStringField
    length_m: float | None = None
    provenance: dict[str, Any] | None = None
    submission_id: UUID | None = None
    created_at: datetime | None = None


class Accident(Record):
    __table__ = "accident"
    __geometry__ = frozenset({"geom"})

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    kind: AccidentKind
    accident_date: date
    hazard_area_id: UUID | None = None
    ordnance_type_id: UUID | None = None
    description: str | None = None
    geom: PointField
    # ETag / If-Match, the reporting organisation, soft delete (0012)
    version: int = 1
    organisation_id: UUID | None = None
    deleted_at: datetime | None = None


class Victim(Record):
    __table__ = "victim"

    id: UUID = Field(default_factory=uuid4)
    programme_id: UUID
    accident_id: UUID
    full_name: str | None = None
    sex: str | None = None
    age_years: int | None = None
    outcome: str
    activity_at_time: str | None = None
    tampered: bool | None = None
    # ETag / If-Match (0012)
    version: int = 1


class AuditEntry(Record):
    __table__ = "audit_log"
    __generated__ = frozenset({"id"})
    __json__ = frozenset({"before", "after"})

    id: int | None = None
    programme_id: UUID | None = None
    at: datetime | None = None
    actor: str
    action: AuditAction
    entity: str
    entity_id: UUID | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None


ALL_MODELS: tuple[type[Record], ...] = (
    Programme, Organisation, Team, Donor, Project, AppUser, ApiToken, AdminArea, Submission,
    HazardArea, RemainingPiece, HazardAreaBoundary, EvidencePoint, OrdnanceType, Task,
    TaskHazardArea,
    ActivityReport, Release, MarkerPoint, DeviceFind, SurveyTrack, Accident, Victim, AuditEntry,
)
