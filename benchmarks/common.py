"""Shared pieces of the benchmarks: a scratch database, timing, the report file."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from survey.config import Settings
from survey.store import db, migrate

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def scratch_database(name: str) -> str:
    """A fresh, migrated database on the configured server (or the private cluster)."""
    settings = Settings()
    server = settings.server_url
    try:
        with psycopg.connect(server, connect_timeout=3):
            pass
    except psycopg.OperationalError:
        server = db.start_private_cluster(settings.data_dir)
    url = db.create_database(server, name, drop_first=True)
    migrate.upgrade(url)
    return url


def timings(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of `repeat` calls (after one warm-up call)."""
    fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms (n={len(ms)})"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False)
    return (f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{pg.stdout.strip() or 'PostgreSQL'}")


def write_section(title: str, body: str) -> None:
    """Replace (or add) one `## title` section of docs/benchmarks.md."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    text = REPORT.read_text() if REPORT.exists() else (
        "# Benchmarks\n\nRun on demand with `make bench` (or `python -m benchmarks.run`); "
        "each section is rewritten by its benchmark with the machine and the date.\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title}\n\n_{stamp} — {machine()}_\n\n{body.strip()}\n"
    head, sep, rest = text.partition(f"## {title}\n")
    if sep:
        _, nxt, tail = rest.partition("\n## ")
        text = head + section + (("\n## " + tail) if nxt else "")
    else:
        text = text.rstrip() + "\n\n" + section
    REPORT.write_text(text)
