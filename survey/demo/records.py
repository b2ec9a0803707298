"""The demo's fixed names and dates, and the records it builds (`DemoData`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import date
from uuid import UUID

from shapely.geometry.base import BaseGeometry

from survey.domain.models import (
    Accident,
    ActivityReport,
    AdminArea,
    AppUser,
    DeviceFind,
    Donor,
    EvidencePoint,
    HazardArea,
    MarkerPoint,
    Organisation,
    Programme,
    Project,
    Record,
    Release,
    Task,
    TaskHazardArea,
    Team,
    Victim,
)

DEMO_PASSWORD = "demo-password"  # noqa: S105 - published on purpose: demo data only
DEMO_PROGRAMME_NAME = "Ukraine — Kharkiv oblast demo"
DEMO_USERS = ["admin", "coordinator", "operator.halo", "operator.fsd", "donor.eu"]

# The demo's "today": every date is drawn relative to fixed dates, never the clock.
AS_OF = date(2025, 12, 31)
FIRST_WORK = date(2024, 1, 8)


@dataclass
class Site:
    """A placed hazard area with what the generator needs to know about its shape."""

    record: HazardArea
    shape_m: BaseGeometry  # undensified, local metres
    kind: str


@dataclass
class DemoData:
    """Every record of the demo programme, in an order that respects the foreign keys.

    Device finds and accidents refer to their ordnance type by a placeholder id;
    `ordnance_models` maps each placeholder to a catalogue model (migration 0003), which
    `load` resolves to the catalogue's own id.
    """

    programme: Programme
    admin_areas: list[AdminArea] = field(default_factory=list)
    organisations: list[Organisation] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    donors: list[Donor] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    users: list[AppUser] = field(default_factory=list)
    hazard_areas: list[HazardArea] = field(default_factory=list)
    evidence_points: list[EvidencePoint] = field(default_factory=list)
    marker_points: list[MarkerPoint] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    task_hazard_areas: list[TaskHazardArea] = field(default_factory=list)
    activity_reports: list[ActivityReport] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    device_finds: list[DeviceFind] = field(default_factory=list)
    accidents: list[Accident] = field(default_factory=list)
    victims: list[Victim] = field(default_factory=list)
    ordnance_models: dict[UUID, str] = field(default_factory=dict)

    def records(self) -> list[Record]:
        """Every record, programme first, in foreign-key order."""
        out: list[Record] = [self.programme]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                out.extend(value)
        return out

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        counts: dict[str, int] = {}
        for record in self.records():
            counts[record.__table__] = counts.get(record.__table__, 0) + 1
        return counts


def ordnance_placeholder(model: str) -> UUID:
    """The stand-in id under which generated records name a catalogue model."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:demine:ordnance-model:{model}")

