//! The cidb side of `cidb bench`'s bulk_ingest workload, alone (for profiling the write
//! path): production profile, a fresh database, `N` generated customers in one
//! `upsert_customers` call (one transaction). Prints one line of JSON:
//! `{"customers": n, "seconds": s, "cpu_s": c, "rows_per_s": r}` (cpu_s: the process's user +
//! system time over the call, all threads, from `/proc/self/stat`; 0 where there is none).
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
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    t.upsert_customers(&customers)?;
    let (s, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    assert_eq!(t.count_customers()?, n as u64);
    db.close()?;
    println!("{{\"customers\": {n}, \"seconds\": {s:.3}, \"cpu_s\": {cpu:.2}, \"rows_per_s\": {:.0}}}", n as f64 / s);
    Ok(())
}

/// User + system CPU seconds of this process so far (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().skip(11).take(2).filter_map(|x| x.parse().ok()).collect();
    f.iter().sum::<u64>() as f64 / 100.0
}
