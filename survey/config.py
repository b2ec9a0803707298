"""Settings, read from DEMINE_* environment variables by the entry points and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one demine installation."""

    model_config = SettingsConfigDict(env_prefix="DEMINE_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="libpq URL of an existing PostGIS database"
    )
    server_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        description="a PostgreSQL server on which to create the database when none is given",
    )
    database_name: str = "demine"
    data_dir: Path = Field(default=Path(".demine"), description="private cluster and files")
    pool_min_size: int = 1
    pool_max_size: int = 10
    pool_timeout_s: float = Field(
        default=3.0, description="how long a request waits for a free database connection "
        "before it is answered 503")
    statement_timeout_ms: int = Field(
        default=60_000, description="longest a request's SQL statement may run (0: no limit)")
