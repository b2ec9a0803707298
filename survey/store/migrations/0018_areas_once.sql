-- Each geodesic area measured once (issue 7: approving 100,000 hazard areas at once).
--
-- A new hazard area had its geodesic area computed three times, each with its own cast to
-- geography: hazard_area.area_m2 (a generated column), remaining_area_m2 (its insert
-- trigger, 0009) and the area_m2 of its remaining piece (a generated column again), though
-- a boundary that is one piece already (almost every one) is the same geometry all three
-- times. A generated column cannot be given a value, nor see one computed in a trigger
-- (generated columns are computed after the BEFORE triggers), so:
--   * hazard_area.area_m2 is set by the row triggers that densify the boundary (insert,
--     update of geom), which measure it once and use the same figure for what remains;
--   * remaining_piece.area_m2 is set by a row trigger, which takes its hazard area's
--     figure when the piece is that area's whole boundary, coordinate for coordinate
--     (`=` on geometry is exact equality), and measures the piece otherwise.
-- Both stay computed from the geometry and from nothing else: whatever an INSERT gives for
-- area_m2 is overwritten, and an UPDATE that writes area_m2 itself is refused, with the
-- error a generated column gives (SQLSTATE 428C9). The figures are bit for bit the ones
-- the generated columns gave (the same ST_Area of the same geometry).

ALTER TABLE hazard_area ALTER COLUMN area_m2 DROP EXPRESSION;
ALTER TABLE remaining_piece ALTER COLUMN area_m2 DROP EXPRESSION;

-- 1. hazard_area ----------------------------------------------------------------------

-- As in 0009, with the boundary's area measured here, once.
CREATE OR REPLACE FUNCTION demine_hazard_area_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := demine_densify(NEW.geom);
    NEW.area_m2 := ST_Area(NEW.geom::geography);
    IF demine_one_piece(NEW.geom) THEN
        -- the boundary is its own piece (demine_pieces): all of it remains
        NEW.remaining_area_m2 := NEW.area_m2;
    ELSE
        NEW.remaining_area_m2 := (SELECT coalesce(sum(ST_Area(p::geography)), 0)
                                  FROM demine_pieces(NEW.geom) AS p);
    END IF;
    RETURN NEW;
END
$$;

-- A new boundary (re-survey, split): densified as before (0002), and measured.
CREATE FUNCTION demine_hazard_area_update_geom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := demine_densify(NEW.geom);
    NEW.area_m2 := ST_Area(NEW.geom::geography);
    RETURN NEW;
END
$$;

DROP TRIGGER hazard_area_densify ON hazard_area;
CREATE TRIGGER hazard_area_densify BEFORE UPDATE OF geom ON hazard_area
    FOR EACH ROW EXECUTE FUNCTION demine_hazard_area_update_geom();

-- area_m2 is the geometry's: an UPDATE that names it may only leave it as it is. (Fires
-- before hazard_area_densify, triggers of an event going in name order, so it sees what
-- the statement wrote, not what the densify trigger measures.)
CREATE FUNCTION demine_area_is_computed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.area_m2 IS DISTINCT FROM OLD.area_m2 THEN
        RAISE EXCEPTION 'column "area_m2" of "%" is computed from geom and cannot be written',
                        TG_TABLE_NAME USING ERRCODE = 'generated_always';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER hazard_area_area_m2 BEFORE UPDATE OF area_m2 ON hazard_area
    FOR EACH ROW EXECUTE FUNCTION demine_area_is_computed();

-- 2. remaining_piece ------------------------------------------------------------------

-- A new piece that is its hazard area's whole boundary has that boundary's area (the
-- lookup by primary key and the exact comparison cost a fraction of a geodesic area);
-- any other piece, and a piece whose geometry an UPDATE changes, is measured.
CREATE FUNCTION demine_remaining_piece_area() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    whole double precision;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.area_m2 IS DISTINCT FROM OLD.area_m2 THEN
            RAISE EXCEPTION 'column "area_m2" of "%" is computed from geom and cannot be written',
                            TG_TABLE_NAME USING ERRCODE = 'generated_always';
        END IF;
        IF NEW.geom IS NOT DISTINCT FROM OLD.geom THEN
            RETURN NEW;
        END IF;
    ELSE
        SELECT h.area_m2 INTO whole FROM hazard_area h
        WHERE h.id = NEW.hazard_area_id AND h.geom = NEW.geom;
        IF FOUND THEN
            NEW.area_m2 := whole;
            RETURN NEW;
        END IF;
    END IF;
    NEW.area_m2 := ST_Area(NEW.geom::geography);
    RETURN NEW;
END
$$;

CREATE TRIGGER remaining_piece_area BEFORE INSERT OR UPDATE ON remaining_piece
    FOR EACH ROW EXECUTE FUNCTION demine_remaining_piece_area();
