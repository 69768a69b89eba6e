//! The monitor's cost on the hottest path: a prepared primary-key point query with the
//! statement monitor on versus off (the issue allows at most 5 % slowdown). Criterion
//! measures both; then alternating blocks of both are timed and the median ratio printed
//! (`monitor on/off ratio`), which is robust to drift. Set `CIDB_BENCH_CUSTOMERS` to change
//! the data size (default 3,000 customers over three tenants).

use cidb_benches::load;
use cidb::Value;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Instant;

fn bench(c: &mut Criterion) {
    let n = std::env::var("CIDB_BENCH_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000);
    let f = load(n);
    let stmt = f.tenant.prepare("SELECT * FROM customers WHERE id = ?").unwrap();
    let params = [Value::Text(f.hot_customer.clone())];
    assert_eq!(stmt.query(&params).unwrap().rows.len(), 1);
    let m = f.engine.monitor();

    let mut g = c.benchmark_group("monitor_overhead");
    m.set_enabled(true);
    g.bench_function("prepared_point/monitor_on", |b| b.iter(|| black_box(stmt.query(black_box(&params)).unwrap())));
    m.set_enabled(false);
    g.bench_function("prepared_point/monitor_off", |b| b.iter(|| black_box(stmt.query(black_box(&params)).unwrap())));
    g.finish();

    // Alternating blocks: median per-call time of each setting.
    let block = |on: bool| {
        m.set_enabled(on);
        let t = Instant::now();
        for _ in 0..5_000 {
            black_box(stmt.query(black_box(&params)).unwrap());
        }
        t.elapsed().as_nanos() as f64 / 5_000.0
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for i in 0..40 {
        // alternate which goes first so neither always runs on a warmer cache
        if i % 2 == 0 {
            on.push(block(true));
            off.push(block(false));
        } else {
            off.push(block(false));
            on.push(block(true));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (on, off) = (median(&mut on), median(&mut off));
    m.set_enabled(true);
    let calls = m.top(100).into_iter().find(|s| s.query == "SELECT * FROM customers WHERE id = ?").map_or(0, |s| s.calls);
    assert!(calls > 100_000, "monitor on recorded the calls ({calls})");
    eprintln!("monitor on {on:.0} ns/call, off {off:.0} ns/call: monitor on/off ratio {:.3}", on / off);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
