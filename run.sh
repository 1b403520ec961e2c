#!/usr/bin/env bash
# Kith's two everyday commands (see README):
#   ./run.sh demo   build Kith, load the demo people, serve on http://127.0.0.1:3000
#   ./run.sh test   run every test: unit, integration and HTTP on SQLite and
#                   PostgreSQL, then the browser tests with and without JavaScript
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

build_site() {
  # cargo-leptos finds tailwindcss, wasm-bindgen (and wasm-opt for release)
  # on PATH and so never downloads anything.
  cargo leptos build
}

case "${1:-}" in
  demo)
    scripts/install-tools.sh build
    build_site
    ./target/debug/kith demo
    exec ./target/debug/kith serve "${@:2}"
    ;;
  test)
    scripts/install-tools.sh test
    export KITH_TEST_POSTGRES_URL="${KITH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    if cargo fmt --version >/dev/null 2>&1; then
      echo "==> Formatting (cargo fmt --check; rustfmt.toml)"
      cargo fmt --check >/dev/null || { echo "Some Rust files are not formatted: run cargo fmt" >&2; exit 1; }
    fi
    if cargo clippy --version >/dev/null 2>&1; then
      echo "==> Lints (cargo clippy, warnings are errors)"
      cargo clippy --all-targets --quiet -- -D warnings
    fi
    echo "==> Rust tests (SQLite and PostgreSQL)"
    cargo test -p kith-core -p kith-types -p kith-fhir -p kith-smart -p kith-oidc
    cargo test -p kith
    echo "==> Building the site"
    build_site
    echo "==> Command-line tools"
    scripts/cli-test.sh
    scripts/e2e.sh sqlite
    scripts/e2e.sh postgres
    echo "All tests passed."
    ;;
  *)
    sed -n '2,6p' "$0"
    exit 2
    ;;
esac
