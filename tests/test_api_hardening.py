"""The API under hostile input and failing infrastructure: oversized bodies, a database
that restarts or stops, an exhausted pool, framing and CDN-free docs. Real HTTP, a real
PostgreSQL cluster that the test stops and starts."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict

from api.settings import ApiSettings
from survey.config import Settings
from survey.store import db, migrate
from tests.conftest import serving

MB = 2**20


def _rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) / 1024


def _chunks(total: int, size: int = MB) -> Iterator[bytes]:
    chunk = b"[" + b"0," * (size // 2 - 1) + b"0"
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


def _post_big(base: str, path: str, total: int, *, declared: bool,
              content_type: str = "application/json") -> httpx.Response | None:
    """Post `total` bytes, with or without a Content-Length; None if the server cut the
    connection before the client could read its answer."""
    headers = {"Content-Type": content_type}
    body: Any = _chunks(total)
    if declared:
        headers["Content-Length"] = str(sum(len(c) for c in _chunks(total)))
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            return client.post(path, content=body, headers=headers)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None


def test_oversized_bodies_are_refused_before_they_are_read(live_server: str) -> None:
    before = _rss_mib()
    answers = [_post_big(live_server, "/api/v1/releases", 50 * MB, declared=True)
               for _ in range(10)]
    grown = _rss_mib() - before
    # the server answers 413 from the Content-Length alone; it never holds the bodies
    assert grown < 60, f"the server grew by {grown:.0f} MiB for ten refused bodies"
    read = [a for a in answers if a is not None]
    assert read, "no 413 answer could be read"
    for answer in read:
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"
        assert "larger than this server accepts" in answer.json()["detail"]


def test_chunked_body_is_cut_off_at_the_limit(live_server: str,
                                              coordinator: dict[str, str]) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        answer = client.post("/api/v1/releases", content=_chunks(40 * MB),
                             headers={**coordinator, "Content-Type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_sign_in_form_has_a_small_limit(http: httpx.Client) -> None:
    answer = http.post("/api/v1/auth/token", data={"username": "x" * (100 * 1024),
                                                   "password": "y"})
    assert answer.status_code == 413
    assert answer.json()["limit_bytes"] == ApiSettings().max_form_bytes


def test_wrong_method_says_what_is_allowed(http: httpx.Client,
                                           coordinator: dict[str, str]) -> None:
    answer = http.delete("/api/v1/hazard-areas", headers=coordinator)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.headers["content-type"] == "application/problem+json"
    assert "GET" in answer.json()["detail"]


def test_unknown_path_is_problem_json(http: httpx.Client) -> None:
    answer = http.get("/api/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_unexpected_errors_are_problem_json(api_database_url: str) -> None:
    from api.app import create_app

    app = create_app(Settings(database_url=api_database_url, pool_max_size=2))

    def explode() -> None:
        raise RuntimeError("a bug that nobody foresaw")

    app.add_api_route("/boom", explode)
    with serving(app) as base, httpx.Client(base_url=base) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "nobody foresaw" not in answer.text  # the detail stays in the log


def test_security_headers(http: httpx.Client) -> None:
    page = http.get("/login")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in page.headers  # plain HTTP: no HSTS
    api = http.get("/api/v1/hazard-areas")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_health_names_no_database(http: httpx.Client, api_database_url: str) -> None:
    body = http.get("/health").json()
    assert body["status"] == "ok"
    assert "database" not in body
    assert conninfo_to_dict(api_database_url)["dbname"] not in http.get("/health").text


def test_docs_work_offline(http: httpx.Client) -> None:
    page = http.get("/docs").text
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert scripts, page
    for url in scripts:
        assert url.startswith("/"), f"/docs loads {url} from elsewhere"
        assert http.get(url).status_code == 200, url
    assert http.get("/redoc").status_code == 404  # it would load from a CDN


@pytest.mark.browser
def test_docs_render_in_chromium_without_network(live_server: str, browser: Any,
                                                 http: httpx.Client) -> None:
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live_server) or r.url.startswith(
        "data:") else outside.append(r.url))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20000)
    assert "demine" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".btn.authorize").count() == 1
    # every tag group is shown, described, with all of its operations
    document = http.get("/openapi.json").json()
    tags = [tag["name"] for tag in document["tags"]]
    page.wait_for_selector("h3.opblock-tag", timeout=20000)
    shown = [page.locator("h3.opblock-tag").nth(i).get_attribute("data-tag")
             for i in range(page.locator("h3.opblock-tag").count())]
    assert sorted(shown) == sorted(tags)
    for tag in document["tags"]:
        group = page.locator(f'h3.opblock-tag[data-tag="{tag["name"]}"]')
        assert tag["description"].split("(")[0].strip() in group.inner_text(), tag["name"]
    operations = sum(1 for item in document["paths"].values() for method in item
                     if method in ("get", "put", "post", "patch", "delete"))
    assert page.locator(".opblock").count() == operations
    assert outside == []
    assert errors == []
    page.close()


@pytest.mark.browser
def test_a_coordinator_signs_in_and_tries_an_operation_in_docs(live_server: str,
                                                               browser: Any) -> None:
    """The field coordinator's path: Authorize with username and password, open an
    operation, Try it out, Execute, read the answer."""
    from survey.demo import DEMO_PASSWORD

    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/docs")
    page.click(".btn.authorize", timeout=20000)
    password_flow = page.locator(".auth-container").filter(has_text="passwordFlow")
    password_flow.locator("#oauth_username").fill("coordinator")
    password_flow.locator("#oauth_password").fill(DEMO_PASSWORD)
    password_flow.locator("button.authorize").click()
    password_flow.locator("h6", has_text="Authorized").wait_for(timeout=20000)
    password_flow.locator("button.btn-done").click()
    stats = page.locator("#operations-land_release_ledger-read_stats_api_v1_stats_get")
    stats.locator(".opblock-summary").click()
    # the documented example answer is shown before anything is sent
    assert '"released"' in stats.locator(".example, .microlight").first.inner_text()
    stats.locator(".try-out__btn").click()
    stats.locator(".execute").click()
    status = stats.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=20000)
    assert status.inner_text().strip() == "200"
    assert '"released"' in stats.locator(".live-responses-table .microlight").first.inner_text()
    assert errors == []
    page.close()


def test_openapi_describes_security_and_problems(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                     "description": "A token from POST /api/v1/auth/token"}
    public = {("/health", "get"), ("/api/v1/auth/token", "post")}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "503" in responses, (path, method)
            if (path, method) in public:
                continue
            assert operation.get("security"), (path, method)
            assert {"401", "403"} <= set(responses), (path, method)
            assert "application/problem+json" in responses["503"]["content"]
    resurvey = document["paths"]["/api/v1/hazard-areas/{hazard_area_id}/resurvey"]["post"]
    assert {"404", "409", "412", "413", "422", "428"} <= set(resurvey["responses"])


# --- the database goes away and comes back ---

@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[Path, str]]:
    """A private PostgreSQL cluster this module may stop and start; yields (dir, db url)."""
    directory = Path(tempfile.mkdtemp(prefix="demine-restart-", dir="/tmp"))
    os.chmod(directory, 0o755)  # the postgres user (when run as root) must reach it
    try:
        server = db.start_private_cluster(directory)
        url = db.create_database(server, "demine_restart")
        migrate.upgrade(url)
        yield directory, url
    finally:
        db.stop_private_cluster(directory)
        shutil.rmtree(directory, ignore_errors=True)


def _statuses(base: str, n: int, *, workers: int = 4) -> list[int]:
    def one(_: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            return client.get("/api/v1/hazard-areas",
                              headers={"Authorization": "Bearer not-a-token"}).status_code

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def test_database_restart_and_outage_give_503_never_500(own_cluster: tuple[Path, str]) -> None:
    from api.app import create_app

    directory, url = own_cluster
    app = create_app(Settings(database_url=url, pool_min_size=4, pool_max_size=4,
                              pool_timeout_s=3.0))
    with serving(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert set(_statuses(base, 12)) == {401}  # every pooled connection was used

        # a restart: each pooled connection is now dead, and none may surface as a 500
        db.stop_private_cluster(directory)
        db.start_private_cluster(directory)
        after_restart = _statuses(base, 16)
        assert set(after_restart) == {401}, after_restart

        # a restart under load: answers are 401 or 503, never 500
        with ThreadPoolExecutor(1) as background:
            load = background.submit(_statuses, base, 60, workers=4)
            db.stop_private_cluster(directory)
            db.start_private_cluster(directory)
            during = load.result()
        assert set(during) <= {401, 503}, during

        # stopped: 503 with Retry-After, quickly, and /health says why
        db.stop_private_cluster(directory)
        started = time.monotonic()
        down = client.get("/api/v1/hazard-areas", headers={"Authorization": "Bearer x"})
        assert time.monotonic() - started < 10
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"]
        assert down.headers["content-type"] == "application/problem+json"
        health = client.get("/health")
        assert health.status_code == 503
        assert health.headers["retry-after"]
        assert "does not answer" in health.json()["reason"] or "failed" in \
            health.json()["reason"]

        # back again: the same app recovers by itself
        db.start_private_cluster(directory)
        deadline = time.monotonic() + 30
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "the app did not recover"
            time.sleep(0.2)
        assert set(_statuses(base, 8)) == {401}


def test_exhausted_pool_answers_503_quickly(api_database_url: str) -> None:
    from api.app import create_app

    app = create_app(Settings(database_url=api_database_url, pool_min_size=2,
                              pool_max_size=2, pool_timeout_s=0.5))
    with serving(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        held = [app.state.pool.getconn() for _ in range(2)]  # two slow clients
        try:
            started = time.monotonic()
            answer = client.get("/api/v1/hazard-areas", headers={"Authorization": "Bearer x"})
            elapsed = time.monotonic() - started
            assert answer.status_code == 503
            assert answer.headers["retry-after"]
            assert elapsed < 3, f"took {elapsed:.1f} s"
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["reason"] == "every database connection is busy"
        finally:
            for conn in held:
                app.state.pool.putconn(conn)
        assert client.get("/api/v1/hazard-areas",
                          headers={"Authorization": "Bearer x"}).status_code == 401


def test_tokens_in_urls_stay_out_of_the_access_log(api_database_url: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from api.app import create_app

    create_app(Settings(database_url=api_database_url))
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # the arguments uvicorn's access log passes
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    "/ogc/collections/hazard-areas/items?f=json&token=s3cret-Value&limit=5",
                    "1.1", 200)
    logged = caplog.records[-1].getMessage()
    assert "s3cret" not in logged
    assert "token=[redacted]&limit=5" in logged
