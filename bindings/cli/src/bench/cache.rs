//! Cache workloads: customer reads with Zipf(0.99) popularity over every customer (both
//! engines; cidb's L1 hit ratio from the cache statistics), the application cache under
//! Zipf with values sized for each tier (hit ratio per tier), and the latency of one L1
//! hit measured on the engine's own L1 with real customer keys (median of batch means,
//! so timer overhead does not dominate a ~100 ns operation).

use super::data::{Dataset, Picker};
use super::measure::{run_single, Budget, Histogram, Measured, Probe};
use super::queries::zipf_all;
use super::reads::{run_workload, sqlite_side};
use super::row::Row;
use super::{Conn, Outcome, Settings};
use cidb::cache::keys::{build, Kind};
use cidb::cache::l1::Lookup;
use cidb::{CacheStats, Engine, Result};
use std::hint::black_box;
use std::time::Instant;

/// Runs the cache workloads.
pub fn run_all(s: &Settings, engine: &Engine, ds: &Dataset, conn: Option<&Conn>, out: &mut Outcome) -> Result<()> {
    if s.wants("customer_by_id_zipf") {
        let w = zipf_all(ds, s.params * 5);
        let mut ours = super::cidb_side::CidbSide::new(&ds.tenants)?;
        let mut theirs = sqlite_side(conn, ds);
        let before = engine.cache_stats();
        run_workload(s, &w, &mut ours, theirs.as_deref_mut(), out);
        let after = engine.cache_stats();
        let (h, m) = (after.l1.hits - before.l1.hits, after.l1.misses - before.l1.misses);
        if let Some(r) = out.rows.iter_mut().rev().find(|r| r.name == w.name && r.engine == "cidb") {
            r.extra.insert("l1_hit_ratio".into(), round4(h as f64 / (h + m).max(1) as f64).into());
            r.extra.insert("l1_items".into(), after.l1.entries.into());
        }
    }
    if s.wants("app_cache_tiers") {
        eprintln!("  app_cache_tiers");
        app_cache(s, engine, ds, out)?;
    }
    if s.wants("l1_hit") {
        eprintln!("  l1_hit");
        l1_hit(s, engine, ds, out);
    }
    Ok(())
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Value size of app-cache key `k`: 85 % L1-sized (2 KB), 12 % L2-sized (30 KB), 3 % L3-sized (150 KB).
fn value_size(k: usize) -> usize {
    match (k.wrapping_mul(2_654_435_761)) % 100 {
        0..=84 => 2 << 10,
        85..=96 => 30 << 10,
        _ => 150 << 10,
    }
}

fn tier_delta(a: &CacheStats, b: &CacheStats) -> serde_json::Value {
    let t = |x: &cidb::cache::TierStats, y: &cidb::cache::TierStats| {
        let (h, m) = (y.hits - x.hits, y.misses - x.misses);
        serde_json::json!({ "hits": h, "misses": m, "hit_ratio": round4(h as f64 / (h + m).max(1) as f64), "entries": y.entries,
            "promotions": y.promotions - x.promotions, "demotions": y.demotions - x.demotions })
    };
    serde_json::json!({ "l1": t(&a.l1, &b.l1), "l2": t(&a.l2, &b.l2), "l3": t(&a.l3, &b.l3) })
}

fn app_cache(s: &Settings, engine: &Engine, ds: &Dataset, out: &mut Outcome) -> Result<()> {
    let keys = if s.quick { 500 } else { 5_000 };
    let cache = ds.tenants[0].cache();
    let values: Vec<Vec<u8>> = [2usize << 10, 30 << 10, 150 << 10].iter().map(|n| (0..*n).map(|i| (i * 31 % 251) as u8).collect()).collect();
    let pick_value = |k: usize| match value_size(k) {
        2048 => &values[0],
        30720 => &values[1],
        _ => &values[2],
    };
    let mut p = Picker::zipf(900, keys, 0.99);
    let before = engine.cache_stats();
    let m = run_single(s.budget, |_| {
        let k = p.pick(keys);
        let key = format!("bench:{k}");
        match cache.get(&key) {
            Ok(Some(v)) => Ok(v.len() as u64 / 1024),
            Ok(None) => cache.set(&key, pick_value(k), None).map(|()| 0).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    let after = engine.cache_stats();
    out.rows.push(
        Row::new("app_cache_tiers", "cidb", 1, &m)
            .with("tiers", tier_delta(&before, &after))
            .with("note", format!("get, set on miss; Zipf 0.99 over {keys} keys; values 85% 2 KB (L1), 12% 30 KB (L2), 3% 150 KB (L3); rows = KB read")),
    );
    Ok(())
}

fn l1_hit(s: &Settings, engine: &Engine, ds: &Dataset, out: &mut Outcome) {
    let l1 = engine.cache().l1();
    let keys: Vec<std::sync::Arc<[u8]>> = ds
        .hot
        .iter()
        .map(|i| {
            let t = ds.tenant_name(ds.tenant_of(*i));
            build(Kind::Customer, &t, &cidb::storage::stores::customer_pk(&ds.id(*i)))
        })
        .filter(|k| l1.contains(k))
        .collect();
    if keys.is_empty() {
        return;
    }
    const BATCH: usize = 256;
    let now = cidb::Clock::system().now();
    let mut hist = Histogram::default();
    let probe = Probe::start();
    let start = Instant::now();
    let (mut ops, mut hits) = (0u64, 0u64);
    let budget: Budget = s.budget;
    let mut r = 0usize;
    while start.elapsed() < budget.time || ops == 0 {
        let t = Instant::now();
        for j in 0..BATCH {
            let k = &keys[(r * BATCH + j * 7) % keys.len()];
            if let Lookup::Hit(v) = l1.get(black_box(k), now) {
                hits += 1;
                black_box(v);
            }
        }
        hist.record(t.elapsed().as_nanos() as u64 / BATCH as u64);
        ops += BATCH as u64;
        r += 1;
    }
    let mut m = Measured { ops, rows: hits, hist, ..Default::default() };
    probe.finish(&mut m);
    let median_ns = m.hist.quantile(0.5);
    out.rows.push(
        Row::new("l1_hit", "cidb", 1, &m)
            .with("median_ns", (median_ns * 10.0).round() / 10.0)
            .with("resident_keys", keys.len())
            .with("note", "engine L1 get on resident customer keys; latency = mean per lookup within batches of 256"),
    );
}
