//! A database directory has one owner: a second engine in this process or another process
//! gets `AlreadyOpen`, nothing is corrupted, and the directory opens again after close.

mod common;
use common::*;
use cidb::{Config, Engine, ErrorKind};

#[test]
fn second_open_in_process_is_refused_then_allowed_after_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.tenant("t").unwrap().upsert_customer(&customer("c1", "d", "s")).unwrap();
    let e = Engine::open(dir.path(), Config::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyOpen, "{e}");
    db.close().unwrap();
    db.close().unwrap(); // double close is a no-op
    assert_eq!(db.tenant("t").unwrap_err().kind(), ErrorKind::Closed);
    let again = open(dir.path());
    assert!(again.tenant("t").unwrap().get_customer("c1").unwrap().is_some());
}

#[test]
fn closed_handles_fail_with_closed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("t").unwrap();
    db.close().unwrap();
    assert_eq!(t.get_customer("c1").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(t.upsert_customer(&customer("c1", "d", "s")).unwrap_err().kind(), ErrorKind::Closed);
}

/// The child half of the cross-process test: opens the directory named in the variable and
/// reports the outcome on stdout.
#[test]
fn child_open_probe() {
    let Ok(dir) = std::env::var("CIDB_TEST_CHILD_DIR") else { return };
    match Engine::open(&dir, Config::default()) {
        Ok(_) => println!("CHILD-RESULT:opened"),
        Err(e) => println!("CHILD-RESULT:{:?}", e.kind()),
    }
}

#[test]
fn second_process_gets_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.tenant("t").unwrap().upsert_customer(&customer("c1", "d", "s")).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_open_probe", "--exact", "--nocapture"])
        .env("CIDB_TEST_CHILD_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CHILD-RESULT:AlreadyOpen"), "child said: {stdout}");
    // the owner is unaffected
    assert!(db.tenant("t").unwrap().get_customer("c1").unwrap().is_some());
}
