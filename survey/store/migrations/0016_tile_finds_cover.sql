-- Vector tiles (survey/tiles.py), the database's share of a tile's cost.
--
-- Device finds, newest first up to the cap: the drawing-order index of 0013 now carries
-- every column the tile reads of a find, so a dense tile (a country at z6: 3,500 of
-- 300,000 finds) is read from the index alone, instead of one visit to the table per
-- find to test its place and programme and another to draw it. A sparse tile is still
-- found through the spatial index.
DROP INDEX device_find_tile_order_idx;
CREATE INDEX device_find_tile_order_idx ON device_find (found_date DESC, id)
    INCLUDE (programme_id, geom, quantity, ordnance_type_id) WHERE deleted_at IS NULL;

-- demine_tile_simplify (0013) was meant to be inlined into the tile statement, but the
-- planner never inlines a STRICT SQL function whose body is not strict itself (a CASE),
-- so each shape of a tile paid a function call: about 6 microseconds, 23 ms of a z6
-- releases tile (3,500 shapes). Called on NULL input it is inlined, and its answer is the
-- same: a NULL shape still gives NULL (ST_NPoints and ST_Simplify are strict).
ALTER FUNCTION demine_tile_simplify(geometry, double precision, double precision)
    CALLED ON NULL INPUT;
