//! The query-result cache on its own: hits, invalidation by a write to any table read (and
//! only those), refusal of results computed across a write, the dynamic TTL, large results
//! in the persistent tiers, and no reuse across restarts.

mod common;
use cidb::schema::Table;
use cidb::{Clock, Config, Engine};
use common::{customer, msg, score, T0};
use std::time::Duration;

fn cfg(clock: &Clock) -> Config {
    let mut c = Config::default().with_clock(clock.clone());
    c.cache.background = false;
    c.cache.result_min_exec = Duration::from_millis(5);
    c.cache.result_ttl_factor = 1000;
    c.cache.result_ttl_min = Duration::from_secs(10);
    c.cache.result_ttl_max = Duration::from_secs(3600);
    c
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn writes_to_a_read_table_invalidate_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), cfg(&clock)).unwrap();
    let t = db.tenant("acme").unwrap();
    let rc = db.result_cache();
    let tk = rc.ticket("acme", &[Table::Customers, Table::Scores]);
    assert!(rc.put(&tk, 7, b"p1", 20 * MS, b"rows").unwrap());
    assert_eq!(rc.get("acme", 7, b"p1").unwrap().unwrap(), b"rows");
    assert_eq!(rc.get("acme", 7, b"p2").unwrap(), None, "parameters are part of the key");
    assert_eq!(rc.get("other", 7, b"p1").unwrap(), None, "tenants are part of the key");
    // A message write touches neither table; another tenant's customer write neither.
    t.append_message(&msg("c1", "conv", cidb::Role::User, T0, "hi")).unwrap();
    db.tenant("other").unwrap().upsert_customer(&customer("c9", "d", "s")).unwrap();
    assert_eq!(rc.get("acme", 7, b"p1").unwrap().unwrap(), b"rows");
    // A score write touches a table it read.
    t.add_score(&score("c1", "churn", 0.5, T0)).unwrap();
    assert_eq!(rc.get("acme", 7, b"p1").unwrap(), None);
    let s = db.cache_stats();
    assert_eq!((s.result_hits, s.result_misses), (2, 3));
    db.close().unwrap();
}

#[test]
fn a_result_computed_across_a_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), cfg(&clock)).unwrap();
    let rc = db.result_cache();
    let tk = rc.ticket("acme", &[Table::Customers]);
    db.tenant("acme").unwrap().upsert_customer(&customer("c1", "d", "s")).unwrap();
    assert!(!rc.put(&tk, 1, b"", 50 * MS, b"old answer").unwrap());
    assert_eq!(rc.get("acme", 1, b"").unwrap(), None);
    db.close().unwrap();
}

#[test]
fn ttl_grows_with_execution_time_and_expires() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), cfg(&clock)).unwrap();
    let rc = db.result_cache();
    assert_eq!(rc.ttl_for(4 * MS), None, "below the cost threshold");
    assert_eq!(rc.ttl_for(5 * MS), Some(Duration::from_secs(10)), "clamped to the minimum");
    assert_eq!(rc.ttl_for(30 * MS), Some(Duration::from_secs(30)));
    assert_eq!(rc.ttl_for(200 * MS), Some(Duration::from_secs(200)));
    assert_eq!(rc.ttl_for(Duration::from_secs(60)), Some(Duration::from_secs(3600)), "clamped to the maximum");
    let tk = rc.ticket("acme", &[Table::Messages]);
    assert!(!rc.put(&tk, 1, b"", MS, b"cheap").unwrap());
    assert!(rc.put(&tk, 2, b"", 30 * MS, b"slow").unwrap());
    clock.advance(29_000);
    assert!(rc.get("acme", 2, b"").unwrap().is_some());
    clock.advance(2_000);
    assert_eq!(rc.get("acme", 2, b"").unwrap(), None);
    db.close().unwrap();
}

#[test]
fn large_results_live_in_l2_l3_and_still_validate() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), cfg(&clock)).unwrap();
    let rc = db.result_cache();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let tk = rc.ticket("acme", &[Table::Customers]);
    assert!(rc.put(&tk, 3, b"x", 40 * MS, &big).unwrap());
    assert_eq!(db.cache_stats().l3.entries, 1);
    assert_eq!(rc.get("acme", 3, b"x").unwrap().unwrap(), big);
    db.tenant("acme").unwrap().upsert_customer(&customer("c1", "d", "s")).unwrap();
    assert_eq!(rc.get("acme", 3, b"x").unwrap(), None);
    assert_eq!(db.cache_stats().l3.entries, 0, "the stale result was removed");
    db.close().unwrap();
}

#[test]
fn results_do_not_survive_a_restart_and_can_be_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let big = vec![7u8; 50_000];
    {
        let db = Engine::open(dir.path(), cfg(&clock)).unwrap();
        let rc = db.result_cache();
        let tk = rc.ticket("acme", &[Table::Customers]);
        assert!(rc.put(&tk, 4, b"", 40 * MS, &big).unwrap());
        assert!(rc.put(&tk, 5, b"", 40 * MS, b"small").unwrap());
        db.close().unwrap();
    }
    let mut c = cfg(&clock);
    c.cache.result_cache = false;
    let db = Engine::open(dir.path(), c).unwrap();
    let rc = db.result_cache();
    assert_eq!(rc.get("acme", 4, b"").unwrap(), None, "an earlier run's result is never reused");
    assert_eq!(rc.get("acme", 5, b"").unwrap(), None);
    assert!(!rc.enabled());
    assert!(!rc.put(&rc.ticket("acme", &[Table::Customers]), 6, b"", 40 * MS, b"v").unwrap());
    db.close().unwrap();
}
