//! The Rust side of the bindings' per-call overhead benchmarks (`node/bench/overhead.js`,
//! `python/benchmarks`): the same work as they do (production profile, `N` customers with a
//! small attributes object, then `CALLS` synchronous `get_customer` calls cycling over the
//! ids, all L1 hits after the first pass), timed in-process, then the same loop through
//! `get_customer_shared` (no copy of the record), then `latest_score_shared` over one score
//! per customer. Prints one line of JSON:
//! `{"customers": n, "calls": n, "ns_per_call": x, "ns_per_call_shared": y, "ns_per_call_latest": z}`.
//!
//!   cargo run --release -p cidb --example get_customer_loop [customers=1000] [calls=1000000]

use cidb::{Config, Customer, Engine, Profile, Score};
use std::time::Instant;

fn main() -> cidb::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let n = args.next().unwrap_or(1000);
    let calls = args.next().unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Engine::open(dir.path(), Config::profile(Profile::Production))?;
    let t = db.tenant("bench")?;
    let now = 1_700_000_000_000;
    let customers: Vec<Customer> = (0..n)
        .map(|i| {
            let mut c = Customer::new(&format!("c{i}"), now + i as i64);
            c.email = Some(format!("c{i}@example.com"));
            c.department = format!("d{}", i % 10);
            c.status = "active".into();
            c.attributes = serde_json::json!({"tier": if i % 2 == 1 { "gold" } else { "silver" }, "seats": i % 50});
            c
        })
        .collect();
    t.upsert_customers(&customers)?;
    let scores: Vec<Score> = (0..n)
        .map(|i| Score { customer_id: format!("c{i}"), score_type: "churn_risk".into(), score: 0.5, confidence: 0.9, created_at: now, model: None })
        .collect();
    t.add_scores(&scores)?;
    let ids: Vec<String> = (0..n).map(|i| format!("c{}", (i * 7919) % n)).collect();
    for id in &ids {
        t.get_customer(id)?; // warm L1
        t.latest_score(id, "churn_risk")?;
    }
    // Nanoseconds per call of `get` over the ids; every call must find its customer.
    let time = |get: &dyn Fn(&str) -> cidb::Result<bool>| -> cidb::Result<f64> {
        let start = Instant::now();
        let mut found = 0usize;
        for i in 0..calls {
            found += get(&ids[i % n])? as usize;
        }
        assert_eq!(found, calls);
        Ok(start.elapsed().as_nanos() as f64 / calls as f64)
    };
    let ns = time(&|id| Ok(t.get_customer(id)?.is_some()))?;
    let shared = time(&|id| Ok(t.get_customer_shared(id)?.is_some()))?;
    let latest = time(&|id| Ok(t.latest_score_shared(id, "churn_risk")?.is_some()))?;
    println!(
        "{{\"customers\": {n}, \"calls\": {calls}, \"ns_per_call\": {ns:.1}, \"ns_per_call_shared\": {shared:.1}, \"ns_per_call_latest\": {latest:.1}}}"
    );
    db.close()
}
