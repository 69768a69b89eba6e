//! The index advisor end to end: drop a seed index, run the workload that needs it through
//! SQL, and the advisor (reading only the monitor's fingerprints and the planner's what-if
//! costs) recommends an equivalent index; applying it (an online build) makes EXPLAIN use it
//! and cuts the workload's rows examined at least tenfold. Also: the foreign-key report and
//! the unused-index report follow the catalog and the executions.

use cidb::datagen::{generate, GenConfig, DAY_MS, DEPARTMENTS, STATUSES};
use cidb::{Config, Engine, Tenant, Value};

const NOW: i64 = 1_700_000_000_000;
const DEPT_INDEX: &str = "idx_customers_department_status_created_at";
const WORKLOAD: &str =
    "SELECT * FROM customers WHERE department = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 20";

fn load(customers: usize) -> (tempfile::TempDir, Engine, Tenant) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default().with_clock(cidb::Clock::manual(NOW));
    cfg.cache.result_cache = false; // measure the plans, not the result cache
    cfg.monitor.persist = false;
    let engine = Engine::open(dir.path(), cfg).unwrap();
    let gen = GenConfig::new(customers, 11, NOW);
    let all: Vec<_> = generate(&gen).collect();
    for t in 0..gen.tenants {
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

/// Runs the workload: the department/status/date query with varying parameters, prepared
/// once (as an application would) and also ad hoc with literal constants.
fn run_workload(t: &Tenant) {
    let stmt = t.prepare(WORKLOAD).unwrap();
    for i in 0..24 {
        let params = [
            Value::Text(DEPARTMENTS[i % DEPARTMENTS.len()].into()),
            Value::Text(STATUSES[i % 3].into()),
            Value::Int(NOW - (30 + i as i64 * 20) * DAY_MS),
        ];
        stmt.query(&params).unwrap();
    }
    for d in &DEPARTMENTS[..4] {
        let sql = format!(
            "SELECT * FROM customers WHERE department = '{d}' AND status = 'active' AND created_at > {} ORDER BY created_at DESC LIMIT 20",
            NOW - 365 * DAY_MS
        );
        t.query(&sql, &[]).unwrap();
    }
}

fn workload_examined_per_call(e: &Engine) -> (f64, u64) {
    let fp = cidb::monitor::fingerprint(WORKLOAD);
    let s = e.monitor().top(1000).into_iter().find(|f| f.query == fp.text).expect("workload recorded");
    (s.rows_examined as f64 / s.calls as f64, s.calls)
}

#[test]
fn advisor_recommends_the_dropped_index_and_apply_cuts_rows_examined_tenfold() {
    let (_dir, e, t) = load(3000);
    e.execute(&format!("DROP INDEX {DEPT_INDEX}")).unwrap();
    let ex = t.explain(WORKLOAD, &[Value::Text("sales".into()), Value::Text("active".into()), Value::Int(0)], false).unwrap();
    assert!(!ex.uses_index(DEPT_INDEX), "{}", ex.text());
    e.monitor().reset();
    run_workload(&t);
    let (before, calls) = workload_examined_per_call(&e);
    assert_eq!(calls, 28, "prepared and ad-hoc calls share one fingerprint");

    let advice = e.advise().unwrap();
    let rec = advice
        .recommendations
        .iter()
        .find(|r| r.table == "customers")
        .unwrap_or_else(|| panic!("no recommendation for customers: {advice:#?}"));
    // Equivalent to the dropped index: the two equality columns (any order), then the range.
    let mut eq = rec.columns[..2].to_vec();
    eq.sort();
    assert_eq!(eq, ["department", "status"], "{rec:#?}");
    assert_eq!(rec.columns.get(2).map(String::as_str), Some("created_at"), "{rec:#?}");
    assert!(rec.predicate.is_none());
    assert!(rec.create_sql.starts_with("CREATE INDEX CONCURRENTLY "), "{}", rec.create_sql);
    assert!(rec.cost_after * 4.0 < rec.cost_before, "predicted gain: {} -> {}", rec.cost_before, rec.cost_after);
    assert!(rec.gain > 0.75 && rec.gain <= 1.0 && (rec.gain - (1.0 - rec.cost_after / rec.cost_before)).abs() < 1e-9);
    let helped = rec.queries.iter().find(|q| q.query == cidb::monitor::fingerprint(WORKLOAD).text).expect("the workload is among the helped queries");
    assert_eq!(helped.calls, 28);
    assert!(helped.plan_before.starts_with("SCAN customers"), "{}", helped.plan_before);
    assert!(helped.plan_after.contains(&rec.name), "{}", helped.plan_after);

    e.apply_recommendation(rec).unwrap();
    let info = e.indexes().unwrap().into_iter().find(|i| i.name == rec.name).expect("index built");
    assert!(info.ready && info.entries == 3000, "{info:?}");
    let ex = t.explain(WORKLOAD, &[Value::Text("sales".into()), Value::Text("active".into()), Value::Int(NOW - 90 * DAY_MS)], false).unwrap();
    assert!(ex.uses_index(&rec.name), "{}", ex.text());
    assert!(e.check_index(&rec.name).unwrap().is_exact());

    e.monitor().reset();
    run_workload(&t);
    let (after, _) = workload_examined_per_call(&e);
    assert!(after * 10.0 <= before, "rows examined per call: {before} before, {after} after");

    // Nothing left to recommend for that workload; the new index is in use.
    let again = e.advise().unwrap();
    assert!(again.recommendations.iter().all(|r| r.table != "customers"), "{:#?}", again.recommendations);
    let usage = e.index_usage().unwrap();
    assert!(usage.iter().any(|u| u.name == rec.name && u.uses >= 28), "{usage:?}");
    assert!(again.unused_indexes.iter().all(|u| u.name != rec.name));
    assert!(again.unused_indexes.iter().any(|u| u.name == "idx_customers_email_partial"), "unused by this workload");
}

#[test]
fn foreign_key_report_follows_the_catalog_and_advise_apply_builds() {
    let (_dir, e, t) = load(600);
    assert!(e.advise().unwrap().unindexed_foreign_keys.is_empty(), "seed indexes and primary keys serve every customer_id");
    assert!(e.advise().unwrap().unused_indexes.is_empty(), "no statement recorded yet: nothing is called unused");
    e.execute("DROP INDEX idx_conversation_messages_customer_id_timestamp_role").unwrap();
    let fks = e.advise().unwrap().unindexed_foreign_keys;
    assert_eq!(fks.len(), 1, "{fks:?}");
    assert_eq!((fks[0].table.as_str(), fks[0].column.as_str()), ("conversation_messages", "customer_id"));

    // A message workload by customer: advise_apply builds what it needs.
    let cid = t.query("SELECT customer_id FROM conversation_messages LIMIT 1", &[]).unwrap().rows[0][0].clone();
    let stmt = t.prepare("SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? ORDER BY timestamp").unwrap();
    for i in 0..10 {
        stmt.query(&[cid.clone(), Value::Int(NOW - i * 10 * DAY_MS)]).unwrap();
    }
    let built = e.advise_apply(0.5).unwrap();
    assert!(
        built.iter().any(|r| r.table == "conversation_messages" && r.columns.first().map(String::as_str) == Some("customer_id")),
        "{built:#?}"
    );
    assert!(e.advise().unwrap().unindexed_foreign_keys.is_empty());
    let ex = t.explain("SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? ORDER BY timestamp", &[cid, Value::Int(0)], false).unwrap();
    assert!(ex.uses_index(&built[0].name), "{}", ex.text());
}

#[test]
fn partial_index_when_a_constant_predicate_is_common() {
    let (_dir, e, t) = load(600);
    e.execute("DROP INDEX idx_customer_scores_high_score_partial").unwrap();
    e.monitor().reset();
    let stmt = t.prepare("SELECT customer_id, score FROM customer_scores WHERE score > 0.95 ORDER BY score DESC LIMIT 10").unwrap();
    for _ in 0..20 {
        stmt.query(&[]).unwrap();
    }
    let advice = e.advise().unwrap();
    let rec = advice.recommendations.iter().find(|r| r.table == "customer_scores").unwrap_or_else(|| panic!("{advice:#?}"));
    assert_eq!(rec.columns.first().map(String::as_str), Some("score"), "{rec:#?}");
    e.apply_recommendation(rec).unwrap();
    let ex = t.explain("SELECT customer_id, score FROM customer_scores WHERE score > 0.95 ORDER BY score DESC LIMIT 10", &[], false).unwrap();
    assert!(ex.uses_index(&rec.name), "{}", ex.text());
    assert!(!ex.uses_temp_btree(), "the index gives the order: {}", ex.text());
}
