#!/usr/bin/env bash
# Fails when a function declared in include/cidb.h is not called by any C/C++ test in
# tests/c (test_*.c, test_*.cpp, harness.h). Prints the missing names.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HEADER="$ROOT/include/cidb.h"
SOURCES=("$ROOT"/tests/c/test_*.c "$ROOT"/tests/c/test_*.cpp "$ROOT"/tests/c/harness.h)

# Declarations start in column 0 with their return type: "enum cidb_status cidb_x(".
mapfile -t functions < <(grep -E '^[A-Za-z].*\bcidb_[a-z0-9_]+\(' "$HEADER" | grep -oE '\bcidb_[a-z0-9_]+\(' | tr -d '(' | sort -u)
if [ "${#functions[@]}" -eq 0 ]; then
  echo "no functions found in $HEADER" >&2
  exit 1
fi
missing=0
for f in "${functions[@]}"; do
  if ! grep -qE "\\b$f[[:space:]]*\\(" "${SOURCES[@]}"; then
    echo "not called by any test: $f" >&2
    missing=$((missing + 1))
  fi
done
echo "${#functions[@]} functions in include/cidb.h, $missing not called by the tests"
[ "$missing" -eq 0 ]
