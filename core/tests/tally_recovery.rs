//! The planner's figures (per-index distinct-prefix counts, rows per table and tenant) are
//! kept in memory and persisted lazily. A child process writes (inserts, updates, deletes,
//! scores, messages, index DDL, sometimes ANALYZE) and exits without closing the engine,
//! so the persisted copy is left behind; the reopened engine must hold exactly what a full
//! recount (ANALYZE, and COUNT(*) per tenant) computes. A clean close must leave figures
//! that need no recount and are just as exact.

mod common;
use cidb::schema::Table;
use cidb::{Config, Engine, Role, Value};
use common::*;

const TENANTS: [&str; 3] = ["a", "b", "c"];

/// The child: random writes for `CIDB_TALLY_ROUND`, then exits without `close`.
#[test]
fn tally_child_writer() {
    let Ok(dir) = std::env::var("CIDB_TALLY_DIR") else { return };
    let round: u64 = std::env::var("CIDB_TALLY_ROUND").unwrap().parse().unwrap();
    let db = Engine::open(&dir, Config::default()).unwrap();
    write_round(&db, round);
    if std::env::var("CIDB_TALLY_CLOSE").is_ok() {
        db.close().unwrap();
    }
    std::process::exit(0); // no close, no drop: what a crash leaves on disk
}

fn write_round(db: &Engine, round: u64) {
    let mut rng = cidb::datagen::Rng::new(round * 7919 + 1);
    if round % 2 == 1 {
        db.execute(&format!("CREATE INDEX IF NOT EXISTS ix_status_r{round} ON customers(status, department)")).unwrap();
    }
    if round % 4 == 3 {
        db.execute(&format!("DROP INDEX IF EXISTS ix_status_r{}", round - 2)).unwrap();
    }
    for i in 0..300u64 {
        let t = db.tenant(TENANTS[rng.below(3) as usize]).unwrap();
        let id = format!("c{}", rng.below(120));
        match rng.below(6) {
            0 | 1 => {
                let c = customer(&id, ["d1", "d2", "d3"][rng.below(3) as usize], ["active", "trial"][rng.below(2) as usize]);
                t.upsert_customer(&c).unwrap();
            }
            2 => {
                t.delete_customer(&id).unwrap();
            }
            3 => t.add_score(&score(&id, "churn", rng.below(100) as f64 / 100.0, T0 + (round * 1000 + i) as i64)).unwrap(),
            4 => {
                t.append_message(&msg(&id, &format!("v{}", rng.below(5)), Role::User, T0 + i as i64, "hi")).unwrap();
            }
            _ => {
                let batch: Vec<_> = (0..rng.below(20)).map(|k| customer(&format!("b{round}_{i}_{k}"), "d9", "active")).collect();
                t.upsert_customers(&batch).unwrap();
            }
        }
        if i == 150 && round % 3 == 2 {
            db.execute("ANALYZE").unwrap();
        }
    }
}

fn run_child(dir: &std::path::Path, round: u64, close: bool) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["tally_child_writer", "--exact", "--nocapture"]).env("CIDB_TALLY_DIR", dir).env("CIDB_TALLY_ROUND", round.to_string());
    if close {
        cmd.env("CIDB_TALLY_CLOSE", "1");
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "child round {round} failed: {status}");
}

/// Every figure the engine holds equals a recount: rows per (table, tenant) equal
/// COUNT(*), and every index's statistics equal what ANALYZE computes.
fn assert_exact(db: &Engine, when: &str) {
    let tables = [
        (Table::Customers, "customers"),
        (Table::Scores, "customer_scores"),
        (Table::LatestScores, "latest_scores"),
        (Table::Messages, "conversation_messages"),
    ];
    for tenant in TENANTS {
        let t = db.tenant(tenant).unwrap();
        for (table, name) in tables {
            let q = t.query(&format!("SELECT COUNT(*) FROM {name}"), &[]).unwrap();
            let Value::Int(n) = q.rows[0][0] else { panic!("COUNT(*) is not an integer") };
            assert_eq!(db.planner_rows(table, tenant).unwrap(), n as u64, "{when}: rows of {name} in {tenant}");
        }
    }
    let live: Vec<_> = db.indexes().unwrap().into_iter().map(|i| (db.index_stats(&i.name).unwrap(), i.name)).collect();
    db.execute("ANALYZE").unwrap();
    for (before, name) in live {
        assert_eq!(before, db.index_stats(&name).unwrap(), "{when}: statistics of {name} differ from ANALYZE");
    }
}

/// The stale mask the child left in `meta` (tables whose persisted figures are behind).
fn stale_mask(dir: &std::path::Path) -> u64 {
    use redb::ReadableDatabase;
    let db = redb::Database::open(dir.join("data.redb")).unwrap();
    let r = db.begin_read().unwrap();
    let meta = r.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
    let mask = meta.get("tally_stale").unwrap().map(|v| v.value()).unwrap_or(0);
    mask
}

#[test]
fn figures_after_exit_without_close_equal_a_recount() {
    let dir = tempfile::tempdir().unwrap();
    let mut stale_rounds = 0;
    for round in 0..6 {
        run_child(dir.path(), round, false);
        // Writes after the last lazy persist leave the mask set; the recount fixes them.
        stale_rounds += (stale_mask(dir.path()) != 0) as u32;
        let db = Engine::open(dir.path(), Config::default()).unwrap();
        assert_exact(&db, &format!("after crash {round}"));
        db.close().unwrap();
    }
    assert!(stale_rounds > 0, "no round left figures stale: the recount was never exercised");
}

#[test]
fn figures_after_a_clean_close_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4 {
        run_child(dir.path(), round, true);
        assert_eq!(stale_mask(dir.path()), 0, "round {round}: close left figures unpersisted");
        let db = Engine::open(dir.path(), Config::default()).unwrap();
        assert_exact(&db, &format!("after close {round}"));
        // Live, with more writes in this process too.
        write_round(&db, round + 10);
        assert_exact(&db, &format!("live {round}"));
        db.close().unwrap();
    }
}
