-- PostGIS is part of the schema: every geometry column depends on it.
CREATE EXTENSION IF NOT EXISTS postgis;
