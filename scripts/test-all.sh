#!/usr/bin/env bash
# Runs every test suite of cidb: Rust (workspace), C (ASan + Valgrind), Python (venv +
# pytest + stubtest), Node (npm ci + node --test), smoke runs of the CLI, and a bounded
# run of every fuzz target (cargo-fuzz, installed when missing).
# Installs what it needs into the repository (.venv, node/node_modules); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=never

step() { printf '\n==== %s ====\n' "$*"; }

step "Rust: build (release)"
cargo build --release --workspace --exclude cidb-node --exclude cidb-python

step "Rust: tests"
cargo test --workspace --exclude cidb-node

step "CLI: demo smoke run (twice: build, then reuse)"
demo_dir=$(mktemp -d)
trap 'rm -rf "$demo_dir"' EXIT
./target/release/cidb demo --dir "$demo_dir/db" --customers 2000
./target/release/cidb demo --dir "$demo_dir/db" --customers 2000 | tee "$demo_dir/second.txt"
grep -q "reused the existing dataset" "$demo_dir/second.txt"
grep -q "^top statements" "$demo_dir/second.txt"
grep -q " ON customers(name" "$demo_dir/second.txt"   # the advisor on the demo's unindexed pattern

step "CLI: bench smoke run (every workload runs; cidb and SQLite return the same rows)"
./target/release/cidb bench --quick --vs sqlite --customers 2000 --dir "$demo_dir" \
  --json "$demo_dir/bench.json" --report "$demo_dir/bench.html"

for suite in tests/c/run.sh python/run-tests.sh node/run-tests.sh; do
  step "$suite"
  bash "$root/$suite"
done

step "fuzz smoke (every cargo-fuzz target, 2,000 executions from the committed seeds, fixed seed)"
bash "$root/scripts/fuzz-smoke.sh"

step "all suites passed"
