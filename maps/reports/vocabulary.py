"""The vocabulary codes a report may print (`Column.translate_values`), and its units,
marked for extraction so that the catalogues translate them.

Codes travel raw in the Report (`cleared`, `MDD`); the renderer translates them under the
msgctxt `vocabulary` (units under `unit`), so that a code never collides with a label of
the same spelling. `tests/test_reports_render.py` checks this list against the enums of
`survey.domain.vocab`, so a new code cannot go untranslated.
"""

from __future__ import annotations


def C_(context: str, message: str) -> str:
    """Mark a message with its context for extraction (`pybabel -k C_:1c,2`)."""
    return message


# the enums of survey.domain.vocab whose codes reports print
ENUMS = ("Classification", "HazardStatus", "Contamination", "Evidence", "LandUse",
         "OrganisationKind", "Capability", "ActivityType", "TaskStatus", "ReportKind", "Product",
         "Method", "OrdnanceCategory", "DeviceCondition", "DisposalMethod")

VOCABULARY = (
    # Classification
    C_("vocabulary", "SHA"), C_("vocabulary", "CHA"),
    # HazardStatus
    C_("vocabulary", "open"), C_("vocabulary", "worked_on"), C_("vocabulary", "closed"),
    C_("vocabulary", "handed_over"),
    # Contamination
    C_("vocabulary", "AP_MINE"), C_("vocabulary", "AT_MINE"), C_("vocabulary", "CMR"),
    C_("vocabulary", "UXO"), C_("vocabulary", "AXO"), C_("vocabulary", "IED"),
    # Evidence
    C_("vocabulary", "direct"), C_("vocabulary", "indirect"),
    # LandUse
    C_("vocabulary", "agricultural"), C_("vocabulary", "pasture"), C_("vocabulary", "forest"),
    C_("vocabulary", "residential"), C_("vocabulary", "infrastructure"), C_("vocabulary", "water"),
    C_("vocabulary", "other"),
    # OrganisationKind
    C_("vocabulary", "national_authority"), C_("vocabulary", "ngo"),
    C_("vocabulary", "commercial"), C_("vocabulary", "military"), C_("vocabulary", "un"),
    # Capability
    C_("vocabulary", "NTS"), C_("vocabulary", "TS"), C_("vocabulary", "MANUAL"),
    C_("vocabulary", "MDD"), C_("vocabulary", "MECHANICAL"), C_("vocabulary", "EOD"),
    # ActivityType
    C_("vocabulary", "CLEARANCE"), C_("vocabulary", "BAC"), C_("vocabulary", "EOD_SPOT"),
    # TaskStatus
    C_("vocabulary", "planned"), C_("vocabulary", "active"), C_("vocabulary", "suspended"),
    C_("vocabulary", "completed"),
    # ReportKind
    C_("vocabulary", "progress"), C_("vocabulary", "completion"), C_("vocabulary", "cancellation"),
    C_("vocabulary", "handover"),
    # Product
    C_("vocabulary", "cancelled"), C_("vocabulary", "reduced"), C_("vocabulary", "cleared"),
    # Method
    C_("vocabulary", "COMBINED"),
    # OrdnanceCategory
    C_("vocabulary", "SUBMUNITION"), C_("vocabulary", "PROJECTILE"), C_("vocabulary", "MORTAR"),
    C_("vocabulary", "ROCKET"), C_("vocabulary", "GRENADE"), C_("vocabulary", "AIRCRAFT_BOMB"),
    C_("vocabulary", "OTHER"),
    # DeviceCondition
    C_("vocabulary", "armed"), C_("vocabulary", "unarmed"), C_("vocabulary", "damaged"),
    C_("vocabulary", "unknown"),
    # DisposalMethod
    C_("vocabulary", "destroyed_in_situ"), C_("vocabulary", "moved_and_destroyed"),
    C_("vocabulary", "rendered_safe"), C_("vocabulary", "handed_to_authority"),
    # the reports' own: a row with no release recorded, and a totals row
    C_("vocabulary", "none"), C_("vocabulary", "total"),
)

UNITS = (
    C_("unit", "m²"), C_("unit", "km²"), C_("unit", "ha"), C_("unit", "items"),
    C_("unit", "team-days"), C_("unit", "m²/team-day"), C_("unit", "USD"), C_("unit", "%"),
    C_("unit", "months"), C_("unit", "days"), C_("unit", "people"), C_("unit", "USD/m²"),
    C_("unit", "teams"), C_("unit", "month"), C_("unit", "km"), C_("unit", "m"),
    C_("unit", "team-days/m²"), C_("unit", "team-days/month"),
)
