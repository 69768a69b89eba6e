//! `Engine::health` tells a working engine from a broken one (storage failing, breaker
//! open, an index that lost entries) and an alerting one (degraded); `Engine::optimize`
//! runs ANALYZE, builds the advisor's indexes above the gain threshold and warms the cache.

mod common;
use cidb::storage::backend::FaultSwitch;
use cidb::storage::breaker::BreakerState;
use cidb::{Clock, Config, Engine, HealthStatus, Value};
use common::{customer, score, T0};
use redb::{ReadableDatabase, TableHandle};

fn load(e: &Engine) {
    let t = e.tenant("acme").unwrap();
    let cs: Vec<_> = (0..300).map(|i| customer(&format!("c{i:03}"), ["sales", "hr", "legal"][i % 3], ["active", "trial"][i % 2])).collect();
    t.upsert_customers(&cs).unwrap();
    let ss: Vec<_> = (0..300).map(|i| score(&format!("c{i:03}"), "churn", (i % 100) as f64 / 100.0, T0 + i as i64)).collect();
    t.add_scores(&ss).unwrap();
}

#[test]
fn healthy_then_degraded_by_an_alert_then_unhealthy_when_storage_fails() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSwitch::new();
    let clock = Clock::manual(T0);
    let mut cfg = Config::default().with_clock(clock.clone());
    cfg.faults = Some(faults.clone());
    cfg.monitor.alerts.slow_query = std::time::Duration::from_secs(3600);
    let e = Engine::open(dir.path(), cfg).unwrap();
    load(&e);
    let h = e.health().unwrap();
    assert!(h.healthy && h.status == HealthStatus::Ok, "{h:#?}");
    assert!(h.storage_writable && h.cache_open && h.breaker.state == BreakerState::Closed);
    assert_eq!(h.indexes.len(), 7, "every seed index sampled");
    let cust = h.indexes.iter().find(|c| c.index == "idx_customers_department_status_created_at").unwrap();
    assert!(cust.rows_checked == 64 && cust.entries_checked == 64 && cust.is_consistent(), "{cust:?}");
    assert!(h.problems.is_empty());

    faults.fail_writes(true);
    for _ in 0..6 {
        let _ = e.health();
    }
    let h = e.health().unwrap();
    assert!(!h.healthy && h.status == HealthStatus::Unhealthy);
    assert!(!h.storage_writable && h.storage_error.is_some());
    assert_eq!(h.breaker.state, BreakerState::Open);
    assert!(h.problems.iter().any(|p| p.contains("breaker")), "{:?}", h.problems);
    // the health probe is the half-open probe once storage works again
    faults.clear();
    clock.advance(60_000);
    let h = e.health().unwrap();
    assert!(h.healthy && h.breaker.state == BreakerState::Closed, "{h:#?}");
    e.close().unwrap();

    // an alert makes it degraded, not unhealthy
    let mut cfg = Config::default().with_clock(clock.clone());
    cfg.monitor.alerts.slow_query = std::time::Duration::from_nanos(1);
    let e = Engine::open(dir.path(), cfg).unwrap();
    e.tenant("acme").unwrap().query("SELECT COUNT(*) FROM customers", &[]).unwrap();
    let h = e.health().unwrap();
    assert!(h.healthy && h.status == HealthStatus::Degraded, "{h:#?}");
    assert_eq!(h.active_alerts.len(), 1);
    clock.advance(61_000);
    assert_eq!(e.health().unwrap().status, HealthStatus::Ok, "the alert is no longer active after its window");
    e.close().unwrap();
}

#[test]
fn an_index_that_lost_its_entries_is_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), Config::default()).unwrap();
    load(&e);
    let id = {
        let ix = e.indexes().unwrap();
        assert!(ix.iter().any(|i| i.name == "idx_customers_department_status_created_at"));
        e.close().unwrap();
        // Find the index table by its entry count (300) among the customers indexes.
        let db = redb::Database::open(dir.path().join("data.redb")).unwrap();
        let txn = db.begin_read().unwrap();
        let names: Vec<String> = txn.list_tables().unwrap().map(|h| h.name().to_string()).filter(|n| n.starts_with("ix_")).collect();
        names.into_iter().min().unwrap()
    };
    {
        // remove every entry of the first index (ix_<lowest id>: a customers seed index)
        let db = redb::Database::open(dir.path().join("data.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&[u8], ()> = redb::TableDefinition::new(&id);
            let mut t = txn.open_table(def).unwrap();
            t.retain(|_, _| false).unwrap();
        }
        txn.commit().unwrap();
    }
    let e = Engine::open(dir.path(), Config::default()).unwrap();
    let h = e.health().unwrap();
    assert!(!h.healthy && h.status == HealthStatus::Unhealthy, "{h:#?}");
    let bad: Vec<_> = h.indexes.iter().filter(|c| !c.is_consistent()).collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].missing > 0 && bad[0].extra == 0, "{bad:?}");
    assert!(h.problems.iter().any(|p| p.contains(&bad[0].index) && p.contains("inconsistent")), "{:?}", h.problems);
    assert!(!e.check_index(&bad[0].index).unwrap().is_exact(), "the full check agrees");
    e.close().unwrap();
}

#[test]
fn optimize_analyzes_builds_above_the_threshold_and_warms() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.cache.result_cache = false;
    let e = Engine::open(dir.path(), cfg).unwrap();
    load(&e);
    e.execute("DROP INDEX idx_customers_department_status_created_at").unwrap();
    e.execute("DROP INDEX idx_customers_tenant_id_status_department").unwrap();
    let t = e.tenant("acme").unwrap();
    let q = "SELECT id FROM customers WHERE department = ? AND status = ? ORDER BY created_at";
    let stmt = t.prepare(q).unwrap();
    for d in ["sales", "hr", "legal"] {
        stmt.query(&[Value::Text(d.into()), Value::Text("active".into())]).unwrap();
    }
    // an impossible threshold builds nothing, and says what it skipped
    let r = e.optimize(1.01).unwrap();
    assert!(r.applied.is_empty() && !r.skipped.is_empty(), "{r:#?}");
    assert!(r.analyze_ms >= 0.0 && r.elapsed_ms >= r.analyze_ms);
    let r = e.optimize(0.5).unwrap();
    assert_eq!(r.applied.len(), 1, "{r:#?}");
    assert!(r.failed.is_empty());
    let name = &r.applied[0].name;
    assert!(t.explain(q, &[Value::Text("hr".into()), Value::Text("trial".into())], false).unwrap().uses_index(name));
    let again = e.optimize(0.5).unwrap();
    assert!(again.applied.is_empty(), "{again:#?}");
    e.close().unwrap();
}
