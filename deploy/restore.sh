#!/usr/bin/env bash
# Production restore of a deploy/backup.sh set: checks the checksums, stops everything that
# writes, recreates the three databases (owned by their own logins) from the dumps, puts the
# evidence volume back, and starts the stack (the schema and namespace jobs run again and find
# everything in place).
#   deploy/restore.sh /srv/backups/appraisal-20261130T020000Z
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="${1:?usage: deploy/restore.sh BACKUP_DIR}"
(cd "$SRC" && sha256sum --check --quiet SHA256SUMS)
COMPOSE=(docker compose -f docker-compose.yml)
"${COMPOSE[@]}" stop proxy api worker temporal prometheus
"${COMPOSE[@]}" up -d --wait postgres
declare -A OWNER=([appraisal]=appraisal [temporal]=temporal [temporal_visibility]=temporal)
for db in appraisal temporal temporal_visibility; do
  "${COMPOSE[@]}" exec -T postgres psql -v ON_ERROR_STOP=1 -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "CREATE DATABASE $db OWNER ${OWNER[$db]}"
  "${COMPOSE[@]}" exec -T postgres pg_restore -U postgres -d "$db" --exit-on-error \
    --no-owner --role="${OWNER[$db]}" <"$SRC/$db.dump"
done
"${COMPOSE[@]}" run --rm --no-deps -T --entrypoint sh api -c \
  'rm -rf /data/evidence && tar -C /data -xzf -' <"$SRC/evidence.tar.gz"
"${COMPOSE[@]}" up -d --wait
echo "restored from $SRC"
