//! Storage faults through the fault-injecting backend: the breaker opens after the
//! threshold, reads still succeed, writes fail fast naming the cause, the half-open probe
//! closes it once storage works (reopening the failed database), and no acknowledged write
//! is lost across all of it and a reopen.

mod common;
use cidb::storage::backend::FaultSwitch;
use cidb::storage::breaker::BreakerState;
use cidb::{Clock, Config, Engine, ErrorKind};
use common::*;

#[test]
fn breaker_opens_reads_continue_probe_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSwitch::new();
    let clock = Clock::manual(T0);
    let mut cfg = Config::default().with_clock(clock.clone());
    cfg.faults = Some(faults.clone());
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    let mut acked = Vec::new();
    for i in 0..20 {
        let id = format!("before{i}");
        t.upsert_customer(&customer(&id, "d", "s")).unwrap();
        acked.push(id);
    }

    faults.fail_writes(true);
    let mut kinds = Vec::new();
    for i in 0..8 {
        let e = t.upsert_customer(&customer(&format!("during{i}"), "d", "s")).unwrap_err();
        kinds.push(e.kind());
    }
    assert!(faults.injected() > 0, "faults were injected");
    assert_eq!(&kinds[..5], &[ErrorKind::Storage; 5], "the first failures are storage errors: {kinds:?}");
    assert!(kinds[5..].iter().all(|k| *k == ErrorKind::Unavailable), "then fail fast: {kinds:?}");
    let s = db.stats().unwrap();
    assert_eq!(s.breaker.state, BreakerState::Open);
    assert!(s.breaker.last_error.as_deref().unwrap_or("").contains("injected"));
    let msg = t.upsert_customer(&customer("x", "d", "s")).unwrap_err().to_string();
    assert!(msg.contains("injected"), "the fail-fast error names the last cause: {msg}");

    // reads keep working while the breaker is open
    for id in &acked {
        assert!(t.get_customer(id).unwrap().is_some(), "read of {id} while open");
    }

    // still open before the cooldown; storage fixed; the probe after the cooldown closes it
    faults.clear();
    assert_eq!(t.upsert_customer(&customer("early", "d", "s")).unwrap_err().kind(), ErrorKind::Unavailable);
    clock.advance(60_000);
    t.upsert_customer(&customer("probe", "d", "s")).unwrap();
    acked.push("probe".into());
    assert_eq!(db.stats().unwrap().breaker.state, BreakerState::Closed);
    t.upsert_customer(&customer("after", "d", "s")).unwrap();
    acked.push("after".into());

    db.close().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    for id in &acked {
        assert!(t.get_customer(id).unwrap().is_some(), "acknowledged {id} survived");
    }
    for i in 0..8 {
        assert!(t.get_customer(&format!("during{i}")).unwrap().is_none(), "failed write during{i} did not land");
    }
}

#[test]
fn failed_probe_reopens_the_breaker() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSwitch::new();
    let clock = Clock::manual(T0);
    let mut cfg = Config::default().with_clock(clock.clone());
    cfg.faults = Some(faults.clone());
    cfg.breaker.threshold = 2;
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    faults.0.disk_full.store(true, std::sync::atomic::Ordering::SeqCst);
    faults.fail_writes(true);
    for _ in 0..2 {
        assert_eq!(t.upsert_customer(&customer("a", "d", "s")).unwrap_err().kind(), ErrorKind::Storage);
    }
    assert_eq!(db.stats().unwrap().breaker.state, BreakerState::Open);
    clock.advance(60_000);
    let pe = t.upsert_customer(&customer("a", "d", "s")).unwrap_err();
    assert_eq!(pe.kind(), ErrorKind::Storage, "probe fails");
    assert_eq!(db.stats().unwrap().breaker.state, BreakerState::Open);
    assert_eq!(t.upsert_customer(&customer("a", "d", "s")).unwrap_err().kind(), ErrorKind::Unavailable);
    faults.clear();
    clock.advance(60_000);
    t.upsert_customer(&customer("a", "d", "s")).unwrap();
    assert!(t.get_customer("a").unwrap().is_some());
}

/// Every fault class surfaces as a clear error, nothing acknowledged is lost, and the engine
/// recovers when the fault clears.
#[test]
fn every_fault_class_is_reported_and_recovered_from() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    type Pick = fn(&cidb::storage::backend::FaultState) -> &AtomicBool;
    let classes: [(&str, Pick); 4] = [
        ("failed writes", |s| &s.fail_writes),
        ("failed syncs", |s| &s.fail_syncs),
        ("short writes", |s| &s.short_writes),
        ("disk full", |s| &s.disk_full),
    ];
    for (name, pick) in classes {
        let dir = tempfile::tempdir().unwrap();
        let faults = FaultSwitch::new();
        let clock = Clock::manual(T0);
        let mut cfg = Config::default().with_clock(clock.clone());
        cfg.faults = Some(faults.clone());
        let db = Engine::open(dir.path(), cfg).unwrap();
        let t = db.tenant("acme").unwrap();
        // enough data that a write needs new pages (disk full) and reads reach the file
        let batch: Vec<_> = (0..2000).map(|i| customer(&format!("a{i}"), "d", "s")).collect();
        t.upsert_customers(&batch).unwrap();
        pick(&faults.0).store(true, SeqCst);
        let big: Vec<_> = (0..4000).map(|i| customer(&format!("b{i}"), &"x".repeat(200), "s")).collect();
        let mut errors = Vec::new();
        for _ in 0..6 {
            if let Err(e) = t.upsert_customers(&big) {
                errors.push(e.kind());
            }
        }
        assert!(faults.injected() > 0, "{name}: the fault was hit");
        assert!(!errors.is_empty(), "{name}: writes failed");
        assert!(errors.iter().all(|k| matches!(k, ErrorKind::Storage | ErrorKind::Unavailable)), "{name}: {errors:?}");
        faults.clear();
        clock.advance(60_000);
        t.upsert_customer(&customer("after", "d", "s")).unwrap_or_else(|e| panic!("{name}: recovery write failed: {e}"));
        db.close().unwrap();
        let db = open(dir.path());
        let t = db.tenant("acme").unwrap();
        assert!(t.get_customer("after").unwrap().is_some(), "{name}");
        for i in (0..2000).step_by(97) {
            assert!(t.get_customer(&format!("a{i}")).unwrap().is_some(), "{name}: acknowledged a{i} lost");
        }
    }
}

/// Reads that fail (cold pages cannot be read) are a clear Storage error, at open here since
/// the open verifies every page; once the fault clears the same directory opens intact.
#[test]
fn failed_reads_are_a_clear_error_and_leave_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        let t = db.tenant("acme").unwrap();
        let batch: Vec<_> = (0..500).map(|i| customer(&format!("a{i}"), "d", "s")).collect();
        t.upsert_customers(&batch).unwrap();
        db.close().unwrap();
    }
    let faults = FaultSwitch::new();
    faults.0.fail_reads.store(true, std::sync::atomic::Ordering::SeqCst);
    let cfg = Config { faults: Some(faults.clone()), ..Config::default() };
    let e = Engine::open(dir.path(), cfg.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(e.to_string().contains("injected read failure"), "the cause is named: {e}");
    faults.clear();
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    assert_eq!(t.count_customers().unwrap(), 500);
}
