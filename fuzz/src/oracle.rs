//! The SQLite oracle shared with the proptest suite: `core/tests/sqlgen/mod.rs` is included
//! by path, so the fuzzer and `core/tests/sql_differential.rs` load the same rows into cidb
//! and SQLite and normalise values the same way. This module adds the result comparison
//! (sequence when the query orders every output column, multiset otherwise, plus cidb's
//! respect of a partial ORDER BY).

#[path = "../../core/tests/sqlgen/mod.rs"]
#[allow(clippy::all)]
mod shared;

pub use shared::{load, norm_rows, sqlite_rows, Fixture, Pools, NOW};

use cidb::Value;
use std::cmp::Ordering;

/// What a generated query promises about its row order.
#[derive(Debug, Clone, Default)]
pub struct OrderSpec {
    /// ORDER BY covers every output column: the sequences must be equal.
    pub total: bool,
    /// A prefix of ORDER BY keys that are output columns: (column, desc, nulls first).
    pub outputs: Vec<(usize, bool, bool)>,
}

fn cmp_for_order(a: &Value, b: &Value, desc: bool, nulls_first: bool) -> Ordering {
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

/// Compares cidb's rows with SQLite's for one query; `Err` describes the divergence.
pub fn compare(sql: &str, params: &[Value], order: &OrderSpec, expected: &[Vec<Value>], got: &[Vec<Value>]) -> Result<(), String> {
    let (mut e, mut g) = (norm_rows(expected), norm_rows(got));
    if order.total {
        if e != g {
            return Err(format!("ordered results differ for {sql} {params:?}\n sqlite: {e:?}\n cidb:   {g:?}"));
        }
        return Ok(());
    }
    for w in got.windows(2) {
        for &(i, desc, nf) in &order.outputs {
            match cmp_for_order(&w[0][i], &w[1][i], desc, nf) {
                Ordering::Less => break,
                Ordering::Equal => continue,
                Ordering::Greater => return Err(format!("cidb rows out of order for {sql}: {:?} before {:?}", w[0], w[1])),
            }
        }
    }
    e.sort();
    g.sort();
    if e != g {
        return Err(format!("results differ for {sql} {params:?}\n sqlite: {e:?}\n cidb:   {g:?}"));
    }
    Ok(())
}
