-- Field data intake (issue 7): submissions as the intake keeps them, the staging table
-- their records wait in until a coordinator approves them, the survey track table, and
-- the provenance of every record that came in through the intake.

-- 1. Submissions ---------------------------------------------------------------------

-- The formats the readers take (SubmissionFormat), and `unknown` for a file the intake
-- did not recognise (its submission is rejected and says why). The old list is a subset.
ALTER TABLE submission DROP CONSTRAINT IF EXISTS submission_format_check;
ALTER TABLE submission ADD CONSTRAINT submission_format_check CHECK (format IN
    ('kobo_csv', 'kobo_xlsx', 'kobo_geojson', 'odk_csv', 'odk_geojson', 'geojson',
     'geojsonseq', 'gpkg', 'shp_zip', 'kml', 'kmz', 'gpx', 'csv', 'xlsx', 'turnpoints',
     'unknown'));

-- organisation: the uploader's (operators submit for their own organisation only);
-- kind: what the file holds, as `demine import --as` names it;
-- stored_path: the file as received, named by its sha256 under the data directory (a
--   200 MB upload does not belong in a table row; the hash in the name makes it
--   tamper-evident: `sha256sum` of the file must equal source_sha256);
-- instance_ids: the KoBo/ODK form instances the file held, so that the same instances
--   sent again in another file are recognised as a repeat;
-- idempotency_key: the client's Idempotency-Key header, unique per programme;
-- report: counts, totals per kind, source CRS (what the review page and the API show).
ALTER TABLE submission
    ADD COLUMN organisation_id uuid REFERENCES organisation(id),
    ADD COLUMN kind text CHECK (kind IN ('hazard-areas', 'evidence-points', 'marker-points',
                                         'tracks', 'tasks', 'activity-reports', 'releases',
                                         'device-finds')),
    ADD COLUMN stored_path text,
    ADD COLUMN instance_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    ADD COLUMN report jsonb NOT NULL DEFAULT '{}';

CREATE UNIQUE INDEX submission_idempotency_idx ON submission (programme_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- the same file sent again is found by its hash; not unique, as a store may already hold
-- repeats from before the intake recognised them
CREATE INDEX submission_sha256_idx ON submission (programme_id, source_sha256);
CREATE INDEX submission_instance_ids_idx ON submission USING gin (instance_ids);
CREATE INDEX submission_status_idx ON submission (programme_id, status, submitted_at);

-- 2. Staging --------------------------------------------------------------------------

-- Records of a submission as they will be written on approval: `values` holds the fields
-- of their domain model (defaults filled in, ids chosen), `geom` the geometry in
-- EPSG:4326. Written with COPY in batches; the set rules of validation (duplicates in the
-- file and against the store, overlaps, points within 5 m) run in SQL over these rows.
CREATE TABLE intake_staging (
    submission_id uuid NOT NULL REFERENCES submission(id) ON DELETE CASCADE,
    seq integer NOT NULL CHECK (seq >= 1),
    kind text NOT NULL CHECK (kind IN ('hazard-areas', 'evidence-points', 'marker-points',
                                       'tracks', 'tasks', 'activity-reports', 'releases',
                                       'device-finds')),
    action text NOT NULL DEFAULT 'create' CHECK (action IN ('create', 'resurvey')),
    provenance jsonb NOT NULL,
    "values" jsonb NOT NULL,
    geom geometry(Geometry, 4326),
    PRIMARY KEY (submission_id, seq)
);
CREATE INDEX intake_staging_geom_idx ON intake_staging USING gist (geom);

-- 3. Survey tracks --------------------------------------------------------------------

-- The route a team walked (GPX tracks, KoBo/ODK geotraces), with its geodesic length.
CREATE TABLE survey_track (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    programme_id uuid NOT NULL REFERENCES programme(id),
    hazard_area_id uuid REFERENCES hazard_area(id),
    task_id uuid REFERENCES task(id),
    organisation_id uuid REFERENCES organisation(id),
    name text,
    recorded_on date,
    geom geometry(MultiLineString, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom)),
    length_m double precision GENERATED ALWAYS AS (ST_Length(geom::geography)) STORED,
    provenance jsonb,
    submission_id uuid REFERENCES submission(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX survey_track_geom_idx ON survey_track USING gist (geom);
CREATE INDEX survey_track_hazard_idx ON survey_track (hazard_area_id);

-- 4. Provenance -----------------------------------------------------------------------

-- Where a record came from (file, layer, row, form id/version, instance id, submission);
-- NULL for records entered otherwise.
ALTER TABLE hazard_area ADD COLUMN provenance jsonb;
ALTER TABLE evidence_point ADD COLUMN provenance jsonb;
ALTER TABLE marker_point ADD COLUMN provenance jsonb;
ALTER TABLE device_find ADD COLUMN provenance jsonb;
ALTER TABLE release ADD COLUMN provenance jsonb;
ALTER TABLE activity_report ADD COLUMN provenance jsonb;
ALTER TABLE task ADD COLUMN provenance jsonb;
