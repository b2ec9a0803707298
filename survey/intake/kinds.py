"""Record kinds the intake takes, and the normalised record a submission stages.

A `Candidate` is one record as it will be written: the field values of its domain model
(survey.domain.models), its geometry as shapely in EPSG:4326, and its provenance. The
mapping and row validation (survey.intake.validate) make candidates from source features;
the submission (survey.intake.submission) stages them in `intake_staging` and writes them
on approval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shapely.geometry.base import BaseGeometry

from survey.intake.features import Issue, Provenance


class RecordKind(StrEnum):
    """What a file holds, as `demine import FILE --as KIND` names it."""

    HAZARD_AREAS = "hazard-areas"
    EVIDENCE_POINTS = "evidence-points"
    MARKER_POINTS = "marker-points"
    TRACKS = "tracks"
    TASKS = "tasks"
    ACTIVITY_REPORTS = "activity-reports"
    RELEASES = "releases"
    DEVICE_FINDS = "device-finds"


class Action(StrEnum):
    """What approval does with a candidate."""

    CREATE = "create"
    # a hazard area whose local id exists already: a boundary change through the re-survey
    # path of the ledger, so that the books are kept
    RESURVEY = "resurvey"


@dataclass
class Candidate:
    """One normalised record: `values` holds the model's fields (JSON-ready scalars; ids as
    str; dates as ISO text) without programme_id (the submission's) and without the
    geometry, which is `geom`. `seq` is its order in the submission (from 1)."""

    kind: RecordKind
    seq: int
    provenance: Provenance
    values: dict[str, Any]
    geom: BaseGeometry | None = None
    action: Action = Action.CREATE
    issues: list[Issue] = field(default_factory=list)
