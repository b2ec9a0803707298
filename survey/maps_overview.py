"""What the national overview map shows (maps/overview.py), read in PostGIS and scoped to
the caller like the vector tiles (survey/tiles.py): per layer, how many features the
caller may see and, when that is at most the map's threshold, the features themselves as
GeoJSON simplified for the screen. Larger layers are drawn from the tiles instead; the
attributes are the tiles' (tiles.md), so that popups read the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from survey import access
from survey.auth import Principal
from survey.domain.vocab import Role
from survey.tiles import REMAINING_WITHIN, readable_layers

# about 1 m: densified 10 m edges are for the ledger's arithmetic, not for drawing
SCREEN_TOLERANCE_DEG = 0.00001
# task outlines over the hazard areas: about 5 m
TASK_TOLERANCE_DEG = 0.00005
# admin areas are context, drawn coarser (about 50 m)
ADMIN_TOLERANCE_DEG = 0.0005
# 6 decimals of a degree is about 10 cm
SCREEN_DIGITS = 6
# a layer with more features than this is drawn from the vector tiles
DEFAULT_THRESHOLD = 2000
# ... and so is one whose features hold more vertices than this once simplified (about
# 2 MB of GeoJSON): a page stays small however jagged the boundaries
MAX_VERTICES = 100_000

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayerData:
    """One layer of the overview: its tile layer name, how many features the caller may
    see, and those features (GeoJSON) when they are few enough to embed, else None."""

    name: str
    total: int
    collection: dict[str, Any] | None

    @property
    def embedded(self) -> bool:
        return self.collection is not None


def _feature(props: list[tuple[str, str]], geometry: str) -> sql.Composable:
    pairs = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(name), sql.SQL(expr))
                               for name, expr in props)
    return sql.SQL("json_build_object('type', 'Feature', 'geometry', {geometry}::json, "
                   "'properties', json_build_object({pairs}))").format(
        geometry=sql.SQL(geometry), pairs=pairs)


def _geometry(column: str, tolerance: float | None) -> str:
    if tolerance is None:
        return f"ST_AsGeoJSON({column}, {SCREEN_DIGITS})"
    return f"ST_AsGeoJSON(ST_Simplify({column}, {tolerance!r}, true), {SCREEN_DIGITS})"


_TASK_GEOM = ("(SELECT ST_CollectionExtract(ST_Collect(h.geom), 3) FROM task_hazard_area th "
              "JOIN hazard_area h ON h.id = th.hazard_area_id WHERE th.task_id = t.id)")
# the tasks with a hazard area in a box, through the hazard areas' spatial index
_TASKS_IN_BOX = ("t.id IN (SELECT th.task_id FROM task_hazard_area th JOIN hazard_area h "
                 "ON h.id = th.hazard_area_id WHERE h.geom && {box})")

# per layer: FROM clause, geometry column (for the bbox), properties, order
_LAYERS: dict[str, dict[str, Any]] = {
    "hazard-areas": {
        "from": "hazard_area h", "geom": "h.geom", "tolerance": SCREEN_TOLERANCE_DEG,
        "props": [("id", "h.id::text"), ("local_id", "h.local_id"),
                  ("classification", "h.classification"), ("status", "h.status"),
                  ("area_m2", "h.area_m2"), ("remaining_area_m2", "h.remaining_area_m2")],
        "order": "h.local_id"},
    "releases": {
        "from": "release r JOIN hazard_area h ON h.id = r.hazard_area_id", "geom": "r.geom",
        "tolerance": SCREEN_TOLERANCE_DEG,
        "props": [("id", "r.id::text"), ("hazard_area_id", "h.id::text"),
                  ("hazard_area", "h.local_id"), ("product", "r.product"),
                  ("method", "r.method"), ("date", "r.release_date::text"),
                  ("area_m2", "r.area_m2")],
        "order": "r.booked_seq"},
    "device-finds": {
        "from": "device_find d JOIN ordnance_type o ON o.id = d.ordnance_type_id",
        "geom": "d.geom", "tolerance": None,
        "props": [("id", "d.id::text"), ("category", "o.category"), ("model", "o.model"),
                  ("quantity", "d.quantity"), ("date", "d.found_date::text")],
        "order": "d.found_date DESC, d.id"},
    # a task is drawn as its hazard areas, collected (outlines only: coarser)
    "tasks": {
        "from": "task t", "geom": _TASK_GEOM, "tolerance": TASK_TOLERANCE_DEG,
        "props": [("id", "t.id::text"), ("local_id", "t.local_id"), ("status", "t.status"),
                  ("activity", "t.activity_type")],
        "order": "t.planned_start DESC, t.id"},
    "admin-areas": {
        "from": "admin_area a", "geom": "a.geom", "tolerance": ADMIN_TOLERANCE_DEG,
        "props": [("id", "a.id::text"), ("code", "a.code"), ("name", "a.name"),
                  ("level", "a.level")],
        "order": "a.level, a.code"},
}

# what remains in the area and the areas within it (an oblast sums its hromadas), as the
# admin-area tiles give it
_REMAINING_M2 = ("remaining_m2", REMAINING_WITHIN)


def _scope(principal: Principal, name: str) -> sql.Composable:
    """The caller's row condition for layer `name`, as the tiles apply it."""
    scope = access.Scope.of(principal)
    if name == "hazard-areas":
        return scope.hazards("h")
    if name == "releases":
        return scope.released_land("h", "r")
    if name == "device-finds":
        return sql.SQL("d.deleted_at IS NULL AND {}").format(scope.in_programme("d"))
    if name == "tasks":
        return sql.SQL("t.deleted_at IS NULL AND EXISTS (SELECT 1 FROM task_hazard_area th "
                       "WHERE th.task_id = t.id) AND {}").format(scope.tasks("t"))
    return scope.in_programme("a")


def _where(principal: Principal, name: str, bbox: Bbox | None) -> sql.Composable:
    parts = [_scope(principal, name)]
    if bbox is not None:
        box = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, 4326)").format(*map(sql.Literal, bbox))
        if name == "tasks":
            parts.append(sql.SQL(_TASKS_IN_BOX).format(box=box))
        else:
            parts.append(sql.SQL("{} && {}").format(sql.SQL(_LAYERS[name]["geom"]), box))
    return sql.SQL(" AND ").join(parts)


def _props(principal: Principal, name: str) -> list[tuple[str, str]]:
    props = list(_LAYERS[name]["props"])
    if name == "releases" and principal.role == Role.PUBLIC:
        # released land only: which hazard area it came from is not the public's
        props = [(key, expr) for key, expr in props if not key.startswith("hazard_area")]
    if name == "admin-areas" and principal.role in (Role.ADMIN, Role.COORDINATOR,
                                                     Role.OPERATOR):
        props.append(_REMAINING_M2)
    return props


def layer_data(conn: psycopg.Connection, principal: Principal, name: str, *,
               threshold: int = DEFAULT_THRESHOLD, max_vertices: int = MAX_VERTICES,
               bbox: Bbox | None = None, min_admin_level: int = 1) -> LayerData:
    """Layer `name` (a tile layer name) for the caller: its count, and its features when
    there are at most `threshold` of them holding at most `max_vertices` vertices once
    simplified (within `bbox`, lon/lat, when given)."""
    spec = _LAYERS[name]
    where = _where(principal, name, bbox)
    if name == "admin-areas":
        where = sql.SQL("{} AND a.level >= {}").format(where, sql.Literal(min_admin_level))
    count = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.SQL(spec["from"]), where)
    row = conn.execute(count).fetchone()
    total = int(row[0]) if row else 0
    if total > threshold:
        return LayerData(name, total, None)
    if spec["tolerance"] is not None and total:
        # few features, but each may hold hundreds of vertices: count what would be drawn
        vertices = sql.SQL("SELECT sum(ST_NPoints(ST_Simplify({geom}, {tol}, true))) "
                           "FROM {source} WHERE {where}").format(
            geom=sql.SQL(spec["geom"]), tol=sql.Literal(spec["tolerance"]),
            source=sql.SQL(spec["from"]), where=where)
        row = conn.execute(vertices).fetchone()
        if row and row[0] is not None and int(row[0]) > max_vertices:
            return LayerData(name, total, None)
    query = sql.SQL(
        "SELECT coalesce(json_agg({feature} ORDER BY {order}), '[]'::json) "
        "FROM {source} WHERE {where}").format(
        feature=_feature(_props(principal, name), _geometry(spec["geom"], spec["tolerance"])),
        order=sql.SQL(spec["order"]), source=sql.SQL(spec["from"]), where=where)
    row = conn.execute(query).fetchone()
    features = list(row[0]) if row else []
    return LayerData(name, total, {"type": "FeatureCollection", "features": features})


OVERVIEW_LAYERS = ("admin-areas", "tasks", "hazard-areas", "releases", "device-finds")


def overview_data(conn: psycopg.Connection, principal: Principal, *,
                  threshold: int = DEFAULT_THRESHOLD, max_vertices: int = MAX_VERTICES,
                  bbox: Bbox | None = None,
                  min_admin_level: int = 1) -> dict[str, LayerData]:
    """The overview's layers the caller may read (as the tiles decide), in drawing
    order: admin areas, tasks (their outlines under the hazard areas, which take the
    clicks), hazard areas, released land, device finds."""
    readable = set(readable_layers(principal))
    return {name: layer_data(conn, principal, name, threshold=threshold,
                             max_vertices=max_vertices, bbox=bbox,
                             min_admin_level=min_admin_level)
            for name in OVERVIEW_LAYERS if name in readable}


def place_names(conn: psycopg.Connection, principal: Principal, *, max_level: int = 3,
                bbox: Bbox | None = None, limit: int = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Admin-area names (level at most `max_level`) as points inside each area, for a map
    without a basemap: the gazetteer stands in for a background's place names."""
    where = _where(principal, "admin-areas", bbox)
    query = sql.SQL(
        "SELECT coalesce(json_agg(json_build_object('type', 'Feature', "
        "'geometry', ST_AsGeoJSON(ST_PointOnSurface(a.geom), 5)::json, "
        "'properties', json_build_object('name', a.name, 'level', a.level)) "
        "ORDER BY a.level, a.code), '[]'::json) FROM (SELECT * FROM admin_area a "
        "WHERE {} AND a.level <= {} ORDER BY a.level, a.code LIMIT {}) a").format(
        where, sql.Literal(max_level), sql.Literal(limit))
    row = conn.execute(query).fetchone()
    return {"type": "FeatureCollection", "features": list(row[0]) if row else []}


def search_local_id(conn: psycopg.Connection, principal: Principal, text: str, *,
                    limit: int = 20) -> list[dict[str, Any]]:
    """Hazard areas whose local id contains `text` (case-insensitive), for the maps'
    search box: local_id, id, kind, lat/lon of a point inside, bbox."""
    if not text.strip():
        return []
    pattern = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = sql.SQL(
        "SELECT h.local_id, h.id::text, ST_Y(p.pt), ST_X(p.pt), ST_XMin(h.geom), "
        "ST_YMin(h.geom), ST_XMax(h.geom), ST_YMax(h.geom) "
        "FROM hazard_area h, LATERAL (SELECT ST_PointOnSurface(h.geom) AS pt) p "
        "WHERE {scope} AND h.local_id ILIKE {pattern} "
        "ORDER BY length(h.local_id), h.local_id LIMIT {limit}").format(
        scope=access.hazard_scope(principal, "h"), pattern=sql.Literal(pattern),
        limit=sql.Literal(limit))
    return [{"local_id": local_id, "id": id_, "kind": "hazard-areas", "lat": lat, "lon": lon,
             "bbox": [minx, miny, maxx, maxy]}
            for local_id, id_, lat, lon, minx, miny, maxx, maxy in conn.execute(query)]


def search_index(conn: psycopg.Connection, principal: Principal, *,
                 bbox: Bbox | None = None, limit: int = DEFAULT_THRESHOLD
                 ) -> list[dict[str, Any]]:
    """Every hazard area's search row (as search_local_id), for an exported map that
    searches with no server; at most `limit`."""
    where = _where(principal, "hazard-areas", bbox)
    query = sql.SQL(
        "SELECT h.local_id, h.id::text, ST_Y(p.pt), ST_X(p.pt), ST_XMin(h.geom), "
        "ST_YMin(h.geom), ST_XMax(h.geom), ST_YMax(h.geom) "
        "FROM hazard_area h, LATERAL (SELECT ST_PointOnSurface(h.geom) AS pt) p "
        "WHERE {where} ORDER BY h.local_id LIMIT {limit}").format(
        where=where, limit=sql.Literal(limit))
    return [{"local_id": local_id, "id": id_, "kind": "hazard-areas", "lat": round(lat, 6),
             "lon": round(lon, 6), "bbox": [round(v, 6) for v in (minx, miny, maxx, maxy)]}
            for local_id, id_, lat, lon, minx, miny, maxx, maxy in conn.execute(query)]


def extent(conn: psycopg.Connection, principal: Principal) -> Bbox | None:
    """The extent of what the caller may see: hazard areas, else released land, else the
    programme's admin areas; None when there is nothing."""
    candidates = []
    if principal.role != Role.PUBLIC:
        candidates.append(sql.SQL("SELECT ST_Extent(h.geom) FROM hazard_area h WHERE {}")
                          .format(access.hazard_scope(principal, "h")))
    candidates.append(sql.SQL("SELECT ST_Extent(r.geom) FROM release r JOIN hazard_area h "
                              "ON h.id = r.hazard_area_id WHERE {}").format(
        access.release_scope(principal, "h", "r")))
    candidates.append(sql.SQL("SELECT ST_Extent(a.geom) FROM admin_area a WHERE {}").format(
        access.Scope.of(principal).in_programme("a")))
    for query in candidates:
        box = conn.execute(sql.SQL(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ({}) q(e)").format(
            query)).fetchone()
        if box and box[0] is not None:
            return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    return None
