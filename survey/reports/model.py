"""What a report is, independent of how it is rendered.

`survey.reports` computes a `Report` from the ledger (the only source of figures); the
renderers in `maps.reports` turn the same `Report` into JSON, HTML, PDF, CSV and XLSX,
so the formats cannot disagree. Labels are English message ids marked with `N_` so
that Babel extracts them; the renderers translate them through the catalogue of the
language asked for. Values stay raw (numbers as numbers, dates as dates): formatting
by locale is the renderer's job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

ReportKind = Literal["progress", "national", "forecast"]
ColumnKind = Literal["text", "int", "float", "area", "date", "link"]
ChartKind = Literal["monthly_stacked_bar", "bar"]


def N_(message: str) -> str:
    """Mark a label for translation (Babel extracts `N_`); it is translated when rendered."""
    return message


@dataclass(frozen=True)
class Source:
    """Where a figure or table came from, so that it can be traced to its records.

    `query` names the survey function (and so the SQL) that produced it; `filters` are
    the filters it ran with (ids as strings); `row_ids` lists the ledger rows behind it
    when the set is small (at most `ROW_ID_LIMIT`); `href` is the API path that lists
    the records behind it (relative, e.g. `/api/v1/releases?hazard_area_id=...`).
    """

    query: str
    filters: dict[str, Any] = field(default_factory=dict)
    row_ids: list[UUID] | None = None
    href: str | None = None


ROW_ID_LIMIT = 200


@dataclass(frozen=True)
class Column:
    """A table column: `label` is a message id, `unit` a unit printed in the header
    (`m²`, `km²`, `items`, `team-days`, `m²/team-day`, `USD`, `%`), `kind` how to format."""

    key: str
    label: str
    unit: str | None = None
    kind: ColumnKind = "text"
    translate_values: bool = False  # values are vocabulary codes to translate (`CLEARED`)


@dataclass(frozen=True)
class Table:
    """A table of the report; `key` names its CSV file and its XLSX sheet.

    A row is a dict keyed by column key; a row may carry `_href` (a link to the record
    behind it, relative API or map path) and `_source` (a `Source` for that row).
    """

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    source: Source
    note: str | None = None


@dataclass(frozen=True)
class Figure:
    """A headline figure (released this period, items destroyed, ...)."""

    key: str
    label: str
    value: int | float | Decimal | date | None  # a date with unit "month": that month
    unit: str | None
    source: Source


@dataclass(frozen=True)
class Chart:
    """A chart drawn from one of the section's tables: `x` is the column on the x axis,
    `series` the numeric columns (stacked for `monthly_stacked_bar`)."""

    key: str
    title: str
    kind: ChartKind
    table: str
    x: str
    series: list[str]
    unit: str | None = None


@dataclass(frozen=True)
class MapLayer:
    """Features to draw on a static map: GeoJSON geometries (lon/lat, simplified for the
    page), each with the properties the legend needs (`classification`, `product`, ...)."""

    key: str
    title: str
    style: str  # "hazard" | "release" | "admin"
    features: list[dict[str, Any]]


@dataclass(frozen=True)
class MapSpec:
    key: str
    title: str
    layers: list[MapLayer]
    bounds: tuple[float, float, float, float] | None  # minlon, minlat, maxlon, maxlat


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    maps: list[MapSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # message ids, e.g. assumptions
    # values for `{name}` placeholders in the notes (and the tables' notes), filled in
    # after translation so that the message id keeps the placeholder
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportFilters:
    """The filters a report was asked for (None: no restriction), with the names of the
    records they point at for printing."""

    date_from: date | None = None
    date_to: date | None = None
    donor_id: UUID | None = None
    project_id: UUID | None = None
    organisation_id: UUID | None = None
    admin_area_id: UUID | None = None
    hazard_area_id: UUID | None = None
    names: dict[str, str] = field(default_factory=dict)  # filter key -> printed name


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    title: str
    programme: str
    filters: ReportFilters
    as_of: datetime  # the data's as-of time (the transaction's now())
    version: str  # the product version that computed it
    sections: list[Section]
    empty: bool  # nothing happened in the period: the report says so

    def to_dict(self) -> dict[str, Any]:
        """Plain data (UUIDs, dates and Decimals still typed); JSON encoders finish it."""
        return asdict(self)
