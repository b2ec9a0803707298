"""Reports as JSON: the `survey.reports.model.Report` dataclasses, field for field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict


class SourcePublic(BaseModel):
    """Where a figure or table came from: the survey function (and so its SQL), the filters
    it ran with, the release ids behind it when there are at most 200, and the API listing
    of the records behind it."""

    query: str
    filters: dict[str, Any]
    row_ids: list[UUID] | None = None
    href: str | None = None


class ColumnPublic(BaseModel):
    key: str
    label: str = Field(description="English message id; the renderers translate it")
    unit: str | None = None
    kind: Literal["text", "int", "float", "area", "date", "link"] = "text"
    translate_values: bool = False


class TablePublic(BaseModel):
    key: str
    title: str
    columns: list[ColumnPublic]
    rows: list[dict[str, Any]] = Field(
        description="one object per row keyed by column key; `_href` links the record "
        "behind the row, `_source` (when present) is the row's own source")
    source: SourcePublic
    note: str | None = None


class FigurePublic(BaseModel):
    key: str
    label: str
    value: int | float | date | None = Field(
        description="a number, or for unit `month` the first day of that month")
    unit: str | None
    source: SourcePublic


class ChartPublic(BaseModel):
    key: str
    title: str
    kind: Literal["monthly_stacked_bar", "bar"]
    table: str
    x: str
    series: list[str]
    unit: str | None = None


class MapLayerPublic(BaseModel):
    key: str
    title: str
    style: str
    features: list[dict[str, Any]] = Field(description="GeoJSON features, simplified")


class MapSpecPublic(BaseModel):
    key: str
    title: str
    layers: list[MapLayerPublic]
    bounds: tuple[float, float, float, float] | None


class SectionPublic(BaseModel):
    key: str
    title: str
    figures: list[FigurePublic] = []
    tables: list[TablePublic] = []
    charts: list[ChartPublic] = []
    maps: list[MapSpecPublic] = []
    notes: list[str] = Field(default=[], description="message ids; `{name}` placeholders "
                             "are filled from `params`")
    params: dict[str, Any] = {}


class ReportFiltersPublic(BaseModel):
    date_from: date | None = None
    date_to: date | None = None
    donor_id: UUID | None = None
    project_id: UUID | None = None
    organisation_id: UUID | None = None
    admin_area_id: UUID | None = None
    hazard_area_id: UUID | None = None
    names: dict[str, str] = {}


_SOURCE: dict[str, Any] = {"query": "survey.reports.progress.released",
           "filters": {"date_from": "2025-01-01", "date_to": "2025-12-31",
                       "donor_id": "6f1c2b9e-3a51-4d0b-9a57-0c2d8d1e5f10"},
           "row_ids": None,
           "href": "/api/v1/releases?date_from=2025-01-01&date_to=2025-12-31"
                   "&donor_id=6f1c2b9e-3a51-4d0b-9a57-0c2d8d1e5f10"}

EXAMPLE: dict[str, Any] = {
    "kind": "progress", "title": "Progress report", "programme": "Ukraine",
    "filters": {"date_from": "2025-01-01", "date_to": "2025-12-31",
                "donor_id": "6f1c2b9e-3a51-4d0b-9a57-0c2d8d1e5f10",
                "names": {"donor_id": "European Union"}},
    "as_of": "2026-01-05T09:12:44.123456+00:00", "version": "0.1.0", "empty": False,
    "sections": [{
        "key": "released", "title": "Land released",
        "figures": [{"key": "released_period_m2", "label": "Released this period",
                     "value": 918110.2, "unit": "m²", "source": _SOURCE}],
        "tables": [{"key": "released_by_product", "title": "Land released by product",
                    "columns": [{"key": "product", "label": "Product", "unit": None,
                                 "kind": "text", "translate_values": True},
                                {"key": "period_m2", "label": "Released this period",
                                 "unit": "m²", "kind": "area", "translate_values": False}],
                    "rows": [{"product": "cleared", "period_m2": 600472.2,
                              "_href": "/api/v1/releases?date_from=2025-01-01"
                                       "&date_to=2025-12-31&product=cleared"}],
                    "source": _SOURCE, "note": None}],
        "charts": [{"key": "released_monthly_chart",
                    "title": "Land released per month by product",
                    "kind": "monthly_stacked_bar", "table": "released_monthly", "x": "month",
                    "series": ["cancelled", "reduced", "cleared"], "unit": "m²"}],
        "maps": [], "notes": [], "params": {}}],
}


class ReportPublic(BaseModel):
    """A report: sections of figures, tables, charts and maps, every one with its source.
    Labels are English message ids (`format=html|pdf|csv|xlsx` with `lang=uk` translates
    them); values are raw numbers in the units given."""

    model_config = ConfigDict(json_schema_extra={"examples": [cast(JsonDict, EXAMPLE)]})

    kind: Literal["progress", "national", "forecast"]
    title: str
    programme: str
    filters: ReportFiltersPublic
    as_of: datetime = Field(description="the data's as-of time (the transaction's now())")
    version: str = Field(description="the product version that computed the report")
    sections: list[SectionPublic]
    empty: bool = Field(description="nothing happened in the period; the report says so")
