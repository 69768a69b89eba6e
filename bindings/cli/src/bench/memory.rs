//! Memory figures, each measured in a fresh child process (`cidb bench --probe N`) so
//! that one size's allocations do not colour the next: RSS, peak RSS, live heap and data
//! size on disk after loading N customers and reading every customer once, in two series:
//! customers only (every size), and the full dataset with scores and messages (sizes up to
//! `--memory-full-max`, since a million customers' full dataset is tens of GB); and the
//! L1 byte bound: two probes load the same customers and read them all, one with the L1
//! bounded at B bytes and one with an L1 of 1 byte, so the heap difference is what L1
//! really holds at its bound, compared with B and with L1's own accounting.

use super::data;
use super::measure::{heap_bytes, hwm_bytes, rss_bytes};
use super::{Outcome, Settings};
use cidb::datagen::GenConfig;
use cidb::{Engine, Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One probe's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// `customers` (customers only) or `full` (with scores and messages).
    #[serde(default)]
    pub dataset: String,
    /// Customers loaded.
    pub customers: usize,
    /// Size of the database directory, MB.
    #[serde(default)]
    pub disk_mb: f64,
    /// RSS after load and one read of every customer, MB.
    pub rss_mb: f64,
    /// Peak RSS, MB.
    pub hwm_mb: f64,
    /// Live heap (glibc mallinfo2), MB.
    pub heap_mb: f64,
    /// Load time, s.
    pub load_secs: f64,
    /// L1 entries at the end.
    pub l1_items: u64,
    /// L1 bytes by its own accounting.
    pub l1_bytes: u64,
    /// The L1 byte bound.
    pub l1_bound: u64,
}

/// The L1 byte-bound check.
#[derive(Debug, Clone, Serialize)]
pub struct BoundCheck {
    /// The bound, MB.
    pub bound_mb: f64,
    /// L1's accounting at the end, MB.
    pub accounted_mb: f64,
    /// Heap with the bound minus heap with a 1-byte L1, MB.
    pub measured_mb: f64,
    /// Entries held at the bound.
    pub items: u64,
}

const MB: f64 = (1u64 << 20) as f64;

/// The child side: load, read everything once, print one JSON line.
pub fn probe(n: usize, l1_bytes: Option<usize>, customers_only: bool, dir: Option<&Path>) -> Result<()> {
    let tmp = match dir {
        Some(d) => tempfile::Builder::new().prefix("cidb-probe-").tempdir_in(d)?,
        None => tempfile::Builder::new().prefix("cidb-probe-").tempdir()?,
    };
    let mut cfg = super::engine_config()?;
    if let Some(b) = l1_bytes {
        cfg.l1_max_bytes = b;
        cfg.l1_max_items = n.max(1_000) * 2; // the item bound never binds first
    }
    let engine = Engine::open(tmp.path().join("db"), cfg)?;
    let mut gen = GenConfig::new(n, 42, cidb::Clock::system().now());
    if customers_only {
        gen.scores_per_type = 0;
        gen.messages_per_customer = 0;
    }
    let start = Instant::now();
    let (ds, _) = if customers_only {
        load_customers(&engine, gen)?
    } else {
        data::load(&engine, gen, None, 1)?
    };
    let load_secs = start.elapsed().as_secs_f64();
    for i in 0..n as u32 {
        ds.tenants[ds.tenant_of(i)].get_customer(&ds.id(i))?;
    }
    let l1 = engine.cache().l1();
    let p = Point {
        dataset: if customers_only { "customers" } else { "full" }.to_string(),
        disk_mb: dir_bytes(tmp.path()) as f64 / MB,
        customers: n,
        rss_mb: rss_bytes() as f64 / MB,
        hwm_mb: hwm_bytes() as f64 / MB,
        heap_mb: heap_bytes() as f64 / MB,
        load_secs,
        l1_items: l1.len() as u64,
        l1_bytes: l1.bytes() as u64,
        l1_bound: l1.max_bytes() as u64,
    };
    println!("{}", serde_json::to_string(&p).unwrap_or_default());
    engine.close()
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn load_customers(engine: &Engine, gen: GenConfig) -> Result<(data::Dataset, data::LoadTimes)> {
    // Customers only: the generator still makes one score per type; skip them here.
    let tenants: Vec<_> = (0..gen.tenants).map(|t| engine.tenant(&cidb::datagen::tenant_name(t))).collect::<Result<_>>()?;
    let all: Vec<_> = cidb::datagen::generate(&gen).collect();
    for chunk in all.chunks(data::CHUNK) {
        for t in &tenants {
            let cs: Vec<_> = chunk.iter().filter(|g| g.tenant == t.name()).map(|g| g.customer.clone()).collect();
            t.upsert_customers(&cs)?;
        }
    }
    drop(all);
    Ok((data::Dataset { cfg: gen, tenants, with_email: vec![], recent: vec![], hot: vec![] }, data::LoadTimes::default()))
}

fn run_probe(s: &Settings, n: usize, l1_bytes: Option<usize>, customers_only: bool) -> Result<Point> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("bench").arg("--probe").arg(n.to_string()).arg("--dir").arg(&s.dir);
    if let Some(b) = l1_bytes {
        cmd.arg("--probe-l1-bytes").arg(b.to_string());
    }
    if customers_only {
        cmd.arg("--probe-customers-only");
    }
    let out = cmd.output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    serde_json::from_str(line).map_err(|e| {
        Error::new(ErrorKind::Internal, format!("memory probe of {n} failed: {e}; stderr: {}", String::from_utf8_lossy(&out.stderr)))
    })
}

/// Runs the memory-scaling probes and the L1 bound check. A failed probe is noted and the
/// run goes on.
pub fn run_all(s: &Settings, out: &mut Outcome) -> Result<()> {
    if s.wants("memory_scaling") {
        let sizes = s.args.memory_sizes.clone().unwrap_or(if s.quick { vec![1_000, 2_000, 4_000] } else { vec![10_000, 100_000, 1_000_000] });
        let full_max = s.args.memory_full_max.unwrap_or(if s.quick { usize::MAX } else { 100_000 });
        for (customers_only, label) in [(true, "customers only"), (false, "full dataset")] {
            for &n in sizes.iter().filter(|n| customers_only || **n <= full_max) {
                eprintln!("  memory_scaling {n} ({label})");
                match run_probe(s, n, None, customers_only) {
                    Ok(p) => out.memory.push(p),
                    Err(e) => out.notes.push(format!("memory probe of {n} ({label}) failed: {e}")),
                }
            }
        }
    }
    if s.wants("l1_bound") {
        eprintln!("  l1_bound");
        let (n, bound) = if s.quick { (6_000, 2 << 20) } else { (100_000, 32 << 20) };
        match (run_probe(s, n, Some(bound), true), run_probe(s, n, Some(1), true)) {
            (Ok(with), Ok(without)) => {
                out.l1_bound = Some(BoundCheck {
                    bound_mb: bound as f64 / MB,
                    accounted_mb: with.l1_bytes as f64 / MB,
                    measured_mb: with.heap_mb - without.heap_mb,
                    items: with.l1_items,
                })
            }
            (Err(e), _) | (_, Err(e)) => out.notes.push(format!("L1 bound probe failed: {e}")),
        }
    }
    Ok(())
}
