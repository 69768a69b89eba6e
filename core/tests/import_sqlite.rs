//! Import from SQLite database files (feature `sqlite`): a file built with rusqlite holding
//! good and bad rows (NULL required fields, BLOBs, text that is not UTF-8, bad timestamps,
//! out-of-range scores) imports its good rows and reports each bad one by rowid; a
//! generated dataset exported with the engine's own SQLite schema round-trips exactly
//! (rows of other tenants are rejected, never moved); source-table choice errors are clear.
#![cfg(feature = "sqlite")]

mod common;
use cidb::datagen::{generate, GenConfig};
use cidb::schema::{customer_row, message_row, score_row, Value};
use cidb::{ErrorKind, ImportOptions, Message, Table};
use common::*;
use rusqlite::{params, Connection};
use serde_json::json;
use std::path::Path;

fn lines_and_kinds(r: &cidb::ImportReport) -> Vec<(u64, ErrorKind)> {
    r.rejects.iter().map(|j| (j.line, j.kind)).collect()
}

fn build_messy(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE customers (id, email TEXT, name, department TEXT, status TEXT, created_at, updated_at, attributes);
         CREATE TABLE customer_scores (customer_id TEXT, score_type TEXT, score, confidence REAL, created_at INTEGER, model TEXT);
         CREATE VIEW churn_view AS SELECT * FROM customer_scores WHERE score_type = 'churn' ORDER BY rowid;",
    )
    .unwrap();
    c.execute_batch(
        r#"INSERT INTO customers (rowid, id, email, name, department, status, created_at, updated_at, attributes) VALUES
           (1, 'c1', 'a@x.test', 'Ann', 'sales', 'active', 1700000000000, '2023-11-14 22:13:21', '{"k": 1}'),
           (2, NULL, NULL, 'nobody', 'sales', 'active', 1700000000000, NULL, NULL),
           (3, 'c3', NULL, x'00ff', 'sales', 'active', 1700000000000, NULL, NULL),
           (4, 'c4', NULL, CAST(x'41ff42' AS TEXT), 'sales', 'active', 1700000000000, NULL, NULL),
           (5, 'c5', NULL, NULL, 'sales', 'active', 'soon', NULL, NULL),
           (6, 'c6', NULL, NULL, 'sales', 'active', 1.5, NULL, NULL),
           (10, 42, NULL, NULL, 'hr', 'trial', 1700000000000.0, NULL, ''),
           (11, 'c11', NULL, NULL, 'hr', 'trial', 1700000000000, NULL, '[]');
           INSERT INTO customer_scores (rowid, customer_id, score_type, score, confidence, created_at, model) VALUES
           (1, 'c1', 'churn', 0.5, 0.9, 1700000000000, 'm'),
           (2, 'c1', 'churn', 1.5, 0.9, 1700000000001, NULL),
           (3, 'c1', 'churn', 'abc', 0.9, 1700000000002, NULL),
           (4, 'c1', 'churn', 0.5, NULL, 1700000000003, NULL),
           (5, 'c1', 'churn', '0.75', 0.9, 1700000000004, NULL),
           (6, 'c1', 'upsell', -1, 0.9, 1700000000005, NULL);"#,
    )
    .unwrap();
}

#[test]
fn good_rows_land_and_bad_rows_are_reported_by_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("src.sqlite");
    build_messy(&file);
    let db = open(&dir.path().join("db"));
    let t = db.tenant("acme").unwrap();
    let o = ImportOptions::default();

    let r = t.import_sqlite(Table::Customers, &file, None, &o).unwrap();
    assert_eq!((r.imported, r.rejected), (2, 6), "{r:#?}");
    assert_eq!(
        lines_and_kinds(&r),
        vec![
            (2, ErrorKind::InvalidInput),
            (3, ErrorKind::TypeMismatch),
            (4, ErrorKind::InvalidInput),
            (5, ErrorKind::InvalidTimestamp),
            (6, ErrorKind::InvalidTimestamp),
            (11, ErrorKind::InvalidAttributes),
        ]
    );
    assert!(r.rejects[0].reason.contains("missing required field \"id\""));
    assert!(r.rejects[1].reason.contains("\"name\" is a BLOB"));
    assert!(r.rejects[2].reason.contains("\"name\" is not valid UTF-8 (bad byte at offset 1)"));
    let c1 = t.get_customer("c1").unwrap().unwrap();
    assert_eq!((c1.name.as_deref(), c1.updated_at), (Some("Ann"), 1_700_000_001_000));
    assert_eq!(c1.attributes, json!({"k": 1}));
    let c42 = t.get_customer("42").unwrap().unwrap();
    assert_eq!((c42.status.as_str(), c42.created_at, c42.attributes.clone()), ("trial", 1_700_000_000_000, json!({})));
    assert_eq!(t.count_customers().unwrap(), 2);

    let r = t.import_sqlite(Table::Scores, &file, None, &o).unwrap();
    assert_eq!((r.imported, r.rejected), (2, 4), "{r:#?}");
    assert_eq!(
        lines_and_kinds(&r),
        vec![
            (2, ErrorKind::InvalidScore),
            (3, ErrorKind::TypeMismatch),
            (4, ErrorKind::InvalidInput),
            (6, ErrorKind::InvalidScore),
        ]
    );
    let h = t.score_history("c1", "churn", 0, i64::MAX).unwrap();
    assert_eq!(h.iter().map(|s| s.score).collect::<Vec<_>>(), vec![0.5, 0.75]);
    assert!(t.latest_score("c1", "upsell").unwrap().is_none());

    // A view has no rowid: rows are numbered by position.
    let t2 = db.tenant("other").unwrap();
    let r = t2.import_sqlite(Table::Scores, &file, Some("CHURN_VIEW"), &o).unwrap();
    assert_eq!((r.imported, r.rejected), (2, 3));
    assert_eq!(r.rejects.iter().map(|j| j.line).collect::<Vec<_>>(), vec![2, 3, 4]);
}

#[test]
fn source_table_choice_and_unreadable_files_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("src.sqlite");
    build_messy(&file);
    let db = open(&dir.path().join("db"));
    let t = db.tenant("acme").unwrap();
    let o = ImportOptions::default();
    let e = t.import_sqlite(Table::Messages, &file, None, &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("churn_view, customer_scores, customers"), "{e}");
    let e = t.import_sqlite(Table::Customers, &file, Some("nope"), &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownTable);
    // customer_scores has no "id": the customers header check fails before any row.
    let e = t.import_sqlite(Table::Customers, &file, Some("customer_scores"), &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownColumn, "{e}");
    let e = t.import_sqlite(Table::Customers, &dir.path().join("missing.db"), None, &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database, just text that goes on for a while......").unwrap();
    let e = t.import_sqlite(Table::Customers, &junk, None, &o).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(db.stats().unwrap().customers, Some(0));
}

fn bind(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Int(i) => S::Integer(*i),
        Value::Real(r) => S::Real(*r),
        Value::Text(s) | Value::Json(s) => S::Text(s.clone()),
    }
}

fn insert(c: &Connection, table: Table, row: &[Value]) {
    let marks = vec!["?"; row.len()].join(", ");
    let sql = format!("INSERT INTO {} VALUES ({marks})", table.name());
    c.execute(&sql, rusqlite::params_from_iter(row.iter().map(bind))).unwrap();
}

#[test]
fn generated_dataset_round_trips_through_the_engines_sqlite_schema() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.db");
    let c = Connection::open(&file).unwrap();
    for t in [Table::Customers, Table::Scores, Table::Messages] {
        c.execute(&t.sqlite_ddl(), params![]).unwrap();
    }
    let cfg = GenConfig { tenants: 2, ..GenConfig::new(300, 11, T0) };
    let data: Vec<_> = generate(&cfg).collect();
    let mut next_id = 1000;
    c.execute_batch("BEGIN").unwrap();
    for g in &data {
        insert(&c, Table::Customers, &customer_row(&g.tenant, &g.customer));
        for s in &g.scores {
            insert(&c, Table::Scores, &score_row(&g.tenant, s));
        }
        for m in &g.messages {
            next_id += 1;
            let m = Message {
                id: next_id,
                customer_id: m.customer_id.clone(),
                conversation_id: m.conversation_id.clone(),
                role: m.role,
                timestamp: m.timestamp,
                content: m.content.clone(),
                metadata: m.metadata.clone(),
            };
            insert(&c, Table::Messages, &message_row(&g.tenant, &m));
        }
    }
    c.execute_batch("COMMIT").unwrap();
    drop(c);

    let db = open(&dir.path().join("db"));
    let t = db.tenant("tenant_0").unwrap();
    let mine: Vec<_> = data.iter().filter(|g| g.tenant == "tenant_0").collect();
    let others: Vec<_> = data.iter().filter(|g| g.tenant != "tenant_0").collect();
    let o = ImportOptions { batch_size: 500, max_rejects_reported: 0, ..Default::default() };
    let count = |v: &[&cidb::datagen::GenCustomer], f: fn(&cidb::datagen::GenCustomer) -> usize| {
        v.iter().map(|g| f(g)).sum::<usize>() as u64
    };

    let r = t.import_sqlite(Table::Customers, &file, None, &o).unwrap();
    assert_eq!((r.imported, r.rejected), (mine.len() as u64, others.len() as u64));
    let r = t.import_sqlite(Table::Scores, &file, None, &o).unwrap();
    assert_eq!((r.imported, r.rejected), (count(&mine, |g| g.scores.len()), count(&others, |g| g.scores.len())));
    let r = t.import_sqlite(Table::Messages, &file, None, &o).unwrap();
    assert_eq!((r.imported, r.rejected), (count(&mine, |g| g.messages.len()), count(&others, |g| g.messages.len())));
    assert_eq!(r.notes, vec!["column \"id\" is ignored: the engine assigns message ids".to_string()]);

    for g in &mine {
        assert_eq!(t.get_customer(&g.customer.id).unwrap().as_ref(), Some(&g.customer));
        for st in cidb::datagen::SCORE_TYPES {
            let want: Vec<_> = g.scores.iter().filter(|s| s.score_type == st).cloned().collect();
            assert_eq!(t.score_history(&g.customer.id, st, 0, i64::MAX).unwrap(), want);
        }
        let got = t.messages_for_customer(&g.customer.id, 0, i64::MAX, None, 0).unwrap();
        let got: Vec<_> = got
            .into_iter()
            .map(|m| cidb::NewMessage {
                customer_id: m.customer_id,
                conversation_id: m.conversation_id,
                role: m.role,
                timestamp: m.timestamp,
                content: m.content,
                metadata: m.metadata,
            })
            .collect();
        let mut want = g.messages.clone();
        want.sort_by_key(|m| m.timestamp);
        assert_eq!(got, want);
    }
    for g in &others {
        assert!(t.get_customer(&g.customer.id).unwrap().is_none());
    }
}
