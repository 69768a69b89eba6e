//! The seven query patterns the seed indexes exist for: EXPLAIN shows the intended index,
//! with the index dropped it shows a scan (or, for customer_scores, the clustered primary
//! key, which has the same leading columns), and after CREATE INDEX the index is back; a
//! prepared statement follows along by re-planning on its own.

use cidb::datagen::{generate, GenConfig, DAY_MS};
use cidb::{Config, Engine, Tenant, Value};

const NOW: i64 = 1_700_000_000_000;

fn load() -> (tempfile::TempDir, Engine, Tenant) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Config::default().with_clock(cidb::Clock::manual(NOW))).unwrap();
    let cfg = GenConfig::new(1500, 5, NOW);
    let all: Vec<_> = generate(&cfg).collect();
    for t in 0..cfg.tenants {
        let name = cidb::datagen::tenant_name(t);
        let ten = engine.tenant(&name).unwrap();
        let mine: Vec<_> = all.iter().filter(|g| g.tenant == name).collect();
        ten.upsert_customers(&mine.iter().map(|g| g.customer.clone()).collect::<Vec<_>>()).unwrap();
        ten.add_scores(&mine.iter().flat_map(|g| g.scores.clone()).collect::<Vec<_>>()).unwrap();
        ten.append_messages(&mine.iter().flat_map(|g| g.messages.clone()).collect::<Vec<_>>()).unwrap();
    }
    engine.execute("ANALYZE").unwrap();
    let t = engine.tenant("tenant_0").unwrap();
    (dir, engine, t)
}

struct Pattern {
    index: &'static str,
    sql: &'static str,
    params: Vec<Value>,
    /// What the plan's first step must start with once the index is gone.
    without: &'static str,
}

fn patterns(t: &Tenant) -> Vec<Pattern> {
    // The tenant's most active customer (messages are Zipf-distributed).
    let top = t
        .query("SELECT customer_id, COUNT(*) FROM conversation_messages GROUP BY customer_id ORDER BY 2 DESC, 1 LIMIT 1", &[])
        .unwrap();
    let cid = top.rows[0][0].clone();
    vec![
        Pattern {
            index: "idx_customers_department_status_created_at",
            sql: "SELECT * FROM customers WHERE department = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 20",
            params: vec![Value::Text("sales".into()), Value::Text("active".into()), Value::Int(NOW - 180 * DAY_MS)],
            without: "SCAN customers",
        },
        Pattern {
            index: "idx_customer_scores_customer_id_score_type_created_at",
            sql: "SELECT COUNT(*) FROM customer_scores WHERE customer_id = ? AND score_type = ? AND created_at >= ?",
            params: vec![cid.clone(), Value::Text("churn_risk".into()), Value::Int(NOW - 90 * DAY_MS)],
            without: "SEARCH customer_scores USING PRIMARY KEY (customer_id=? AND score_type=? AND created_at>?)",
        },
        Pattern {
            index: "idx_conversation_messages_customer_id_timestamp_role",
            sql: "SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
            params: vec![cid.clone(), Value::Int(NOW - 365 * DAY_MS), Value::Int(NOW)],
            without: "SCAN conversation_messages",
        },
        Pattern {
            index: "idx_customers_tenant_id_status_department",
            sql: "SELECT id, department FROM customers WHERE tenant_id = ? AND status = ? ORDER BY department",
            params: vec![Value::Text("tenant_0".into()), Value::Text("at_risk".into())],
            without: "SCAN customers",
        },
        Pattern {
            index: "idx_customers_email_partial",
            sql: "SELECT * FROM customers WHERE email = ?",
            params: vec![Value::Text("cust_00000003@example.com".into())],
            without: "SCAN customers",
        },
        Pattern {
            index: "idx_customer_scores_high_score_partial",
            sql: "SELECT customer_id, score, confidence FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 50",
            params: vec![],
            without: "SCAN customer_scores",
        },
        Pattern {
            index: "idx_conversation_messages_recent_partial",
            sql: "SELECT customer_id, COUNT(*) FROM conversation_messages WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '7 days' GROUP BY customer_id",
            params: vec![],
            without: "SCAN conversation_messages",
        },
    ]
}

fn seed_sql(name: &str) -> &'static str {
    cidb::index::SEED_INDEXES.iter().find(|s| s.contains(&format!(" {name} "))).unwrap()
}

#[test]
fn each_seed_pattern_uses_its_index_falls_back_when_dropped_and_recovers() {
    let (_dir, engine, t) = load();
    for p in patterns(&t) {
        let stmt = t.prepare(p.sql).unwrap();
        let before = stmt.query(&p.params).unwrap();
        let e = t.explain(p.sql, &p.params, false).unwrap();
        assert!(e.uses_index(p.index), "{} should use {}:\n{}", p.sql, p.index, e.text());
        assert!(e.steps()[0].detail.starts_with("SEARCH") || p.index.ends_with("recent_partial"), "{}", e.text());
        assert!(before.stats.indexes.iter().any(|i| i == p.index), "{:?}", before.stats);
        assert_eq!(stmt.plan_count(), 1);

        engine.execute(&format!("DROP INDEX {}", p.index)).unwrap();
        let e = t.explain(p.sql, &p.params, false).unwrap();
        assert!(!e.uses_index(p.index), "{}", e.text());
        assert!(e.steps()[0].detail.starts_with(p.without), "without {}: {}", p.index, e.text());
        let during = stmt.query(&p.params).unwrap();
        assert_eq!(stmt.plan_count(), 2, "the prepared statement re-plans after DROP INDEX");
        assert_eq!(during.rows.len(), before.rows.len(), "{}", p.sql);

        engine.execute(seed_sql(p.index)).unwrap();
        let e = t.explain(p.sql, &p.params, false).unwrap();
        assert!(e.uses_index(p.index), "after CREATE INDEX {}:\n{}", p.index, e.text());
        let after = stmt.query(&p.params).unwrap();
        assert_eq!(stmt.plan_count(), 3);
        assert_eq!(after.rows, before.rows, "{}", p.sql);
        assert!(after.stats.indexes.iter().any(|i| i == p.index));
        assert!(!before.rows.is_empty() || p.sql.contains("email"), "pattern {} should find rows", p.sql);
    }
}

#[test]
fn explain_text_json_and_analyze() {
    let (_dir, _engine, t) = load();
    let ps = patterns(&t);
    let p = &ps[0];
    let e = t.explain(p.sql, &p.params, false).unwrap();
    assert_eq!(
        e.lines()[1].split("  [").next().unwrap(),
        "`--SEARCH customers USING INDEX idx_customers_department_status_created_at (department=? AND status=? AND created_at>?)"
    );
    assert!(!e.uses_temp_btree(), "the index gives ORDER BY created_at DESC: {}", e.text());
    let j = e.to_json();
    assert_eq!(j["plan"][0]["index"], "idx_customers_department_status_created_at");
    assert!(j["plan"][0]["est_rows"].as_f64().unwrap() > 0.0);
    assert!(j["est_cost"].as_f64().unwrap() > 0.0);

    let a = t.explain(p.sql, &p.params, true).unwrap();
    let s = &a.steps()[0];
    let r = t.query(p.sql, &p.params).unwrap();
    assert_eq!(s.actual_rows, Some(r.rows.len() as u64));
    assert!(s.examined.unwrap() >= s.actual_rows.unwrap());
    assert!(a.text().contains("actual rows="), "{}", a.text());
    assert!(a.to_json()["plan"][0]["time_ns"].is_u64());

    // EXPLAIN through query(): one text column.
    let q = t.query(&format!("EXPLAIN QUERY PLAN {}", p.sql), &p.params).unwrap();
    assert_eq!(q.columns, ["plan"]);
    assert_eq!(q.rows[0][0], Value::Text("QUERY PLAN".into()));
    let q = t.query(&format!("EXPLAIN ANALYZE {}", p.sql), &p.params).unwrap();
    assert!(q.rows.iter().any(|r| matches!(&r[0], Value::Text(s) if s.contains("actual rows="))));

    // A full ORDER BY on a non-indexed column needs a temp b-tree; a join shows both tables.
    let e = t.explain("SELECT * FROM customers ORDER BY name LIMIT 5", &[], false).unwrap();
    assert!(e.uses_temp_btree() && e.scans("customers"), "{}", e.text());
    let e = t
        .explain("SELECT c.id, s.score FROM customers c JOIN latest_scores s ON s.customer_id = c.id WHERE c.email = ?", &[Value::Text("cust_00000003@example.com".into())], false)
        .unwrap();
    assert!(e.uses_index("idx_customers_email_partial"), "{}", e.text());
    assert!(e.lines()[2].contains("SEARCH s USING PRIMARY KEY (customer_id=?)"), "{}", e.text());
}

/// Two indexes can serve tenant + status + department with the same number of matched
/// rows: (department, status, created_at) and (tenant_id, status, department). The second
/// binds every index column, so its entries come in primary-key order and the row fetches
/// walk the table's pages in order instead of jumping across the whole table; the planner
/// must prefer it (it did not: on a tie the first index won).
#[test]
fn an_index_bound_on_every_column_wins_a_tie_by_fetching_rows_in_key_order() {
    let (_dir, _engine, t) = load();
    let sql = "SELECT id, email, created_at FROM customers WHERE tenant_id = ? AND status = ? AND department = ? LIMIT 100";
    let p = [Value::Text("tenant_0".into()), Value::Text("active".into()), Value::Text("sales".into())];
    let e = t.explain(sql, &p, false).unwrap();
    assert!(e.uses_index("idx_customers_tenant_id_status_department"), "{}", e.text());
    let mut got = t.query(sql, &p).unwrap().rows;
    let mut want = t
        .query("SELECT id, email, created_at FROM customers WHERE status = 'active' AND department = 'sales' ORDER BY id", &[])
        .unwrap()
        .rows;
    want.truncate(100);
    got.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    assert_eq!(got, want, "in primary-key order, so LIMIT keeps the first 100 ids");
}

#[test]
fn hypothetical_index_costs_and_fingerprints() {
    let (_dir, engine, t) = load();
    let sql = "SELECT * FROM customers WHERE email = ?";
    let p = [Value::Text("cust_00000003@example.com".into())];
    engine.execute("DROP INDEX idx_customers_email_partial").unwrap();
    let h = t.cost_with_hypothetical(sql, &p, "CREATE INDEX hypo_email ON customers(email)").unwrap();
    assert!(h.uses_index, "{h:?}");
    assert!(h.after * 5.0 < h.before, "an email index should make the lookup far cheaper: {h:?}");
    assert!(h.plan_before.starts_with("SCAN customers"), "{h:?}");
    assert!(h.plan_after.contains("hypo_email"), "{h:?}");
    assert!(engine.indexes().unwrap().iter().all(|i| i.name != "hypo_email"), "nothing is built");
    let useless = t.cost_with_hypothetical(sql, &p, "CREATE INDEX hypo_name ON customers(name)").unwrap();
    assert!(!useless.uses_index && useless.after == useless.before, "{useless:?}");
    assert_eq!(t.cost_with_hypothetical(sql, &p, "CREATE INDEX x ON nope(a)").unwrap_err().kind(), cidb::ErrorKind::UnknownTable);

    let a = cidb::sql::fingerprint::fingerprint(sql);
    let b = cidb::sql::fingerprint::fingerprint("select * from customers where email = 'x@y'");
    assert_eq!(a, b);
}
