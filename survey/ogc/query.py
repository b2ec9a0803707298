"""The query of an items request, read from its parameters into typed values.

OGC API Features answers a parameter it cannot read with 400, and so does this module
(InvalidQuery). A parameter it does not know is refused too, rather than ignored: a
misspelt `bbox` would otherwise return the whole collection as if it had been applied.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from survey.domain import geometry
from survey.errors import InvalidQuery
from survey.ogc import cql2
from survey.ogc.catalogue import Collection, Field

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000  # past PostgreSQL's bigint was a 500; no programme is larger
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
# cql-text is the name of the draft, which GDAL 3.6 sends: it reads the same here
FILTER_LANGS = ("cql2-text", "cql-text")
# parameters every items request may carry besides the property filters; `f` (format)
# and `token` are read by the API, the rest here
KNOWN = frozenset({"f", "token", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset",
                   "filter", "filter-lang", "filter-crs"})

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Period:
    """Days from `start` to `end`, both included; None is an open end."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class PropertyFilter:
    """`name=value` as a query parameter: equality (containment for a list property)."""

    field: Field
    value: object


@dataclass(frozen=True)
class ItemQuery:
    """What an items request asks for, typed; survey.ogc.features turns it into SQL."""

    bbox: Box | None = None
    period: Period | None = None
    properties: tuple[PropertyFilter, ...] = ()
    filter: cql2.Expr | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_bbox(text: str) -> Box:
    """`minlon,minlat,maxlon,maxlat` (or the six numbers of a 3D box) in CRS84."""
    return geometry.parse_bbox(text, error=InvalidQuery)


def _instant(text: str) -> date:
    """A date or an RFC 3339 date-time, as the UTC day it falls on."""
    try:
        # GDAL 3.6's OAPIF driver writes a day as 'YYYY-MM-DDT'
        if "T" not in text.upper().rstrip("T"):
            return date.fromisoformat(text.upper().rstrip("T"))
        value = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise InvalidQuery(f"datetime: {text!r} is not a date (2025-03-01) or a date-time "
                           "(2025-03-01T10:00:00Z)") from exc
    if value.tzinfo is None:
        raise InvalidQuery(f"datetime: {text!r} needs a time zone (Z for UTC)")
    return value.astimezone(UTC).date()


def parse_datetime(text: str) -> Period:
    """An instant, or an interval `start/end` where either end may be `..` or empty."""
    if "/" not in text:
        day = _instant(text)
        return Period(day, day)
    first, _, last = text.partition("/")
    start = None if first in ("", "..") else _instant(first)
    end = None if last in ("", "..") else _instant(last)
    if start is None and end is None:
        raise InvalidQuery("datetime: an interval needs at least one end (start/.. or "
                           "../end)")
    if start is not None and end is not None and start > end:
        raise InvalidQuery("datetime: the interval ends before it starts")
    return Period(start, end)


def _integer(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise InvalidQuery(f"{name} must be between {low} and {high}")
    return value


def typed_value(field: Field, text: str) -> object:
    """A query parameter's text as a value of the property's type."""
    try:
        match field.type:
            case "integer":
                return int(text)
            case "number":
                number = float(text)
                if not math.isfinite(number):
                    raise ValueError(text)
                return number
            case "boolean":
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                return text.lower() == "true"
            case "date":
                return date.fromisoformat(text)
            case "uuid":
                return UUID(text)
    except ValueError:
        raise InvalidQuery(f"{field.name}={text!r}: not a {field.type} value") from None
    if field.enum and text not in field.enum:
        raise InvalidQuery(f"{field.name}={text!r}: not one of " + ", ".join(field.enum))
    return text


def _crs(name: str, text: str) -> None:
    if text not in (CRS84, CRS84H):
        raise InvalidQuery(f"{name}: only {CRS84} (longitude, latitude) is served")


def parse_item_query(collection: Collection, params: Iterable[tuple[str, str]]) -> ItemQuery:
    """The typed query of `/collections/{id}/items?...`; InvalidQuery (400) names the
    parameter that cannot be used."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name in seen:
            raise InvalidQuery(f"parameter {name!r} is given twice")
        seen[name] = value
    queryables = {f.name: f for f in collection.fields}
    unknown = [n for n in seen if n not in KNOWN and n not in queryables]
    if unknown:
        raise InvalidQuery(f"unknown parameter {unknown[0]!r}: use bbox, datetime, limit, "
                           "offset, filter or a property of the collection ("
                           + ", ".join(queryables) + ")")
    for name in ("bbox-crs", "crs", "filter-crs"):
        if name in seen:
            _crs(name, seen[name])
    if seen.get("filter-lang", "cql2-text") not in FILTER_LANGS:
        raise InvalidQuery("filter-lang: only cql2-text is read")
    if "filter-lang" in seen and "filter" not in seen:
        raise InvalidQuery("filter-lang without a filter")
    period = None
    if "datetime" in seen:
        if collection.temporal is None:
            raise InvalidQuery(f"datetime: {collection.id} carry no dates")
        period = parse_datetime(seen["datetime"])
    tree = cql2.parse(seen["filter"]) if "filter" in seen else None
    if tree is not None:
        unknown = sorted(cql2.properties_of(tree) - queryables.keys())
        if unknown:
            raise InvalidQuery(f"filter: {collection.id} have no property {unknown[0]!r} "
                               "(the queryables are " + ", ".join(queryables) + ")")
    # a limit above the maximum is served as the maximum (OGC API Features allows this)
    limit = (min(_integer("limit", seen["limit"], 1, MAX_OFFSET), MAX_LIMIT)
             if "limit" in seen else DEFAULT_LIMIT)
    return ItemQuery(
        bbox=parse_bbox(seen["bbox"]) if "bbox" in seen else None,
        period=period,
        properties=tuple(PropertyFilter(queryables[n], typed_value(queryables[n], v))
                         for n, v in seen.items() if n in queryables),
        filter=tree, limit=limit,
        offset=_integer("offset", seen["offset"], 0, MAX_OFFSET) if "offset" in seen else 0)
