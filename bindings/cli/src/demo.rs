//! `cidb demo`: loads the deterministic generated dataset into a database directory (or
//! reuses it when the same size and seed are already there), then prints counts per store,
//! time per phase and a few sample lookups, runs the seven seed query patterns as SQL plus
//! one lookup no seed index covers (customers by name), and ends with the monitor's top
//! fingerprints and the index advisor's report on that workload (recommended indexes with
//! their estimated gain, unused indexes, unindexed foreign keys).

use cidb::datagen::{generate, GenConfig, DAY_MS, DEPARTMENTS, SCORE_TYPES, STATUSES};
use cidb::{Config, Engine, Result, Value};
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
    seed_patterns(&db, &args)?;
    println!("top statements (the statement monitor, by total time):");
    print!("{}", top_table(&db, 10));
    let advice = db.advise()?;
    print!("{}", advisor_text(&advice));
    if !advice.recommendations.is_empty() {
        println!("  (build them online with `cidb advise --apply --dir {}`, see the plans with `cidb advise`)", dir.display());
    }
    db.close()
}

/// The monitor's top fingerprints as a short table: calls, mean and p95 latency, rows
/// returned and examined per call, and the normalised statement.
fn top_table(db: &Engine, n: usize) -> String {
    let header: Vec<String> = ["calls", "mean_ms", "p95_ms", "rows/call", "examined/call", "query"].map(String::from).to_vec();
    let rows: Vec<Vec<String>> = db
        .monitor()
        .top(n)
        .iter()
        .map(|f| {
            let per = |x: u64| format!("{:.1}", x as f64 / f.calls.max(1) as f64);
            vec![
                f.calls.to_string(),
                format!("{:.3}", f.mean_ms),
                format!("{:.3}", f.p95_ms),
                per(f.rows_returned),
                per(f.rows_examined),
                f.query.clone(),
            ]
        })
        .collect();
    crate::table::render(&header, &rows)
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// The advisor's report, compact: each recommendation with its estimated gain, the
/// statement that builds it and the queries it helps; then unused indexes and foreign keys
/// without a usable index (each section says so when it is empty).
fn advisor_text(a: &cidb::Advice) -> String {
    let mut out = format!("index advisor ({} recorded queries considered):\n", a.queries_considered);
    out.push_str("  recommended indexes:\n");
    if a.recommendations.is_empty() {
        out.push_str("    none\n");
    }
    for r in &a.recommendations {
        out.push_str(&format!(
            "    {};\n      estimated gain {:.1} % (cost {:.0} -> {:.0})\n",
            r.create_sql,
            r.gain * 100.0,
            r.cost_before,
            r.cost_after
        ));
        for q in &r.queries {
            out.push_str(&format!("      helps {} calls of: {}\n", q.calls, q.query));
        }
    }
    out.push_str("  unused indexes (no recorded statement read them):\n");
    if a.unused_indexes.is_empty() {
        out.push_str("    none\n");
    }
    for u in &a.unused_indexes {
        let unique = if u.unique { ", UNIQUE" } else { "" };
        out.push_str(&format!("    {} on {} ({} entries{unique}): {};\n", u.name, u.table, u.entries, u.drop_sql));
    }
    out.push_str("  unindexed foreign keys:\n");
    if a.unindexed_foreign_keys.is_empty() {
        out.push_str("    none (every customer_id column has a usable index)\n");
    }
    for f in &a.unindexed_foreign_keys {
        out.push_str(&format!("    {}.{} -> {}: {};\n", f.table, f.column, f.references, f.create_sql));
    }
    out
}

/// The seven query patterns the seed indexes exist for, as prepared SQL, each run with
/// parameters from the generated data.
fn seed_patterns(db: &Engine, args: &DemoArgs) -> Result<()> {
    let t = db.tenant("tenant_0")?;
    let cfg = GenConfig::new(args.customers.min(60), args.seed, DEMO_NOW);
    let mine: Vec<_> = generate(&cfg).filter(|g| g.tenant == "tenant_0").collect();
    let text = |s: &str| Value::Text(s.to_string());
    type Params = Box<dyn Fn(usize) -> Vec<Value>>;
    let id = |i: usize| Value::Text(mine[i % mine.len().max(1)].customer.id.clone());
    let ids: Vec<Value> = (0..mine.len()).map(id).collect();
    let emails: Vec<Value> = mine.iter().map(|g| g.customer.email.clone().map_or(Value::Null, Value::Text)).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let (ids2, ids3) = (ids.clone(), ids.clone());
    let patterns: Vec<(&str, &str, Params)> = vec![
        (
            "department + status + recent",
            "SELECT id, name, created_at FROM customers WHERE department = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 20",
            Box::new(move |i| vec![text(DEPARTMENTS[i % 8]), text(STATUSES[i % 3]), Value::Int(DEMO_NOW - (30 + 10 * i as i64) * DAY_MS)]),
        ),
        (
            "score history",
            "SELECT COUNT(*), AVG(score) FROM customer_scores WHERE customer_id = ? AND score_type = ? AND created_at >= ?",
            Box::new(move |i| vec![ids[i % ids.len()].clone(), text(SCORE_TYPES[i % 3]), Value::Int(DEMO_NOW - 180 * DAY_MS)]),
        ),
        (
            "customer messages",
            "SELECT id, role, timestamp FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
            Box::new(move |i| vec![ids2[i % ids2.len()].clone(), Value::Int(DEMO_NOW - 90 * DAY_MS), Value::Int(DEMO_NOW)]),
        ),
        (
            "tenant + status",
            "SELECT id, department FROM customers WHERE tenant_id = ? AND status = ? ORDER BY department LIMIT 50",
            Box::new(move |i| vec![text("tenant_0"), text(STATUSES[i % 5])]),
        ),
        ("email lookup", "SELECT id, name FROM customers WHERE email = ?", Box::new(move |i| vec![emails[i % emails.len()].clone()])),
        (
            "high scores",
            "SELECT customer_id, score, confidence FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 50",
            Box::new(|_| vec![]),
        ),
        (
            "recent messages",
            "SELECT customer_id, timestamp FROM conversation_messages WHERE timestamp > ? AND customer_id = ?",
            Box::new(move |i| vec![Value::Int(DEMO_NOW - 2 * DAY_MS), ids3[i % ids3.len()].clone()]),
        ),
    ];
    println!("seed query patterns (tenant_0, 20 runs each):");
    for (name, sql, params) in &patterns {
        run_pattern(&t, name, sql, params)?;
    }
    // A lookup no seed index serves, so the advisor at the end has real work to judge.
    let names: Vec<Value> = mine.iter().filter_map(|g| g.customer.name.clone()).map(Value::Text).collect();
    if !names.is_empty() {
        println!("a pattern no seed index covers (customers.name), 20 runs:");
        let by_name: Params = Box::new(move |i| vec![names[i % names.len()].clone()]);
        run_pattern(&t, "customer by name", "SELECT id, email, status FROM customers WHERE name = ?", &by_name)?;
    }
    Ok(())
}

/// Runs `sql` 20 times as a prepared statement with `params(i)` and prints the time per
/// run, the rows returned and the first step of its plan.
fn run_pattern(t: &cidb::Tenant, name: &str, sql: &str, params: &dyn Fn(usize) -> Vec<Value>) -> Result<()> {
    let stmt = t.prepare(sql)?;
    let plan = t.explain(sql, &params(0), false)?;
    let s = Instant::now();
    let mut rows = 0;
    for i in 0..20 {
        rows += stmt.query(&params(i))?.rows.len();
    }
    let per = s.elapsed().as_secs_f64() * 1e6 / 20.0;
    println!("  {name:<28} {per:>9.1} µs/run {rows:>6} rows  {}", plan.steps()[0].detail);
    Ok(())
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
