-- The land release ledger's bookkeeping (DESIGN.md section 4).

-- A release split in two when its hazard area is split keeps where it came from.
ALTER TABLE release ADD COLUMN split_from_id uuid REFERENCES release(id);
-- The order releases were booked in (created_at is the same for a whole transaction).
ALTER TABLE release ADD COLUMN booked_seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX release_hazard_seq_idx ON release (hazard_area_id, booked_seq);

-- Released area per day and attribution, kept by statement-level triggers on release,
-- so that national totals read thousands of summary rows instead of every release.
-- It is derived data: `demine check` compares it with the releases, `--repair` rebuilds it.
CREATE TABLE ledger_daily (
    programme_id uuid NOT NULL REFERENCES programme(id),
    day date NOT NULL,
    product text NOT NULL,
    method text NOT NULL,
    technical_asset boolean NOT NULL,
    organisation_id uuid,
    project_id uuid,
    donor_id uuid,
    admin_area_id uuid,
    area_m2 double precision NOT NULL,
    releases integer NOT NULL,
    CONSTRAINT ledger_daily_key UNIQUE NULLS NOT DISTINCT
        (programme_id, day, product, method, technical_asset, organisation_id, project_id,
         donor_id, admin_area_id)
);
CREATE INDEX ledger_daily_day_idx ON ledger_daily (programme_id, day);

-- Attribution of releases: organisation from the activity report, project and donor from
-- its task, admin area from the hazard area.
CREATE VIEW release_attribution AS
SELECT r.id AS release_id, r.programme_id, r.release_date AS day, r.product, r.method,
       r.technical_asset, ar.organisation_id, t.project_id, p.donor_id, h.admin_area_id,
       r.area_m2
FROM release r
JOIN activity_report ar ON ar.id = r.activity_report_id
JOIN hazard_area h ON h.id = r.hazard_area_id
LEFT JOIN task t ON t.id = ar.task_id
LEFT JOIN project p ON p.id = t.project_id;

-- The same totals rolled up along one attribution at a time, for requests that filter on
-- dates and product only: 'all' keeps method and technical asset, the others keep the
-- organisation, project, donor or admin area alone. A national figure set then reads a
-- few tens of thousands of rows however many releases there are.
CREATE TABLE ledger_rollup (
    programme_id uuid NOT NULL REFERENCES programme(id),
    day date NOT NULL,
    product text NOT NULL,
    dimension text NOT NULL
        CHECK (dimension IN ('all', 'organisation', 'project', 'donor', 'admin_area')),
    method text,
    technical_asset boolean,
    key_id uuid,
    area_m2 double precision NOT NULL,
    releases integer NOT NULL,
    CONSTRAINT ledger_rollup_key UNIQUE NULLS NOT DISTINCT
        (programme_id, dimension, day, product, method, technical_asset, key_id)
);
CREATE INDEX ledger_rollup_day_idx ON ledger_rollup (programme_id, day);

-- ledger_daily rows as rollup rows (used by the trigger on each change and by a rebuild)
CREATE FUNCTION ledger_rollup_rows(
    programme_id uuid, day date, product text, method text, technical_asset boolean,
    organisation_id uuid, project_id uuid, donor_id uuid, admin_area_id uuid
) RETURNS TABLE (dimension text, method text, technical_asset boolean, key_id uuid)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('all', method, technical_asset, NULL::uuid),
           ('organisation', NULL, NULL, organisation_id),
           ('project', NULL, NULL, project_id),
           ('donor', NULL, NULL, donor_id),
           ('admin_area', NULL, NULL, admin_area_id)
$$;

CREATE VIEW ledger_rollup_of_daily AS
SELECT d.programme_id, d.day, d.product, v.dimension, v.method, v.technical_asset, v.key_id,
       sum(d.area_m2) AS area_m2, sum(d.releases)::int AS releases
FROM ledger_daily d,
     LATERAL ledger_rollup_rows(d.programme_id, d.day, d.product, d.method, d.technical_asset,
                                d.organisation_id, d.project_id, d.donor_id,
                                d.admin_area_id) v
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- One statement per trigger call and direction: the change, aggregated by attribution,
-- is added to ledger_daily and to ledger_rollup; the sign subtracts what left (DELETE,
-- UPDATE). Rows that fall to zero stay until the next rebuild: they add nothing.
-- (The trigger itself must EXECUTE it: transition tables are visible only there.)
CREATE FUNCTION ledger_daily_sql(transition text, sign integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$
        WITH delta AS (
            SELECT r.programme_id, r.release_date AS day, r.product, r.method,
                   r.technical_asset, ar.organisation_id, t.project_id, p.donor_id,
                   h.admin_area_id, %2$s * sum(r.area_m2) AS area_m2,
                   %2$s * count(*)::int AS releases
            FROM %1$I r
            JOIN activity_report ar ON ar.id = r.activity_report_id
            JOIN hazard_area h ON h.id = r.hazard_area_id
            LEFT JOIN task t ON t.id = ar.task_id
            LEFT JOIN project p ON p.id = t.project_id
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

CREATE FUNCTION ledger_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE ledger_daily_sql('old_rows', -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE ledger_daily_sql('new_rows', 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER release_ledger_insert AFTER INSERT ON release
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_daily_apply();
CREATE TRIGGER release_ledger_update AFTER UPDATE ON release
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_daily_apply();
CREATE TRIGGER release_ledger_delete AFTER DELETE ON release
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_daily_apply();

-- Rebuild both summaries from the releases (demine check --repair).
CREATE FUNCTION ledger_daily_rebuild() RETURNS void LANGUAGE sql AS $$
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

-- National statistics read hazard areas through this index alone (index-only scans).
CREATE INDEX hazard_area_stats_idx ON hazard_area (programme_id, status)
    INCLUDE (classification, contamination, remaining_area_m2, reporting_organisation_id,
             admin_area_id);
CREATE INDEX device_find_stats_idx ON device_find (programme_id, found_date)
    INCLUDE (ordnance_type_id, quantity, disposal_method);
