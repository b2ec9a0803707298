"""Mapbox vector tiles of the programme's layers, built in PostGIS (DESIGN.md sections 5-6).

One query per layer. Every query shares the same shape, because that shape is what makes
a national layer cheap to tile:

- the tile's bounds are computed once (`bounds`), and the rows are found with
  `geom && <bounds in 4326>`, which the GiST index on the stored 4326 geometry answers;
- the rows are chosen by id and sort key only, in a stable order, up to a cap per tile
  (`chosen`); only those are detoasted and drawn (`features`) (device finds, small
  points, are chosen with their columns, from an index that holds them: migration 0016);
- geometry is simplified before it is transformed (demine_tile_simplify, migration 0013,
  inlined into the statement since 0016): the stored boundaries are densified to 10 m
  edges for the ledger's arithmetic, which no screen needs. The tolerance is 8 units of
  the 4096-unit tile grid (half a pixel of a 256-pixel tile, one pixel of a 512-pixel
  one; one unit from z16 on, where clients overzoom), in degrees scaled by the cosine of
  the tile's highest latitude so that it holds along both axes of Web Mercator, and at
  most a quarter of the shape's width, so that narrow shapes never collapse;
  ST_AsMVTGeom then snaps to the grid and makes polygons valid.

A capped tile carries a second MVT layer, `capped`, holding one point at the tile's
centre with the layer's name, the cap and how many features it shows.

What a caller may see follows survey.access: hazard areas, remaining ground and device
finds for admins, coordinators and operators; released land for every role (a donor its
projects' releases, the public its programme's); task areas for those roles and a donor's
own projects; the gazetteer for everyone, its remaining-contamination figure only for the
roles that see hazard areas. A layer a role may not read is refused (Forbidden), so that a
map page never draws an empty layer believing it complete.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from survey import access, auth
from survey.auth import Principal
from survey.domain.vocab import Role
from survey.errors import Forbidden, InvalidQuery, NotFound

EXTENT = 4096  # units across a tile, the MVT default
BUFFER = 64  # units drawn beyond each edge, so strokes do not stop at the tile's border
FEATURE_CAP = 3500  # features per layer and tile; keeps a z6 tile of a country < 500 KB
SIMPLIFY_UNITS = 8.0  # simplification tolerance, in tile units (1/2 pixel at 256 px)...
# ...but never more than this fraction of a shape's width, so that narrow shapes keep their
# shape instead of collapsing out of the tile (tests count them)
SIMPLIFY_FRACTION = 0.25
MAX_ZOOM = 22  # deepest tile answered
NATIVE_MAX_ZOOM = 16  # deepest worth building; TileJSON tells clients to overzoom beyond
CAPPED_LAYER = "capped"
# part of every ETag: a change to the queries below must change the tiles' tags
QUERY_REVISION = "4"

_EVERYONE = frozenset(Role)
_READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.OPERATOR})


@dataclass(frozen=True)
class TileLayer:
    """A tile layer: its name (in URLs and in the tile), geometry and fields (TileJSON),
    the roles that may read it, and its query."""

    name: str
    geometry: str
    description: str
    fields: Mapping[str, str]
    readers: frozenset[Role]
    query: sql.SQL


@dataclass(frozen=True)
class Tile:
    """A built tile: the MVT bytes (empty when nothing is there), how many features it
    shows, whether the cap left features out, and the version of the layer it was built
    from (see layer_version)."""

    data: bytes
    shown: int
    capped: bool
    version: int


# --- the queries ------------------------------------------------------------------------
# Each layer query defines `chosen` (ids and their `rank` in the drawing order, one more
# than the cap, so that a capped tile knows it was capped without counting everything)
# and `features` (the MVT row of each chosen feature up to the cap: `geom` the tile
# geometry, every other column an attribute, in drawing order, which ST_AsMVT keeps);
# TILE wraps them. {scope} is the caller's row condition, {area} the tile with its buffer
# in 4326 and {tile} the tile in 3857: both are folded to constants when the statement is
# planned (ST_TileEnvelope and ST_Transform are immutable and get_tile never prepares the
# statement), so the bounds are computed once and the planner knows the box: it reads a
# dense low-zoom tile down the drawing-order index (migration 0013) and stops at the cap,
# and a sparse high-zoom tile through the GiST index. `features` is MATERIALIZED: inlined,
# TILE's `geom IS NOT NULL` would be pushed into it and ST_AsMVTGeom computed twice.

HAZARD_AREAS = sql.SQL("""
chosen AS (
    SELECT h.id, row_number() OVER (ORDER BY h.area_m2 DESC, h.id) AS rank
    FROM hazard_area h
    WHERE h.geom && {area} AND {scope}
    ORDER BY h.area_m2 DESC, h.id
    LIMIT %(cap)s + 1
), features AS MATERIALIZED (
    SELECT h.id::text AS id, h.local_id, h.classification, h.status, h.area_m2,
           h.remaining_area_m2,
           ST_AsMVTGeom(ST_Transform(
               demine_tile_simplify(h.geom, %(tolerance)s, %(fraction)s), 3857),
                        {tile}, %(extent)s, %(buffer)s, true) AS geom
    FROM chosen c JOIN hazard_area h ON h.id = c.id
    WHERE c.rank <= %(cap)s
    ORDER BY c.rank
)""")

# what remains, piece by piece: a union per area would cost more than the tile itself
REMAINING = sql.SQL("""
chosen AS (
    SELECT p.id, row_number() OVER (ORDER BY p.area_m2 DESC, p.id) AS rank
    FROM remaining_piece p JOIN hazard_area h ON h.id = p.hazard_area_id
    WHERE p.geom && {area} AND {scope}
    ORDER BY p.area_m2 DESC, p.id
    LIMIT %(cap)s + 1
), features AS MATERIALIZED (
    SELECT p.hazard_area_id::text AS hazard_area_id, h.classification,
           ST_AsMVTGeom(ST_Transform(
               demine_tile_simplify(p.geom, %(tolerance)s, %(fraction)s), 3857),
                        {tile}, %(extent)s, %(buffer)s, true) AS geom
    FROM chosen c JOIN remaining_piece p ON p.id = c.id
         JOIN hazard_area h ON h.id = p.hazard_area_id
    WHERE c.rank <= %(cap)s
    ORDER BY c.rank
)""")

# {scope} is access.release_scope on releases `r`; {join} joins their hazard areas `h` when
# the scope needs them (a donor's); {hazard} is the release's hazard area id (its popup
# links to that area's map) for all but the public, who sees released land only
RELEASES = sql.SQL("""
chosen AS (
    SELECT r.id, row_number() OVER (ORDER BY r.area_m2 DESC, r.id) AS rank
    FROM release r{join}
    WHERE r.geom && {area} AND {scope}
    ORDER BY r.area_m2 DESC, r.id
    LIMIT %(cap)s + 1
), features AS MATERIALIZED (
    SELECT r.id::text AS id, r.product, r.method, r.release_date::text AS date, r.area_m2{hazard},
           ST_AsMVTGeom(ST_Transform(
               demine_tile_simplify(r.geom, %(tolerance)s, %(fraction)s), 3857),
                        {tile}, %(extent)s, %(buffer)s, true) AS geom
    FROM chosen c JOIN release r ON r.id = c.id
    WHERE c.rank <= %(cap)s
    ORDER BY c.rank
)""")

# points are small: the chosen rows carry their columns (no second visit by id), which the
# drawing-order index holds (migration 0016), so a dense tile is read from the index alone;
# the limit sits under the ranking, so that a sparse tile found through the spatial index
# keeps only the cap's worth of rows as it sorts (a top-N sort)
DEVICE_FINDS = sql.SQL("""
chosen AS (
    SELECT f.*, row_number() OVER (ORDER BY f.found_date DESC, f.id) AS rank
    FROM (SELECT d.id, d.ordnance_type_id, d.quantity, d.found_date, d.geom
          FROM device_find d
          WHERE d.geom && {area} AND d.deleted_at IS NULL AND {scope}
          ORDER BY d.found_date DESC, d.id
          LIMIT %(cap)s + 1) f
), features AS MATERIALIZED (
    SELECT c.id::text AS id, o.category, o.model, c.quantity, c.found_date::text AS date,
           ST_AsMVTGeom(ST_Transform(c.geom, 3857), {tile}, %(extent)s, %(buffer)s,
                        true) AS geom
    FROM chosen c JOIN ordnance_type o ON o.id = c.ordnance_type_id
    WHERE c.rank <= %(cap)s
    ORDER BY c.rank
)""")

# a task is drawn as its hazard areas (the parts in this tile), collected into one feature
# so that a click names the task once; found through the hazard areas' spatial index
TASKS = sql.SQL("""
chosen AS (
    SELECT t.id, row_number() OVER (ORDER BY t.planned_start DESC, t.id) AS rank
    FROM task t
    WHERE t.deleted_at IS NULL AND {scope} AND t.id IN (
        SELECT th.task_id FROM hazard_area h
        JOIN task_hazard_area th ON th.hazard_area_id = h.id
        WHERE h.geom && {area})
    ORDER BY t.planned_start DESC, t.id
    LIMIT %(cap)s + 1
), features AS MATERIALIZED (
    SELECT t.id::text AS id, t.local_id, t.status, t.activity_type AS activity,
           ST_AsMVTGeom(ST_Transform(a.geom, 3857), {tile}, %(extent)s, %(buffer)s,
                        true) AS geom
    FROM chosen c JOIN task t ON t.id = c.id,
         LATERAL (SELECT ST_CollectionExtract(
                      ST_Collect(demine_tile_simplify(h.geom, %(tolerance)s, %(fraction)s)),
                      3) AS geom
                  FROM task_hazard_area th JOIN hazard_area h ON h.id = th.hazard_area_id
                  WHERE th.task_id = t.id AND h.geom && {area}) a
    WHERE c.rank <= %(cap)s
    ORDER BY c.rank
)""")

# larger (lower-level) areas first, so smaller ones are drawn over them; {remaining} is
# REMAINING_M2 for the roles that see hazard areas, nothing for the others
ADMIN_AREAS = sql.SQL("""
chosen AS (
    SELECT a.id, row_number() OVER (ORDER BY a.level, a.area_m2 DESC, a.id) AS rank
    FROM admin_area a
    WHERE a.geom && {area} AND {scope}
    ORDER BY a.level, a.area_m2 DESC, a.id
    LIMIT %(cap)s + 1
), features AS MATERIALIZED (
    SELECT a.id::text AS id, a.code, a.name, a.level{remaining},
           ST_AsMVTGeom(ST_Transform(
               demine_tile_simplify(a.geom, %(tolerance)s, %(fraction)s), 3857),
                        {tile}, %(extent)s, %(buffer)s, true) AS geom
    FROM chosen c JOIN admin_area a ON a.id = c.id
    WHERE c.rank <= %(cap)s
    ORDER BY c.rank
)""")

RELEASE_HAZARD = sql.SQL(" JOIN hazard_area h ON h.id = r.hazard_area_id")
RELEASE_HAZARD_ID = sql.SQL(", r.hazard_area_id::text AS hazard_area_id")

# What remains in admin area `a` and the areas within it (an oblast sums its raions and
# their hromadas), read from an index alone (0017); the overview map's figure too.
REMAINING_WITHIN = (
    "(SELECT coalesce(sum(x.remaining_area_m2), 0) FROM hazard_area x "
    "WHERE x.admin_area_id IN (WITH RECURSIVE within(id) AS (SELECT a.id UNION ALL "
    "SELECT c.id FROM admin_area c JOIN within w ON c.parent_id = w.id) "
    "SELECT id FROM within))")
REMAINING_M2 = sql.SQL(", " + REMAINING_WITHIN + " AS remaining_m2")

AREA = sql.SQL(
    "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326)")
ENVELOPE = sql.SQL("ST_TileEnvelope(%(z)s, %(x)s, %(y)s)")

# The tile: the layer's features in drawing order, and the `capped` layer when the cap
# cut the tile short. Empty layers encode to nothing (ST_AsMVT of no rows). The layer's
# version comes in the same statement, so from the same snapshot as the data: the tile
# and its ETag always agree, at the cost of no extra round trip. {signed_in} is TRUE, or
# auth.STILL_SIGNED_IN when the principal was remembered rather than looked up: then a
# token that no longer holds gets no row, and nothing is read for it.
TILE = sql.SQL("""
WITH {layer}, drawn AS (
    SELECT coalesce(ST_AsMVT(f, %(layer)s, %(extent)s, 'geom'), ''::bytea) AS mvt,
           count(*) AS shown
    FROM features f WHERE f.geom IS NOT NULL
), cut AS (
    SELECT count(*) > %(cap)s AS capped FROM chosen
)
SELECT d.mvt || coalesce((
           SELECT ST_AsMVT(k, %(capped)s, %(extent)s, 'geom')
           FROM (SELECT %(layer)s AS layer, d.shown, %(cap)s AS cap,
                        ST_AsMVTGeom(ST_Centroid({tile}), {tile}, %(extent)s, 0, true)
                            AS geom
                 WHERE c.capped) k), ''::bytea),
       d.shown, c.capped, ({version})
FROM drawn d, cut c
WHERE {signed_in}
""")

# the counters of migration 0013, bumped at the commit of every change to the layer
LAYER_VERSION = sql.SQL("""
SELECT coalesce(sum(version), 0) FROM tile_version
WHERE layer = %(layer)s AND (%(programme_id)s::uuid IS NULL OR programme_id = %(programme_id)s)
""")

# the version alone (for a 304), with {signed_in} as in TILE
VERSION = sql.SQL("SELECT ({version}) WHERE {signed_in}")

LAYERS: dict[str, TileLayer] = {layer.name: layer for layer in (
    TileLayer("hazard-areas", "polygon", "Hazard areas (SHA, CHA) by status", {
        "id": "String", "local_id": "String", "classification": "String (SHA, CHA)",
        "status": "String", "area_m2": "Number", "remaining_area_m2": "Number"},
        _READERS, HAZARD_AREAS),
    TileLayer("remaining", "polygon",
              "What remains to be released, as pieces of about 128 vertices (draw the fill: "
              "the pieces' shared edges are not boundaries)", {
                  "hazard_area_id": "String", "classification": "String (SHA, CHA)"},
              _READERS, REMAINING),
    TileLayer("releases", "polygon", "Released land by product and method", {
        "id": "String", "product": "String (cancelled, reduced, cleared)",
        "method": "String", "date": "String (YYYY-MM-DD)", "area_m2": "Number",
        "hazard_area_id": "String (not for public accounts)"}, _EVERYONE, RELEASES),
    TileLayer("device-finds", "point", "Explosive ordnance found", {
        "id": "String", "category": "String", "model": "String", "quantity": "Number",
        "date": "String (YYYY-MM-DD)"}, _READERS, DEVICE_FINDS),
    TileLayer("tasks", "polygon", "Tasks, drawn as their hazard areas", {
        "id": "String", "local_id": "String", "status": "String",
        "activity": "String (NTS, TS, CLEARANCE, BAC, EOD_SPOT)"},
        _READERS | {Role.DONOR}, TASKS),
    TileLayer("admin-areas", "polygon",
              "Administrative areas; remaining_m2 is the remaining area of the hazard areas "
              "attributed to each and to the areas within it (not for donor and public "
              "accounts)", {
                  "id": "String", "code": "String", "name": "String", "level": "Number",
                  "remaining_m2": "Number"}, _EVERYONE, ADMIN_AREAS),
)}

CAPPED_FIELDS = {"layer": "String", "shown": "Number", "cap": "Number"}


# --- who sees what ----------------------------------------------------------------------

def layer_of(name: str) -> TileLayer:
    """The tile layer called `name`; NotFound for any other name."""
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound(f"there is no tile layer '{name}': the layers are "
                       + ", ".join(LAYERS))
    return layer


def readable_layers(principal: Principal) -> list[str]:
    """The names of the tile layers the principal may read, in drawing order."""
    return [name for name, layer in LAYERS.items() if principal.role in layer.readers]


def _check_reader(principal: Principal, layer: TileLayer) -> None:
    if principal.role not in layer.readers:
        raise Forbidden(f"a {principal.role} account may not read the '{layer.name}' tiles")
    if principal.role != Role.ADMIN and principal.programme_id is None:
        raise Forbidden("this account belongs to no programme")


def _layer_sql(principal: Principal, layer: TileLayer) -> sql.Composed:
    """The layer's CTEs with the principal's row condition and the tile's bounds in place."""
    bounds = {"area": AREA, "tile": ENVELOPE}
    if layer.name in ("hazard-areas", "remaining"):
        return layer.query.format(scope=access.hazard_scope(principal, "h"), **bounds)
    scope = access.Scope.of(principal)
    if layer.name == "releases":
        hazard = sql.SQL("") if scope.released_only else RELEASE_HAZARD_ID
        if scope.donor_id is not None:
            return layer.query.format(scope=scope.released_land("h", "r"),
                                      join=RELEASE_HAZARD, hazard=hazard, **bounds)
        # the other roles' scope is a programme, which a release carries itself (the
        # ledger's totals read it there too): no join, a quarter less time per tile
        return layer.query.format(scope=scope.released_land("r", "r"), join=sql.SQL(""),
                                  hazard=hazard, **bounds)
    if layer.name == "device-finds":
        return layer.query.format(scope=scope.in_programme("d"), **bounds)
    if layer.name == "tasks":
        return layer.query.format(scope=scope.tasks("t"), **bounds)
    remaining = REMAINING_M2 if principal.role in _READERS else sql.SQL("")
    return layer.query.format(scope=scope.in_programme("a"), remaining=remaining, **bounds)


def fields_for(principal: Principal, layer: TileLayer) -> dict[str, str]:
    """The layer's fields as the principal receives them."""
    fields = dict(layer.fields)
    if layer.name == "admin-areas" and principal.role not in _READERS:
        del fields["remaining_m2"]
    if layer.name == "releases" and principal.role == Role.PUBLIC:
        del fields["hazard_area_id"]
    return fields


# --- tiles ------------------------------------------------------------------------------

def check_address(z: int, x: int, y: int) -> None:
    """Refuse a tile address outside the XYZ grid (InvalidQuery)."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidQuery(f"zoom {z} is outside 0..{MAX_ZOOM}")
    side = 1 << z
    if not (0 <= x < side and 0 <= y < side):
        raise InvalidQuery(f"tile {z}/{x}/{y} does not exist: x and y run from 0 to "
                           f"{side - 1} at zoom {z}")


def simplify_tolerance(z: int, y: int, units: float = SIMPLIFY_UNITS) -> float:
    """The simplification tolerance in degrees for tile row `y` at zoom `z`: `units` tile
    units of longitude, scaled by the cosine of the tile's latitude furthest from the
    equator, so that the error stays within `units` along both axes of Web Mercator.

    From NATIVE_MAX_ZOOM on, one unit whatever `units` says: clients magnify those tiles
    when they zoom further (overzoom), which would magnify the simplification with them,
    and a survey map is read closely there."""
    if z >= NATIVE_MAX_ZOOM:
        units = min(units, 1.0)
    n = 1 << z
    lats = [math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))
            for row in (y, y + 1)]
    return units * (360.0 / n / EXTENT) * math.cos(math.radians(max(abs(v) for v in lats)))


def tile_params(principal: Principal, layer: str, z: int, x: int, y: int,
                cap: int = FEATURE_CAP) -> dict[str, Any]:
    """The parameters of the principal's tile query."""
    return {"z": z, "x": x, "y": y, "margin": BUFFER / EXTENT, "cap": cap,
            "tolerance": simplify_tolerance(z, y), "fraction": SIMPLIFY_FRACTION,
            "extent": EXTENT, "buffer": BUFFER, "layer": layer, "capped": CAPPED_LAYER,
            "programme_id": principal.programme_id}


def tile_query(principal: Principal, layer_name: str, *, recheck: bool = False
               ) -> sql.Composed:
    """The whole tile statement of a layer for the principal (parameters: tile_params, and
    with `recheck` auth.signed_in_params too); Forbidden when the principal may not read
    the layer."""
    layer = layer_of(layer_name)
    _check_reader(principal, layer)
    return TILE.format(layer=_layer_sql(principal, layer), version=LAYER_VERSION,
                       tile=ENVELOPE, signed_in=_signed_in(recheck))


def _signed_in(recheck: bool) -> sql.Composable:
    return auth.STILL_SIGNED_IN if recheck else sql.SQL("TRUE")


def get_tile(conn: psycopg.Connection, *, principal: Principal, layer: str, z: int, x: int,
             y: int, cap: int = FEATURE_CAP, token: str | None = None) -> Tile:
    """The tile `z/x/y` of `layer` as the principal may see it.

    With `token`, the principal is one remembered for that token (auth.PrincipalCache),
    and the statement checks, in its own snapshot, that it still holds: StaleSignIn when
    it does not (nothing is read then)."""
    check_address(z, x, y)
    query = tile_query(principal, layer, recheck=token is not None)
    params = tile_params(principal, layer, z, x, y, cap)
    if token is not None:
        params |= auth.signed_in_params(principal, token)
    # never prepared: a prepared statement may fall back to a generic plan, which cannot
    # see the tile's box and so cannot choose between the two plans above
    row = conn.execute(query, params, prepare=False).fetchone()
    if row is None:
        raise auth.StaleSignIn(auth.SIGN_IN_AGAIN)
    data, shown, capped, version = row
    return Tile(bytes(data), int(shown), bool(capped), int(version))


# --- versions (ETags) and TileJSON ------------------------------------------------------

def layer_version(conn: psycopg.Connection, *, principal: Principal, layer: str,
                  token: str | None = None) -> int:
    """How many committed changes the layer's data has seen in the principal's programme
    (every programme for an admin): it grows with each one (get_tile reads it with the
    tile, from the same snapshot; this is for answering 304 without building the tile).
    `token` as for get_tile."""
    _check_reader(principal, layer_of(layer))
    params: dict[str, Any] = {"layer": layer, "programme_id": principal.programme_id}
    if token is not None:
        params |= auth.signed_in_params(principal, token)
    row = conn.execute(VERSION.format(version=LAYER_VERSION,
                                      signed_in=_signed_in(token is not None)),
                       params).fetchone()
    if row is None:
        raise auth.StaleSignIn(auth.SIGN_IN_AGAIN)
    return int(row[0])


def tile_etag(principal: Principal, layer: str, version: int, cap: int = FEATURE_CAP) -> str:
    """The entity tag of the principal's tiles of `layer` at `version`: two callers who
    see different rows never share one (a browser cache survives a change of account)."""
    scope = "|".join(str(v) for v in (QUERY_REVISION, principal.role, principal.programme_id,
                                      principal.donor_id, cap))
    digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
    return f"{layer}-{version}-{digest}"


BOUNDS = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(extent) AS e FROM programme
      WHERE %(programme_id)s::uuid IS NULL OR id = %(programme_id)s) p
"""


def tilejson(conn: psycopg.Connection, *, principal: Principal, layer: str,
             tiles_url: str) -> dict[str, Any]:
    """The TileJSON 3.0.0 document of `layer` for the principal; `tiles_url` is the tile
    URL template ({z}/{x}/{y}), to which the layer's version is added so that browser
    caches drop old tiles when the data changes."""
    version = layer_version(conn, principal=principal, layer=layer)
    found = layer_of(layer)
    row = next(conn.execute(BOUNDS, {"programme_id": principal.programme_id}))
    bounds = [-180.0, -85.0511, 180.0, 85.0511] if row[0] is None else [float(v) for v in row]
    centre = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 8]
    return {
        "tilejson": "3.0.0",
        "name": f"demine {layer}",
        "description": found.description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [f"{tiles_url}?v={version}"],
        "minzoom": 0,
        "maxzoom": NATIVE_MAX_ZOOM,
        "bounds": bounds,
        "center": centre,
        "vector_layers": [
            {"id": layer, "description": found.description,
             "fields": fields_for(principal, found), "minzoom": 0,
             "maxzoom": NATIVE_MAX_ZOOM},
            {"id": CAPPED_LAYER,
             "description": f"present only when a tile has more than {FEATURE_CAP} "
                            f"features of '{layer}' (it holds the first {FEATURE_CAP} in "
                            "drawing order): one point at the tile's centre saying so",
             "fields": CAPPED_FIELDS, "minzoom": 0, "maxzoom": NATIVE_MAX_ZOOM},
        ],
        "feature_cap": FEATURE_CAP,
        "geometry_type": found.geometry,
    }

