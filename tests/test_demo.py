"""The demo programme: deterministic, realistic, and accepted whole by the ledger."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import shapely
from shapely.geometry import MultiPolygon

from survey import demo
from survey.auth import verify_password
from survey.domain.geometry import geodesic_area_m2
from survey.domain.vocab import Classification, Evidence, Product
from survey.store import db, migrate
from tests.conftest import db_name

DEMO_DB = db_name("demine_test_demo")


def _dump(data: demo.DemoData) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in data.records()]


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(7)


@pytest.fixture(scope="module")
def demo_conn(server_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a fresh, migrated database of its own."""
    url = db.create_database(server_url, DEMO_DB, drop_first=True)
    migrate.upgrade(url)
    with db.connect(url) as conn:
        yield conn


@pytest.fixture(scope="module")
def loaded(demo_conn: psycopg.Connection, data: demo.DemoData) -> dict[str, int]:
    with demo_conn.transaction():
        return demo.load(demo_conn, data)


# --- generate(): pure and deterministic ---------------------------------------------------

def test_same_seed_gives_equal_data(data: demo.DemoData) -> None:
    again = demo.generate(7)
    assert _dump(again) == _dump(data)
    assert again.ordnance_models == data.ordnance_models
    assert again == data


def test_other_seed_gives_other_data(data: demo.DemoData) -> None:
    other = demo.generate(8)
    assert _dump(other) != _dump(data)
    assert other.programme.id != data.programme.id


def test_counts(data: demo.DemoData) -> None:
    assert len(data.organisations) >= 3
    assert len(data.teams) >= 6
    assert len(data.hazard_areas) >= 300
    assert {r.product for r in data.releases} == set(Product)
    assert len(data.device_finds) >= 1000
    assert len(data.donors) == 2
    assert {p.donor_id for p in data.projects} == {d.id for d in data.donors}
    assert len(data.accidents) >= 2 and data.victims
    assert all(v.full_name is None for v in data.victims)
    assert {a.level for a in data.admin_areas} == {1, 3}
    assert sum(a.level == 3 for a in data.admin_areas) >= 4


def test_users_share_the_demo_password(data: demo.DemoData) -> None:
    assert [u.username for u in data.users] == demo.DEMO_USERS
    hashes = {u.password_hash for u in data.users}
    assert len(hashes) == 1
    assert verify_password(demo.DEMO_PASSWORD, hashes.pop())
    by_name = {u.username: u for u in data.users}
    assert by_name["operator.halo"].organisation_id is not None
    assert by_name["donor.eu"].donor_id is not None


def test_hazard_geometries_are_valid_varied_and_apart(data: demo.DemoData) -> None:
    geoms = [h.geom for h in data.hazard_areas]
    assert all(g.is_valid and isinstance(g, MultiPolygon) for g in geoms)
    # no axis-aligned rectangles: a rectangle fills its envelope
    assert not [g for g in geoms if g.area / g.envelope.area > 0.999]
    assert any(len(g.geoms) == 2 for g in geoms)
    assert any(p.interiors for g in geoms for p in g.geoms)
    # long thin strips (tree lines, verges): perimeter² / area = 4 L / w for a strip L x w
    thin = [g for g in geoms if shapely.length(g) ** 2 / g.area > 4 * 10]
    assert len(thin) >= 20
    tree = shapely.STRtree(geoms)
    pairs = tree.query(geoms, predicate="intersects")
    assert [(i, j) for i, j in pairs.T if i < j] == []
    region = demo.DEMO_REGION_LL
    assert all(region.contains(g) for g in geoms)


def test_hazard_attributes(data: demo.DemoData) -> None:
    for h in data.hazard_areas:
        direct = h.classification == Classification.CHA
        assert h.evidence == (Evidence.DIRECT if direct else Evidence.INDIRECT)
        assert h.contamination and h.admin_area_id and h.reporting_organisation_id
        assert 2023 <= h.date_of_information.year <= 2025
    assert re.fullmatch(r"UA-KH-\d{6}", data.hazard_areas[0].local_id)
    assert Counter(h.classification for h in data.hazard_areas).keys() == set(Classification)


def test_releases_follow_their_hazard_area(data: demo.DemoData) -> None:
    hazards = {h.id: h for h in data.hazard_areas}
    for r in data.releases:
        h = hazards[r.hazard_area_id]
        assert r.geom.is_valid
        assert geodesic_area_m2(r.geom) >= 50
        assert geodesic_area_m2(r.geom.difference(h.geom)) < 0.01
        assert h.date_of_information < r.release_date
        assert 2024 <= r.release_date.year <= 2025
        assert (r.product == Product.CANCELLED) == (r.method == "NTS")


def test_device_finds(data: demo.DemoData) -> None:
    catalogue = next(m.text for m in migrate.available() if m.name == "ordnance_catalogue")
    for model in set(data.ordnance_models.values()):
        assert f"'{model}'" in catalogue, model
    hazards = {h.id: h for h in data.hazard_areas}
    for f in data.device_finds:
        assert hazards[f.hazard_area_id].geom.contains(f.geom)
        assert (f.disposal_method is None) == (f.disposal_date is None)
        assert f.disposal_date is None or f.disposal_date >= f.found_date
    quantities = Counter(f.quantity == 1 for f in data.device_finds)
    assert quantities[True] > 0.8 * len(data.device_finds)


# --- load(): through the store and the ledger ------------------------------------------------

def test_load_counts(loaded: dict[str, int], data: demo.DemoData) -> None:
    tables = {k: v for k, v in loaded.items() if k not in ("closed", "handed_over")}
    assert tables == data.counts()
    # fully released areas with a completion report are closed, some handed over
    assert loaded["closed"] >= 10 and 0 < loaded["handed_over"] <= loaded["closed"]


def test_releases_lie_within_their_hazard_area(demo_conn: psycopg.Connection,
                                                loaded: dict[str, int]) -> None:
    outside = demo_conn.execute("""
        SELECT r.id, ST_Area(ST_Difference(r.geom, h.geom)::geography)
        FROM release r JOIN hazard_area h ON h.id = r.hazard_area_id
        WHERE ST_Area(ST_Difference(r.geom, h.geom)::geography) >= 0.01
    """).fetchall()
    assert outside == []


def test_releases_of_one_area_do_not_overlap(demo_conn: psycopg.Connection,
                                             loaded: dict[str, int]) -> None:
    overlaps = demo_conn.execute("""
        SELECT r1.id, r2.id, ST_Area(ST_Intersection(r1.geom, r2.geom)::geography)
        FROM release r1 JOIN release r2
          ON r1.hazard_area_id = r2.hazard_area_id AND r1.id < r2.id
         AND ST_Intersects(r1.geom, r2.geom)
        WHERE ST_Area(ST_Intersection(r1.geom, r2.geom)::geography) >= 0.01
    """).fetchall()
    assert overlaps == []


def test_released_and_remaining_add_up(demo_conn: psycopg.Connection,
                                       loaded: dict[str, int]) -> None:
    rows = demo_conn.execute("""
        SELECT h.id, h.area_m2, h.remaining_area_m2, coalesce(sum(r.area_m2), 0)
        FROM hazard_area h LEFT JOIN release r ON r.hazard_area_id = h.id
        GROUP BY h.id
    """).fetchall()
    assert len(rows) == loaded["hazard_area"]
    broken = [(hid, area, remaining, released) for hid, area, remaining, released in rows
              if abs(area - remaining - released) > 0.01 + 1e-9 * area]
    assert broken == []
    fully = sum(1 for _, area, remaining, released in rows if released and remaining < 1)
    partly = sum(1 for _, area, remaining, released in rows if released and remaining >= 1)
    untouched = sum(1 for _, area, remaining, released in rows if not released)
    assert fully and partly and untouched


def test_worked_areas_changed_status(demo_conn: psycopg.Connection,
                                     loaded: dict[str, int]) -> None:
    rows = dict(demo_conn.execute("""
        SELECT h.status, count(*) FROM hazard_area h
        WHERE EXISTS (SELECT 1 FROM release r WHERE r.hazard_area_id = h.id)
        GROUP BY h.status
    """).fetchall())
    assert set(rows) == {"worked_on", "closed", "handed_over"}


def test_demo_users_can_sign_in(demo_conn: psycopg.Connection, loaded: dict[str, int]) -> None:
    from datetime import timedelta

    from survey.auth import issue_token

    with demo_conn.transaction(force_rollback=True):
        _, _, principal = issue_token(demo_conn, username="operator.fsd",
                                      password=demo.DEMO_PASSWORD, ttl=timedelta(minutes=5))
    assert principal.organisation_id is not None


def test_reset_keeps_the_catalogue(demo_conn: psycopg.Connection,
                                   loaded: dict[str, int]) -> None:
    def count(table: str) -> int:
        row = demo_conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        assert row is not None
        return int(row[0])

    catalogue = count("ordnance_type")
    with demo_conn.transaction(force_rollback=True):
        demo.reset(demo_conn)
        assert count("hazard_area") == count("release") == count("programme") == 0
        assert count("device_find") == count("audit_log") == 0
        assert count("ordnance_type") == catalogue > 0
    assert count("hazard_area") == loaded["hazard_area"]
