//! Monitor unit tests: every alert fires above its threshold and not below it, with a
//! controllable clock; the slow log keeps plans; export is well formed.

use super::*;

fn obs(ms: u64, ok: bool) -> Observation {
    Observation { elapsed_ns: ms * 1_000_000, ok, index_scans: 1, ..Default::default() }
}

fn monitor() -> (Monitor, Clock, Arc<Mutex<Vec<Alert>>>) {
    let clock = Clock::manual(1_000_000);
    let m = Monitor::new(MonitorOptions::default(), clock.clone());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    m.on_alert(Arc::new(move |a: &Alert| g.lock().push(a.clone())));
    (m, clock, got)
}

#[test]
fn slow_query_fires_above_threshold_only_once_per_window_and_keeps_plan() {
    let (m, clock, got) = monitor();
    let e = m.entry_for_sql("SELECT * FROM customers WHERE id = 'a'");
    m.record(&e, "q", &obs(100, true), || Some("SCAN customers".into()));
    assert!(got.lock().is_empty(), "exactly at the threshold is not slow");
    m.record(&e, "q", &obs(101, true), || Some("SCAN customers".into()));
    m.record(&e, "q", &obs(150, true), || None);
    assert_eq!(got.lock().len(), 1, "once per window");
    assert_eq!(got.lock()[0].kind, AlertKind::SlowQuery);
    let slow = m.stats().slow_queries;
    assert_eq!(slow.len(), 2);
    assert_eq!(slow[0].plan.as_deref(), Some("SCAN customers"));
    clock.advance(61_000);
    m.record(&e, "q", &obs(200, true), || None);
    assert_eq!(got.lock().len(), 2, "fires again in a new window");
}

#[test]
fn memory_alert() {
    let (m, _, got) = monitor();
    let e = m.entry_for_sql("SELECT 1");
    let mut o = obs(1, true);
    o.peak_mem_bytes = 100 << 20;
    m.record(&e, "q", &o, || None);
    assert!(got.lock().is_empty());
    o.peak_mem_bytes = (100 << 20) + 1;
    m.record(&e, "q", &o, || None);
    assert_eq!(got.lock()[0].kind, AlertKind::QueryMemory);
}

#[test]
fn error_rate_and_table_scan_ratio_are_judged_per_window() {
    let (m, clock, got) = monitor();
    let e = m.entry_for_sql("SELECT 1");
    // 100 statements, 1 error (= 1 %, not above), 80 table scans of 100 (= 80 %, not above)
    for i in 0..100 {
        let mut o = obs(1, i != 0);
        if i < 80 {
            o.index_scans = 0;
            o.table_scans = 1;
        }
        m.record(&e, "q", &o, || None);
    }
    assert!(m.evaluate_alerts().is_empty(), "the window has not ended");
    clock.advance(60_000);
    assert!(m.evaluate_alerts().is_empty(), "at the thresholds nothing fires");
    for i in 0..100 {
        let mut o = obs(1, i >= 2);
        if i < 81 {
            o.index_scans = 0;
            o.table_scans = 1;
        }
        m.record(&e, "q", &o, || None);
    }
    clock.advance(60_000);
    let kinds: Vec<_> = m.evaluate_alerts().into_iter().map(|a| a.kind).collect();
    assert_eq!(kinds, vec![AlertKind::ErrorRate, AlertKind::TableScanRatio]);
    assert_eq!(got.lock().len(), 2);
    // too few statements: no judgement
    for _ in 0..5 {
        m.record(&e, "q", &obs(1, false), || None);
    }
    clock.advance(60_000);
    assert!(m.evaluate_alerts().is_empty());
    assert_eq!(m.alert_log().len(), 2);
}

#[test]
fn disabled_monitor_records_nothing_and_callbacks_can_be_removed() {
    let (m, _, got) = monitor();
    let e = m.entry_for_sql("SELECT 1");
    m.set_enabled(false);
    m.record(&e, "q", &obs(500, true), || None);
    assert_eq!(e.calls(), 0);
    m.set_enabled(true);
    assert!(m.remove_alert_callback(1));
    m.record(&e, "q", &obs(500, true), || None);
    assert!(got.lock().is_empty());
    assert_eq!(m.alert_log().len(), 1);
}

#[test]
fn prometheus_text_is_well_formed() {
    let (m, _, _) = monitor();
    let e = m.entry_for_sql("SELECT * FROM customers WHERE name = 'a\"b'");
    m.record(&e, "q", &obs(3, true), || None);
    let text = m.prometheus();
    for line in text.lines() {
        assert!(line.starts_with('#') || line.starts_with("cidb_"), "{line}");
        if !line.starts_with('#') {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
    assert!(text.contains("cidb_statement_calls_total{fingerprint=\""));
    assert!(text.contains("quantile=\"0.99\""));
}

#[test]
fn quantiles_stay_within_the_observed_range() {
    let (m, _, _) = monitor();
    let one = m.entry_for_sql("SELECT a FROM t");
    m.record(&one, "q", &Observation { elapsed_ns: 250_000_000, ok: true, ..Default::default() }, || None);
    let s = one.stats();
    assert_eq!((s.p50_ms, s.p95_ms, s.p99_ms), (250.0, 250.0, 250.0), "{s:?}");
    let two = m.entry_for_sql("SELECT b FROM t");
    for ms in [2, 4] {
        m.record(&two, "q", &obs(ms, true), || None);
    }
    let s = two.stats();
    assert!(s.min_ms <= s.p50_ms && s.p50_ms <= s.p95_ms && s.p99_ms <= s.max_ms, "{s:?}");
    assert_eq!((s.min_ms, s.max_ms), (2.0, 4.0));
    let empty = m.entry_for_sql("SELECT c FROM t").stats();
    assert_eq!((empty.p50_ms, empty.min_ms, empty.max_ms), (0.0, 0.0, 0.0));
}

#[test]
fn window_counts_come_from_every_thread() {
    let (m, clock, _) = monitor();
    let e = m.entry_for_sql("SELECT 1");
    // 50 statements over two threads, 2 errors (4 % > 1 %): the error rate fires.
    std::thread::scope(|s| {
        for t in 0..2 {
            let (m, e) = (&m, &e);
            s.spawn(move || (0..25).for_each(|i| m.record(e, "q", &obs(1, !(t == 0 && i < 2)), || None)));
        }
    });
    clock.advance(60_000);
    let kinds: Vec<_> = m.evaluate_alerts().into_iter().map(|a| a.kind).collect();
    assert_eq!(kinds, vec![AlertKind::ErrorRate]);
    // the next window starts from zero: 30 clean statements fire nothing
    (0..30).for_each(|_| m.record(&e, "q", &obs(1, true), || None));
    clock.advance(60_000);
    assert!(m.evaluate_alerts().is_empty());
    assert_eq!(e.calls(), 80);
}
