//! Candidate indexes for one query, the way Dexter derives them for PostgreSQL: per table
//! of the query, the columns it tests for equality (including the join key a nested-loop
//! probe would search), then the column it bounds by a range, then its ORDER BY columns;
//! a covering variant when one or two more columns would spare the row lookups; and, when
//! the query's constants are common (most calls ran them), partial indexes whose predicate
//! is one of its constant comparisons. The advisor costs each with the real planner.

use crate::plan::terms::{sargable, Term, TermKind};
use crate::schema::{Table, Value};
use crate::sql::bind::{mark_pred, BoundSelect, Pred, Scalar};

/// An index the advisor may propose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The table.
    pub table: Table,
    /// Column positions, in key order.
    pub columns: Vec<usize>,
    /// Partial-index predicate as SQL, if partial.
    pub predicate: Option<String>,
}

impl Candidate {
    /// Column names.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|&c| self.table.columns()[c].name.to_string()).collect()
    }

    /// The conventional name: `idx_<table>_<columns>[_partial]`.
    pub fn base_name(&self) -> String {
        let mut n = format!("idx_{}_{}", self.table.name(), self.column_names().join("_"));
        if self.predicate.is_some() {
            n.push_str("_partial");
        }
        n
    }

    /// `CREATE INDEX CONCURRENTLY <name> ON table(cols) [WHERE pred]`.
    pub fn create_sql(&self, name: &str) -> String {
        let mut s = format!("CREATE INDEX CONCURRENTLY {name} ON {}({})", self.table.name(), self.column_names().join(", "));
        if let Some(p) = &self.predicate {
            s.push_str(" WHERE ");
            s.push_str(p);
        }
        s
    }
}

/// A constant as SQL text (None for values a predicate cannot hold).
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::Real(r) if r.is_finite() => Some(format!("{r:?}")),
        Value::Text(s) => Some(format!("'{}'", s.replace('\'', "''"))),
        _ => None,
    }
}

/// The conjuncts of `sel` over source `si` only.
fn local_preds(sel: &BoundSelect, si: usize) -> Vec<Pred> {
    let s = &sel.sources[si];
    let (lo, hi) = (s.offset, s.offset + s.table.columns().len());
    sel.filter
        .iter()
        .filter(|p| {
            let mut m = vec![false; sel.width];
            mark_pred(p, &mut m);
            let inside = m[lo..hi].iter().any(|b| *b);
            let outside = m.iter().enumerate().any(|(i, b)| *b && (i < lo || i >= hi));
            inside && !outside
        })
        .cloned()
        .collect()
}

fn push_unique(v: &mut Vec<usize>, c: usize) {
    if !v.contains(&c) {
        v.push(c);
    }
}

/// The candidates for `sel`. `common_constants`: the query's literal constants are the
/// same in most calls, so a partial index on one of them may serve the workload.
pub fn candidates(sel: &BoundSelect, common_constants: bool) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for (si, src) in sel.sources.iter().enumerate() {
        let table = src.table;
        let width = table.columns().len();
        let tenant_col = table.column_index("tenant_id");
        let terms: Vec<Term> = sargable(&local_preds(sel, si), src.offset, width);
        let mut eq = Vec::new();
        for t in &terms {
            if matches!(t.kind, TermKind::Eq(_) | TermKind::In(_) | TermKind::IsNull) && Some(t.col) != tenant_col {
                push_unique(&mut eq, t.col);
            }
        }
        let range = terms
            .iter()
            .find(|t| matches!(t.kind, TermKind::Lower(..) | TermKind::Upper(..) | TermKind::NotNull) && !eq.contains(&t.col))
            .map(|t| t.col);
        let order: Vec<usize> = if sel.group.is_none() {
            let keys: Option<Vec<usize>> = sel
                .order
                .iter()
                .map(|k| (k.post >= src.offset && k.post < src.offset + width).then(|| k.post - src.offset))
                .collect();
            keys.unwrap_or_default()
        } else {
            Vec::new()
        };
        let join_col = sel.join.as_ref().map(|j| if j.customers == si { j.id_slot - src.offset } else { j.fk_slot - src.offset });
        // Columns the query needs from this table that no key above holds.
        let needed: Vec<usize> = (0..width)
            .filter(|&c| sel.needed[src.offset + c] && Some(c) != tenant_col && !crate::plan::access::pk_cols(table).contains(&c))
            .collect();

        let mut add = |cols: Vec<usize>, predicate: Option<String>| {
            if cols.is_empty() || cols.len() > 16 {
                return;
            }
            let c = Candidate { table, columns: cols, predicate };
            if !out.contains(&c) {
                out.push(c);
            }
        };
        let with = |base: &[usize], more: &[usize]| {
            let mut v = base.to_vec();
            for &c in more {
                push_unique(&mut v, c);
            }
            v
        };
        let eq_range = with(&eq, range.as_slice());
        let eq_order = with(&eq, &order);
        add(eq_range.clone(), None);
        if !order.is_empty() {
            add(eq_order.clone(), None);
            if let Some(r) = range {
                if order.first() != Some(&r) {
                    add(with(&eq_range, &order), None);
                }
            }
        }
        if let Some(j) = join_col {
            add(with(&[j], &eq_range), None);
        }
        // Covering variants: one or two more columns spare every row lookup.
        for base in [&eq_range, &eq_order] {
            let extra: Vec<usize> = needed.iter().copied().filter(|c| !base.contains(c)).collect();
            if !base.is_empty() && !extra.is_empty() && extra.len() <= 2 {
                add(with(base, &extra), None);
            }
        }
        if !common_constants {
            continue;
        }
        for t in &terms {
            let (op, v) = match &t.kind {
                TermKind::Eq(Scalar::Const(v)) => ("=", v),
                TermKind::Lower(Scalar::Const(v), incl) => (if *incl { ">=" } else { ">" }, v),
                TermKind::Upper(Scalar::Const(v), incl) => (if *incl { "<=" } else { "<" }, v),
                _ => continue,
            };
            let Some(lit) = literal(v) else { continue };
            let pred = format!("{} {op} {lit}", table.columns()[t.col].name);
            let key: Vec<usize> = if op == "=" {
                let rest: Vec<usize> = eq_range.iter().copied().filter(|c| *c != t.col).collect();
                if rest.is_empty() { order.iter().copied().filter(|c| *c != t.col).collect() } else { rest }
            } else {
                with(&eq_range, &order)
            };
            if key.is_empty() {
                continue;
            }
            add(key.clone(), Some(pred.clone()));
            let extra: Vec<usize> = needed.iter().copied().filter(|c| !key.contains(c)).collect();
            if !extra.is_empty() && extra.len() <= 2 {
                add(with(&key, &extra), Some(pred));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(sql: &str, common: bool) -> Vec<(String, Option<String>)> {
        let parsed = crate::sql::parse(sql).unwrap();
        let q = match parsed.stmt {
            crate::sql::ast::Statement::Select(q) => q,
            _ => unreachable!(),
        };
        let sel = crate::sql::bind::bind(&q, parsed.params).unwrap();
        candidates(&sel, common).into_iter().map(|c| (format!("{}({})", c.table.name(), c.column_names().join(",")), c.predicate)).collect()
    }

    #[test]
    fn equality_then_range_then_order() {
        let c = cands("SELECT * FROM customers WHERE status = ? AND department = ? AND created_at > ? ORDER BY created_at DESC", false);
        assert_eq!(c[0], ("customers(status,department,created_at)".into(), None));
        let c = cands("SELECT id FROM customers WHERE tenant_id = ? AND status = ? ORDER BY department", false);
        assert!(c.contains(&("customers(status,department)".into(), None)), "{c:?}");
        assert!(c.iter().all(|(n, _)| !n.contains("tenant_id")), "the tenant leads every key already: {c:?}");
        let c = cands("SELECT c.id FROM customers c JOIN conversation_messages m ON m.customer_id = c.id WHERE m.role = ?", false);
        assert!(c.contains(&("conversation_messages(customer_id,role)".into(), None)), "{c:?}");
    }

    #[test]
    fn partial_candidates_only_for_common_constants() {
        let sql = "SELECT customer_id, score FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 5";
        assert!(cands(sql, false).iter().all(|(_, p)| p.is_none()));
        let c = cands(sql, true);
        assert!(c.contains(&("customer_scores(score)".into(), Some("score > 0.9".into()))), "{c:?}");
        let c = cands("SELECT id FROM customers WHERE status = 'churned' AND created_at > ?", true);
        assert!(c.contains(&("customers(created_at)".into(), Some("status = 'churned'".into()))), "{c:?}");
    }
}
