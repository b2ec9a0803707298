-- Vector tiles (survey/tiles.py): a version per programme and tile layer, so that a tile's
-- ETag changes exactly when the data it draws may have changed, and costs one index read.
--
-- Why not bump the counter row in the writing statement's trigger: the row lock would be
-- held until commit, so every write in a programme would queue behind every other one,
-- and two transactions touching two layers in opposite orders would deadlock. Instead a
-- statement notes which (programme, layer) pairs it touched in tile_dirty (keyed by its
-- own transaction, so no two writers ever wait on each other), and a deferred trigger
-- bumps the counters once at commit, in key order, holding their locks only for the
-- moment between the bump and the commit. The counter is transactional, so a reader that
-- reads it before the tile never tags old data with a new version.
CREATE TABLE tile_version (
    programme_id uuid NOT NULL REFERENCES programme(id) ON DELETE CASCADE,
    layer text NOT NULL CHECK (layer IN ('hazard-areas', 'remaining', 'releases',
                                         'device-finds', 'tasks', 'admin-areas')),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (programme_id, layer)
);

-- Geometry for a tile: the stored boundaries are densified to 10 m edges for the ledger's
-- arithmetic, which no screen needs, so they are simplified by up to `tolerance`
-- (degrees), but never by more than `fraction` of the shape's width (its area over its
-- span): a narrow strip or a small piece keeps its shape, where a plain tolerance would
-- collapse it to a line and drop it from the tile, and a shape far below a pixel still
-- sheds most of its vertices before it is transformed. A shape of 32 vertices or fewer
-- is left as it is: simplifying it would cost more than drawing it. One SELECT without
-- FROM, IMMUTABLE: the planner inlines it.
CREATE FUNCTION demine_tile_simplify(g geometry, tolerance double precision,
                                     fraction double precision)
RETURNS geometry LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN ST_NPoints(g) <= 32 THEN g
                ELSE ST_Simplify(g, least(tolerance, fraction * ST_Area(g)
                                          / greatest(ST_XMax(g) - ST_XMin(g),
                                                     ST_YMax(g) - ST_YMin(g), 1e-12)), true)
           END
$$;

-- The drawing order of the tile layers (survey/tiles.py): a dense low-zoom tile walks it
-- and stops at the cap, instead of sorting every row of a country.
CREATE INDEX hazard_area_tile_order_idx ON hazard_area (area_m2 DESC, id);
CREATE INDEX remaining_piece_tile_order_idx ON remaining_piece (area_m2 DESC, id);
CREATE INDEX release_tile_order_idx ON release (area_m2 DESC, id);
CREATE INDEX device_find_tile_order_idx ON device_find (found_date DESC, id)
    WHERE deleted_at IS NULL;

-- Rows live only inside the transaction that wrote them (the commit trigger deletes them).
-- programme_id NULL means every programme (a change that names none, e.g. the catalogue).
CREATE UNLOGGED TABLE tile_dirty (
    xact bigint NOT NULL,
    programme_id uuid,
    layer text NOT NULL,
    CONSTRAINT tile_dirty_key UNIQUE NULLS NOT DISTINCT (xact, programme_id, layer)
);

CREATE FUNCTION demine_tiles_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the first deferred call of a transaction does the work; the others find nothing
    WITH mine AS (
        DELETE FROM tile_dirty WHERE xact = txid_current() RETURNING programme_id, layer
    ), targets AS (
        SELECT DISTINCT p.id, m.layer
        FROM mine m JOIN programme p ON m.programme_id IS NULL OR p.id = m.programme_id
    )
    INSERT INTO tile_version AS v (programme_id, layer)
    SELECT id, layer FROM targets ORDER BY 1, 2
    ON CONFLICT (programme_id, layer) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER tile_dirty_commit AFTER INSERT ON tile_dirty
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION demine_tiles_commit();

-- A statement-level trigger: TG_ARGV[0] names how to find the programmes of the changed
-- rows ('programme_id' column, 'hazard_area_id', 'task_id', or 'all' without looking),
-- the other arguments the layers they draw on. Transition tables are visible to EXECUTE
-- only, hence the dynamic statement.
CREATE FUNCTION demine_tiles_touch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    layers text[] := TG_ARGV[1:];
    source text;
    programmes text;
BEGIN
    IF TG_ARGV[0] = 'all' THEN
        INSERT INTO tile_dirty SELECT txid_current(), NULL, l FROM unnest(layers) l
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    source := CASE TG_OP WHEN 'INSERT' THEN 'new_rows' ELSE 'old_rows' END;
    programmes := CASE TG_ARGV[0]
        WHEN 'programme_id' THEN format('SELECT programme_id FROM %I', source)
        WHEN 'hazard_area_id' THEN format(
            'SELECT h.programme_id FROM %I c JOIN hazard_area h ON h.id = c.hazard_area_id',
            source)
        WHEN 'task_id' THEN format(
            'SELECT t.programme_id FROM %I c JOIN task t ON t.id = c.task_id', source)
    END;
    IF TG_OP = 'UPDATE' THEN
        -- a row may move between programmes: both sides changed
        programmes := programmes || ' UNION ' || replace(programmes, 'old_rows', 'new_rows');
    END IF;
    EXECUTE format('INSERT INTO tile_dirty SELECT DISTINCT txid_current(), p, l '
                   'FROM (%s) AS s(p), unnest($1) AS l ON CONFLICT DO NOTHING', programmes)
    USING layers;
    RETURN NULL;
END
$$;

-- One trigger per table and event (a trigger with transition tables has one event).
-- What each layer draws on: hazard-areas its rows; remaining the pieces and the area's
-- classification; releases the release rows and, for a donor, the report -> task ->
-- project -> donor chain; device-finds the finds and the ordnance catalogue; tasks the
-- task rows, their areas and (for donors) projects; admin-areas the gazetteer and the
-- remaining area of the hazard areas attributed to each.
CREATE FUNCTION demine_tiles_triggers(tab text, finder text, layers text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    args text := quote_literal(finder) || ', ' || (
        SELECT string_agg(quote_literal(l), ', ') FROM unnest(layers) l);
BEGIN
    IF finder = 'all' THEN
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION demine_tiles_touch(%s)',
                       tab || '_tiles', tab, args);
        RETURN;
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION demine_tiles_touch(%s)',
                   tab || '_tiles_insert', tab, args);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I '
                   'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION demine_tiles_touch(%s)',
                   tab || '_tiles_update', tab, args);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION demine_tiles_touch(%s)',
                   tab || '_tiles_delete', tab, args);
END
$$;

SELECT demine_tiles_triggers('hazard_area', 'programme_id',
                             ARRAY['hazard-areas', 'remaining', 'tasks', 'admin-areas']);
-- pieces change with a hazard area or a release, whose own triggers name the programme;
-- this one is the safety net for a repair that rewrites pieces alone, and reads no
-- transition table (there can be millions of pieces in one statement)
SELECT demine_tiles_triggers('remaining_piece', 'all', ARRAY['remaining']);
SELECT demine_tiles_triggers('release', 'programme_id', ARRAY['releases']);
SELECT demine_tiles_triggers('activity_report', 'programme_id', ARRAY['releases']);
SELECT demine_tiles_triggers('device_find', 'programme_id', ARRAY['device-finds']);
SELECT demine_tiles_triggers('ordnance_type', 'all', ARRAY['device-finds']);
SELECT demine_tiles_triggers('task', 'programme_id', ARRAY['tasks', 'releases']);
SELECT demine_tiles_triggers('task_hazard_area', 'task_id', ARRAY['tasks']);
SELECT demine_tiles_triggers('project', 'programme_id', ARRAY['tasks', 'releases']);
SELECT demine_tiles_triggers('admin_area', 'programme_id', ARRAY['admin-areas']);
DROP FUNCTION demine_tiles_triggers(text, text, text[]);
