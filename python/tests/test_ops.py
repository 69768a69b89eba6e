"""The operations layer from Python: the index advisor (`advise`, `advise_apply`) on a
workload run through SQL, `optimize`, `health`, `metrics` / `metrics_prometheus`, argument
checks and the closed engine."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cidb
from cidb import _cidb
from cidb.types import Recommendation

N = 1500  # customers
CALLS = 20  # executions of the workload query
BY_NAME = "SELECT * FROM customers WHERE name = ?"
DEPTS = ["sales", "support", "eng", "ops"]
T0 = 1_700_000_000_000


def load(t: cidb.Tenant) -> None:
    """N customers with distinct names; no index covers `name`."""
    t.upsert_customers([
        {"id": f"c{i:05d}", "name": f"Name {i}", "email": f"u{i}@example.com",
         "department": DEPTS[i % 4], "status": "active", "created_at": T0 + i}
        for i in range(N)
    ])


def run_workload(t: cidb.Tenant, calls: int = CALLS, start: int = 0) -> None:
    """`calls` lookups by name, each for another customer (no result-cache hits)."""
    stmt = t.prepare(BY_NAME)
    for i in range(start, start + calls):
        (row,) = stmt.query([f"Name {i * 37 % N}"]).fetchall()
        assert row[0] == f"c{i * 37 % N:05d}"


def name_recs(recs: list[Recommendation]) -> list[Recommendation]:
    """The recommendations of an index led by customers.name."""
    return [r for r in recs if r["table"] == "customers" and r["columns"][0] == "name"]


@pytest.fixture
def loaded(db: cidb.Engine, acme: cidb.Tenant) -> cidb.Tenant:
    load(acme)
    db.execute("ANALYZE")
    return acme


def test_advise_recommends_an_index_for_the_unindexed_column(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    assert name_recs(db.advise()["recommendations"]) == []  # nothing recorded yet
    run_workload(loaded)
    advice = db.advise()
    assert advice["queries_considered"] >= 1
    (rec,) = name_recs(advice["recommendations"])
    assert rec["predicate"] is None
    assert rec["create_sql"].startswith("CREATE INDEX CONCURRENTLY ")
    assert f" {rec['name']} ON customers" in rec["create_sql"] and f"({', '.join(rec['columns'])})" in rec["create_sql"]
    assert rec["cost_before"] > rec["cost_after"] >= 0
    assert 0.5 <= rec["gain"] <= 1 and math.isclose(rec["gain"], 1 - rec["cost_after"] / rec["cost_before"])
    (q,) = [q for q in rec["queries"] if q["query"] == BY_NAME]
    assert q["calls"] == CALLS and q["cost_before"] > q["cost_after"]
    assert q["plan_before"].startswith("SCAN customers") and rec["name"] in q["plan_after"]
    (fp,) = [f for f in db.top(100) if f["query"] == BY_NAME]
    assert q["fingerprint"] == fp["id"]
    # Seed indexes serve every customer_id; the email index was not read by the workload.
    assert advice["unindexed_foreign_keys"] == []
    (unused,) = [u for u in advice["unused_indexes"] if u["name"] == "idx_customers_email_partial"]
    assert unused["table"] == "customers" and unused["entries"] == N and unused["unique"] is False
    assert unused["drop_sql"] == "DROP INDEX idx_customers_email_partial"
    # Nothing built by advising.
    assert rec["name"] not in {i["name"] for i in db.indexes()}


def test_advise_options_filter(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    run_workload(loaded)
    assert name_recs(db.advise(min_calls=CALLS)["recommendations"])
    too_few = db.advise(min_calls=CALLS + 1)
    assert name_recs(too_few["recommendations"]) == []
    assert too_few["queries_considered"] < db.advise()["queries_considered"]
    assert db.advise(max_recommendations=0)["recommendations"] == []
    assert len(db.advise(max_recommendations=1)["recommendations"]) == 1
    # The predicted gain is below 1 (an index lookup still costs something).
    gain = name_recs(db.advise()["recommendations"])[0]["gain"]
    assert name_recs(db.advise(min_gain=min(1.0, gain + 1e-6))["recommendations"]) == []
    assert name_recs(db.advise(min_gain=0)["recommendations"])


def test_advise_apply_builds_and_the_plan_uses_it(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    assert db.advise_apply() == []  # no workload, nothing to build
    run_workload(loaded)
    assert "SCAN customers" in loaded.explain(BY_NAME, ["Name 5"])
    built = db.advise_apply(0.5)
    (rec,) = name_recs(built)
    info = {i["name"]: i for i in db.indexes()}[rec["name"]]
    assert info["table"] == "customers" and info["columns"] == rec["columns"] and info["ready"] and info["entries"] == N
    assert db.check_index(rec["name"])["missing"] == 0
    assert rec["name"] in loaded.explain(BY_NAME, ["Name 5"])
    assert name_recs(db.advise()["recommendations"]) == []
    assert db.advise_apply() == []  # idempotent: nothing left to build
    # The index is used from now on, and the metrics count it.
    run_workload(loaded, 5, start=CALLS)
    (usage,) = [u for u in db.metrics()["index_usage"] if u["name"] == rec["name"]]
    assert usage["table"] == "customers" and usage["uses"] >= 5


def test_advise_reports_an_unindexed_foreign_key(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    db.execute("DROP INDEX idx_conversation_messages_customer_id_timestamp_role")
    (fk,) = db.advise()["unindexed_foreign_keys"]
    assert (fk["table"], fk["column"], fk["references"]) == ("conversation_messages", "customer_id", "customers.id")
    assert fk["create_sql"].startswith("CREATE INDEX CONCURRENTLY ") and "(customer_id)" in fk["create_sql"]


def test_optimize_skips_below_the_threshold_then_builds(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    run_workload(loaded)
    r = db.optimize(min_gain=1.0)
    assert r["applied"] == [] and r["failed"] == []
    (skipped,) = name_recs(r["skipped"])
    assert skipped["name"] not in {i["name"] for i in db.indexes()}
    assert r["analyze_ms"] >= 0 and r["elapsed_ms"] >= r["analyze_ms"] and r["warmed"] >= 0
    assert r["unindexed_foreign_keys"] == []
    assert any(u["name"] == "idx_customers_email_partial" for u in r["unused_indexes"])
    r = db.optimize()
    (applied,) = name_recs(r["applied"])
    assert applied["name"] in {i["name"] for i in db.indexes()}
    assert applied["name"] in loaded.explain(BY_NAME, ["Name 9"])
    assert db.optimize()["applied"] == []


def test_health(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    h = db.health()
    assert set(h) == {"healthy", "status", "storage_writable", "storage_error", "breaker", "cache_open",
                      "indexes", "active_alerts", "problems"}
    assert h["healthy"] is True and h["status"] == "ok" and h["problems"] == []
    assert h["storage_writable"] is True and h["storage_error"] is None and h["cache_open"] is True
    assert h["breaker"]["state"] == "closed" and h["breaker"]["failures"] == 0
    ready = {i["name"] for i in db.indexes() if i["ready"]}
    assert {c["index"] for c in h["indexes"]} == ready and ready
    for c in h["indexes"]:
        assert c["missing"] == 0 and c["extra"] == 0
    # The customers indexes were really sampled (the other tables are empty).
    sampled = [c for c in h["indexes"] if c["index"].startswith("idx_customers_")]
    assert sampled and all(c["rows_checked"] > 0 and c["entries_checked"] > 0 for c in sampled)
    assert h["active_alerts"] == []
    # A slow statement raises an alert: still healthy, but degraded until the window passes.
    _cidb._record_statement(db, "SELECT * FROM customers WHERE status = 'x'", 250.0)
    h = db.health()
    assert h["healthy"] is True and h["status"] == "degraded"
    (alert,) = h["active_alerts"]
    assert alert["kind"] == "slow_query" and alert["value"] == 250.0
    assert isinstance(alert["at"], datetime) and alert["at"].tzinfo == timezone.utc
    assert h["problems"] == [f"alert: {alert['message']}"]


def test_metrics_sections_count_what_was_done(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    loaded.add_score(customer_id="c00001", score_type="churn", score=0.4, confidence=0.9)
    loaded.cache.set("k", b"v")
    assert loaded.cache.get("k") == b"v"
    run_workload(loaded)
    m = db.metrics()
    assert set(m) == {"engine", "cache", "monitor", "index_usage"}
    e = m["engine"]
    assert (e["customers"], e["scores"], e["latest_scores"], e["messages"]) == (N, 1, 1, 0)
    assert e["commits"] >= 2 and e["writes"] >= 2 and e["failed_writes"] == 0
    assert set(e) == set(db.stats())
    c = m["cache"]
    assert set(c) == set(db.cache_stats())
    assert c["l1"]["hits"] >= 1 and c["l1"]["entries"] >= 1
    assert all(isinstance(h["hour_start"], datetime) for h in c["hourly"])
    mon = m["monitor"]
    assert set(mon) == set(db.monitor_stats())
    (fp,) = [f for f in mon["fingerprints"] if f["query"] == BY_NAME]
    assert fp["calls"] == CALLS and fp["rows_returned"] == CALLS and fp["table_scans"] == CALLS
    assert {u["name"] for u in m["index_usage"]} == {i["name"] for i in db.indexes()}


SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? '
    r"(-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$"
)


def test_metrics_prometheus(db: cidb.Engine, loaded: cidb.Tenant) -> None:
    run_workload(loaded)
    (rec,) = name_recs(db.advise_apply())
    run_workload(loaded, 3, start=CALLS)
    text = db.metrics_prometheus()
    assert text.endswith("\n")
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "summary", "histogram", "untyped") and name not in typed
            typed.add(name)
            continue
        assert SAMPLE.match(line), f"not a Prometheus sample: {line!r}"
        assert any(line.startswith(t) for t in typed), f"sample before its # TYPE: {line!r}"
    families = {f.name: f for f in text_string_to_metric_families(text)}
    rows = {s.labels["table"]: s.value for s in families["cidb_rows"].samples}
    assert rows == {"customers": N, "customer_scores": 0, "latest_scores": 0, "conversation_messages": 0}
    # prometheus_client strips `_total` from counter family names.
    uses = {s.labels["index"]: s.value for s in families["cidb_index_uses"].samples}
    assert uses[rec["name"]] >= 3
    calls = {s.labels["query"]: s.value for s in families["cidb_statement_calls"].samples}
    assert calls[BY_NAME] == CALLS + 3
    state = {s.labels["state"]: s.value for s in families["cidb_breaker_state"].samples}
    assert state == {"closed": 1, "open": 0, "half_open": 0}
    assert families["cidb_commits"].samples[0].value == db.stats()["commits"]
    # The statement families are the same as prometheus() gives.
    assert db.prometheus() in text


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), -float("inf")])
def test_bad_min_gain(db: cidb.Engine, bad: float) -> None:
    calls: list[Any] = [lambda: db.advise(min_gain=bad), lambda: db.advise_apply(bad), lambda: db.optimize(bad)]
    for call in calls:
        with pytest.raises(cidb.InvalidInputError, match="min_gain") as e:
            call()
        assert isinstance(e.value, ValueError) and e.value.kind == "invalid_input"


def test_bad_arguments(db: cidb.Engine) -> None:
    with pytest.raises(cidb.InvalidInputError, match="min_calls is -1"):
        db.advise(min_calls=-1)
    with pytest.raises(cidb.InvalidInputError, match="max_recommendations is -2"):
        db.advise(max_recommendations=-2)
    with pytest.raises(TypeError):
        db.advise(0.5)  # type: ignore[misc]
    with pytest.raises(TypeError):
        db.optimize("high")  # type: ignore[arg-type]
    assert db.advise(min_gain=0)["recommendations"] == [] and db.advise(min_gain=1)["recommendations"] == []


def test_closed_engine(db: cidb.Engine) -> None:
    db.close()
    for call in (db.advise, db.advise_apply, db.health, db.optimize, db.metrics, db.metrics_prometheus,
                 lambda: db.advise(min_gain=0.1)):
        with pytest.raises(cidb.ClosedError):
            call()
    # Argument errors win over the closed state (checked before the engine is touched).
    with pytest.raises(cidb.InvalidInputError):
        db.advise(min_gain=2)
