"""Hazard areas in a district box under load, against tipg on the same table (issue 8).

`GET /api/v1/hazard-areas?bbox=...&limit=N` and `GET /ogc/collections/hazard-areas/items
?bbox=...&limit=N` of `demine serve`, and tipg 1.6.1's
`/collections/public.hazard_area/items?bbox=...&limit=N`, each loaded by `wrk` with 8
concurrent connections, one after the other in one run against the national store of
benchmarks/national.py (100,000 star polygons of 53-398 vertices; the 0.25 degree box
matches 3,969 areas). Both servers run as many worker processes as the machine has
cores; tipg runs with TIPG_CATALOG_TTL=0, as the outside testers ran it.

Goal: at least 1.5 times tipg's requests per second at limit 50 and at limit 500, with
a p99 latency no worse than tipg's.

    python -m benchmarks.api_tipg [--before DIR] [--seconds S]

`--before DIR` adds the same two requests served by another checkout of demine (for
instance `git archive <commit> | tar -x -C DIR`), run as that version runs it.
tipg is looked for in $TIPG_VENV (default /work/tipg-venv); wrk is the Debian package.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from benchmarks import national
from benchmarks.common import write_section

CLIENTS = 8
LIMITS = (50, 500)
BOX = ",".join(str(v) for v in national.DENSE_BOX)
TIPG_VENV = Path(os.environ.get("TIPG_VENV", "/work/tipg-venv"))
TIPG_COLLECTION = "public.hazard_area"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Load:
    """What wrk measured for one URL."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def cells(self) -> str:
        return f"{self.rps:.1f} | {self.p50_ms:.0f} | {self.p99_ms:.0f}"


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _wrk(url: str, seconds: int, token: str | None) -> str:
    """What `wrk` with CLIENTS connections over two threads for `seconds` prints."""
    command = ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    return subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout


def wrk(url: str, seconds: int, token: str | None = None) -> Load:
    """Requests per second and latency percentiles of `url` under load."""
    out = _wrk(url, seconds, token)
    if "Latency Distribution" not in out:
        raise RuntimeError(f"wrk measured nothing at {url}:\n{out}")
    percentile = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: .*timeout (\d+)", out)
    return Load(rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
                p50_ms=_ms(percentile["50"]), p99_ms=_ms(percentile["99"]),
                requests=requests,
                errors=(int(bad.group(1)) if bad else 0) + (int(failed.group(1)) if failed else 0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(command: list[str], *, env: dict[str, str], ready: str,
            cwd: Path | None = None) -> Iterator[None]:
    """A server process (and its workers) from start until `ready` answers 200, then
    stopped: its own process group, ended by id."""
    log = open(f"/tmp/bench-{Path(command[-1]).name}-{os.getpid()}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(command, env=os.environ | env, cwd=cwd, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(ready, timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start: see {log.name}")
            time.sleep(0.5)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def demine(url: str, port: int, workers: int,
           checkout: Path | None = None) -> AbstractContextManager[None]:
    """The app of `demine serve` (api.app:app_from_env) in `workers` processes, as serve
    runs it, but without its migration step (the national store may lag behind a
    migration that is being written); or the app of another checkout in one process, as
    that version served it."""
    env = {"DEMINE_DATABASE_URL": url}
    if checkout is None:
        command = [sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory",
                   "--workers", str(workers)]
    else:
        env["PYTHONPATH"] = str(checkout)
        command = [sys.executable, "-c", "import uvicorn; from api.app import create_app; "
                   "from survey.config import Settings; uvicorn.run(create_app(Settings()), "
                   "host='127.0.0.1', port=int(__import__('sys').argv[1]), "
                   "log_level='warning')", str(port)]
    command += [] if checkout else ["--host", "127.0.0.1", "--port", str(port),
                                    "--log-level", "warning"]
    return _server(command, env=env, ready=f"http://127.0.0.1:{port}/health",
                   cwd=checkout)


def tipg(url: str, port: int, workers: int, ttl: int = 0) -> AbstractContextManager[None]:
    """tipg on the same database; `ttl` 0 (as the testers ran it) re-reads the catalogue
    of tables on every request, tipg's default keeps it 300 s."""
    env = {"DATABASE_URL": url, "TIPG_CATALOG_TTL": str(ttl)}
    command = [str(TIPG_VENV / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return _server(command, env=env, ready=f"http://127.0.0.1:{port}/collections")


def _token(base: str) -> str:
    answer = httpx.post(f"{base}/api/v1/auth/token", timeout=60,
                        data={"username": "coordinator", "password": national.PASSWORD})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _check(url: str, token: str | None, limit: int) -> int:
    """One request before the load: 200, `limit` features; the page's size in bytes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(url, headers=headers, timeout=120)
    answer.raise_for_status()
    body = answer.json()
    assert len(body["features"]) == limit, (url, len(body["features"]))
    assert body["numberMatched"] == 3969, (url, body["numberMatched"])
    return len(answer.content)


def _url_of_libpq(url: str) -> str:
    """A postgresql:// URL for tipg (asyncpg reads no key=value strings)."""
    if url.startswith("postgresql://"):
        return url
    parts = dict(item.split("=", 1) for item in url.split())
    return (f"postgresql://{parts.get('user', 'postgres')}@{parts.get('host', '127.0.0.1')}:"
            f"{parts.get('port', '5432')}/{parts['dbname']}")


def _combined(rounds: list[Load]) -> Load:
    """Rounds of one URL as one figure: requests per second and p50 averaged, the worst
    p99."""
    return Load(rps=sum(r.rps for r in rounds) / len(rounds),
                p50_ms=sum(r.p50_ms for r in rounds) / len(rounds),
                p99_ms=max(r.p99_ms for r in rounds),
                requests=sum(r.requests for r in rounds), errors=sum(r.errors for r in rounds))


def _settle(url: str, timeout: float = 180) -> None:
    """Wait until no query of the run before is still running in the database: a server
    whose clients timed out goes on with their requests after wrk stops, and the next
    URL would be measured against them."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND pid <> pg_backend_pid() "
                               "AND state = 'active'").fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.5)


def run(before: Path | None = None, seconds: int = 20, rounds: int = 2) -> dict[str, str]:
    """All servers up at once; each round loads every URL in turn (limit 50, then 500),
    so that the load other work puts on a shared machine falls on all of them alike."""
    url = _url_of_libpq(national.ensure())
    workers = os.cpu_count() or 1
    started = os.getloadavg()[0]
    ports = {"tipg": _free_port(), "tipg-cached": _free_port(), "demine": _free_port(),
             "before": _free_port()}
    with ExitStack() as servers:
        servers.enter_context(tipg(url, ports["tipg"], workers))
        servers.enter_context(tipg(url, ports["tipg-cached"], workers, ttl=300))
        servers.enter_context(demine(url, ports["demine"], workers))
        if before is not None:
            servers.enter_context(demine(url, ports["before"], 1, before))
        token = _token(f"http://127.0.0.1:{ports['demine']}")
        targets = [("tipg 1.6.1 `/collections/public.hazard_area/items`", "tipg",
                    f"/collections/{TIPG_COLLECTION}/items", None),
                   ("tipg 1.6.1, catalogue cached (`TIPG_CATALOG_TTL=300`)", "tipg-cached",
                    f"/collections/{TIPG_COLLECTION}/items", None),
                   ("demine `/api/v1/hazard-areas`", "demine", "/api/v1/hazard-areas", token),
                   ("demine `/ogc/collections/hazard-areas/items`", "demine",
                    "/ogc/collections/hazard-areas/items", token)]
        if before is not None:
            targets += [("before: " + name, "before", path, token)
                        for name, server, path, token in targets[2:]]
        sizes: dict[tuple[str, int], int] = {}
        measured: dict[tuple[str, int], list[Load]] = {}
        for limit in LIMITS:
            for name, server, path, auth in targets:
                target = f"http://127.0.0.1:{ports[server]}{path}?bbox={BOX}&limit={limit}"
                sizes[name, limit] = _check(target, auth, limit)
                _wrk(target, 5, auth)  # warm-up: pools filled, caches read
        for round_ in range(rounds):
            for limit in LIMITS:
                for name, server, path, auth in targets:
                    target = f"http://127.0.0.1:{ports[server]}{path}?bbox={BOX}&limit={limit}"
                    _settle(url)
                    load = wrk(target, seconds, auth)
                    measured.setdefault((name, limit), []).append(load)
                    print(round_, name, limit, load, file=sys.stderr, flush=True)
    results = {key: _combined(loads) for key, loads in measured.items()}
    loadavg = (started, os.getloadavg()[0])
    tipg_name = next(iter(results))[0]
    rows = []
    for name in dict.fromkeys(n for n, _ in results):
        cells = []
        for limit in LIMITS:
            load_, ref = results[name, limit], results[tipg_name, limit]
            cells.append(f"{load_.cells()} | {load_.rps / ref.rps:.2f}×")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    errors = sum(r.errors for r in results.values())
    page_sizes = ", ".join(f"{name.split('`')[1]} {sizes[name, 500] / 1e6:.1f} MB"
                           for name, _, _, _ in targets
                           if not name.startswith(("before", "tipg 1.6.1,")))
    body = f"""
{CLIENTS} concurrent connections (`wrk -t2 -c{CLIENTS} -d{seconds}s`, after a 5 s warm-up),
in {rounds} rounds that take every URL in turn, all servers up at once, each URL once no query
of the one before is left running in the database (req/s and p50:
the mean of the rounds; p99: the worst round). Every URL has `bbox={BOX}`, a 0.25°
district box matching 3,969 of the national store's 100,000 star polygons of 53–398 vertices
(`benchmarks/national.py`). Both servers run {workers} worker processes (one per core);
tipg with `TIPG_CATALOG_TTL=0` as the outside testers ran it (in tipg 1.6.1 a TTL of 0
leaves its catalogue-refresh middleware out, so it reads its catalogue once, at start-up;
the "catalogue cached" row is tipg's default, 300 s), the × column against that first row;
"before" rows, with `--before DIR`, are another checkout as it served (one process).
demine as a coordinator (bearer token); no `Accept-Encoding`, as wrk sends none (so no
gzip on either side). Page sizes at limit 500:
{page_sizes}.

Load average at the start and the end: {loadavg[0]:.0f} and {loadavg[1]:.0f}, on {workers} cores
(the benchmark's own servers and wrk make most of it); on a shared machine one URL's
figures can move by up to 4 times from round to round, so compare rows of one run, not
runs. The store's hazard ids are random-looking, as real ones are: with ids in the order
of the ground (a first version of the store), tipg's `ORDER BY id` walked its primary
key past tens of thousands of rows and was 2-3 times slower still.

| server and path | limit 50: req/s | p50 ms | p99 ms | × tipg | limit 500: req/s | p50 ms | \
p99 ms | × tipg |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Non-2xx answers and timeouts: {errors}. Goal (issue 8): ≥ 1.5× tipg's req/s at both
limits, p99 no worse.

What makes it so (profiled with py-spy under this load: the Python process now spends
most of its time waiting for PostgreSQL, whose GeoJSON of 113,000 vertices a page of 500 is
most of the cost): PostgreSQL writes the page as text (features joined by commas; no
`::json` re-parse of each geometry) and the route splices it between the head and the
orjson-encoded tail, never decoding it; the bbox finds its rows through the GiST index
(a MATERIALIZED CTE of the matching keys, then sorted and cut to the page) instead of
walking the `(programme_id, local_id)` index and discarding tens of thousands of rows;
the same CTE counts the box for numberMatched, so no second `count(*)` runs (without a
bbox: exact on the last page, otherwise counted below 10,000 estimated rows and the
planner's estimate above); pages continue by keyset cursor (`next`); `demine serve` runs
one worker process per core; gzip (level 5, above 1,400 bytes) for clients that ask.
"""
    write_section("Hazard areas in a district box under load, against tipg", body)
    return {f"{n} limit {lim}": f"{r.rps:.1f} req/s, p50 {r.p50_ms:.0f} ms, p99 {r.p99_ms:.0f} ms"
            for (n, lim), r in results.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another demine checkout to compare")
    parser.add_argument("--seconds", type=int, default=20, help="load per URL and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every URL")
    arguments = parser.parse_args()
    for key, value in run(arguments.before, arguments.seconds, arguments.rounds).items():
        print(f"{key}: {value}")
