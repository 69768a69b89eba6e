#!/usr/bin/env bash
# scripts/fuzz-smoke.sh: runs every cidb fuzz target (fuzz/, cargo-fuzz + libFuzzer) for a
# fixed number of executions, starting from the corpus (fuzz/corpus, local) and the committed
# seeds (fuzz/seeds), and fails on any crash,
# panic, divergence, timeout or leak. Prints executions and exec/s per target.
#
# Usage: bash scripts/fuzz-smoke.sh [target...]        (default: all four targets)
# Env:
#   CIDB_FUZZ_RUNS=N        executions per target in the short mode (default 2000)
#   CIDB_FUZZ_SECONDS=S     long mode: run each target for S seconds (no execution cap)
#   CIDB_FUZZ_MAX_SECONDS=S time cap per target in the short mode (default 60)
#   CIDB_FUZZ_SEED=N        libFuzzer seed of the short mode (default 1, so runs repeat)
#   CIDB_FUZZ_INSTALL=0     do not `cargo install cargo-fuzz` when it is missing: skip instead
#   CIDB_FUZZ_KEEP=1        keep new inputs in fuzz/corpus-work/<target> (for `cargo fuzz cmin`)
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address, sanitizer coverage);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. libFuzzer is built from source by
# libfuzzer-sys with the C++ compiler (g++ is enough). A crash leaves the input in
# fuzz/artifacts/<target>/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O --debug-assertions <target> fuzz/artifacts/<target>/<file>
# or on plain stable with
#   cargo test --manifest-path fuzz/Cargo.toml --no-default-features --test replay
# (which replays fuzz/corpus and fuzz/artifacts). Set CIDB_FUZZ_FRESH_ENGINE=1 when
# reproducing an engine_model finding: that target shares one engine across inputs.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

all_targets=(sql_frontend sql_differential c_abi_sequences engine_model)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  if [ "${CIDB_FUZZ_INSTALL:-1}" = 0 ]; then
    echo "SKIP fuzz smoke: cargo-fuzz is not installed (install it with 'cargo install cargo-fuzz --locked'," \
      "or run this script without CIDB_FUZZ_INSTALL=0)"
    exit 0
  fi
  echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked || { echo "FAIL: cannot install cargo-fuzz"; exit 1; }
fi

echo "== building fuzz targets ($(cargo fuzz --version))"
build_log=$(mktemp)
if ! cargo fuzz build -O --debug-assertions >"$build_log" 2>&1; then
  tail -40 "$build_log"
  echo "FAIL: cargo fuzz build"
  exit 1
fi
rm -f "$build_log"

if [ -n "${CIDB_FUZZ_SECONDS:-}" ]; then
  limits=(-runs=-1 "-max_total_time=$CIDB_FUZZ_SECONDS")
  mode="long: ${CIDB_FUZZ_SECONDS}s per target"
else
  # A fixed seed makes the short mode repeatable: the same corpus and seed mutate the same
  # way, so a run that passed here passes in CI (set CIDB_FUZZ_SEED to explore elsewhere).
  limits=("-runs=${CIDB_FUZZ_RUNS:-2000}" "-max_total_time=${CIDB_FUZZ_MAX_SECONDS:-60}" "-seed=${CIDB_FUZZ_SEED:-1}")
  mode="short: ${CIDB_FUZZ_RUNS:-2000} executions (at most ${CIDB_FUZZ_MAX_SECONDS:-60}s) per target, seed ${CIDB_FUZZ_SEED:-1}"
fi
echo "== mode $mode"

failed=0
summary=()
for t in "${targets[@]}"; do
  work="fuzz/corpus-work/$t"
  mkdir -p "$work" "fuzz/corpus/$t"
  [ "${CIDB_FUZZ_KEEP:-0}" = 1 ] || rm -rf "${work:?}"/*
  extra=()
  [ "$t" = sql_frontend ] && extra+=(-dict=fuzz/dicts/sql.dict)
  log="fuzz/corpus-work/$t.log"
  echo "== $t"
  # New inputs go to the work directory (the first one); the committed corpus is only read.
  corpora=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/seeds/$t" ] && corpora+=("fuzz/seeds/$t")
  cargo fuzz run -O --debug-assertions "$t" "${corpora[@]}" -- \
    "${limits[@]}" -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    failed=$((failed + 1))
    grep -E "panicked at|DIVERGENCE|ERROR: libFuzzer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY" "$log" | head -8 | sed 's/^/    | /'
    grep -A2 "^Reproduce with" "$log" | sed 's/^/    | /'
    summary+=("FAIL $t: exit $rc after ${execs:-?} executions (${rate:-?} exec/s); log $log")
  else
    summary+=("PASS $t: ${execs:-?} executions, ${rate:-?} exec/s, ${cov:-cov: ?}, 0 crashes")
  fi
done

echo
printf '%s\n' "${summary[@]}"
echo "$((${#targets[@]} - failed)) passed, $failed failed"
[ $failed -eq 0 ]
