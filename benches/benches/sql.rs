//! Parse + plan time and prepared-statement execution of the seed query patterns, cidb
//! next to SQLite's prepared statements on the same rows (tenant_0 of a generated
//! dataset). Set `CIDB_BENCH_CUSTOMERS` to change the data size (default 15,000 customers
//! over three tenants). Results of both engines are checked to be equal before timing.

use cidb_benches::{load, patterns, sqlite_query};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let n = std::env::var("CIDB_BENCH_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(15_000);
    let f = load(n);
    let pats = patterns(&f);
    for p in &pats {
        let ours = f.tenant.query(p.sql, &p.params).unwrap();
        let mut st = f.sqlite.prepare_cached(p.sql).unwrap();
        let theirs = sqlite_query(&mut st, &p.params);
        assert_eq!(ours.rows.len(), theirs.len(), "{}: cidb and SQLite disagree", p.name);
        let plan = f.tenant.explain(p.sql, &p.params, false).unwrap();
        let mut eqp = f.sqlite.prepare(&format!("EXPLAIN QUERY PLAN {}", p.sql)).unwrap();
        let sqlite_plan: Vec<String> = eqp
            .query_map(rusqlite::params_from_iter(p.params.iter().map(cidb_benches::to_sql)), |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        eprintln!("{:<22} {:>6} rows  cidb: {}", p.name, ours.rows.len(), plan.steps().iter().map(|s| s.detail.as_str()).collect::<Vec<_>>().join("; "));
        eprintln!("{:<22} {:>6}       sqlite: {}", "", "", sqlite_plan.join("; "));
    }

    let mut g = c.benchmark_group("parse_plan");
    for p in &pats {
        g.bench_function(format!("cidb/{}", p.name), |b| {
            b.iter(|| black_box(f.tenant.explain(p.sql, &p.params, false).unwrap()))
        });
        g.bench_function(format!("sqlite/{}", p.name), |b| b.iter(|| black_box(f.sqlite.prepare(p.sql).unwrap())));
    }
    g.finish();

    let mut g = c.benchmark_group("execute_prepared");
    for p in &pats {
        let stmt = f.tenant.prepare(p.sql).unwrap();
        g.bench_function(format!("cidb/{}", p.name), |b| b.iter(|| black_box(stmt.query(&p.params).unwrap())));
        let mut st = f.sqlite.prepare_cached(p.sql).unwrap();
        g.bench_function(format!("sqlite/{}", p.name), |b| b.iter(|| black_box(sqlite_query(&mut st, &p.params))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
