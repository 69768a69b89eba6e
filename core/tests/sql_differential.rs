//! Differential tests against SQLite: the same rows (tenant_0 of a two-tenant dataset) are
//! loaded into cidb and into SQLite, then thousands of generated queries over every
//! supported construct run on both; results must be identical (as sequences when the
//! query orders every output column, otherwise as multisets, and cidb's rows must respect
//! the partial order). Runs with the seed indexes and without any index, so every access
//! path and join method is exercised. `CIDB_DIFF_CASES` sets the number of queries per
//! dataset (default 1500).

mod sqlgen;
use proptest::prelude::*;
use sqlgen::gen::{Gen, GenQuery};
use sqlgen::*;
use std::cmp::Ordering;

fn cases() -> u32 {
    std::env::var("CIDB_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

fn cmp_for_order(a: &cidb::Value, b: &cidb::Value, desc: bool, nulls_first: bool) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        _ => {
            let o = a.sql_cmp(b);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

fn check(f: &Fixture, q: &GenQuery) -> Result<(), String> {
    let expected = sqlite_rows(&f.sqlite, &q.sql, &q.params)
        .map_err(|e| format!("SQLite rejected {}: {e}", q.sql))?;
    let got = f
        .tenant
        .query(&q.sql, &q.params)
        .map_err(|e| format!("cidb failed on {} {:?}: {e}", q.sql, q.params))?;
    // The column-wise form of the same statement holds the same values in the same order
    // and of the same types (INTEGER stays INTEGER, JSON stays JSON).
    let cols = f
        .tenant
        .query_columns(&q.sql, &q.params)
        .map_err(|e| format!("cidb query_columns failed on {} {:?}: {e}", q.sql, q.params))?;
    let back: Vec<Vec<cidb::Value>> = (0..cols.rows).map(|i| cols.row(i)).collect();
    let typed = |rows: &[Vec<cidb::Value>]| -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|v| format!("{v:?}")).collect()).collect()
    };
    if cols.names != got.columns || typed(&back) != typed(&got.rows) {
        return Err(format!(
            "query_columns differs from query for {} {:?}\n rows:    {:?}\n columns: {:?}",
            q.sql, q.params, got.rows, back
        ));
    }
    let (mut e, mut g) = (norm_rows(&expected), norm_rows(&got.rows));
    if q.total_order {
        if e != g {
            return Err(format!(
                "ordered results differ for {} {:?}\n sqlite: {:?}\n cidb:   {:?}",
                q.sql, q.params, e, g
            ));
        }
    } else {
        for w in got.rows.windows(2) {
            for &(i, desc, nf) in &q.order_outputs {
                match cmp_for_order(&w[0][i], &w[1][i], desc, nf) {
                    Ordering::Less => break,
                    Ordering::Equal => continue,
                    Ordering::Greater => {
                        return Err(format!(
                            "cidb rows out of order for {}: {:?} before {:?}",
                            q.sql, w[0], w[1]
                        ))
                    }
                }
            }
        }
        e.sort();
        g.sort();
        if e != g {
            return Err(format!(
                "results differ for {} {:?}\n sqlite: {:?}\n cidb:   {:?}",
                q.sql, q.params, e, g
            ));
        }
    }
    if got.stats.rows_returned != got.rows.len() as u64 {
        return Err("rows_returned does not match".into());
    }
    Ok(())
}

fn run(f: &Fixture, n: u32) {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&any::<u64>(), |seed| {
            let q = Gen::new(seed, &f.pools).query();
            check(f, &q).map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn generated_queries_match_sqlite_with_seed_indexes() {
    let f = load(160, 11, true);
    f.engine
        .execute("CREATE INDEX ix_scores_type_score ON customer_scores(score_type, score)")
        .unwrap();
    f.engine
        .execute("CREATE INDEX ix_msg_role ON conversation_messages(role, id)")
        .unwrap();
    f.engine
        .execute("CREATE INDEX ix_latest_score ON latest_scores(score)")
        .unwrap();
    f.engine.execute("ANALYZE").unwrap();
    run(&f, cases());
}

#[test]
fn generated_queries_match_sqlite_without_indexes() {
    let f = load(120, 23, false);
    run(&f, cases() / 2);
}

#[test]
#[ignore]
fn show_generated_queries() {
    let f = load(60, 11, true);
    for seed in 0..40u64 {
        let q = Gen::new(seed, &f.pools).query();
        let n = f
            .tenant
            .query(&q.sql, &q.params)
            .map(|r| r.rows.len() as i64)
            .unwrap_or(-1);
        let e = f
            .tenant
            .explain(&q.sql, &q.params, false)
            .map(|e| e.steps()[0].detail.clone())
            .unwrap_or_default();
        println!("{n:4} | {} {:?} | {e}", q.sql, q.params);
    }
}
