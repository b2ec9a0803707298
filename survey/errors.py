"""Domain errors. They know nothing of HTTP; api/errors.py maps them to status codes."""

from __future__ import annotations

from typing import Any


class DemineError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(DemineError):
    """The record asked for does not exist, or the caller may not see it."""


class InvalidInput(DemineError):
    """A value is malformed or out of range."""


class InvalidQuery(InvalidInput):
    """A query (filter, bbox, datetime, paging) that cannot be read: a bad request."""


class InvalidGeometry(InvalidInput):
    """A geometry is not valid, empty, of the wrong type or outside the programme."""


class LedgerConflict(DemineError):
    """A write would break the land release ledger (overlap, excess, stale version)."""


class StaleVersion(LedgerConflict):
    """A change made against a version of the record that is no longer current."""


class PreconditionRequired(DemineError):
    """A change that must name the version it was made against, and did not."""


class IdempotencyKeyReused(InvalidInput):
    """An Idempotency-Key sent again with a different request than the one it first came with."""


class InUse(DemineError):
    """A record others refer to (or that the ledger has booked) cannot be deleted."""


class IllegalTransition(DemineError):
    """A lifecycle transition that the current state does not allow."""


class Unauthorized(DemineError):
    """No valid credentials were presented."""


class Forbidden(DemineError):
    """The caller is known but may not do this."""


class TooManyAttempts(DemineError):
    """Too many failed sign-ins; `retry_after` (seconds) says when to try again."""


class ProvisioningError(DemineError):
    """The database could not be found, created or started."""
