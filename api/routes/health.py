"""Liveness with a real database round trip (deliberately public: it names nothing)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout

from api.schemas import Health, HealthProblem
from survey.store.db import answers, server_facts

router = APIRouter(tags=["health"])

HEALTH_WAIT_S = 2.0


def _check(pool: ConnectionPool, url: str) -> Health | str:
    """The facts, or why the database cannot give them."""
    try:
        with pool.connection(timeout=HEALTH_WAIT_S) as conn:
            postgis, schema_version = server_facts(conn)
    except PoolTimeout:
        if answers(url, timeout_s=int(HEALTH_WAIT_S)):
            return "every database connection is busy"
        return "the database does not answer (restarting, stopped or unreachable)"
    except psycopg.Error:
        return "the database connection failed (restarting, stopped or unreachable)"
    return Health(status="ok", postgis=postgis, schema_version=schema_version)


@router.get("/health", response_model=Health,
            responses={503: {"model": HealthProblem,
                             "description": "The database is not usable, and why"}})
async def read_health(request: Request) -> Health | JSONResponse:
    """Checks that the database answers and PostGIS is there; 503 says why not."""
    result = await run_in_threadpool(_check, request.app.state.pool,
                                    request.app.state.settings.database_url)
    if isinstance(result, Health):
        return result
    body = HealthProblem(status="unavailable", reason=result)
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
