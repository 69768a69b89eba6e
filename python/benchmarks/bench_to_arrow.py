"""``to_arrow()`` throughput as a user calls it: ``tenant.query(SQL).to_arrow()`` on a
full-table SELECT of eight customer columns (id, email, name, department, status,
created_at, updated_at, attributes; every other name NULL), timed end to end (query and
export together), best and median of ``runs``. Also prints the two halves separately, and the same
SELECT through the Rust API (``core/examples/scan_rows.rs``, same rows, run with cargo
right after) for the engine's own share. The issue's target: at least 5M rows/s on 1M
rows. Not a test; numbers vary by machine and load.

    .venv/bin/python python/benchmarks/bench_to_arrow.py [rows=1000000] [runs=3]

Needs pyarrow; the Rust comparison needs ``cargo`` on PATH and a checkout (skipped with
``--no-rust``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import cidb
from _rust import run_example

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(ARGS[0]) if ARGS else 1_000_000
RUNS = int(ARGS[1]) if len(ARGS) > 1 else 3
NOW = 1_700_000_000_000
# Kept identical to core/examples/scan_rows.rs.
SQL = ("SELECT id, email, name, department, status, created_at, updated_at, attributes "
       "FROM customers")


def load(t: cidb.Tenant) -> None:
    for start in range(0, N, 50_000):
        t.upsert_customers([
            {"id": f"c{i:07}", "email": f"c{i}@example.com",
             "name": f"Customer {i}" if i % 2 == 0 else None,
             "department": f"d{i % 10}", "status": "active",
             "created_at": NOW + i, "updated_at": NOW + i,
             "attributes": {"tier": "gold" if i % 2 else "silver", "seats": i % 50}}
            for i in range(start, min(start + 50_000, N))
        ])


def timed(f: Callable[[], Any]) -> tuple[float, float]:
    """Best and median seconds of ``RUNS`` calls."""
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        r = f()
        times.append(time.perf_counter() - t0)
        del r
    return min(times), statistics.median(times)


def line(label: str, b: float, m: float | None = None) -> None:
    """One row: the best time and, where measured here, the median."""
    med = f"   (median {m * 1e3:.1f} ms, {N / m / 1e6:.2f} M rows/s)" if m is not None else ""
    print(f"  {label:<34} {b * 1e3:8.1f} ms  {N / b / 1e6:6.2f} M rows/s{med}")


def main() -> None:
    with tempfile.TemporaryDirectory() as d, cidb.open(Path(d) / "db", profile="production") as db:
        t = db.tenant("bench")
        load(t)
        table = t.query(SQL).to_arrow()
        assert table.num_rows == N and table.num_columns == 8
        assert table.column("name").null_count == N // 2
        print(f"{N} rows x 8 columns (customers), best and median of {RUNS}")
        line("query(SQL).to_arrow()  [end to end]", *timed(lambda: t.query(SQL).to_arrow()))
        line("query(SQL)             [query only]", *timed(lambda: t.query(SQL)))
        r = t.query(SQL)
        line("result.to_arrow()      [export only]", *timed(r.to_arrow))
    if "--no-rust" not in sys.argv:
        rust = run_example("scan_rows", N, RUNS)
        line("Rust Tenant::query         [rows]", rust["rows_ms"] / 1e3)
        line("Rust query_column_chunks [columns]", rust["columns_ms"] / 1e3)


if __name__ == "__main__":
    main()
