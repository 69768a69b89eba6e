//! Two tenants whose ids overlap never see or change each other's rows.

mod common;
use common::*;
use cidb::Role;

#[test]
fn overlapping_ids_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let a = db.tenant("a").unwrap();
    let b = db.tenant("a\u{1}").unwrap(); // a name that shares a's bytes as a prefix
    let ab = db.tenant("ab").unwrap();
    a.upsert_customer(&customer("c1", "sales", "active")).unwrap();
    b.upsert_customer(&customer("c1", "support", "trial")).unwrap();
    a.add_score(&score("c1", "churn", 0.1, T0)).unwrap();
    b.add_score(&score("c1", "churn", 0.9, T0)).unwrap();
    a.append_message(&msg("c1", "conv", Role::User, T0, "from a")).unwrap();
    b.append_message(&msg("c1", "conv", Role::User, T0, "from b")).unwrap();

    assert_eq!(a.get_customer("c1").unwrap().unwrap().department, "sales");
    assert_eq!(b.get_customer("c1").unwrap().unwrap().department, "support");
    assert!(ab.get_customer("c1").unwrap().is_none());
    assert_eq!(a.count_customers().unwrap(), 1);
    assert_eq!(ab.count_customers().unwrap(), 0);
    assert_eq!(a.latest_score("c1", "churn").unwrap().unwrap().score, 0.1);
    assert_eq!(b.latest_score("c1", "churn").unwrap().unwrap().score, 0.9);
    let am = a.messages_for_conversation("conv").unwrap();
    assert_eq!(am.len(), 1);
    assert_eq!(am[0].content, "from a");
    assert!(b.delete_customer("c1").unwrap());
    assert!(a.get_customer("c1").unwrap().is_some());
}

/// Two tenants with the same ids and different rows; every read path of one tenant must
/// give exactly what a database holding only that tenant's rows would give.
fn two_tenants(db: &cidb::Engine) -> (cidb::Tenant, cidb::Tenant) {
    let a = db.tenant("a").unwrap();
    let b = db.tenant("b").unwrap();
    for (t, dept, base, n) in [(&a, "sales", 0.1, 6usize), (&b, "support", 0.6, 9)] {
        let cs: Vec<_> = (0..n).map(|i| customer(&format!("c{i}"), dept, if i % 2 == 0 { "active" } else { "trial" })).collect();
        t.upsert_customers(&cs).unwrap();
        for i in 0..n {
            let id = format!("c{i}");
            t.add_score(&score(&id, "churn", base + i as f64 / 100.0, T0 + i as i64)).unwrap();
            t.append_message(&msg(&id, "conv", Role::User, T0 + i as i64, &format!("{dept} says {i}"))).unwrap();
        }
    }
    (a, b)
}

fn ints(r: &cidb::plan::QueryResult) -> Vec<i64> {
    r.rows.iter().map(|row| match &row[0] { cidb::Value::Int(i) => *i, v => panic!("not an int: {v:?}") }).collect()
}

#[test]
fn every_sql_construct_stays_in_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let (a, b) = two_tenants(&db);
    // Aggregates, GROUP BY, joins with each joinable table, ORDER BY + LIMIT, IN lists.
    let cases: &[(&str, Vec<i64>, Vec<i64>)] = &[
        ("SELECT COUNT(*) FROM customers", vec![6], vec![9]),
        ("SELECT COUNT(*) FROM customer_scores WHERE customer_id = 'c1'", vec![1], vec![1]),
        ("SELECT COUNT(*) FROM customers GROUP BY status ORDER BY status", vec![3, 3], vec![5, 4]),
        ("SELECT COUNT(*) FROM customers c JOIN customer_scores s ON s.customer_id = c.id WHERE s.score > 0.5", vec![0], vec![9]),
        ("SELECT COUNT(*) FROM customers c JOIN latest_scores s ON s.customer_id = c.id", vec![6], vec![9]),
        ("SELECT COUNT(*) FROM customers c JOIN conversation_messages m ON m.customer_id = c.id WHERE c.id IN ('c0', 'c7', 'c8')", vec![1], vec![3]),
        ("SELECT COUNT(*) FROM conversation_messages WHERE conversation_id = 'conv'", vec![6], vec![9]),
        ("SELECT COUNT(*) FROM customers WHERE email = 'c7@x.test'", vec![0], vec![1]),
    ];
    for (sql, want_a, want_b) in cases {
        assert_eq!(&ints(&a.query(sql, &[]).unwrap()), want_a, "tenant a: {sql}");
        assert_eq!(&ints(&b.query(sql, &[]).unwrap()), want_b, "tenant b: {sql}");
    }
    let top = "SELECT customer_id, score FROM latest_scores ORDER BY score DESC LIMIT 2";
    let ra = a.query(top, &[]).unwrap();
    assert_eq!(ra.rows.len(), 2);
    assert!(ra.rows.iter().all(|r| matches!(r[1], cidb::Value::Real(s) if s < 0.5)), "{:?}", ra.rows);
    // One prepared statement per tenant, run alternately with the same parameter.
    let (pa, pb) = (a.prepare("SELECT department FROM customers WHERE id = ?").unwrap(), b.prepare("SELECT department FROM customers WHERE id = ?").unwrap());
    for _ in 0..3 {
        let p = [cidb::Value::Text("c2".into())];
        assert_eq!(pa.query(&p).unwrap().rows, vec![vec![cidb::Value::Text("sales".into())]]);
        assert_eq!(pb.query(&p).unwrap().rows, vec![vec![cidb::Value::Text("support".into())]]);
    }
    // EXPLAIN ANALYZE counts only the tenant's rows.
    let e = a.explain("SELECT id FROM customers WHERE status = 'trial'", &[], true).unwrap();
    assert_eq!(e.actual_rows, Some(3), "{}", e.text());
    // A write through one tenant's SQL-visible data never shows in the other's results,
    // even for the same (result-cached or not) statement text.
    let sql = "SELECT COUNT(*) FROM customers WHERE department = 'sales'";
    assert_eq!(ints(&b.query(sql, &[]).unwrap()), vec![0]);
    b.upsert_customer(&customer("c100", "sales", "active")).unwrap();
    assert_eq!(ints(&a.query(sql, &[]).unwrap()), vec![6]);
    assert_eq!(ints(&b.query(sql, &[]).unwrap()), vec![1]);
}

#[test]
fn caches_contexts_feeds_and_advice_stay_in_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let (a, b) = two_tenants(&db);
    // Application cache keys.
    a.cache().set("k", b"from a", None).unwrap();
    assert_eq!(b.cache().get("k").unwrap(), None);
    b.cache().set("k", b"from b", None).unwrap();
    assert_eq!(a.cache().get("k").unwrap().as_deref(), Some(&b"from a"[..]));
    assert!(b.cache().delete("k").unwrap());
    assert_eq!(a.cache().get("k").unwrap().as_deref(), Some(&b"from a"[..]));
    // Record cache: a's cached customer never answers b's read of the same id.
    for _ in 0..3 {
        assert_eq!(a.get_customer("c3").unwrap().unwrap().department, "sales");
        assert_eq!(b.get_customer("c3").unwrap().unwrap().department, "support");
    }
    // Conversation contexts with the same conversation id.
    let entry = |who: &str| cidb::ContextEntry { role: Role::User, content: who.into(), timestamp: T0, metadata: serde_json::json!({}) };
    let ttl = std::time::Duration::from_secs(60);
    a.update_context("conv", &[entry("a")], ttl, 10).unwrap();
    let bc = b.update_context("conv", &[entry("b")], ttl, 10).unwrap();
    assert_eq!(bc.entries.len(), 1, "b's context must not merge a's entries");
    assert_eq!(a.get_context("conv").unwrap().unwrap().entries[0].content, "a");
    assert!(b.delete_context("conv").unwrap());
    assert!(a.get_context("conv").unwrap().is_some());
    // Change feed: a tenant reads only its own events.
    let ea = a.events_since(0, 10_000).unwrap();
    assert!(!ea.is_empty() && ea.iter().all(|e| e.tenant == "a"));
    assert!(b.events_since(0, 10_000).unwrap().iter().all(|e| e.tenant == "b"));
    // Deletes through one tenant leave the other's rows.
    assert!(a.delete_customer("c2").unwrap());
    assert!(a.get_customer("c2").unwrap().is_none());
    assert_eq!(b.get_customer("c2").unwrap().unwrap().department, "support");
    assert!(!a.delete_customer("c8").unwrap(), "c8 exists only in b");
    assert!(b.get_customer("c8").unwrap().is_some());
    // The advisor's report carries normalised statements only: a constant from one tenant's
    // query text never reaches it. (The monitor's `top` keeps one example text per
    // fingerprint, like auto_explain's log: an engine-wide administrative view, unless
    // `monitor_redact_examples` is on: see the next test.)
    for _ in 0..5 {
        b.query("SELECT id FROM customers WHERE name = 'secret-of-b'", &[]).unwrap();
    }
    let advice = serde_json::to_string(&db.advise().unwrap()).unwrap();
    assert!(!advice.contains("secret-of-b"), "{advice}");
    assert!(advice.contains("customers"), "the advisor saw the query: {advice}");
}

#[test]
fn redacted_monitor_reports_carry_no_tenant_constants() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cidb::config::load(None, None, vec![("CIDB_MONITOR_REDACT_EXAMPLES".into(), "true".into()), ("CIDB_ALERT_SLOW_QUERY_MS".into(), "0".into())]).unwrap().0;
    cfg.monitor.persist = false;
    let db = cidb::Engine::open(dir.path(), cfg).unwrap();
    let b = db.tenant("b").unwrap();
    b.upsert_customer(&customer("c1", "sales", "active")).unwrap();
    for _ in 0..3 {
        b.query("SELECT id FROM customers WHERE name = 'secret-of-b'", &[]).unwrap();
    }
    let top = db.monitor().top(10);
    assert!(top.iter().any(|f| f.query.contains("customers")), "the statement was recorded: {top:?}");
    let stats = db.monitor().stats();
    assert!(!stats.slow_queries.is_empty(), "a 0 ms threshold logs every statement");
    let everything = format!("{}{}{}", serde_json::to_string(&top).unwrap(), serde_json::to_string(&stats).unwrap(), db.monitor().prometheus());
    assert!(!everything.contains("secret-of-b"), "{everything}");
    assert!(top.iter().all(|f| f.example.is_none()));
    // The advisor still works from its internal samples.
    db.advise().unwrap();
    db.close().unwrap();

    // Off (the default): the example is shown.
    let dir = tempfile::tempdir().unwrap();
    let db = cidb::Engine::open(dir.path(), cidb::Config::default()).unwrap();
    let b = db.tenant("b").unwrap();
    b.query("SELECT id FROM customers WHERE name = 'visible'", &[]).unwrap();
    assert!(db.monitor().top(10).iter().any(|f| f.example.as_deref().is_some_and(|e| e.contains("visible"))));
    db.close().unwrap();
}
