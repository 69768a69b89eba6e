//! Index accesses decode only the columns the rest of the query reads: a column that only
//! conjuncts enforced by the index's key ranges read (`status = ?` through an index on
//! status) is not decoded from the row. Checked against SQLite with generated queries
//! whose outputs, ORDER BY and extra (non-sargable) conjuncts read any mix of the
//! consumed columns, each run twice (the second run reads the snapshot's row cache).

mod sqlgen;
use cidb::Value;
use proptest::prelude::*;
use sqlgen::*;

const COLS: [&str; 8] = [
    "id",
    "email",
    "name",
    "department",
    "status",
    "created_at",
    "updated_at",
    "tenant_id",
];

#[derive(Debug, Clone)]
struct Q {
    /// Output columns (indexes into COLS), at least one.
    outs: Vec<usize>,
    /// Which index prefix the WHERE clause matches.
    shape: u8,
    dept: usize,
    status: usize,
    /// Days back for the created_at range.
    days: i64,
    /// Adds a conjunct that reads a consumed column without being sargable.
    reread: bool,
    /// ORDER BY this column (then id, for a total order).
    order: Option<usize>,
    limit: Option<u8>,
}

fn q() -> impl Strategy<Value = Q> {
    (
        proptest::collection::vec(0..COLS.len(), 1..5),
        0u8..3,
        0usize..8,
        0usize..8,
        0i64..400,
        any::<bool>(),
        proptest::option::of(0..COLS.len()),
        proptest::option::of(1u8..30),
    )
        .prop_map(
            |(outs, shape, dept, status, days, reread, order, limit)| Q {
                outs,
                shape,
                dept,
                status,
                days,
                reread,
                order,
                limit,
            },
        )
}

fn sql(f: &Fixture, q: &Q) -> (String, Vec<Value>) {
    let p = &f.pools;
    let dept = Value::Text(p.departments[q.dept % p.departments.len()].clone());
    let status = Value::Text(p.statuses[q.status % p.statuses.len()].clone());
    let (mut wh, mut params) = match q.shape {
        // idx_customers_department_status_created_at, with a range on created_at.
        0 => (
            "department = ? AND status = ? AND created_at >= ?".to_string(),
            vec![dept, status.clone(), Value::Int(NOW - q.days * 86_400_000)],
        ),
        // idx_customers_tenant_id_status_department.
        1 => (
            "tenant_id = ? AND status = ? AND department = ?".to_string(),
            vec![Value::Text("tenant_0".into()), status.clone(), dept],
        ),
        // idx_customers_email_partial.
        _ => (
            "email = ?".to_string(),
            vec![Value::Text(p.emails[q.dept * 7 % p.emails.len()].clone())],
        ),
    };
    if q.reread {
        wh.push_str(" AND (status = ? OR email = ? OR department <> ?)");
        params.extend([
            status,
            Value::Text("nobody".into()),
            Value::Text("nowhere".into()),
        ]);
    }
    let outs: Vec<&str> = q.outs.iter().map(|&c| COLS[c]).collect();
    let mut s = format!("SELECT {} FROM customers WHERE {wh}", outs.join(", "));
    if let Some(o) = q.order {
        s.push_str(&format!(" ORDER BY {}, id", COLS[o]));
    }
    if let Some(l) = q.limit {
        // Without a total order the LIMIT picks any rows: only limit ordered queries.
        if q.order.is_some() {
            s.push_str(&format!(" LIMIT {l}"));
        }
    }
    (s, params)
}

fn check(f: &Fixture, q: &Q) -> Result<(), TestCaseError> {
    let (s, params) = sql(f, q);
    let want = sqlite_rows(&f.sqlite, &s, &params).map_err(TestCaseError::fail)?;
    let plan = f
        .tenant
        .explain(&s, &params, false)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        plan.text().contains("idx_customers"),
        "not an index access: {s}\n{}",
        plan.text()
    );
    for run in 0..2 {
        let got = f
            .tenant
            .query(&s, &params)
            .map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        let (mut e, mut g) = (norm_rows(&want), norm_rows(&got.rows));
        if q.order.is_none() {
            e.sort();
            g.sort();
        }
        prop_assert_eq!(e, g, "run {} of {} {:?}", run, s, params);
    }
    Ok(())
}

#[test]
fn index_accesses_decode_what_the_query_reads() {
    let f = load(300, 7, true);
    f.engine.execute("ANALYZE").unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner.run(&q(), |q| check(&f, &q)).unwrap();
}

/// The tenant query of the benchmark and the same query with each consumed column also
/// output, ordered by, or re-checked: the same rows as SQLite.
#[test]
fn consumed_columns_still_reach_outputs_order_and_filters() {
    let f = load(300, 3, true);
    for shape in 0..3 {
        for c in 0..COLS.len() {
            let q = Q {
                outs: vec![0, 1, 5],
                shape,
                dept: c,
                status: c,
                days: 300,
                reread: false,
                order: None,
                limit: None,
            };
            check(&f, &q).unwrap();
            check(
                &f,
                &Q {
                    outs: vec![c, 0],
                    ..q.clone()
                },
            )
            .unwrap();
            check(
                &f,
                &Q {
                    order: Some(c),
                    limit: Some(5),
                    ..q.clone()
                },
            )
            .unwrap();
            check(
                &f,
                &Q {
                    reread: true,
                    outs: vec![0],
                    ..q
                },
            )
            .unwrap();
        }
    }
}
