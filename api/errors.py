"""Domain errors -> HTTP, as application/problem+json (RFC 9457). One table, one handler."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from survey.errors import (
    DemineError,
    Forbidden,
    IdempotencyKeyReused,
    IllegalTransition,
    InUse,
    InvalidGeometry,
    InvalidInput,
    InvalidQuery,
    LedgerConflict,
    NotFound,
    PreconditionRequired,
    ProvisioningError,
    StaleVersion,
    TooManyAttempts,
    Unauthorized,
)

log = logging.getLogger("demine.api")

PROBLEM = "application/problem+json"

# most specific first: the first matching class decides
STATUS: list[tuple[type[DemineError], int, str]] = [
    (NotFound, 404, "Not found"),
    (InvalidGeometry, 422, "Invalid geometry"),
    (IdempotencyKeyReused, 422, "Idempotency-Key reused"),
    (InvalidQuery, 400, "Bad request"),
    (InvalidInput, 422, "Invalid input"),
    (StaleVersion, 412, "Changed since your version"),
    (LedgerConflict, 409, "Ledger conflict"),
    (IllegalTransition, 409, "Illegal transition"),
    (InUse, 409, "In use"),
    (PreconditionRequired, 428, "Version required"),
    (Unauthorized, 401, "Not signed in"),
    (Forbidden, 403, "Forbidden"),
    (TooManyAttempts, 429, "Too many attempts"),
    (ProvisioningError, 503, "Database unavailable"),
]


RESERVED = {"type", "title", "status", "detail", "instance"}


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """A problem+json response; extension members never overwrite the standard ones."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **{k: v for k, v in extra.items() if k not in RESERVED}}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DemineError)
    for cls, status, title in STATUS:
        if isinstance(exc, cls):
            wait = exc.detail.get("retry_after")
            headers = {"Retry-After": str(wait)} if wait is not None else None
            return problem(status, title, exc.message, headers=headers, **exc.detail)
    log.error("unmapped domain error on %s: %r", request.url.path, exc)
    return problem(500, "Internal error", "the server could not complete the request")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"where": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
              for err in exc.errors()]
    return problem(422, "Invalid request", "the request has fields that cannot be used: "
                   + "; ".join(f"{e['where']}: {e['problem']}" for e in errors), errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # the exception's headers travel on (Allow on a 405, Connection on a 413)
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = str(exc.detail)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed here; use {allowed or 'another method'}"
    elif exc.status_code == 404:
        detail = f"nothing is served at {request.url.path}: see /docs for the routes"
    return problem(exc.status_code, title, detail, headers=dict(exc.headers or {}))


UNAVAILABLE = {"Retry-After": "5"}


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached, went away mid-request, or every connection is busy."""
    if isinstance(exc, PoolTimeout):
        log.warning("no free database connection for %s", request.url.path)
        return problem(503, "Database unavailable", "no database connection could be had in "
                       "time (the database is restarting or unreachable, or every connection "
                       "is busy); nothing was changed. Send the request again in a few seconds",
                       headers=UNAVAILABLE)
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return problem(503, "Took too long", "the request took longer than the server allows: "
                       "narrow it (a smaller bbox or limit) or try again later",
                       headers=UNAVAILABLE)
    log.warning("database unavailable on %s: %s", request.url.path, exc)
    return problem(503, "Database unavailable", "the database is not answering right now "
                   "(restarting or unreachable); nothing was changed. Send the request again "
                   "in a few seconds", headers=UNAVAILABLE)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The last resort: still problem+json, with the detail kept in the log."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal error", "the server could not complete the request; it "
                   "has been logged")


# Constraint violations that the domain did not catch first: the database is the last
# line of defence, and its refusal is still a clear answer, never a bare 500.
async def _database_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, psycopg.Error)
    diag = exc.diag
    where = f" ({diag.constraint_name})" if diag.constraint_name else ""
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return problem(409, "Already exists", (diag.message_detail or "a record with these "
                       "values already exists") + " Use another identifier.")
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return problem(422, "Unknown reference", "the record refers to something that does "
                       f"not exist{where}: check the ids sent")
    if isinstance(exc, psycopg.errors.IntegrityError):
        return problem(422, "Invalid input", f"a value is not allowed here{where}: check the "
                       "fields against the API documentation")
    if isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure
                  | psycopg.errors.LockNotAvailable):
        return problem(503, "Busy", "another change to the same records was in progress: "
                       "send the request again", headers={"Retry-After": "1"})
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return await _database_unavailable(request, exc)
    if isinstance(exc, psycopg.DataError):
        return problem(422, "Invalid input", "a value cannot be stored: "
                       f"{diag.message_primary or 'check the fields sent'}")
    log.error("database error on %s", request.url.path, exc_info=exc)
    return problem(500, "Internal error", "the server could not complete the request")


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DemineError, _domain_error)
    app.add_exception_handler(psycopg.Error, _database_refusal)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
