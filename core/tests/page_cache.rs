//! `page_cache_bytes` bounds redb's page cache, and a cache far smaller than the data only
//! costs reads, never rows: with a 1 MiB cache (the smallest allowed) over several MB of
//! customers and scores, every row written is read back exactly (point reads, an index
//! query, a score history) while writes keep evicting pages, with the commit log off and
//! on, and again after a reopen. A value below 1 MiB is refused with the key's name.

mod common;
use cidb::{Config, Customer, Engine, ErrorKind, Value};
use common::{customer, score, T0};
use std::collections::BTreeMap;

const N: usize = 3_000;

fn config(commit_log: bool) -> Config {
    let mut c = Config::default().with_seed_indexes(true);
    c.page_cache_bytes = 1 << 20;
    c.commit_log = commit_log;
    c
}

fn make(i: usize, round: usize) -> Customer {
    let dept = ["sales", "support", "ops"][(i + round) % 3];
    let mut c = customer(&format!("c{i:05}"), dept, if i.is_multiple_of(4) { "churned" } else { "active" });
    // About 1.5 KB per row, so N rows are several times the cache.
    c.attributes = serde_json::json!({ "round": round, "notes": format!("{i}-{round}-").repeat(120) });
    c.updated_at = T0 + round as i64;
    c
}

fn verify(engine: &Engine, model: &BTreeMap<String, Customer>, scores: usize) {
    let t = engine.tenant("acme").unwrap();
    for (id, want) in model {
        let got = t.get_customer(id).unwrap().unwrap_or_else(|| panic!("{id} is missing"));
        assert_eq!(&got, want, "{id}");
    }
    for dept in ["sales", "support", "ops"] {
        let sql = "SELECT id FROM customers WHERE department = ? AND status = 'active' ORDER BY id";
        let got: Vec<String> = t
            .query(sql, &[Value::Text(dept.into())])
            .unwrap()
            .rows
            .iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> =
            model.values().filter(|c| c.department == dept && c.status == "active").map(|c| c.id.clone()).collect();
        assert_eq!(got, want, "{dept}");
    }
    for i in (0..N).step_by(97) {
        let h = t.score_history(&format!("c{i:05}"), "churn_risk", 0, i64::MAX).unwrap();
        assert_eq!(h.len(), scores, "score history of c{i:05}");
        assert!(h.windows(2).all(|w| w[0].created_at < w[1].created_at), "oldest first");
    }
}

fn run(commit_log: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let rounds = 3;
    {
        let engine = Engine::open(dir.path(), config(commit_log)).unwrap();
        let t = engine.tenant("acme").unwrap();
        for round in 0..rounds {
            for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
                let cs: Vec<Customer> = chunk.iter().map(|&i| make(i, round)).collect();
                t.upsert_customers(&cs).unwrap();
                let ss: Vec<_> =
                    chunk.iter().map(|&i| score(&format!("c{i:05}"), "churn_risk", 0.5, T0 + round as i64)).collect();
                t.add_scores(&ss).unwrap();
                for c in cs {
                    model.insert(c.id.clone(), c);
                }
            }
            // Reads between rounds pull old pages back in while the next round evicts them.
            verify(&engine, &model, round + 1);
        }
        engine.close().unwrap();
    }
    let engine = Engine::open(dir.path(), config(commit_log)).unwrap();
    verify(&engine, &model, rounds);
}

#[test]
fn a_one_mib_page_cache_loses_no_row() {
    run(false);
}

#[test]
fn a_one_mib_page_cache_loses_no_row_with_the_commit_log() {
    run(true);
}

#[test]
fn a_page_cache_under_one_mib_is_refused() {
    let (_, settings) =
        cidb::config::load(None, None, [("CIDB_PAGE_CACHE_BYTES".to_string(), "1048576".to_string())]).unwrap();
    assert!(settings.iter().any(|s| s.key == "page_cache_bytes" && s.value == "1048576"));
    let e = cidb::config::load(None, None, [("CIDB_PAGE_CACHE_BYTES".to_string(), "1048575".to_string())]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("page_cache_bytes"), "{e}");
}
