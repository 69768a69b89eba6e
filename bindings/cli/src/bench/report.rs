//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network)
//! with the settings, the targets, charts of latency percentiles per workload, the
//! cidb/SQLite ratios against their targets and memory against dataset size, the full
//! result table, and the query plans of both engines.

use super::row::Row;
use super::svg::{bars, esc, line, Series};
use super::targets::Check;
use super::Outcome;
use std::fmt::Write;

const CIDB: &str = "#1f77b4";
const CIDB_LIGHT: &str = "#9ecae9";
const SQLITE: &str = "#ff7f0e";
const SQLITE_LIGHT: &str = "#fdd0a2";

fn find<'a>(rows: &'a [Row], name: &str, engine: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name == name && r.engine == engine)
}

fn names(rows: &[Row]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        if !v.contains(&r.name) {
            v.push(r.name.clone());
        }
    }
    v
}

/// The target ratio of a workload, if it has one.
fn target_of(name: &str) -> Option<f64> {
    match name {
        "customer_by_id_hot" | "latest_score" => Some(10.0),
        "segment_query" | "tenant_query" | "email_lookup" | "recent_messages" | "join_high_score_recent" => Some(3.0),
        "bulk_ingest" => Some(2.0),
        "durable_writes_64w" => Some(5.0),
        _ => None,
    }
}

/// Renders the page.
pub fn html(out: &Outcome, checks: &[Check], settings: &serde_json::Value) -> String {
    let rows = &out.rows;
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>cidb bench report</title><style>");
    h.push_str("body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:12px}");
    h.push_str("td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}");
    h.push_str(".met{color:#080}.miss{color:#c00;font-weight:bold}code{font-size:11px}section{margin:28px 0}</style></head><body>");
    h.push_str("<h1>cidb bench report</h1><section><h2>Settings</h2><table>");
    if let Some(o) = settings.as_object() {
        for (k, v) in o {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            let _ = write!(h, "<tr><th>{}</th><td style=\"text-align:left\">{}</td></tr>", esc(k), esc(&v));
        }
    }
    h.push_str("</table></section><section><h2>Targets</h2><table><tr><th>target</th><th>measured</th><th>status</th></tr>");
    for c in checks {
        let (cls, st) = if c.met { ("met", "met") } else { ("miss", "missed") };
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td class=\"{cls}\">{st}</td></tr>", esc(&c.target), esc(&c.measured));
    }
    h.push_str("</table></section>");

    let all = names(rows);
    let lat: Vec<String> = all.iter().filter(|n| find(rows, n, "cidb").is_some_and(|r| r.p50_latency_us > 0.0 && r.operations > 1)).cloned().collect();
    let get = |e: &str, f: fn(&Row) -> f64| lat.iter().map(|n| find(rows, n, e).map(f)).collect::<Vec<_>>();
    let series = vec![
        Series { name: "cidb p50", color: CIDB, values: get("cidb", |r| r.p50_latency_us) },
        Series { name: "cidb p99", color: CIDB_LIGHT, values: get("cidb", |r| r.p99_latency_us) },
        Series { name: "SQLite p50", color: SQLITE, values: get("sqlite", |r| r.p50_latency_us) },
        Series { name: "SQLite p99", color: SQLITE_LIGHT, values: get("sqlite", |r| r.p99_latency_us) },
    ];
    let _ = write!(h, "<section><h2>Latency per workload</h2>{}<p>Log scale. p95 is in the table below.</p></section>",
        bars("Latency percentiles (µs per operation)", "µs (log scale)", &lat, &series, true, &[]));

    let rat: Vec<String> = all.iter().filter(|n| find(rows, n, "cidb").and_then(|r| r.vs_sqlite).is_some()).cloned().collect();
    if !rat.is_empty() {
        let vals: Vec<Option<f64>> = rat.iter().map(|n| find(rows, n, "cidb").and_then(|r| r.vs_sqlite)).collect();
        let tgt: Vec<Option<f64>> = rat.iter().map(|n| target_of(n)).collect();
        let series = vec![Series { name: "cidb ÷ SQLite (ops/s)", color: CIDB, values: vals }, Series { name: "target", color: "#bbb", values: tgt }];
        let _ = write!(h, "<section><h2>cidb vs SQLite</h2>{}<p>Throughput ratio in one run, log scale; the dashed line is parity.</p></section>",
            bars("cidb throughput ÷ SQLite throughput", "ratio (log scale)", &rat, &series, true, &[(1.0, "1x")]));
    }

    if !out.memory.is_empty() {
        h.push_str("<section><h2>Memory vs dataset size</h2>");
        for (series, title) in [("customers", "RSS after loading customers and reading each once"), ("full", "RSS with the full dataset (scores, messages)")] {
            let pts: Vec<(f64, f64)> = out.memory.iter().filter(|p| p.dataset == series).map(|p| (p.customers as f64, p.rss_mb)).collect();
            h.push_str(&line(title, "customers", "RSS MB", &pts, false));
        }
        h.push_str("<table><tr><th>dataset</th><th>customers</th><th>RSS MB</th><th>peak RSS MB</th><th>heap MB</th><th>disk MB</th><th>L1 items</th><th>L1 MB</th><th>load s</th></tr>");
        for p in &out.memory {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                esc(&p.dataset), p.customers, p.rss_mb, p.hwm_mb, p.heap_mb, p.disk_mb, p.l1_items, p.l1_bytes as f64 / 1048576.0, p.load_secs);
        }
        h.push_str("</table></section>");
    }
    if let Some(b) = &out.l1_bound {
        let _ = write!(h, "<p>L1 byte bound {:.1} MB: L1 accounting {:.1} MB ({} items), heap difference against a 1-byte L1 {:.1} MB.</p>",
            b.bound_mb, b.accounted_mb, b.items, b.measured_mb);
    }

    h.push_str("<section><h2>All rows</h2><table><tr><th>name</th><th>engine</th><th>threads</th><th>duration ms</th><th>ops/s</th><th>p50 µs</th><th>p95 µs</th><th>p99 µs</th><th>memory MB</th><th>cpu %</th><th>success</th><th>errors</th><th>rows</th><th>vs SQLite</th><th>extra</th></tr>");
    for r in rows {
        let extra = serde_json::Value::Object(r.extra.clone()).to_string();
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.0}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td><td>{:.0}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\"><code>{}</code></td></tr>",
            esc(&r.name), r.engine, r.threads, r.duration_ms, r.operations_per_second, r.p50_latency_us, r.p95_latency_us, r.p99_latency_us,
            r.memory_used_mb, r.cpu_usage_percent, r.success_rate * 100.0, r.error_count, r.rows,
            r.vs_sqlite.map_or(String::new(), |x| format!("{x:.2}x")), esc(if extra == "{}" { "" } else { &extra }));
    }
    h.push_str("</table></section>");
    if !out.plans.is_empty() {
        h.push_str("<section><h2>Plans</h2><table><tr><th>workload</th><th>cidb</th><th>SQLite</th></tr>");
        for (w, a, b) in &out.plans {
            let _ = write!(h, "<tr><td>{}</td><td style=\"text-align:left\"><code>{}</code></td><td style=\"text-align:left\"><code>{}</code></td></tr>", esc(w), esc(a), esc(b));
        }
        h.push_str("</table></section>");
    }
    for n in &out.notes {
        let _ = write!(h, "<p><b>Note:</b> {}</p>", esc(n));
    }
    h.push_str("</body></html>\n");
    h
}
