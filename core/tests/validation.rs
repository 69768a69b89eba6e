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

/// `levels` nested objects `{"d": {"d": ...}}` (the outer one is level 1).
fn nested(levels: usize) -> serde_json::Value {
    let mut v = serde_json::json!({});
    for _ in 1..levels {
        v = serde_json::json!({ "d": v });
    }
    v
}

#[test]
fn json_nested_deeper_than_64_levels_is_refused_so_every_stored_value_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();

    let mut ok = customer("c1", "d", "s");
    ok.attributes = nested(64);
    t.upsert_customer(&ok).unwrap();
    assert_eq!(t.get_customer("c1").unwrap().unwrap().attributes, nested(64));

    // 65 levels, and 200 (past serde_json's 128-level parse limit: such a value used to be
    // written and then fail every read of the customer).
    for levels in [65, 200] {
        let mut bad = customer("c2", "d", "s");
        bad.attributes = nested(levels);
        let e = t.upsert_customer(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidAttributes);
        assert_eq!(e.message(), "attributes is nested more than 64 levels deep");
        let mut m = msg("c1", "k", Role::User, T0, "hi");
        m.metadata = nested(levels);
        assert_eq!(kind(t.append_message(&m)), ErrorKind::InvalidAttributes);
        let entry = cidb::ContextEntry { role: Role::User, content: "x".into(), timestamp: T0, metadata: nested(levels) };
        assert_eq!(
            kind(t.update_context("k", &[entry], std::time::Duration::from_secs(60), 10)),
            ErrorKind::InvalidAttributes
        );
    }
    assert!(t.get_customer("c2").unwrap().is_none());
    assert!(t.messages_for_conversation("k").unwrap().is_empty());
    assert!(t.get_context("k").unwrap().is_none());
    db.close().unwrap();
}
