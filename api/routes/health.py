"""Liveness with a real database round trip (deliberately public)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Conn
from api.schemas import Health
from survey.store.db import server_facts

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def read_health(conn: Conn) -> Health:
    """Checks that the database answers and PostGIS is there."""
    database, postgis, schema_version = server_facts(conn)
    return Health(status="ok", database=database, postgis=postgis,
                  schema_version=schema_version)
