//! The redo log (`storage::redo`): tenant writes are made durable by the log, not by a sync
//! of the data file. What the disk holds after a power cut is the data file as of its last
//! durable commit plus the log; these tests copy exactly those two files out of a live
//! engine (its writes acknowledged, no checkpoint since) and open the copy:
//! - the copy must hold every acknowledged write, with exact indexes and the same change
//!   events (random write sequences, checked against the live engine);
//! - the data file alone must not (the writes were logged, not synced);
//! - after a clean close the data file alone holds everything (close checkpoints);
//! - with `redo_log = false` every write syncs the data file itself;
//! - logged writes that a reopen of the failed data file lost (the storage still failing,
//!   so the old instance could not sync them on the way out) come back from the log.

mod common;
use cidb::{Config, ContextEntry, Engine, Role, Value};
use common::*;
use proptest::prelude::*;
use std::path::Path;
use std::time::Duration;

const TENANTS: [&str; 2] = ["ta", "tb"];

#[derive(Debug, Clone)]
enum W {
    Upsert(u8, u8, u8),
    Delete(u8),
    Score(u8, u8, u16),
    Message(u8, u8, u16),
    Context(u8, u8),
    DropContext(u8),
}

fn w() -> impl Strategy<Value = (usize, W)> {
    let op = prop_oneof![
        (0u8..12, 0u8..3, 0u8..3).prop_map(|(i, d, s)| W::Upsert(i, d, s)),
        (0u8..12).prop_map(W::Delete),
        (0u8..12, 0u8..2, 0u16..1000).prop_map(|(i, t, v)| W::Score(i, t, v)),
        (0u8..12, 0u8..4, 0u16..1000).prop_map(|(i, c, n)| W::Message(i, c, n)),
        (0u8..4, 1u8..4).prop_map(|(c, k)| W::Context(c, k)),
        (0u8..4).prop_map(W::DropContext),
    ];
    (0..TENANTS.len(), op)
}

fn apply(db: &Engine, (t, w): &(usize, W), n: i64) {
    let t = db.tenant(TENANTS[*t]).unwrap();
    let depts = ["sales", "support", "ops"];
    let statuses = ["active", "churned", "trial"];
    match w {
        W::Upsert(i, d, s) => t.upsert_customer(&customer(&format!("c{i}"), depts[*d as usize], statuses[*s as usize])).unwrap(),
        W::Delete(i) => {
            t.delete_customer(&format!("c{i}")).unwrap();
        }
        W::Score(i, ty, v) => {
            t.add_score(&score(&format!("c{i}"), ["churn_risk", "upsell"][*ty as usize], *v as f64 / 1000.0, T0 + n)).unwrap()
        }
        W::Message(i, c, k) => {
            t.append_message(&msg(&format!("c{i}"), &format!("v{c}"), Role::User, T0 + n, &format!("m{k}"))).unwrap();
        }
        W::Context(c, k) => {
            let e: Vec<ContextEntry> = (0..*k)
                .map(|j| ContextEntry { role: Role::Assistant, content: format!("e{n}.{j}"), timestamp: T0 + n, metadata: serde_json::json!({}) })
                .collect();
            t.update_context(&format!("v{c}"), &e, Duration::from_secs(3600), 3).unwrap();
        }
        W::DropContext(c) => {
            t.delete_context(&format!("v{c}")).unwrap();
        }
    }
}

/// Every row of every table and every context of each tenant, in key order.
fn dump(db: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    for name in TENANTS {
        let t = db.tenant(name).unwrap();
        for sql in [
            "SELECT * FROM customers ORDER BY id",
            "SELECT * FROM customer_scores ORDER BY customer_id, score_type, created_at, score",
            "SELECT * FROM conversation_messages ORDER BY id",
            "SELECT COUNT(*) FROM customers",
            "SELECT COUNT(*) FROM customer_scores",
            "SELECT COUNT(*) FROM conversation_messages",
        ] {
            for row in t.query(sql, &[]).unwrap().rows {
                out.push(format!("{name} {row:?}"));
            }
        }
        for c in 0..4 {
            out.push(format!("{name} v{c} {:?}", t.get_context(&format!("v{c}")).unwrap()));
        }
        out.push(format!("{name} count {}", t.count_customers().unwrap()));
    }
    out
}

/// The change events, without their commit numbers and times, sorted: replay applies the
/// records in one commit, whose events list row changes before context changes.
fn events(db: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    for name in TENANTS {
        for e in db.tenant(name).unwrap().events_since(0, 100_000).unwrap() {
            out.push(format!("{} {} {:?} {} {:?} {:?}", e.tenant, e.table, e.op, e.key, e.new, e.old));
        }
    }
    out.sort();
    out
}

/// Copies what a power cut leaves: the data file and, when `with_log`, the redo log.
fn power_cut_copy(from: &Path, to: &Path, with_log: bool) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("data.redb"), to.join("data.redb")).unwrap();
    if with_log {
        std::fs::copy(from.join("data.redo"), to.join("data.redo")).unwrap();
    }
}

fn exact_indexes(db: &Engine) {
    for ix in db.indexes().unwrap() {
        let c = db.check_index(&ix.name).unwrap();
        assert!(c.is_exact(), "index {} after replay: {c:?}", ix.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_log_restores_every_acknowledged_write(ws in proptest::collection::vec(w(), 1..40)) {
        let root = tempfile::tempdir().unwrap();
        let (live_dir, copy_dir) = (root.path().join("live"), root.path().join("copy"));
        let live = Engine::open(&live_dir, Config::default()).unwrap();
        for (n, x) in ws.iter().enumerate() {
            apply(&live, x, n as i64);
        }
        power_cut_copy(&live_dir, &copy_dir, true);
        let copy = Engine::open(&copy_dir, Config::default()).unwrap();
        prop_assert_eq!(dump(&copy), dump(&live));
        prop_assert_eq!(events(&copy), events(&live));
        exact_indexes(&copy);
        // Writes after the replay land, and survive a second power cut and a clean reopen.
        apply(&copy, &(0, W::Score(1, 0, 5)), 1_000);
        apply(&copy, &(1, W::Upsert(3, 1, 1)), 1_001);
        let before = dump(&copy);
        let again_dir = root.path().join("again");
        power_cut_copy(&copy_dir, &again_dir, true);
        prop_assert_eq!(dump(&Engine::open(&again_dir, Config::default()).unwrap()), before.clone());
        copy.close().unwrap();
        let again = Engine::open(&copy_dir, Config::default()).unwrap();
        prop_assert_eq!(dump(&again), before);
    }
}

fn few_writes(db: &Engine) {
    let t = db.tenant("ta").unwrap();
    t.upsert_customer(&customer("c1", "sales", "active")).unwrap();
    t.add_score(&score("c1", "churn_risk", 0.8, T0)).unwrap();
    t.append_message(&msg("c1", "v1", Role::User, T0, "hello")).unwrap();
}

fn customers_of(db: &Engine) -> usize {
    db.tenant("ta").unwrap().query("SELECT id FROM customers", &[]).unwrap().rows.len()
}

#[test]
fn logged_writes_do_not_sync_the_data_file_and_close_does() {
    let root = tempfile::tempdir().unwrap();
    let live_dir = root.path().join("live");
    let live = Engine::open(&live_dir, Config::default()).unwrap();
    few_writes(&live);
    // Without the log the copy is the data file as of its last durable commit (the open).
    power_cut_copy(&live_dir, &root.path().join("no_log"), false);
    let bare = Engine::open(root.path().join("no_log"), Config::default()).unwrap();
    assert_eq!(customers_of(&bare), 0, "a logged write reached the data file's durable state");
    assert_eq!(bare.tenant("ta").unwrap().latest_score("c1", "churn_risk").unwrap(), None);
    // A clean close makes the data file complete on its own.
    live.close().unwrap();
    power_cut_copy(&live_dir, &root.path().join("closed"), false);
    let closed = Engine::open(root.path().join("closed"), Config::default()).unwrap();
    assert_eq!(customers_of(&closed), 1);
    let s = closed.tenant("ta").unwrap().latest_score("c1", "churn_risk").unwrap().unwrap();
    assert_eq!(s.score, 0.8);
}

#[test]
fn with_the_log_off_each_write_syncs_the_data_file() {
    let root = tempfile::tempdir().unwrap();
    let live_dir = root.path().join("live");
    let off = Config { redo_log: false, ..Config::default() };
    let live = Engine::open(&live_dir, off.clone()).unwrap();
    few_writes(&live);
    assert!(!live_dir.join("data.redo").exists(), "with the log off no log file is created");
    power_cut_copy(&live_dir, &root.path().join("copy"), false);
    let copy = Engine::open(root.path().join("copy"), off).unwrap();
    assert_eq!(customers_of(&copy), 1);
    assert_eq!(copy.tenant("ta").unwrap().messages_for_conversation("v1").unwrap().len(), 1);
}

#[test]
fn records_left_by_a_log_that_was_turned_off_are_still_replayed() {
    let root = tempfile::tempdir().unwrap();
    let live_dir = root.path().join("live");
    let live = Engine::open(&live_dir, Config::default()).unwrap();
    few_writes(&live);
    power_cut_copy(&live_dir, &root.path().join("copy"), true);
    let off = Config { redo_log: false, ..Config::default() };
    let copy = Engine::open(root.path().join("copy"), off).unwrap();
    assert_eq!(customers_of(&copy), 1);
    let got = copy.tenant("ta").unwrap().query("SELECT score FROM customer_scores", &[]).unwrap().rows;
    assert_eq!(got, vec![vec![Value::Real(0.8)]]);
}

#[test]
fn records_written_after_a_reopen_number_above_what_the_data_file_covers() {
    let root = tempfile::tempdir().unwrap();
    let live_dir = root.path().join("live");
    let db = Engine::open(&live_dir, Config::default()).unwrap();
    few_writes(&db);
    db.close().unwrap();
    // The data file now covers the first records; the reopened log starts empty.
    let db = Engine::open(&live_dir, Config::default()).unwrap();
    let t = db.tenant("ta").unwrap();
    t.upsert_customer(&customer("c2", "ops", "trial")).unwrap();
    t.add_score(&score("c2", "upsell", 0.25, T0 + 1)).unwrap();
    power_cut_copy(&live_dir, &root.path().join("copy"), true);
    let copy = Engine::open(root.path().join("copy"), Config::default()).unwrap();
    assert_eq!(customers_of(&copy), 2);
    assert_eq!(copy.tenant("ta").unwrap().latest_score("c2", "upsell").unwrap().map(|s| s.score), Some(0.25));
}

#[test]
fn a_failed_log_append_fails_the_write_and_the_logged_ones_survive() {
    let root = tempfile::tempdir().unwrap();
    let live_dir = root.path().join("live");
    let faults = cidb::storage::backend::FaultSwitch::new();
    let cfg = Config { faults: Some(faults.clone()), ..Config::default() };
    let db = Engine::open(&live_dir, cfg).unwrap();
    let t = db.tenant("ta").unwrap();
    for i in 0..5 {
        t.upsert_customer(&customer(&format!("before{i}"), "sales", "active")).unwrap();
    }
    faults.fail_writes(true);
    let e = t.upsert_customer(&customer("during", "sales", "active")).unwrap_err();
    assert_eq!(e.kind(), cidb::ErrorKind::Storage, "{e}");
    assert!(e.to_string().contains("injected"), "{e}");
    faults.clear();
    // One failure leaves the breaker closed, so this write runs on the same data file
    // instance; a reopen under failure is the next test's case.
    t.upsert_customer(&customer("after", "sales", "active")).unwrap();
    let want = ["after", "before0", "before1", "before2", "before3", "before4"];
    let ids = |db: &Engine| -> Vec<String> {
        let q = db.tenant("ta").unwrap().query("SELECT id FROM customers ORDER BY id", &[]).unwrap();
        q.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&db), want);
    exact_indexes(&db);
    power_cut_copy(&live_dir, &root.path().join("copy"), true);
    let copy = Engine::open(root.path().join("copy"), Config::default()).unwrap();
    assert_eq!(ids(&copy), want);
    exact_indexes(&copy);
}

/// The writer reopens a failed data file while the storage still fails, so the old
/// instance cannot make its logged (not synced) commits durable on the way out: they are
/// gone from the data file, and only the redo log has them. Once the storage works again,
/// the next write reopens, replays them, and lands after them.
#[test]
fn logged_writes_lost_by_a_reopen_under_failure_come_back_from_the_log() {
    let root = tempfile::tempdir().unwrap();
    let faults = cidb::storage::backend::FaultSwitch::new();
    // One failure opens the breaker and every later write is a probe: the writer reopens
    // the data file before each one.
    let breaker = cidb::storage::breaker::BreakerOptions { threshold: 1, cooldown: std::time::Duration::ZERO, ..Default::default() };
    let cfg = Config { faults: Some(faults.clone()), breaker, ..Config::default() };
    let db = Engine::open(root.path(), cfg).unwrap();
    let t = db.tenant("ta").unwrap();
    for i in 0..5 {
        t.upsert_customer(&customer(&format!("before{i}"), "sales", "active")).unwrap();
    }
    faults.fail_writes(true);
    for i in 0..3 {
        // The first fails the write; the next ones reopen while the storage fails.
        let e = t.upsert_customer(&customer(&format!("during{i}"), "sales", "active")).unwrap_err();
        assert!(matches!(e.kind(), cidb::ErrorKind::Storage | cidb::ErrorKind::Unavailable), "{e}");
    }
    faults.clear();
    t.upsert_customer(&customer("after", "sales", "active")).unwrap();
    let q = t.query("SELECT id FROM customers ORDER BY id", &[]).unwrap();
    let ids: Vec<&str> = q.rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(ids, ["after", "before0", "before1", "before2", "before3", "before4"]);
    exact_indexes(&db);
}
