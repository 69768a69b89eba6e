//! `cidb demo`: loads the deterministic generated dataset into a database directory (or
//! reuses it when the same size and seed are already there), then prints counts per store,
//! time per phase and a few sample lookups.

use cidb::datagen::{generate, GenConfig, SCORE_TYPES};
use cidb::{Config, Engine, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `cidb demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Database directory (default: $CIDB_DIR or ~/.local/share/cidb/demo).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Number of customers to generate.
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Rebuild even when the directory already holds this dataset.
    #[arg(long)]
    pub rebuild: bool,
}

/// The embedded default directory.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CIDB_DIR") {
        return PathBuf::from(d);
    }
    match std::env::var_os("HOME") {
        Some(h) => Path::new(&h).join(".local/share/cidb/demo"),
        None => PathBuf::from("cidb-demo"),
    }
}

const MARKER: &str = "demo.json";
/// The demo's fixed "now", so the same seed gives the same rows on every run.
const DEMO_NOW: i64 = 1_790_000_000_000;

fn marker_matches(dir: &Path, args: &DemoArgs) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(MARKER)) else { return false };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    v["customers"] == args.customers && v["seed"] == args.seed && v["complete"] == true
}

fn write_marker(dir: &Path, args: &DemoArgs, complete: bool) -> Result<()> {
    let v = serde_json::json!({ "customers": args.customers, "seed": args.seed, "now": DEMO_NOW, "complete": complete });
    std::fs::write(dir.join(MARKER), v.to_string())?;
    Ok(())
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    let reuse = !args.rebuild && marker_matches(&dir, &args);
    if !reuse && dir.exists() {
        // Only remove a directory that is a cidb database (or empty), never anything else.
        let is_ours = dir.join("data.redb").exists() || std::fs::read_dir(&dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !is_ours {
            return Err(cidb::Error::new(
                cidb::ErrorKind::InvalidInput,
                format!("{} exists and is not a cidb database; choose another --dir", dir.display()),
            ));
        }
        // Take the lock first so a running engine's directory is never removed under it.
        drop(Engine::open(&dir, Config::default().with_seed_indexes(false))?);
        std::fs::remove_dir_all(&dir)?;
    }
    println!("cidb demo: {} (customers={}, seed={})", dir.display(), args.customers, args.seed);
    let t_open = Instant::now();
    let (cfg, _) = crate::effective_config(None, None)?;
    let db = Engine::open(&dir, cfg)?;
    println!("  open                 {:>9.1} ms", ms(t_open));
    if reuse {
        println!("  load                 reused the existing dataset (use --rebuild to regenerate)");
    } else {
        write_marker(&dir, &args, false)?;
        load(&db, &args)?;
        write_marker(&dir, &args, true)?;
    }
    summary(&db)?;
    samples(&db, &args)?;
    db.close()
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn load(db: &Engine, args: &DemoArgs) -> Result<()> {
    let cfg = GenConfig::new(args.customers, args.seed, DEMO_NOW);
    let (mut t_c, mut t_s, mut t_m) = (0.0, 0.0, 0.0);
    let (mut n_c, mut n_s, mut n_m) = (0usize, 0usize, 0usize);
    let mut batch: BTreeMap<String, Vec<cidb::datagen::GenCustomer>> = BTreeMap::new();
    let mut pending = 0;
    let mut flush = |batch: &mut BTreeMap<String, Vec<cidb::datagen::GenCustomer>>| -> Result<()> {
        for (tenant, rows) in std::mem::take(batch) {
            let t = db.tenant(&tenant)?;
            let customers: Vec<_> = rows.iter().map(|g| g.customer.clone()).collect();
            let scores: Vec<_> = rows.iter().flat_map(|g| g.scores.iter().cloned()).collect();
            let messages: Vec<_> = rows.iter().flat_map(|g| g.messages.iter().cloned()).collect();
            let s = Instant::now();
            t.upsert_customers(&customers)?;
            t_c += ms(s);
            let s = Instant::now();
            t.add_scores(&scores)?;
            t_s += ms(s);
            let s = Instant::now();
            t.append_messages(&messages)?;
            t_m += ms(s);
            (n_c, n_s, n_m) = (n_c + customers.len(), n_s + scores.len(), n_m + messages.len());
        }
        Ok(())
    };
    for g in generate(&cfg) {
        batch.entry(g.tenant.clone()).or_default().push(g);
        pending += 1;
        if pending == 2_000 {
            flush(&mut batch)?;
            pending = 0;
        }
    }
    flush(&mut batch)?;
    println!("  load customers       {:>9.1} ms  {:>9} rows  {:>10.0} rows/s", t_c, n_c, n_c as f64 / (t_c / 1e3));
    println!("  load scores          {:>9.1} ms  {:>9} rows  {:>10.0} rows/s", t_s, n_s, n_s as f64 / (t_s / 1e3));
    println!("  load messages        {:>9.1} ms  {:>9} rows  {:>10.0} rows/s", t_m, n_m, n_m as f64 / (t_m / 1e3));
    Ok(())
}

fn summary(db: &Engine) -> Result<()> {
    let s = db.stats()?;
    println!("stores:");
    let n = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    println!("  customers            {:>9}", n(s.customers));
    println!("  customer_scores      {:>9}", n(s.scores));
    println!("  latest_scores        {:>9}", n(s.latest_scores));
    println!("  conversation_msgs    {:>9}", n(s.messages));
    Ok(())
}

fn samples(db: &Engine, args: &DemoArgs) -> Result<()> {
    let cfg = GenConfig::new(args.customers.min(5), args.seed, DEMO_NOW);
    println!("sample lookups:");
    for g in generate(&cfg).take(3) {
        let t = db.tenant(&g.tenant)?;
        let s = Instant::now();
        let c = t.get_customer(&g.customer.id)?;
        let get_us = s.elapsed().as_secs_f64() * 1e6;
        let Some(c) = c else { continue };
        let s = Instant::now();
        let latest = t.latest_score(&c.id, SCORE_TYPES[0])?;
        let latest_us = s.elapsed().as_secs_f64() * 1e6;
        let s = Instant::now();
        let recent = t.messages_for_customer(&c.id, DEMO_NOW - 30 * cidb::datagen::DAY_MS, i64::MAX, None, 5)?;
        let msg_us = s.elapsed().as_secs_f64() * 1e6;
        println!(
            "  {}/{}: {} ({}, {}), churn_risk={} [{:.1} µs], {} recent messages [{:.1} µs] (get {:.1} µs)",
            g.tenant,
            c.id,
            c.name.as_deref().unwrap_or("-"),
            c.department,
            c.status,
            latest.map_or("-".to_string(), |l| format!("{:.3}", l.score)),
            latest_us,
            recent.len(),
            msg_us,
            get_us
        );
    }
    Ok(())
}
