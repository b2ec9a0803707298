"""A national-size scratch store, `demine_bench_national`, shared by the benchmarks.

100,000 hazard areas as star polygons of 53-398 vertices on a 317 x 317 grid of 0.004
degree cells (about 1.27 x 1.27 degrees east of Zaporizhzhia), about 1,000,000 releases,
300,000 device finds, 20,000 tasks, organisations, teams, donors, projects, admin areas,
and one user of each role. The outside testers of issue 8 used the same shape: a 0.25
degree box (`DENSE_BOX`) matches 3,969 areas (63 x 63 cells).

Everything is generated in SQL with row triggers off (booking a million releases one by
one through the ledger would take hours), so the ledger's books are built directly, and
balanced: each star is cut into fans around its centre; a worked-on or closed area has
released its first fans (13 releases, a closed area all of it), and its remaining pieces
are the other fans (at most 100 sectors a piece), so area = released + remaining holds as
`demine check` measures it. The summaries (`ledger_daily`, `ledger_rollup`) and each
release's attribution are then rebuilt as `demine check --repair` rebuilds them.

The build is idempotent: `ensure()` returns the URL of a complete store and builds it only
when absent or incomplete (a complete store carries a comment on its database). Run
`python -m benchmarks.national` (add `--rebuild` to start over). How to use it:
/work/notes/national.md.
"""

from __future__ import annotations

import sys
import time

import psycopg
from psycopg import sql

from survey.auth import hash_password
from survey.config import Settings
from survey.errors import ProvisioningError
from survey.store import db, migrate

NAME = "demine_bench_national"
VERSION = "national v2"  # the database comment of a complete store; change it to rebuild
HAZARDS = 100_000
RELEASES_PER_AREA = 13  # per worked-on or closed area (about 77,500 of them)
FINDS = 300_000
TASKS = 20_000
GRID = 317  # 317 x 317 cells of 0.004 degrees: about 1.27 x 1.27 degrees
CELL = 0.004
WEST, SOUTH = 35.0, 47.0
PIECE_SECTORS = 100  # remaining pieces of at most 100 sectors (102 vertices)
PASSWORD = "bench"
USERS = ("admin", "coordinator", "operator", "donor", "public")
# 0.25 degree box in the middle of the data: 63 x 63 = 3,969 areas
DENSE_BOX = (35.5, 47.5, 35.75, 47.75)
PROGRAMME = "00000000-0000-4000-8000-000000000001"
OPERATOR_ORG = "00000000-0000-4000-8001-000000000002"
DONOR = "00000000-0000-4000-8002-000000000001"



def _hazard_id(i: str) -> str:
    """SQL of hazard area i's id: random-looking, as gen_random_uuid() ids are in a real
    store (ids that follow the ground would flatter or punish a plan that walks the
    primary key), yet computable from i."""
    return f"md5('demine-bench-hazard-' || {i})::uuid"


# the status of area i, as stats_scale always had it: a tenth closed, a fifth open (no
# releases), the rest worked on
STATUS = ("CASE WHEN i % 10 = 0 THEN 'closed' WHEN i % 4 = 0 THEN 'open' "
          "ELSE 'worked_on' END")

REFERENCE = [
    f"""INSERT INTO programme (id, code, country_iso, name, extent)
       VALUES ('{PROGRAMME}', 'UA', 'UA', 'bench',
               ST_Multi(ST_MakeEnvelope(22, 44, 41, 53, 4326)))""",
    """INSERT INTO organisation (id, programme_id, name, kind)
       SELECT ('00000000-0000-4000-8001-' || lpad(i::text, 12, '0'))::uuid,
              '00000000-0000-4000-8000-000000000001', 'Operator ' || i,
              CASE WHEN i = 1 THEN 'national_authority' ELSE 'ngo' END
       FROM generate_series(1, 8) i""",
    """INSERT INTO team (id, programme_id, organisation_id, name, capabilities)
       SELECT ('00000000-0000-4000-8005-' || lpad((o * 10 + t)::text, 12, '0'))::uuid,
              '00000000-0000-4000-8000-000000000001',
              ('00000000-0000-4000-8001-' || lpad(o::text, 12, '0'))::uuid,
              'Team ' || o || '-' || t, ARRAY['NTS', 'TS', 'MANUAL']
       FROM generate_series(2, 8) o, generate_series(1, 3) t""",
    """INSERT INTO donor (id, programme_id, name)
       SELECT ('00000000-0000-4000-8002-' || lpad(i::text, 12, '0'))::uuid,
              '00000000-0000-4000-8000-000000000001', 'Donor ' || i
       FROM generate_series(1, 3) i""",
    """INSERT INTO project (id, programme_id, donor_id, code, name, start_date, end_date)
       SELECT ('00000000-0000-4000-8003-' || lpad(i::text, 12, '0'))::uuid,
              '00000000-0000-4000-8000-000000000001',
              ('00000000-0000-4000-8002-' || lpad((1 + i % 3)::text, 12, '0'))::uuid,
              'P-' || i, 'Project ' || i, '2023-01-01', '2026-12-31'
       FROM generate_series(1, 6) i""",
    # 6 x 6 hromadas over the grid
    """INSERT INTO admin_area (id, programme_id, level, code, name, geom)
       SELECT ('00000000-0000-4000-8004-' || lpad((gx * 6 + gy)::text, 12, '0'))::uuid,
              '00000000-0000-4000-8000-000000000001', 3, 'H' || (gx * 6 + gy),
              'Hromada ' || (gx * 6 + gy),
              ST_Multi(ST_MakeEnvelope(35 + gx * 0.212, 47 + gy * 0.212,
                                       35 + (gx + 1) * 0.212, 47 + (gy + 1) * 0.212, 4326))
       FROM generate_series(0, 5) gx, generate_series(0, 5) gy""",
]

# Star i: centre in its cell, n vertices alternating an outer and an inner radius (of
# 100-145 m, a little jittered), on a 1e-9 degree grid, kept as the text "x y" of each
# vertex (v[n + 1] repeats v[1]: the ring closes); s of its n sectors (triangles centre,
# v_j, v_j+1) released. Angles strictly increase around the centre, so the star and
# every fan (centre, v_a .. v_b) are simple polygons. Text, because PostGIS parses WKT
# faster than SQL builds geometry point by point.
STARS = f"""
CREATE UNLOGGED TABLE bench_star AS
SELECT a.i, a.n, a.cx, a.cy, a.cx || ' ' || a.cy AS c,
       CASE WHEN a.status = 'closed' THEN a.n WHEN a.status = 'open' THEN 0
            ELSE floor(a.n * (0.3 + (a.i % 6) * 0.1))::int END AS s,
       v.v
FROM (SELECT i, {STATUS} AS status, 53 + (i * 7919) % 346 AS n,
             round(({WEST} + (i % {GRID}) * {CELL} + {CELL / 2}) * 1e9)::float8 / 1e9 AS cx,
             round(({SOUTH} + (i / {GRID}) * {CELL} + {CELL / 2}) * 1e9)::float8 / 1e9 AS cy,
             0.0009 + (i % 5) * 0.0001 AS r
      FROM generate_series(0, {{hazards}} - 1) i) a,
LATERAL (SELECT array_agg((round((a.cx + 1.48 * a.r * k * cos(t)) * 1e9) / 1e9) || ' '
                          || (round((a.cy + a.r * k * sin(t)) * 1e9) / 1e9) ORDER BY j) v
         FROM (SELECT j, 2 * pi() * (j % a.n) / a.n AS t,
                      CASE WHEN j % a.n % 2 = 0 THEN 1 ELSE 0.55 END
                      * (0.9 + 0.1 * sin(a.i * 0.37 + (j % a.n) * 1.3)) AS k
               FROM generate_series(0, a.n) j) p) v
"""


def _fan(first: str, last: str) -> str:
    """SQL of the polygon (centre, vertex first .. vertex last) of a bench_star row."""
    return (f"ST_GeomFromText('MULTIPOLYGON(((' || c || ',' || array_to_string("
            f"v[1 + ({first}) : 1 + ({last})], ',') || ',' || c || ')))', 4326)")


RECORDS = [
    f"""INSERT INTO hazard_area (id, programme_id, local_id, classification, status,
                                contamination, evidence, reporting_organisation_id,
                                admin_area_id, date_of_information, geom)
       SELECT {_hazard_id('i')},
              '{PROGRAMME}', 'UA-B-' || lpad(i::text, 6, '0'),
              CASE WHEN i % 3 = 0 THEN 'SHA' ELSE 'CHA' END, {STATUS},
              CASE i % 4 WHEN 0 THEN ARRAY['AP_MINE', 'UXO'] WHEN 1 THEN ARRAY['AT_MINE']
                         WHEN 2 THEN ARRAY['CMR', 'UXO'] ELSE ARRAY['UXO'] END,
              CASE WHEN i % 3 = 0 THEN 'indirect' ELSE 'direct' END,
              ('00000000-0000-4000-8001-' || lpad((1 + i % 8)::text, 12, '0'))::uuid,
              ('00000000-0000-4000-8004-' || lpad(((i % {GRID}) * 6 / {GRID} * 6
                                                   + (i / {GRID}) * 6 / {GRID})::text,
                                                  12, '0'))::uuid,
              '2023-01-01'::date + (i % 700),
              ST_GeomFromText('MULTIPOLYGON(((' || array_to_string(v, ',') || ')))', 4326)
       FROM bench_star""",
    f"""INSERT INTO task (id, programme_id, local_id, activity_type, organisation_id,
                         team_id, project_id, status, planned_start, planned_end)
       SELECT ('00000000-0000-4000-9100-' || lpad(i::text, 12, '0'))::uuid,
              '{PROGRAMME}', 'T-' || i, (ARRAY['NTS','TS','CLEARANCE'])[1 + i % 3],
              ('00000000-0000-4000-8001-' || lpad((1 + i % 8)::text, 12, '0'))::uuid,
              CASE WHEN i % 8 = 0 THEN NULL ELSE
                  ('00000000-0000-4000-8005-' || lpad(((1 + i % 8) * 10 + 1 + i % 3)::text,
                                                      12, '0'))::uuid END,
              ('00000000-0000-4000-8003-' || lpad((1 + i % 6)::text, 12, '0'))::uuid,
              'active', '2023-01-01', '2026-01-01'
       FROM generate_series(0, {TASKS - 1}) i""",
    f"""INSERT INTO task_hazard_area (task_id, hazard_area_id)
       SELECT ('00000000-0000-4000-9100-' || lpad((i % {TASKS})::text, 12, '0'))::uuid,
              {_hazard_id('i')}
       FROM bench_star WHERE s > 0""",
    f"""INSERT INTO activity_report (id, programme_id, task_id, hazard_area_id,
                                    organisation_id, kind, report_date, team_days)
       SELECT ('00000000-0000-4000-9200-' || lpad(i::text, 12, '0'))::uuid, '{PROGRAMME}',
              ('00000000-0000-4000-9100-' || lpad((i % {TASKS})::text, 12, '0'))::uuid,
              {_hazard_id('i')},
              ('00000000-0000-4000-8001-' || lpad((1 + (i % {TASKS}) % 8)::text, 12,
                                                  '0'))::uuid,
              CASE WHEN s = n THEN 'completion' ELSE 'progress' END,
              '2023-03-01'::date + (i % 900), 1 + (i % 9)
       FROM bench_star WHERE s > 0""",
    # release k of an area: its sectors k*s/13 .. (k+1)*s/13 (s >= 15, so none is empty)
    # with its attribution as release_attribution_derived has it (the trigger is off)
    f"""INSERT INTO release (programme_id, activity_report_id, hazard_area_id, product, method,
                            technical_asset, release_date, organisation_id, project_id,
                            donor_id, admin_area_id, geom)
       SELECT '{PROGRAMME}', ar.id, ar.hazard_area_id,
              p.product, p.method, p.product <> 'cancelled',
              '2023-03-01'::date + ((i * 7 + k * 31) % 1000),
              ar.organisation_id, t.project_id, pr.donor_id, h.admin_area_id,
              {_fan(f"k * s / {RELEASES_PER_AREA}", f"(k + 1) * s / {RELEASES_PER_AREA}")}
       FROM bench_star
       JOIN activity_report ar
         ON ar.id = ('00000000-0000-4000-9200-' || lpad(i::text, 12, '0'))::uuid
       JOIN hazard_area h ON h.id = ar.hazard_area_id
       JOIN task t ON t.id = ar.task_id
       JOIN project pr ON pr.id = t.project_id,
            generate_series(0, least(s, {RELEASES_PER_AREA}) - 1) k,
            LATERAL (SELECT (ARRAY['cancelled','reduced','reduced','cleared','cleared'])
                                [1 + (i + k) % 5] AS product,
                            (ARRAY['NTS','MDD','MANUAL','MECHANICAL','MANUAL'])
                                [1 + (i + k) % 5] AS method) p""",
    # what remains: the other sectors, PIECE_SECTORS at most a piece
    f"""INSERT INTO remaining_piece (hazard_area_id, geom)
       SELECT {_hazard_id('i')},
              {_fan(f"s + q * {PIECE_SECTORS}", f"least(n, s + (q + 1) * {PIECE_SECTORS})")}
       FROM bench_star, generate_series(0, (n - s - 1) / {PIECE_SECTORS}) q
       WHERE s < n""",
    f"""INSERT INTO device_find (programme_id, activity_report_id, hazard_area_id,
                                ordnance_type_id, quantity, found_date, disposal_method,
                                disposal_date, geom)
       SELECT '{PROGRAMME}',
              ('00000000-0000-4000-9200-' || lpad(a.i::text, 12, '0'))::uuid,
              {_hazard_id('a.i')},
              o.id, 1 + f % 3, '2023-05-01'::date + (f % 800),
              CASE WHEN f % 9 = 0 THEN NULL ELSE 'destroyed_in_situ' END,
              CASE WHEN f % 9 = 0 THEN NULL ELSE '2023-05-02'::date + (f % 800) END,
              ST_SetSRID(ST_MakePoint(a.cx + 0.0002 * ((f / 7) % 3 - 1),
                                      a.cy + 0.0002 * (f % 3 - 1)), 4326)
       FROM (SELECT row_number() OVER (ORDER BY i) - 1 AS m, i, cx, cy
             FROM bench_star WHERE s > 0) a
       JOIN generate_series(0, {FINDS - 1}) f
         ON a.m = f % (SELECT count(*) FROM bench_star WHERE s > 0)
       JOIN (SELECT id, row_number() OVER (ORDER BY model) - 1 AS n FROM ordnance_type) o
         ON o.n = f % 40""",
]

# What the triggers would have kept: the areas, each area's remaining total, then every
# release's attribution and the summaries (ledger_daily_rebuild, as `demine check --repair`
# does)
SETTLE = [
    # the geodesic areas the row triggers measure (0018: no longer generated columns)
    "UPDATE hazard_area SET area_m2 = ST_Area(geom::geography)",
    "UPDATE remaining_piece SET area_m2 = ST_Area(geom::geography)",
    """UPDATE hazard_area h SET remaining_area_m2 = coalesce(
           (SELECT sum(p.area_m2) FROM remaining_piece p WHERE p.hazard_area_id = h.id), 0)""",
    "SELECT ledger_daily_rebuild()",
]


def users(conn: psycopg.Connection) -> None:
    """One user of each role, password PASSWORD; the operator works for Operator 2 and
    the donor user reads for Donor 1."""
    hashed = hash_password(PASSWORD)
    for role in USERS:
        conn.execute(
            "INSERT INTO app_user (programme_id, username, full_name, role, organisation_id, "
            "donor_id, password_hash) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (username) DO NOTHING",
            (PROGRAMME, role, f"Bench {role}", role,
             OPERATOR_ORG if role == "operator" else None,
             DONOR if role == "donor" else None, hashed))


def _log(message: str, start: float) -> None:
    print(f"[national {time.perf_counter() - start:6.0f} s] {message}", file=sys.stderr,
          flush=True)


def build(url: str, *, hazards: int = HAZARDS) -> float:
    """Fill the empty, migrated database at `url` (`hazards` areas: fewer for a trial);
    seconds taken."""
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # row triggers off
        conn.execute("SET jit = off")
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for statement in REFERENCE:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("DROP TABLE IF EXISTS bench_star")
        conn.execute(sql.SQL(STARS).format(hazards=sql.Literal(hazards)))  # type: ignore[arg-type]
        _log("stars drawn", start)
        for statement in RECORDS:
            conn.execute(statement)  # type: ignore[arg-type]
            _log(statement.split("(", 1)[0].strip(), start)
        for statement in SETTLE:
            conn.execute(statement)  # type: ignore[arg-type]
        _log("ledger settled", start)
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("DROP TABLE bench_star")
        users(conn)
        # as autovacuum leaves a settled store: index-only scans can skip the heap
        conn.execute("VACUUM ANALYZE")
        _log("vacuumed", start)
    return time.perf_counter() - start


def _complete(server: str) -> bool:
    with psycopg.connect(server, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = %s", (NAME,)).fetchone()
    return row is not None and row[0] == VERSION


def ensure(*, rebuild: bool = False) -> str:
    """The URL of a complete national store on the configured server, built when absent,
    incomplete or out of date (or when `rebuild`). New migrations are applied to a
    complete store as they come. Callers on several machines' worth of processes wait for
    one another (an advisory lock on the server): one builds, the others then use it."""
    server = Settings().server_url
    with psycopg.connect(server, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (NAME,))
        if not rebuild and _complete(server):
            url = db.with_dbname(server, NAME)
            try:
                migrate.upgrade(url)
            except ProvisioningError as exc:
                # a migration edited after it was applied here (while it is being
                # written): the store still serves reads; `--rebuild` brings it in step
                print(f"national store: {exc.message} (run `python -m benchmarks.national "
                      "--rebuild` to rebuild it)", file=sys.stderr)
            return url
        url = db.create_database(server, NAME, drop_first=True)
        migrate.upgrade(url)
        build(url)
        lock.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(NAME), sql.Literal(VERSION)))
        return url


if __name__ == "__main__":
    print(ensure(rebuild="--rebuild" in sys.argv[1:]))
