#!/bin/sh
# One-shot job (temporalio/admin-tools): the namespace with its retention, and the search
# attributes the workflows set. Any failure stops the job with a non-zero code, so the api and
# the worker (which depend on its success) never start against a half-made namespace.
set -eu
NS="${APPRAISAL_TEMPORAL_NAMESPACE:-appraisal}"
# A cycle lives a year and its closed history must stay readable for the next year's review.
RETENTION="${TEMPORAL_RETENTION:-400d}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
tries=0
until temporal operator cluster health; do
  tries=$((tries + 1))
  [ "$tries" -ge 30 ] && { echo "Temporal is not healthy after 60 s" >&2; exit 1; }
  sleep 2
done
if temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
  temporal operator namespace update --namespace "$NS" --retention "$RETENTION"
else
  temporal operator namespace create --namespace "$NS" --retention "$RETENTION"
fi
existing="$(temporal operator search-attribute list --namespace "$NS")"
# name:type pairs, the same as workflows/search_attributes.py (tests/test_compose.py checks).
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
