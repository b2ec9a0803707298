-- REST for the reference and field-point records (issue 8): a version on each row for
-- ETag / If-Match (checked in the UPDATE itself), and the reporting organisation of the
-- field records, so that an operator writes only its own organisation's points, finds and
-- accidents, and sees the personal data of the victims of its own accidents only.

ALTER TABLE organisation ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE team ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE donor ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE project ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE ordnance_type ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE admin_area ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE victim ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);

ALTER TABLE evidence_point
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN organisation_id uuid REFERENCES organisation(id),
    ADD COLUMN deleted_at timestamptz;
ALTER TABLE marker_point
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN organisation_id uuid REFERENCES organisation(id),
    ADD COLUMN deleted_at timestamptz;
ALTER TABLE device_find
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN organisation_id uuid REFERENCES organisation(id),
    ADD COLUMN deleted_at timestamptz;
ALTER TABLE accident
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN organisation_id uuid REFERENCES organisation(id),
    ADD COLUMN deleted_at timestamptz;

-- a find belongs to the organisation of the report it was recorded in; a point to the
-- organisation that reported its hazard area (the points were surveyed with the area)
UPDATE device_find f SET organisation_id = ar.organisation_id
FROM activity_report ar WHERE ar.id = f.activity_report_id;
UPDATE evidence_point p SET organisation_id = h.reporting_organisation_id
FROM hazard_area h WHERE h.id = p.hazard_area_id;
UPDATE marker_point p SET organisation_id = h.reporting_organisation_id
FROM hazard_area h WHERE h.id = p.hazard_area_id;

CREATE INDEX evidence_point_organisation_idx ON evidence_point (organisation_id);
CREATE INDEX marker_point_organisation_idx ON marker_point (organisation_id);
CREATE INDEX device_find_organisation_idx ON device_find (organisation_id);
CREATE INDEX accident_organisation_idx ON accident (organisation_id);
CREATE INDEX accident_hazard_idx ON accident (hazard_area_id);
-- lists page on (programme_id, id): keyset pages walk these
CREATE INDEX device_find_programme_id_idx ON device_find (programme_id, id);
CREATE INDEX evidence_point_programme_id_idx ON evidence_point (programme_id, id);
CREATE INDEX marker_point_programme_id_idx ON marker_point (programme_id, id);

-- Rows written without an organisation (the intake, the demo, COPY) take the same one as
-- the backfill above: a find its report's, a point its hazard area's reporting
-- organisation. The API always names it, and checks it against the caller's.
CREATE FUNCTION demine_find_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organisation_id IS NULL AND NEW.activity_report_id IS NOT NULL THEN
        SELECT organisation_id INTO NEW.organisation_id
        FROM activity_report WHERE id = NEW.activity_report_id;
    END IF;
    IF NEW.organisation_id IS NULL AND NEW.hazard_area_id IS NOT NULL THEN
        SELECT reporting_organisation_id INTO NEW.organisation_id
        FROM hazard_area WHERE id = NEW.hazard_area_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION demine_point_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organisation_id IS NULL AND NEW.hazard_area_id IS NOT NULL THEN
        SELECT reporting_organisation_id INTO NEW.organisation_id
        FROM hazard_area WHERE id = NEW.hazard_area_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER device_find_organisation BEFORE INSERT ON device_find
    FOR EACH ROW EXECUTE FUNCTION demine_find_organisation();
CREATE TRIGGER evidence_point_organisation BEFORE INSERT ON evidence_point
    FOR EACH ROW EXECUTE FUNCTION demine_point_organisation();
CREATE TRIGGER marker_point_organisation BEFORE INSERT ON marker_point
    FOR EACH ROW EXECUTE FUNCTION demine_point_organisation();
