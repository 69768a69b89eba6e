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
