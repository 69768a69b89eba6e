//! Prometheus text exposition (format 0.0.4) of the monitor's statistics: counters per
//! fingerprint labelled by id and normalised query, and a summary for latency quantiles.

use super::MonitorStats;
use std::fmt::Write;

/// Escapes a label value: backslash, double quote and newline.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A counter family: name, help text, and how to read it from a fingerprint's stats.
type Counter = (&'static str, &'static str, fn(&super::FingerprintStats) -> f64);

/// Renders the statistics.
pub fn prometheus(s: &MonitorStats) -> String {
    let mut out = String::new();
    let counters: [Counter; 7] = [
        ("cidb_statement_calls_total", "Executions per statement fingerprint.", |f| f.calls as f64),
        ("cidb_statement_errors_total", "Failed executions per statement fingerprint.", |f| f.errors as f64),
        ("cidb_statement_rows_examined_total", "Rows examined per statement fingerprint.", |f| f.rows_examined as f64),
        ("cidb_statement_rows_returned_total", "Rows returned per statement fingerprint.", |f| f.rows_returned as f64),
        ("cidb_statement_index_scans_total", "Index scans per statement fingerprint.", |f| f.index_scans as f64),
        ("cidb_statement_table_scans_total", "Table scans per statement fingerprint.", |f| f.table_scans as f64),
        ("cidb_statement_joins_total", "Joins per statement fingerprint.", |f| f.joins as f64),
    ];
    for (name, help, get) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for f in &s.fingerprints {
            let _ = writeln!(out, "{name}{{fingerprint=\"{}\",query=\"{}\"}} {}", f.id, escape(&f.query), get(f));
        }
    }
    let name = "cidb_statement_latency_seconds";
    let _ = writeln!(out, "# HELP {name} Statement latency per fingerprint.\n# TYPE {name} summary");
    for f in &s.fingerprints {
        let labels = format!("fingerprint=\"{}\",query=\"{}\"", f.id, escape(&f.query));
        for (q, v) in [("0.5", f.p50_ms), ("0.95", f.p95_ms), ("0.99", f.p99_ms)] {
            let _ = writeln!(out, "{name}{{{labels},quantile=\"{q}\"}} {}", v / 1e3);
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", f.total_ms / 1e3);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", f.calls);
    }
    let name = "cidb_statement_fingerprints_evicted_total";
    let _ = writeln!(out, "# HELP {name} Fingerprints evicted from the bounded table.\n# TYPE {name} counter\n{name} {}", s.evicted_fingerprints);
    let name = "cidb_alerts_total";
    let _ = writeln!(out, "# HELP {name} Alerts fired since open.\n# TYPE {name} counter\n{name} {}", s.alerts_fired);
    let name = "cidb_slow_queries_logged";
    let _ = writeln!(out, "# HELP {name} Statements in the slow-query log.\n# TYPE {name} gauge\n{name} {}", s.slow_queries.len());
    out
}
