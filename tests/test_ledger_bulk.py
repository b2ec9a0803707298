"""The ledger's insert in bulk (migration 0009): a hazard area inserted alone, among many
by one INSERT ... SELECT (as an approval writes them) or by COPY gets the same remaining
pieces, bit for bit; a boundary that is one piece already is its own piece; and only rows
actually inserted get pieces."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from survey.domain.models import HazardArea, Programme
from survey.ledger import check
from survey.store import db, migrate
from tests.conftest import db_name, make_hazard
from tests.test_ledger_properties import hazard_shapes

X0, Y0 = 37.30, 49.20  # near Izium


def _cell(n: int) -> tuple[float, float]:
    """The south-west corner of cell `n` of a grid of 0.01 degree cells."""
    return X0 + 0.01 * (n % 20), Y0 + 0.01 * (n // 20)


def _star(n: int, vertices: int, radius_m: float, seed: int, jitter: float = 0.3) -> Polygon:
    """An irregular star-shaped polygon about the centre of cell `n` (every such ring is
    simple)."""
    rng = np.random.default_rng(seed)
    x, y = _cell(n)
    cx, cy = x + 0.005, y + 0.005
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    r = radius_m * rng.uniform(1 - jitter, 1.0, size=vertices)
    xs = cx + r * np.cos(angles) / (111_320 * np.cos(np.radians(cy)))
    ys = cy + r * np.sin(angles) / 110_574
    return Polygon(np.column_stack([xs, ys]))


def _box(n: int, width: float, height: float) -> Polygon:
    x, y = _cell(n)
    return box(x, y, x + width, y + height)


# Boundaries on both sides of the one-piece fast path, each in a cell of its own: name,
# shape, and whether it is one piece
BOUNDARIES: list[tuple[str, Polygon | MultiPolygon, bool]] = [
    *((f"star {n}", _star(n, 24, 60 + 10 * n, seed=n), True) for n in range(6)),
    ("580 m x 560 m", _box(6, 0.008, 0.005), False),
    ("29 m x 33 m, densified", _box(7, 0.0004, 0.0003), True),
    ("two parts", MultiPolygon([_box(8, 0.0003, 0.0002),
                                shapely.affinity.translate(_box(8, 0.0003, 0.0002), 0.0005)]),
     False),
    ("a hole", _box(9, 0.0006, 0.0004).difference(
        shapely.affinity.translate(_box(9, 0.0002, 0.0002), 0.0002, 0.0001)), True),
    # edges of about 3 m: 128 and 129 points, on both sides of ST_Subdivide's 128
    ("127 vertices", _star(10, 127, 60, seed=10, jitter=0.03), True),
    ("128 vertices", _star(11, 128, 60, seed=11, jitter=0.03), False),
    ("a strip 800 m x 4 m", _box(19, 0.011, 0.00004), False),
]


def boundaries() -> list[MultiPolygon]:
    return [s if isinstance(s, MultiPolygon) else MultiPolygon([s]) for _, s, _ in BOUNDARIES]


BULK_INSERT = """
INSERT INTO hazard_area (programme_id, local_id, classification, evidence, date_of_information,
                         geom)
SELECT %(pid)s, %(prefix)s || g.n, 'SHA', 'indirect', DATE '2025-01-10',
       ST_SetSRID(g.hex::geometry, 4326)
FROM unnest(%(hex)s::text[]) WITH ORDINALITY AS g(hex, n)
ORDER BY g.n
"""

COPY_IN = """
COPY hazard_area (programme_id, local_id, classification, evidence, date_of_information, geom)
FROM STDIN
"""

# each area as stored, and its pieces in the order they were written
STORED = """
SELECT h.local_id, h.remaining_area_m2, h.area_m2, ST_AsEWKB(h.geom),
       array_agg(ST_AsEWKB(p.geom) ORDER BY p.id), array_agg(p.area_m2 ORDER BY p.id),
       array_agg(ST_NPoints(p.geom) ORDER BY p.id)
FROM hazard_area h JOIN remaining_piece p ON p.hazard_area_id = h.id
WHERE h.local_id LIKE %(prefix)s || '%%'
GROUP BY h.id
ORDER BY (substr(h.local_id, length(%(prefix)s) + 1))::int
"""


def _stored(conn: psycopg.Connection, prefix: str) -> list[tuple[Any, ...]]:
    rows = conn.execute(STORED, {"prefix": prefix}).fetchall()
    return [(bytes(geom), [bytes(p) for p in pieces], areas, remaining, area, points)
            for _, remaining, area, geom, pieces, areas, points in rows]


def _hex(geoms: list[MultiPolygon]) -> list[str]:
    return [str(h) for h in shapely.to_wkb(geoms, hex=True)]


def test_one_at_a_time_in_bulk_and_by_copy_the_pieces_are_the_same(
        conn: psycopg.Connection, programme: Programme) -> None:
    shapes = boundaries()
    alone = [make_hazard(conn, programme, g, local_id=f"ONE-{n}")
             for n, g in enumerate(shapes, start=1)]
    conn.execute(BULK_INSERT, {"pid": programme.id, "prefix": "BULK-", "hex": _hex(shapes)})
    with conn.cursor().copy(COPY_IN) as copy:
        for n, h in enumerate(_hex(shapes), start=1):
            copy.write_row((programme.id, f"COPY-{n}", "SHA", "indirect", date(2025, 1, 10),
                            f"SRID=4326;{h}"))

    one, bulk, copied = _stored(conn, "ONE-"), _stored(conn, "BULK-"), _stored(conn, "COPY-")
    assert len(one) == len(shapes)
    assert bulk == one  # boundaries, pieces, their areas, what remains: bit for bit
    assert copied == one
    # what repo.insert returned is what the ledger stored
    assert [h.remaining_area_m2 for h in alone] == [row[3] for row in one]
    assert check.find_discrepancies(conn) == []
    assert conn.execute("SELECT count(*) FROM remaining_piece p, ST_Dump(p.geom) d "
                        "WHERE ST_Area(d.geom::geography) < 0.001").fetchone() == (0,)

    for (name, _, one_piece), (geom, pieces, *_) in zip(BOUNDARIES, one, strict=True):
        if one_piece:  # the boundary itself, snapped to the grid once
            assert pieces == [geom], name
        else:  # cut: larger than ST_Subdivide's 128 points, or in parts
            assert len(pieces) > 1, name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(shapes=st.lists(hazard_shapes(), min_size=1, max_size=5))
def test_random_boundaries_get_the_same_pieces_alone_and_in_bulk(
        conn: psycopg.Connection, programme: Programme,
        shapes: list[tuple[str, BaseGeometry]]) -> None:
    geoms = [g if isinstance(g, MultiPolygon) else MultiPolygon([g]) for _, g in shapes]
    with conn.transaction(force_rollback=True):
        conn.execute("UPDATE programme SET extent = ST_Multi(ST_MakeEnvelope("
                     "-180, -90, 180, 90, 4326)) WHERE id = %s", (programme.id,))
        for n, g in enumerate(geoms, start=1):
            make_hazard(conn, programme, g, local_id=f"ONE-{n}")
        conn.execute(BULK_INSERT, {"pid": programme.id, "prefix": "BULK-", "hex": _hex(geoms)})
        assert _stored(conn, "BULK-") == _stored(conn, "ONE-")
        assert check.find_discrepancies(conn) == []


# the cut as 0005 made it for a boundary that is one piece: densified and snapped again
CUT_ONE_PIECE = """
SELECT ST_Equals(p.geom, ST_Multi(ST_ReducePrecision(ST_Segmentize(h.geom,
                                                                  demine_cut_step(h.geom)),
                                                     demine_grid()))),
       ST_OrderingEquals(p.geom, h.geom)
FROM hazard_area h JOIN remaining_piece p ON p.hazard_area_id = h.id
WHERE h.id = %(id)s
"""


def test_a_boundary_that_is_one_piece_is_its_own_piece(
        conn: psycopg.Connection, programme: Programme) -> None:
    for n in range(5):
        hazard = make_hazard(conn, programme, _star(n, 24, 80, seed=100 + n),
                             local_id=f"STAR-{n}")
        # the same ground as the cut; before 0009 the cut's second snap turned the ring
        assert conn.execute(CUT_ONE_PIECE, {"id": hazard.id}).fetchall() == [(True, True)]
        assert hazard.remaining_area_m2 == hazard.area_m2


PIECES_OF = "SELECT id, ST_AsEWKB(geom) FROM remaining_piece WHERE hazard_area_id = %s ORDER BY id"

INSERT_OR_SKIP = sql.SQL("""
INSERT INTO hazard_area (id, programme_id, local_id, classification, evidence,
                         date_of_information, geom)
VALUES (%(id)s, %(pid)s, %(local_id)s, 'SHA', 'indirect', DATE '2025-01-10', %(geom)s)
ON CONFLICT (id) DO {action}
RETURNING id
""")


def _pieces(conn: psycopg.Connection, hazard_id: UUID) -> list[tuple[int, bytes]]:
    return [(i, bytes(g)) for i, g in conn.execute(PIECES_OF, (hazard_id,))]


def test_a_row_on_conflict_leaves_the_existing_area_alone(
        conn: psycopg.Connection, programme: Programme) -> None:
    hazard: HazardArea = make_hazard(conn, programme, box(37.30, 49.20, 37.301, 49.2006),
                                     local_id="KEEP-1")
    before = _pieces(conn, hazard.id)
    elsewhere = MultiPolygon([box(37.40, 49.30, 37.4005, 49.3003)])
    for action in ("NOTHING", "UPDATE SET name = 'renamed'"):
        # the BEFORE INSERT trigger sees the row, but it is not inserted: until 0009 the
        # trigger had already replaced the existing area's pieces with the row's
        conn.execute(INSERT_OR_SKIP.format(action=sql.SQL(action)),
                     {"id": hazard.id, "pid": programme.id, "local_id": "KEEP-2",
                      "geom": elsewhere})
        assert _pieces(conn, hazard.id) == before, action
        assert check.find_discrepancies(conn) == []
    # a row that is inserted by the same kind of statement gets its pieces
    other = conn.execute(INSERT_OR_SKIP.format(action=sql.SQL("NOTHING")),
                         {"id": UUID(int=7), "pid": programme.id, "local_id": "KEEP-3",
                          "geom": elsewhere}).fetchone()
    assert other is not None and len(_pieces(conn, other[0])) == 1
    assert check.find_discrepancies(conn) == []


def test_migration_0009_applies_to_a_store_with_data(server_url: str) -> None:
    from tests.test_cli import migrate_before

    url = db.create_database(server_url, db_name("demine_test_bulk_0009"), drop_first=True)
    pending = migrate_before(url, 9)
    assert pending[0].name == "bulk_ledger"
    with db.connect(url) as c, c.transaction():
        pid = next(c.execute("INSERT INTO programme (code, country_iso, name, extent) VALUES "
                             "('UA', 'UA', 'old', ST_Multi(ST_MakeEnvelope(22, 44, 41, 53, "
                             "4326))) RETURNING id"))[0]
        c.execute(BULK_INSERT, {"pid": pid, "prefix": "OLD-", "hex": _hex(boundaries())})
        before = _stored(c, "OLD-")
    assert [m.name for m in migrate.upgrade(url)] == [m.name for m in pending]
    with db.connect(url) as c, c.transaction():
        assert _stored(c, "OLD-") == before  # pieces cut before 0009 are kept as they are
        c.execute(BULK_INSERT, {"pid": pid, "prefix": "NEW-", "hex": _hex(boundaries())})
        assert len(_stored(c, "NEW-")) == len(BOUNDARIES)
        assert check.find_discrepancies(c) == []
