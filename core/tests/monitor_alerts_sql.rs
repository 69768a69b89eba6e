//! Every alert fires through real SQL, and stays quiet below its threshold, with the
//! engine's clock under the test's control: slow queries (with their plan kept in the slow
//! log), table-scan ratio (scans against index searches), error rate (bad SQL), and query
//! memory. Thresholds come from the configuration keys.

mod common;
use cidb::monitor::{Alert, AlertKind};
use cidb::{Clock, Engine, Tenant, Value};
use common::{customer, T0};
use parking_lot::Mutex;
use std::sync::Arc;

fn open(dir: &std::path::Path, clock: &Clock, settings: &[(&str, &str)]) -> (Engine, Tenant, Arc<Mutex<Vec<Alert>>>) {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("cidb.toml");
    let text: String = settings.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let (cfg, _) = cidb::config::load(None, Some(&file), Vec::new()).unwrap();
    let mut cfg = cfg.with_clock(clock.clone());
    cfg.cache.result_cache = false;
    let e = Engine::open(dir.join("db"), cfg).unwrap();
    let t = e.tenant("acme").unwrap();
    let cs: Vec<_> = (0..60).map(|i| customer(&format!("c{i:02}"), ["sales", "hr"][i % 2], "active")).collect();
    t.upsert_customers(&cs).unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    e.monitor().on_alert(Arc::new(move |a: &Alert| g.lock().push(a.clone())));
    (e, t, got)
}

fn kinds(got: &Mutex<Vec<Alert>>) -> Vec<AlertKind> {
    got.lock().iter().map(|a| a.kind).collect()
}

/// Ends the alert window and judges it (the background thread may judge it first; both
/// deliver to the callback).
fn end_window(e: &Engine, clock: &Clock) {
    clock.advance(60_001);
    e.monitor().evaluate_alerts();
}

const SCAN: &str = "SELECT id, name FROM customers WHERE name = ?";
const SEARCH: &str = "SELECT id FROM customers WHERE id = ?";

#[test]
fn slow_query_alert_fires_above_threshold_once_per_window_and_keeps_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let (quiet, qt, qgot) = open(&dir.path().join("a"), &clock, &[("alert_slow_query_ms", "60000")]);
    qt.query(SCAN, &[Value::Text("x".into())]).unwrap();
    assert!(kinds(&qgot).is_empty(), "a fast query is not slow");
    assert!(quiet.monitor().stats().slow_queries.is_empty());
    quiet.close().unwrap();

    let (e, t, got) = open(&dir.path().join("b"), &clock, &[("alert_slow_query_ms", "0.000001")]);
    t.query(SCAN, &[Value::Text("x".into())]).unwrap();
    t.query(SCAN, &[Value::Text("y".into())]).unwrap();
    assert_eq!(kinds(&got), vec![AlertKind::SlowQuery], "once per fingerprint per window");
    let a = got.lock()[0].clone();
    assert_eq!(a.fingerprint.as_deref(), Some("SELECT id, name FROM customers WHERE name = ?"));
    assert_eq!(a.at, T0);
    let slow = e.monitor().stats().slow_queries;
    assert_eq!(slow.len(), 2, "every slow execution is logged");
    assert_eq!(slow[0].sql, SCAN);
    let plan = slow[0].plan.as_deref().expect("plan kept");
    assert!(plan.contains("SCAN customers") && plan.contains("actual rows=0 examined=60 loops=1"), "{plan}");
    clock.advance(61_000);
    t.query(SCAN, &[Value::Text("z".into())]).unwrap();
    assert_eq!(kinds(&got), vec![AlertKind::SlowQuery; 2], "fires again in the next window");
    e.close().unwrap();
}

#[test]
fn table_scan_ratio_alert() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let (e, t, got) = open(dir.path(), &clock, &[]);
    let (scan, search) = (t.prepare(SCAN).unwrap(), t.prepare(SEARCH).unwrap());
    // 5 scans, 20 index searches: 20 % table scans, below 80 %.
    for i in 0..25 {
        if i < 5 {
            scan.query(&[Value::Text("n".into())]).unwrap();
        } else {
            search.query(&[Value::Text(format!("c{i:02}"))]).unwrap();
        }
    }
    end_window(&e, &clock);
    assert!(kinds(&got).is_empty(), "{:?}", got.lock());
    // 25 scans, 5 searches: 83 % table scans.
    for i in 0..30 {
        if i < 25 {
            scan.query(&[Value::Text("n".into())]).unwrap();
        } else {
            search.query(&[Value::Text("c01".into())]).unwrap();
        }
    }
    end_window(&e, &clock);
    assert_eq!(kinds(&got), vec![AlertKind::TableScanRatio]);
    let a = got.lock()[0].clone();
    assert!((a.value - 25.0 / 30.0).abs() < 1e-9 && a.threshold == 0.8, "{a:?}");
    let top = e.monitor().top(10);
    let s = top.iter().find(|f| f.query == "SELECT id, name FROM customers WHERE name = ?").unwrap();
    assert_eq!((s.calls, s.table_scans, s.index_scans), (30, 30, 0));
    let s = top.iter().find(|f| f.query == "SELECT id FROM customers WHERE id = ?").unwrap();
    assert_eq!((s.calls, s.table_scans, s.index_scans, s.rows_returned), (25, 0, 25, 25));
    e.close().unwrap();
}

#[test]
fn error_rate_alert_from_bad_sql() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let (e, t, got) = open(dir.path(), &clock, &[("alert_error_rate", "0.05")]);
    let run = |bad: usize, good: usize| {
        for _ in 0..bad {
            assert!(t.query("SELEC id FROM customers", &[]).is_err());
        }
        for i in 0..good {
            t.query(SEARCH, &[Value::Text(format!("c{:02}", i % 60))]).unwrap();
        }
    };
    run(5, 95); // 5 %: not above
    end_window(&e, &clock);
    assert!(kinds(&got).is_empty(), "{:?}", got.lock());
    run(3, 37); // 7.5 %
    end_window(&e, &clock);
    assert_eq!(kinds(&got), vec![AlertKind::ErrorRate]);
    assert!((got.lock()[0].value - 0.075).abs() < 1e-9);
    // Errors are counted under the statement's own fingerprint, parse failures included.
    let bad = e.monitor().top(100).into_iter().find(|f| f.query == "selec id FROM customers").expect("unparsable statement fingerprinted");
    assert_eq!((bad.calls, bad.errors), (8, 8));
    // A bind error (unknown column) and a parameter error count too.
    assert!(t.query("SELECT nope FROM customers", &[]).is_err());
    assert!(t.query(SEARCH, &[]).is_err());
    let top = e.monitor().top(100);
    assert_eq!(top.iter().find(|f| f.query == "SELECT nope FROM customers").unwrap().errors, 1);
    assert_eq!(top.iter().find(|f| f.query == "SELECT id FROM customers WHERE id = ?").unwrap().errors, 1);
    e.close().unwrap();
}

#[test]
fn query_memory_alert() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let sorted = "SELECT id, department FROM customers ORDER BY department, id";
    let (big, bt, bgot) = open(&dir.path().join("a"), &clock, &[("alert_query_memory_bytes", "1000000000")]);
    bt.query(sorted, &[]).unwrap();
    assert!(kinds(&bgot).is_empty());
    let peak = big.monitor().top(10).into_iter().find(|f| f.query.starts_with("SELECT id, department")).unwrap().peak_mem_bytes;
    assert!(peak > 0, "a sort holds rows");
    big.close().unwrap();
    let limit = (peak - 1).to_string();
    let (e, t, got) = open(&dir.path().join("b"), &clock, &[("alert_query_memory_bytes", &limit)]);
    t.query(sorted, &[]).unwrap();
    assert_eq!(kinds(&got), vec![AlertKind::QueryMemory]);
    assert_eq!(got.lock()[0].value, peak as f64);
    assert!(got.lock()[0].message.contains("query memory"));
    e.close().unwrap();
}
