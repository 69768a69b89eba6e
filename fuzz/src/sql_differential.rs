//! Target `sql_differential`: the fuzzer's bytes choose a dataset (with the seed indexes
//! plus three more and fresh statistics, or without any secondary index, so both index and
//! scan paths are exercised) and generate one SELECT of the supported subset with
//! parameters ([`crate::sqlgen`]). SQLite, fed the same rows, is the oracle: cidb must
//! accept the query and return the same rows (as a sequence when the query orders every
//! output column, as a multiset otherwise, and in the order a partial ORDER BY asks).
//! A prepared statement run twice must give the same rows as the one-shot query.

use crate::oracle::{compare, load, sqlite_rows, Fixture};
use crate::sqlgen::{Gen, GenQuery};
use arbitrary::Unstructured;

thread_local! {
    static INDEXED: Fixture = {
        crate::prefer_shm_tmpdir();
        let f = load(48, 11, true);
        for sql in [
            "CREATE INDEX ix_scores_type_score ON customer_scores(score_type, score)",
            "CREATE INDEX ix_msg_role ON conversation_messages(role, id)",
            "CREATE INDEX ix_latest_score ON latest_scores(score)",
            "ANALYZE",
        ] {
            f.engine.execute(sql).expect("fixture index");
        }
        f
    };
    static BARE: Fixture = {
        crate::prefer_shm_tmpdir();
        load(40, 23, false)
    };
}

/// Generates the query an input stands for (for reproducing a finding by hand).
pub fn describe(data: &[u8]) -> String {
    let mut u = Unstructured::new(data);
    let indexed = u.arbitrary::<bool>().unwrap_or(true);
    let with = |f: &Fixture| {
        let q = Gen::new(&mut u, &f.pools).query();
        format!("{} {:?} (dataset {})", q.sql, q.params, if indexed { "indexed" } else { "bare" })
    };
    if indexed {
        INDEXED.with(with)
    } else {
        BARE.with(with)
    }
}

/// One input: panics on any divergence from SQLite.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let indexed = u.arbitrary::<bool>().unwrap_or(true);
    let body = |f: &Fixture| {
        let q = Gen::new(&mut u, &f.pools).query();
        if let Err(msg) = check(f, &q) {
            panic!("DIVERGENCE ({} dataset): {msg}", if indexed { "indexed" } else { "bare" });
        }
    };
    if indexed {
        INDEXED.with(body)
    } else {
        BARE.with(body)
    }
}

fn check(f: &Fixture, q: &GenQuery) -> Result<(), String> {
    let expected = match sqlite_rows(&f.sqlite, &q.sql, &q.params) {
        Ok(r) => r,
        // The generator stays inside what both accept; a query SQLite refuses is a generator
        // bug, reported like a divergence so it gets fixed rather than hidden.
        Err(e) => return Err(format!("SQLite rejected the generated query {} {:?}: {e}", q.sql, q.params)),
    };
    let got = f.tenant.query(&q.sql, &q.params).map_err(|e| format!("cidb failed on {} {:?}: {e}", q.sql, q.params))?;
    if got.stats.rows_returned != got.rows.len() as u64 {
        return Err(format!("rows_returned {} but {} rows for {}", got.stats.rows_returned, got.rows.len(), q.sql));
    }
    if let Some(r) = got.rows.iter().find(|r| r.len() != got.columns.len()) {
        return Err(format!("row {r:?} has {} values for {} columns in {}", r.len(), got.columns.len(), q.sql));
    }
    compare(&q.sql, &q.params, &q.order, &expected, &got.rows)?;
    let stmt = f.tenant.prepare(&q.sql).map_err(|e| format!("prepare failed on {}: {e}", q.sql))?;
    for _ in 0..2 {
        let again = stmt.query(&q.params).map_err(|e| format!("prepared run failed on {}: {e}", q.sql))?;
        compare(&q.sql, &q.params, &q.order, &expected, &again.rows).map_err(|m| format!("prepared statement: {m}"))?;
    }
    Ok(())
}
