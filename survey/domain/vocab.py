"""The controlled vocabularies of the data model (IMAS terms), one StrEnum each.

The values are what the database CHECK constraints accept; keep the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class Classification(StrEnum):
    SHA = "SHA"  # suspected: indirect evidence
    CHA = "CHA"  # confirmed: direct evidence


class HazardStatus(StrEnum):
    OPEN = "open"
    WORKED_ON = "worked_on"
    CLOSED = "closed"
    HANDED_OVER = "handed_over"


class Contamination(StrEnum):
    AP_MINE = "AP_MINE"
    AT_MINE = "AT_MINE"
    CMR = "CMR"
    UXO = "UXO"
    AXO = "AXO"
    IED = "IED"


class Evidence(StrEnum):
    DIRECT = "direct"
    INDIRECT = "indirect"


class LandUse(StrEnum):
    AGRICULTURAL = "agricultural"
    PASTURE = "pasture"
    FOREST = "forest"
    RESIDENTIAL = "residential"
    INFRASTRUCTURE = "infrastructure"
    WATER = "water"
    OTHER = "other"


class OrganisationKind(StrEnum):
    NATIONAL_AUTHORITY = "national_authority"
    NGO = "ngo"
    COMMERCIAL = "commercial"
    MILITARY = "military"
    UN = "un"


class Capability(StrEnum):
    NTS = "NTS"
    TS = "TS"
    MANUAL = "MANUAL"
    MDD = "MDD"
    MECHANICAL = "MECHANICAL"
    EOD = "EOD"


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    OPERATOR = "operator"
    DONOR = "donor"
    PUBLIC = "public"


class ActivityType(StrEnum):
    NTS = "NTS"
    TS = "TS"
    CLEARANCE = "CLEARANCE"
    BAC = "BAC"
    EOD_SPOT = "EOD_SPOT"


class TaskStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    COMPLETED = "completed"


class ReportKind(StrEnum):
    PROGRESS = "progress"
    COMPLETION = "completion"
    CANCELLATION = "cancellation"
    HANDOVER = "handover"


class Product(StrEnum):
    CANCELLED = "cancelled"  # by non-technical survey
    REDUCED = "reduced"  # by technical survey
    CLEARED = "cleared"  # by clearance


class Method(StrEnum):
    NTS = "NTS"
    MANUAL = "MANUAL"
    MDD = "MDD"
    MECHANICAL = "MECHANICAL"
    COMBINED = "COMBINED"


class MarkerKind(StrEnum):
    REFERENCE = "reference"
    BENCHMARK = "benchmark"
    START = "start"
    TURNING = "turning"
    INTERMEDIATE = "intermediate"
    END = "end"


class OrdnanceCategory(StrEnum):
    AP_MINE = "AP_MINE"
    AT_MINE = "AT_MINE"
    SUBMUNITION = "SUBMUNITION"
    PROJECTILE = "PROJECTILE"
    MORTAR = "MORTAR"
    ROCKET = "ROCKET"
    GRENADE = "GRENADE"
    AIRCRAFT_BOMB = "AIRCRAFT_BOMB"
    AXO = "AXO"
    IED = "IED"
    OTHER = "OTHER"


class DeviceCondition(StrEnum):
    ARMED = "armed"
    UNARMED = "unarmed"
    DAMAGED = "damaged"
    UNKNOWN = "unknown"


class DisposalMethod(StrEnum):
    DESTROYED_IN_SITU = "destroyed_in_situ"
    MOVED_AND_DESTROYED = "moved_and_destroyed"
    RENDERED_SAFE = "rendered_safe"
    HANDED_TO_AUTHORITY = "handed_to_authority"


class AccidentKind(StrEnum):
    DEMINING = "demining"
    MINE = "mine"
    CMR = "cmr"
    IED = "ied"
    UXO_AXO = "uxo_axo"
    STORED_AMMUNITION = "stored_ammunition"
    OTHER = "other"


class SubmissionStatus(StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    REJECTED = "rejected"
    APPROVED = "approved"


class SubmissionFormat(StrEnum):
    KOBO_CSV = "kobo_csv"
    KOBO_XLSX = "kobo_xlsx"
    KOBO_GEOJSON = "kobo_geojson"
    ODK_CSV = "odk_csv"
    ODK_GEOJSON = "odk_geojson"
    GEOJSON = "geojson"
    GEOJSONSEQ = "geojsonseq"
    GPKG = "gpkg"
    SHP_ZIP = "shp_zip"
    KML = "kml"
    KMZ = "kmz"
    GPX = "gpx"
    CSV = "csv"
    XLSX = "xlsx"
    TURNPOINTS = "turnpoints"
    # a file the intake did not recognise: its submission is rejected, and says why
    UNKNOWN = "unknown"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    TRANSITION = "transition"
    BULK_CREATE = "bulk_create"
    APPROVE = "approve"
    REJECT = "reject"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"  # a refused sign-in: the name tried and the address
    LOGOUT = "logout"
    REVOKE = "revoke"  # a token revoked by its owner or an admin
