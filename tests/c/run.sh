#!/usr/bin/env bash
# tests/c/run.sh: the C suite of cidb. Builds the library (cargo build --release -p cidb-c),
# checks include/cidb.h is not stale and that every header function is called by a test,
# compiles and runs the C, C++ and pthreads tests, runs them again built with
# AddressSanitizer + UBSan (linked statically with libcidb_c.a) and under Valgrind
# (Memcheck, full leak check), proves both tools catch a leak of a cidb allocation
# (canary_leak.c), and builds the pkg-config and CMake examples. Ends with the line
# "N passed, M failed"; exits non-zero when anything failed.
#
# Usage: bash tests/c/run.sh            (from anywhere)
# Env:   SKIP_VALGRIND=1 / SKIP_ASAN=1  (skip those passes; they are reported as skipped)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
LIB="$ROOT/target/release"
OUT="$ROOT/target/c-tests"
LOGS="$OUT/logs"
mkdir -p "$OUT/plain" "$OUT/asan" "$LOGS"

CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I"$ROOT/include")
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -g -I"$ROOT/include")
DYNAMIC=(-L"$LIB" -lcidb_c -Wl,-rpath,"$LIB" -pthread)
STATIC=("$LIB/libcidb_c.a" -pthread -ldl -lm -lrt -lutil)
SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible
  --suppressions="$ROOT/tests/c/valgrind.supp")
PROGRAMS=(test_api test_threads test_bad_input test_context test_feed test_admin test_ops test_import test_sql test_sql_patterns test_cache test_cpp)

passed=0
failed=0
skipped=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "SKIP $*"; skipped=$((skipped + 1)); }
show() { sed 's/^/    | /' "$1" | tail -n "${2:-25}"; }

# Compiles tests/c/$1.{c,cpp} into $2 with the remaining arguments as link flags.
build() {
  local name=$1 dest=$2
  shift 2
  local log="$LOGS/build-$(basename "$(dirname "$dest")")-$name.log"
  if [ -f "tests/c/$name.cpp" ]; then
    g++ "${CXXFLAGS[@]}" "${EXTRA[@]}" "tests/c/$name.cpp" -o "$dest" "$@" >"$log" 2>&1
  else
    gcc "${CFLAGS[@]}" "${EXTRA[@]}" "tests/c/$name.c" -o "$dest" "$@" >"$log" 2>&1
  fi || {
    fail "compile $dest"
    show "$log"
    return 1
  }
}

echo "== build: cargo build --release -p cidb-c"
if ! cargo build --release -p cidb-c >"$LOGS/cargo.log" 2>&1; then
  show "$LOGS/cargo.log" 40
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== header"
if git diff --quiet --exit-code -- include/ && [ -z "$(git status --porcelain -- include/)" ]; then
  pass "include/cidb.h matches the committed header after the build"
else
  fail "include/cidb.h is stale: commit the regenerated header"
  git --no-pager diff --stat -- include/
fi
if bash tests/c/check_coverage.sh >"$LOGS/coverage.log" 2>&1; then
  pass "every header function is called by a test ($(tail -1 "$LOGS/coverage.log"))"
else
  fail "header functions not called by any test"
  show "$LOGS/coverage.log"
fi

echo "== plain build (gcc/g++ -Wall -Wextra -Werror, dynamic libcidb_c.so)"
EXTRA=()
for p in "${PROGRAMS[@]}"; do
  build "$p" "$OUT/plain/$p" "${DYNAMIC[@]}" || continue
  log="$LOGS/plain-$p.log"
  "$OUT/plain/$p" >"$log" 2>&1
  rc=$?
  result=$(grep -E '^RESULT ' "$log" | tail -1)
  cases_ok=$(sed -nE 's/.*passed=([0-9]+).*/\1/p' <<<"$result")
  cases_bad=$(sed -nE 's/.*failed=([0-9]+).*/\1/p' <<<"$result")
  grep -E '^(ok  |FAIL) ' "$log" | sed 's/^/  /'
  passed=$((passed + ${cases_ok:-0}))
  failed=$((failed + ${cases_bad:-0}))
  if [ -z "$result" ] || { [ "$rc" -ne 0 ] && [ "${cases_bad:-0}" -eq 0 ]; }; then
    fail "$p exited with status $rc without a clean RESULT line"
    show "$log"
  elif [ "${cases_bad:-0}" -ne 0 ]; then
    show "$log" 60
  fi
done

echo "== AddressSanitizer + UBSan (static libcidb_c.a)"
if [ "${SKIP_ASAN:-0}" = 1 ]; then
  skip "ASan pass (SKIP_ASAN=1)"
else
  EXTRA=("${SAN[@]}")
  for p in "${PROGRAMS[@]}"; do
    build "$p" "$OUT/asan/$p" "${STATIC[@]}" || continue
    if "$OUT/asan/$p" >"$LOGS/asan-$p.log" 2>&1; then
      pass "asan: $p ($(grep -oE 'passed=[0-9]+' "$LOGS/asan-$p.log" | tail -1))"
    else
      fail "asan: $p"
      show "$LOGS/asan-$p.log" 40
    fi
  done
  # The canary leaks a cidb string on purpose; ASan must report it. With line-tables-only
  # debug info the trace names the frame `c_string bindings/c/src/ffi.rs`, not its path.
  if build canary_leak "$OUT/asan/canary_leak" "${STATIC[@]}"; then
    if "$OUT/asan/canary_leak" >"$LOGS/asan-canary.log" 2>&1; then
      fail "asan: canary_leak was not reported (sanitizer does not see cidb allocations)"
    elif grep -q "LeakSanitizer" "$LOGS/asan-canary.log" &&
      grep -qE "cidb_engine_stats|cidb_c::ffi::c_string|in c_string bindings/c/src/ffi\.rs" "$LOGS/asan-canary.log"; then
      pass "asan: reports the deliberate leak in canary_leak (a string allocated by cidb)"
    else
      fail "asan: canary_leak failed for another reason"
      show "$LOGS/asan-canary.log"
    fi
  fi
  EXTRA=()
fi

echo "== Valgrind memcheck (dynamic libcidb_c.so)"
if [ "${SKIP_VALGRIND:-0}" = 1 ]; then
  skip "Valgrind pass (SKIP_VALGRIND=1)"
elif ! command -v valgrind >/dev/null; then
  skip "Valgrind pass (valgrind not installed)"
else
  for p in "${PROGRAMS[@]}"; do
    [ -x "$OUT/plain/$p" ] || continue
    if "${VALGRIND[@]}" "$OUT/plain/$p" >"$LOGS/valgrind-$p.log" 2>&1; then
      pass "valgrind: $p ($(grep -oE 'passed=[0-9]+' "$LOGS/valgrind-$p.log" | tail -1), no errors, no leaks)"
    else
      fail "valgrind: $p"
      show "$LOGS/valgrind-$p.log" 40
    fi
  done
  if build canary_leak "$OUT/plain/canary_leak" "${DYNAMIC[@]}"; then
    if "${VALGRIND[@]}" "$OUT/plain/canary_leak" >"$LOGS/valgrind-canary.log" 2>&1; then
      fail "valgrind: canary_leak was not reported"
    elif grep -q "definitely lost" "$LOGS/valgrind-canary.log" && grep -q "cidb_engine_stats" "$LOGS/valgrind-canary.log"; then
      pass "valgrind: reports the deliberate leak in canary_leak (allocated in cidb_engine_stats)"
    else
      fail "valgrind: canary_leak failed for another reason"
      show "$LOGS/valgrind-canary.log"
    fi
  fi
fi

echo "== pkg-config and CMake"
PCDIR="$OUT/pkgconfig"
mkdir -p "$PCDIR"
version=$(sed -nE 's/^#define CIDB_VERSION "(.*)"/\1/p' include/cidb.h)
sed -e "s|@PREFIX@|$ROOT|" -e "s|@LIBDIR@|$LIB|" -e "s|@VERSION@|$version|" bindings/c/cidb.pc.in >"$PCDIR/cidb.pc"
if ! command -v pkg-config >/dev/null; then
  skip "pkg-config example (pkg-config not installed)"
elif [ "$(PKG_CONFIG_PATH="$PCDIR" pkg-config --modversion cidb 2>/dev/null)" != "$version" ]; then
  fail "pkg-config --modversion cidb != $version"
else
  flags=$(PKG_CONFIG_PATH="$PCDIR" pkg-config --cflags --libs cidb)
  # shellcheck disable=SC2086
  if gcc "${CFLAGS[@]}" tests/c/cmake-example/main.c -o "$OUT/plain/pkgconfig_example" $flags -Wl,-rpath,"$LIB" \
    >"$LOGS/pkgconfig.log" 2>&1 && "$OUT/plain/pkgconfig_example" "$OUT/pkgconfig-db.$$" >>"$LOGS/pkgconfig.log" 2>&1 &&
    grep -q '"name":"Ann"' "$LOGS/pkgconfig.log"; then
    pass "pkg-config: example built with \`pkg-config --cflags --libs cidb\` runs"
  else
    fail "pkg-config example"
    show "$LOGS/pkgconfig.log"
  fi
  rm -rf "$OUT/pkgconfig-db.$$"
fi
if ! command -v cmake >/dev/null; then
  skip "CMake example (cmake not installed; tests/c/cmake-example is shipped untested here)"
else
  rm -rf "$OUT/cmake-build"
  if PKG_CONFIG_PATH="$PCDIR" cmake -S tests/c/cmake-example -B "$OUT/cmake-build" >"$LOGS/cmake.log" 2>&1 &&
    cmake --build "$OUT/cmake-build" >>"$LOGS/cmake.log" 2>&1 &&
    "$OUT/cmake-build/cidb_example" "$OUT/cmake-db.$$" >>"$LOGS/cmake.log" 2>&1 &&
    grep -q '"name":"Ann"' "$LOGS/cmake.log"; then
    pass "cmake: tests/c/cmake-example configures, builds and runs"
  else
    fail "cmake example"
    show "$LOGS/cmake.log"
  fi
  rm -rf "$OUT/cmake-db.$$"
fi

echo "== logs in $LOGS"
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
