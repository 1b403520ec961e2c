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
    admin="${KITH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    name="kith_e2e_$$"
    psql -q "$admin" -c "CREATE DATABASE $name"
    trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null; rm -rf "$dir"' EXIT
    export KITH_DATABASE_URL="${admin%/*}/$name"
    ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

echo "==> Browser tests on $backend"
cd end2end
npx playwright test "$@"
