#!/usr/bin/env bash
# Builds the Node package `cidb` from source and runs every check, from a fresh checkout or
# again on a used one (idempotent):
#   1. npm ci            exact dev tools from package-lock.json (npm registry only)
#   2. npm run build     napi build --platform --release (cargo builds cidb-node)
#   3. staleness         the regenerated index.js / index.d.ts must equal the committed ones
#   4. tsc --noEmit      the typed example in test/types type-checks against index.d.ts
#   5. node --test       the test suite
# Needs: cargo (Rust >= 1.90), Node >= 20.17 and npm (the @napi-rs/cli 3 requirement; the
# built addon itself runs on Node >= 18).
set -euo pipefail
cd "$(dirname "$0")"

echo "== npm ci"
npm ci --no-audit --no-fund

echo "== napi build"
npm run build

echo "== generated files are up to date"
if ! git -C .. diff --exit-code -- node/index.d.ts node/index.js; then
  echo "node/index.d.ts or node/index.js is stale: commit the regenerated files" >&2
  exit 1
fi

echo "== tsc --noEmit"
npm run typecheck

echo "== node --test"
node --test test/*.test.js
