"""Raster tiles from a local MBTiles file (SQLite): the offline basemap of the maps."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

# MBTiles rows are TMS (y from the bottom); callers ask in XYZ (y from the top)
_TILE = "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?"


def read_tile(path: Path, *, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ address z/x/y of the MBTiles file at `path`, or None if it has none.

    The file is opened read-only for each call: a tile server must never write to a
    basemap an operator copied onto the machine, and SQLite opens in microseconds.
    """
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute(_TILE, (z, x, 2**z - 1 - y)).fetchone()
    return None if row is None else bytes(row[0])
