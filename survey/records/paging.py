"""Keyset pages over any record listing: a stable order, an opaque cursor, typed filters.

A resource describes its listing once (`Listing`: the FROM clause, the sort keys it
allows, the filters it supports, each as a psycopg.sql condition with named
placeholders); `fetch_page` composes the query from that and the caller's typed
`ListFilter`. Values only travel as parameters.

Pages are keyed on (sort key, id), never on an offset: a row added or removed while a
client pages through moves no other row from one page to the next, so nothing is seen
twice or skipped (a row inserted behind the cursor is simply not on the later pages).
The cursor carries the listing, the sort and the last row's key, base64url-encoded JSON:
opaque to clients, who only follow `next` links.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from survey.errors import InvalidInput

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

# how a sort key's value goes into a cursor and comes back with its type
_PARSE: dict[str, Any] = {
    "text": str,
    "date": date.fromisoformat,
    "timestamptz": datetime.fromisoformat,
    "integer": int,
    "double precision": float,
}


@dataclass(frozen=True)
class SortKey:
    """A column (or expression) a listing may be sorted by. It must never be NULL (keyset
    comparison skips NULLs); `pg_type` is one of text, date, timestamptz, integer,
    double precision."""

    expression: sql.Composable
    pg_type: str = "text"

    def __post_init__(self) -> None:
        if self.pg_type not in _PARSE:
            raise ValueError(f"sort keys are {', '.join(_PARSE)}, not {self.pg_type}")


@dataclass(frozen=True)
class ListFilter:
    """The filters a listing may be asked for; None matches every row.

    `bbox` is (minlon, minlat, maxlon, maxlat); the date range includes both ends and
    applies to the listing's own date (planned period, report date, find date, ...).
    `equals` holds a listing's own equality filters (hazard_area_id, kind, ...), by the
    names its `Listing.filters` gives them.
    """

    bbox: tuple[float, float, float, float] | None = None
    status: str | None = None
    classification: str | None = None
    organisation_id: UUID | None = None
    project_id: UUID | None = None
    donor_id: UUID | None = None
    admin_area_id: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    equals: Mapping[str, Any] = field(default_factory=dict)

    def requested(self) -> dict[str, Any]:
        """The filters that are set, by name (bbox and the date range as one each)."""
        found = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name != "equals" and getattr(self, f.name) is not None}
        return found | {name: value for name, value in self.equals.items() if value is not None}


@dataclass(frozen=True)
class Listing:
    """How one resource is listed.

    `source` is the FROM clause (table alias included, joins if needed); `id` the
    unique column that breaks ties; `filters` maps a filter name (a ListFilter field, or
    a key of its `equals`) to a condition that reads its value from the placeholder of
    the same name (`bbox` reads %(minx)s %(miny)s %(maxx)s %(maxy)s; `date_from` and
    `date_to` their own); `live` leaves soft-deleted rows out.
    """

    name: str
    source: sql.Composable
    id: sql.Composable
    sort_keys: Mapping[str, SortKey]
    default_sort: str
    filters: Mapping[str, sql.Composable]
    live: sql.Composable | None = None

    def sort_names(self) -> list[str]:
        """Every `sort` value the listing accepts (a leading '-' sorts descending)."""
        return [name for key in self.sort_keys for name in (key, f"-{key}")]

    def sort_pattern(self) -> str:
        """A regular expression matching exactly the accepted `sort` values (for a query
        parameter's documentation and validation)."""
        return "^-?(" + "|".join(sorted(self.sort_keys)) + ")$"


@dataclass(frozen=True)
class Page:
    """One page: the selected value of each row, and the cursor of the next page (None
    on the last)."""

    rows: list[Any]
    next_cursor: str | None
    sort: str


def encode_cursor(listing: str, sort: str, key: Any, row_id: Any) -> str:
    data = {"l": listing, "s": sort, "k": _jsonable(key), "i": str(row_id)}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Cursor:
    sort: str
    key: Any
    id: UUID


def decode_cursor(listing: Listing, text: str) -> Cursor:
    """The position a cursor of `listing` names; InvalidInput when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        sort = str(data["s"])
        key_type = listing.sort_keys[sort.removeprefix("-")].pg_type
        if data["l"] != listing.name:
            raise ValueError("another listing's cursor")
        key = _PARSE[key_type](data["k"])
        return Cursor(sort, key, UUID(str(data["i"])))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cursor is not one this server gave for {listing.name}: follow "
                           "the `next` link of a page, or start again without cursor") from exc


def _order(listing: Listing, sort: str) -> tuple[SortKey, bool]:
    key = listing.sort_keys.get(sort.removeprefix("-"))
    if key is None:
        raise InvalidInput(f"{listing.name} can be sorted by "
                           f"{', '.join(listing.sort_names())}, not {sort!r}")
    return key, sort.startswith("-")


def _params(filters: ListFilter) -> dict[str, Any]:
    params = filters.requested()
    if filters.bbox is not None:
        minx, miny, maxx, maxy = filters.bbox
        params |= {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
    return params


def conditions(listing: Listing, scope: sql.Composable,
               filters: ListFilter) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE condition for scope and filters, and its parameters; InvalidInput for a
    filter the listing does not have."""
    requested = filters.requested()
    unknown = sorted(name for name in requested if name not in listing.filters)
    if unknown:
        raise InvalidInput(f"{listing.name} cannot be filtered by {', '.join(unknown)}")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput("date_from is after date_to")
    parts: list[sql.Composable] = [scope]
    if listing.live is not None:
        parts.append(listing.live)
    parts += [listing.filters[name] for name in requested]
    return sql.SQL(" AND ").join(parts), _params(filters)


PAGE = """
SELECT {select}, {key} AS sort_key, {id} AS row_id
FROM {source}
WHERE {where}
ORDER BY {key} {direction}, {id} {direction}
LIMIT %(limit)s
"""


def fetch_page(conn: psycopg.Connection, listing: Listing, *, select: sql.Composable,
               scope: sql.Composable, filters: ListFilter | None = None,
               sort: str | None = None, cursor: str | None = None,
               limit: int = DEFAULT_LIMIT) -> Page:
    """Up to `limit` rows of `listing` that `scope` and `filters` allow, in the order
    `sort` names, after the position `cursor` names; `select` is the one value built per
    row (a GeoJSON feature, a JSON object).

    A cursor carries its own sort: a `sort` that disagrees with it is refused.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is 1 to {MAX_LIMIT}")
    after = decode_cursor(listing, cursor) if cursor else None
    if after is not None and sort is not None and sort != after.sort:
        raise InvalidInput("the cursor belongs to another sort order: follow the `next` "
                           "link as it is, or start again without cursor")
    sort = after.sort if after is not None else sort or listing.default_sort
    key, descending = _order(listing, sort)
    where, params = conditions(listing, scope, filters or ListFilter())
    if after is not None:
        where = sql.SQL("{} AND ({}, {}) {} (CAST(%(after_key)s AS {}), %(after_id)s)").format(
            where, key.expression, listing.id, sql.SQL("<" if descending else ">"),
            sql.SQL(key.pg_type))
        params |= {"after_key": after.key, "after_id": after.id}
    query = sql.SQL(PAGE).format(select=select, key=key.expression, id=listing.id,
                                 source=listing.source, where=where,
                                 direction=sql.SQL("DESC" if descending else "ASC"))
    found = conn.execute(query, params | {"limit": limit + 1}).fetchall()
    rows = found[:limit]
    next_cursor = None
    if len(found) > limit and rows:
        last = rows[-1]
        next_cursor = encode_cursor(listing.name, sort, last[-2], last[-1])
    return Page([row[0] for row in rows], next_cursor, sort)
