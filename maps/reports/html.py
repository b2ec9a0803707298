"""A Report as one self-contained HTML page (screen and print), the source of the PDF.

Jinja2 with autoescape; pictures as data URIs; every figure and every table row links
to the records behind it (`Source.href`, a row's `_href` or `_source`). The running
header and footer (`@page` margin boxes) print the period, filters, as-of time and
product version on every page of the PDF.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from maps.reports import charts
from maps.reports.i18n import Translator
from survey.reports.model import N_, Column, Report, ReportFilters, Source, Table

# the filters in the order they are printed, with their printed labels (message ids)
FILTER_LABELS = (
    ("donor_id", N_("Donor")), ("project_id", N_("Project")),
    ("organisation_id", N_("Organisation")), ("admin_area_id", N_("Admin area")),
    ("hazard_area_id", N_("Hazard area")),
)
NUMERIC_KINDS = frozenset({"int", "float", "area"})


@cache
def environment() -> Environment:
    """The template environment (one per process): autoescaped, with gettext callables
    installed per render."""
    env = Environment(loader=PackageLoader("maps.reports", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    return env


def data_uri(content: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


def absolute(href: str | None, base_url: str) -> str | None:
    """A record link as printed: relative API paths get the base URL in front."""
    if not href:
        return None
    if base_url and href.startswith("/"):
        return base_url.rstrip("/") + href
    return href


def source_href(source: Any) -> str | None:
    """The href of a `Source`, or of a source given as a dict (a row's `_source`)."""
    if isinstance(source, Source):
        return source.href
    if isinstance(source, dict):
        href = source.get("href")
        return str(href) if href else None
    return None


def filter_lines(filters: ReportFilters, t: Translator) -> list[tuple[str, str]]:
    """(label, printed value) of every filter that restricts the report."""
    lines = []
    for key, label in FILTER_LABELS:
        value = getattr(filters, key)
        if value is None:
            continue
        short = key.removesuffix("_id")
        name = filters.names.get(key) or filters.names.get(short) or str(value)
        lines.append((t.gettext(label), name))
    return lines


def filters_text(filters: ReportFilters, t: Translator) -> str:
    """The filters on one line, `Donor: X; Project: Y`, or `none`."""
    lines = filter_lines(filters, t)
    return "; ".join(f"{label}: {value}" for label, value in lines) or t.gettext("none")


def is_month(column: Column) -> bool:
    """A date column that holds months (its dates are first days): printed `Mar 2026`."""
    return column.kind == "date" and (column.key == "month" or column.key.endswith("_month"))


def is_year(column: Column) -> bool:
    """A column of years (`year`, `*_year`): printed without grouping."""
    return column.key == "year" or column.key.endswith("_year")


def cell_text(value: Any, column: Column, t: Translator) -> str:
    """A cell as printed in the reader's language (numbers and dates by locale)."""
    if value is None or value == "":
        return ""
    if column.translate_values:
        return t.vocab(value)
    if is_year(column):
        return str(value)  # 2026, never 2,026
    if column.kind in NUMERIC_KINDS and isinstance(value, int | float | Decimal):
        return t.number(value, unit=column.unit, kind=column.kind)
    if isinstance(value, datetime):
        return t.moment(value)
    if isinstance(value, date):
        if column.unit == "month":
            return t.month_long(value)
        return t.month(value) if is_month(column) else t.day(value, "medium")
    return str(value)


def row_link(row: dict[str, Any], column: Column, first: bool, base_url: str) -> str | None:
    """Where a cell links: a `link` column to `<key>_href` of the row, else to the row's
    record (`_href`); numbers to the records behind the row's figure (`_source`, else the
    row's record); the first cell to the row's record (`_href`)."""
    if column.kind == "link":
        value = row.get(column.key)
        if isinstance(value, str) and value.startswith("/"):
            return absolute(value, base_url)  # the value is the link itself
        return absolute(row.get(f"{column.key}_href") or row.get("_href"), base_url)
    if column.kind in NUMERIC_KINDS:
        return absolute(source_href(row.get("_source")) or row.get("_href"), base_url)
    if first:
        return absolute(row.get("_href"), base_url)
    return None


def render_html(report: Report, t: Translator, *, base_url: str = "") -> str:
    """The report as an HTML document in the translator's language."""
    tables: dict[str, Table] = {table.key: table for section in report.sections
                                for table in section.tables}
    chart_images: dict[tuple[str, str], str | None] = {}
    map_images: dict[tuple[str, str], str | None] = {}
    for section in report.sections:
        for chart in section.charts:
            table = tables.get(chart.table)
            png = charts.chart_png(chart, table, t) if table else None
            chart_images[(section.key, chart.key)] = data_uri(png) if png else None
        for spec in section.maps:
            png = charts.map_png(spec, t)
            map_images[(section.key, spec.key)] = data_uri(png) if png else None
    env = environment()
    env.install_gettext_callables(  # type: ignore[attr-defined]
        t.gettext, t.ngettext, newstyle=True, pgettext=t.pgettext)
    template = env.get_template("report.html")
    return template.render(
        report=report, t=t, lang=t.lang, base_url=base_url,
        period=t.period(report.filters.date_from, report.filters.date_to),
        filters=filter_lines(report.filters, t),
        filters_text=filters_text(report.filters, t),
        as_of=t.moment(report.as_of),
        chart_images=chart_images, map_images=map_images, tables=tables,
        cell_text=cell_text, row_link=row_link, absolute=absolute, source_href=source_href,
        numeric_kinds=NUMERIC_KINDS, max_bars=charts.MAX_BARS,
    )
