"""Bulk insert of customers from a pandas DataFrame: cidb's ``import_records`` against Python's
``sqlite3`` ``executemany`` into the same schema (the ``customers`` table with its primary
key and its three seed indexes, WAL, ``synchronous=FULL`` like cidb's durable commit), each
in one transaction, in one run. Each side starts from the same DataFrame and pays its own
conversion (cidb converts the frame column by column; for sqlite3 the frame becomes tuples
with ``itertuples``, attributes as JSON text). Not a test; numbers vary by machine and load.

    .venv/bin/python python/benchmarks/bench_bulk_vs_sqlite.py [rows=200000]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import cidb

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
T0 = 1_714_564_800_000
DEPARTMENTS = ["sales", "support", "engineering", "marketing", "finance"]
STATUSES = ["active", "inactive", "churned", "trial"]

# The customers table as cidb's schema has it (`Table::sqlite_ddl`), its primary key, and
# the seed indexes on customers (DESIGN.md; SQLite has no CONCURRENTLY).
SQLITE_SCHEMA = [
    "CREATE TABLE customers (id TEXT NOT NULL, tenant_id TEXT NOT NULL, email TEXT, name TEXT, "
    "department TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, "
    "updated_at INTEGER NOT NULL, attributes TEXT NOT NULL)",
    "CREATE UNIQUE INDEX customers_pk ON customers(tenant_id, id)",
    "CREATE INDEX idx_customers_department_status_created_at ON customers(department, status, created_at)",
    "CREATE INDEX idx_customers_tenant_id_status_department ON customers(tenant_id, status, department)",
    "CREATE INDEX idx_customers_email_partial ON customers(email) WHERE email IS NOT NULL",
]


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [f"c{i:08d}" for i in range(N)],
        "email": [f"c{i}@example.com" if i % 10 else None for i in range(N)],
        "name": [f"Customer {i}" for i in range(N)],
        "department": [DEPARTMENTS[i % len(DEPARTMENTS)] for i in range(N)],
        "status": [STATUSES[(i // 7) % len(STATUSES)] for i in range(N)],
        "created_at": [T0 + i * 1000 for i in range(N)],
        "updated_at": [T0 + i * 1000 for i in range(N)],
        "attributes": [{"tier": "gold" if i % 3 else "silver", "seats": i % 50} for i in range(N)],
    })


def cidb_seconds(df: pd.DataFrame) -> float:
    with tempfile.TemporaryDirectory() as d, cidb.open(Path(d) / "db") as db:
        t = db.tenant("bench")
        t0 = time.perf_counter()
        report = t.import_records("customers", df, batch_size=len(df))
        dt = time.perf_counter() - t0
        assert report["imported"] == len(df), report
        assert t.count_customers() == len(df)
        return dt


def sqlite_seconds(df: pd.DataFrame) -> float:
    with tempfile.TemporaryDirectory() as d:
        c = sqlite3.connect(Path(d) / "s.db", isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        for s in SQLITE_SCHEMA:
            c.execute(s)
        t0 = time.perf_counter()
        rows = (
            (r.id, "bench", r.email, r.name, r.department, r.status, r.created_at, r.updated_at,
             json.dumps(r.attributes, separators=(",", ":")))
            for r in df.itertuples(index=False)
        )
        c.execute("BEGIN")
        c.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        c.execute("COMMIT")
        dt = time.perf_counter() - t0
        (n,) = c.execute("SELECT count(*) FROM customers").fetchone()
        assert n == len(df)
        c.close()
        return dt


def main() -> None:
    df = frame()
    s = sqlite_seconds(df)
    c = cidb_seconds(df)
    print(f"bulk insert of {N} customers from a DataFrame, one transaction each")
    print(f"  sqlite3 executemany  {s:7.2f} s  {N / s:>10,.0f} rows/s")
    print(f"  cidb import_records  {c:7.2f} s  {N / c:>10,.0f} rows/s")
    print(f"  cidb / sqlite3       {s / c:7.2f}x")


if __name__ == "__main__":
    main()
