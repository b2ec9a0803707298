-- The ledger's insert made set-based (issue 7: approving 100,000 hazard areas at once).
--
-- Until now every new hazard area cut its remaining pieces in its own BEFORE INSERT
-- trigger (0002, 0005): demine_set_remaining called demine_pieces once per row, and as a
-- SQL function called from a fresh statement each time, demine_pieces was planned again
-- for every row (a third of the trigger's time); a boundary that is one small piece
-- already went through the whole cut (subdivision, a second snap to the grid, a geodesic
-- area to look for slivers that one part cannot have). Now:
--   * the row trigger only computes: the densified boundary and what remains of it;
--   * one statement-level trigger writes the pieces of all the rows the statement
--     inserted, with one INSERT ... SELECT over its transition table;
--   * a boundary that is one piece already is its own piece (demine_one_piece).
-- A hazard area inserted alone and the same boundary inserted among 100,000 get the same
-- pieces, bit for bit: both go through the same two triggers.
--
-- Writing the pieces after the statement also means that only rows actually inserted
-- get pieces: a row an INSERT ... ON CONFLICT DO NOTHING skips used to have the BEFORE
-- trigger replace the pieces of the existing area of that id with its own.

-- 1. Pieces ---------------------------------------------------------------------------

-- The step in degrees in which cut lines are densified (see demine_pieces in 0005): the
-- most a 10 m edge can span at the geometry's latitudes.
-- (Neither this nor demine_one_piece is STRICT: the planner inlines a strict SQL function
-- only when its body is strict too, which least() and AND are not, and a call that is not
-- inlined costs more than the function's work.)
CREATE FUNCTION demine_cut_step(g geometry) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- metres per degree: 111319.49 cos(lat) along a parallel, >= 110574 along a meridian
    -- (WGS84)
    SELECT 10.01 / least(110574, 111319.49 * cos(radians(greatest(abs(ST_YMin(g)),
                                                                  abs(ST_YMax(g))))))
$$;

-- True when cutting `g` would leave it as it is: one polygon of at most 128 vertices
-- (ST_Subdivide returns such a polygon unchanged) whose edges are all shorter than a cut
-- step (densified boundaries are: their edges are at most 10 m), so that densifying adds
-- no vertex and the snap to the grid has nothing to move. `g` is on the ledger grid and
-- valid, as every geometry the ledger cuts is (a densified boundary, an overlay result).
CREATE FUNCTION demine_one_piece(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_GeometryType(g) IN ('ST_Polygon', 'ST_MultiPolygon')
           AND ST_NumGeometries(g) = 1 AND ST_NPoints(g) <= 128
           AND ST_NPoints(ST_Segmentize(g, demine_cut_step(g))) = ST_NPoints(g)
$$;

-- As in 0005, with a fast path: a geometry that is one piece already is returned as it
-- is (the cut would give the same point set, only snapped a second time, which turns
-- the ring's first vertex). PL/pgSQL so that the cut's query is planned once a session,
-- not once a call; and ordered throughout (a sliver's home among equals, the parts of a
-- piece, the pieces), so that whichever plan the session has cached, the same geometry
-- gets the same pieces in the same order.
CREATE OR REPLACE FUNCTION demine_pieces(g geometry) RETURNS SETOF geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET jit = off AS $$
BEGIN
    IF demine_one_piece(g) THEN
        RETURN NEXT ST_Multi(g);
        RETURN;
    END IF;
    RETURN QUERY
    WITH part AS (
        SELECT row_number() OVER () AS n, d.geom,
               ST_Area(d.geom::geography) < demine_sliver_m2() AS sliver
        FROM ST_Subdivide(g, 128) AS s,
             ST_Dump(ST_CollectionExtract(
                 ST_ReducePrecision(ST_Segmentize(s, demine_cut_step(s)), demine_grid()),
                 3)) AS d
    ), home AS (
        SELECT DISTINCT ON (s.n) s.n, b.n AS into_n
        FROM part s JOIN part b ON s.sliver AND NOT b.sliver
                                   AND ST_DWithin(s.geom, b.geom, demine_grid())
        ORDER BY s.n, ST_Length(ST_Intersection(ST_Boundary(s.geom), b.geom)) DESC, b.n
    )
    SELECT CASE WHEN cardinality(m.geoms) = 1 THEN ST_Multi(m.geoms[1])
                ELSE (SELECT ST_Multi(ST_CollectionExtract(ST_Union(x, demine_grid()), 3))
                      FROM unnest(m.geoms) AS x) END
    FROM (SELECT array_agg(p.geom ORDER BY p.n) AS geoms, min(p.n) AS first
          FROM part p LEFT JOIN home ON home.n = p.n
          GROUP BY coalesce(home.into_n, p.n)) m
    ORDER BY m.first;
END
$$;

-- 2. The insert triggers ------------------------------------------------------------

-- Before each row: the boundary densified and on the grid, and all of it remaining, as
-- the sum of the areas of the pieces hazard_area_pieces will write (so that RETURNING
-- and the audit see the stored value). Nothing is written here.
CREATE OR REPLACE FUNCTION demine_hazard_area_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := demine_densify(NEW.geom);
    IF demine_one_piece(NEW.geom) THEN
        NEW.remaining_area_m2 := ST_Area(NEW.geom::geography);
    ELSE
        NEW.remaining_area_m2 := (SELECT coalesce(sum(ST_Area(p::geography)), 0)
                                  FROM demine_pieces(NEW.geom) AS p);
    END IF;
    RETURN NEW;
END
$$;

-- After the statement: the pieces of every row it inserted, in one INSERT ... SELECT, and
-- a check that they hold what the rows say remains (a cut that differed between the two
-- triggers would be a defect of the ledger, not of the data). No JIT: the work is in
-- PostGIS calls, which compiled expressions do not speed up, and the planner's guess of a
-- thousand pieces a boundary would have every large insert compile and optimise first.
CREATE FUNCTION demine_hazard_area_pieces() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    off_by record;
BEGIN
    WITH piece AS (
        INSERT INTO remaining_piece (hazard_area_id, geom)
        SELECT n.id, p FROM new_hazard_area AS n, demine_pieces(n.geom) AS p
        RETURNING hazard_area_id, area_m2
    ), held AS (
        SELECT hazard_area_id AS id, sum(area_m2) AS m2 FROM piece GROUP BY 1
    )
    SELECT n.id, n.remaining_area_m2, coalesce(held.m2, 0) AS m2 INTO off_by
    FROM new_hazard_area AS n LEFT JOIN held ON held.id = n.id
    WHERE abs(n.remaining_area_m2 - coalesce(held.m2, 0)) > 1e-6 + 1e-12 * n.remaining_area_m2
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'remaining pieces of hazard area % hold % m2, not %', off_by.id,
                        off_by.m2, off_by.remaining_area_m2
              USING ERRCODE = 'internal_error';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER hazard_area_pieces AFTER INSERT ON hazard_area
    REFERENCING NEW TABLE AS new_hazard_area
    FOR EACH STATEMENT EXECUTE FUNCTION demine_hazard_area_pieces();
