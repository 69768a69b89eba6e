"""The statement monitor from Python: top / monitor_stats / prometheus over observations
fed with chosen durations and counts (cidb._cidb._record_statement, so thresholds are hit
without slow statements; test_ops.py checks statements run through SQL), alert callbacks (on
engine threads, exceptions to sys.unraisablehook), and every error path."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cidb
from cidb import _cidb
from cidb.types import Alert

record = _cidb._record_statement


def test_nothing_recorded_yet(db: cidb.Engine) -> None:
    assert db.top() == []
    s = db.monitor_stats()
    assert (s["fingerprints"], s["evicted_fingerprints"], s["slow_queries"], s["alerts"]) == ([], 0, [], [])
    families = {f.name: f for f in text_string_to_metric_families(db.prometheus())}
    assert families["cidb_statement_calls"].samples == []
    assert families["cidb_alerts"].samples[0].value == 0


def test_top_folds_constants_and_orders_by_total_time(db: cidb.Engine) -> None:
    record(db, "SELECT * FROM customers WHERE department = 'a'", 2.0, rows_examined=10, rows_returned=1, index_scans=1)
    record(db, "select *  from customers where department = 'b'", 4.0, rows_examined=30, rows_returned=3, index_scans=1)
    record(db, "SELECT count(*) FROM customer_scores", 50.0, table_scans=1, ok=False)
    top = db.top()
    assert [t["calls"] for t in top] == [1, 2]
    scan, by_name = top
    assert scan["query"] == "SELECT COUNT(*) FROM customer_scores"
    assert (scan["errors"], scan["table_scans"], scan["total_ms"]) == (1, 1, 50.0)
    assert by_name["query"] == "SELECT * FROM customers WHERE department = ?"
    assert (by_name["total_ms"], by_name["mean_ms"], by_name["min_ms"], by_name["max_ms"]) == (6.0, 3.0, 2.0, 4.0)
    assert (by_name["rows_examined"], by_name["rows_returned"], by_name["index_scans"]) == (40, 4, 2)
    assert by_name["min_ms"] <= by_name["p50_ms"] <= by_name["p99_ms"]
    assert len(by_name["id"]) == 16 and int(by_name["id"], 16) >= 0
    assert db.top(1) == top[:1] and db.top(0) == []


def test_monitor_stats_has_the_slow_log_and_alerts(db: cidb.Engine) -> None:
    record(db, "SELECT * FROM conversation_messages WHERE content = 'long'", 150.0)
    record(db, "SELECT 1", 1.0)
    s = db.monitor_stats()
    assert len(s["fingerprints"]) == 2
    (slow,) = s["slow_queries"]
    assert slow["sql"] == "SELECT * FROM conversation_messages WHERE content = 'long'"
    assert slow["fingerprint"] == "SELECT * FROM conversation_messages WHERE content = ?"
    assert slow["elapsed_ms"] == 150.0 and slow["plan"] is None
    assert isinstance(slow["at"], datetime) and slow["at"].tzinfo == timezone.utc
    (alert,) = s["alerts"]
    assert alert["kind"] == "slow_query" and alert["value"] == 150.0 and alert["threshold"] == 100.0
    assert isinstance(alert["at"], datetime)


def test_alert_callbacks(db: cidb.Engine) -> None:
    got: list[Alert] = []
    threads: set[int] = set()

    def on(a: Alert) -> None:
        got.append(a)
        threads.add(threading.get_ident())

    cb = db.on_alert(on)
    record(db, "SELECT a FROM t", 120.0)
    record(db, "SELECT a FROM t", 130.0)  # same statement, same window: one alert
    record(db, "SELECT b FROM t", 1.0, peak_mem_bytes=200 << 20)
    assert [a["kind"] for a in got] == ["slow_query", "query_memory"]
    assert got[0]["fingerprint"] == "SELECT a FROM t" and "120.0 ms" in got[0]["message"]
    assert got[1]["value"] == float(200 << 20)
    assert all(isinstance(a["at"], datetime) for a in got)
    assert db.remove_alert_callback(cb) is True
    assert db.remove_alert_callback(cb) is False
    record(db, "SELECT c FROM t", 500.0)
    assert len(got) == 2
    assert len(db.monitor_stats()["alerts"]) == 3  # the log has them all


def test_alert_callback_exception_goes_to_unraisablehook(db: cidb.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    hooked: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", hooked.append)
    later: list[Alert] = []

    def bad(a: Alert) -> None:
        raise RuntimeError("alert handler failed")

    db.on_alert(bad)
    db.on_alert(later.append)
    record(db, "SELECT slow FROM t", 300.0)  # does not raise here
    assert len(hooked) == 1 and isinstance(hooked[0].exc_value, RuntimeError)
    assert hooked[0].object is bad
    assert [a["kind"] for a in later] == ["slow_query"]  # the next callback still ran


def test_prometheus_text_parses(db: cidb.Engine) -> None:
    # A quoted identifier keeps quotes and a backslash in the label value, which the
    # exposition must escape.
    weird = 'SELECT "we""ird\\name" FROM customers WHERE id = 7'
    record(db, weird, 12.5, rows_examined=3, rows_returned=1, index_scans=1)
    record(db, weird.replace("7", "8"), 7.5, rows_examined=2, rows_returned=2, index_scans=1)
    record(db, "SELECT * FROM customers", 120.0, table_scans=1, ok=False)
    (entry,) = [t for t in db.top() if "ird" in t["query"]]
    families = {f.name: f for f in text_string_to_metric_families(db.prometheus())}
    assert {"cidb_statement_calls", "cidb_statement_errors", "cidb_statement_rows_examined",
            "cidb_statement_latency_seconds", "cidb_alerts"} <= set(families)
    assert families["cidb_statement_calls"].type == "counter"
    calls = {s.labels["query"]: s.value for s in families["cidb_statement_calls"].samples}
    assert calls == {entry["query"]: 2.0, "SELECT * FROM customers": 1.0}
    assert '"' in entry["query"] and "\\" in entry["query"]  # the label round-tripped unescaped
    errors = {s.labels["query"]: s.value for s in families["cidb_statement_errors"].samples}
    assert errors["SELECT * FROM customers"] == 1.0
    latency = families["cidb_statement_latency_seconds"]
    assert latency.type == "summary"
    mine = [s for s in latency.samples if s.labels["fingerprint"] == entry["id"]]
    by_name = {(s.name, s.labels.get("quantile")): s.value for s in mine}
    assert by_name[("cidb_statement_latency_seconds_count", None)] == 2
    assert by_name[("cidb_statement_latency_seconds_sum", None)] == pytest.approx(0.020)
    assert 0 < by_name[("cidb_statement_latency_seconds", "0.5")] < 1
    assert families["cidb_alerts"].samples[0].value == 1


def test_bad_arguments(db: cidb.Engine) -> None:
    with pytest.raises(cidb.InvalidInputError, match="n is -1"):
        db.top(-1)
    with pytest.raises(TypeError, match="callback must be callable"):
        db.on_alert(42)  # type: ignore[arg-type]
    assert db.remove_alert_callback(12345) is False
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(cidb.InvalidInputError, match="elapsed_ms"):
            record(db, "SELECT 1", bad)


def test_closed_engine(db: cidb.Engine) -> None:
    db.close()
    for call in (db.monitor_stats, db.prometheus, db.top, lambda: db.on_alert(print),
                 lambda: db.remove_alert_callback(1), lambda: record(db, "SELECT 1", 1.0)):
        with pytest.raises(cidb.ClosedError):
            call()
