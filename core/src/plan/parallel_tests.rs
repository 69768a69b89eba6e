//! The parallel scan against the serial one: random customers and scores (NULLs, deletes,
//! a second tenant, ids of any length), then statements that take the parallel path
//! (full scans, filters, ORDER BY the key either way) and some that must not (LIMIT,
//! OFFSET, sorts, aggregates, joins); each forced onto 2-4 threads must return exactly
//! the rows, in the order, of `Tenant::query` (the serial row path, itself checked against
//! SQLite by `tests/sql_differential.rs`), both joined (`query_columns`) and as the
//! threads' chunks concatenated (`query_column_chunks`).

use super::{FORCE_THREADS, PARALLEL_RUNS};
use crate::plan::Columns;
use crate::schema::{Row, Value};
use crate::{Config, Customer, Engine, Score, Tenant};
use proptest::prelude::*;

fn customer(id: &str, n: u32, email: bool, name: bool) -> Customer {
    let mut c = Customer::new(id, 1_700_000_000_000 + n as i64);
    c.email = email.then(|| format!("{id}@example.com"));
    c.name = name.then(|| format!("Customer {n}"));
    c.department = format!("d{}", n % 4);
    c.status = if n.is_multiple_of(3) { "churned" } else { "active" }.into();
    c.attributes = serde_json::json!({"n": n});
    c
}

fn load(t: &Tenant, ids: &[(String, bool, bool)], deletes: &[usize]) {
    let cs: Vec<Customer> = ids.iter().enumerate().map(|(n, (id, e, nm))| customer(id, n as u32, *e, *nm)).collect();
    t.upsert_customers(&cs).unwrap();
    let scores: Vec<Score> = ids
        .iter()
        .enumerate()
        .map(|(n, (id, ..))| Score {
            customer_id: id.clone(),
            score_type: "churn".into(),
            score: (n % 97) as f64 / 97.0,
            confidence: 0.5,
            created_at: 1_700_000_000_000 + n as i64,
            model: (n % 2 == 0).then(|| "m1".into()),
        })
        .collect();
    t.add_scores(&scores).unwrap();
    for &d in deletes {
        if let Some((id, ..)) = ids.get(d) {
            t.delete_customer(id).unwrap();
        }
    }
}

/// (SQL, whether the parallel path must take it; None: the planner decides, an index
/// on the filtered column makes it serial).
const QUERIES: &[(&str, Option<bool>)] = &[
    ("SELECT id, email, name, department, status, created_at, updated_at, attributes FROM customers", Some(true)),
    ("SELECT * FROM customers", Some(true)),
    ("SELECT name, id FROM customers WHERE status = 'active' AND name IS NOT NULL", None),
    ("SELECT name, id FROM customers WHERE attributes IS NOT NULL AND name IS NOT NULL", Some(true)),
    ("SELECT id, email FROM customers WHERE email IS NULL OR created_at > 1700000000100", Some(true)),
    ("SELECT id, attributes FROM customers ORDER BY id", Some(true)),
    ("SELECT id, name FROM customers ORDER BY id DESC", Some(true)),
    ("SELECT id, 7, NULL, 'x' FROM customers", None),
    ("SELECT id, 7, NULL, 'x', attributes FROM customers", Some(true)),
    ("SELECT customer_id, score, model FROM customer_scores", Some(true)),
    ("SELECT id FROM customers LIMIT 5", Some(false)),
    ("SELECT id FROM customers LIMIT 1000 OFFSET 3", Some(false)),
    ("SELECT id, name FROM customers ORDER BY name, id", Some(false)),
    ("SELECT department, COUNT(*) FROM customers GROUP BY department", Some(false)),
    ("SELECT c.id, s.score FROM customers c JOIN customer_scores s ON s.customer_id = c.id", Some(false)),
];

fn check(t: &Tenant, threads: usize) -> Result<(), TestCaseError> {
    for &(sql, parallel) in QUERIES {
        let rows = t.query(sql, &[]).unwrap().rows;
        FORCE_THREADS.with(|f| f.set(threads));
        let before = PARALLEL_RUNS.with(|r| r.get());
        let cols = t.query_columns(sql, &[]);
        let mid = PARALLEL_RUNS.with(|r| r.get());
        let chunks = t.query_column_chunks(sql, &[]);
        FORCE_THREADS.with(|f| f.set(0));
        let ran = mid > before;
        prop_assert_eq!(PARALLEL_RUNS.with(|r| r.get()) > mid, ran, "{}: both paths alike", sql);
        let cols = cols.unwrap();
        check_chunks(sql, &chunks.unwrap(), &rows, &cols.names, ran, threads)?;
        // Fewer than two keys in the tenant's range: nothing to split, serial.
        if parallel == Some(true) && rows.len() >= 2 && !sql.contains("scores") {
            prop_assert!(ran, "{sql}: expected the parallel path ({} rows)", rows.len());
        }
        if parallel == Some(false) {
            prop_assert!(!ran, "{sql}: must not run in parallel");
        }
        prop_assert_eq!(cols.rows, rows.len(), "{}", sql);
        for (i, r) in rows.iter().enumerate() {
            prop_assert_eq!(&cols.row(i), r, "{} row {}", sql, i);
        }
        if sql.starts_with("SELECT * FROM customers") && ran {
            prop_assert_eq!(cols.stats.rows_returned, rows.len() as u64);
            prop_assert_eq!(cols.stats.rows_examined, rows.len() as u64);
        }
    }
    Ok(())
}

/// The chunks of `query_column_chunks`: never none, never an empty one beside others, at
/// most one per thread (exactly one when the scan was serial), all named alike, and
/// together exactly `rows` in order; the statistics are the whole result's, on the first.
fn check_chunks(sql: &str, chunks: &[Columns], rows: &[Row], names: &[String], ran: bool, threads: usize) -> Result<(), TestCaseError> {
    prop_assert!(!chunks.is_empty(), "{}", sql);
    prop_assert!(chunks.len() <= if ran { threads } else { 1 }, "{}: {} chunks", sql, chunks.len());
    if chunks.len() > 1 {
        prop_assert!(chunks.iter().all(|c| c.rows > 0), "{}: an empty chunk", sql);
    }
    let mut all = Vec::new();
    for c in chunks {
        prop_assert_eq!(&c.names, names);
        prop_assert!(c.columns.iter().all(|col| col.len() == c.rows), "{}", sql);
        all.extend((0..c.rows).map(|i| c.row(i)));
    }
    prop_assert_eq!(&all, &rows.to_vec(), "{}", sql);
    prop_assert_eq!(chunks[0].stats.rows_returned, rows.len() as u64, "{}", sql);
    Ok(())
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| format!("c{n:05}")),
        "[a-zA-Z0-9_\\-]{1,12}",
        "\\PC{1,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn parallel_scan_is_the_serial_scan(
        ids in proptest::collection::vec((id(), any::<bool>(), any::<bool>()), 0..300),
        deletes in proptest::collection::vec(0usize..300, 0..40),
        other in proptest::collection::vec((id(), any::<bool>(), any::<bool>()), 0..30),
        threads in 2usize..5,
    ) {
        let mut ids = ids;
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        ids.dedup_by(|a, b| a.0 == b.0);
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.cache.result_cache = false;
        let db = Engine::open(dir.path(), cfg).unwrap();
        let t = db.tenant("t1").unwrap();
        load(&t, &ids, &deletes);
        // Neighbouring tenants' keys sort on both sides of t1's.
        let mut other = other;
        other.sort_by(|a, b| a.0.cmp(&b.0));
        other.dedup_by(|a, b| a.0 == b.0);
        load(&db.tenant("t0").unwrap(), &other, &[]);
        load(&db.tenant("t2").unwrap(), &other, &[]);
        check(&t, threads)?;
        db.close().unwrap();
    }
}

#[test]
fn parameters_and_empty_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.cache.result_cache = false;
    let db = Engine::open(dir.path(), cfg).unwrap();
    let empty = db.tenant("empty").unwrap();
    let t = db.tenant("t").unwrap();
    let ids: Vec<(String, bool, bool)> = (0..500).map(|i| (format!("id{i}"), i % 3 != 0, i % 2 == 0)).collect();
    load(&t, &ids, &[1, 2, 3, 499]);
    FORCE_THREADS.with(|f| f.set(3));
    let e = empty.query_columns("SELECT * FROM customers", &[]).unwrap();
    let ec = empty.query_column_chunks("SELECT * FROM customers", &[]).unwrap();
    let p = t.query_columns("SELECT id, name FROM customers WHERE department = ? AND created_at > ?", &[Value::Text("d1".into()), Value::Int(1_700_000_000_100)]).unwrap();
    FORCE_THREADS.with(|f| f.set(0));
    assert_eq!(e.rows, 0);
    assert_eq!((ec.len(), ec[0].rows, ec[0].names.len()), (1, 0, 9));
    let want = t.query("SELECT id, name FROM customers WHERE department = ? AND created_at > ?", &[Value::Text("d1".into()), Value::Int(1_700_000_000_100)]).unwrap().rows;
    assert!(!want.is_empty());
    assert_eq!((0..p.rows).map(|i| p.row(i)).collect::<Vec<_>>(), want);
    db.close().unwrap();
}
