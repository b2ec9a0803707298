"""Features of the OGC collections, serialised by PostgreSQL.

A page of features leaves the database as one text value, the features of a GeoJSON
FeatureCollection already joined by commas (`ST_AsGeoJSON` inside `json_build_object`,
aggregated with `string_agg`); the API sends those bytes as they are. Decoding and
re-encoding the JSON in Python cost more than building it (issue 8).

One small function per clause: `_where` (scope, bbox, dates, property filters, CQL2),
`_feature` (the Feature object), `_page` (which rows), `_matched` (how many in all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from survey.auth import Principal
from survey.errors import InvalidQuery, NotFound
from survey.ogc import cql2
from survey.ogc.catalogue import Collection, Field
from survey.ogc.query import ItemQuery, Period
from survey.store.hazards import EXACT_COUNT_BELOW, count_matching, feature_text_sql


class _Params:
    """Values of one statement, each behind a named placeholder (never in the text)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


# --- WHERE ---

def _envelope(box: tuple[float, float, float, float], params: _Params) -> sql.Composable:
    return sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, 4326)").format(
        *(params.add(v) for v in box))


def _period(collection: Collection, period: Period, params: _Params) -> sql.Composable:
    """The feature's days [first, last] meet the period (both ends included)."""
    assert collection.temporal is not None
    first, last = collection.temporal
    parts: list[sql.Composable] = []
    if period.start is not None:
        parts.append(sql.SQL("{} >= {}").format(last, params.add(period.start)))
    if period.end is not None:
        parts.append(sql.SQL("{} <= {}").format(first, params.add(period.end)))
    return sql.SQL(" AND ").join(parts)


def _literal(field: Field, literal: cql2.Literal) -> Any:
    """A CQL2 literal as a value of the property's type; InvalidQuery when it is not one."""
    kind, value = literal.kind, literal.value
    wrong = InvalidQuery(f"filter: {field.name} is a {field.type} property; "
                         f"{value!r} is not a {field.type} value")
    match field.type:
        case "string":
            if kind != "string":
                raise wrong
            return value
        case "integer" | "number":
            if kind != "number" or (field.type == "integer" and not isinstance(value, int)):
                raise wrong
            return value
        case "boolean":
            if kind != "boolean":
                raise wrong
            return value
        case "date":
            if kind in ("date", "timestamp"):
                return value
            if kind == "string":
                return cql2._parse_date(str(value))
            raise wrong
        case "uuid":
            if kind != "string":
                raise wrong
            try:
                return UUID(str(value))
            except ValueError:
                raise wrong from None
    raise InvalidQuery(f"filter: {field.name} is a list: filter it with the query "
                       f"parameter {field.name}=<value>")


def _cql(collection: Collection, tree: cql2.Expr, params: _Params) -> sql.Composable:
    """A CQL2 tree as a condition; properties resolve through the allow-list only."""
    if isinstance(tree, cql2.And | cql2.Or):
        joiner = sql.SQL(" AND " if isinstance(tree, cql2.And) else " OR ")
        return sql.SQL("({})").format(joiner.join(_cql(collection, p, params)
                                                  for p in tree.parts))
    if isinstance(tree, cql2.Not):
        return sql.SQL("(NOT {})").format(_cql(collection, tree.part, params))
    if isinstance(tree, cql2.Constant):
        return sql.SQL("TRUE" if tree.value else "FALSE")
    field = collection.field(tree.prop)
    if isinstance(tree, cql2.IsNull):
        return sql.SQL("({} IS {}NULL)").format(field.expr,
                                                 sql.SQL("NOT " if tree.negated else ""))
    if isinstance(tree, cql2.Like):
        if field.type != "string":
            raise InvalidQuery(f"filter: LIKE compares text; {field.name} is a {field.type} "
                               "property")
        if (len(tree.pattern) - len(tree.pattern.rstrip("\\"))) % 2:
            raise InvalidQuery("filter: a LIKE pattern cannot end with an escaping \\")
        return sql.SQL("({} {}LIKE {})").format(field.expr,
                                                 sql.SQL("NOT " if tree.negated else ""),
                                                 params.add(tree.pattern))
    if isinstance(tree, cql2.In):
        values = sql.SQL(", ").join(params.add(_literal(field, v)) for v in tree.values)
        return sql.SQL("({} {}IN ({}))").format(field.expr,
                                                 sql.SQL("NOT " if tree.negated else ""),
                                                 values)
    if field.type in ("boolean", "uuid") and tree.op not in ("=", "<>"):
        raise InvalidQuery(f"filter: {field.name} can only be compared with = or <>")
    # the operator comes from the parser's closed set, never from the request's text
    return sql.SQL("({} {} {})").format(field.expr, sql.SQL(tree.op),
                                        params.add(_literal(field, tree.value)))


def _where(collection: Collection, principal: Principal, query: ItemQuery,
           params: _Params) -> sql.Composable:
    parts = [collection.scope(principal), collection.filter_always]
    if query.bbox is not None:
        parts.append(collection.meets_box(_envelope(query.bbox, params)))
    if query.period is not None:
        parts.append(_period(collection, query.period, params))
    for prop in query.properties:
        if prop.field.type == "strings":
            parts.append(sql.SQL("{} = ANY({})").format(params.add(prop.value),
                                                        prop.field.expr))
        else:
            parts.append(sql.SQL("{} = {}").format(prop.field.expr, params.add(prop.value)))
    if query.filter is not None:
        parts.append(_cql(collection, query.filter, params))
    return sql.SQL(" AND ").join(parts)


# --- SELECT: one Feature ---

def _feature(collection: Collection) -> sql.Composable:
    return feature_text_sql(collection.key, collection.geometry,
                            ((f.name, f.expr) for f in collection.fields))


# --- the page ---

# The keys of the page are chosen first and only their features are built: rows skipped
# by OFFSET are never serialised. With a bbox, the matching keys are MATERIALIZED (an
# optimisation fence): the GiST index finds the box, the page is sorted from those
# few rows, and they are counted for free (numberMatched exact, no second query).
# Without the fence the planner may walk the primary key in order and test the box on
# every row it passes, which on ids that follow the ground (generated, imported in
# order) reads most of the table for a box in the middle of it.
PAGE = """
WITH hits AS {fence} (
    SELECT {key} AS k FROM {source} WHERE {where}
), page AS (
    SELECT k FROM hits ORDER BY k LIMIT %(limit)s OFFSET %(offset)s
)
SELECT coalesce(string_agg({feature}, ',' ORDER BY {key}), ''), count(*), {total}
FROM {source} JOIN page ON page.k = {key}
"""


@dataclass(frozen=True)
class Page:
    """One page of features: `features` is their JSON joined by commas (no brackets)."""

    features: str
    returned: int
    matched: int
    exact: bool  # False when `matched` is the planner's estimate


def _page(conn: psycopg.Connection, collection: Collection, where: sql.Composable,
          params: _Params, query: ItemQuery) -> tuple[str, int, int | None]:
    """The page's features, how many, and how many match in all when the fence counted
    them (None otherwise)."""
    fenced = query.bbox is not None
    statement = sql.SQL(PAGE).format(
        fence=sql.SQL("MATERIALIZED" if fenced else "NOT MATERIALIZED"),
        key=collection.key, source=collection.source, where=where,
        feature=_feature(collection),
        total=sql.SQL("(SELECT count(*) FROM hits)" if fenced else "NULL::bigint"))
    row = conn.execute(statement, params.values | {"limit": query.limit,
                                                   "offset": query.offset}).fetchone()
    assert row is not None
    return str(row[0]), int(row[1]), None if row[2] is None else int(row[2])


# --- numberMatched ---

def _matched(conn: psycopg.Connection, collection: Collection, where: sql.Composable,
             params: _Params, query: ItemQuery, returned: int) -> tuple[int, bool]:
    """How many features match in all, and whether that is exact."""
    if returned < query.limit and (returned > 0 or query.offset == 0):
        return query.offset + returned, True  # the last page: nothing lies beyond it
    return count_matching(conn, source=collection.source, where=where, params=params.values,
                          at_least=query.offset + returned, exact_below=EXACT_COUNT_BELOW)


def items(conn: psycopg.Connection, *, collection: Collection, principal: Principal,
          query: ItemQuery) -> Page:
    """A page of the collection's features that the principal may read."""
    params = _Params()
    where = _where(collection, principal, query, params)
    features, returned, total = _page(conn, collection, where, params, query)
    matched, exact = ((total, True) if total is not None
                      else _matched(conn, collection, where, params, query, returned))
    return Page(features, returned, matched, exact)


ITEM = "SELECT {feature} FROM {source} WHERE {key} = %(id)s AND {scope} AND {always}"


def item(conn: psycopg.Connection, *, collection: Collection, principal: Principal,
         feature_id: str) -> str:
    """One feature's GeoJSON text; NotFound when absent or out of the principal's reach."""
    try:
        key = UUID(feature_id)
    except ValueError:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}") from None
    statement = sql.SQL(ITEM).format(feature=_feature(collection), source=collection.source,
                                     key=collection.key, scope=collection.scope(principal),
                                     always=collection.filter_always)
    row = conn.execute(statement, {"id": key}).fetchone()
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}")
    return str(row[0])


# --- extents ---

EXTENT = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), first, last
FROM (SELECT ST_Extent({geom}) AS e, min({first}) AS first, max({last}) AS last
      FROM {source} WHERE {scope} AND {always}) x
"""


@dataclass(frozen=True)
class Extent:
    """The box of the features the principal may read, and their first and last day."""

    bbox: tuple[float, float, float, float] | None
    first: date | datetime | None
    last: date | datetime | None


def extent(conn: psycopg.Connection, *, collection: Collection,
           principal: Principal) -> Extent:
    """The spatial and temporal extent of what the principal may read of a collection."""
    first, last = collection.temporal or (sql.SQL("NULL::date"), sql.SQL("NULL::date"))
    # an extent source of its own joins what the collection's rows stand for already
    always = sql.SQL("TRUE") if collection.extent_source else collection.filter_always
    statement = sql.SQL(EXTENT).format(
        geom=collection.extent_geometry or collection.geometry,
        source=collection.extent_source or collection.source,
        first=first, last=last, scope=collection.scope(principal), always=always)
    row = conn.execute(statement).fetchone()
    assert row is not None
    minx, miny, maxx, maxy, start, end = row
    bbox = None if minx is None else (float(minx), float(miny), float(maxx), float(maxy))
    return Extent(bbox, start, end)
