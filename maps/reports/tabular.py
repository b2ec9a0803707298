"""A Report's tables as CSV (one file a table, or a ZIP of them all) and as XLSX.

Numbers stay numbers (raw, `.` decimal in CSV; numeric cells in XLSX), dates ISO in CSV
and date cells in XLSX; units go in the headers, `Released area (m²)`. Vocabulary codes
are translated (`cleared` → `очищено`) as the reader sees them in the HTML.

CSV is UTF-8 with a byte-order mark: without it Excel, which most donors open CSV with,
reads UTF-8 as the ANSI code page and Cyrillic turns into mojibake; Python (`utf-8-sig`),
pandas, R and LibreOffice all read the mark as what it is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from maps.reports.html import absolute, filters_text, is_month, is_year, source_href
from maps.reports.i18n import Translator
from survey.errors import InvalidInput
from survey.reports.model import Column, Report, Table

BOM = "\ufeff"
NUMBER_FORMATS = {"int": "#,##0", "area": "#,##0", "float": "#,##0.00"}


def all_tables(report: Report) -> list[Table]:
    return [table for section in report.sections for table in section.tables]


def find_table(report: Report, key: str) -> Table:
    for table in all_tables(report):
        if table.key == key:
            return table
    keys = ", ".join(table.key for table in all_tables(report)) or "none"
    raise InvalidInput(f"this report has no table {key!r} (its tables: {keys})", table=key)


def about_rows(report: Report, t: Translator, base_url: str) -> list[list[Any]]:
    """What, when and under which filters: the first lines of every tabular export, then
    the headline figures with the links to their records."""
    rows: list[list[Any]] = [
        [t.gettext("Report"), t.label(report.title)],
        [t.gettext("Programme"), report.programme],
        [t.gettext("Period"), t.period(report.filters.date_from, report.filters.date_to)],
        [t.gettext("Period from"), report.filters.date_from],
        [t.gettext("Period to"), report.filters.date_to],
        [t.gettext("Filters"), filters_text(report.filters, t)],
        [t.gettext("Data as of (UTC)"), report.as_of],
        [t.gettext("Product version"), f"demine {report.version}"],
        [t.gettext("Language"), t.lang],
    ]
    if report.empty:
        rows.append([t.gettext("Note"), t.gettext(
            "Nothing was recorded in this period with these filters: every figure below "
            "is zero.")])
    rows.append([])
    rows.append([t.gettext("Figure"), t.gettext("Value"), t.gettext("Unit"),
                 t.gettext("Records")])
    for section in report.sections:
        for figure in section.figures:
            rows.append([t.label(figure.label), _raw(figure.value), t.unit(figure.unit),
                         absolute(figure.source.href, base_url) or ""])
    tables = all_tables(report)
    if tables:
        rows.append([])
        rows.append([t.gettext("Table"), t.gettext("Title"), t.gettext("Rows"),
                     t.gettext("Records")])
        for table in tables:
            rows.append([table.key, t.label(table.title), len(table.rows),
                         absolute(table.source.href, base_url) or ""])
    return rows


def _raw(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    return value


def _cell(value: Any, column: Column, t: Translator) -> Any:
    if value is None:
        return None
    if column.translate_values:
        return t.vocab(value)
    return _raw(value)


def _has_links(table: Table) -> bool:
    return any(row.get("_href") or source_href(row.get("_source")) for row in table.rows)


def table_rows(table: Table, t: Translator, base_url: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of one table; a last `Records` column carries each row's link."""
    links = _has_links(table)
    header = [t.header(column.label, column.unit) for column in table.columns]
    if links:
        header.append(t.gettext("Records"))
    rows = []
    for row in table.rows:
        cells = [_cell(row.get(column.key), column, t) for column in table.columns]
        if links:
            cells.append(absolute(row.get("_href") or source_href(row.get("_source")),
                                  base_url) or "")
        rows.append(cells)
    return header, rows


# --- CSV ---

def _csv_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def table_csv(table: Table, t: Translator, base_url: str) -> bytes:
    header, rows = table_rows(table, t, base_url)
    return _csv_bytes([header, *rows])


def report_csv_zip(report: Report, t: Translator, base_url: str) -> bytes:
    """Every table as `<key>.csv`, with `about.csv` (period, filters, as-of, version and
    the headline figures) first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("about.csv", _csv_bytes(about_rows(report, t, base_url)))
        for table in all_tables(report):
            archive.writestr(f"{table.key}.csv", table_csv(table, t, base_url))
    return buffer.getvalue()


# --- XLSX ---

def _sheet_title(key: str, taken: set[str]) -> str:
    """A sheet name Excel accepts (31 characters, none of []:*?/\\), unique."""
    name = "".join("_" if char in "[]:*?/\\" else char for char in key)[:31] or "table"
    candidate, number = name, 2
    while candidate.lower() in taken:
        suffix = f"_{number}"
        candidate, number = name[:31 - len(suffix)] + suffix, number + 1
    taken.add(candidate.lower())
    return candidate


def report_xlsx(report: Report, t: Translator, base_url: str) -> bytes:
    """An `About` sheet, then one sheet per table named by the table's key."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    book = Workbook()
    about = book.active
    assert about is not None
    about.title = "About"
    taken = {"about"}
    for row in about_rows(report, t, base_url):
        about.append([_xlsx_value(value) for value in row])
        cell = about.cell(row=about.max_row, column=1)
        cell.font = bold
        _format_row(about, about.max_row)
    about.column_dimensions["A"].width = 34
    about.column_dimensions["B"].width = 50
    about.column_dimensions["D"].width = 50
    for table in all_tables(report):
        sheet = book.create_sheet(_sheet_title(table.key, taken))
        header, rows = table_rows(table, t, base_url)
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        links = len(header) > len(table.columns)
        for row in rows:
            sheet.append([_xlsx_value(value) for value in row])
            index = sheet.max_row
            for position, column in enumerate(table.columns, start=1):
                cell = sheet.cell(row=index, column=position)
                if is_year(column):
                    pass  # 2026, never 2,026
                elif column.kind in NUMBER_FORMATS and isinstance(cell.value, int | float):
                    cell.number_format = NUMBER_FORMATS[column.kind]
                elif isinstance(cell.value, date) and (is_month(column)
                                                       or column.unit == "month"):
                    cell.number_format = "yyyy-mm"
            if links and row[-1]:
                link = sheet.cell(row=index, column=len(header))
                link.hyperlink = str(row[-1])
                link.style = "Hyperlink"
            _format_row(sheet, index)
        for position, text in enumerate(header, start=1):
            width = max([len(str(text))] + [len(str(r[position - 1] or "")) for r in rows[:200]])
            sheet.column_dimensions[get_column_letter(position)].width = min(60, width + 2)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo:
        # Excel has no time zones: the as-of time is written in UTC
        return value.astimezone(UTC).replace(tzinfo=None)
    return _raw(value)


def _format_row(sheet: Any, index: int) -> None:
    for cell in sheet[index]:
        if isinstance(cell.value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm"
        elif isinstance(cell.value, date) and cell.number_format != "yyyy-mm":
            cell.number_format = "yyyy-mm-dd"
