//! Statements are recorded under their fingerprint through the engine: constants and
//! parameters do not split a fingerprint, shapes do; prepared statements keep recording
//! after their entry is evicted or the table is reset; the table is bounded; it survives a
//! restart with its samples (so the advisor still has a workload); index usage is counted.

mod common;
use cidb::{Config, Engine, Value};
use common::{customer, score, T0};

fn open(dir: &std::path::Path, f: impl FnOnce(&mut Config)) -> Engine {
    let mut cfg = Config::default();
    cfg.cache.result_cache = false;
    f(&mut cfg);
    Engine::open(dir, cfg).unwrap()
}

fn calls(e: &Engine, query: &str) -> Option<u64> {
    e.monitor().top(usize::MAX).into_iter().find(|f| f.query == query).map(|f| f.calls)
}

#[test]
fn constants_share_a_fingerprint_and_shapes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), |_| {});
    let t = e.tenant("acme").unwrap();
    t.upsert_customers(&[customer("a", "sales", "active"), customer("b", "hr", "trial")]).unwrap();
    t.query("SELECT * FROM customers WHERE department = 'sales' AND created_at > 5", &[]).unwrap();
    t.query("select *  from CUSTOMERS where department='hr' and created_at > -7;", &[]).unwrap();
    let stmt = t.prepare("SELECT * FROM customers WHERE department = ? AND created_at > ?").unwrap();
    stmt.query(&[Value::Text("x".into()), Value::Int(1)]).unwrap();
    assert_eq!(stmt.fingerprint(), "SELECT * FROM customers WHERE department = ? AND created_at > ?");
    assert_eq!(calls(&e, &stmt.fingerprint()), Some(3));
    t.query("SELECT * FROM customers WHERE status = 'sales' AND created_at > 5", &[]).unwrap();
    t.query("SELECT id FROM customers WHERE department = 'sales' AND created_at > 5", &[]).unwrap();
    t.query("SELECT * FROM customers WHERE department = 'sales' AND created_at > 5 ORDER BY id", &[]).unwrap();
    t.query("SELECT * FROM customers WHERE department IN ('a', 'b') AND created_at > 5", &[]).unwrap();
    t.query("SELECT * FROM customers WHERE department IN ('c') AND created_at > 5", &[]).unwrap();
    let fps: Vec<_> = e.monitor().top(usize::MAX).into_iter().filter(|f| !f.query.starts_with("fast:")).collect();
    assert_eq!(fps.len(), 5, "{:#?}", fps.iter().map(|f| &f.query).collect::<Vec<_>>());
    assert_eq!(calls(&e, "SELECT * FROM customers WHERE department IN (...) AND created_at > ?"), Some(2));
    // Stats add up: rows returned over the three calls of the first shape.
    let s = e.monitor().top(usize::MAX).into_iter().find(|f| f.query == stmt.fingerprint()).unwrap();
    assert_eq!((s.rows_returned, s.errors, s.table_scans + s.index_scans > 0), (2, 0, true));
    assert!(s.min_ms <= s.p50_ms.max(s.min_ms) && s.p50_ms <= s.p99_ms && s.max_ms >= s.min_ms && s.total_ms > 0.0);
    assert!(s.example.as_deref().is_some_and(|x| x.contains("'sales'")), "the first execution is kept as the sample");
    // DDL through the engine is recorded too.
    e.execute("ANALYZE").unwrap();
    assert_eq!(calls(&e, "ANALYZE"), Some(1));
    e.close().unwrap();
}

#[test]
fn prepared_statements_survive_reset_and_eviction_and_the_table_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), |c| c.monitor.max_fingerprints = 3);
    let t = e.tenant("acme").unwrap();
    t.upsert_customer(&customer("a", "sales", "active")).unwrap();
    let stmt = t.prepare("SELECT id FROM customers WHERE id = ?").unwrap();
    stmt.query(&[Value::Text("a".into())]).unwrap();
    e.monitor().reset();
    stmt.query(&[Value::Text("a".into())]).unwrap();
    assert_eq!(calls(&e, "SELECT id FROM customers WHERE id = ?"), Some(1), "recording continues after a reset");
    for _ in 0..5 {
        stmt.query(&[Value::Text("a".into())]).unwrap();
    }
    // fill the table with other shapes
    for col in ["name", "email", "status", "department"] {
        t.query(&format!("SELECT {col} FROM customers"), &[]).unwrap();
    }
    let st = e.monitor().stats();
    assert_eq!(st.fingerprints.len(), 3);
    assert_eq!(st.evicted_fingerprints, 2, "five shapes in a table of three");
    assert_eq!(calls(&e, "SELECT id FROM customers WHERE id = ?"), Some(6), "the most used entry stays");
    // an evicted prepared statement's entry comes back when it runs again
    let rare = t.prepare("SELECT name FROM customers WHERE id = ?").unwrap();
    rare.query(&[Value::Text("a".into())]).unwrap();
    for col in ["created_at", "updated_at", "attributes"] {
        t.query(&format!("SELECT {col} FROM customers"), &[]).unwrap();
    }
    rare.query(&[Value::Text("a".into())]).unwrap();
    assert!(calls(&e, "SELECT name FROM customers WHERE id = ?").is_some());
    // the typed fast paths re-acquire their entries the same way
    for _ in 0..9 {
        t.get_customer("a").unwrap();
    }
    assert_eq!(calls(&e, "fast:get_customer"), Some(9));
    e.close().unwrap();
}

#[test]
fn disabled_monitor_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), |c| c.monitor.enabled = false);
    let t = e.tenant("acme").unwrap();
    t.upsert_customer(&customer("a", "sales", "active")).unwrap();
    assert_eq!(t.query("SELECT id FROM customers", &[]).unwrap().rows.len(), 1);
    assert!(t.query("SELEC", &[]).is_err());
    t.get_customer("a").unwrap();
    assert!(e.monitor().top(100).is_empty());
    e.monitor().set_enabled(true);
    t.query("SELECT id FROM customers", &[]).unwrap();
    assert_eq!(calls(&e, "SELECT id FROM customers"), Some(1));
    e.close().unwrap();
}

#[test]
fn the_table_and_index_usage_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let q = "SELECT customer_id FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 5";
    {
        let e = open(dir.path(), |_| {});
        let t = e.tenant("acme").unwrap();
        t.upsert_customer(&customer("a", "sales", "active")).unwrap();
        t.add_scores(&[score("a", "churn", 0.95, T0), score("a", "churn", 0.5, T0 + 1)]).unwrap();
        for _ in 0..4 {
            assert_eq!(t.query(q, &[]).unwrap().rows.len(), 1);
        }
        t.get_customer("a").unwrap();
        e.close().unwrap();
    }
    let e = open(dir.path(), |_| {});
    let fp = cidb::monitor::fingerprint(q).text;
    let s = e.monitor().top(100).into_iter().find(|f| f.query == fp).expect("restored");
    assert_eq!((s.calls, s.rows_returned, s.example.as_deref()), (4, 4, Some(q)));
    assert!(s.p99_ms > 0.0, "histogram restored");
    assert_eq!(calls(&e, "fast:get_customer"), Some(1));
    let used = e.index_usage().unwrap().into_iter().find(|u| u.name == "idx_customer_scores_high_score_partial").unwrap();
    assert_eq!(used.uses, 4);
    // the restored sample can be re-planned: the advisor counts it
    assert!(e.advise().unwrap().queries_considered >= 1);
    e.tenant("acme").unwrap().query(q, &[]).unwrap();
    assert_eq!(calls(&e, &fp), Some(5));
    e.close().unwrap();
    // a damaged file is set aside with a warning, never an error
    std::fs::write(dir.path().join("monitor.json"), b"{not json").unwrap();
    let e = open(dir.path(), |_| {});
    assert!(e.monitor().top(100).is_empty());
    assert!(e.monitor().stats().warnings[0].contains("monitor.json"), "{:?}", e.monitor().stats().warnings);
    assert!(dir.path().join("monitor.json.bad").exists());
    e.close().unwrap();
}

#[test]
fn explaining_or_preparing_alone_takes_no_slot() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), |c| c.monitor.max_fingerprints = 2);
    let t = e.tenant("acme").unwrap();
    t.upsert_customer(&customer("a", "sales", "active")).unwrap();
    t.query("SELECT id FROM customers", &[]).unwrap();
    t.query("SELECT name FROM customers", &[]).unwrap();
    for col in ["status", "email", "department"] {
        t.explain(&format!("SELECT {col} FROM customers"), &[], false).unwrap();
        let _unused = t.prepare(&format!("SELECT {col}, id FROM customers")).unwrap();
    }
    assert_eq!(e.monitor().stats().evicted_fingerprints, 0);
    assert_eq!(calls(&e, "SELECT id FROM customers"), Some(1));
    assert_eq!(calls(&e, "SELECT name FROM customers"), Some(1));
    e.close().unwrap();
}
