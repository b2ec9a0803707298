"""`demine` entry point: the survey commands plus `serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from survey.cli import app, database_url, reported, settings_of


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Serve the API, its docs (/docs) and the maps (/maps/overview)."""
    import uvicorn

    from api.app import create_app
    from api.settings import api_settings

    with reported():
        settings = api_settings(settings_of(ctx)).model_copy()
        settings.database_url = database_url(settings)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


def main() -> None:
    app()
