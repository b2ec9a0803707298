"""Shapely <-> PostGIS geometry adaptation, registered once per connection."""

from __future__ import annotations

import shapely
from psycopg import Connection
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo
from shapely.geometry.base import BaseGeometry

from survey.errors import ProvisioningError


def _with_srid(obj: BaseGeometry) -> BaseGeometry:
    return obj if shapely.get_srid(obj) else shapely.set_srid(obj, 4326)


class _GeometryLoader(Loader):
    def load(self, data: Buffer) -> BaseGeometry:
        # text output of a geometry is hex EWKB
        return shapely.from_wkb(bytes(data).decode())


class _GeometryBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> BaseGeometry:
        return shapely.from_wkb(bytes(data))


def register_geometry(conn: Connection) -> None:
    """Teach one connection to send and receive shapely geometries (EPSG:4326 by default)."""
    info = TypeInfo.fetch(conn, "geometry")
    if info is None:
        raise ProvisioningError("the database has no PostGIS: run `demine db upgrade` first")
    geometry_oid = info.oid

    class GeometryDumper(Dumper):
        oid = geometry_oid

        def dump(self, obj: BaseGeometry) -> bytes:
            return shapely.to_wkb(_with_srid(obj), hex=True, include_srid=True).encode()

    class GeometryBinaryDumper(Dumper):
        oid = geometry_oid
        format = Format.BINARY

        def dump(self, obj: BaseGeometry) -> bytes:
            return shapely.to_wkb(_with_srid(obj), include_srid=True)

    conn.adapters.register_dumper(BaseGeometry, GeometryDumper)
    conn.adapters.register_dumper(BaseGeometry, GeometryBinaryDumper)
    conn.adapters.register_loader(info.oid, _GeometryLoader)
    conn.adapters.register_loader(info.oid, _GeometryBinaryLoader)
