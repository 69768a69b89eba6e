//! The performance targets of issue 10 (and issue 5's durable-write target), checked
//! against one run's rows. A missed target is reported, never an error: speed depends on
//! the machine, and the smoke test checks correctness only.

use super::{Outcome, Settings};
use serde::Serialize;

/// One target and what the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The target.
    pub target: String,
    /// The measured figure.
    pub measured: String,
    /// Met or not.
    pub met: bool,
}

fn ratio(out: &Outcome, name: &str) -> Option<f64> {
    out.rows.iter().find(|r| r.name == name && r.engine == "cidb").and_then(|r| r.vs_sqlite)
}

/// Evaluates every target that the run has figures for.
pub fn evaluate(out: &Outcome, s: &Settings) -> Vec<Check> {
    let mut v = Vec::new();
    let ratios: [(&str, f64); 9] = [
        ("customer_by_id_hot", 10.0),
        ("latest_score", 10.0),
        ("segment_query", 3.0),
        ("tenant_query", 3.0),
        ("email_lookup", 3.0),
        ("recent_messages", 3.0),
        ("join_high_score_recent", 3.0),
        ("bulk_ingest", 2.0),
        ("durable_writes_64w", 5.0),
    ];
    for (name, min) in ratios {
        if let Some(r) = ratio(out, name) {
            let mut measured = format!("{r:.2}x SQLite");
            if name == "bulk_ingest" {
                let n = s.args.ingest_customers.unwrap_or(s.customers);
                measured.push_str(&format!(" ({n} customers)"));
            }
            v.push(Check { target: format!("{name} >= {min}x SQLite"), measured, met: r >= min });
        }
    }
    if let Some(r) = out.rows.iter().find(|r| r.name == "l1_hit") {
        let ns = r.extra.get("median_ns").and_then(|x| x.as_f64()).unwrap_or(f64::MAX);
        v.push(Check { target: "L1 hit median <= 150 ns".into(), measured: format!("{ns:.1} ns"), met: ns <= 150.0 });
    }
    if let Some(b) = &out.l1_bound {
        let worst = b.measured_mb.max(b.accounted_mb);
        v.push(Check {
            target: "L1 byte bound held within 5 %".into(),
            measured: format!("bound {:.1} MB, accounted {:.1} MB, measured heap {:.1} MB", b.bound_mb, b.accounted_mb, b.measured_mb),
            met: worst <= b.bound_mb * 1.05,
        });
    }
    // Judged on the customers-only series (every size has it); the full series is shown too.
    let m: Vec<&super::memory::Point> = out.memory.iter().filter(|p| p.dataset == "customers").collect();
    if m.len() >= 2 {
        // Roughly linear: no later segment grows by more than 1.5x the first one's MB per
        // customer (sublinear is fine: storage caches are bounded).
        let slope = |a: &super::memory::Point, b: &super::memory::Point| (b.rss_mb - a.rss_mb) / (b.customers as f64 - a.customers as f64).max(1.0);
        let first = slope(m[0], m[1]);
        let worst = m.windows(2).map(|w| slope(w[0], w[1])).fold(f64::MIN, f64::max);
        let per_k: Vec<String> = m.windows(2).map(|w| format!("{:.3}", slope(w[0], w[1]) * 1000.0)).collect();
        v.push(Check {
            target: "RSS growth roughly linear".into(),
            measured: format!("customers only: MB per 1k customers between sizes: {}", per_k.join(", ")),
            met: worst <= first.max(0.0) * 1.5 + 1e-9,
        });
    }
    v
}
