"""`demine` entry point: the survey commands plus `serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from survey.cli import app, database_url, fail
from survey.config import Settings
from survey.errors import DemineError


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Serve the API, its docs (/docs) and the maps (/maps/overview)."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    try:
        settings.database_url = database_url(settings)
    except DemineError as exc:
        raise fail(exc) from exc
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


def main() -> None:
    app()
