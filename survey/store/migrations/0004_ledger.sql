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

-- One upsert per statement and direction; the sign subtracts what left (DELETE, UPDATE).
-- Rows that fall to zero stay until the next rebuild: they add nothing to any total.
-- (The trigger itself must EXECUTE it: transition tables are visible only there.)
CREATE FUNCTION ledger_daily_sql(transition text, sign integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$
        INSERT INTO ledger_daily AS d (programme_id, day, product, method, technical_asset,
                                       organisation_id, project_id, donor_id, admin_area_id,
                                       area_m2, releases)
        SELECT r.programme_id, r.release_date, r.product, r.method, r.technical_asset,
               ar.organisation_id, t.project_id, p.donor_id, h.admin_area_id,
               %2$s * sum(r.area_m2), %2$s * count(*)::int
        FROM %1$I r
        JOIN activity_report ar ON ar.id = r.activity_report_id
        JOIN hazard_area h ON h.id = r.hazard_area_id
        LEFT JOIN task t ON t.id = ar.task_id
        LEFT JOIN project p ON p.id = t.project_id
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ON CONFLICT ON CONSTRAINT ledger_daily_key DO UPDATE
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

-- Rebuild from the releases (demine check --repair).
CREATE FUNCTION ledger_daily_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM ledger_daily;
    INSERT INTO ledger_daily (programme_id, day, product, method, technical_asset,
                              organisation_id, project_id, donor_id, admin_area_id,
                              area_m2, releases)
    SELECT programme_id, day, product, method, technical_asset, organisation_id, project_id,
           donor_id, admin_area_id, sum(area_m2), count(*)::int
    FROM release_attribution
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
$$;
