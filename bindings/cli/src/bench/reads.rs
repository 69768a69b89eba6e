//! Loading the dataset into both engines, and the query workloads: for each, a
//! verification pass (cidb and SQLite must agree on every checked parameter set: row
//! count always, the key set where no LIMIT can cut between ties), a warm-up pass for the
//! hot workloads, then the timed loop on each engine over the same parameter sets.

use super::cidb_side::CidbSide;
use super::data::{self, Dataset};
use super::measure::{run_single, Measured};
use super::queries::{workloads, QuerySide, Workload};
use super::row::Row;
use super::{Conn, Outcome, Settings};
use cidb::datagen::GenConfig;
use cidb::{Engine, Result};

/// Loads the dataset into cidb (and SQLite, in one transaction), adds the two load rows,
/// and runs ANALYZE on both.
pub fn load_both(engine: &Engine, cfg: GenConfig, conn: Option<&Conn>, out: &mut Outcome) -> Result<Dataset> {
    eprintln!("loading {} customers (with scores and messages)...", cfg.customers);
    let hot = 1_000.min(cfg.customers);
    let (ds, times) = load_with(engine, cfg, conn, hot)?;
    let m = |d: std::time::Duration, h: &super::measure::Histogram| Measured {
        elapsed: d,
        ops: times.rows,
        rows: times.rows,
        hist: h.clone(),
        ..Default::default()
    };
    let note = format!(
        "rows of all three stores; latency per chunk of {} customers; cpu and memory not measured (both engines load in one loop)",
        data::CHUNK
    );
    out.rows.push(Row::new("load_dataset", "cidb", 1, &m(times.cidb, &times.cidb_hist)).with("note", note.clone()));
    if conn.is_some() {
        out.rows.push(Row::new("load_dataset", "sqlite", 1, &m(times.sqlite, &times.sqlite_hist)).with("note", note));
    }
    engine.execute("ANALYZE")?;
    analyze_sqlite(conn)?;
    Ok(ds)
}

#[cfg(feature = "vs-sqlite")]
fn load_with(engine: &Engine, cfg: GenConfig, conn: Option<&Conn>, hot: usize) -> Result<(Dataset, data::LoadTimes)> {
    let Some(c) = conn else { return data::load(engine, cfg, None, hot) };
    c.execute_batch("BEGIN").map_err(super::sql_err)?;
    let mut sink = |t: &str, gs: &[cidb::datagen::GenCustomer], ms: &[cidb::Message]| {
        super::sqlite::insert_chunk(c, t, gs, ms).map_err(|e| e.to_string())
    };
    let r = data::load(engine, cfg, Some(&mut sink), hot)?;
    let start = std::time::Instant::now();
    c.execute_batch("COMMIT").map_err(super::sql_err)?;
    let mut r = r;
    r.1.sqlite += start.elapsed();
    Ok(r)
}

#[cfg(not(feature = "vs-sqlite"))]
fn load_with(engine: &Engine, cfg: GenConfig, _: Option<&Conn>, hot: usize) -> Result<(Dataset, data::LoadTimes)> {
    data::load(engine, cfg, None, hot)
}

fn analyze_sqlite(conn: Option<&Conn>) -> Result<()> {
    #[cfg(feature = "vs-sqlite")]
    if let Some(c) = conn {
        c.execute_batch("ANALYZE").map_err(super::sql_err)?;
    }
    let _ = conn;
    Ok(())
}

/// Runs every selected query workload.
pub fn run_all(s: &Settings, ds: &Dataset, conn: Option<&Conn>, out: &mut Outcome) -> Result<()> {
    let mut ours = CidbSide::new(&ds.tenants)?;
    let mut theirs = sqlite_side(conn, ds);
    let plans_theirs: Vec<(&str, String)> = theirs.as_ref().map(|t| plans_of(t.as_ref())).unwrap_or_default();
    for (w, p) in ours.plans() {
        let t = plans_theirs.iter().find(|(n, _)| *n == w).map(|(_, p)| p.clone()).unwrap_or_default();
        out.plans.push((w.to_string(), p, t));
    }
    for w in workloads(ds, s.params) {
        if s.wants(w.name) {
            run_workload(s, &w, &mut ours, theirs.as_deref_mut(), out);
        }
    }
    Ok(())
}

/// Something that can answer queries and describe its plans.
pub trait Side: QuerySide {
    /// (workload, plan) pairs.
    fn plans(&self) -> Vec<(&'static str, String)>;
}

#[cfg(feature = "vs-sqlite")]
impl<C: std::ops::Deref<Target = rusqlite::Connection>> Side for super::sqlite_side::SqliteSide<C> {
    fn plans(&self) -> Vec<(&'static str, String)> {
        super::sqlite_side::SqliteSide::plans(self)
    }
}

fn plans_of(s: &dyn Side) -> Vec<(&'static str, String)> {
    s.plans()
}

/// SQLite's side over `conn`, if comparing.
pub fn sqlite_side<'c>(conn: Option<&'c Conn>, ds: &Dataset) -> Option<Box<dyn Side + 'c>> {
    #[cfg(feature = "vs-sqlite")]
    if let Some(c) = conn {
        return Some(Box::new(super::sqlite_side::SqliteSide::new(c, ds.tenants.len())));
    }
    let _ = (conn, ds);
    None
}

/// Verifies, warms and times one workload on both sides.
pub fn run_workload(s: &Settings, w: &Workload, ours: &mut dyn QuerySide, mut theirs: Option<&mut (dyn Side + '_)>, out: &mut Outcome) {
    eprintln!("  {}", w.name);
    for q in &w.params[..w.verify] {
        let a = ours.run(q);
        let b = theirs.as_mut().map(|t| t.run(q));
        match (a, b) {
            (Err(e), _) => out.mismatches.push(format!("{}: cidb failed on {q:?}: {e}", w.name)),
            (_, Some(Err(e))) => out.mismatches.push(format!("{}: SQLite failed on {q:?}: {e}", w.name)),
            (Ok(a), Some(Ok(b))) => {
                if a.rows != b.rows || (w.exact && a.keys != b.keys) {
                    out.mismatches.push(format!("{}: {q:?}: cidb {} rows, SQLite {} rows{}", w.name, a.rows, b.rows,
                        if a.rows == b.rows { " (different rows)" } else { "" }));
                }
            }
            (Ok(_), None) => {}
        }
        if out.mismatches.len() > 50 {
            break;
        }
    }
    let timed = &w.params[w.timed_from..];
    if timed.is_empty() {
        return;
    }
    let budget = super::measure::Budget { max_ops: timed.len() as u64 * if w.timed_from > 0 { 1 } else { u64::MAX / timed.len() as u64 }, ..s.budget };
    if let Some(t) = theirs.as_mut() {
        if w.warm {
            timed.iter().for_each(|q| drop(t.run(q)));
        }
        let m = run_single(budget, |i| t.run(&timed[i as usize % timed.len()]).map(|o| o.rows));
        out.rows.push(Row::new(w.name, "sqlite", 1, &m));
    }
    if w.warm {
        timed.iter().for_each(|q| drop(ours.run(q)));
    }
    let m = run_single(budget, |i| ours.run(&timed[i as usize % timed.len()]).map(|o| o.rows));
    out.rows.push(Row::new(w.name, "cidb", 1, &m));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::queries::{Out, Q};

    struct Fixed(u64, u64);
    impl QuerySide for Fixed {
        fn run(&mut self, _: &Q) -> std::result::Result<Out, String> {
            Ok(Out { rows: self.0, keys: self.1 })
        }
    }
    impl Side for Fixed {
        fn plans(&self) -> Vec<(&'static str, String)> {
            vec![]
        }
    }

    fn settings() -> Settings {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct A {
            #[command(flatten)]
            b: crate::bench::BenchArgs,
        }
        Settings {
            customers: 10,
            budget: crate::bench::measure::Budget::new(std::time::Duration::from_millis(1), 10),
            params: 10,
            vs_sqlite: true,
            quick: true,
            only: None,
            dir: std::env::temp_dir(),
            args: A::parse_from(["x"]).b,
        }
    }

    fn workload(exact: bool) -> Workload {
        Workload { name: "w", params: vec![Q::ById(1), Q::ById(2)], verify: 2, timed_from: 0, warm: false, exact }
    }

    #[test]
    fn disagreement_on_counts_or_keys_is_a_mismatch() {
        let s = settings();
        let mut out = Outcome::default();
        run_workload(&s, &workload(true), &mut Fixed(3, 7), Some(&mut Fixed(3, 7)), &mut out);
        assert!(out.mismatches.is_empty());
        assert_eq!(out.rows.len(), 2, "one row per engine");
        run_workload(&s, &workload(true), &mut Fixed(3, 7), Some(&mut Fixed(2, 7)), &mut out);
        assert_eq!(out.mismatches.len(), 2, "both verified parameter sets disagree");
        assert!(out.mismatches[0].contains("cidb 3 rows, SQLite 2 rows"), "{:?}", out.mismatches);
        let mut out = Outcome::default();
        run_workload(&s, &workload(true), &mut Fixed(3, 7), Some(&mut Fixed(3, 8)), &mut out);
        assert!(out.mismatches[0].contains("different rows"));
        // Without exact keys (LIMIT over ties), only counts are compared.
        let mut out = Outcome::default();
        run_workload(&s, &workload(false), &mut Fixed(3, 7), Some(&mut Fixed(3, 8)), &mut out);
        assert!(out.mismatches.is_empty());
    }
}
