"""Notebook-style example: find the high-churn-risk segment with SQL.

Builds a synthetic customer base as pandas frames, loads it with ``import_records``, asks
cidb which department/status segment has the most high churn-risk customers, and prints
the score distribution of that segment. Plots a histogram when matplotlib is installed.

    python python/examples/churn_segments.py [db_dir]
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import pandas as pd

import cidb

N = 20_000
rng = np.random.default_rng(42)
now = int(time.time() * 1000)

# %% Generated data: customers and one churn_risk score each (sales/trial skews high).
depts = rng.choice(["sales", "support", "eng", "ops"], N)
status = rng.choice(["active", "trial", "paused"], N, p=[0.6, 0.3, 0.1])
customers = pd.DataFrame({
    "id": [f"c{i:06d}" for i in range(N)],
    "department": depts,
    "status": status,
    "created_at": now - rng.integers(0, 365, N) * 86_400_000,
})
base = rng.beta(2, 5, N)
base[(depts == "sales") & (status == "trial")] += 0.35
scores = pd.DataFrame({
    "customer_id": customers["id"],
    "score_type": "churn_risk",
    "score": np.clip(base, 0, 1).round(4),
    "confidence": rng.uniform(0.5, 1.0, N).round(3),
    "created_at": now - rng.integers(0, 30, N) * 60_000,
    "model": "gbm-v3",
})

path = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="cidb-churn-")
with cidb.open(path) as db:
    acme = db.tenant("acme")
    # %% Load
    print(acme.import_records("customers", customers))
    print(acme.import_records("customer_scores", scores))

    # %% Which segment has the most high-risk customers?
    seg = acme.query(
        "SELECT c.department, c.status, COUNT(*), AVG(s.score) FROM customers c "
        "JOIN latest_scores s ON s.customer_id = c.id "
        "WHERE s.score_type = ? AND s.score > ? GROUP BY c.department, c.status "
        "ORDER BY 3 DESC LIMIT 5",
        ["churn_risk", 0.7],
    )
    top = seg.to_pandas()
    print(top)
    dept, stat = top.iloc[0, 0], top.iloc[0, 1]
    print(f"highest-risk segment: {dept}/{stat}")

    # %% Score distribution of that segment, through a prepared statement and Arrow.
    st = acme.prepare(
        "SELECT c.id, s.score, s.confidence FROM customers c "
        "JOIN latest_scores s ON s.customer_id = c.id "
        "WHERE c.department = ? AND c.status = ? AND s.score_type = ?"
    )
    r = st.query([dept, stat, "churn_risk"])
    df = r.to_pandas()
    print(df["score"].describe())
    print("query stats:", {k: r.stats[k] for k in ("rows_examined", "elapsed_ns", "plan")})

    # %% Optional plot
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
    else:
        ax = df["score"].plot.hist(bins=30, title=f"churn_risk, {dept}/{stat}")
        out = f"{path}/churn_{dept}_{stat}.png"
        ax.figure.savefig(out)
        print("plot written to", out)
