//! The combined export: engine counters (rows, commits, writes), the storage breaker, the
//! cache tiers, index usage and the statement monitor, as one serde value
//! ([`Engine::metrics`]) and as Prometheus text exposition 0.0.4
//! ([`Engine::metrics_prometheus`]): each family once, `# HELP` and `# TYPE` before its
//! samples, counters named `_total`, label values escaped.

use crate::cache::CacheStats;
use crate::engine::{Engine, EngineStats};
use crate::error::Result;
use crate::index::IndexUsage;
use crate::monitor::export::escape;
use crate::monitor::MonitorStats;
use crate::storage::breaker::BreakerState;
use serde::Serialize;
use std::fmt::Write;

/// Everything the engine can tell about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Store sizes, writer counters, breaker.
    pub engine: EngineStats,
    /// Cache tiers.
    pub cache: CacheStats,
    /// Statement statistics, slow log, alerts.
    pub monitor: MonitorStats,
    /// Executions per index.
    pub index_usage: Vec<IndexUsage>,
}

struct Prom(String);

impl Prom {
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(self.0, "{name}{labels} {}", num(*v));
        }
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, v: f64) {
        self.family(name, kind, help, &[(String::new(), v)]);
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", inner.join(","))
}

/// Renders the non-statement part of the metrics.
fn engine_families(m: &Metrics, p: &mut Prom) {
    let e = &m.engine;
    let rows: Vec<(String, f64)> = [("customers", e.customers), ("customer_scores", e.scores), ("latest_scores", e.latest_scores), ("conversation_messages", e.messages)]
        .iter()
        .filter_map(|(t, n)| n.map(|n| (labels(&[("table", t)]), n as f64)))
        .collect();
    p.family("cidb_rows", "gauge", "Rows stored per table (all tenants).", &rows);
    p.one("cidb_commits_total", "counter", "Durable group commits since open.", e.commits as f64);
    p.one("cidb_writes_total", "counter", "Write operations committed since open.", e.writes as f64);
    p.one("cidb_failed_writes_total", "counter", "Write operations failed since open.", e.failed_writes as f64);
    p.one("cidb_max_commit_group", "gauge", "Largest commit group since open.", e.max_commit_group as f64);
    let b = &e.breaker;
    let states = [("closed", BreakerState::Closed), ("open", BreakerState::Open), ("half_open", BreakerState::HalfOpen)];
    let st: Vec<(String, f64)> = states.iter().map(|(n, s)| (labels(&[("state", n)]), (b.state == *s) as u8 as f64)).collect();
    p.family("cidb_breaker_state", "gauge", "Storage circuit breaker state (1 for the current one).", &st);
    p.one("cidb_breaker_failures_total", "counter", "Storage failures seen by the breaker.", b.failures as f64);
    p.one("cidb_breaker_opened_total", "counter", "Times the breaker opened.", b.opened as f64);
    p.one("cidb_breaker_rejected_total", "counter", "Writes refused while the breaker was open.", b.rejected as f64);
    let c = &m.cache;
    let tiers = [("l1", &c.l1), ("l2", &c.l2), ("l3", &c.l3)];
    type Get = fn(&crate::cache::TierStats) -> u64;
    let per_tier: [(&str, &str, &str, Get); 8] = [
        ("cidb_cache_hits_total", "counter", "Cache lookups answered per tier.", |t| t.hits),
        ("cidb_cache_misses_total", "counter", "Cache lookups that reached a tier and missed.", |t| t.misses),
        ("cidb_cache_entries", "gauge", "Entries held per tier.", |t| t.entries),
        ("cidb_cache_bytes", "gauge", "Bytes held per tier (stored size).", |t| t.bytes),
        ("cidb_cache_promotions_total", "counter", "Entries promoted into a tier.", |t| t.promotions),
        ("cidb_cache_demotions_total", "counter", "Entries demoted into a tier.", |t| t.demotions),
        ("cidb_cache_evictions_total", "counter", "Entries evicted from a tier by its bound.", |t| t.evictions),
        ("cidb_cache_expirations_total", "counter", "Entries expired in a tier.", |t| t.expirations),
    ];
    for (name, kind, help, get) in per_tier {
        let s: Vec<(String, f64)> = tiers.iter().map(|(n, t)| (labels(&[("tier", n)]), get(t) as f64)).collect();
        p.family(name, kind, help, &s);
    }
    p.one("cidb_result_cache_hits_total", "counter", "Query results answered from the cache.", c.result_hits as f64);
    p.one("cidb_result_cache_misses_total", "counter", "Query-result lookups that missed (stale results included).", c.result_misses as f64);
    p.one("cidb_cache_stale_fills_refused_total", "counter", "Cache fills refused because a write raced them.", c.stale_fills_refused as f64);
    p.one("cidb_cache_warmed_total", "counter", "Entries loaded into L1 by warming since open.", c.warmed as f64);
    let uses: Vec<(String, f64)> = m.index_usage.iter().map(|u| (labels(&[("index", &u.name), ("table", &u.table)]), u.uses as f64)).collect();
    p.family("cidb_index_uses_total", "counter", "Statement executions that read each index.", &uses);
}

impl Engine {
    /// Engine, cache, breaker, monitor and index-usage figures in one serde value.
    pub fn metrics(&self) -> Result<Metrics> {
        Ok(Metrics { engine: self.stats()?, cache: self.cache_stats(), monitor: self.monitor().stats(), index_usage: self.index_usage()? })
    }

    /// [`Engine::metrics`] as Prometheus text exposition (format 0.0.4).
    pub fn metrics_prometheus(&self) -> Result<String> {
        let m = self.metrics()?;
        let mut p = Prom(crate::monitor::export::prometheus(&m.monitor));
        engine_families(&m, &mut p);
        Ok(p.0)
    }
}
