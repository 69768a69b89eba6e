//! The cidb side of `cidb bench`'s bulk_ingest workload, alone (for profiling the write
//! path): production profile, a fresh database, `N` generated customers in one
//! `upsert_customers` call (one transaction). Prints one line of JSON:
//! `{"customers": n, "seconds": s, "rows_per_s": r}`.
//!
//!   cargo run --release -p cidb --example bulk_ingest [customers=200000]

use cidb::datagen::{generate, GenConfig};
use cidb::{Config, Engine, Profile};
use std::time::Instant;

fn main() -> cidb::Result<()> {
    let n = std::env::args().nth(1).map(|a| a.parse::<usize>().expect("a number")).unwrap_or(200_000);
    let dir = tempfile::tempdir_in(std::env::var("INGEST_DIR").unwrap_or_else(|_| ".".into())).expect("temp dir");
    let cfg = GenConfig { tenants: 1, ..GenConfig::new(n, 7, cidb::Clock::system().now()) };
    let customers: Vec<cidb::Customer> = generate(&cfg).map(|g| g.customer).collect();
    let db = Engine::open(dir.path(), Config::profile(Profile::Production))?;
    let t = db.tenant("ingest")?;
    let start = Instant::now();
    t.upsert_customers(&customers)?;
    let s = start.elapsed().as_secs_f64();
    assert_eq!(t.count_customers()?, n as u64);
    db.close()?;
    println!("{{\"customers\": {n}, \"seconds\": {s:.3}, \"rows_per_s\": {:.0}}}", n as f64 / s);
    Ok(())
}
