//! `cidb bench`: the benchmark suite on a generated dataset, optionally side by side with
//! SQLite in the same run (`--vs sqlite`), printed as a table, written as JSON
//! (`--json`) and as a self-contained HTML report with inline SVG charts (`--report`).
//! Query workloads are verified before timing: with `--vs sqlite`, cidb and SQLite must
//! return the same rows for the same parameters, and a mismatch fails the command. Speed
//! never fails it; the targets are printed as met or missed.
//!
//! Files: [`measure`] (timing, histograms, RSS, CPU), [`row`] (result rows), [`data`]
//! (dataset), [`queries`] (query workloads), [`cidb_side`] / `sqlite_side` (each engine's
//! answers), `sqlite` (SQLite setup and writes), [`reads`] (verification and timed reads),
//! [`writes`] (contexts, mixed, durable writes, bulk ingest), [`cache`] (hit ratios per
//! tier, L1 hit latency), [`feed`] (change-feed throughput and latency), [`memory`]
//! (scaling probes in child processes), [`targets`], [`report`] and [`svg`].

pub mod cache;
pub mod cidb_side;
pub mod data;
pub mod feed;
pub mod measure;
pub mod memory;
pub mod queries;
pub mod reads;
pub mod report;
pub mod row;
#[cfg(feature = "vs-sqlite")]
pub mod sqlite;
#[cfg(feature = "vs-sqlite")]
pub mod sqlite_side;
pub mod svg;
pub mod targets;
pub mod writes;

use cidb::datagen::GenConfig;
use cidb::{Config, Engine, Error, ErrorKind, Profile, Result};
use measure::Budget;
use row::Row;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `cidb bench`.
#[derive(clap::Args, Clone)]
pub struct BenchArgs {
    /// Customers in the generated dataset (default 100,000; 2,000 with --quick).
    #[arg(long)]
    pub customers: Option<usize>,
    /// Short runs on a tiny dataset: a smoke test that every workload runs (under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Run every workload on this engine too, in the same run, and print the ratios.
    #[arg(long, value_parser = ["sqlite"])]
    pub vs: Option<String>,
    /// Write the rows as JSON to FILE (stdout when no FILE is given).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (inline SVG charts) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Seconds per timed workload (default 2; 0.15 with --quick).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Customers in the bulk-ingest workload (default: --customers).
    #[arg(long)]
    pub ingest_customers: Option<usize>,
    /// Dataset sizes of the memory-scaling rows (default 10000,100000,1000000; with --quick
    /// 1000,2000,4000; empty to skip).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub memory_sizes: Option<Vec<usize>>,
    /// Largest size whose memory probe loads the full dataset (scores and messages too);
    /// every size is also probed with customers only (default 100,000).
    #[arg(long)]
    pub memory_full_max: Option<usize>,
    /// Run only the workloads whose name contains one of these words.
    #[arg(long, value_delimiter = ',')]
    pub only: Option<Vec<String>>,
    /// Threads of the mixed read/write workload.
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    /// Where the databases go (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Internal: load a dataset of this size in this process and print memory figures.
    #[arg(long, hide = true)]
    pub probe: Option<usize>,
    /// Internal: the L1 byte bound of the probe.
    #[arg(long, hide = true)]
    pub probe_l1_bytes: Option<usize>,
    /// Internal: the probe loads customers only.
    #[arg(long, hide = true)]
    pub probe_customers_only: bool,
}

/// Settings resolved from the arguments.
pub struct Settings {
    /// Dataset size.
    pub customers: usize,
    /// Per-workload time.
    pub budget: Budget,
    /// Parameter sets per query workload.
    pub params: usize,
    /// Whether SQLite runs too.
    pub vs_sqlite: bool,
    /// Quick mode.
    pub quick: bool,
    /// Workload filter.
    pub only: Option<Vec<String>>,
    /// Working directory.
    pub dir: PathBuf,
    /// Arguments as given.
    pub args: BenchArgs,
}

impl Settings {
    /// True when the workload `name` is selected.
    pub fn wants(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|w| name.contains(w.as_str())))
    }

    /// True when a selected workload runs on the loaded dataset. Without `--only` every
    /// workload runs; with it, the load (minutes at 1M customers) is skipped only when every
    /// word selects nothing but workloads that bring their own data ([`STANDALONE`]): a word
    /// that also names a dataset workload, or names nothing known, keeps the load.
    pub fn needs_dataset(&self) -> bool {
        needs_dataset(self.only.as_deref())
    }

    /// A budget of `scale` × the per-workload time.
    pub fn budget_x(&self, scale: f64) -> Budget {
        Budget { time: self.budget.time.mul_f64(scale), ..self.budget }
    }
}

/// Workloads that bring their own data: bulk ingest (a fresh store) and the memory rows
/// (child processes).
pub const STANDALONE: [&str; 3] = ["bulk_ingest", "memory_scaling", "l1_bound"];

/// Names (or name stems) of the workloads that run on the loaded dataset.
pub const DATASET: [&str; 18] = [
    "load_dataset", "customer_by_id_hot", "customer_by_id_cold", "customer_by_id_zipf", "latest_score", "score_history",
    "segment_query", "tenant_query", "email_lookup", "high_score_customers", "recent_messages", "join_high_score_recent",
    "app_cache_tiers", "l1_hit", "context_update", "mixed_90_10_", "durable_writes_", "feed_writes_",
];

fn needs_dataset(only: Option<&[String]>) -> bool {
    let Some(words) = only else { return true };
    words.iter().any(|w| DATASET.iter().any(|n| n.contains(w.as_str())) || !STANDALONE.iter().any(|n| n.contains(w.as_str())))
}

/// The configuration every benchmark engine uses: the production profile (L1 10,000 items /
/// 500 MB), system clock, seed indexes, everything else default, except that
/// `CIDB_COMMIT_LOG` (read by the config loader, so it takes what the config file takes)
/// turns the commit log on or off, for an A/B of it.
pub fn engine_config() -> Result<Config> {
    let env = std::env::vars().filter(|(k, _)| k == "CIDB_COMMIT_LOG");
    let (mut cfg, _) = cidb::config::load(Some(Profile::Production.as_str()), None, env)?;
    // The loader sizes background work from the CPU count; the bench keeps the profile's.
    cfg.background_workers = Config::profile(Profile::Production).background_workers;
    Ok(cfg)
}

fn usage(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, msg.into())
}

/// Runs `cidb bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(n) = args.probe {
        return memory::probe(n, args.probe_l1_bytes, args.probe_customers_only, args.dir.as_deref());
    }
    let vs_sqlite = args.vs.as_deref() == Some("sqlite");
    if vs_sqlite && !cfg!(feature = "vs-sqlite") {
        return Err(usage("this cidb was built without the vs-sqlite feature; rebuild with --features vs-sqlite"));
    }
    let customers = args.customers.unwrap_or(if args.quick { 2_000 } else { 100_000 });
    if customers < 10 {
        return Err(usage("--customers must be at least 10"));
    }
    let secs = args.seconds.unwrap_or(if args.quick { 0.15 } else { 2.0 });
    if !(secs > 0.0 && secs < 3600.0) {
        return Err(usage("--seconds must be between 0 and 3600"));
    }
    let tmp = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::Builder::new().prefix("cidb-bench-").tempdir_in(d)?
        }
        None => tempfile::Builder::new().prefix("cidb-bench-").tempdir()?,
    };
    let s = Settings {
        customers,
        budget: Budget::new(Duration::from_secs_f64(secs), u64::MAX),
        params: if args.quick { 2_000 } else { 20_000 },
        vs_sqlite,
        quick: args.quick,
        only: args.only.clone(),
        dir: tmp.path().to_path_buf(),
        args: args.clone(),
    };
    let started = std::time::Instant::now();
    let mut out = Outcome::default();
    suite(&s, &mut out)?;
    row::fill_ratios(&mut out.rows);
    let checks = targets::evaluate(&out, &s);
    print_all(&out, &checks, &s);
    if let Some(p) = &args.json {
        let v = serde_json::json!({
            "settings": settings_json(&s),
            "rows": out.rows,
            "targets": checks,
            "memory_scaling": out.memory,
            "plans": out.plans,
            "mismatches": out.mismatches,
            "notes": out.notes,
        });
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        if p.as_os_str() == "-" {
            println!("{text}");
        } else {
            std::fs::write(p, text)?;
        }
    }
    if let Some(p) = &args.report {
        std::fs::write(p, report::html(&out, &checks, &settings_json(&s)))?;
        eprintln!("report written to {}", p.display());
    }
    eprintln!("bench finished in {:.1} s", started.elapsed().as_secs_f64());
    if !out.mismatches.is_empty() {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("cidb and SQLite disagree on {} query result(s): {}", out.mismatches.len(), out.mismatches.join("; ")),
        ));
    }
    Ok(())
}

fn settings_json(s: &Settings) -> serde_json::Value {
    serde_json::json!({
        "customers": s.customers,
        "seconds_per_workload": s.budget.time.as_secs_f64(),
        "quick": s.quick,
        "vs": if s.vs_sqlite { "sqlite" } else { "" },
        "threads_mixed": s.args.threads,
        "seed": s.args.seed,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cidb_config": "production profile (L1 10,000 items / 500 MB), seed indexes, system clock, monitor on",
        "sqlite_config": if s.vs_sqlite { sqlite_note() } else { "" },
    })
}

fn sqlite_note() -> &'static str {
    #[cfg(feature = "vs-sqlite")]
    {
        sqlite::SETUP_NOTE
    }
    #[cfg(not(feature = "vs-sqlite"))]
    {
        ""
    }
}

/// Everything a run produced.
#[derive(Default)]
pub struct Outcome {
    /// Result rows.
    pub rows: Vec<Row>,
    /// Query results where the engines disagreed.
    pub mismatches: Vec<String>,
    /// Memory-scaling points.
    pub memory: Vec<memory::Point>,
    /// The L1 byte-bound check.
    pub l1_bound: Option<memory::BoundCheck>,
    /// Query plans per statement workload: (workload, cidb plan, SQLite plan).
    pub plans: Vec<(String, String, String)>,
    /// Things that did not run (a failed probe), for the reader.
    pub notes: Vec<String>,
}

/// A SQLite connection (an uninhabited stand-in when built without SQLite).
#[cfg(feature = "vs-sqlite")]
pub type Conn = rusqlite::Connection;
/// A SQLite connection (an uninhabited stand-in when built without SQLite).
#[cfg(not(feature = "vs-sqlite"))]
pub enum Conn {}

#[cfg(feature = "vs-sqlite")]
fn open_sqlite(path: &std::path::Path) -> Result<Conn> {
    sqlite::open(path).and_then(|c| sqlite::create_schema(&c, false).map(|()| c)).map_err(sql_err)
}

#[cfg(not(feature = "vs-sqlite"))]
fn open_sqlite(_: &std::path::Path) -> Result<Conn> {
    Err(usage("built without the vs-sqlite feature"))
}

fn suite(s: &Settings, out: &mut Outcome) -> Result<()> {
    if !s.needs_dataset() {
        eprintln!("cidb bench: no selected workload needs the dataset; not loading it");
        writes::bulk_ingest(s, out)?;
        return memory::run_all(s, out);
    }
    let engine = Engine::open(s.dir.join("cidb"), engine_config()?)?;
    let cfg = GenConfig::new(s.customers, s.args.seed, cidb::Clock::system().now());
    eprintln!(
        "cidb bench: {} customers, {:.2} s per workload{}",
        s.customers,
        s.budget.time.as_secs_f64(),
        if s.vs_sqlite { ", vs SQLite" } else { "" }
    );
    let path = s.dir.join("sqlite.db");
    let conn = if s.vs_sqlite { Some(open_sqlite(&path)?) } else { None };
    let ds = reads::load_both(&engine, cfg, conn.as_ref(), out)?;
    reads::run_all(s, &ds, conn.as_ref(), out)?;
    cache::run_all(s, &engine, &ds, conn.as_ref(), out)?;
    drop(conn);
    let path = s.vs_sqlite.then_some(path.as_path());
    writes::run_all(s, &ds, path, out)?;
    feed::run_all(s, &ds, out)?;
    drop(ds);
    engine.close()?;
    writes::bulk_ingest(s, out)?;
    memory::run_all(s, out)?;
    Ok(())
}

/// Maps a SQLite error into a cidb error.
#[cfg(feature = "vs-sqlite")]
pub fn sql_err(e: rusqlite::Error) -> Error {
    Error::new(ErrorKind::Storage, format!("SQLite: {e}"))
}

fn print_all(out: &Outcome, checks: &[targets::Check], s: &Settings) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "\ncidb bench: {} customers, {:.2} s per workload, {} cores{}", s.customers, s.budget.time.as_secs_f64(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), if s.vs_sqlite { ", ratios = cidb ops/s ÷ SQLite ops/s" } else { "" });
    let _ = row::print_header(&mut o);
    for r in &out.rows {
        let _ = row::print_row(&mut o, r);
    }
    if !out.memory.is_empty() {
        let _ = writeln!(o, "\nmemory scaling (fresh process per size; after load and one read of every customer):");
        for p in &out.memory {
            let _ = writeln!(
                o,
                "  {:<9} {:>9} customers  RSS {:>8.1} MB  peak {:>8.1} MB  heap {:>8.1} MB  disk {:>8.1} MB  load {:>7.1} s",
                p.dataset, p.customers, p.rss_mb, p.hwm_mb, p.heap_mb, p.disk_mb, p.load_secs
            );
        }
    }
    if let Some(b) = &out.l1_bound {
        let _ = writeln!(o, "  L1 byte bound {:.1} MB: accounted {:.1} MB, measured heap {:.1} MB ({} items)", b.bound_mb, b.accounted_mb, b.measured_mb, b.items);
    }
    if !out.plans.is_empty() {
        let _ = writeln!(o, "\nplans:");
        for (w, a, b) in &out.plans {
            let _ = writeln!(o, "  {w}\n    cidb:   {a}\n    sqlite: {b}");
        }
    }
    let _ = writeln!(o, "\ntargets:");
    for c in checks {
        let _ = writeln!(o, "  [{}] {:<44} {}", if c.met { "met " } else { "MISS" }, c.target, c.measured);
    }
    for n in &out.notes {
        let _ = writeln!(o, "note: {n}");
    }
    if !out.mismatches.is_empty() {
        let _ = writeln!(o, "\nMISMATCHES:");
        for m in &out.mismatches {
            let _ = writeln!(o, "  {m}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::needs_dataset;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    /// The load is skipped only when every `--only` word selects standalone workloads alone.
    #[test]
    fn only_standalone_words_skip_the_load() {
        assert!(needs_dataset(None));
        for skip in [&["bulk"][..], &["bulk_ingest", "memory"], &["l1_bound"], &["ingest", "scaling"]] {
            assert!(!needs_dataset(Some(&words(skip))), "{skip:?}");
        }
        // "l1" also names l1_hit, "_" names everything, "durable" and "tenant" are dataset
        // workloads, and an unknown word keeps the load (it may name a workload added later).
        for keep in [&["l1"][..], &["_"], &["bulk", "durable"], &["tenant"], &["mixed_90_10_16t"], &["nosuch"], &["feed"]] {
            assert!(needs_dataset(Some(&words(keep))), "{keep:?}");
        }
    }
}
