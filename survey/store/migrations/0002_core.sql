-- The data model of DESIGN.md section 3.
-- Geometry is EPSG:4326; areas are geodesic (ST_Area on geography) and generated, never typed.
-- Enumerations are CHECK constraints so that a new value is one migration, not a type rewrite.

-- Ledger geometry is densified to short edges. Overlays work on straight lon/lat
-- segments while areas are geodesic: cutting a long edge at a new vertex changes the
-- geodesic area of its two halves by up to L^3 tan(lat) / 12R. With edges of at most
-- 10 m that is < 1e-4 m2 a cut, so released + remaining balances the hazard area.
CREATE FUNCTION demine_densify(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- MakeValid + CollectionExtract drop slivers that the round trip collapses to lines
    SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Segmentize(g::geography, 10)::geometry), 3))
$$;

CREATE FUNCTION demine_densify_geom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := demine_densify(NEW.geom);
    RETURN NEW;
END
$$;

CREATE TABLE programme (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code text NOT NULL UNIQUE CHECK (code ~ '^[A-Z]{2,3}(-[A-Z0-9]+)?$'),
    country_iso char(2) NOT NULL CHECK (country_iso ~ '^[A-Z]{2}$'),
    name text NOT NULL,
    extent geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(extent)),
    national_crs integer NOT NULL DEFAULT 4326,
    closure_threshold_m2 double precision NOT NULL DEFAULT 1 CHECK (closure_threshold_m2 >= 0),
    languages text[] NOT NULL DEFAULT '{en}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organisation (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    name text NOT NULL,
    acronym text,
    kind text NOT NULL CHECK (kind IN ('national_authority', 'ngo', 'commercial', 'military', 'un')),
    country_iso char(2),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (programme_id, name)
);

CREATE TABLE team (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    organisation_id uuid NOT NULL REFERENCES organisation(id),
    name text NOT NULL,
    capabilities text[] NOT NULL DEFAULT '{}'
        CHECK (capabilities <@ ARRAY['NTS', 'TS', 'MANUAL', 'MDD', 'MECHANICAL', 'EOD']::text[]),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organisation_id, name)
);
CREATE INDEX team_organisation_idx ON team (organisation_id);

CREATE TABLE donor (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    name text NOT NULL,
    country_iso char(2),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (programme_id, name)
);

CREATE TABLE project (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    donor_id uuid NOT NULL REFERENCES donor(id),
    code text NOT NULL,
    name text NOT NULL,
    start_date date NOT NULL,
    end_date date NOT NULL,
    target_area_m2 double precision CHECK (target_area_m2 >= 0),
    target_devices integer CHECK (target_devices >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (programme_id, code),
    CHECK (end_date >= start_date)
);
CREATE INDEX project_donor_idx ON project (donor_id);

CREATE TABLE app_user (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid REFERENCES programme(id),
    username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._@-]{3,64}$'),
    full_name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'coordinator', 'operator', 'donor', 'public')),
    organisation_id uuid REFERENCES organisation(id),
    donor_id uuid REFERENCES donor(id),
    password_hash text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- an operator always writes for one organisation; a donor reads for one donor
    CHECK (role <> 'operator' OR organisation_id IS NOT NULL),
    CHECK (role <> 'donor' OR donor_id IS NOT NULL)
);

CREATE TABLE api_token (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    token_sha256 text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_token_user_idx ON api_token (user_id);

CREATE TABLE admin_area (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    parent_id uuid REFERENCES admin_area(id),
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 5),
    code text NOT NULL,
    name text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    UNIQUE (programme_id, code)
);
CREATE INDEX admin_area_geom_idx ON admin_area USING gist (geom);

CREATE TABLE submission (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    source_file text NOT NULL,
    source_sha256 text NOT NULL,
    format text NOT NULL CHECK (format IN
        ('kobo_csv', 'kobo_xlsx', 'odk_csv', 'geojson', 'gpkg', 'shp_zip', 'kml', 'kmz', 'gpx', 'csv')),
    form_id text,
    form_version text,
    submitted_by uuid REFERENCES app_user(id),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'validated', 'rejected', 'approved')),
    issues jsonb NOT NULL DEFAULT '[]',
    payload jsonb NOT NULL DEFAULT '{}',
    decided_by uuid REFERENCES app_user(id),
    decided_at timestamptz,
    decision_reason text
);

CREATE TABLE hazard_area (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    -- shown on maps and in reports: letters, digits and a little punctuation only
    local_id text NOT NULL CHECK (local_id ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
    name text,
    classification text NOT NULL CHECK (classification IN ('SHA', 'CHA')),
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'worked_on', 'closed', 'handed_over')),
    contamination text[] NOT NULL DEFAULT '{}'
        CHECK (contamination <@ ARRAY['AP_MINE', 'AT_MINE', 'CMR', 'UXO', 'AXO', 'IED']::text[]),
    evidence text NOT NULL CHECK (evidence IN ('direct', 'indirect')),
    land_use text CHECK (land_use IN
        ('agricultural', 'pasture', 'forest', 'residential', 'infrastructure', 'water', 'other')),
    priority smallint CHECK (priority BETWEEN 1 AND 5),
    beneficiaries integer CHECK (beneficiaries >= 0),
    reporting_organisation_id uuid REFERENCES organisation(id),
    admin_area_id uuid REFERENCES admin_area(id),
    parent_id uuid REFERENCES hazard_area(id),
    submission_id uuid REFERENCES submission(id),
    date_of_information date NOT NULL,
    source_crs text NOT NULL DEFAULT 'EPSG:4326',
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    -- the sum of the geodesic areas of its remaining pieces (below), kept by the ledger
    remaining_area_m2 double precision NOT NULL DEFAULT 0,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (programme_id, local_id)
);
CREATE INDEX hazard_area_geom_idx ON hazard_area USING gist (geom);
CREATE INDEX hazard_area_programme_status_idx ON hazard_area (programme_id, status);
CREATE INDEX hazard_area_org_idx ON hazard_area (reporting_organisation_id);
CREATE INDEX hazard_area_admin_idx ON hazard_area (admin_area_id);

-- What remains of a hazard area (its geometry minus every release), held as pieces of
-- bounded size: a release rewrites only the pieces it touches, so booking one costs the
-- same on an area with a thousand releases as on a fresh one. The remaining geometry is
-- the union of an area's pieces (demine_remaining); pieces of one area do not overlap.
CREATE TABLE remaining_piece (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- deferred: a new hazard area's pieces are written just before its row
    hazard_area_id uuid NOT NULL REFERENCES hazard_area(id) ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED
);
CREATE INDEX remaining_piece_hazard_idx ON remaining_piece (hazard_area_id);
CREATE INDEX remaining_piece_geom_idx ON remaining_piece USING gist (geom);

-- Pieces of at most about 128 vertices plus their cut lines, which are densified along
-- the straight lon/lat line (1e-4 degree steps, 4-11 m) so that neighbouring pieces keep
-- sharing the same line: densifying them along geodesics, as demine_densify does, would
-- bend a neighbour's longer edge differently and open millimetre gaps between pieces.
CREATE FUNCTION demine_pieces(g geometry) RETURNS SETOF geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT p FROM (SELECT ST_Multi(ST_CollectionExtract(ST_Segmentize(s, 0.0001), 3)) AS p
                   FROM ST_Subdivide(g, 128) AS s) d
    WHERE NOT ST_IsEmpty(p)
$$;

CREATE FUNCTION demine_remaining(hazard uuid) RETURNS geometry
LANGUAGE sql STABLE AS $$
    SELECT coalesce(ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)),
                    ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4326))
    FROM remaining_piece WHERE hazard_area_id = hazard
$$;

-- Replace an area's pieces with `g` cut to size; return the sum of their areas.
CREATE FUNCTION demine_set_remaining(hazard uuid, g geometry) RETURNS double precision
LANGUAGE sql AS $$
    DELETE FROM remaining_piece WHERE hazard_area_id = hazard;
    WITH ins AS (
        INSERT INTO remaining_piece (hazard_area_id, geom)
        SELECT hazard, p FROM demine_pieces(g) AS p
        RETURNING area_m2
    )
    SELECT coalesce(sum(area_m2), 0) FROM ins;
$$;

CREATE FUNCTION demine_hazard_area_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.geom := demine_densify(NEW.geom);
    -- a new hazard area has released nothing: all of it remains
    NEW.remaining_area_m2 := demine_set_remaining(NEW.id, NEW.geom);
    RETURN NEW;
END
$$;
CREATE TRIGGER hazard_area_insert BEFORE INSERT ON hazard_area
    FOR EACH ROW EXECUTE FUNCTION demine_hazard_area_insert();
CREATE TRIGGER hazard_area_densify BEFORE UPDATE OF geom ON hazard_area
    FOR EACH ROW EXECUTE FUNCTION demine_densify_geom();

-- Earlier boundaries of a hazard area (re-survey keeps the old one).
CREATE TABLE hazard_area_boundary (
    hazard_area_id uuid NOT NULL REFERENCES hazard_area(id) ON DELETE CASCADE,
    boundary_version integer NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (hazard_area_id, boundary_version)
);

CREATE TABLE evidence_point (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    hazard_area_id uuid REFERENCES hazard_area(id),
    evidence text NOT NULL CHECK (evidence IN ('direct', 'indirect')),
    description text NOT NULL,
    observed_on date,
    geom geometry(Point, 4326) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_point_geom_idx ON evidence_point USING gist (geom);
CREATE INDEX evidence_point_hazard_idx ON evidence_point (hazard_area_id);

CREATE TABLE ordnance_type (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    category text NOT NULL CHECK (category IN
        ('AP_MINE', 'AT_MINE', 'SUBMUNITION', 'PROJECTILE', 'MORTAR', 'ROCKET', 'GRENADE',
         'AIRCRAFT_BOMB', 'AXO', 'IED', 'OTHER')),
    subcategory text NOT NULL,
    model text NOT NULL UNIQUE,
    aliases text[] NOT NULL DEFAULT '{}',
    origin text,
    description text
);
CREATE INDEX ordnance_type_category_idx ON ordnance_type (category);

CREATE TABLE task (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    local_id text NOT NULL CHECK (local_id ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
    activity_type text NOT NULL CHECK (activity_type IN ('NTS', 'TS', 'CLEARANCE', 'BAC', 'EOD_SPOT')),
    organisation_id uuid NOT NULL REFERENCES organisation(id),
    team_id uuid REFERENCES team(id),
    project_id uuid REFERENCES project(id),
    status text NOT NULL DEFAULT 'planned'
        CHECK (status IN ('planned', 'active', 'suspended', 'completed')),
    planned_start date NOT NULL,
    planned_end date NOT NULL,
    actual_start date,
    actual_end date,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (programme_id, local_id),
    CHECK (planned_end >= planned_start)
);
CREATE INDEX task_organisation_idx ON task (organisation_id);
CREATE INDEX task_project_idx ON task (project_id);

CREATE TABLE task_hazard_area (
    task_id uuid NOT NULL REFERENCES task(id) ON DELETE CASCADE,
    hazard_area_id uuid NOT NULL REFERENCES hazard_area(id),
    PRIMARY KEY (task_id, hazard_area_id)
);
CREATE INDEX task_hazard_area_hazard_idx ON task_hazard_area (hazard_area_id);

CREATE TABLE activity_report (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    task_id uuid REFERENCES task(id),
    hazard_area_id uuid NOT NULL REFERENCES hazard_area(id),
    organisation_id uuid NOT NULL REFERENCES organisation(id),
    team_id uuid REFERENCES team(id),
    kind text NOT NULL CHECK (kind IN ('progress', 'completion', 'cancellation', 'handover')),
    report_date date NOT NULL,
    period_start date,
    period_end date,
    team_days numeric(10, 2) NOT NULL DEFAULT 0 CHECK (team_days >= 0),
    depth_cm integer CHECK (depth_cm >= 0),
    handover_men integer CHECK (handover_men >= 0),
    handover_women integer CHECK (handover_women >= 0),
    handover_boys integer CHECK (handover_boys >= 0),
    handover_girls integer CHECK (handover_girls >= 0),
    notes text,
    submission_id uuid REFERENCES submission(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (period_end IS NULL OR period_start IS NULL OR period_end >= period_start)
);
CREATE INDEX activity_report_hazard_idx ON activity_report (hazard_area_id);
CREATE INDEX activity_report_task_idx ON activity_report (task_id);

CREATE TABLE release (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    activity_report_id uuid NOT NULL REFERENCES activity_report(id),
    hazard_area_id uuid NOT NULL REFERENCES hazard_area(id),
    product text NOT NULL CHECK (product IN ('cancelled', 'reduced', 'cleared')),
    method text NOT NULL CHECK (method IN ('NTS', 'MANUAL', 'MDD', 'MECHANICAL', 'COMBINED')),
    technical_asset boolean NOT NULL DEFAULT false,
    depth_cm integer CHECK (depth_cm >= 0),
    release_date date NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    clipped_m2 double precision NOT NULL DEFAULT 0 CHECK (clipped_m2 >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- cancellation is by non-technical survey and nothing else; NTS cancels, never reduces or clears
    CHECK ((product = 'cancelled') = (method = 'NTS')),
    CHECK (product <> 'cancelled' OR NOT technical_asset)
);
CREATE TRIGGER release_densify BEFORE INSERT OR UPDATE OF geom ON release
    FOR EACH ROW EXECUTE FUNCTION demine_densify_geom();
CREATE INDEX release_hazard_idx ON release (hazard_area_id);
CREATE INDEX release_report_idx ON release (activity_report_id);
CREATE INDEX release_geom_idx ON release USING gist (geom);
CREATE INDEX release_date_idx ON release (release_date);

CREATE TABLE marker_point (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    hazard_area_id uuid REFERENCES hazard_area(id),
    release_id uuid REFERENCES release(id),
    kind text NOT NULL CHECK (kind IN
        ('reference', 'benchmark', 'start', 'turning', 'intermediate', 'end')),
    sequence integer NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    bearing_deg double precision CHECK (bearing_deg >= 0 AND bearing_deg < 360),
    distance_m double precision CHECK (distance_m >= 0),
    description text,
    geom geometry(Point, 4326) NOT NULL,
    CHECK (hazard_area_id IS NOT NULL OR release_id IS NOT NULL)
);
CREATE INDEX marker_point_hazard_idx ON marker_point (hazard_area_id);
CREATE INDEX marker_point_geom_idx ON marker_point USING gist (geom);

CREATE TABLE device_find (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    activity_report_id uuid REFERENCES activity_report(id),
    hazard_area_id uuid REFERENCES hazard_area(id),
    ordnance_type_id uuid NOT NULL REFERENCES ordnance_type(id),
    quantity integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    found_date date NOT NULL,
    depth_cm integer CHECK (depth_cm >= 0),
    condition text NOT NULL DEFAULT 'unknown'
        CHECK (condition IN ('armed', 'unarmed', 'damaged', 'unknown')),
    disposal_method text CHECK (disposal_method IN
        ('destroyed_in_situ', 'moved_and_destroyed', 'rendered_safe', 'handed_to_authority')),
    disposal_date date,
    geom geometry(Point, 4326) NOT NULL,
    CHECK (disposal_date IS NULL OR disposal_date >= found_date),
    CHECK ((disposal_method IS NULL) = (disposal_date IS NULL))
);
CREATE INDEX device_find_report_idx ON device_find (activity_report_id);
CREATE INDEX device_find_hazard_idx ON device_find (hazard_area_id);
CREATE INDEX device_find_type_idx ON device_find (ordnance_type_id);
CREATE INDEX device_find_geom_idx ON device_find USING gist (geom);

CREATE TABLE accident (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    kind text NOT NULL CHECK (kind IN
        ('demining', 'mine', 'cmr', 'ied', 'uxo_axo', 'stored_ammunition', 'other')),
    accident_date date NOT NULL,
    hazard_area_id uuid REFERENCES hazard_area(id),
    ordnance_type_id uuid REFERENCES ordnance_type(id),
    description text,
    geom geometry(Point, 4326) NOT NULL
);
CREATE INDEX accident_geom_idx ON accident USING gist (geom);

-- Personal data: only roles that need it may read this table.
CREATE TABLE victim (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    accident_id uuid NOT NULL REFERENCES accident(id) ON DELETE CASCADE,
    full_name text,
    sex text CHECK (sex IN ('female', 'male', 'unknown')),
    age_years integer CHECK (age_years BETWEEN 0 AND 120),
    outcome text NOT NULL CHECK (outcome IN ('injured', 'killed')),
    activity_at_time text,
    tampered boolean
);
CREATE INDEX victim_accident_idx ON victim (accident_id);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    programme_id uuid REFERENCES programme(id),
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'transition', 'bulk_create',
                                           'approve', 'reject', 'login')),
    entity text NOT NULL,
    entity_id uuid,
    before jsonb,
    after jsonb,
    reason text
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
