"""Schemathesis against the app's own OpenAPI document, over real HTTP, as every role.

Each generated request is sent once per caller (anonymous, admin, coordinator, operator,
donor, public), so a CI run makes well over a thousand requests; none may answer 5xx or
break the schema it declares. The app serves its own database, so the fuzzer's writes
touch no other test's data.

Bounded by DEMINE_FUZZ_EXAMPLES (examples per operation, default 30; the on-demand run in
`make fuzz` uses 120, over 20,000 requests) and reproducible with DEMINE_FUZZ_SEED (printed).
Failures it found are kept as plain regression tests in tests/test_api_hardening.py and
tests/test_input_strict.py.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from survey.auth import hash_password
from survey.config import Settings
from survey.domain.models import AppUser, Programme
from survey.domain.vocab import Role
from survey.store import db, migrate, repo
from tests.conftest import db_name, serving

EXAMPLES = int(os.environ.get("DEMINE_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("DEMINE_FUZZ_SEED", str(random.randrange(2**32))))
ROLES = ("admin", "coordinator", "operator.halo", "donor.eu", "public")


@pytest.fixture(scope="module")
def fuzz_database(server_url: str) -> str:
    from survey import demo

    url = db.create_database(server_url, db_name("demine_test_fuzz"), drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as conn, conn.transaction():
        demo.load(conn, demo.generate(5, hazard_areas=30))
        programme = repo.list_records(conn, Programme)[0]
        repo.insert(conn, AppUser(programme_id=programme.id, username="public",
                                  full_name="Public viewer", role=Role.PUBLIC,
                                  password_hash=hash_password(demo.DEMO_PASSWORD)),
                    actor="test")
    return url


@pytest.fixture(scope="module")
def fuzz_server(fuzz_database: str) -> Iterator[str]:
    from api.app import create_app

    with serving(create_app(Settings(database_url=fuzz_database, pool_max_size=4))) as base:
        yield base


@pytest.fixture(scope="module")
def callers(fuzz_server: str) -> dict[str, dict[str, str]]:
    from survey.demo import DEMO_PASSWORD

    found: dict[str, dict[str, str]] = {"anonymous": {}}
    with httpx.Client(base_url=fuzz_server) as client:
        for username in ROLES:
            answer = client.post("/api/v1/auth/token",
                                 data={"username": username, "password": DEMO_PASSWORD})
            if answer.status_code == 200:
                found[username] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return found


@pytest.fixture(scope="module")
def api_schema(fuzz_server: str) -> Any:
    print(f"\nschemathesis: seed {SEED}, {EXAMPLES} examples per operation "
          "(DEMINE_FUZZ_SEED / DEMINE_FUZZ_EXAMPLES)")
    return schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")


CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance,
          st_checks.content_type_conformance, st_checks.response_schema_conformance,
          st_checks.response_headers_conformance]


def _cases(operation: Any, hazard_ids: list[str]) -> Any:
    """Data that fits the schema and data that does not; for a hazard area's routes, also
    with ids of areas that exist, so the fuzzer gets past the 404 into the ledger."""
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if "{hazard_area_id}" in operation.path:
        strategies += [operation.as_strategy(GenerationMode.POSITIVE,
                                             path_parameters={"hazard_area_id": hazard_id})
                       for hazard_id in hazard_ids]
    return st.one_of(strategies)


def _fuzz(operation: Any, callers: dict[str, dict[str, str]], hazard_ids: list[str]) -> int:
    """Run one operation's examples as every caller; the number of requests sent."""
    sent = 0

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=_cases(operation, hazard_ids))
    def run(case: Any) -> None:
        nonlocal sent
        for headers in callers.values():
            case.call_and_validate(headers=headers, checks=CHECKS)
            sent += 1

    run()
    return sent


def test_no_5xx_and_schemas_kept(api_schema: Any, callers: dict[str, dict[str, str]],
                                 fuzz_database: str) -> None:
    # pytest 9 and schemathesis' own pytest loader disagree, so the operations are walked
    # here: one Hypothesis run per operation, every failure collected before the verdict
    assert len(callers) == len(ROLES) + 1, sorted(callers)
    with psycopg.connect(fuzz_database) as conn:
        hazard_ids = [str(row[0]) for row in conn.execute(
            "SELECT id FROM hazard_area ORDER BY local_id LIMIT 4")]
    failures: list[str] = []
    sent = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        try:
            sent += _fuzz(operation, callers, hazard_ids)
        except Exception as exc:  # noqa: BLE001 (each operation's failure is reported)
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    print(f"\nschemathesis: {sent} requests sent, seed {SEED}")
    assert not failures, "\n\n".join(failures)
    # CI's run (30 examples) must send 1,000 requests at least, `make fuzz` (120) 20,000
    floor = 20_000 if EXAMPLES >= 120 else 1000 if EXAMPLES >= 30 else 1
    assert sent >= floor, f"only {sent} requests were fuzzed"
