"""Twenty writers at once on one hazard area, over real HTTP: every strip of ground is
booked exactly once, the loser of each race is told why, retries get the first result,
and the books balance afterwards. Nothing is lost and nothing is counted twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx
import psycopg

from survey.ledger.check import find_discrepancies
from survey.store import db
from tests.test_api_ledger import E, W, halo, release_body, site  # noqa: F401 (fixtures)

WRITERS = 20


def _post(base: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    """Send as a well-behaved client does: a 503 is tried again after its Retry-After."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(10):
            answer = client.post("/api/v1/releases", json=body, headers=headers)
            if answer.status_code != 503:
                return answer
            time.sleep(float(answer.headers.get("retry-after", "1")))
    return answer


def test_twenty_writers_on_one_area(live_server: str, site: dict[str, Any],  # noqa: F811
                                    halo: dict[str, str],  # noqa: F811
                                    api_database_url: str) -> None:
    width = (E - W) / WRITERS
    strips = [(W + i * width, W + (i + 1) * width) for i in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)

    def writer(i: int) -> list[tuple[str, int, str]]:
        """Book strip i, race for strip i+1, then retry the first booking."""
        own = release_body(site, *strips[i], id=str(uuid4()))
        rival = release_body(site, *strips[(i + 1) % WRITERS], id=str(uuid4()))
        barrier.wait()
        first = _post(live_server, halo, own)
        second = _post(live_server, halo, rival)
        retry = _post(live_server, halo, own)
        return [("first", own["id"], first.status_code, first.text),
                ("race", rival["id"], second.status_code, second.text),
                ("retry", own["id"], retry.status_code, retry.text)]

    with ThreadPoolExecutor(WRITERS) as pool:
        results = [r for rs in pool.map(writer, range(WRITERS)) for r in rs]

    statuses = Counter(status for _, _, status, _ in results)
    assert all(status < 500 for status in statuses), results
    booked = {rid for _, rid, status, _ in results if status == 201}
    # each strip went to exactly one of its two writers; the other was told it overlaps
    assert len(booked) == WRITERS, statuses
    refused = [text for kind, _, status, text in results if kind != "retry" and status == 409]
    assert len(refused) == WRITERS and all("overlaps" in text for text in refused), refused
    # a retry gets the first result: 200 for a booked release, the same refusal otherwise
    for kind, rid, status, _ in results:
        if kind == "retry":
            assert status == (200 if rid in booked else 409), (rid, status)
    with psycopg.connect(api_database_url) as conn:
        stored = {str(row[0]) for row in conn.execute(
            "SELECT id FROM release WHERE hazard_area_id = %s", (site["hazard"].id,))}
    assert stored == booked
    with db.connect(api_database_url) as conn:
        offenders = [d for d in find_discrepancies(conn)
                     if d.hazard_area_id == site["hazard"].id]
    assert offenders == []
