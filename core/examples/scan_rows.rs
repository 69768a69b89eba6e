//! The Rust side of `python/benchmarks/bench_to_arrow.py`: the same customers (production
//! profile, `N` rows with a small attributes object, every other name NULL), then the same
//! full-table SELECT of eight columns through `Tenant::query` (rows) and through
//! `Tenant::query_column_chunks` (what the Python binding runs: columns, one chunk per
//! thread of a parallel scan, not joined), timed in-process, best of
//! `RUNS` each. Prints one line of JSON:
//! `{"rows": n, "rows_ms": x, "columns_ms": y, "columns_cpu_ms": z}` (z: CPU time of the
//! process per column run, all threads, from /proc; 0 where there is none: above
//! `columns_ms` when the scan ran on several threads).
//!
//!   cargo run --release -p cidb --example scan_rows [rows=1000000] [runs=3] [columns]
//!
//! With `columns` only the column path runs (for a profile of it alone; `rows_ms` is 0).

use cidb::{Config, Customer, Engine, Profile};
use std::time::Instant;

/// The SELECT both sides run.
const SQL: &str = "SELECT id, email, name, department, status, created_at, updated_at, attributes FROM customers";

fn main() -> cidb::Result<()> {
    let only_columns = std::env::args().any(|a| a == "columns");
    let mut args = std::env::args().skip(1).filter(|a| a != "columns").map(|a| a.parse::<usize>().expect("a number"));
    let n = args.next().unwrap_or(1_000_000);
    let runs = args.next().unwrap_or(3);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Engine::open(dir.path(), Config::profile(Profile::Production))?;
    let t = db.tenant("bench")?;
    let now = 1_700_000_000_000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(50_000) {
        let customers: Vec<Customer> = chunk
            .iter()
            .map(|&i| {
                let mut c = Customer::new(format!("c{i:07}"), now + i as i64);
                c.email = Some(format!("c{i}@example.com"));
                c.name = (i % 2 == 0).then(|| format!("Customer {i}"));
                c.department = format!("d{}", i % 10);
                c.status = "active".into();
                c.attributes = serde_json::json!({"tier": if i % 2 == 1 { "gold" } else { "silver" }, "seats": i % 50});
                c
            })
            .collect();
        t.upsert_customers(&customers)?;
    }
    let mut rows_s = if only_columns { 0.0 } else { f64::MAX };
    let mut cols_s = f64::MAX;
    let mut cols_cpu = 0.0;
    for _ in 0..runs {
        if !only_columns {
            let start = Instant::now();
            let r = t.query(SQL, &[])?;
            rows_s = rows_s.min(start.elapsed().as_secs_f64());
            assert_eq!(r.rows.len(), n);
            drop(r);
        }
        let (start, cpu) = (Instant::now(), cpu_s());
        let c = t.query_column_chunks(SQL, &[])?;
        cols_s = cols_s.min(start.elapsed().as_secs_f64());
        cols_cpu += (cpu_s() - cpu) / runs as f64;
        assert_eq!(c.iter().map(|c| c.rows).sum::<usize>(), n);
    }
    println!(
        "{{\"rows\": {n}, \"rows_ms\": {:.1}, \"columns_ms\": {:.1}, \"columns_cpu_ms\": {:.0}}}",
        rows_s * 1e3,
        cols_s * 1e3,
        cols_cpu * 1e3
    );
    db.close()
}

/// CPU time of this process so far (user + system, every thread), seconds; 0 without /proc.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    // utime and stime, fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
