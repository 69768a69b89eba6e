//! The query and watch commands run as processes against one directory: `sql` prints a
//! table (parameters typed from the command line), the monitor's table persists between
//! runs so `top` and `advise` see earlier statements, `explain --analyze`, `stats` (JSON
//! and Prometheus), `advise --apply` builds the index a dropped one left missing,
//! `optimize`, and `health` exits 1 once an index has lost its entries.

use redb::{ReadableDatabase, TableHandle};
use std::path::Path;
use std::process::{Command, Output};

fn cidb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cidb"))
        .args(args)
        .args(["--dir", dir.to_str().unwrap(), "--tenant", "acme"])
        .env_remove("CIDB_CONFIG")
        .env_remove("CIDB_PROFILE")
        .output()
        .expect("run cidb")
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "stdout: {out}\nstderr: {}", String::from_utf8_lossy(&o.stderr));
    out
}

fn import(dir: &Path, n: usize) {
    let csv = dir.parent().unwrap().join("customers.csv");
    let mut text = String::from("id,department,status,created_at,email\n");
    for i in 0..n {
        text.push_str(&format!("c{i:04},{},{},{},c{i}@x.test\n", ["sales", "hr", "legal", "ops"][i % 4], ["active", "trial"][i % 2], 1_700_000_000_000i64 + i as i64));
    }
    std::fs::write(&csv, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cidb"))
        .args(["import", "--quiet", "--dir", dir.to_str().unwrap(), "--tenant", "acme", "--table", "customers", csv.to_str().unwrap()])
        .output()
        .unwrap();
    ok(&o);
}

#[test]
fn sql_top_explain_stats_advise_optimize() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    import(&dir, 400);
    let q = "SELECT id, status FROM customers WHERE department = ? AND created_at > ? ORDER BY id LIMIT 3";
    let out = ok(&cidb(&dir, &["sql", q, "--param", "hr", "-p", "1700000000100"]));
    assert!(out.starts_with("id     status\n-----  ------\nc0101  trial\n"), "{out}");
    assert!(out.contains("(3 rows,"), "{out}");
    ok(&cidb(&dir, &["sql", q, "--param", "legal", "-p", "int:0"]));
    let bad = cidb(&dir, &["sql", "SELEC id FROM customers"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cidb:"));
    let json: serde_json::Value = serde_json::from_str(&ok(&cidb(&dir, &["sql", "SELECT COUNT(*) AS n FROM customers", "--json"]))).unwrap();
    assert_eq!(json["rows"][0]["n"], 400);

    // the statement table persisted across the processes
    let top = ok(&cidb(&dir, &["top"]));
    let line = top.lines().find(|l| l.contains("SELECT id, status FROM customers WHERE department = ?")).unwrap_or_else(|| panic!("{top}"));
    assert!(line.trim_start().starts_with("2 "), "{line}");
    assert!(top.contains("selec id FROM customers"), "{top}");
    let tj: serde_json::Value = serde_json::from_str(&ok(&cidb(&dir, &["top", "--json", "-n", "50"]))).unwrap();
    assert!(tj.as_array().unwrap().iter().any(|f| f["query"] == "selec id FROM customers" && f["errors"] == 1));

    let plan = ok(&cidb(&dir, &["explain", "--analyze", q, "-p", "hr", "-p", "0"]));
    assert!(plan.starts_with("QUERY PLAN\n") && plan.contains("actual rows="), "{plan}");
    let pj: serde_json::Value = serde_json::from_str(&ok(&cidb(&dir, &["explain", "--json", q, "-p", "hr", "-p", "0"]))).unwrap();
    assert!(pj["plan"].is_array());

    let stats: serde_json::Value = serde_json::from_str(&ok(&cidb(&dir, &["stats"]))).unwrap();
    assert_eq!(stats["engine"]["customers"], 400);
    assert!(stats["monitor"]["fingerprints"].as_array().unwrap().len() >= 3);
    let prom = ok(&cidb(&dir, &["stats", "--prometheus"]));
    assert!(prom.contains("# TYPE cidb_statement_calls_total counter\n") && prom.contains("cidb_rows{table=\"customers\"} 400\n"), "{prom}");

    // drop the index the workload needs; the advisor finds it again and --apply builds it
    ok(&cidb(&dir, &["sql", "DROP INDEX idx_customers_department_status_created_at"]));
    for d in ["sales", "hr", "legal", "ops", "sales"] {
        ok(&cidb(&dir, &["sql", "SELECT id FROM customers WHERE department = ? AND status = ? ORDER BY created_at", "-p", d, "-p", "trial"]));
    }
    let advice = ok(&cidb(&dir, &["advise"]));
    assert!(advice.contains("CREATE INDEX CONCURRENTLY idx_customers_"), "{advice}");
    let applied = ok(&cidb(&dir, &["advise", "--apply"]));
    assert!(applied.contains("\nbuilt idx_customers_"), "{applied}");
    let plan = ok(&cidb(&dir, &["explain", "SELECT id FROM customers WHERE department = ? AND status = ? ORDER BY created_at", "-p", "hr", "-p", "trial"]));
    let built: Vec<&str> = applied.lines().filter_map(|l| l.strip_prefix("built ")).collect();
    assert!(built.iter().any(|name| plan.contains(&format!(" {name} "))), "{built:?} not in {plan}");
    let opt = ok(&cidb(&dir, &["optimize"]));
    assert!(opt.contains("ANALYZE:") && opt.contains("cache warmed:") && opt.contains("done in"), "{opt}");
    let h = ok(&cidb(&dir, &["health"]));
    assert!(h.starts_with("status: ok\n") || h.starts_with("status: degraded\n"), "{h}");
}

#[test]
fn health_exits_nonzero_when_an_index_lost_its_entries() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    import(&dir, 100);
    assert!(cidb(&dir, &["health", "--json"]).status.success());
    {
        let db = redb::Database::open(dir.join("data.redb")).unwrap();
        let name = {
            let txn = db.begin_read().unwrap();
            let n = txn.list_tables().unwrap().map(|h| h.name().to_string()).filter(|n| n.starts_with("ix_")).min().unwrap();
            n
        };
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&[u8], ()> = redb::TableDefinition::new(&name);
            txn.open_table(def).unwrap().retain(|_, _| false).unwrap();
        }
        txn.commit().unwrap();
    }
    let o = cidb(&dir, &["health"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.starts_with("status: unhealthy\n") && out.contains("inconsistent"), "{out}");
}
