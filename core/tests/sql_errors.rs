//! Bad SQL gets a clear error of the right kind, naming the problem (and for unsupported
//! constructs, the construct and its line:column), never a panic and never a wrong answer.

mod common;
use cidb::{ErrorKind, Value};
use common::*;

fn fails(t: &cidb::Tenant, sql: &str, params: &[Value], kind: ErrorKind, needles: &[&str]) {
    let e = t.query(sql, params).expect_err(sql);
    assert_eq!(e.kind(), kind, "{sql}: {e}");
    for n in needles {
        assert!(
            e.message().contains(n),
            "{sql}: message {:?} should mention {n:?}",
            e.message()
        );
    }
}

#[test]
fn syntax_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("a").unwrap();
    fails(
        &t,
        "SELEC * FROM customers",
        &[],
        ErrorKind::SqlSyntax,
        &["SELEC"],
    );
    fails(&t, "SELECT * FROM", &[], ErrorKind::SqlSyntax, &[]);
    fails(
        &t,
        "SELECT * FROM customers WHERE",
        &[],
        ErrorKind::SqlSyntax,
        &["Line: 1"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE id = 'x",
        &[],
        ErrorKind::SqlSyntax,
        &[],
    );
    fails(&t, "", &[], ErrorKind::SqlSyntax, &["empty"]);
    fails(
        &t,
        "SELECT * FROM customers\nWHERE created_at > CURRENT_TIMESTAMP - INTERVAL 'soon'",
        &[],
        ErrorKind::SqlSyntax,
        &["INTERVAL", "2:"],
    );
}

#[test]
fn unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("a").unwrap();
    fails(
        &t,
        "SELECT * FROM nope",
        &[],
        ErrorKind::UnknownTable,
        &["nope", "1:15"],
    );
    fails(
        &t,
        "SELECT x.id FROM customers c",
        &[],
        ErrorKind::UnknownTable,
        &["x"],
    );
    fails(
        &t,
        "SELECT nope FROM customers",
        &[],
        ErrorKind::UnknownColumn,
        &["nope", "1:8"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE c.id = 'x'",
        &[],
        ErrorKind::UnknownTable,
        &["c"],
    );
    fails(
        &t,
        "SELECT * FROM customers c WHERE c.score > 1",
        &[],
        ErrorKind::UnknownColumn,
        &["c.score"],
    );
    fails(
        &t,
        "SELECT id FROM customers c JOIN conversation_messages m ON m.customer_id = c.id",
        &[],
        ErrorKind::UnknownColumn,
        &["ambiguous", "id"],
    );
    fails(
        &t,
        "SELECT * FROM customers ORDER BY 3 + 0",
        &[],
        ErrorKind::Unsupported,
        &["+"],
    );
    fails(
        &t,
        "SELECT id FROM customers ORDER BY 2",
        &[],
        ErrorKind::InvalidInput,
        &["ORDER BY term 2"],
    );
}

#[test]
fn type_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("a").unwrap();
    fails(
        &t,
        "SELECT * FROM customers WHERE created_at = 'yesterday'",
        &[],
        ErrorKind::TypeMismatch,
        &["created_at", "1:31"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE status > 3",
        &[],
        ErrorKind::TypeMismatch,
        &["status"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE id IN ('a', 2)",
        &[],
        ErrorKind::TypeMismatch,
        &[],
    );
    fails(
        &t,
        "SELECT * FROM customer_scores WHERE score BETWEEN 'a' AND 'b'",
        &[],
        ErrorKind::TypeMismatch,
        &["score"],
    );
    fails(
        &t,
        "SELECT SUM(status) FROM customers",
        &[],
        ErrorKind::TypeMismatch,
        &["SUM", "status"],
    );
    fails(
        &t,
        "SELECT * FROM customers LIMIT 'ten'",
        &[],
        ErrorKind::TypeMismatch,
        &["LIMIT"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE created_at > ?",
        &[Value::Text("x".into())],
        ErrorKind::TypeMismatch,
        &["parameter 1", "created_at"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE id = ?",
        &[Value::Int(3)],
        ErrorKind::TypeMismatch,
        &["parameter 1"],
    );
    fails(
        &t,
        "SELECT * FROM customers LIMIT ?",
        &[Value::Real(2.5)],
        ErrorKind::TypeMismatch,
        &["LIMIT"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE name = CURRENT_TIMESTAMP",
        &[],
        ErrorKind::TypeMismatch,
        &[],
    );
}

#[test]
fn unsupported_constructs_name_themselves_and_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("a").unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("SELECT * FROM customers WHERE name LIKE 'a%'", &["LIKE", "1:31"]),
        ("SELECT *\nFROM customers\nWHERE id IN (SELECT customer_id FROM customer_scores)", &["IN (subquery)", "3:7"]),
        ("SELECT DISTINCT status FROM customers", &["DISTINCT", "1:1"]),
        ("SELECT status, COUNT(*) FROM customers GROUP BY status HAVING COUNT(*) > 1", &["HAVING", "1:63"]),
        ("SELECT id FROM customers UNION SELECT customer_id FROM customer_scores", &["UNION"]),
        ("SELECT * FROM customers c LEFT JOIN customer_scores s ON s.customer_id = c.id", &["LEFT JOIN", "1:37"]),
        ("SELECT lower(name) FROM customers", &["LOWER()", "1:8"]),
        ("SELECT created_at + 1 FROM customers", &["operator `+`", "1:8"]),
        ("SELECT * FROM customers WHERE created_at - 5 > 3", &["operator `-`"]),
        ("SELECT CASE WHEN 1 = 1 THEN 2 END FROM customers", &["CASE", "1:8"]),
        ("SELECT COUNT(*) OVER () FROM customers", &["OVER"]),
        ("SELECT * FROM customers; SELECT 1", &["several statements", "1:26"]),
        ("INSERT INTO customers (id) VALUES ('x')", &["INSERT"]),
        ("SELECT * FROM (SELECT * FROM customers)", &["subquery in FROM", "1:16"]),
        ("SELECT * FROM customers c JOIN customer_scores s ON s.score > 0.5", &["customer_id"]),
        ("SELECT * FROM customer_scores s JOIN conversation_messages m ON m.customer_id = s.customer_id", &["JOIN"]),
        ("SELECT * FROM customers c, customer_scores s", &["comma join", "1:28"]),
        ("WITH x AS (SELECT 1) SELECT * FROM customers", &["WITH"]),
        ("SELECT name, COUNT(*) FROM customers", &["name", "GROUP BY"]),
        ("SELECT COUNT(DISTINCT status) FROM customers", &["DISTINCT"]),
        ("SELECT * FROM customers WHERE id", &["bare value"]),
        ("SELECT 1", &["SELECT without FROM"]),
        ("CREATE TABLE t (a INT)", &["CREATE TABLE"]),
    ];
    for (sql, needles) in cases {
        fails(&t, sql, &[], ErrorKind::Unsupported, needles);
    }
}

#[test]
fn wrong_parameter_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("a").unwrap();
    t.upsert_customer(&customer("c1", "d", "s")).unwrap();
    fails(
        &t,
        "SELECT * FROM customers WHERE id = ?",
        &[],
        ErrorKind::InvalidParameter,
        &["1 parameter", "0 were given"],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE id = ?",
        &[Value::Text("a".into()), Value::Text("b".into())],
        ErrorKind::InvalidParameter,
        &["2"],
    );
    fails(
        &t,
        "SELECT * FROM customers",
        &[Value::Int(1)],
        ErrorKind::InvalidParameter,
        &[],
    );
    fails(
        &t,
        "SELECT * FROM customers WHERE id = ?0",
        &[Value::Int(1)],
        ErrorKind::InvalidParameter,
        &["?0"],
    );
    let s = t
        .prepare("SELECT id FROM customers WHERE id = ?2 OR id = ?1")
        .unwrap();
    assert_eq!(s.param_count(), 2);
    assert_eq!(s.columns(), ["id"]);
    assert_eq!(
        s.query(&[Value::Text("c1".into())]).unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
    let r = s
        .query(&[Value::Text("zz".into()), Value::Text("c1".into())])
        .unwrap();
    assert_eq!(r.rows, vec![vec![Value::Text("c1".into())]]);
    assert_eq!(
        t.query("CREATE INDEX i ON customers(name)", &[Value::Int(1)])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidParameter
    );
    // Numbered and positional parameters mix the way SQLite numbers them.
    let s = t
        .prepare("SELECT id FROM customers WHERE id = ?3 OR id = ? OR id = $1")
        .unwrap();
    assert_eq!(s.param_count(), 4);
}
