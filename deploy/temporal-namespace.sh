#!/bin/sh
# One-shot job (temporalio/admin-tools): the namespace with its retention, and the search
# attributes the workflows set. Any failure stops the job with a non-zero code, so the api and
# the worker (which depend on its success) never start against a half-made namespace.
set -eu
NS="${APPRAISAL_TEMPORAL_NAMESPACE:-appraisal}"
# A cycle lives a year and its closed history must stay readable for the next year's review.
RETENTION="${TEMPORAL_RETENTION:-9600h}"  # 400 days
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
WAIT="${TEMPORAL_WAIT_SECONDS:-60}"
tries=0
until temporal operator cluster health; do
  tries=$((tries + 1))
  [ "$tries" -ge "$WAIT" ] && { echo "Temporal is not healthy after $WAIT s" >&2; exit 1; }
  sleep 1
done
if temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
  temporal operator namespace update --namespace "$NS" --retention "$RETENTION"
else
  temporal operator namespace create --namespace "$NS" --retention "$RETENTION"
fi
# A new namespace takes a few seconds to reach every frontend's cache (Temporal says up to
# 15 s): wait for it, then fail if it never shows up.
tries=0
until existing="$(temporal operator search-attribute list --namespace "$NS" 2>/dev/null)"; do
  tries=$((tries + 1))
  [ "$tries" -ge 30 ] && { echo "namespace $NS not usable after 30 s" >&2; exit 1; }
  sleep 1
done
# name:type pairs, the same as workflows/search_attributes.py (tests/deploy/test_compose.py checks).
for pair in AppraisalYear:Int AppraisalCycle:Keyword AppraisalUnit:Keyword AppraisalState:Keyword; do
  name="${pair%%:*}"
  type="${pair#*:}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$NS" --name "$name" --type "$type"
  fi
done
temporal operator namespace describe --namespace "$NS"
echo "namespace $NS ready (retention $RETENTION)"
