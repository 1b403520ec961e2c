#!/usr/bin/env bash
# Browser tests against a freshly built Kith on a fresh database.
#   scripts/e2e.sh sqlite|postgres [playwright args...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
backend="${1:-sqlite}"; shift || true

dir="$(mktemp -d)"
export KITH_AUDIT_KEY_FILE="$dir/audit.key"
case "$backend" in
  sqlite)
    trap 'rm -rf "$dir"' EXIT
    export KITH_DATABASE_URL="sqlite://$dir/kith.db"
    ;;
  postgres)
    # As a deployment should run it: the admin owns the tables and migrates
    # them (KITH_DATABASE_OWNER_URL); Kith runs as a login role granted
    # kith_app, which cannot change the access log (migration 0015).
    admin="${KITH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    name="kith_e2e_$$"
    app="kith_e2e_app_$$"
    password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "DROP ROLE IF EXISTS $app" >/dev/null; rm -rf "$dir"' EXIT
    psql -q "$admin" -c "CREATE DATABASE $name" -c "CREATE ROLE $app LOGIN PASSWORD '$password'"
    # Migration 0015 makes kith_app where it is missing; it must exist to be granted first.
    psql -q "$admin" -c "DO \$\$ BEGIN CREATE ROLE kith_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$" \
      -c "GRANT kith_app TO $app"
    export KITH_DATABASE_OWNER_URL="${admin%/*}/$name"
    export KITH_DATABASE_URL="$(sed -E "s#^(postgres(ql)?://)([^@/]*@)?#\1$app:$password@#" <<<"${admin%/*}")/$name"
    ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

echo "==> Browser tests on $backend"
(cd end2end && npx playwright test "$@")

# After the whole suite the records' access logs hold every kind of event
# the app writes (links, failed passcodes, emergency access, sign-ins,
# comments, account changes ...): every chain must verify, and every
# record's AuditEvent export must validate as FHIR R4.
if [ $# -eq 0 ]; then
  echo "==> The access logs the browser tests left"
  kith=target/debug/kith
  verified="$($kith audit verify)" || { echo "$verified" >&2; exit 1; }
  for nhs in $(sed -n 's/^\([0-9]\{10\}\): ok.*/\1/p' <<<"$verified"); do
    $kith audit export --nhs-number "$nhs" > "$dir/audit-$nhs.json"
    out="$(fhirkit validate "$dir/audit-$nhs.json" 2>&1)" || { echo "AuditEvent export of $nhs does not validate: $out" >&2; exit 1; }
    case "$out" in *error*) echo "AuditEvent export of $nhs has errors: $out" >&2; exit 1 ;; esac
  done
  python3 - "$dir"/audit-*.json <<'PY'
import json, sys
kinds = {e["resource"]["subtype"][0]["code"] for f in sys.argv[1:] for e in json.load(open(f))["entry"]}
want = {"view", "share", "revoke", "comment", "export", "sign-in", "sign-in-failed", "passcode-failed", "break-glass", "update", "import"}
assert want <= kinds, f"the browser tests left no {sorted(want - kinds)} in the logs (found {sorted(kinds)})"
print(f"{len(sys.argv) - 1} records' logs verified and valid as FHIR AuditEvents, with {len(kinds)} kinds of event: {', '.join(sorted(kinds))}")
PY
fi
