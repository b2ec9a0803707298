"""Intake of 100,000 hazard polygons from a GeoPackage, side by side with `ogr2ogr`.

Ours: `submit` (read with pyogrio in batches, mapping and row rules, COPY into staging, the
set rules in SQL: duplicates and overlaps within the file and against the store) and then
`approve` (one INSERT ... SELECT into hazard_area, whose insert triggers densify each
boundary to 10 m edges and build its remaining ground for the ledger). Baseline: GDAL's
`ogr2ogr -f PostgreSQL` loading the same file into a plain table (COPY, a GiST index,
no checks). Each runs in a child process of its own, timed by the wall clock, its peak
memory (max RSS) read from the kernel when it ends. Goals: our total at most 1.5x
ogr2ogr's; our peak memory under 1 GB whatever the file's size.

`python -m benchmarks.intake` runs it and rewrites its section of docs/benchmarks.md;
DEMINE_BENCH_INTAKE_N sets the number of polygons (default 100,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchmarks.common import scratch_database, write_section

HAZARDS = int(os.environ.get("DEMINE_BENCH_INTAKE_N", "100000"))
# a grid of cells over Kharkiv oblast (about 36.0-38.7 E, 48.6-50.3 N), one polygon in each
COLUMNS = 400
CELL_X, CELL_Y = 0.0066, 0.0044
X0, Y0 = 36.0, 48.6
VERTICES = 24

SETUP = """
INSERT INTO programme (code, country_iso, name, extent)
VALUES ('UA', 'UA', 'bench', ST_Multi(ST_MakeEnvelope(22.1, 44.3, 40.3, 52.4, 4326)))
"""


def make_gpkg(path: Path, n: int, seed: int = 7) -> None:
    """`n` irregular, valid, non-overlapping polygons (24 vertices, 0.3-5 ha) with the
    attributes of a national hazard register, in one GeoPackage layer."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    cells = np.arange(n)
    cx = X0 + (cells % COLUMNS + 0.5) * CELL_X
    cy = Y0 + (cells // COLUMNS + 0.5) * CELL_Y
    # star-shaped about the cell's centre: every such ring is simple
    angles = np.linspace(0, 2 * np.pi, VERTICES, endpoint=False)
    radius_m = rng.uniform(30, 120, size=(n, 1)) * rng.uniform(0.7, 1.0, size=(n, VERTICES))
    dx = radius_m * np.cos(angles) / (111_320 * np.cos(np.radians(cy[:, None])))
    dy = radius_m * np.sin(angles) / 110_574
    ring = np.stack([cx[:, None] + dx, cy[:, None] + dy], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    polygons = shapely.polygons(ring)
    classes = rng.choice(["SHA", "CHA"], size=n, p=[0.7, 0.3])
    frame = gpd.GeoDataFrame({
        "local_id": [f"UA-KH-{i + 1:06d}" for i in range(n)],
        "name": [f"Field {i + 1}" for i in range(n)],
        "classification": classes,
        "evidence": np.where(classes == "CHA", "direct", "indirect"),
        "contamination": rng.choice(["AP_MINE", "AT_MINE UXO", "CMR", "UXO"], size=n),
        "land_use": rng.choice(["agricultural", "forest", "pasture"], size=n),
        "priority": rng.integers(1, 6, size=n),
        "date_of_information": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
    }, geometry=polygons, crs="EPSG:4326")
    frame.to_file(path, layer="hazard_areas", driver="GPKG", engine="pyogrio")


def _measured(args: list[str]) -> tuple[float, float, str]:
    """Wall time (s), peak memory (MiB) and standard output of one command, run through
    this module's `--measure` wrapper (os.wait4 gives the rusage of exactly that child)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.intake", "--measure", *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["wall_s"]), float(result["max_rss_mib"]), str(result["stdout"])


def _measure(args: list[str]) -> None:
    # output to files, not pipes: the child is reaped by wait4 alone, which reports its
    # own resource use
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        errors.seek(0)
        if proc.returncode != 0:
            print(errors.read().decode()[-2000:], file=sys.stderr)
            raise SystemExit(1)
        print(json.dumps({"wall_s": wall, "max_rss_mib": usage.ru_maxrss / 1024,
                          "stdout": out.read().decode()}))


def _ogr_dsn(url: str) -> str:
    return "PG:" + make_conninfo("", **conninfo_to_dict(url))


def _intake(gpkg: str, url: str, store: str) -> None:
    """Our side, in a process of its own: submit, then approve, each committed."""
    from survey.intake import submission
    from survey.intake.kinds import RecordKind
    from survey.store import db

    phases: dict[str, float] = {}
    cpu: dict[str, float] = {}
    started = time.perf_counter()
    with db.connect(url) as conn:
        pid = next(conn.execute("SELECT id FROM programme"))[0]
        principal = submission.local_principal(pid, "bench")

        def progress(phase: str, rows: int) -> None:
            phases[phase] = time.perf_counter() - started
            cpu[phase] = time.process_time()

        with conn.transaction():
            report = submission.submit(conn, path=Path(gpkg), name=Path(gpkg).name,
                                       kind=RecordKind.HAZARD_AREAS, principal=principal,
                                       store=Path(store), progress=progress)
        submitted = time.perf_counter() - started
        if report.errors:
            raise SystemExit(f"the benchmark file has errors: {report.issues[:5]}")
        with conn.transaction():
            outcome = submission.approve(conn, submission_id=report.submission_id,
                                         principal=principal).result()
        approved = time.perf_counter() - started
    print(json.dumps({"read_and_staged_s": phases.get("staged", 0.0),
                      "read_and_staged_cpu_s": cpu.get("staged", 0.0),
                      "submitted_s": submitted, "approved_s": approved,
                      "written": outcome.written, "staged": report.report["counts"]["staged"],
                      "area_m2": report.report["totals"]["hazard-areas"]["area_m2"]}))


def _profile(gpkg: str, url: str, store: str) -> None:
    """cProfile of submit (rolled back): where the time of our side goes."""
    import cProfile
    import pstats

    from survey.intake import submission
    from survey.intake.kinds import RecordKind
    from survey.store import db

    with db.connect(url) as conn, conn.transaction(force_rollback=True):
        pid = next(conn.execute("SELECT id FROM programme"))[0]
        principal = submission.local_principal(pid, "bench")
        profiler = cProfile.Profile()
        profiler.enable()
        submission.submit(conn, path=Path(gpkg), name=Path(gpkg).name,
                          kind=RecordKind.HAZARD_AREAS, principal=principal,
                          store=Path(store))
        profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def run() -> dict[str, str]:
    url = scratch_database("demine_bench_intake")
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(SETUP)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="demine-bench-intake-") as tmp:
        gpkg = Path(tmp) / "hazard_areas.gpkg"
        started = time.perf_counter()
        make_gpkg(gpkg, HAZARDS)
        made_s = time.perf_counter() - started
        size_mib = gpkg.stat().st_size / 2**20
        # the baseline: a plain table, GDAL's defaults (COPY, GiST index)
        ogr_s, ogr_mib, _ = _measured([
            "ogr2ogr", "-f", "PostgreSQL", _ogr_dsn(url), str(gpkg), "-nln", "ogr_baseline",
            "-lco", "GEOMETRY_NAME=geom", "-overwrite"])
        ogr_rows = _count(url, "ogr_baseline")
        ledger_s, ledger_cpu_s = _ledger_insert(url)
        functions = _trigger_profile(url, PROFILED)
        ours_s, ours_mib, out = _measured([
            sys.executable, "-m", "benchmarks.intake", "--intake", str(gpkg), url,
            str(Path(tmp) / "store")])
        ours = json.loads(out.strip().splitlines()[-1])
        balanced = _balanced(url)
    load_after = os.getloadavg()[0]
    ratio = ours_s / ogr_s
    submit_s, approve_s = ours["submitted_s"], ours["approved_s"] - ours["submitted_s"]
    cpu_note = "" if ledger_cpu_s is None else f" (server CPU {ledger_cpu_s:.1f} s)"
    body = f"""
{HAZARDS:,} hazard polygons (24 vertices each, 0.3-5 ha, {ours['area_m2'] / 1e6:,.1f} km² in
all) in one GeoPackage layer ({size_mib:,.1f} MiB, made in {made_s:.0f} s), loaded twice
into the same database, each load in a child process of its own (wall clock; peak memory
is the child's max RSS, the database server's own memory not counted).

| load | time | peak memory |
|---|---|---|
| `ogr2ogr -f PostgreSQL` into a plain table (COPY, GiST index; {ogr_rows:,} rows) \
| {ogr_s:.1f} s | {ogr_mib:,.0f} MiB |
| ours: `demine import --approve`, in all | **{ours_s:.1f} s** | **{ours_mib:,.0f} MiB** |
| &nbsp;&nbsp;read, map, row rules, COPY into staging \
| {ours['read_and_staged_s']:.1f} s (Python CPU {ours['read_and_staged_cpu_s']:.1f} s) | |
| &nbsp;&nbsp;set rules in SQL, report (submission validated) \
| {submit_s - ours['read_and_staged_s']:.1f} s | |
| &nbsp;&nbsp;approval: INSERT ... SELECT into hazard_area (densified, remaining pieces) \
| {approve_s:.1f} s | |
| the ledger's insert alone: the ogr2ogr table INSERT ... SELECT into hazard_area \
(rolled back) | {ledger_s:.1f} s{cpu_note} | |

Ours / ogr2ogr: **{ratio:.1f}x** ({'meets' if ratio <= 1.5 else 'misses'} the 1.5x goal);
peak memory {ours_mib:,.0f} MiB ({'meets' if ours_mib < 1024 else 'misses'} the 1 GB goal).
Every approved area balances (area = remaining): {balanced}.
Load average (1 min) of the machine before / after: {load_before:.2f} / {load_after:.2f} \
(the benchmark itself adds about 1; more is other work sharing its {os.cpu_count()} cores).
"""
    body += _profile_table(functions, PROFILED) + _NOTE
    write_section("Intake: 100,000 hazard polygons from a GeoPackage", body)
    return {"ratio": f"{ratio:.2f}", "ours_s": f"{ours_s:.1f}", "ogr2ogr_s": f"{ogr_s:.1f}",
            "peak_mib": f"{ours_mib:.0f}"}


PROFILED = 2_000

# the same insert the approval makes, from the plain table ogr2ogr loaded
LEDGER_INSERT = """
INSERT INTO hazard_area (programme_id, local_id, classification, evidence, date_of_information,
                         geom)
SELECT (SELECT id FROM programme), 'OGR-' || fid, classification, evidence,
       date_of_information::date, ST_Multi(geom)
FROM ogr_baseline {limit}
"""

FUNCTION_TIMES = """
SELECT funcname, calls, total_time, self_time FROM pg_stat_xact_user_functions
ORDER BY total_time DESC LIMIT 8
"""


def _backend_cpu(conn: psycopg.Connection) -> float | None:
    """CPU seconds the connection's server process has used so far (user + system), read
    from /proc when the server runs on this machine; None otherwise. Less at the mercy of
    the machine's other work than the wall clock."""
    try:
        stat = Path(f"/proc/{conn.info.backend_pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ledger_insert(url: str) -> tuple[float, float | None]:
    """Seconds the hazard_area insert (trigger and all) takes for the ogr2ogr table: wall
    clock, and the server process's CPU (None when the server is not on this machine)."""
    with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
        cpu = _backend_cpu(conn)
        started = time.perf_counter()
        conn.execute(sql.SQL(LEDGER_INSERT).format(limit=sql.SQL("")))
        wall = time.perf_counter() - started
        after = _backend_cpu(conn)
        return wall, None if cpu is None or after is None else after - cpu


def _trigger_profile(url: str, n: int) -> list[tuple[str, int, float, float]]:
    """Where the insert trigger's time goes, per function (track_functions, rolled back);
    empty when the server does not let this user track functions."""
    with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
        try:
            with conn.transaction():
                conn.execute("SET LOCAL track_functions = 'all'")
        except psycopg.Error:
            return []
        conn.execute(sql.SQL(LEDGER_INSERT).format(limit=sql.SQL("LIMIT {}").format(
            sql.Literal(n))))
        return [(name, calls, total, own) for name, calls, total, own
                in conn.execute(FUNCTION_TIMES)]


def _profile_table(functions: list[tuple[str, int, float, float]], n: int) -> str:
    if not functions:
        return ""
    rows = "".join(f"| `{name}` | {calls:,} | {total / n:.3f} ms | {own / n:.3f} ms |\n"
                   for name, calls, total, own in functions)
    return f"""
Where the approval's time goes: the hazard_area insert trigger, per function, over
{n:,} of the same polygons (`track_functions`, per polygon inserted):

| function | calls | total per polygon | own per polygon |
|---|---|---|---|
{rows}"""


_NOTE = """
The approval is the ledger's own insert: every boundary densified to 10 m geodesic edges
and put on the ledger grid (`demine_densify`), cut into remaining pieces (`demine_pieces`),
with the geodesic areas the ledger keeps (the boundary's, its pieces', what remains), so
that the first release booked against any of these areas balances to 0.01 m². Since
migration 0009 the row trigger only computes, one statement-level trigger writes the
pieces of all the rows at once, and a boundary that is one piece already (all of these)
is its own piece. Before 0009, on the same VM (2026-11-28 08:41 UTC): 136.8 s in all, the
approval 117.4 s, the ledger's insert alone 88.9 s (0.74 ms a polygon in its trigger, a
third of it planning `demine_pieces` again for every row).

Since migration 0018 each polygon's geodesic area is computed once instead of three times
(`st_area` 1 call a polygon instead of 3, `geography` casts 2 instead of 4: the one in
the densification, the one of the area): `area_m2` of hazard_area and of remaining_piece
are no longer generated columns but set by row triggers from the stored geometry (an
INSERT's own figure is overwritten, an UPDATE that writes one is refused as for a
generated column), the boundary measured once and its figure used for what remains, and
a piece that is its area's whole boundary, coordinate for coordinate, taking the
boundary's figure. The same figures to the bit. Before 0018, the same benchmark on the
same VM the same afternoon (2026-11-28 13:06 UTC, load 1.2 / 2.1): 92.6 s in all,
staging 17.0 s, set rules 6.6 s, the approval 66.8 s, the ledger's insert alone
61.1 s; measured as server CPU, which the machine's other work disturbs less, the
ledger's insert took 58.0 / 60.7 s without 0018 and 43.8 / 45.6 s with it (-24 %). (The
VM was moved to other hardware during the day: the 09:26 UTC run, on AMD EPYC, had
ogr2ogr at 1.2 s and ours at 53.4 s; this Xeon takes about twice as long for both.)

What is left is the geodesic work itself (the table above): the snap to the ledger grid
(`st_reduceprecision`, half of the trigger), the geodesic densification, one geodesic
area, the validity check of the stored boundary. One geodesic area of each of these
polygons alone takes longer than ogr2ogr's whole load, which does none of this: the 1.5x
goal is out of reach while the ledger's insert runs at all. The two cores do not help the
insert: PostgreSQL 15 runs INSERT ... SELECT and its row triggers in one process. A
parallel CREATE TABLE AS of the densified boundaries (2 workers) took 2.5 s instead of
3.7 s for 20,000 polygons, but the insert trigger densifies what it is given again (it
is the ledger's gate and cannot take a client's word that a geometry is densified), so
precomputing would add work, not save it.

Before approval, the submission itself (read, row rules, staging, set rules) takes the
rows above. Reading and the geometry rules already run on whole batches (pyogrio, shapely 2
arrays); the field rules (codes, dates, ids, ranges) run per row in Python, a cell that
converted without an issue once is not converted again, and the staging's JSON is
encoded with orjson: about 8 % less Python CPU than before (median of 6 runs at 10,000:
1.10 s instead of 1.20 s). The field rules are the largest share left (a third of the
Python side's time in cProfile at 100,000), then the database's share of the staging
(COPY with the GiST index, the store lookups: about 4.5 s of server CPU at 100,000).
Memory is bounded by the batches (5,000 rows), not by the file. The set rules plan on
fresh statistics of the staging table (ANALYZE after the COPY: without it the overlap
rule joined the file's rows pairwise, 4.1 s instead of 0.5 s at 10,000).
"""


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        return int(next(conn.execute(query))[0])


def _balanced(url: str) -> str:
    """Whether every area balances: remaining = area (nothing released yet), and the
    ledger's own check (`demine check`) finds no discrepancy."""
    from survey.ledger.check import find_discrepancies

    with psycopg.connect(url) as conn:
        off = next(conn.execute("SELECT count(*) FROM hazard_area "
                                "WHERE abs(area_m2 - remaining_area_m2) > 0.01"))[0]
        found = len(find_discrepancies(conn))
    if off == 0 and found == 0:
        return "yes (and `demine check` finds no discrepancy)"
    return f"no ({off} areas off by more than 0.01 m², {found} discrepancies)"


def main(argv: list[str]) -> Any:
    if argv[:1] == ["--measure"]:
        return _measure(argv[1:])
    if argv[:1] == ["--intake"]:
        return _intake(*argv[1:4])
    if argv[:1] == ["--profile"]:
        return _profile(*argv[1:4])
    if argv[:1] == ["--make"]:
        return make_gpkg(Path(argv[1]), int(argv[2]))
    print(run())
    return None


if __name__ == "__main__":
    main(sys.argv[1:])
