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
    pool_timeout_s: float = Field(
        default=3.0, description="how long a request waits for a free database connection "
        "before it is answered 503")
    statement_timeout_ms: int = Field(
        default=60_000, description="longest a request's SQL statement may run (0: no limit)")
    max_json_bytes: int = Field(
        default=16 * 2**20, description="largest JSON request body, in bytes (else 413)")
    max_form_bytes: int = Field(
        default=64 * 2**10, description="largest URL-encoded form body, in bytes (else 413)")
    max_upload_bytes: int = Field(
        default=200 * 2**20, description="largest file upload (multipart), in bytes (else 413)")
    token_ttl_hours: int = 12
    login_failures_per_user: int = Field(
        default=10, description="failed sign-ins for one username within the window before "
        "further sign-ins are refused (429)")
    login_failures_per_address: int = Field(
        default=30, description="failed sign-ins from one client address within the window "
        "before further sign-ins from it are refused (429)")
    login_window_minutes: int = Field(
        default=15, description="the sliding window over which failed sign-ins are counted")
    cookie_secure: bool = False
    basemap_url: str | None = Field(
        default=None, description="XYZ tile URL template for map backgrounds; none = offline"
    )
    max_vertices: int = Field(
        default=100_000, ge=4, description="most vertices one geometry sent to the API may "
        "have (a release, a re-surveyed boundary); more is refused with 422")
    max_parts: int = Field(
        default=10_000, ge=1, description="most rings (boundaries and holes) or lines one "
        "geometry sent to the API may have")
