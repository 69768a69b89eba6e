//! The typed fast paths are recorded in the monitor under their own fingerprints, with
//! calls, errors and rows; Prometheus export includes them.

mod common;
use common::*;

#[test]
fn fast_paths_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    t.upsert_customer(&customer("c1", "d", "s")).unwrap();
    for _ in 0..5 {
        t.get_customer("c1").unwrap();
    }
    t.get_customer("nope").unwrap();
    t.latest_score("c1", "churn").unwrap();
    let top = db.monitor().top(100);
    let get = top.iter().find(|f| f.query == "fast:get_customer").expect("get_customer recorded");
    assert_eq!((get.calls, get.rows_returned, get.index_scans), (6, 5, 6));
    assert!(top.iter().any(|f| f.query == "fast:latest_score" && f.calls == 1));
    assert!(db.monitor().prometheus().contains("query=\"fast:get_customer\"} 6"));
    db.monitor().set_enabled(false);
    t.get_customer("c1").unwrap();
    assert_eq!(db.monitor().top(100).iter().find(|f| f.query == "fast:get_customer").unwrap().calls, 6);
}
