"""Domain errors -> HTTP, as application/problem+json (RFC 9457). One table, one handler."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from survey.errors import (
    DemineError,
    Forbidden,
    IllegalTransition,
    InvalidGeometry,
    InvalidInput,
    LedgerConflict,
    NotFound,
    ProvisioningError,
    Unauthorized,
)

log = logging.getLogger("demine.api")

PROBLEM = "application/problem+json"

# most specific first: the first matching class decides
STATUS: list[tuple[type[DemineError], int, str]] = [
    (NotFound, 404, "Not found"),
    (InvalidGeometry, 422, "Invalid geometry"),
    (InvalidInput, 422, "Invalid input"),
    (LedgerConflict, 409, "Ledger conflict"),
    (IllegalTransition, 409, "Illegal transition"),
    (Unauthorized, 401, "Not signed in"),
    (Forbidden, 403, "Forbidden"),
    (ProvisioningError, 503, "Database unavailable"),
]


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DemineError)
    for cls, status, title in STATUS:
        if isinstance(exc, cls):
            return problem(status, title, exc.message, **exc.detail)
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
    return problem(exc.status_code, str(exc.detail), str(exc.detail))


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DemineError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
