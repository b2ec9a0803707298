"""The land release ledger (IMAS 07.11): releases, remaining area, lifecycle, invariants."""

from survey.ledger.releases import RecordedRelease, record_release

__all__ = ["RecordedRelease", "record_release"]
