//! Write workloads, each on cidb and (when comparing) on SQLite with durable commits:
//! conversation-context updates (atomic merge, trim, TTL), a mixed 90 % read / 10 % write
//! load on several threads, durable single score writes with 1, 8 and 64 writers (one
//! SQLite connection per writer, `busy_timeout`), and the bulk ingest of customers into
//! fresh databases (one transaction on each side).

use super::data::{Dataset, Picker};
use super::measure::{run_single, run_threads, Histogram, Measured, OpResult, Probe};
use super::queries::{QuerySide, Q};
use super::row::Row;
use super::{Outcome, Settings};
use cidb::datagen::{customer_id, generate, GenConfig, SCORE_TYPES};
use cidb::{ContextEntry, Engine, Result, Role, Score};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Context updates keep this many entries.
pub const MAX_HISTORY: usize = 20;
const CONVERSATIONS: usize = 1_000;

static SEQ: AtomicI64 = AtomicI64::new(0);

/// A new score for a random customer, newer than anything loaded.
pub fn new_score(ds: &Dataset, p: &mut Picker) -> (usize, Score) {
    let i = p.pick(ds.customers()) as u32;
    let r = p.rng().f64();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let s = Score {
        customer_id: customer_id(i as usize),
        score_type: SCORE_TYPES[(seq % 3) as usize].to_string(),
        score: (r * 1000.0).round() / 1000.0,
        confidence: 0.9,
        created_at: ds.now() + 1 + seq,
        model: Some("bench".into()),
    };
    (ds.tenant_of(i), s)
}

fn entry(i: u64) -> ContextEntry {
    ContextEntry {
        role: if i % 2 == 0 { Role::User } else { Role::Assistant },
        content: format!("turn {i}: a short message of an ongoing conversation"),
        timestamp: cidb::Clock::system().now() + i as i64,
        metadata: serde_json::json!({ "turn": i }),
    }
}

/// Runs the write workloads (not the bulk ingest).
pub fn run_all(s: &Settings, ds: &Dataset, sqlite: Option<&Path>, out: &mut Outcome) -> Result<()> {
    if s.wants("context_update") {
        eprintln!("  context_update");
        context(s, ds, sqlite, out)?;
    }
    let mixed = format!("mixed_90_10_{}t", s.args.threads);
    if s.wants(&mixed) {
        eprintln!("  {mixed}");
        let threads = s.args.threads.max(1);
        if let Some(p) = sqlite {
            let m = run_threads(threads, s.budget, |t| sqlite_mixed(ds, p, t));
            out.rows.push(Row::new(&mixed, "sqlite", threads, &m));
        }
        let m = run_threads(threads, s.budget, |t| cidb_mixed(ds, t));
        out.rows.push(Row::new(&mixed, "cidb", threads, &m));
    }
    for writers in [1usize, 8, 64] {
        let name = format!("durable_writes_{writers}w");
        if !s.wants(&name) {
            continue;
        }
        eprintln!("  {name}");
        let b = s.budget_x(1.5);
        if let Some(p) = sqlite {
            let m = run_threads(writers, b, |t| sqlite_writer(ds, p, t));
            out.rows.push(Row::new(&name, "sqlite", writers, &m));
        }
        let engine = ds.tenants[0].engine().clone();
        let before = engine.stats()?;
        let m = run_threads(writers, b, |t| {
            let mut p = Picker::uniform(500 + t as u64);
            move |_| {
                let (ti, sc) = new_score(ds, &mut p);
                ds.tenants[ti].add_score(&sc).map(|()| 1).map_err(|e| e.to_string())
            }
        });
        let after = engine.stats()?;
        let commits = after.commits.saturating_sub(before.commits).max(1);
        let per = (after.writes - before.writes) as f64 / commits as f64;
        out.rows.push(Row::new(&name, "cidb", writers, &m).with("writes_per_commit", (per * 10.0).round() / 10.0));
    }
    Ok(())
}

fn context(s: &Settings, ds: &Dataset, sqlite: Option<&Path>, out: &mut Outcome) -> Result<()> {
    let ttl = Duration::from_secs(3600);
    if let Some(p) = sqlite {
        let m = sqlite_context(s, ds, p)?;
        out.rows.push(Row::new("context_update", "sqlite", 1, &m));
    }
    let t = &ds.tenants[0];
    let mut pick = Picker::zipf(600, CONVERSATIONS, 0.99);
    let m = run_single(s.budget, |i| {
        let conv = format!("bench_conv_{}", pick.pick(CONVERSATIONS));
        t.update_context(&conv, &[entry(i)], ttl, MAX_HISTORY).map(|c| c.entries.len() as u64).map_err(|e| e.to_string())
    });
    out.rows.push(Row::new("context_update", "cidb", 1, &m).with("max_history", MAX_HISTORY));
    Ok(())
}

#[cfg(feature = "vs-sqlite")]
fn sqlite_context(s: &Settings, ds: &Dataset, path: &Path) -> Result<Measured> {
    let c = super::sqlite::open(path).map_err(super::sql_err)?;
    let tenant = ds.tenants[0].name().to_string();
    let mut pick = Picker::zipf(600, CONVERSATIONS, 0.99);
    Ok(run_single(s.budget, |i| {
        let conv = format!("bench_conv_{}", pick.pick(CONVERSATIONS));
        let now = cidb::Clock::system().now();
        super::sqlite::update_context(&c, &tenant, &conv, &[entry(i)], now, 3_600_000, MAX_HISTORY)
            .map(|n| n as u64)
            .map_err(|e| e.to_string())
    }))
}

#[cfg(not(feature = "vs-sqlite"))]
fn sqlite_context(_: &Settings, _: &Dataset, _: &Path) -> Result<Measured> {
    Ok(Measured::default())
}

/// One thread of the mixed load on cidb: 90 % reads (customer by id or latest score, Zipf
/// over every customer), 10 % durable score writes.
fn cidb_mixed(ds: &Dataset, t: usize) -> impl FnMut(u64) -> OpResult + '_ {
    let mut side = super::cidb_side::CidbSide::new(&ds.tenants).map_err(|e| e.to_string());
    let mut p = Picker::zipf(700 + t as u64, ds.customers(), 0.99);
    let mut w = Picker::uniform(800 + t as u64);
    move |i| match side.as_mut() {
        Ok(side) => mixed_op(ds, i, &mut p, &mut w, side, |_, ti, sc| ds.tenants[ti].add_score(sc).map_err(|e| e.to_string())),
        Err(e) => Err(e.clone()),
    }
}

fn mixed_op<S: QuerySide>(
    ds: &Dataset,
    i: u64,
    p: &mut Picker,
    w: &mut Picker,
    side: &mut S,
    write: impl Fn(&S, usize, &Score) -> std::result::Result<(), String>,
) -> OpResult {
    if w.rng().below(10) == 0 {
        let (ti, sc) = new_score(ds, w);
        return write(side, ti, &sc).map(|()| 1);
    }
    let c = p.pick(ds.customers()) as u32;
    let q = if i % 2 == 0 { Q::ById(c) } else { Q::Latest(c, SCORE_TYPES[(i / 2 % 3) as usize]) };
    side.run(&q).map(|o| o.rows)
}

#[cfg(feature = "vs-sqlite")]
fn sqlite_mixed<'a>(ds: &'a Dataset, path: &Path, t: usize) -> impl FnMut(u64) -> OpResult + 'a {
    let mut side = super::sqlite::open(path).map(|c| super::sqlite_side::SqliteSide::new(Box::new(c), ds.tenants.len())).map_err(|e| e.to_string());
    let mut p = Picker::zipf(700 + t as u64, ds.customers(), 0.99);
    let mut w = Picker::uniform(800 + t as u64);
    move |i| match side.as_mut() {
        Ok(side) => mixed_op(ds, i, &mut p, &mut w, side, |side, ti, sc| {
            super::sqlite::add_score(side.conn(), &ds.tenant_name(ti), sc).map_err(|e| e.to_string())
        }),
        Err(e) => Err(e.clone()),
    }
}

#[cfg(not(feature = "vs-sqlite"))]
fn sqlite_mixed<'a>(_: &'a Dataset, _: &Path, _: usize) -> impl FnMut(u64) -> OpResult + 'a {
    |_| Err("built without SQLite".to_string())
}

#[cfg(feature = "vs-sqlite")]
fn sqlite_writer<'a>(ds: &'a Dataset, path: &Path, t: usize) -> impl FnMut(u64) -> OpResult + 'a {
    let c = super::sqlite::open(path).map_err(|e| e.to_string());
    let mut p = Picker::uniform(500 + t as u64);
    move |_| {
        let c = c.as_ref().map_err(|e| e.clone())?;
        let (ti, sc) = new_score(ds, &mut p);
        super::sqlite::add_score(c, &ds.tenant_name(ti), &sc).map(|()| 1).map_err(|e| e.to_string())
    }
}

#[cfg(not(feature = "vs-sqlite"))]
fn sqlite_writer<'a>(_: &'a Dataset, _: &Path, _: usize) -> impl FnMut(u64) -> OpResult + 'a {
    |_| Err("built without SQLite".to_string())
}

/// Bulk ingest of `--ingest-customers` customers (one tenant) into fresh databases with
/// their indexes in place: one `upsert_customers` call on cidb, one transaction on SQLite.
pub fn bulk_ingest(s: &Settings, out: &mut Outcome) -> Result<()> {
    if !s.wants("bulk_ingest") {
        return Ok(());
    }
    let n = s.args.ingest_customers.unwrap_or(s.customers);
    eprintln!("  bulk_ingest ({n} customers)");
    let cfg = GenConfig { tenants: 1, ..GenConfig::new(n, s.args.seed ^ 0xb01c, cidb::Clock::system().now()) };
    let customers: Vec<cidb::Customer> = generate(&cfg).map(|g| g.customer).collect();
    let name = "bulk_ingest";
    if s.vs_sqlite {
        let m = sqlite_ingest(s, &customers)?;
        out.rows.push(Row::new(name, "sqlite", 1, &m).with("customers", n).with("note", "one transaction; operations = rows"));
    }
    let engine = Engine::open(s.dir.join("ingest-cidb"), super::engine_config()?)?;
    let t = engine.tenant("ingest")?;
    let probe = Probe::start();
    let start = Instant::now();
    let r = t.upsert_customers(&customers);
    let took = start.elapsed();
    let mut m = Measured { ops: n as u64, rows: n as u64, errors: if r.is_err() { n as u64 } else { 0 }, hist: one(took), ..Default::default() };
    probe.finish(&mut m);
    r?;
    let stored = t.count_customers()?;
    engine.close()?;
    out.rows.push(Row::new(name, "cidb", 1, &m).with("customers", n).with("stored", stored).with("note", "one upsert_customers call = one transaction; operations = rows"));
    Ok(())
}

fn one(d: Duration) -> Histogram {
    let mut h = Histogram::default();
    h.record(d.as_nanos() as u64);
    h
}

#[cfg(feature = "vs-sqlite")]
fn sqlite_ingest(s: &Settings, customers: &[cidb::Customer]) -> Result<Measured> {
    let c = super::sqlite::open(&s.dir.join("ingest-sqlite.db")).map_err(super::sql_err)?;
    super::sqlite::create_schema(&c, true).map_err(super::sql_err)?;
    let probe = Probe::start();
    let start = Instant::now();
    let r = (|| {
        c.execute_batch("BEGIN")?;
        super::sqlite::insert_customers(&c, "ingest", customers)?;
        c.execute_batch("COMMIT")
    })();
    let took = start.elapsed();
    let n = customers.len() as u64;
    let mut m = Measured { ops: n, rows: n, errors: if r.is_err() { n } else { 0 }, hist: one(took), ..Default::default() };
    probe.finish(&mut m);
    r.map_err(super::sql_err)?;
    Ok(m)
}

#[cfg(not(feature = "vs-sqlite"))]
fn sqlite_ingest(_: &Settings, _: &[cidb::Customer]) -> Result<Measured> {
    Ok(Measured::default())
}
