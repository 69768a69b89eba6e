//! Durable score writes from many threads on a pre-loaded database, for profiling the
//! writer (`perf record -g -p <pid>`) and counting what each commit costs: `W` threads call
//! `add_score` for `S` seconds on random customers of the first tenant, then one line of
//! JSON gives writes/s, writes per commit and the data file's size. The dataset (the
//! bench's generator: customers with scores and messages, three tenants) is loaded only
//! when `dir` is empty, so repeated runs reuse it. `drop=NAME` drops an index first (to
//! measure what maintaining it costs per write); `cache_mb=N` sets redb's page cache
//! (`Config::page_cache_bytes`) instead of the production profile's.
//!
//!   cargo run --release -p cidb --example durable_writers DIR [customers=200000] [writers=64] [seconds=5] [drop=NAME] [cache_mb=N]

use cidb::datagen::{generate, GenConfig, SCORE_TYPES};
use cidb::{Config, Engine, Profile, Score};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() -> cidb::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: durable_writers DIR [customers] [writers] [seconds] [drop=NAME]"));
    let rest: Vec<String> = args.collect();
    let num = |i: usize, d: usize| rest.get(i).filter(|a| !a.contains('=')).map(|a| a.parse::<usize>().expect("a number")).unwrap_or(d);
    let (n, writers, secs) = (num(0, 200_000), num(1, 64), num(2, 5));
    let drop = rest.iter().find_map(|a| a.strip_prefix("drop=").map(str::to_string));
    let now = 1_780_000_000_000i64;
    let fresh = !dir.join("data.redb").exists();
    let mut config = Config::profile(Profile::Production);
    if let Some(mb) = rest.iter().find_map(|a| a.strip_prefix("cache_mb=")) {
        config.page_cache_bytes = mb.parse::<usize>().expect("cache_mb: a number") << 20;
    }
    let engine = Engine::open(&dir, config)?;
    let cfg = GenConfig::new(n, 42, now);
    if fresh {
        let start = Instant::now();
        // Tenant by tenant in chunks of 2000 customers: large commits, like the bench's load.
        let mut by_tenant: std::collections::BTreeMap<String, Vec<cidb::datagen::GenCustomer>> = Default::default();
        for g in generate(&cfg) {
            let v = by_tenant.entry(g.tenant.clone()).or_default();
            v.push(g);
            if v.len() == 2000 {
                load_batch(&engine, v)?;
            }
        }
        for v in by_tenant.values_mut() {
            load_batch(&engine, v)?;
        }
        eprintln!("loaded {n} customers in {:.1} s", start.elapsed().as_secs_f64());
    }
    if let Some(name) = &drop {
        engine.execute(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    // Customers of the first tenant (the generator's order decides which ids are whose).
    let first = generate(&cfg).next().map(|g| g.tenant).unwrap_or_default();
    let ids: Vec<String> = generate(&GenConfig { scores_per_type: 0, messages_per_customer: 0, ..cfg })
        .filter(|g| g.tenant == first)
        .map(|g| g.customer.id)
        .collect();
    let tenant = engine.tenant(&first)?;
    let before = engine.stats()?;
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let seq = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let (tenant, ids, stop, done, seq) = (&tenant, &ids, &stop, &done, &seq);
            s.spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (w as u64 + 1);
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = seq.fetch_add(1, Ordering::Relaxed);
                    let sc = Score {
                        customer_id: ids[(x % ids.len() as u64) as usize].clone(),
                        score_type: SCORE_TYPES[(i % 3) as usize].to_string(),
                        score: (x % 1000) as f64 / 1000.0,
                        confidence: 0.9,
                        created_at: now + 1 + i as i64 + start.elapsed().as_millis() as i64 * 1000,
                        model: Some("bench".into()),
                    };
                    tenant.add_score(&sc).expect("durable write");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs as u64));
        stop.store(true, Ordering::Relaxed);
    });
    let took = start.elapsed().as_secs_f64();
    let after = engine.stats()?;
    let writes = done.load(Ordering::Relaxed);
    let commits = after.commits.saturating_sub(before.commits).max(1);
    let size = std::fs::metadata(dir.join("data.redb")).map(|m| m.len()).unwrap_or(0);
    println!(
        "{{\"customers\": {n}, \"writers\": {writers}, \"seconds\": {took:.2}, \"writes\": {writes}, \"writes_per_s\": {:.0}, \"writes_per_commit\": {:.1}, \"data_bytes\": {size}, \"dropped\": {:?}}}",
        writes as f64 / took,
        (after.writes - before.writes) as f64 / commits as f64,
        drop.unwrap_or_default()
    );
    engine.close()
}

/// Loads generated customers of one tenant with their scores and messages, then empties `v`.
fn load_batch(engine: &Engine, v: &mut Vec<cidb::datagen::GenCustomer>) -> cidb::Result<()> {
    let Some(first) = v.first() else { return Ok(()) };
    let t = engine.tenant(&first.tenant)?;
    let customers: Vec<_> = v.iter().map(|g| g.customer.clone()).collect();
    let scores: Vec<_> = v.iter().flat_map(|g| g.scores.iter().cloned()).collect();
    let msgs: Vec<_> = v.iter().flat_map(|g| g.messages.iter().cloned()).collect();
    t.upsert_customers(&customers)?;
    t.add_scores(&scores)?;
    t.append_messages(&msgs)?;
    v.clear();
    Ok(())
}
