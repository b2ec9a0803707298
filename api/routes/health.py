"""Liveness with a real database round trip (deliberately public)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Conn
from api.schemas import Health

router = APIRouter(tags=["health"])

HEALTH = """
SELECT current_database(), postgis_lib_version(),
       (SELECT max(version) FROM schema_migration)
"""


@router.get("/health", response_model=Health)
def read_health(conn: Conn) -> Health:
    """Checks that the database answers and PostGIS is there."""
    row = conn.execute(HEALTH).fetchone()
    assert row is not None
    return Health(status="ok", database=row[0], postgis=row[1], schema_version=row[2])
