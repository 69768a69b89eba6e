//! Every store operation writes, survives close and reopen, and reads back exactly.

mod common;
use common::*;
use cidb::Role;

#[test]
fn customers_scores_messages_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        let t = db.tenant("acme").unwrap();
        t.upsert_customer(&customer("c1", "sales", "active")).unwrap();
        t.upsert_customers(&[customer("c2", "support", "trial"), customer("c3", "sales", "churned")]).unwrap();
        let mut c1 = customer("c1", "sales", "at_risk");
        c1.attributes = serde_json::json!({"plan": "pro"});
        t.upsert_customer(&c1).unwrap();
        assert!(t.delete_customer("c3").unwrap());
        assert!(!t.delete_customer("c3").unwrap());
        t.add_score(&score("c1", "churn", 0.2, T0)).unwrap();
        t.add_scores(&[score("c1", "churn", 0.9, T0 + 10), score("c1", "churn", 0.5, T0 + 5)]).unwrap();
        let m1 = t.append_message(&msg("c1", "conv1", Role::User, T0, "hi")).unwrap();
        let ms = t
            .append_messages(&[
                msg("c1", "conv1", Role::Assistant, T0 + 1, "hello"),
                msg("c1", "conv2", Role::User, T0 + 2, "again"),
            ])
            .unwrap();
        assert!(ms[0].id > m1.id && ms[1].id > ms[0].id, "ids are monotonic");
        db.close().unwrap();
    }
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    assert_eq!(t.count_customers().unwrap(), 2);
    let c1 = t.get_customer("c1").unwrap().unwrap();
    assert_eq!(c1.status, "at_risk");
    assert_eq!(c1.attributes["plan"], "pro");
    assert!(t.get_customer("c3").unwrap().is_none());
    // latest is by created_at, not by insertion order
    assert_eq!(t.latest_score("c1", "churn").unwrap().unwrap().score, 0.9);
    let hist = t.score_history("c1", "churn", T0, T0 + 11).unwrap();
    assert_eq!(hist.iter().map(|s| s.score).collect::<Vec<_>>(), vec![0.2, 0.5, 0.9]);
    assert_eq!(t.score_history("c1", "churn", T0 + 1, T0 + 10).unwrap().len(), 1);
    let all = t.messages_for_customer("c1", 0, i64::MAX, None, 0).unwrap();
    assert_eq!(all.len(), 3);
    let users = t.messages_for_customer("c1", 0, i64::MAX, Some(Role::User), 0).unwrap();
    assert_eq!(users.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), vec!["hi", "again"]);
    assert_eq!(t.messages_for_customer("c1", 0, i64::MAX, None, 1).unwrap().len(), 1);
    assert_eq!(t.messages_for_conversation("conv1").unwrap().len(), 2);
    let s = db.stats().unwrap();
    assert_eq!((s.customers, s.scores, s.latest_scores, s.messages), (Some(2), Some(3), Some(1), Some(3)));
}

#[test]
fn latest_score_always_matches_history() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&proptest::collection::vec((0u8..3, 0i64..50, 0.0f64..=1.0), 1..20), |points| {
            for (c, at, v) in &points {
                t.add_score(&score(&format!("p{c}"), "x", *v, T0 + at)).unwrap();
            }
            for c in 0..3 {
                let id = format!("p{c}");
                let hist = t.score_history(&id, "x", 0, i64::MAX).unwrap();
                let latest = t.latest_score(&id, "x").unwrap();
                // the newest by created_at; among equal times the last inserted
                let want = hist.iter().rev().max_by_key(|s| s.created_at).cloned();
                let want = want.map(|w| {
                    hist.iter().rfind(|s| s.created_at == w.created_at).cloned().unwrap()
                });
                prop_assert_eq!(latest, want);
            }
            Ok(())
        })
        .unwrap();
}
