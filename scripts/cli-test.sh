#!/usr/bin/env bash
# The command-line tools end to end on a fresh SQLite file: create a patient,
# import a multiprovider fixture, print the merged record, export it, and
# validate the export as FHIR R4 with fhirkit-rs.
set -euo pipefail
cd "$(dirname "$0")/.."
kith=./target/debug/kith
fixtures=../shared/fixtures/multiprovider/ray
dir="$(mktemp -d)"; trap 'rm -rf "$dir"' EXIT
export KITH_DATABASE_URL="sqlite://$dir/kith.db" KITH_LOG=warn

fail() { echo "cli-test: $*" >&2; exit 1; }

echo "kettle orange stairs" | $kith user add --email ray@example.com --name "Ray Lindgren" --role patient --nhs-number 9992649690 --birth-date 1995-06-22 >/dev/null
$kith import --nhs-number 9992649690 --source-kind gp --json "$fixtures"/01-*.json > "$dir/gp.json"
python3 - "$dir/gp.json" <<'PY'
import json, sys
[s] = json.load(open(sys.argv[1]))
assert s["outcome"] == "accepted" and s["new"] == 1029 and s["unchanged"] == 0, s
PY
$kith import --nhs-number 9992649690 --source-kind hospital "$fixtures"/02-*.json >/dev/null
$kith import --nhs-number 9992649690 --source-kind community "$fixtures"/03-*.json >/dev/null

# A refused file: non-zero exit, the reason names both NHS Numbers, nothing stored.
if $kith import --nhs-number 9992649690 --source-kind gp --json "$fixtures/bad-wrong-patient.json" > "$dir/bad.json"; then
  fail "a feed for another patient was accepted"
fi
grep -q "999 636 3430" "$dir/bad.json" && grep -q "999 264 9690" "$dir/bad.json" || fail "refusal does not name both numbers: $(cat "$dir/bad.json")"

# Re-importing says nothing changed.
$kith import --nhs-number 9992649690 "$fixtures"/01-*.json | grep -q "nothing new" || fail "re-import did not say nothing changed"

$kith record --nhs-number 9992649690 --json > "$dir/record.json"
python3 - "$dir/record.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
entries = r["entries"]
assert any(len({s["organisation"] for s in e["sources"]}) >= 2 for e in entries), "no merged entry"
assert any(e["disagreements"] for e in entries), "no disagreement flagged"
assert all(e["kind"] and e["label"] and e["sources"] for e in entries)
PY

$kith export --nhs-number 9992649690 > "$dir/export.json"
out="$(fhirkit validate "$dir/export.json" 2>&1)" || fail "export does not validate: $out"
case "$out" in *error*) fail "export has errors: $out" ;; esac
echo "CLI tests passed ($(python3 -c "import json;print(len(json.load(open('$dir/export.json'))['entry']))") resources exported, valid R4)"
