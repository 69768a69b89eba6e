//! Every validation rule rejects bad input with its own error kind, and a rejected write
//! (alone or in a batch) changes nothing.

mod common;
use common::*;
use cidb::{Config, Engine, ErrorKind, Role};

fn kind<T: std::fmt::Debug>(r: cidb::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

#[test]
fn each_rule_has_its_kind_and_nothing_lands() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();

    assert_eq!(kind(t.upsert_customer(&customer("", "d", "s"))), ErrorKind::InvalidId);
    assert_eq!(kind(t.upsert_customer(&customer(&"x".repeat(257), "d", "s"))), ErrorKind::InvalidId);
    let mut longest = customer(&"x".repeat(256), "d", "s");
    longest.email = None;
    t.upsert_customer(&longest).unwrap();
    let mut bad = customer("c1", "d", "s");
    bad.attributes = serde_json::json!([1, 2]);
    assert_eq!(kind(t.upsert_customer(&bad)), ErrorKind::InvalidAttributes);
    let mut bad = customer("c1", "d", "s");
    bad.created_at = -1;
    assert_eq!(kind(t.upsert_customer(&bad)), ErrorKind::InvalidTimestamp);
    // one bad customer in a batch: none land
    let mut bad = customer("c9", "d", "s");
    bad.attributes = serde_json::json!("text");
    assert_eq!(kind(t.upsert_customers(&[customer("c8", "d", "s"), bad])), ErrorKind::InvalidAttributes);
    assert!(t.get_customer("c8").unwrap().is_none());

    for v in [f64::NAN, f64::INFINITY, -0.1, 1.1] {
        assert_eq!(kind(t.add_score(&score("c1", "churn", v, T0))), ErrorKind::InvalidScore);
        let mut s = score("c1", "churn", 0.5, T0);
        s.confidence = v;
        assert_eq!(kind(t.add_score(&s)), ErrorKind::InvalidScore);
    }
    assert_eq!(kind(t.add_scores(&[score("c1", "churn", 0.5, T0), score("c1", "", 0.5, T0)])), ErrorKind::InvalidId);
    assert!(t.latest_score("c1", "churn").unwrap().is_none());
    assert_eq!(kind("robot".parse::<Role>()), ErrorKind::InvalidRole);

    let mut m = msg("c1", "conv", Role::User, T0, "");
    m.content = "x".repeat((1 << 20) + 1);
    assert_eq!(kind(t.append_message(&m)), ErrorKind::ContentTooLarge);
    let mut m = msg("c1", "conv", Role::User, T0, "hi");
    m.metadata = serde_json::json!(null);
    assert_eq!(kind(t.append_message(&m)), ErrorKind::InvalidAttributes);
    assert_eq!(kind(t.append_message(&msg("c1", "conv", Role::User, 253_402_300_800_000, "late"))), ErrorKind::InvalidTimestamp);
    assert!(t.messages_for_conversation("conv").unwrap().is_empty());
    assert_eq!(kind(db.tenant("")), ErrorKind::InvalidId);

    let s = db.stats().unwrap();
    assert_eq!((s.customers, s.scores, s.messages), (Some(1), Some(0), Some(0)));
}

#[test]
fn content_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.limits.max_content_bytes = 4;
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    t.append_message(&msg("c1", "conv", Role::User, T0, "four")).unwrap();
    assert_eq!(kind(t.append_message(&msg("c1", "conv", Role::User, T0, "fives"))), ErrorKind::ContentTooLarge);
}
