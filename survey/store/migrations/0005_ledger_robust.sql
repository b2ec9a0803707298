-- The ledger made robust (issue 6): overlays on a fixed grid without slivers, and the
-- attribution of every release stored on its row so that the summaries cannot go stale.

-- 1. One grid for all ledger geometry ------------------------------------------------

-- Hazard boundaries, releases and remaining pieces all have their vertices on a grid of
-- 1e-11 degree (about 1 micrometre), and every overlay between them is computed on that
-- grid (snap-rounding: the gridSize argument of ST_Difference, ST_Intersection, ST_Union).
-- A fixed-precision overlay of inputs on the same grid cannot fail the way floating-point
-- overlays of nearly coincident edges do. The grid is fine enough that rounding a node
-- bends an edge of at most 10 m by < 4e-6 m2, far below the 0.01 m2 tolerance.
CREATE FUNCTION demine_grid() RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1e-11::double precision $$;

-- Parts of remaining ground smaller than this are slivers: two lines meant to be one
-- (a release drawn against an earlier one, a geodesic edge against a straight one). They
-- go into the release they lie against, so that the books stay balanced to the digit.
CREATE FUNCTION demine_sliver_m2() RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0.001::double precision $$;

-- Densified to 10 m edges as before (see 0002), then put on the grid. The edges the ledger
-- stores are then at most 10 m long (cut lines of pieces a hair more at most, see below),
-- so densifying stored geometry again adds nothing, and it stays on the grid whichever
-- trigger sees it next.
CREATE OR REPLACE FUNCTION demine_densify(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ST_Multi(ST_CollectionExtract(ST_ReducePrecision(
        ST_MakeValid(ST_Segmentize(g::geography, 10)::geometry), demine_grid()), 3))
$$;

-- Pieces as in 0002, on the grid, with their cut lines densified along the straight
-- lon/lat line (so that neighbours keep sharing them: the lines are parallel to the axes)
-- in steps of the most a 10 m edge can span in degrees at the piece's latitudes. Edges
-- that were densified before are then never split again (a straight midpoint next to a
-- release's unsplit edge is how slivers start), and a cut step is at most 10 m long (a
-- little more on a piece that spans many latitudes). A part that cutting leaves below
-- the sliver size is merged into the piece it shares the longest edge with.
-- (The planner's guesses for set-returning functions make this look costly enough to
-- compile; JIT compilation would take half a second for a few milliseconds of work.)
CREATE OR REPLACE FUNCTION demine_pieces(g geometry) RETURNS SETOF geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET jit = off AS $$
    WITH part AS (
        SELECT row_number() OVER () AS n, d.geom,
               ST_Area(d.geom::geography) < demine_sliver_m2() AS sliver
        FROM ST_Subdivide(g, 128) AS s,
             -- metres per degree: 111319.49 cos(lat) along a parallel, >= 110574 along a
             -- meridian (WGS84)
             LATERAL (SELECT 10.01 / least(110574, 111319.49 * cos(radians(greatest(
                          abs(ST_YMin(s)), abs(ST_YMax(s)))))) AS step) AS k,
             ST_Dump(ST_CollectionExtract(
                 ST_ReducePrecision(ST_Segmentize(s, k.step), demine_grid()), 3)) AS d
    ), home AS (
        SELECT DISTINCT ON (s.n) s.n, b.n AS into_n
        FROM part s JOIN part b ON s.sliver AND NOT b.sliver
                                   AND ST_DWithin(s.geom, b.geom, demine_grid())
        ORDER BY s.n, ST_Length(ST_Intersection(ST_Boundary(s.geom), b.geom)) DESC
    )
    SELECT CASE WHEN cardinality(m.geoms) = 1 THEN ST_Multi(m.geoms[1])
                ELSE (SELECT ST_Multi(ST_CollectionExtract(ST_Union(x, demine_grid()), 3))
                      FROM unnest(m.geoms) AS x) END
    FROM (SELECT array_agg(p.geom) AS geoms
          FROM part p LEFT JOIN home ON home.n = p.n
          GROUP BY coalesce(home.into_n, p.n)) m
$$;

-- What remains of a hazard area, from its boundary and all its releases: for re-survey,
-- split and repair, which are rare, so a union over the area's history is affordable.
-- A sliver of what remains goes into the release it shares the longest edge with (one
-- lying against no release, which a boundary alone cannot make, stays where it is).
-- Returns the remaining area, the sum of the new pieces.
CREATE FUNCTION demine_recompute_remaining(hazard uuid) RETURNS double precision
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    rest geometry;
BEGIN
    SELECT CASE WHEN r.released IS NULL THEN h.geom
                ELSE ST_Difference(h.geom, r.released, demine_grid()) END
    INTO rest
    FROM hazard_area h,
         (SELECT ST_Union(geom, demine_grid()) AS released FROM release
          WHERE hazard_area_id = hazard) r
    WHERE h.id = hazard;
    WITH part AS (
        SELECT d.path, d.geom, ST_Area(d.geom::geography) < demine_sliver_m2() AS sliver
        FROM ST_Dump(rest) AS d
    ), home AS (
        SELECT DISTINCT ON (s.path) s.path, s.geom, r.id AS release_id
        FROM part s JOIN release r ON s.sliver AND r.hazard_area_id = hazard
                                      AND ST_DWithin(r.geom, s.geom, demine_grid())
        ORDER BY s.path, ST_Length(ST_Intersection(ST_Boundary(s.geom), r.geom)) DESC, r.id
    ), grown AS (
        UPDATE release r
        SET geom = (SELECT ST_Multi(ST_CollectionExtract(ST_Union(x.g, demine_grid()), 3))
                    FROM (SELECT r.geom AS g
                          UNION ALL SELECT home.geom FROM home WHERE home.release_id = r.id) x)
        WHERE r.id IN (SELECT release_id FROM home)
    )
    SELECT coalesce(ST_Multi(ST_Collect(part.geom)),
                    ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4326))
    INTO rest
    FROM part WHERE part.path NOT IN (SELECT path FROM home);
    RETURN demine_set_remaining(hazard, rest);
END
$$;

-- 2. Attribution stored on the release ------------------------------------------------

-- Who released the land, under which project and donor, in which admin area: filled in by
-- the database when the release is booked, and kept up to date when the report, task,
-- project or hazard area it comes from changes. The summaries read these columns, so a
-- change of attribution moves the totals through the release triggers of 0004.
ALTER TABLE release
    ADD COLUMN organisation_id uuid REFERENCES organisation(id),
    ADD COLUMN project_id uuid REFERENCES project(id),
    ADD COLUMN donor_id uuid REFERENCES donor(id),
    ADD COLUMN admin_area_id uuid REFERENCES admin_area(id);
CREATE INDEX release_project_idx ON release (project_id);

-- The attribution of every release derived from where it comes from; the stored columns
-- must equal it (`demine check` compares them).
CREATE VIEW release_attribution_derived AS
SELECT r.id AS release_id, ar.organisation_id, t.project_id, p.donor_id, h.admin_area_id
FROM release r
JOIN activity_report ar ON ar.id = r.activity_report_id
JOIN hazard_area h ON h.id = r.hazard_area_id
LEFT JOIN task t ON t.id = ar.task_id
LEFT JOIN project p ON p.id = t.project_id;

-- Whatever a writer puts in the attribution columns, they are derived here.
CREATE FUNCTION demine_release_attribute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT ar.organisation_id, t.project_id, p.donor_id
    INTO NEW.organisation_id, NEW.project_id, NEW.donor_id
    FROM activity_report ar
    LEFT JOIN task t ON t.id = ar.task_id
    LEFT JOIN project p ON p.id = t.project_id
    WHERE ar.id = NEW.activity_report_id;
    NEW.admin_area_id := (SELECT admin_area_id FROM hazard_area WHERE id = NEW.hazard_area_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER release_attribute
    BEFORE INSERT OR UPDATE OF activity_report_id, hazard_area_id, organisation_id, project_id,
                               donor_id, admin_area_id ON release
    FOR EACH ROW EXECUTE FUNCTION demine_release_attribute();

-- A change at the source touches the releases it attributes; release_attribute derives
-- their columns again and the release triggers of 0004 move the summary totals.
CREATE FUNCTION demine_reattribute_releases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'hazard_area' THEN
        UPDATE release SET admin_area_id = NEW.admin_area_id WHERE hazard_area_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'activity_report' THEN
        UPDATE release SET organisation_id = NEW.organisation_id
        WHERE activity_report_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'task' THEN
        UPDATE release r SET project_id = NEW.project_id
        FROM activity_report ar WHERE ar.task_id = NEW.id AND r.activity_report_id = ar.id;
    ELSIF TG_TABLE_NAME = 'project' THEN
        UPDATE release SET donor_id = NEW.donor_id WHERE project_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER hazard_area_reattribute AFTER UPDATE OF admin_area_id ON hazard_area
    FOR EACH ROW WHEN (OLD.admin_area_id IS DISTINCT FROM NEW.admin_area_id)
    EXECUTE FUNCTION demine_reattribute_releases();
CREATE TRIGGER activity_report_reattribute AFTER UPDATE OF task_id, organisation_id
    ON activity_report
    FOR EACH ROW WHEN (OLD.task_id IS DISTINCT FROM NEW.task_id
                       OR OLD.organisation_id IS DISTINCT FROM NEW.organisation_id)
    EXECUTE FUNCTION demine_reattribute_releases();
CREATE TRIGGER task_reattribute AFTER UPDATE OF project_id ON task
    FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION demine_reattribute_releases();
CREATE TRIGGER project_reattribute AFTER UPDATE OF donor_id ON project
    FOR EACH ROW WHEN (OLD.donor_id IS DISTINCT FROM NEW.donor_id)
    EXECUTE FUNCTION demine_reattribute_releases();

-- The summaries aggregate the stored attribution: what left (old rows) is taken from the
-- key it was counted under, whatever its sources say now.
CREATE OR REPLACE FUNCTION ledger_daily_sql(transition text, sign integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$
        WITH delta AS (
            SELECT r.programme_id, r.release_date AS day, r.product, r.method,
                   r.technical_asset, r.organisation_id, r.project_id, r.donor_id,
                   r.admin_area_id, %2$s * sum(r.area_m2) AS area_m2,
                   %2$s * count(*)::int AS releases
            FROM %1$I r
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ), fine AS (
            -- rows in key order, so that concurrent bookings lock them in the same order
            INSERT INTO ledger_daily AS d SELECT * FROM delta ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
            ON CONFLICT ON CONSTRAINT ledger_daily_key DO UPDATE
            SET area_m2 = d.area_m2 + EXCLUDED.area_m2,
                releases = d.releases + EXCLUDED.releases
        )
        INSERT INTO ledger_rollup AS d
        SELECT x.programme_id, x.day, x.product, v.dimension, v.method, v.technical_asset,
               v.key_id, sum(x.area_m2), sum(x.releases)::int
        FROM delta x,
             LATERAL ledger_rollup_rows(x.programme_id, x.day, x.product, x.method,
                                        x.technical_asset, x.organisation_id, x.project_id,
                                        x.donor_id, x.admin_area_id) v
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 4, 2, 3, 5, 6, 7
        ON CONFLICT ON CONSTRAINT ledger_rollup_key DO UPDATE
        SET area_m2 = d.area_m2 + EXCLUDED.area_m2, releases = d.releases + EXCLUDED.releases
    $q$, transition, sign)
$$;

CREATE OR REPLACE VIEW release_attribution AS
SELECT r.id AS release_id, r.programme_id, r.release_date AS day, r.product, r.method,
       r.technical_asset, r.organisation_id, r.project_id, r.donor_id, r.admin_area_id,
       r.area_m2
FROM release r;

-- A rebuild first derives every release's attribution again, then the summaries.
CREATE OR REPLACE FUNCTION ledger_daily_rebuild() RETURNS void LANGUAGE sql AS $$
    UPDATE release r
    SET organisation_id = d.organisation_id, project_id = d.project_id,
        donor_id = d.donor_id, admin_area_id = d.admin_area_id
    FROM release_attribution_derived d
    WHERE d.release_id = r.id
      AND (r.organisation_id, r.project_id, r.donor_id, r.admin_area_id)
          IS DISTINCT FROM (d.organisation_id, d.project_id, d.donor_id, d.admin_area_id);
    DELETE FROM ledger_daily;
    INSERT INTO ledger_daily (programme_id, day, product, method, technical_asset,
                              organisation_id, project_id, donor_id, admin_area_id,
                              area_m2, releases)
    SELECT programme_id, day, product, method, technical_asset, organisation_id, project_id,
           donor_id, admin_area_id, sum(area_m2), count(*)::int
    FROM release_attribution
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
    DELETE FROM ledger_rollup;
    INSERT INTO ledger_rollup SELECT * FROM ledger_rollup_of_daily;
$$;

-- 3. The existing store, repaired -------------------------------------------------------

-- Boundaries and releases onto the grid (their triggers densify again, which now snaps),
-- with every release's attribution filled in on the way.
UPDATE hazard_area SET geom = geom;
UPDATE release SET geom = geom, organisation_id = NULL;

-- What remains of every area, on the grid and without slivers; the releases that take the
-- slivers in grow by exactly what the remaining ground loses.
CREATE TEMPORARY TABLE ledger_0005_before ON COMMIT DROP AS
SELECT id, remaining_area_m2 FROM hazard_area;
UPDATE hazard_area SET remaining_area_m2 = demine_recompute_remaining(id);
INSERT INTO audit_log (programme_id, actor, action, entity, entity_id, before, after, reason)
SELECT h.programme_id, 'migration 0005', 'update', 'hazard_area', h.id,
       jsonb_build_object('remaining_area_m2', b.remaining_area_m2),
       jsonb_build_object('remaining_area_m2', h.remaining_area_m2),
       'remaining ground recomputed on the ledger grid, slivers booked to their releases'
FROM hazard_area h JOIN ledger_0005_before b USING (id);

SELECT ledger_daily_rebuild();
