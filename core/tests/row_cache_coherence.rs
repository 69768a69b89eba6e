//! The read snapshot's row cache never serves a stale row: random writes (upserts that
//! move customers between departments and statuses, change emails and attributes, and
//! deletes) interleave with statements that fetch base rows through indexes and by primary
//! key, each run twice in a row (the second run reads the rows the first one cached), and
//! every result is compared with SQLite fed the same writes. Also checks that the cache is
//! hit at all (otherwise this would prove nothing).

mod sqlgen;
use cidb::schema::customer_row;
use cidb::{Customer, Value};
use proptest::prelude::*;
use sqlgen::*;

const DEPTS: [&str; 3] = ["sales", "support", "ops"];
const STATUSES: [&str; 2] = ["active", "churned"];

fn upsert_sqlite(conn: &rusqlite::Connection, c: &Customer) {
    conn.execute("DELETE FROM customers WHERE id = ?", [&c.id]).unwrap();
    let row = customer_row("tenant_0", c);
    let qs = vec!["?"; row.len()].join(", ");
    let vals: Vec<rusqlite::types::Value> = row
        .iter()
        .map(|v| match v {
            Value::Null => rusqlite::types::Value::Null,
            Value::Int(i) => rusqlite::types::Value::Integer(*i),
            Value::Real(r) => rusqlite::types::Value::Real(*r),
            Value::Text(s) | Value::Json(s) => rusqlite::types::Value::Text(s.clone()),
        })
        .collect();
    conn.execute(&format!("INSERT INTO customers VALUES ({qs})"), rusqlite::params_from_iter(vals)).unwrap();
}

/// The statements under test, with parameters aimed at customer `id`.
fn statements(id: &str, email: Option<&str>, dept: &str, status: &str) -> Vec<(String, Vec<Value>)> {
    let t = |s: &str| Value::Text(s.to_string());
    let mut v = vec![
        (
            "SELECT id, email, created_at, attributes FROM customers WHERE tenant_id = 'tenant_0' AND status = ? AND department = ?".to_string(),
            vec![t(status), t(dept)],
        ),
        (
            "SELECT id, name, status, updated_at FROM customers WHERE department = ? AND status = ? ORDER BY created_at, id".to_string(),
            vec![t(dept), t(status)],
        ),
        ("SELECT * FROM customers WHERE id = ?".to_string(), vec![t(id)]),
        ("SELECT id, department FROM customers WHERE id IN (?, 'nobody')".to_string(), vec![t(id)]),
    ];
    if let Some(e) = email {
        v.push(("SELECT * FROM customers WHERE tenant_id = 'tenant_0' AND email = ?".to_string(), vec![t(e)]));
    }
    v
}

fn check(f: &Fixture, sql: &str, params: &[Value]) -> Result<(), TestCaseError> {
    let mut want = norm_rows(&sqlite_rows(&f.sqlite, sql, params).map_err(TestCaseError::fail)?);
    for run in 0..2 {
        let got = f.tenant.query(sql, params).map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
        let mut got = norm_rows(&got.rows);
        if !sql.contains("ORDER BY") {
            got.sort();
            want.sort();
        }
        prop_assert_eq!(&got, &want, "run {} of {} {:?}", run, sql, params);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Upsert { who: usize, dept: usize, status: usize, email: Option<u8>, attr: u16 },
    Delete(usize),
    Query { who: usize, dept: usize, status: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), 0..DEPTS.len(), 0..STATUSES.len(), proptest::option::of(0u8..4), any::<u16>())
            .prop_map(|(who, dept, status, email, attr)| Op::Upsert { who, dept, status, email, attr }),
        any::<usize>().prop_map(Op::Delete),
        (any::<usize>(), 0..DEPTS.len(), 0..STATUSES.len()).prop_map(|(who, dept, status)| Op::Query { who, dept, status }),
        (any::<usize>(), 0..DEPTS.len(), 0..STATUSES.len()).prop_map(|(who, dept, status)| Op::Query { who, dept, status }),
    ]
}

#[test]
fn interleaved_writes_never_see_a_stale_cached_row() {
    let f = load(60, 5, true);
    // Aim the generated customers at a few departments and statuses so statements share rows.
    let ids: Vec<String> = f.pools.customer_ids.iter().filter(|i| *i != "nobody").cloned().collect();
    for (i, id) in ids.iter().enumerate() {
        let mut c = f.tenant.get_customer(id).unwrap().unwrap();
        c.department = DEPTS[i % DEPTS.len()].into();
        c.status = STATUSES[i % STATUSES.len()].into();
        f.tenant.upsert_customer(&c).unwrap();
        upsert_sqlite(&f.sqlite, &c);
    }
    let hits = std::cell::Cell::new(0u64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            for op in ops {
                match op {
                    Op::Upsert { who, dept, status, email, attr } => {
                        let id = &ids[who % ids.len()];
                        let mut c = f.tenant.get_customer(id).unwrap().unwrap_or_else(|| Customer::new(id.clone(), NOW));
                        c.department = DEPTS[dept].into();
                        c.status = STATUSES[status].into();
                        c.email = email.map(|e| format!("shared{e}@example.com"));
                        c.attributes = serde_json::json!({ "v": attr });
                        c.updated_at += 1;
                        f.tenant.upsert_customer(&c).unwrap();
                        upsert_sqlite(&f.sqlite, &c);
                        // Right after the write: the written row's statements see it.
                        for (sql, p) in statements(id, c.email.as_deref(), &c.department, &c.status) {
                            check(&f, &sql, &p)?;
                        }
                    }
                    Op::Delete(who) => {
                        let id = &ids[who % ids.len()];
                        f.tenant.delete_customer(id).unwrap();
                        f.sqlite.execute("DELETE FROM customers WHERE id = ?", [id]).unwrap();
                        for (sql, p) in statements(id, Some("shared0@example.com"), DEPTS[who % DEPTS.len()], STATUSES[who % 2]) {
                            check(&f, &sql, &p)?;
                        }
                    }
                    Op::Query { who, dept, status } => {
                        let id = &ids[who % ids.len()];
                        let before = f.engine.snapshot_row_cache_hits().unwrap();
                        for (sql, p) in statements(id, Some("shared1@example.com"), DEPTS[dept], STATUSES[status]) {
                            check(&f, &sql, &p)?;
                        }
                        hits.set(hits.get() + f.engine.snapshot_row_cache_hits().unwrap().saturating_sub(before));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    let hits = hits.get();
    assert!(hits > 100, "the row cache was hit only {hits} times: the test would prove nothing");
}
