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
    host: str = "127.0.0.1"
    port: int = 8000
    pool_min_size: int = 1
    pool_max_size: int = 10
    token_ttl_hours: int = 12
    cookie_secure: bool = False
    basemap_url: str | None = Field(
        default=None, description="XYZ tile URL template for map backgrounds; none = offline"
    )
