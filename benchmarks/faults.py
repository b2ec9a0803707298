"""Faults from outside, against a served app: the figures of docs/reliability.md.

Not a speed benchmark: it replays the attacks of issue 6 against a real server process on
a private PostgreSQL cluster that it stops and restarts, and counts what came back.

    .venv/bin/python -m benchmarks.faults [--code-dir DIR] [--json OUT]

`--code-dir` serves another checkout (e.g. a `git worktree` of an older commit) to take
the "before" figures with the same script. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

PY = sys.executable
MB = 2**20

LOAD = """
import sys
from survey.store import db, migrate
from survey import demo
url = sys.argv[1]
migrate.upgrade(url)
with db.connect(url) as conn, conn.transaction():
    demo.load(conn, demo.generate(3, hazard_areas=60))
"""

SERVE = """
import sys, uvicorn
from api.app import create_app
from survey.config import Settings
uvicorn.run(create_app(Settings(database_url=sys.argv[1], pool_max_size=4)),
            host="127.0.0.1", port=int(sys.argv[2]), log_level="error")
"""

# a free square of about 2 m x 2 m inside what remains of an open area with a report
FREE_SPOT = """
SELECT DISTINCT ON (h.local_id) h.id, ar.id, ST_X(p), ST_Y(p)
FROM hazard_area h
JOIN activity_report ar ON ar.hazard_area_id = h.id,
LATERAL (SELECT ST_PointOnSurface(geom) AS p FROM remaining_piece
         WHERE hazard_area_id = h.id ORDER BY area_m2 DESC LIMIT 1) s
WHERE h.status IN ('open', 'worked_on') AND h.remaining_area_m2 > 1000
ORDER BY h.local_id, ar.report_date LIMIT 40
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(code_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code_dir)}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def served(code_dir: Path, url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    proc = subprocess.Popen([PY, "-c", SERVE, url, str(port)], env=_env(code_dir),  # noqa: S603
                            cwd=code_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _token(base: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/token",
                        data={"username": "coordinator", "password": "demo-password"})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def big_bodies(base: str, pid: int) -> dict[str, Any]:
    """Ten anonymous 50 MB posts: how much the server grew."""
    before = _rss_mib(pid)
    chunk = b"[" + b"0," * (MB // 2 - 1) + b"0"
    statuses: Counter[str] = Counter()
    for _ in range(10):
        try:
            answer = httpx.post(f"{base}/api/v1/releases", content=iter([chunk] * 50),
                                headers={"Content-Type": "application/json",
                                         "Content-Length": str(len(chunk) * 50)}, timeout=60)
            statuses[str(answer.status_code)] += 1
        except httpx.HTTPError as exc:
            statuses[type(exc).__name__] += 1
    return {"rss_before_mib": round(before), "rss_after_mib": round(_rss_mib(pid)),
            "answers": dict(statuses)}


def racing_retries(base: str, url: str, trials: int = 10) -> dict[str, Any]:
    """The same release (same client id) sent from two threads at once, `trials` times."""
    import psycopg

    headers = _token(base)
    with psycopg.connect(url) as conn:
        spots = conn.execute(FREE_SPOT).fetchall()
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for hazard_id, report_id, lon, lat in spots[:trials]:
        d = 0.00001
        body = {"id": str(uuid.uuid4()), "activity_report_id": str(report_id),
                "hazard_area_id": str(hazard_id), "product": "cleared", "method": "MANUAL",
                "technical_asset": True, "depth_cm": 13, "release_date": "2025-06-01",
                "geometry": {"type": "Polygon", "coordinates": [[
                    [lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                    [lon - d, lat + d], [lon - d, lat - d]]]}}
        barrier = threading.Barrier(2)

        def send(body: dict[str, Any] = body,
                 barrier: threading.Barrier = barrier) -> httpx.Response:
            barrier.wait()
            return httpx.post(f"{base}/api/v1/releases", json=body, headers=headers,
                              timeout=60)

        with ThreadPoolExecutor(2) as pool:
            for answer in pool.map(lambda _: send(), range(2)):
                statuses[str(answer.status_code)] += 1
                if answer.status_code >= 400:
                    reasons[answer.json().get("detail", "")[:90]] += 1
    return {"trials": min(trials, len(spots)), "answers": dict(sorted(statuses.items())),
            "refusals": dict(reasons)}


def restarts(base: str, cluster: Path, main_dir: Path) -> dict[str, Any]:
    """A restart under load, then requests on the stale pool, then an outage."""
    headers = _token(base)
    stop = threading.Event()
    during: Counter[str] = Counter()

    def hammer() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                try:
                    status = client.get("/api/v1/hazard-areas?limit=5",
                                        headers=headers).status_code
                    during[str(status)] += 1
                except httpx.HTTPError as exc:
                    during[type(exc).__name__] += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    _cluster(main_dir, cluster, "restart")
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join()
    after: Counter[str] = Counter()
    for _ in range(20):
        after[str(httpx.get(f"{base}/api/v1/hazard-areas?limit=5", headers=headers,
                            timeout=30).status_code)] += 1
    _cluster(main_dir, cluster, "stop")
    outage: Counter[str] = Counter()
    retry_after = 0
    started = time.monotonic()
    for _ in range(5):
        answer = httpx.get(f"{base}/api/v1/hazard-areas?limit=5", headers=headers, timeout=60)
        outage[str(answer.status_code)] += 1
        retry_after += "retry-after" in answer.headers
    health = httpx.get(f"{base}/health", timeout=30)
    seconds = (time.monotonic() - started) / 6
    _cluster(main_dir, cluster, "start")
    return {"during_restart": dict(sorted(during.items())),
            "after_restart_20_sequential": dict(sorted(after.items())),
            "while_stopped": dict(outage), "with_retry_after": retry_after,
            "health_while_stopped": [health.status_code, health.text[:200]],
            "mean_seconds_per_answer_while_stopped": round(seconds, 2)}


def _cluster(main_dir: Path, cluster: Path, action: str) -> None:
    code = ("import sys; from pathlib import Path; from survey.store import db; "
            "d = Path(sys.argv[1]); a = sys.argv[2]\n"
            "if a in ('stop', 'restart'): db.stop_private_cluster(d)\n"
            "if a in ('start', 'restart'): print(db.start_private_cluster(d))")
    subprocess.run([PY, "-c", code, str(cluster), action], check=True,  # noqa: S603
                   env=_env(main_dir), capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    main_dir = Path(__file__).resolve().parent.parent
    cluster = Path(tempfile.mkdtemp(prefix="demine-faults-", dir="/tmp"))
    os.chmod(cluster, 0o755)
    try:
        server = subprocess.run(  # noqa: S603
            [PY, "-c", "import sys; from pathlib import Path; from survey.store import db; "
             "print(db.start_private_cluster(Path(sys.argv[1])))", str(cluster)],
            check=True, env=_env(main_dir), capture_output=True, text=True).stdout.strip()
        from survey.store import db
        url = db.create_database(server, "demine_faults", drop_first=True)
        subprocess.run([PY, "-c", LOAD, url], check=True, env=_env(args.code_dir),  # noqa: S603
                       cwd=args.code_dir)
        results: dict[str, Any] = {"code": str(args.code_dir)}
        with served(args.code_dir, url) as (base, proc):
            results["big_bodies"] = big_bodies(base, proc.pid)
            results["racing_retries"] = racing_retries(base, url)
            results["restarts"] = restarts(base, cluster, main_dir)
        print(json.dumps(results, indent=2))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        _cluster(main_dir, cluster, "stop")
        shutil.rmtree(cluster, ignore_errors=True)


if __name__ == "__main__":
    main()
