"""Every figure traceable to its records (issues 8 and 10): each link a report emits is a
route that declares every query parameter in it (FastAPI ignores undeclared ones, so a
link could answer 200 without filtering), answers 200 to a coordinator, returns only
records matching its filters, and for released land and device finds the records of all
its pages add up to the figure that links to them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import httpx
import psycopg
import pytest

from tests.conftest import sign_in

PERIOD = {"date_from": "2025-01-01", "date_to": "2025-12-31"}
PAGE = "200"  # small pages, so that the sums run over several pages


def hrefs(node: Any) -> Iterator[str]:
    """Every API link in a report's JSON: sources' `href`, rows' `_href` and `*_href`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "href" or key.endswith("_href")) and isinstance(value, str):
                yield value
            else:
                yield from hrefs(value)
    elif isinstance(node, list):
        for item in node:
            yield from hrefs(item)


def get_report(http: httpx.Client, headers: dict[str, str], kind: str,
               **params: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/reports/{kind}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def records(http: httpx.Client, headers: dict[str, str], href: str) -> list[dict[str, Any]]:
    """The records of every page of a listing, following `next` links."""
    url: str | None = href + ("&" if "?" in href else "?") + f"limit={PAGE}"
    found: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        response = http.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        found += body.get("features", body.get("items", []))
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
        assert pages < 1000
    return found


def props(record: dict[str, Any]) -> dict[str, Any]:
    return dict(record.get("properties", record))


@pytest.fixture(scope="module")
def filters(api_database_url: str) -> list[dict[str, str]]:
    """Report filters that each select part of the demo: an organisation, a project, a
    donor, an admin area and a hazard area that all have releases in the period."""
    with psycopg.connect(api_database_url) as conn:
        out = []
        for column in ("organisation_id", "project_id", "donor_id", "admin_area_id",
                       "hazard_area_id"):
            row = conn.execute(
                f"SELECT {column}, count(*) FROM release WHERE {column} IS NOT NULL "  # noqa: S608
                "AND release_date BETWEEN %(date_from)s AND %(date_to)s "
                "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1", PERIOD).fetchone()
            assert row is not None, f"the demo changed: no release has a {column}"
            total = conn.execute("SELECT count(*) FROM release WHERE release_date "
                                 "BETWEEN %(date_from)s AND %(date_to)s", PERIOD).fetchone()
            assert total is not None and row[1] < total[0], f"{column} selects everything"
            out.append(PERIOD | {column: str(row[0])})
    return out


@pytest.fixture(scope="module")
def budgets(api_database_url: str) -> Iterator[None]:
    """Budgets on the demo's projects (it records none) while the reports are built, so
    that they link to projects (the cost table); put back afterwards."""
    with psycopg.connect(api_database_url) as conn:
        changed = [row[0] for row in conn.execute(
            "UPDATE project SET budget_usd = 250000 WHERE budget_usd IS NULL RETURNING id")]
    yield
    with psycopg.connect(api_database_url) as conn:
        conn.execute("UPDATE project SET budget_usd = NULL WHERE id = ANY(%s)", (changed,))


@pytest.fixture(scope="module")
def reports(http: httpx.Client, coordinator: dict[str, str], filters: list[dict[str, str]],
            budgets: None) -> list[dict[str, Any]]:
    built = [get_report(http, coordinator, "progress", **PERIOD),
             get_report(http, coordinator, "national", **PERIOD),
             get_report(http, coordinator, "forecast", **PERIOD),
             get_report(http, coordinator, "progress", date_to="2025-06-30")]
    built += [get_report(http, coordinator, "progress", **f) for f in filters]
    built += [get_report(http, coordinator, "national", **f) for f in filters[:2]]
    return built


@pytest.fixture(scope="module")
def openapi(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def route_of(openapi: dict[str, Any], path: str) -> dict[str, Any]:
    """The GET operation of the documented path template matching `path`."""
    for template, operations in openapi["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if "get" in operations and re.match(pattern, path):
            return dict(operations["get"])
    raise AssertionError(f"no GET route for {path}")


def test_every_link_names_only_parameters_its_route_declares(
        reports: list[dict[str, Any]], openapi: dict[str, Any]) -> None:
    links = {href for report in reports for href in hrefs(report)}
    kinds = {urlsplit(href).path.split("/")[3] for href in links}
    assert {"releases", "device-finds", "tasks", "activity-reports", "projects",
            "hazard-areas"} <= kinds
    for href in links:
        parts = urlsplit(href)
        assert parts.path.startswith("/api/v1/"), href
        operation = route_of(openapi, parts.path)
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        sent = {key for key, _ in parse_qsl(parts.query)}
        assert sent <= declared, f"{href}: {sorted(sent - declared)} would be ignored"


# how a query parameter shows in the records a listing returns (property, comparison)
DATES = {"releases": "release_date", "device-finds": "found_date",
         "activity-reports": "report_date"}


def check_record(kind: str, record: dict[str, Any], query: dict[str, str]) -> None:
    values = props(record)
    for key, wanted in query.items():
        if key in ("date_from", "date_to") and kind in DATES:
            day = date.fromisoformat(values[DATES[kind]])
            assert (day >= date.fromisoformat(wanted) if key == "date_from"
                    else day <= date.fromisoformat(wanted)), (kind, key, wanted, values)
        elif key == "status" and kind == "hazard-areas":
            assert values["status"] in wanted.split(","), (wanted, values)
        elif (kind, key) in (("hazard-areas", "hazard_area_id"), ("projects", "project_id")):
            assert str(record["id"]) == wanted
        elif key == "organisation_id" and kind == "hazard-areas":
            assert values["reporting_organisation_id"] == wanted
        elif key in values and key not in ("date_from", "date_to"):
            assert str(values[key]) == wanted, (kind, key, wanted, values)


def test_every_link_answers_and_filters(http: httpx.Client, coordinator: dict[str, str],
                                        reports: list[dict[str, Any]]) -> None:
    links = sorted({href for report in reports for href in hrefs(report)})
    checked = 0
    for href in links:
        parts = urlsplit(href)
        kind = parts.path.split("/")[3]
        response = http.get(href, headers=coordinator)
        assert response.status_code == 200, (href, response.text)
        body = response.json()
        if "links" not in body:  # one record
            assert str(body["id"]) == parts.path.rsplit("/", 1)[1], href
            continue
        query = dict(parse_qsl(parts.query))
        for record in body.get("features", body.get("items", [])):
            check_record(kind, record, query)
            checked += 1
    assert checked > 100


def section(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in report["sections"] if s["key"] == key)


def figure(report: dict[str, Any], section_key: str, key: str) -> dict[str, Any]:
    return next(f for f in section(report, section_key)["figures"] if f["key"] == key)


def table(report: dict[str, Any], section_key: str, key: str) -> list[dict[str, Any]]:
    return list(next(t for t in section(report, section_key)["tables"]
                     if t["key"] == key)["rows"])


def area_of(http: httpx.Client, headers: dict[str, str], href: str) -> tuple[float, int]:
    found = records(http, headers, href)
    assert len({r["id"] for r in found}) == len(found), "a release on two pages"
    return sum(props(r)["area_m2"] for r in found), len(found)


def test_released_land_adds_up_over_its_linked_releases(
        http: httpx.Client, coordinator: dict[str, str],
        reports: list[dict[str, Any]]) -> None:
    sums = 0
    for report in reports:
        if report["kind"] == "progress":
            for key in ("released_period_m2", "released_cumulative_m2"):
                fig = figure(report, "released", key)
                area, count = area_of(http, coordinator, fig["source"]["href"])
                assert area == pytest.approx(fig["value"], abs=0.01), (key, fig)
                if key == "released_period_m2":
                    assert count == figure(report, "released", "releases_period")["value"]
                sums += 1
            for name in ("released_by_product", "released_by_method"):
                for row in table(report, "released", name):
                    area, count = area_of(http, coordinator, row["_href"])
                    assert area == pytest.approx(row["period_m2"], abs=0.01), row
                    assert count == row["period_releases"], row
                    sums += 1
        elif report["kind"] == "national":
            fig = figure(report, "released_by_year", "released_total_m2")
            area, _ = area_of(http, coordinator, fig["source"]["href"])
            assert area == pytest.approx(fig["value"], abs=0.01)
            for row in table(report, "released_by_year", "released_by_year"):
                area, _ = area_of(http, coordinator, row["_href"])
                assert area == pytest.approx(row["total"], abs=0.01), row
                sums += 1
    assert sums > 30


def quantity_of(http: httpx.Client, headers: dict[str, str], href: str) -> int:
    return sum(int(props(r)["quantity"]) for r in records(http, headers, href))


def test_device_finds_add_up_over_their_linked_finds(
        http: httpx.Client, coordinator: dict[str, str],
        reports: list[dict[str, Any]]) -> None:
    nonzero = 0
    for report in (r for r in reports if r["kind"] == "progress"):
        fig = figure(report, "devices", "devices_found")
        assert quantity_of(http, coordinator, fig["source"]["href"]) == fig["value"], fig
        nonzero += fig["value"] > 0
        for name in ("devices_by_category", "devices_by_model"):
            for row in table(report, "devices", name):
                assert quantity_of(http, coordinator, row["_href"]) == row["found"], row
    assert nonzero >= 3


def test_a_release_reads_back_with_an_etag(http: httpx.Client, coordinator: dict[str, str],
                                           api_database_url: str) -> None:
    with psycopg.connect(api_database_url) as conn:
        row = conn.execute("SELECT id, area_m2, hazard_area_id FROM release "
                           "ORDER BY id LIMIT 1").fetchone()
    assert row is not None
    release_id, area, hazard = row
    response = http.get(f"/api/v1/releases/{release_id}", headers=coordinator)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    body = response.json()
    assert UUID(body["id"]) == release_id and body["geometry"]["type"] == "MultiPolygon"
    assert body["properties"]["area_m2"] == pytest.approx(area)
    assert UUID(body["properties"]["hazard_area_id"]) == hazard
    again = http.get(f"/api/v1/releases/{release_id}", headers=coordinator)
    assert again.headers["ETag"] == etag
    assert http.get(f"/api/v1/releases/{UUID(int=1)}",
                    headers=coordinator).status_code == 404
    assert http.get(f"/api/v1/releases/{release_id}").status_code == 401


def test_the_release_listing_pages_without_repeats_and_sorts(
        http: httpx.Client, coordinator: dict[str, str], api_database_url: str) -> None:
    with psycopg.connect(api_database_url) as conn:
        row = conn.execute("SELECT count(*) FROM release").fetchone()
    assert row is not None
    found = records(http, coordinator, "/api/v1/releases?sort=-area_m2")
    assert len(found) == len({r["id"] for r in found}) == row[0]
    areas = [props(r)["area_m2"] for r in found]
    assert areas == sorted(areas, reverse=True)
    for bad in ("sort=colour", "cursor=nonsense", "product=molten", "bbox=1,2,3",
                "date_from=2025-02-01&date_to=2025-01-01"):
        response = http.get(f"/api/v1/releases?{bad}", headers=coordinator)
        assert response.status_code == 422, (bad, response.text)


def test_a_donor_lists_its_own_projects_releases_and_its_report_adds_up(
        http: httpx.Client, api_database_url: str) -> None:
    donor = sign_in(http, "donor.eu")
    with psycopg.connect(api_database_url) as conn:
        own = conn.execute("SELECT donor_id FROM app_user WHERE username = 'donor.eu'"
                           ).fetchone()
        assert own is not None
        mine = {row[0] for row in conn.execute(
            "SELECT r.id FROM release r JOIN activity_report a ON a.id = r.activity_report_id "
            "JOIN task t ON t.id = a.task_id JOIN project p ON p.id = t.project_id "
            "WHERE p.donor_id = %s", (own[0],))}
        other = conn.execute("SELECT id FROM release WHERE NOT id = ANY(%s) LIMIT 1",
                             (list(mine),)).fetchone()
    assert mine and other is not None
    found = records(http, donor, "/api/v1/releases")
    assert {UUID(r["id"]) for r in found} == mine
    assert http.get(f"/api/v1/releases/{other[0]}", headers=donor).status_code == 404
    report = get_report(http, donor, "progress", **PERIOD)
    fig = figure(report, "released", "released_period_m2")
    assert fig["source"]["href"].count(f"donor_id={own[0]}") == 1
    area, _ = area_of(http, donor, fig["source"]["href"])
    assert fig["value"] > 0 and area == pytest.approx(fig["value"], abs=0.01)
