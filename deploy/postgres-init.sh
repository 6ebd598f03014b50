#!/bin/sh
# First start of the postgres volume only (docker-entrypoint-initdb.d): one login per consumer.
# The app owns `appraisal`; Temporal owns `temporal` and `temporal_visibility` (its schema job
# creates the tables). Neither can read the other's data; only the `postgres` superuser (used
# by deploy/backup.sh and nothing else) sees all three.
set -eu
: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD in .env}"
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v app_pw="$APP_DB_PASSWORD" -v temporal_pw="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE appraisal LOGIN PASSWORD :'app_pw' CONNECTION LIMIT 120;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_pw' CONNECTION LIMIT 60;
CREATE DATABASE appraisal OWNER appraisal;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE appraisal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
SQL
