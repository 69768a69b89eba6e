//! `cidb demo` ends with the statement monitor and the index advisor at work on the demo's
//! own workload: the top-fingerprints table counts the runs it made, and the advisor
//! recommends an index on the column the one unindexed pattern filters on
//! (customers.name). Building that index with `cidb sql` and running the demo again (which
//! reuses the dataset and the persisted statement table) makes the recommendation go and
//! the pattern use the index: the advisor section comes from the data, not from text.

use std::path::Path;
use std::process::Command;

fn demo(dir: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_cidb"))
        .args(["demo", "--customers", "300", "--dir", dir.to_str().unwrap()])
        .env_remove("CIDB_CONFIG")
        .env_remove("CIDB_PROFILE")
        .output()
        .expect("run cidb demo");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "stdout: {out}\nstderr: {}", String::from_utf8_lossy(&o.stderr));
    out
}

/// The lines of `out` from the one starting with `title` up to the next line that is not
/// indented (the next section).
fn section<'a>(out: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with(title));
    let head = lines.next().unwrap_or_else(|| panic!("no section {title:?} in:\n{out}"));
    std::iter::once(head).chain(lines.take_while(|l| l.starts_with(' '))).collect()
}

const BY_NAME: &str = "SELECT id, email, status FROM customers WHERE name = ?";

#[test]
fn demo_ends_with_top_statements_and_advice_on_its_own_workload() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("db");
    let first = demo(&dir);

    // The top table: its columns, and the unindexed pattern with the 20 calls the demo made.
    let top = section(&first, "top statements");
    let header = top[1].split_whitespace().collect::<Vec<_>>();
    assert_eq!(header, ["calls", "mean_ms", "p95_ms", "rows/call", "examined/call", "query"], "{top:#?}");
    let row = top.iter().find(|l| l.ends_with(BY_NAME)).unwrap_or_else(|| panic!("{top:#?}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[0], "20", "{row}");
    let (returned, examined): (f64, f64) = (cells[3].parse().unwrap(), cells[4].parse().unwrap());
    assert!(examined > returned * 5.0, "a scan examines far more rows than it returns: {row}");
    assert!(top.iter().any(|l| l.contains("SELECT COUNT(*), AVG(score) FROM customer_scores WHERE")), "{top:#?}");

    // The advisor: an index on customers(name) for that query, with its estimated gain.
    let adv = section(&first, "index advisor (");
    let i = adv.iter().position(|l| l.contains("CREATE INDEX CONCURRENTLY") && l.contains(" ON customers(name")).unwrap_or_else(|| panic!("{adv:#?}"));
    let create = adv[i].trim().trim_end_matches(';').to_string();
    let gain: f64 = adv[i + 1]
        .trim()
        .strip_prefix("estimated gain ")
        .and_then(|r| r.split(' ').next())
        .and_then(|g| g.parse().ok())
        .unwrap_or_else(|| panic!("{adv:#?}"));
    assert!((50.0..=100.0).contains(&gain), "{gain}");
    assert!(adv[i + 2].trim() == format!("helps 20 calls of: {BY_NAME}"), "{adv:#?}");
    assert!(adv.contains(&"  unused indexes (no recorded statement read them):"), "{adv:#?}");
    assert!(adv.contains(&"  unindexed foreign keys:"), "{adv:#?}");

    // Build what it recommended; the second run (reused data, persisted statement table)
    // uses it and no longer asks for it.
    let o = Command::new(env!("CARGO_BIN_EXE_cidb"))
        .args(["sql", "--dir", dir.to_str().unwrap(), &create])
        .env_remove("CIDB_CONFIG")
        .env_remove("CIDB_PROFILE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = create.split_whitespace().nth(3).unwrap().to_string();
    let second = demo(&dir);
    assert!(second.contains("reused the existing dataset"), "{second}");
    let run = second.lines().find(|l| l.trim_start().starts_with("customer by name")).unwrap_or_else(|| panic!("{second}"));
    assert!(run.contains("SEARCH customers USING ") && run.contains(&format!("INDEX {index}")), "{run}");
    let top = section(&second, "top statements");
    let row = top.iter().find(|l| l.ends_with(BY_NAME)).unwrap_or_else(|| panic!("{top:#?}"));
    assert!(row.trim_start().starts_with("40 "), "20 calls per run, kept across runs: {row}");
    let adv = section(&second, "index advisor (");
    assert!(!adv.iter().any(|l| l.contains(" ON customers(name")), "{adv:#?}");
}
