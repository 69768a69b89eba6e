#!/usr/bin/env bash
# Builds and installs the `cidb` Python package from this checkout, then checks the type
# stubs against the built module (mypy's stubtest) and runs the pytest suite.
# Idempotent; works on a fresh machine: creates <repo>/.venv if missing and installs
# maturin, pytest and mypy (and pandas, pyarrow, polars and prometheus_client, which the tests
# use) into it from PyPI. Extra arguments go to pytest.
#   bash python/run-tests.sh            # everything
#   bash python/run-tests.sh -k thread  # a subset of the pytest tests
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$repo/.venv"
py="$venv/bin/python"
# The maturin build backend runs the `maturin` executable from PATH.
export PATH="$venv/bin:$PATH"

if [ ! -x "$py" ]; then
    echo "== creating $venv"
    "${PYTHON:-python3}" -m venv "$venv"
fi

echo "== tools (maturin, pytest, mypy; pandas, pyarrow, polars, prometheus_client for the tests)"
"$py" -m pip install --quiet --upgrade "pip>=23" "maturin>=1.9.4,<2.0" pytest mypy \
    pandas pyarrow polars prometheus_client

# A fresh build each time, into its own target dir so it neither churns nor is churned by
# `cargo build` / `cargo test` in target/ (different profile and environment).
echo "== building and installing ./python"
export CARGO_TARGET_DIR="$repo/target/maturin"
"$py" -m pip install --quiet --no-build-isolation --force-reinstall --no-deps "$repo/python"

# Run from outside the source tree so `import cidb` finds the installed package, not
# python/cidb/ (which has no compiled extension).
cd "$repo/target"

echo "== stubtest"
"$py" -m mypy.stubtest cidb --mypy-config-file "$here/stubtest.ini"

echo "== mypy on the tests (the stubs describe how the tests use the API)"
"$py" -m mypy "$here/tests" --no-incremental --cache-dir=/dev/null

echo "== pytest"
"$py" -m pytest "$here/tests" -q -p no:cacheprovider "$@"
