#!/usr/bin/env bash
# The README's API walkthrough: from a running `make dev` to a published result with curl.
# Run: bash docs/api-walkthrough.sh   (needs curl and jq). tests/test_readme.py keeps the README's
# copy of these lines identical to this file.
set -euo pipefail
cd "$(dirname "$0")/.."
# evidence to attach: a tiny PDF (in real life a digitally signed document)
printf '%%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%%%EOF\n' > /tmp/ke-hoach.pdf
API=${API:-http://127.0.0.1:8000}
MAIL=${MAIL:-data/mail}  # `make dev`'s mail sink keeps every message there as a .eml file
# `make dev`'s demo coordinator is admin/admin (production has no such account: its first
# coordinator comes from `appraisal user create NAME --role coordinator --email … --print-link`)
tok() { curl -s -X POST $API/api/auth/token -d "username=$1&password=$2" | jq -r .access_token; }
ADMIN=$(tok admin "${APPRAISAL_ADMIN_PASSWORD:-admin}")
as() { who=$1; shift; curl -s -H "Authorization: Bearer $who" -H 'Content-Type: application/json' "$@"; }
# An account is created without a password: its owner follows the one-time link of the welcome
# mail. `link ADDRESS` takes that link's token from the newest mail to ADDRESS that has one;
# `own USERNAME PASSWORD` sets the password with it (what the page /password/reset does).
link() { python3 - "$MAIL" "$1" <<'PY'
import email, email.policy, pathlib, re, sys, time
for _ in range(50):  # the mail leaves just after the API's answer
    for f in sorted(pathlib.Path(sys.argv[1]).glob("*.eml"), reverse=True):
        m = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        body = m.get_body(("plain",))
        found = re.search(r"/password/reset\?token=([\w-]+)", body.get_content() if body else "")
        if sys.argv[2] in str(m["To"]) and found:
            sys.exit(print(found[1]))
    time.sleep(0.2)
sys.exit(f"no mail with a link to {sys.argv[2]} in {sys.argv[1]}")
PY
}
own() { curl -s -X POST $API/api/auth/password-reset/confirm -H 'Content-Type: application/json' \
          -d '{"token":"'"$(link $1@example.vn)"'","new_password":"'"$2"'"}'; }

# units and people: the coordinator never chooses a password, each person sets their own
as $ADMIN $API/api/units -d '{"code":"xa-a","name":"UBND xã A","group":"commune"}'
as $ADMIN $API/api/units -d '{"code":"xa-b","name":"UBND xã B","group":"commune"}'
for u in a b; do
  as $ADMIN $API/api/users -d '{"username":"vp-'$u'","email":"vp-'$u'@example.vn","roles":[{"role":"unit_office","unit_code":"xa-'$u'"}]}'
  as $ADMIN $API/api/users -d '{"username":"cb-'$u'","email":"cb-'$u'@example.vn","roles":[{"role":"staff","unit_code":"xa-'$u'"}]}'
  own vp-$u van-phong-mat-khau-$u; own cb-$u can-bo-mat-khau-$u
done
as $ADMIN $API/api/users -d '{"username":"thanh-tra","email":"thanh-tra@example.vn","roles":[{"role":"council","agency":"Thanh tra huyện"}]}'
own thanh-tra hoi-dong-tham-dinh-tt

# the framework: import, publish
FW=$(curl -s -H "Authorization: Bearer $ADMIN" -F file=@frameworks/builtin/dinh-hoa-commune-2024.yaml \
     $API/api/frameworks/import | jq .id)
as $ADMIN -X POST $API/api/frameworks/$FW/publish >/dev/null

# the cycle (local times), then start it: one workflow per unit
as $ADMIN $API/api/cycles -d '{"id":"2024-thu","year":2024,"title":"Đánh giá năm 2024","framework_id":'$FW',
  "units":["xa-a","xa-b"],"opens_at":"2024-11-01T08:00:00","data_cutoff_at":"2030-11-20T23:59:59",
  "submission_deadline":"2030-11-22T17:00:00","hard_lock_at":"2030-11-25T17:00:00",
  "appraisal_deadline":"2030-12-10T17:00:00","results_target":"2030-12-20T08:00:00"}'
as $ADMIN -X POST $API/api/cycles/2024-thu/start
A=$(as $ADMIN $API/api/units | jq '.[] | select(.code=="xa-a") | .id')
B=$(as $ADMIN $API/api/units | jq '.[] | select(.code=="xa-b") | .id')

for pair in "a $A" "b $B"; do set -- $pair
  VP=$(tok vp-$1 van-phong-mat-khau-$1); CB=$(tok cb-$1 can-bo-mat-khau-$1)
  # assign area II to the staff member, who drafts a criterion; the server scores it
  as $VP -X PUT $API/api/cycles/2024-thu/units/$2/assignments -d '{"assignments":[{"codes":["II"],"username":"cb-'$1'"}]}'
  as $CB -X PUT $API/api/cycles/2024-thu/units/$2/criteria/2.1.1/draft \
     -d '{"inputs":{"level":"full"},"explanation":"Kế hoạch số 15/KH-UBND."}'
  curl -s -H "Authorization: Bearer $CB" -F file=@/tmp/ke-hoach.pdf -F doc_number=15/KH-UBND -F doc_date=15/01/2024 \
     $API/api/cycles/2024-thu/units/$2/criteria/2.1.1/evidence
  as $VP -X POST $API/api/cycles/2024-thu/units/$2/submit -d '{"proposed_class":"good"}'
done

# the council appraises and finalises both units
TT=$(tok thanh-tra hoi-dong-tham-dinh-tt)
for U in $A $B; do
  as $TT -X POST $API/api/cycles/2024-thu/units/$U/start-appraisal
  as $TT -X PUT $API/api/cycles/2024-thu/units/$U/criteria/2.1.2/appraisal -d '{"inputs":{"level":"full"},"comment":"Đạt."}'
  # only this agency is in the walkthrough: finalise with the others' criteria as self-scored
  as $TT -X POST $API/api/cycles/2024-thu/units/$U/finalise \
     -d '{"override":true,"reason":"Các cơ quan khác không đề nghị điều chỉnh điểm tự chấm."}'
done

# classification, publication, results
as $ADMIN -X POST $API/api/cycles/2024-thu/close-appraisal
as $ADMIN -X POST $API/api/cycles/2024-thu/classify
as $ADMIN -X POST $API/api/cycles/2024-thu/publish
as $ADMIN $API/api/cycles/2024-thu/results | jq
as $ADMIN "$API/api/cycles/2024-thu/units/$A/audit" | jq '.[] | [.at, .actor, .entity, .action]'
