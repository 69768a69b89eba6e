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

/// Messages read through the snapshot's row cache (the second read of each range in the
/// same snapshot hits it) equal the appended messages filtered and ordered by the test
/// itself, for random roles, timestamps, metadata, ranges, role filters and limits; a SQL
/// read that fills the same cache first changes nothing either.
#[test]
fn cached_message_reads_match_the_appended_messages() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
    let strat = (
        proptest::collection::vec((0usize..3, 0usize..5, 0i64..40, 0u8..4), 1..60),
        proptest::collection::vec((0usize..3, 0i64..45, 0i64..45, proptest::option::of(0usize..5), 0usize..4), 1..12),
    );
    runner
        .run(&strat, |(msgs, reads)| {
            let dir = tempfile::tempdir().unwrap();
            let db = open(dir.path());
            let t = db.tenant("acme").unwrap();
            let news: Vec<_> = msgs
                .iter()
                .map(|&(c, r, ts, meta)| {
                    let mut m = msg(&format!("c{c}"), &format!("conv{}", c * 2 + ts as usize % 2), Role::ALL[r], T0 + ts, &format!("m{ts}"));
                    m.metadata = serde_json::json!({ "n": meta, "tags": ["a", "ü"] });
                    m
                })
                .collect();
            let stored = t.append_messages(&news).unwrap();
            for &(c, a, b, role, limit) in &reads {
                let cid = format!("c{c}");
                let role = role.map(|r| Role::ALL[r]);
                let mut want: Vec<_> = stored
                    .iter()
                    .filter(|m| m.customer_id == cid && m.timestamp >= T0 + a && m.timestamp < T0 + b)
                    .filter(|m| role.is_none_or(|r| m.role == r))
                    .cloned()
                    .collect();
                want.sort_by_key(|m| (m.timestamp, m.id));
                if limit > 0 {
                    want.truncate(limit);
                }
                let hits = db.snapshot_row_cache_hits().unwrap();
                let first = t.messages_for_customer(&cid, T0 + a, T0 + b, role, limit).unwrap();
                let second = t.messages_for_customer(&cid, T0 + a, T0 + b, role, limit).unwrap();
                prop_assert_eq!(&first, &want);
                prop_assert_eq!(&second, &want);
                if !want.is_empty() {
                    prop_assert!(db.snapshot_row_cache_hits().unwrap() > hits, "the second read hits the cache");
                }
                let conv = format!("conv{}", c * 2);
                let sql = t.query("SELECT id FROM conversation_messages WHERE conversation_id = ?", &[cidb::Value::Text(conv.clone())]).unwrap();
                let mut by_conv: Vec<_> = stored.iter().filter(|m| m.conversation_id == conv).cloned().collect();
                by_conv.sort_by_key(|m| m.id);
                prop_assert_eq!(sql.rows.len(), by_conv.len());
                prop_assert_eq!(t.messages_for_conversation(&conv).unwrap(), by_conv);
            }
            db.close().unwrap();
            Ok(())
        })
        .unwrap();
}
