#!/bin/sh
# One-shot schema job (temporalio/admin-tools), as Temporal's samples-server compose does it:
# set up, then upgrade, the default store and the visibility store with temporal-sql-tool.
# Both steps are idempotent, so the job runs on every `docker compose up` and is how an image
# upgrade migrates the schema (the server image itself never touches the schema).
set -eu
: "${TEMPORAL_DB_PASSWORD:?}"
export SQL_PASSWORD="$TEMPORAL_DB_PASSWORD"
SCHEMA=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  store=temporal
  [ "$db" = temporal_visibility ] && store=visibility
  echo "schema: $db ($store)"
  temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u temporal --db "$db" \
    setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u temporal --db "$db" \
    update-schema -d "$SCHEMA/$store/versioned"
done
echo "schema: done"
