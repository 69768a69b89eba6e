//! Profiling helper: loads 3,000 customers, then runs one bench pattern's prepared
//! statement N times and EXPLAIN (parse + plan) M times, printing the time per iteration.
//! `cargo build --release -p cidb-benches --example prof && perf record -g
//! target/release/examples/prof pk_point 200000 1000`

use cidb_benches::*;
fn main() {
    let f = load(3000);
    let pats = patterns(&f);
    let which = std::env::args().nth(1).unwrap_or("pk_point".into());
    let n: usize = std::env::args().nth(2).and_then(|x| x.parse().ok()).unwrap_or(200_000);
    let p = pats.iter().find(|p| p.name == which).unwrap();
    let stmt = f.tenant.prepare(p.sql).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n { std::hint::black_box(stmt.query(&p.params).unwrap()); }
    eprintln!("exec {:?}/iter", t.elapsed() / n as u32);
    let t = std::time::Instant::now();
    let m: usize = std::env::args().nth(3).and_then(|x| x.parse().ok()).unwrap_or(n / 10);
    for _ in 0..m { std::hint::black_box(f.tenant.explain(p.sql, &p.params, false).unwrap()); }
    eprintln!("plan {:?}/iter", t.elapsed() / m.max(1) as u32);
}
