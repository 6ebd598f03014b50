#!/usr/bin/env bash
# Production backup (docker-compose.yml): the three databases and the evidence volume, taken at
# one moment. The API and the worker are stopped for the dump (the worker drains its in-flight
# activities first), so neither the app database nor Temporal's can move while the other is
# read; the evidence files are copied last (content-addressed, never deleted, so every row has
# its file). Typically under a minute of downtime: run it at night (cron / systemd timer).
#   deploy/backup.sh [/srv/backups]      → /srv/backups/appraisal-<UTC time>/
# Restore with deploy/restore.sh; rehearse it (README "Restore drill").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-./backups}"
DEST="$ROOT/appraisal-$(date -u +%Y%m%dT%H%M%SZ)"
COMPOSE=(docker compose -f docker-compose.yml)
mkdir -p "$DEST.partial"
restart() { "${COMPOSE[@]}" start worker api >/dev/null; }
trap 'restart; rm -rf "$DEST.partial"; echo "backup FAILED" >&2' ERR
"${COMPOSE[@]}" stop api worker
for db in appraisal temporal temporal_visibility; do
  "${COMPOSE[@]}" exec -T postgres pg_dump -U postgres -d "$db" --format=custom \
    >"$DEST.partial/$db.dump"
done
"${COMPOSE[@]}" run --rm --no-deps -T --entrypoint tar api -C /data -czf - evidence \
  >"$DEST.partial/evidence.tar.gz"
restart
trap - ERR
(cd "$DEST.partial" && sha256sum ./*.dump evidence.tar.gz >SHA256SUMS)
mv "$DEST.partial" "$DEST"
echo "backup written to $DEST"
