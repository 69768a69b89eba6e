//! The Rust side of the bindings' per-call overhead benchmarks (`node/bench/overhead.js`,
//! `python/benchmarks`): the same work as they do (production profile, `N` customers with a
//! small attributes object, then `CALLS` synchronous `get_customer` calls cycling over the
//! ids, all L1 hits after the first pass), timed in-process, then the same loop through
//! `get_customer_shared` (no copy of the record), then `latest_score_shared` over one score
//! per customer. Each loop is timed twice: wall clock, and the calling thread's CPU time,
//! which time spent descheduled on a busy machine does not inflate (the bindings' benchmarks
//! measure both the same way). Prints one line of JSON:
//! `{"customers": n, "calls": n, "ns_per_call": x, "ns_per_call_shared": y,
//! "ns_per_call_latest": z, "cpu_ns_per_call": x, "cpu_ns_per_call_shared": y,
//! "cpu_ns_per_call_latest": z}`.
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
            let mut c = Customer::new(format!("c{i}"), now + i as i64);
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
    // Wall and thread-CPU nanoseconds per call of `get` over the ids; every call must find
    // its customer.
    let time = |get: &dyn Fn(&str) -> cidb::Result<bool>| -> cidb::Result<(f64, f64)> {
        let (start, cpu) = (Instant::now(), thread_cpu_ns());
        let mut found = 0usize;
        for i in 0..calls {
            found += get(&ids[i % n])? as usize;
        }
        assert_eq!(found, calls);
        let per = |ns: f64| ns / calls as f64;
        Ok((per(start.elapsed().as_nanos() as f64), per((thread_cpu_ns() - cpu) as f64)))
    };
    let (ns, cpu) = time(&|id| Ok(t.get_customer(id)?.is_some()))?;
    let (shared, cpu_shared) = time(&|id| Ok(t.get_customer_shared(id)?.is_some()))?;
    let (latest, cpu_latest) = time(&|id| Ok(t.latest_score_shared(id, "churn_risk")?.is_some()))?;
    println!(
        "{{\"customers\": {n}, \"calls\": {calls}, \"ns_per_call\": {ns:.1}, \"ns_per_call_shared\": {shared:.1}, \
         \"ns_per_call_latest\": {latest:.1}, \"cpu_ns_per_call\": {cpu:.1}, \"cpu_ns_per_call_shared\": {cpu_shared:.1}, \
         \"cpu_ns_per_call_latest\": {cpu_latest:.1}}}"
    );
    db.close()
}

/// CPU time of the calling thread, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant Linux and macOS know.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
