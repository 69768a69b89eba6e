//! Online backup: a copy taken while writers run is consistent (a prefix of the writes, with
//! every index-like table agreeing with its table) and opens like any database.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn backup_while_writing_is_consistent_and_opens() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("db"));
    let t = db.tenant("acme").unwrap();
    t.upsert_customers(&(0..500).map(|i| customer(&format!("pre{i}"), "d", "s")).collect::<Vec<_>>()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (t.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // each write is a customer, a score and a message in sequence
                t.upsert_customer(&customer(&format!("live{i}"), "d", "s")).unwrap();
                t.add_score(&score(&format!("live{i}"), "churn", 0.5, T0 + i as i64)).unwrap();
                t.append_message(&msg(&format!("live{i}"), "conv", cidb::Role::User, T0, "x")).unwrap();
                i += 1;
            }
            i
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let report = db.backup(dir.path().join("copy")).unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(report.entries > 0 && report.bytes > 0);
    assert_eq!(db.backup(dir.path().join("copy")).unwrap_err().kind(), cidb::ErrorKind::AlreadyExists);

    let copy = open(&dir.path().join("copy"));
    let c = copy.tenant("acme").unwrap();
    let n = c.count_customers().unwrap();
    assert!(n >= 500 && n <= 500 + written, "{n}");
    for i in 0..500 {
        assert!(c.get_customer(&format!("pre{i}")).unwrap().is_some());
    }
    // consistency: every live customer but possibly the last has its score and message
    let live = n - 500;
    for i in 0..live.saturating_sub(1) {
        let id = format!("live{i}");
        assert!(c.latest_score(&id, "churn").unwrap().is_some(), "{id} score missing in the copy");
        assert_eq!(c.messages_for_customer(&id, 0, i64::MAX, None, 0).unwrap().len(), 1, "{id} message via index");
    }
    assert_eq!(c.messages_for_conversation("conv").unwrap().len() as u64, copy.stats().unwrap().messages.unwrap());
    // every index of the copy agrees with its table
    for ix in copy.indexes().unwrap() {
        let chk = copy.check_index(&ix.name).unwrap();
        assert!(chk.is_exact(), "index {} of the copy: {chk:?}", ix.name);
    }
    assert!(copy.indexes().unwrap().len() >= 7, "the seed indexes came along");
    // the copy is writable and independent
    c.upsert_customer(&customer("only-in-copy", "d", "s")).unwrap();
    assert!(t.get_customer("only-in-copy").unwrap().is_none());
}
