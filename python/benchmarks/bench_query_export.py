"""to_arrow / fetchall / to_pandas on a 200k-row, 6-column result (best of 3).
Run: .venv/bin/python python/benchmarks/bench_query_export.py"""
import tempfile, time, cidb
with cidb.open(tempfile.mkdtemp()) as db:
    t = db.tenant("a")
    n = 200_000
    t.add_scores([{"customer_id": f"c{i%5000}", "score_type": f"s{i//5000}", "score": (i % 997)/997,
                   "confidence": 0.5, "created_at": 1_700_000_000_000 + i, "model": None if i % 3 else "m"} for i in range(n)])
    r = t.query("SELECT customer_id, score_type, score, confidence, created_at, model FROM customer_scores")
    assert r.rowcount == n
    for name, f in [("to_arrow", r.to_arrow), ("fetchall", r.fetchall), ("to_pandas", r.to_pandas)]:
        best = 1e9
        for _ in range(3):
            if name == "fetchall":
                r = t.query("SELECT customer_id, score_type, score, confidence, created_at, model FROM customer_scores"); f = r.fetchall
            t0 = time.perf_counter(); out = f(); best = min(best, time.perf_counter() - t0)
        print(f"{name}: {best*1000:.1f} ms for {n} rows x 6 cols = {n/best/1e6:.2f} M rows/s")
