"""Settings of the HTTP service: where it listens, sessions, limits on what callers send.

They extend the installation's Settings (database, pool), read from the same DEMINE_*
environment variables by `demine serve`, so that survey knows nothing of HTTP.
"""

from __future__ import annotations

from pydantic import Field

from survey.config import Settings


class ApiSettings(Settings):
    """Configuration of the API and map server."""

    host: str = "127.0.0.1"
    port: int = 8000
    token_ttl_hours: int = 12
    cookie_secure: bool = False
    basemap_url: str | None = Field(
        default=None, description="XYZ tile URL template for map backgrounds; none = offline"
    )
    basemap_mbtiles: str | None = Field(
        default=None, description="a local MBTiles file of raster tiles, served at "
        "/basemap/{z}/{x}/{y}.png and used as the maps' background (offline; wins over "
        "basemap_url)")
    map_tile_threshold: int = Field(
        default=2000, ge=0, description="a map layer with more features than this is drawn "
        "from the vector tiles instead of being embedded in the page")
    max_json_bytes: int = Field(
        default=16 * 2**20, description="largest JSON request body, in bytes (else 413)")
    max_form_bytes: int = Field(
        default=64 * 2**10, description="largest URL-encoded form body, in bytes (else 413)")
    max_upload_bytes: int = Field(
        default=200 * 2**20, description="largest file upload (multipart), in bytes (else 413)")
    login_failures_per_user: int = Field(
        default=10, description="failed sign-ins for one username within the window before "
        "further sign-ins are refused (429)")
    login_failures_per_address: int = Field(
        default=30, description="failed sign-ins from one client address within the window "
        "before further sign-ins from it are refused (429)")
    login_window_minutes: int = Field(
        default=15, description="the sliding window over which failed sign-ins are counted")
    max_vertices: int = Field(
        default=100_000, ge=4, description="most vertices one geometry sent to the API may "
        "have (a release, a re-surveyed boundary); more is refused with 422")
    max_parts: int = Field(
        default=10_000, ge=1, description="most rings (boundaries and holes) or lines one "
        "geometry sent to the API may have")


def api_settings(settings: Settings) -> ApiSettings:
    """`settings` as ApiSettings: the API fields a plain Settings lacks come from the
    environment, as `demine serve` would read them."""
    if isinstance(settings, ApiSettings):
        return settings
    return ApiSettings(**settings.model_dump(exclude_unset=True))
