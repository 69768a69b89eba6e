//! The sliding-window partial index `timestamp > CURRENT_TIMESTAMP - INTERVAL '30 days'`:
//! with a manual clock, entries leave the index as time passes (on demand and through the
//! engine's background thread), queries over the window stay correct, and prepared
//! statements re-plan when the catalog or table sizes change.

mod common;
use cidb::datagen::DAY_MS;
use cidb::{Clock, Config, Engine, Role, Value};
use common::*;

const INDEX: &str = "idx_conversation_messages_recent_partial";

fn entries(db: &Engine) -> u64 {
    db.indexes()
        .unwrap()
        .into_iter()
        .find(|i| i.name == INDEX)
        .unwrap()
        .entries
}

#[test]
fn entries_leave_the_window_as_the_clock_moves() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), Config::default().with_clock(clock.clone())).unwrap();
    let t = db.tenant("acme").unwrap();
    let other = db.tenant("other").unwrap();
    // One message per day for the last 40 days (day 0 = now), in two tenants.
    let msgs: Vec<_> = (0..40)
        .map(|d| msg("c1", "conv", Role::User, T0 - d * DAY_MS, "hi"))
        .collect();
    t.append_messages(&msgs).unwrap();
    other.append_messages(&msgs[..10]).unwrap();
    // Days 0..=29 are inside `timestamp > now - 30 days`.
    assert_eq!(entries(&db), 30 + 10);
    let count = "SELECT COUNT(*) FROM conversation_messages WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '30 days'";
    let stmt = t.prepare(count).unwrap();
    assert_eq!(stmt.query(&[]).unwrap().rows[0][0], Value::Int(30));
    assert!(t.explain(count, &[], false).unwrap().uses_index(INDEX));

    // Ten days later: days 20..=39 (old numbering) are out; the index still holds them
    // until expiry runs, and queries stay right meanwhile (the key range excludes them).
    clock.advance(10 * DAY_MS);
    assert_eq!(stmt.query(&[]).unwrap().rows[0][0], Value::Int(20));
    let c = db.check_index(INDEX).unwrap();
    assert!(c.is_exact() && c.stale > 0, "{c:?}");
    let removed = db.expire_index_windows().unwrap();
    assert_eq!(
        removed,
        10,
        "acme loses days 20..29; other had days 0..9 only"
    );
    assert_eq!(entries(&db), 20 + 10);
    let c = db.check_index(INDEX).unwrap();
    assert!(c.is_exact() && c.stale == 0, "{c:?}");
    assert_eq!(stmt.query(&[]).unwrap().rows[0][0], Value::Int(20));

    // A new write far in the past never enters; a recent one does.
    t.append_message(&msg("c2", "conv2", Role::Agent, T0 - 100 * DAY_MS, "old"))
        .unwrap();
    t.append_message(&msg(
        "c2",
        "conv2",
        Role::Agent,
        clock.now() - DAY_MS,
        "new",
    ))
    .unwrap();
    assert_eq!(entries(&db), 31);

    // The background thread expires on its own: jump 25 more days and wait.
    clock.advance(25 * DAY_MS);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while entries(&db) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Now is T0 + 35 days: the window starts at T0 + 5 days. Every original message is out;
    // the "new" one (T0 + 9 days) is the only entry left.
    let stay = t.query(count, &[]).unwrap().rows[0][0].clone();
    assert_eq!(stay, Value::Int(1));
    assert_eq!(
        entries(&db),
        1,
        "background expiry left exactly the rows inside the window"
    );
    assert!(db.check_index(INDEX).unwrap().is_exact());
    db.close().unwrap();
}

#[test]
fn prepared_statements_replan_on_ddl_analyze_and_growth() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path(), Config::default().with_seed_indexes(false)).unwrap();
    let t = db.tenant("acme").unwrap();
    t.upsert_customers(
        &(0..50)
            .map(|i| customer(&format!("c{i}"), "d", "s"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let s = t
        .prepare("SELECT id FROM customers WHERE status = ?")
        .unwrap();
    let p = [Value::Text("s".into())];
    assert_eq!(s.query(&p).unwrap().rows.len(), 50);
    assert_eq!(s.query(&p).unwrap().stats.table_scans, 1);
    assert_eq!(s.plan_count(), 1, "planned once, executed twice");
    db.execute("CREATE INDEX ix_status ON customers(status)")
        .unwrap();
    let r = s.query(&p).unwrap();
    assert_eq!(s.plan_count(), 2);
    assert_eq!(r.stats.indexes, ["ix_status"]);
    assert_eq!(r.rows.len(), 50);
    db.execute("ANALYZE customers").unwrap();
    s.query(&p).unwrap();
    assert_eq!(s.plan_count(), 3, "ANALYZE invalidates plans");
    s.query(&p).unwrap();
    assert_eq!(s.plan_count(), 3);
    // The table grows far beyond what the plan was made for.
    t.upsert_customers(
        &(50..2000)
            .map(|i| customer(&format!("c{i}"), "d", "s"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // Table sizes are re-checked every 64th run (they only affect plan quality).
    for _ in 0..64 {
        assert_eq!(s.query(&p).unwrap().rows.len(), 2000);
    }
    assert_eq!(s.plan_count(), 4, "a large change in table size re-plans");
    // Statements are Send + Sync and can be shared.
    let s2 = s.clone();
    let n = std::thread::spawn(move || s2.query(&[Value::Text("s".into())]).unwrap().rows.len())
        .join()
        .unwrap();
    assert_eq!(n, 2000);
}

#[test]
fn partial_indexes_serve_parameters_that_imply_their_predicate() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), Config::default().with_clock(clock.clone())).unwrap();
    let t = db.tenant("acme").unwrap();
    let msgs: Vec<_> = (0..90)
        .map(|d| msg("c1", "conv", Role::User, T0 - d * DAY_MS, "hi"))
        .collect();
    t.append_messages(&msgs).unwrap();
    let scores: Vec<_> = (0..100)
        .map(|i| score(&format!("c{i}"), "churn", i as f64 / 100.0, T0))
        .collect();
    t.add_scores(&scores).unwrap();

    let m = t
        .prepare("SELECT COUNT(*) FROM conversation_messages WHERE timestamp > ?")
        .unwrap();
    // Inside the 30-day window: the partial index answers.
    let recent = [Value::Int(T0 - 7 * DAY_MS)];
    let r = m.query(&recent).unwrap();
    assert_eq!(r.rows[0][0], Value::Int(7));
    assert_eq!(r.stats.indexes, [INDEX], "{:?}", r.stats);
    assert!(t
        .explain(
            "SELECT COUNT(*) FROM conversation_messages WHERE timestamp > ?",
            &recent,
            false
        )
        .unwrap()
        .uses_index(INDEX));
    // Beyond the window the partial index would miss rows: the fallback plan runs.
    let old = [Value::Int(T0 - 60 * DAY_MS)];
    let r = m.query(&old).unwrap();
    assert_eq!(r.rows[0][0], Value::Int(60));
    assert!(!r.stats.indexes.iter().any(|i| i == INDEX), "{:?}", r.stats);
    assert_eq!(
        m.plan_count(),
        1,
        "one plan (with its fallback) serves both"
    );
    // The window moves with the clock: the same value falls out of it later.
    clock.advance(40 * DAY_MS);
    let r = m.query(&recent).unwrap();
    assert_eq!(r.rows[0][0], Value::Int(7));
    assert!(!r.stats.indexes.iter().any(|i| i == INDEX), "{:?}", r.stats);

    let s = t
        .prepare("SELECT COUNT(*) FROM customer_scores WHERE score >= ?")
        .unwrap();
    let r = s.query(&[Value::Real(0.9)]).unwrap();
    assert_eq!(r.rows[0][0], Value::Int(10));
    assert_eq!(r.stats.indexes, ["idx_customer_scores_high_score_partial"]);
    let r = s.query(&[Value::Real(0.5)]).unwrap();
    assert_eq!(r.rows[0][0], Value::Int(50));
    assert!(r.stats.indexes.is_empty(), "{:?}", r.stats);
    let r = s.query(&[Value::Null]).unwrap();
    assert_eq!(r.rows[0][0], Value::Int(0));
}

#[test]
fn background_expiry_waits_until_entries_are_ten_seconds_late() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), Config::default().with_clock(clock.clone())).unwrap();
    let t = db.tenant("acme").unwrap();
    t.append_messages(&[msg("c1", "conv", Role::User, T0 - DAY_MS, "a"), msg("c1", "conv", Role::User, T0, "b")]).unwrap();
    assert_eq!(entries(&db), 2);
    // The older message is 5 s out of its window: the background thread (250 ms ticks)
    // leaves it for a later, batched commit.
    clock.set(T0 + 29 * DAY_MS + 5_000);
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert_eq!(entries(&db), 2, "not yet 10 s late");
    assert!(db.check_index(INDEX).unwrap().stale > 0);
    // 11 s out: the next tick removes it.
    clock.set(T0 + 29 * DAY_MS + 11_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while entries(&db) != 1 {
        assert!(std::time::Instant::now() < deadline, "the background expiry never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(db.expire_index_windows().unwrap(), 0, "nothing else was due");
}
