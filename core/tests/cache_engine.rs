//! The cache inside the engine: warm restart, the stale-fill guard, and a randomised
//! interleaving of writers and readers that must never observe a customer, latest score or
//! cached query result older than the last acknowledged write.

mod common;
use cidb::schema::Table;
use cidb::{Config, Customer, Engine};
use common::{customer, score, T0};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn hot_keys_come_back_in_l1_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Engine::open(dir.path(), Config::default()).unwrap();
        let t = db.tenant("acme").unwrap();
        for i in 0..20 {
            t.cache().set(&format!("hot{i}"), format!("v{i}").as_bytes(), None).unwrap();
        }
        t.upsert_customer(&customer("c1", "sales", "active")).unwrap();
        t.add_score(&score("c1", "churn", 0.25, T0)).unwrap();
        for _ in 0..5 {
            t.get_customer("c1").unwrap().unwrap();
            t.latest_score("c1", "churn").unwrap().unwrap();
        }
        db.close().unwrap();
    }
    let db = Engine::open(dir.path(), Config::default()).unwrap();
    wait_for("warming", || db.cache_stats().warmed >= 22);
    let t = db.tenant("acme").unwrap();
    for i in 0..20 {
        assert_eq!(t.cache().tier_of(&format!("hot{i}")).unwrap(), 1);
    }
    let before = db.cache_stats().l1.hits;
    assert_eq!(t.get_customer("c1").unwrap().unwrap().department, "sales");
    assert_eq!(t.latest_score("c1", "churn").unwrap().unwrap().score, 0.25);
    for i in 0..20 {
        assert_eq!(t.cache().get(&format!("hot{i}")).unwrap().unwrap(), format!("v{i}").as_bytes());
    }
    assert_eq!(db.cache_stats().l1.hits - before, 22, "customer, score and 20 values all served from L1");
    db.close().unwrap();
}

#[test]
fn a_value_written_after_open_is_not_overwritten_by_warming() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Engine::open(dir.path(), Config::default()).unwrap();
        db.tenant("acme").unwrap().cache().set("k", b"old", None).unwrap();
        db.close().unwrap();
    }
    let mut cfg = Config::default();
    cfg.cache.warm_on_open = false; // hold warming back until after the write
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    t.cache().set("k", b"new", None).unwrap();
    db.cache().warm(None).unwrap();
    assert_eq!(t.cache().get("k").unwrap().unwrap(), b"new");
    db.close().unwrap();
    // The outdated hot row is gone too: the next run does not bring "old" back.
    let db = Engine::open(dir.path(), Config::default()).unwrap();
    wait_for("warming", || db.cache_stats().warmed >= 1);
    assert_eq!(db.tenant("acme").unwrap().cache().get("k").unwrap().unwrap(), b"new");
    db.close().unwrap();
}

#[test]
fn a_fill_that_raced_a_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path(), Config::default()).unwrap();
    let t = db.tenant("acme").unwrap();
    let old = customer("c1", "sales", "active");
    t.upsert_customer(&old).unwrap();
    let mut new = old.clone();
    new.status = "churned".into();
    // The loader read `old`; before it returns, a write commits `new` (and invalidates).
    let got = db
        .cache()
        .customer("acme", "c1", || {
            t.upsert_customer(&new).unwrap();
            Ok(Some(old.clone()))
        })
        .unwrap();
    assert_eq!(got.unwrap().status, "active", "the racing reader itself returns what it read");
    assert_eq!(t.get_customer("c1").unwrap().unwrap().status, "churned", "but it never reached L1");
    assert_eq!(db.cache_stats().stale_fills_refused, 1);
    db.close().unwrap();
}

fn versioned(id: &str, v: i64) -> Customer {
    let mut c = customer(id, "d", "s");
    c.updated_at = T0 + v;
    c.attributes = serde_json::json!({ "v": v });
    c
}

#[test]
fn randomised_interleaving_never_returns_stale_records_or_results() {
    const IDS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.cache.result_min_exec = Duration::ZERO;
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    for i in 0..IDS {
        t.upsert_customer(&versioned(&format!("c{i}"), 0)).unwrap();
        t.add_score(&score(&format!("c{i}"), "churn", 0.0, T0)).unwrap();
    }
    // acked[i] = last version of customer i whose write returned; scores likewise.
    let acked: Arc<Vec<AtomicI64>> = Arc::new((0..IDS).map(|_| AtomicI64::new(0)).collect());
    let acked_score: Arc<Vec<AtomicI64>> = Arc::new((0..IDS).map(|_| AtomicI64::new(T0)).collect());
    let acked_count = Arc::new(AtomicU64::new(IDS as u64));
    let stop = Arc::new(AtomicBool::new(false));
    let rc = db.result_cache();

    let writer = {
        let (t, acked, acked_score, acked_count, stop) = (t.clone(), acked.clone(), acked_score.clone(), acked_count.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut x = 0x2545F4914F6CDD1Du64;
            for n in 1..=600i64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % IDS as u64) as usize;
                match x % 3 {
                    0 => {
                        t.upsert_customer(&versioned(&format!("c{i}"), n)).unwrap();
                        acked[i].store(n, Ordering::SeqCst);
                    }
                    1 => {
                        t.add_score(&score(&format!("c{i}"), "churn", 0.5, T0 + n)).unwrap();
                        acked_score[i].store(T0 + n, Ordering::SeqCst);
                    }
                    _ => {
                        t.upsert_customer(&versioned(&format!("new{n}"), n)).unwrap();
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            stop.store(true, Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (t, acked, acked_score, acked_count, stop, rc) =
                (t.clone(), acked.clone(), acked_score.clone(), acked_count.clone(), stop.clone(), rc.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                let mut k = r as usize;
                while !stop.load(Ordering::SeqCst) {
                    k = (k + 1) % IDS;
                    let id = format!("c{k}");
                    let a = acked[k].load(Ordering::SeqCst);
                    let c = t.get_customer(&id).unwrap().unwrap();
                    let v = c.attributes["v"].as_i64().unwrap();
                    assert!(v >= a, "stale customer {id}: saw v{v} after v{a} was acknowledged");
                    let a = acked_score[k].load(Ordering::SeqCst);
                    let s = t.latest_score(&id, "churn").unwrap().unwrap();
                    assert!(s.created_at >= a, "stale latest score for {id}: {} < {a}", s.created_at);
                    // The "query": count customers, through the result cache.
                    let a = acked_count.load(Ordering::SeqCst);
                    let n = match rc.get("acme", 42, b"").unwrap() {
                        Some(bytes) => u64::from_le_bytes(bytes.try_into().unwrap()),
                        None => {
                            let ticket = rc.ticket("acme", &[Table::Customers]);
                            let n = t.count_customers().unwrap();
                            rc.put(&ticket, 42, b"", Duration::from_millis(1), &n.to_le_bytes()).unwrap();
                            n
                        }
                    };
                    assert!(n >= a, "stale cached count: {n} < {a}");
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    writer.join().unwrap();
    let checks: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(checks > 100, "readers ran {checks} rounds");
    let s = db.cache_stats();
    assert!(s.l1.hits > 0 && s.result_hits > 0, "the cache was exercised: {s:?}");
    db.close().unwrap();
}

#[test]
fn shared_reads_return_the_cached_record_and_never_see_a_later_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path(), Config::default()).unwrap();
    let t = db.tenant("acme").unwrap();
    assert!(t.get_customer_shared("c1").unwrap().is_none());
    t.upsert_customer(&customer("c1", "sales", "active")).unwrap();
    t.add_score(&score("c1", "churn", 0.25, T0)).unwrap();

    let first = t.get_customer_shared("c1").unwrap().unwrap(); // miss: loaded and installed
    let hits = db.cache_stats().l1.hits;
    let second = t.get_customer_shared("c1").unwrap().unwrap(); // hit: the same record
    assert_eq!(db.cache_stats().l1.hits, hits + 1);
    assert!(Arc::ptr_eq(&first, &second), "a hit hands out the cached record, not a copy");
    assert_eq!(*first, t.get_customer("c1").unwrap().unwrap(), "owned and shared forms agree");
    let s1 = t.latest_score_shared("c1", "churn").unwrap().unwrap();
    assert_eq!(*s1, t.latest_score("c1", "churn").unwrap().unwrap());

    t.upsert_customer(&customer("c1", "support", "churned")).unwrap();
    t.add_score(&score("c1", "churn", 0.75, T0 + 1)).unwrap();
    assert_eq!(first.department, "sales", "a record already handed out is immutable");
    assert_eq!(s1.score, 0.25);
    assert_eq!(t.get_customer_shared("c1").unwrap().unwrap().department, "support", "read after write sees the write");
    assert_eq!(t.latest_score_shared("c1", "churn").unwrap().unwrap().score, 0.75);
    assert!(t.delete_customer("c1").unwrap());
    assert!(t.get_customer_shared("c1").unwrap().is_none());
    assert_eq!(t.get_customer_shared("").unwrap_err().kind(), cidb::ErrorKind::InvalidId);
    db.close().unwrap();
    assert_eq!(t.get_customer_shared("c1").unwrap_err().kind(), cidb::ErrorKind::Closed);
}
