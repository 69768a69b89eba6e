//! Target `sql_frontend`: arbitrary bytes, read as UTF-8 (lossily), go through every SQL
//! entry point of a tenant with data: `fingerprint`, `prepare`, `query` (with parameters of
//! every type, and with a wrong count), `explain`, `explain analyze`. Nothing may panic; an
//! error must be one of the SQL kinds a user can act on (syntax, unknown table/column, type
//! mismatch, unsupported, parameter, invalid input, not found / already exists for DDL),
//! never `Internal`, `Storage` or `Corrupted`. Results must be well formed (one value per
//! column, `rows_returned` equal to the rows).
//!
//! DDL (CREATE INDEX, DROP INDEX, ANALYZE) runs on a scratch database of its own, so inputs
//! stay independent; there, a fixed set of probe queries must return the same rows before
//! and after the statement: an index never changes an answer.

use crate::oracle::{load, norm_rows, Fixture};
use cidb::{ErrorKind, Tenant, Value};

thread_local! {
    static SHARED: Fixture = {
        crate::prefer_shm_tmpdir();
        load(24, 5, true)
    };
}

/// Error kinds SQL text may legitimately produce.
const SQL_KINDS: [ErrorKind; 10] = [
    ErrorKind::SqlSyntax,
    ErrorKind::UnknownTable,
    ErrorKind::UnknownColumn,
    ErrorKind::TypeMismatch,
    ErrorKind::Unsupported,
    ErrorKind::InvalidParameter,
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::AlreadyExists,
    ErrorKind::ConstraintViolation,
];

/// Queries whose answers must not change when indexes come and go.
const PROBES: [&str; 9] = [
    "SELECT * FROM customers WHERE department = 'sales' AND status = 'active'",
    "SELECT id, email FROM customers WHERE email IS NOT NULL AND created_at > 0",
    "SELECT * FROM customers WHERE tenant_id = 'tenant_0' AND status <> 'churned' ORDER BY created_at",
    "SELECT * FROM customer_scores WHERE score > 0.75 AND confidence >= 0.1",
    "SELECT customer_id, score_type, COUNT(*), MAX(created_at) FROM customer_scores GROUP BY customer_id, score_type",
    "SELECT * FROM latest_scores WHERE score BETWEEN 0.2 AND 0.9",
    "SELECT * FROM conversation_messages WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '30 days'",
    "SELECT m.id, c.department FROM customers c JOIN conversation_messages m ON m.customer_id = c.id WHERE m.role = 'user'",
    "SELECT * FROM conversation_messages WHERE customer_id IN ('cust_00001', 'cust_00002') AND timestamp >= 0",
];

fn check_kind(what: &str, sql: &str, e: &cidb::Error) {
    assert!(SQL_KINDS.contains(&e.kind()), "{what} of {sql:?} failed with kind {:?} (not a SQL error kind): {e}", e.kind());
    assert!(!e.message().is_empty(), "{what} of {sql:?}: error without a message");
}

/// A parameter value for slot `i` (types rotate so every parameter kind meets every type).
fn param(seed: usize, i: usize) -> Value {
    match (seed + i) % 7 {
        0 => Value::Int(1),
        1 => Value::Text("sales".into()),
        2 => Value::Real(0.5),
        3 => Value::Null,
        4 => Value::Int(crate::oracle::NOW),
        5 => Value::Text("cust_00001".into()),
        _ => Value::Int(-1),
    }
}

fn check_result(sql: &str, r: &cidb::QueryResult) {
    assert_eq!(r.stats.rows_returned, r.rows.len() as u64, "rows_returned differs from the rows of {sql:?}");
    for row in &r.rows {
        assert_eq!(row.len(), r.columns.len(), "row {row:?} does not match columns {:?} of {sql:?}", r.columns);
    }
}

/// One input: panics on a wrong error kind or a malformed result.
pub fn run(data: &[u8]) {
    let sql = String::from_utf8_lossy(data);
    let seed = data.first().copied().unwrap_or(0) as usize;
    // The fingerprinter reads every statement the monitor sees.
    let _ = cidb::sql::fingerprint::fingerprint(&sql);
    SHARED.with(|f| run_on(f, &sql, seed));
}

fn run_on(f: &Fixture, sql: &str, seed: usize) {
    let t = &f.tenant;
    let stmt = match t.prepare(sql) {
        Ok(s) => s,
        Err(e) => {
            check_kind("prepare", sql, &e);
            // The one-shot form must fail the same way.
            let e2 = t.query(sql, &[]).expect_err("query succeeded where prepare failed");
            assert_eq!(e.kind(), e2.kind(), "prepare and query disagree on {sql:?}: {e} / {e2}");
            return;
        }
    };
    assert_eq!(stmt.sql(), sql);
    if stmt.columns().is_empty() {
        return ddl(sql);
    }
    let n = stmt.param_count();
    let params: Vec<Value> = (0..n).map(|i| param(seed, i)).collect();
    match stmt.query(&params) {
        Ok(r) => {
            check_result(sql, &r);
            assert_eq!(r.columns, stmt.columns(), "result columns differ from the statement's for {sql:?}");
        }
        Err(e) => check_kind("query", sql, &e),
    }
    let mut wrong = params.clone();
    wrong.push(Value::Int(0));
    let e = stmt.query(&wrong).expect_err("a wrong parameter count was accepted");
    assert!(
        matches!(e.kind(), ErrorKind::InvalidParameter | ErrorKind::InvalidInput),
        "wrong parameter count for {sql:?} gave {:?}: {e}",
        e.kind()
    );
    for analyze in [false, true] {
        match t.explain(sql, &params, analyze) {
            Ok(x) => assert!(!x.lines().is_empty(), "empty plan for {sql:?}"),
            Err(e) => check_kind("explain", sql, &e),
        }
    }
}

fn probe(t: &Tenant) -> Vec<Vec<Vec<String>>> {
    PROBES
        .iter()
        .map(|q| {
            let mut rows = norm_rows(&t.query(q, &[]).unwrap_or_else(|e| panic!("probe {q} failed: {e}")).rows);
            rows.sort();
            rows
        })
        .collect()
}

/// Runs a DDL statement on a scratch database and checks it changed no answer.
fn ddl(sql: &str) {
    let f = load(6, 3, true);
    let before = probe(&f.tenant);
    match f.tenant.query(sql, &[]) {
        Ok(r) => check_result(sql, &r),
        Err(e) => check_kind("DDL", sql, &e),
    }
    // A second run hits the "already exists" / "not found" paths.
    if let Err(e) = f.engine.execute(sql) {
        check_kind("DDL (again)", sql, &e);
    }
    let after = probe(&f.tenant);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(b, a, "DIVERGENCE: {sql:?} changed the answer of probe {:?}", PROBES[i]);
    }
    for ix in f.engine.indexes().expect("list indexes") {
        let c = f.engine.check_index(&ix.name).expect("check index");
        assert!(c.is_exact(), "after {sql:?} index {} is not exact: {c:?}", ix.name);
    }
    f.engine.close().expect("close scratch engine");
}
