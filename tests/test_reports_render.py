"""The report renderers (maps.reports): JSON, HTML, PDF, CSV and XLSX in en and uk.

Reports are built here from the shared model (the figures' functions have their own
tests); the renderers are exercised for real: PDFs are read back with poppler's
pdftotext and rasterised with pdftoppm, XLSX with openpyxl, CSV with the csv module, and
the `demine report` CLI against a real database.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import threading
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from maps.reports import FORMATS, LANGS, render
from maps.reports.i18n import catalogue_path, translator
from maps.reports.pdf import html_to_pdf
from survey.errors import InvalidInput
from survey.reports.model import (
    Chart,
    Column,
    Figure,
    MapLayer,
    MapSpec,
    Report,
    ReportFilters,
    Section,
    Source,
    Table,
)

ROOT = Path(__file__).resolve().parent.parent
DONOR = UUID("0b7c5a0e-7d0a-4f5e-9d51-3f2d1f6d9a01")
AREA = UUID("5f0e8a77-1c2b-4d1e-8b3f-7a9e2c4d6b10")
AS_OF = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)


def placeholder_note() -> tuple[str, dict[str, int], str]:
    """A note of survey/reports with `{name}` placeholders (whichever the catalogue holds
    now), values for them, and its Ukrainian text with the values filled in by hand."""
    with catalogue_path("uk").open("rb") as handle:
        notes = sorted((m.id, m.string) for m in read_po(handle, locale="uk")
                       if m.context is None and isinstance(m.id, str)
                       and re.search(r"\{[a-z_0-9]+\}", m.id))
    msgid, msgstr = notes[0]
    names = re.findall(r"\{([a-z_0-9]+)\}", msgid)
    params = {name: 2000 for name in names}
    filled = msgstr
    for name in names:
        filled = filled.replace("{" + name + "}", "2\u00a0000")
    return msgid, params, filled


NOTE, NOTE_PARAMS, NOTE_UK = placeholder_note()


def square(lon: float, lat: float, size: float) -> dict:
    return {"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
        [lon, lat]]]}


def sample_report(*, empty: bool = False) -> Report:
    """A progress report for Q1 2026 with one donor filter: headline figures, a monthly
    chart, a map and tables with vocabulary columns and record links."""
    filters = ReportFilters(date_from=date(2026, 1, 1), date_to=date(2026, 3, 31),
                            donor_id=DONOR, names={"donor_id": "Fondation Suisse"})
    source = Source(query="survey.reports.progress.released",
                    filters={"donor_id": str(DONOR)},
                    href=f"/api/v1/releases?donor_id={DONOR}&date_from=2026-01-01")
    values = ({"cancelled": 0, "reduced": 0, "cleared": 0} if empty else
              {"cancelled": 125_000.0, "reduced": 48_250.5, "cleared": 12_345.25})
    figures = [
        Figure(key="released_total", label="Released this period", unit="m²",
               value=sum(values.values()), source=source),
        Figure(key="cleared", label="Cleared", unit="m²", value=values["cleared"],
               source=Source(query="survey.reports.progress.released",
                             href="/api/v1/releases?product=cleared")),
        Figure(key="devices", label="Items destroyed", unit="items",
               value=0 if empty else 1234,
               source=Source(query="survey.reports.progress.devices",
                             href="/api/v1/device-finds?date_from=2026-01-01")),
    ]
    months = [] if empty else [
        {"month": date(2026, 1, 1), "cancelled": 100_000.0, "reduced": 20_000.0,
         "cleared": 2_345.25},
        {"month": date(2026, 2, 1), "cancelled": 25_000.0, "reduced": 28_250.5,
         "cleared": 4_000.0},
        {"month": date(2026, 3, 1), "cancelled": 0.0, "reduced": 0.0, "cleared": 6_000.0},
    ]
    monthly = Table(
        key="released_by_month", title="Land released per month by product",
        columns=[Column("month", "Month", kind="date"),
                 Column("cancelled", "Cancelled", "m²", "area"),
                 Column("reduced", "Reduced", "m²", "area"),
                 Column("cleared", "Cleared", "m²", "area")],
        rows=months, source=source)
    by_product = Table(
        key="released_by_product", title="Land released by product",
        columns=[Column("product", "Product", translate_values=True),
                 Column("area_m2", "Area", "m²", "area"),
                 Column("releases", "Releases this period", None, "int")],
        rows=[] if empty else [
            {"product": product, "area_m2": area, "releases": count,
             "_href": f"/api/v1/releases?product={product}",
             "_source": Source(query="survey.reports.progress.released",
                               href=f"/api/v1/releases?product={product}")}
            for (product, area), count in zip(values.items(), (12, 7, 3), strict=True)],
        source=source)
    areas = Table(
        key="completed_hazard_areas", title="Completed hazard areas",
        columns=[Column("local_id", "Local id", kind="link"),
                 Column("name", "Name"),
                 Column("classification", "Classification", translate_values=True),
                 Column("completed", "Completed", kind="date"),
                 Column("area_m2", "Area", "m²", "area")],
        rows=[] if empty else [
            {"local_id": "UA-KH-000123", "name": "Field <north> & school",
             "classification": "CHA", "completed": date(2026, 3, 14), "area_m2": 12_345.25,
             "_href": f"/api/v1/hazard-areas/{AREA}"}],
        source=Source(query="survey.reports.progress.completed",
                      href="/api/v1/hazard-areas?status=closed"),
        note="An area counts as completed on the date of its first completion report in the "
             "period.")
    spec = MapSpec(
        key="released_map", title="Map of the period's releases",
        layers=[] if empty else [
            MapLayer(key="hazard_areas", title="Hazard areas", style="hazard", features=[
                {"type": "Feature", "geometry": square(37.20, 49.18, 0.02),
                 "properties": {"classification": "CHA", "status": "worked_on"}},
                {"type": "Feature", "geometry": square(37.26, 49.20, 0.015),
                 "properties": {"classification": "SHA", "status": "open"}}]),
            MapLayer(key="releases", title="Released land", style="release", features=[
                {"type": "Feature", "geometry": square(37.205, 49.185, 0.006),
                 "properties": {"product": "cleared", "method": "MANUAL"}},
                {"type": "Feature", "geometry": square(37.265, 49.205, 0.005),
                 "properties": {"product": "cancelled", "method": "NTS"}}])],
        bounds=None if empty else (37.19, 49.17, 37.29, 49.225))
    sections = [
        Section(key="released", title="Land released", figures=figures,
                tables=[monthly, by_product],
                charts=[Chart(key="released_monthly", title="Land released per month by product",
                              kind="monthly_stacked_bar", table="released_by_month",
                              x="month", series=["cancelled", "reduced", "cleared"],
                              unit="m²")],
                maps=[spec]),
        Section(key="completed", title="Completed hazard areas", tables=[areas],
                notes=[NOTE], params=NOTE_PARAMS),
    ]
    return Report(kind="progress", title="Progress report", programme="Ukraine (demo)",
                  filters=filters, as_of=AS_OF, version="0.1.0", sections=sections,
                  empty=empty)


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> list[str]:
    """The text of each page, as poppler reads it."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                         check=True, capture_output=True).stdout.decode("utf-8")
    return out.split("\f")[:-1] if out.endswith("\f") else out.split("\f")


def squash(text: str) -> str:
    """Text with every run of white space (incl. the locale's narrow no-break spaces) as
    one plain space."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


# --- the catalogues ------------------------------------------------------------------------

def catalogue(lang: str):
    with catalogue_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def used_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every label survey/reports marks with N_, of the vocabulary and
    units maps/reports marks with C_, and of the template strings marked with _."""
    found: set[tuple[str | None, str]] = set()
    keywords = {"N_": None, "C_": ((1, "c"), 2), "_": None, "gettext": None}
    for directory, method in ((ROOT / "survey" / "reports", [("**.py", "python")]),
                              (ROOT / "maps" / "reports", [("**.py", "python"),
                                                           ("**.html", "jinja2")])):
        for _file, _line, message, _comments, context in extract_from_dir(
                directory, method_map=method, keywords=keywords,
                options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}):
            found.add((context, message if isinstance(message, str) else message[0]))
    return found


def test_every_message_has_a_ukrainian_translation():
    used = used_messages()
    assert len(used) > 150  # the extraction really ran over the report modules
    uk = {(m.context, m.id): m for m in catalogue("uk") if m.id}
    untranslated = sorted((ctx or "", mid) for ctx, mid in used
                          if (ctx, mid) not in uk or not uk[(ctx, mid)].string
                          or uk[(ctx, mid)].fuzzy)
    assert not untranslated, (
        "labels with no Ukrainian translation: run `make messages` and fill their msgstr in "
        f"maps/reports/locale/uk/LC_MESSAGES/demine.po: {untranslated}")


def test_translations_keep_their_placeholders_and_are_ukrainian():
    placeholder = re.compile(r"\{[a-z_0-9]+\}|%\([a-z_]+\)s")
    for message in catalogue("uk"):
        if not message.id or not message.string:
            continue
        assert sorted(placeholder.findall(message.id)) == sorted(
            placeholder.findall(message.string)), message.id
        if message.context is None and re.search(r"[a-z]{4}", message.id):
            # a label left in English is no translation (codes and symbols aside)
            assert re.search("[а-яіїєґ]", message.string, re.IGNORECASE), message.id


def test_vocabulary_lists_every_code_of_the_enums_reports_print():
    import survey.domain.vocab as vocab
    from maps.reports.vocabulary import ENUMS, VOCABULARY

    for name in ENUMS:
        for member in getattr(vocab, name):
            assert member.value in VOCABULARY, f"{name}.{member.name} missing"
    t = translator("uk")
    assert t.vocab("cleared") == "очищено"
    assert t.vocab("cancelled") == "скасовано"
    assert t.vocab("reduced") == "зменшено"
    assert t.vocab("CHA").startswith("Підтверджено небезпечний район")
    assert t.vocab("SHA").startswith("Підозріло небезпечний район")
    assert translator("en").vocab("MDD") == "Mine detection dogs (MDD)"
    assert t.vocab("NOT_A_CODE") == "NOT_A_CODE"


def test_numbers_and_dates_follow_the_locale():
    en, uk = translator("en"), translator("uk")
    assert en.quantity(1234567.5, "m²") == "1,234,568\u00a0m²"
    assert squash(uk.quantity(1234567.5, "m²")) == "1 234 568 м²"
    assert squash(uk.number(0.34, unit="km²")) == "0,34"
    assert en.period(date(2026, 1, 1), date(2026, 3, 31)) == "January 1, 2026 – March 31, 2026"
    assert squash(uk.period(date(2026, 1, 1), date(2026, 3, 31))) == (
        "1 січня 2026 р. – 31 березня 2026 р.")
    assert squash(uk.month(date(2026, 3, 1))) == "бер. 2026"
    assert squash(uk.quantity(date(2027, 3, 1), "month")) == "березень 2027"
    assert squash(uk.note("The table lists the first {completed_shown} of {completed_total} "
                          "completed hazard areas.",
                          {"completed_shown": 2000, "completed_total": 12345})) == (
        "У таблиці наведено перші 2 000 із 12 345 завершених небезпечних ділянок.")
    with pytest.raises(InvalidInput):
        translator("fr")


# --- PDF -----------------------------------------------------------------------------------

HEADLINES = {
    "en": ["Progress report", "January 1, 2026 – March 31, 2026", "Donor: Fondation Suisse",
           "185,596 m²", "12,345 m²", "1,234 items", "Released this period",
           "Items destroyed", "Apr 2, 2026, 8:30:00 AM UTC", "demine 0.1.0"],
    "uk": ["Звіт про хід робіт", "1 січня 2026 р. – 31 березня 2026 р.",
           "Донор: Fondation Suisse", "185 596 м²", "12 345 м²", "1 234 од.",
           "Звільнено за період", "Знищено предметів", "2 квіт. 2026 р., 08:30:00 UTC",
           "demine 0.1.0"],
}
EVERY_PAGE = {"en": ["Period: January 1, 2026 – March 31, 2026",
                     "Filters: Donor: Fondation Suisse", "Data as of Apr 2, 2026",
                     "demine 0.1.0"],
              "uk": ["Період: 1 січня 2026 р. – 31 березня 2026 р.",
                     "Фільтри: Донор: Fondation Suisse", "Дані станом на 2 квіт. 2026 р.",
                     "demine 0.1.0"]}


@pytest.mark.parametrize("lang", LANGS)
def test_pdf_carries_the_headline_figures_and_the_period_on_every_page(lang, tmp_path):
    content, media_type, filename = render(sample_report(), format="pdf", lang=lang)
    assert media_type == "application/pdf" and content.startswith(b"%PDF-")
    assert filename == f"progress-2026-01-01-2026-03-31-{lang}.pdf"
    pages = [squash(page) for page in pdf_text(content, tmp_path, lang)]
    assert len(pages) >= 2
    whole = " ".join(pages)
    for expected in HEADLINES[lang]:
        assert expected in whole, expected
    for number, page in enumerate(pages, start=1):
        for expected in EVERY_PAGE[lang]:
            assert expected in page, (number, expected)
        assert f"{number}/{len(pages)}" in page.replace(" / ", "/")
    if lang == "uk":
        # translated table headers, vocabulary and the filled note
        for expected in ("Результат", "Площа (м²)", "скасовано", "очищено",
                         "Підтверджено", "(CHA)",  # wrapped in its cell
                         squash(NOTE_UK)):
            assert expected in whole, expected
        assert "Cancelled" not in whole and "Released this period" not in whole


def png_pixels(path: Path):
    from matplotlib.image import imread

    return imread(str(path))


@pytest.mark.parametrize("lang", LANGS)
def test_pdf_pages_rasterise_with_the_chart_and_the_imas_colours(lang, tmp_path):
    pdf = tmp_path / f"{lang}.pdf"
    pdf.write_bytes(render(sample_report(), format="pdf", lang=lang).content)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / lang)],
                   check=True, capture_output=True)
    pngs = sorted(tmp_path.glob(f"{lang}-*.png"))
    assert len(pngs) >= 2
    colours: set[tuple[int, int, int]] = set()
    for png in pngs:
        pixels = (png_pixels(png)[:, :, :3] * 255).round().astype(int)
        colours |= {tuple(p) for p in pixels.reshape(-1, 3)[::7]}

    def near(rgb: tuple[int, int, int], tolerance: int = 14) -> bool:
        return any(all(abs(a - b) <= tolerance for a, b in zip(c, rgb, strict=True))
                   for c in colours)

    assert near((0x2E, 0x7D, 0x32))  # cleared land (PRODUCT_FILL) in the chart and map
    assert near((0x4F, 0xA3, 0xE0))  # reduced
    assert near((255, 128, 128))  # CHA #FF0000 at 50 % over white
    assert near((250, 211, 140))  # SHA #F4A718 at 50 % over white


def test_pdf_fetches_nothing_from_the_network(tmp_path):
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        html = (f'<html><head><link rel="stylesheet" href="{base}/x.css"></head><body>'
                f'<p>Текст</p><img src="{base}/x.png"><img src="data:image/png;base64,'
                'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQ'
                'AAAABJRU5ErkJggg=="></body></html>')
        pdf = html_to_pdf(html)
    finally:
        server.shutdown()
    assert pdf.startswith(b"%PDF-")
    assert hits == []
    assert "Текст" in pdf_text(pdf, tmp_path, "offline")[0]


# --- HTML ----------------------------------------------------------------------------------

def test_html_is_self_contained_escaped_and_links_every_total():
    report = sample_report()
    html = render(report, format="html", lang="uk").content.decode("utf-8")
    assert '<html lang="uk">' in html
    # nothing to fetch: every picture inline, every link relative to the product
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert urls and not [u for u in urls if re.match(r"(?i)(https?:)?//", u)]
    assert html.count('src="data:image/png;base64,') == 2  # the chart and the map
    assert "http://" not in html and "https://" not in html
    # autoescaped record text
    assert "Field &lt;north&gt; &amp; school" in html and "<north>" not in html
    # every headline figure and every numeric cell links to its records
    for section in report.sections:
        for figure in section.figures:
            assert f'href="{figure.source.href.replace("&", "&amp;")}"' in html
    assert html.count('href="/api/v1/releases?product=cleared"') >= 3  # figure, 1st cell, total
    assert f'href="/api/v1/hazard-areas/{AREA}">UA-KH-000123</a>' in html
    assert 'href="/api/v1/hazard-areas?status=closed"' in html  # the table's source
    # the page states period, filters, as-of and version
    for expected in ("1 січня 2026 р. – 31 березня 2026 р.", "Донор: Fondation Suisse",
                     "2 квіт. 2026 р., 08:30:00 UTC", "demine 0.1.0"):
        assert expected in squash(html)


def test_html_links_get_the_base_url():
    html = render(sample_report(), format="html", lang="en",
                  base_url="https://demine.example.org/").content.decode("utf-8")
    links = re.findall(r'href="([^"]*)"', html)
    assert links and all(link.startswith("https://demine.example.org/api/v1/")
                         for link in links)


# --- XLSX, CSV, JSON -----------------------------------------------------------------------

def test_xlsx_has_an_about_sheet_and_numbers_as_numbers():
    from openpyxl import load_workbook

    content, media_type, filename = render(sample_report(), format="xlsx", lang="uk",
                                           base_url="https://demine.example.org")
    assert filename.endswith("-uk.xlsx") and "spreadsheetml" in media_type
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["About", "released_by_month", "released_by_product",
                               "completed_hazard_areas"]
    about = {row[0]: row[1:] for row in book["About"].iter_rows(values_only=True) if row[0]}
    assert about["Звіт"][0] == "Звіт про хід робіт"
    assert about["Період з"][0] == datetime(2026, 1, 1)
    assert about["Період до"][0] == datetime(2026, 3, 31)
    assert about["Фільтри"][0] == "Донор: Fondation Suisse"
    assert about["Дані станом на (UTC)"][0] == datetime(2026, 4, 2, 8, 30)
    assert about["Версія програми"][0] == "demine 0.1.0"
    assert about["Звільнено за період"][:2] == (185_595.75, "м²")
    assert about["Знищено предметів"][:3] == (
        1234, "од.", "https://demine.example.org/api/v1/device-finds?date_from=2026-01-01")
    sheet = book["released_by_product"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Результат", "Площа (м²)", "Звільнень за період", "Записи")
    assert rows[1][:3] == ("скасовано", 125_000, 12)
    assert rows[2][1] == 48_250.5 and isinstance(rows[2][1], float)
    assert sheet["B3"].number_format == "#,##0" and sheet["B3"].data_type == "n"
    assert sheet["D2"].hyperlink.target == (
        "https://demine.example.org/api/v1/releases?product=cancelled")
    months = book["released_by_month"]
    assert months["A2"].value == datetime(2026, 1, 1) and months["A2"].number_format == "yyyy-mm"
    assert months["D4"].value == 6_000.0
    areas = list(book["completed_hazard_areas"].iter_rows(values_only=True))
    assert areas[1][:5] == ("UA-KH-000123", "Field <north> & school",
                            "Підтверджено небезпечний район (CHA)", datetime(2026, 3, 14),
                            12_345.25)


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Cyrillic right
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_zip_holds_every_table_and_one_table_on_its_own():
    report = sample_report()
    content, media_type, filename = render(report, format="csv", lang="uk")
    assert media_type == "application/zip" and filename.endswith("-uk.zip")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.namelist() == ["about.csv", "released_by_month.csv",
                                      "released_by_product.csv", "completed_hazard_areas.csv"]
        about = read_csv(archive.read("about.csv"))
        product = read_csv(archive.read("released_by_product.csv"))
        months = read_csv(archive.read("released_by_month.csv"))
    assert ["Період з", "2026-01-01"] in about
    assert ["Дані станом на (UTC)", "2026-04-02T08:30:00+00:00"] in about
    assert product[0] == ["Результат", "Площа (м²)", "Звільнень за період", "Записи"]
    assert product[1] == ["скасовано", "125000.0", "12", "/api/v1/releases?product=cancelled"]
    assert float(product[2][1]) == 48_250.5
    assert months[1][0] == "2026-01-01" and float(months[3][3]) == 6_000.0

    one, media_type, filename = render(report, format="csv", lang="en",
                                       table="released_by_product")
    assert media_type == "text/csv; charset=utf-8"
    assert filename == "progress-2026-01-01-2026-03-31-released_by_product-en.csv"
    assert read_csv(one)[0] == ["Product", "Area (m²)", "Releases this period", "Records"]
    assert read_csv(one)[3][0] == "Cleared"
    with pytest.raises(InvalidInput, match="no table 'nope'"):
        render(report, format="csv", lang="en", table="nope")
    with pytest.raises(InvalidInput):
        render(report, format="docx", lang="en")  # type: ignore[arg-type]


def test_json_keeps_msgids_and_adds_translations():
    content, media_type, _ = render(sample_report(), format="json", lang="uk")
    assert media_type == "application/json"
    body = json.loads(content)
    assert body["lang"] == "uk" and body["kind"] == "progress"
    assert body["title"] == "Progress report" and body["title_t"] == "Звіт про хід робіт"
    assert body["filters"]["donor_id"] == str(DONOR)
    assert body["filters"]["date_from"] == "2026-01-01"
    assert body["as_of"] == "2026-04-02T08:30:00+00:00"
    assert squash(body["period_t"]) == "1 січня 2026 р. – 31 березня 2026 р."
    released = body["sections"][0]
    figure = released["figures"][0]
    assert figure["label_t"] == "Звільнено за період" and figure["unit_t"] == "м²"
    assert figure["value"] == 185_595.75
    table = released["tables"][1]
    assert table["columns"][0]["label_t"] == "Результат"
    assert table["rows"][0]["product"] == "cancelled"
    assert table["rows"][0]["product_t"] == "скасовано"
    assert table["rows"][0]["_source"]["href"] == "/api/v1/releases?product=cancelled"
    completed = body["sections"][1]
    assert [squash(note) for note in completed["notes_t"]] == [squash(NOTE_UK)]
    assert "2 000" in squash(NOTE_UK) and "{" not in NOTE_UK
    assert completed["tables"][0]["note_t"].startswith("Ділянка вважається завершеною")
    assert released["maps"][0]["layers"][0]["features"][0]["properties"]["classification"] == "CHA"


def test_decimal_and_uuid_values_encode():
    report = sample_report()
    section = report.sections[0]
    figures = [*section.figures, Figure(key="cost", label="Cost per m²", unit="USD/m²",
                                        value=Decimal("1.25"), source=Source(query="q"))]
    sections = [Section(key=section.key, title=section.title, figures=figures)]
    odd = Report(kind=report.kind, title=report.title, programme=report.programme,
                 filters=report.filters, as_of=report.as_of, version=report.version,
                 sections=sections, empty=False)
    body = json.loads(render(odd, format="json", lang="en").content)
    assert body["sections"][0]["figures"][-1]["value"] == 1.25
    html = render(odd, format="html", lang="uk").content.decode()
    assert '1,25</span> <span class="unit">дол. США/м²</span>' in html


# --- an empty period -------------------------------------------------------------------------

EMPTY_SAYS = {"en": "Nothing was recorded in this period with these filters",
              "uk": "За цей період із цими фільтрами нічого не зареєстровано"}


@pytest.mark.parametrize("lang", LANGS)
def test_an_empty_period_renders_in_every_format_and_says_so(lang, tmp_path):
    report = sample_report(empty=True)
    for fmt in FORMATS:
        content, _, _ = render(report, format=fmt, lang=lang)  # type: ignore[arg-type]
        assert content
    html = render(report, format="html", lang=lang).content.decode()
    assert 'id="empty"' in html and EMPTY_SAYS[lang] in html
    assert "data:image/png" not in html  # no chart or map of nothing
    text = squash(" ".join(pdf_text(render(report, format="pdf", lang=lang).content,
                                    tmp_path, "empty")))
    assert EMPTY_SAYS[lang] in text
    no_records = {"en": "No records in this period.", "uk": "За цей період записів немає."}
    assert no_records[lang] in text
    assert {"en": "0 m²", "uk": "0 м²"}[lang] in text


# --- the command line ----------------------------------------------------------------------

def demine(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    """The installed `demine` console script (api/cli.py registers `report`)."""
    command = shutil.which("demine", path=str(ROOT / ".venv" / "bin")) or "demine"
    return subprocess.run([command, *args], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "DEMINE_DATABASE_URL": database_url,
                               "HOME": str(ROOT)}, check=False)


def test_cli_renders_a_progress_report_from_the_ledger(api_database_url, tmp_path):
    import psycopg

    with psycopg.connect(api_database_url) as conn:
        (total,) = conn.execute("SELECT sum(area_m2) FROM release").fetchone()
    assert total and total > 0
    out = tmp_path / "progress-uk.pdf"
    done = demine("report", "progress", str(out), "--lang", "uk", "--format", "pdf",
                  database_url=api_database_url)
    assert done.returncode == 0, done.stderr
    assert "progress report written" in done.stdout
    text = squash(" ".join(pdf_text(out.read_bytes(), tmp_path, "cli")))
    uk = translator("uk")
    assert "Звіт про хід робіт" in text
    assert "Період: усі дати" in text
    # the headline figure is the ledger's own total, in Ukrainian number format
    assert squash(uk.quantity(total, "m²")) in text
    assert "Звільнено за період" in text

    csv_out = tmp_path / "progress.zip"
    done = demine("report", "progress", str(csv_out), "--format", "csv", "--lang", "en",
                  database_url=api_database_url)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(csv_out) as archive:
        names = archive.namelist()
        assert names[0] == "about.csv" and len(names) > 3
        about = read_csv(archive.read("about.csv"))
    figures = {(row[0], row[2]): row[1] for row in about if len(row) > 2}
    assert float(figures[("Released this period", "m²")]) == pytest.approx(float(total),
                                                                          abs=0.01)
    assert float(figures[("Released this period", "km²")]) == pytest.approx(
        float(total) / 1e6, rel=1e-9)


def test_cli_says_when_a_period_is_empty(api_database_url, tmp_path):
    out = tmp_path / "empty.html"
    done = demine("report", "progress", str(out), "--from", "2001-01-01", "--to",
                  "2001-01-31", "--format", "html", "--lang", "en",
                  database_url=api_database_url)
    assert done.returncode == 0, done.stderr
    assert "nothing recorded in the period" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert 'id="empty"' in html and EMPTY_SAYS["en"] in html
    assert "January 1, 2001 – January 31, 2001" in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # nothing from outside

    bad = demine("report", "progress", str(out), "--from", "2001-02-01", "--to", "2001-01-01",
                 database_url=api_database_url)
    assert bad.returncode == 2 and "date_to is before date_from" in bad.stderr


@pytest.mark.parametrize(("kind", "fmt"), [("national", "xlsx"), ("national", "html"),
                                           ("forecast", "json")])
def test_cli_renders_the_national_and_forecast_reports(api_database_url, tmp_path, kind, fmt):
    out = tmp_path / f"{kind}.{fmt}"
    done = demine("report", kind, str(out), "--format", fmt, "--lang", "uk",
                  database_url=api_database_url)
    assert done.returncode == 0, done.stderr
    if fmt == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(out)
        assert book.sheetnames[0] == "About" and len(book.sheetnames) > 2
        about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True) if row[0]}
        assert about["Звіт"] == "Звіт про стан протимінної діяльності в країні"
    elif fmt == "html":
        html = out.read_text(encoding="utf-8")
        assert "Звіт про стан протимінної діяльності в країні" in html
        assert "data:image/png;base64," in html  # the yearly chart
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    else:
        body = json.loads(out.read_bytes())
        assert body["kind"] == "forecast" and body["title_t"] == "Прогноз завершення"


@pytest.mark.browser
def test_html_report_opens_in_a_browser_without_the_network(browser, tmp_path):
    page_file = tmp_path / "report.html"
    page_file.write_bytes(render(sample_report(), format="html", lang="uk").content)
    page = browser.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        page.goto(page_file.as_uri())
        assert [url for url in fetched if not url.startswith(("file:", "data:"))] == []
        # the running header and footer are for print only; the figures show on screen
        assert not page.locator(".runhead").is_visible()
        figure = page.locator("#figure-released_total .value")
        assert squash(figure.inner_text()) == "185 596 м²"
        assert figure.locator("a").get_attribute("href").startswith("/api/v1/releases?")
        widths = page.evaluate("[...document.images].map(i => i.naturalWidth)")
        assert len(widths) == 2 and min(widths) > 500  # the chart and the map decoded
    finally:
        page.close()
