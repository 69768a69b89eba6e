//! Smoke tests of `cidb import` run as a process: rejects are printed with their lines and
//! do not fail the command, `--json` prints the report, SQLite files import with
//! `--source-table`, and an unreadable file exits non-zero without touching the database.

use std::path::Path;
use std::process::{Command, Output};

fn cidb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cidb")).args(args).output().expect("run cidb")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn import_prints_report_and_rejects_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = dir.path().join("customers.csv");
    std::fs::write(&csv, "id,department,created_at\nc1,sales,1700000000000\n,sales,1\nc3,hr,tomorrow\nc4,hr,2023-11-14T22:13:20Z\n").unwrap();
    let out = cidb(&["import", "--dir", p(&db), "--tenant", "acme", "--table", "customers", p(&csv)]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    assert!(stdout.contains("imported 2 rows into acme/customers in 1 batches"), "{stdout}");
    assert!(stdout.contains("rejected 2 rows:"), "{stdout}");
    assert!(stdout.contains("line 3: invalid_id: customer id is empty"), "{stdout}");
    assert!(stdout.contains("line 4: invalid_timestamp: created_at must be a timestamp"), "{stdout}");

    let jsonl = dir.path().join("scores.ndjson");
    std::fs::write(
        &jsonl,
        "{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.4,\"confidence\":1,\"created_at\":5}\n\
         {\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":4,\"confidence\":1,\"created_at\":6}\n",
    )
    .unwrap();
    let out = cidb(&["import", "--dir", p(&db), "--tenant", "acme", "--table", "customer_scores", "--json", p(&jsonl)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!((report["imported"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["rejects"][0]["line"], 2);
    assert_eq!(report["rejects"][0]["kind"], "invalid_score");

    let stats = cidb(&["stats", "--dir", p(&db)]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!((stats["engine"]["customers"].as_u64(), stats["engine"]["scores"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn sqlite_source_table_and_fatal_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = dir.path().join("crm.db");
    let c = rusqlite::Connection::open(&file).unwrap();
    c.execute_batch(
        "CREATE TABLE people (id TEXT, status TEXT); CREATE TABLE other (x);
         INSERT INTO people VALUES ('p1', 'active'), ('p2', 'trial'), (NULL, 'x');",
    )
    .unwrap();
    drop(c);
    let out = cidb(&["import", "--dir", p(&db), "--tenant", "t", "--table", "customers", p(&file)]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("name the source table (tables: other, people)"), "{}", text(&out.stderr));
    let out = cidb(&["import", "--dir", p(&db), "--tenant", "t", "--table", "customers", "--source-table", "people", p(&file)]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("imported 2 rows") && stdout.contains("line 3: invalid_input: missing required field \"id\""), "{stdout}");

    let missing = dir.path().join("nope.csv");
    let out = cidb(&["import", "--dir", p(&dir.path().join("db2")), "--tenant", "t", "--table", "customers", p(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read"), "{}", text(&out.stderr));
    assert!(!dir.path().join("db2").exists(), "no database is created for an unreadable input");
    let out = cidb(&["import", "--dir", p(&db), "--tenant", "t", "--table", "latest_scores", p(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("latest_scores cannot be imported"));
}
