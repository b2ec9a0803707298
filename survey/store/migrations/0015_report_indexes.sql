-- Reports read releases by period and by activity report without their geometry: these
-- covering indexes answer from the index alone (a national year is ~400,000 releases,
-- whose heap pages hold the polygons).
--   by date: remaining contamination on a day (releases after it, per hazard area), the
--            period's largest releases for the report map, the release ids behind a figure
--   by report: team-days shared among the methods of each activity report
CREATE INDEX release_date_cover_idx ON release (release_date)
    INCLUDE (programme_id, hazard_area_id, area_m2, id);
CREATE INDEX release_report_cover_idx ON release (activity_report_id)
    INCLUDE (method, area_m2);
--   a hazard area's classification by id: productivity by classification for the forecast
--            (the table's pages hold the polygons too)
CREATE INDEX hazard_area_class_idx ON hazard_area (id) INCLUDE (classification);
--   hazard areas of a programme with what the reports group and filter them by, read
--            without the table (remaining contamination on a day, the forecast's remaining
--            area, the national tables)
CREATE INDEX hazard_area_report_idx ON hazard_area (programme_id)
    INCLUDE (id, status, classification, date_of_information, remaining_area_m2, area_m2,
             admin_area_id, reporting_organisation_id);
--   a hazard area's releases by date: what was released from an area before it was
--            recorded (remaining contamination on a day)
CREATE INDEX release_hazard_date_idx ON release (hazard_area_id, release_date)
    INCLUDE (area_m2);
