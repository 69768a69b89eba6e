"""Throughput of the Python binding's bulk and cache paths (not a test; numbers vary by
machine). Run after `bash python/run-tests.sh` has installed the package:

    .venv/bin/python python/benchmarks/bench_python.py [rows]

Prints rows/s for each import source (CSV, JSONL, list of dicts, pandas DataFrame, pyarrow
Table) into a fresh database, and operations/s for the application cache from one thread.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import cidb

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
T0 = 1_714_564_800_000


def rows() -> list[dict[str, Any]]:
    return [
        {"customer_id": f"c{i % 5000}", "score_type": "churn", "score": (i % 1000) / 1000,
         "confidence": 0.9, "created_at": T0 + i, "model": "gbm"}
        for i in range(N)
    ]


def timed(label: str, work: Callable[[cidb.Tenant], Any]) -> None:
    with tempfile.TemporaryDirectory() as d, cidb.open(Path(d) / "db") as db:
        t = db.tenant("bench")
        t0 = time.perf_counter()
        report = work(t)
        dt = time.perf_counter() - t0
        assert report["imported"] == N, report
        print(f"import {label:<22} {N:>8} rows  {dt:6.2f} s  {N / dt:>10,.0f} rows/s")


def main() -> None:
    data = rows()
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "s.csv"
        jsonl = Path(d) / "s.jsonl"
        cols = list(data[0])
        csv.write_text(",".join(cols) + "\n" + "".join(",".join(str(r[c]) for c in cols) + "\n" for r in data))
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in data))
        timed("csv file", lambda t: t.import_csv("customer_scores", csv))
        timed("jsonl file", lambda t: t.import_jsonl("customer_scores", jsonl))
    timed("list of dicts", lambda t: t.import_records("customer_scores", data))
    try:
        import pandas as pd
        import pyarrow as pa
    except ImportError:
        print("pandas / pyarrow not installed: frame imports skipped")
    else:
        df = pd.DataFrame(data)
        df["created_at"] = pd.to_datetime(df["created_at"], unit="ms", utc=True)
        timed("pandas DataFrame", lambda t: t.import_records("customer_scores", df))
        table = pa.Table.from_pandas(df, preserve_index=False)
        timed("pyarrow Table", lambda t: t.import_records("customer_scores", table))

    with tempfile.TemporaryDirectory() as d, cidb.open(Path(d) / "db") as db:
        c = db.tenant("bench").cache
        value = b"x" * 200
        n = 100_000
        for label, op in [
            ("cache.set (200 B)", lambda i: c.set(f"k{i % 1000}", value)),
            ("cache.get (hit)", lambda i: c.get(f"k{i % 1000}")),
            ("cache.get (miss)", lambda i: c.get(f"m{i}")),
            ("cache.get_or_set (hit)", lambda i: c.get_or_set(f"k{i % 1000}", lambda: value)),
        ]:
            t0 = time.perf_counter()
            for i in range(n):
                op(i)
            dt = time.perf_counter() - t0
            print(f"{label:<29} {n:>8} ops   {dt:6.2f} s  {n / dt:>10,.0f} ops/s  {dt / n * 1e6:6.2f} us/op")


if __name__ == "__main__":
    main()
