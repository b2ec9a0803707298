"""Renderers of `survey.reports.model.Report`: JSON, HTML, PDF, CSV and XLSX, in en or uk.

One entry point, `render`, so that the API, the CLI and the tests cannot render a report
in two ways. See /work/notes/render.md (and the module docstrings) for each format.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple, get_args

from maps.reports.i18n import LANGS, Lang, translator
from survey.errors import InvalidInput
from survey.reports.model import Report

Format = Literal["json", "html", "pdf", "csv", "xlsx"]
FORMATS: tuple[str, ...] = get_args(Format)

MEDIA_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

__all__ = ["FORMATS", "LANGS", "MEDIA_TYPES", "Format", "Lang", "Rendered", "render",
           "report_filename"]


class Rendered(NamedTuple):
    """A rendered report: its bytes, media type and a file name to save it under."""

    content: bytes
    media_type: str
    filename: str


def report_filename(report: Report, lang: str, extension: str, table: str | None = None) -> str:
    """`progress-2026-01-01-2026-03-31-uk.pdf`: ASCII, safe in a Content-Disposition."""
    filters = report.filters
    parts = [report.kind, filters.date_from.isoformat() if filters.date_from else "start",
             filters.date_to.isoformat() if filters.date_to else report.as_of.date().isoformat()]
    if table:
        parts.append(table)
    parts.append(lang)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts))
    return f"{stem}.{extension}"


def render(report: Report, *, format: Format, lang: Lang, base_url: str = "",
           table: str | None = None) -> Rendered:
    """Render a report in one format and language.

    `base_url` goes in front of the relative record links (HTML, PDF, XLSX, CSV); "" keeps
    them relative. CSV: `table=None` gives a ZIP of one CSV per table plus `about.csv`,
    `table="<key>"` that table alone (an unknown key is `InvalidInput`); the other formats
    ignore `table`. Raises `InvalidInput` for an unknown format or language.
    """
    if format not in FORMATS:
        raise InvalidInput(f"unknown report format {format!r}: use one of {', '.join(FORMATS)}",
                           format=format)
    t = translator(lang)
    if format == "json":
        from maps.reports.jsonout import report_json

        return Rendered(report_json(report, t), MEDIA_TYPES["json"],
                        report_filename(report, lang, "json"))
    if format in ("html", "pdf"):
        from maps.reports.html import render_html

        html = render_html(report, t, base_url=base_url)
        if format == "html":
            return Rendered(html.encode("utf-8"), MEDIA_TYPES["html"],
                            report_filename(report, lang, "html"))
        from maps.reports.pdf import html_to_pdf

        return Rendered(html_to_pdf(html), MEDIA_TYPES["pdf"],
                        report_filename(report, lang, "pdf"))
    from maps.reports import tabular

    if format == "xlsx":
        return Rendered(tabular.report_xlsx(report, t, base_url), MEDIA_TYPES["xlsx"],
                        report_filename(report, lang, "xlsx"))
    if table is not None:
        chosen = tabular.find_table(report, table)
        return Rendered(tabular.table_csv(chosen, t, base_url), MEDIA_TYPES["csv"],
                        report_filename(report, lang, "csv", table=chosen.key))
    return Rendered(tabular.report_csv_zip(report, t, base_url), MEDIA_TYPES["zip"],
                    report_filename(report, lang, "zip"))
