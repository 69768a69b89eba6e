//! Result rows: one per workload and engine, the figures the issue asks for (duration,
//! throughput, p50/p95/p99 latency, peak-RSS delta, CPU, success rate, errors) plus the
//! rows returned, the cidb/SQLite throughput ratio on cidb rows, and workload-specific
//! extras (hit ratios, memory figures). Printed as a table or written as JSON.

use super::measure::Measured;
use serde::Serialize;
use std::io::Write;

/// One benchmark result.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Workload name.
    pub name: String,
    /// `cidb` or `sqlite`.
    pub engine: &'static str,
    /// Wall time of the timed part.
    pub duration_ms: f64,
    /// Operations run (each one call, query or transaction).
    pub operations: u64,
    /// Operations per second (all threads).
    pub operations_per_second: f64,
    /// Median latency of one operation, µs.
    pub p50_latency_us: f64,
    /// 95th percentile, µs.
    pub p95_latency_us: f64,
    /// 99th percentile, µs.
    pub p99_latency_us: f64,
    /// Peak RSS during the run minus RSS before it, MB.
    pub memory_used_mb: f64,
    /// Process CPU time over wall time, percent (up to 100 × cores).
    pub cpu_usage_percent: f64,
    /// Successful operations / operations.
    pub success_rate: f64,
    /// Failed operations.
    pub error_count: u64,
    /// Rows returned (queries) or written (writes) in total.
    pub rows: u64,
    /// Threads that ran the workload.
    pub threads: usize,
    /// cidb throughput ÷ SQLite throughput for the same workload (cidb rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_sqlite: Option<f64>,
    /// Workload-specific figures.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Row {
    /// A row from a measurement.
    pub fn new(name: &str, engine: &'static str, threads: usize, m: &Measured) -> Row {
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        let us = |q| m.hist.quantile(q) / 1e3;
        Row {
            name: name.to_string(),
            engine,
            duration_ms: secs * 1e3,
            operations: m.ops,
            operations_per_second: m.ops as f64 / secs,
            p50_latency_us: us(0.50),
            p95_latency_us: us(0.95),
            p99_latency_us: us(0.99),
            memory_used_mb: m.mem_bytes as f64 / (1 << 20) as f64,
            cpu_usage_percent: m.cpu.as_secs_f64() / secs * 100.0,
            success_rate: if m.ops == 0 { 0.0 } else { (m.ops - m.errors) as f64 / m.ops as f64 },
            error_count: m.errors,
            rows: m.rows,
            threads,
            vs_sqlite: None,
            extra: Default::default(),
        }
    }

    /// Adds a workload-specific figure.
    pub fn with(mut self, key: &str, v: impl Into<serde_json::Value>) -> Row {
        self.extra.insert(key.to_string(), v.into());
        self
    }
}

/// Sets `vs_sqlite` on every cidb row that has a SQLite row of the same name.
pub fn fill_ratios(rows: &mut [Row]) {
    let sqlite: Vec<(String, f64)> =
        rows.iter().filter(|r| r.engine == "sqlite").map(|r| (r.name.clone(), r.operations_per_second)).collect();
    for r in rows.iter_mut().filter(|r| r.engine == "cidb") {
        if let Some((_, s)) = sqlite.iter().find(|(n, _)| *n == r.name) {
            if *s > 0.0 {
                r.vs_sqlite = Some(r.operations_per_second / s);
            }
        }
    }
}

fn num(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.0}", v)
    } else if v >= 100.0 {
        format!("{:.1}", v)
    } else {
        format!("{:.2}", v)
    }
}

/// Prints the header of the table.
pub fn print_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<30} {:<6} {:>3} {:>9} {:>11} {:>10} {:>10} {:>10} {:>8} {:>6} {:>7} {:>5} {:>8}",
        "name", "engine", "thr", "ms", "ops/s", "p50 µs", "p95 µs", "p99 µs", "mem MB", "cpu %", "success", "errs", "vs sqlite"
    )
}

/// Prints one row.
pub fn print_row(out: &mut impl Write, r: &Row) -> std::io::Result<()> {
    let ratio = r.vs_sqlite.map_or(String::new(), |x| format!("{x:.2}x"));
    writeln!(
        out,
        "{:<30} {:<6} {:>3} {:>9.1} {:>11} {:>10} {:>10} {:>10} {:>8.1} {:>6.0} {:>6.1}% {:>5} {:>8}",
        r.name,
        r.engine,
        r.threads,
        r.duration_ms,
        num(r.operations_per_second),
        num(r.p50_latency_us),
        num(r.p95_latency_us),
        num(r.p99_latency_us),
        r.memory_used_mb,
        r.cpu_usage_percent,
        r.success_rate * 100.0,
        r.error_count,
        ratio
    )?;
    if !r.extra.is_empty() {
        let parts: Vec<String> = r.extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(out, "    {}", parts.join("  "))?;
    }
    Ok(())
}
