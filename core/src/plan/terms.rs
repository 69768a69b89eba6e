//! Sargable terms: the WHERE conjuncts of one table that a key can answer (`col = v`,
//! `col IN (...)`, ranges, BETWEEN, `IS [NOT] NULL`, ORs of equalities on one column), and
//! the proof that a query's conjuncts imply a partial index's predicate (only constants and
//! CURRENT_TIMESTAMP count: a bound parameter could be anything).

use crate::index::def::{IndexDef, PredTerm};
use crate::schema::Value;
use crate::sql::ast::CmpOp;
use crate::sql::bind::{Pred, Scalar, Slot};
use std::cmp::Ordering;

/// What a term says about its column.
#[derive(Debug, Clone, PartialEq)]
pub enum TermKind {
    /// `col = v`.
    Eq(Scalar),
    /// `col IN (...)` (or an OR of equalities).
    In(Vec<Scalar>),
    /// `col IS NULL`.
    IsNull,
    /// `col IS NOT NULL`.
    NotNull,
    /// `col > v` (`>=` when inclusive).
    Lower(Scalar, bool),
    /// `col < v` (`<=` when inclusive).
    Upper(Scalar, bool),
}

/// A sargable term: conjunct `conj` constrains table column `col`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Index of the conjunct in the source's local list.
    pub conj: usize,
    /// Table column.
    pub col: usize,
    /// The constraint.
    pub kind: TermKind,
}

fn free(s: &Scalar) -> bool {
    !matches!(s, Scalar::Col(_))
}

/// Extracts the sargable terms of a source's local conjuncts (`offset` = its first slot,
/// `width` = its column count).
pub fn sargable(conjuncts: &[Pred], offset: Slot, width: usize) -> Vec<Term> {
    let own = |s: &Scalar| match s {
        Scalar::Col(c) if *c >= offset && *c < offset + width => Some(*c - offset),
        _ => None,
    };
    let mut out = Vec::new();
    for (i, p) in conjuncts.iter().enumerate() {
        match p {
            Pred::Cmp(op, a, b) if free(b) => {
                let Some(col) = own(a) else { continue };
                let kind = match op {
                    CmpOp::Eq => TermKind::Eq(b.clone()),
                    CmpOp::Lt => TermKind::Upper(b.clone(), false),
                    CmpOp::Le => TermKind::Upper(b.clone(), true),
                    CmpOp::Gt => TermKind::Lower(b.clone(), false),
                    CmpOp::Ge => TermKind::Lower(b.clone(), true),
                    CmpOp::Ne => continue,
                };
                out.push(Term { conj: i, col, kind });
            }
            Pred::In { x, list, negated: false } if list.iter().all(free) => {
                let Some(col) = own(x) else { continue };
                let kind = if list.len() == 1 { TermKind::Eq(list[0].clone()) } else { TermKind::In(list.clone()) };
                out.push(Term { conj: i, col, kind });
            }
            Pred::Between { x, lo, hi, negated: false } if free(lo) && free(hi) => {
                let Some(col) = own(x) else { continue };
                out.push(Term { conj: i, col, kind: TermKind::Lower(lo.clone(), true) });
                out.push(Term { conj: i, col, kind: TermKind::Upper(hi.clone(), true) });
            }
            Pred::IsNull { x, negated } => {
                let Some(col) = own(x) else { continue };
                out.push(Term { conj: i, col, kind: if *negated { TermKind::NotNull } else { TermKind::IsNull } });
            }
            Pred::Or(alts) => {
                // a = 1 OR a = 2 OR a IN (3, 4)  ->  a IN (1, 2, 3, 4)
                let mut col = None;
                let mut vals = Vec::new();
                let ok = alts.iter().all(|q| {
                    let (c, vs): (Option<usize>, Vec<Scalar>) = match q {
                        Pred::Cmp(CmpOp::Eq, a, b) if free(b) => (own(a), vec![b.clone()]),
                        Pred::In { x, list, negated: false } if list.iter().all(free) => (own(x), list.clone()),
                        _ => (None, vec![]),
                    };
                    match c {
                        Some(c) if col.is_none() || col == Some(c) => {
                            col = Some(c);
                            vals.extend(vs);
                            true
                        }
                        _ => false,
                    }
                });
                if let (true, Some(col)) = (ok, col) {
                    out.push(Term { conj: i, col, kind: TermKind::In(vals) });
                }
            }
            _ => {}
        }
    }
    out
}

fn konst(s: &Scalar) -> Option<&Value> {
    match s {
        Scalar::Const(v) if !v.is_null() => Some(v),
        _ => None,
    }
}

/// True when every value allowed by `kind` satisfies `col op k` (constants only).
fn term_implies_cmp(kind: &TermKind, op: CmpOp, k: &Value) -> bool {
    let holds = |v: &Value| op.holds(v.sql_cmp(k));
    match kind {
        TermKind::Eq(s) => konst(s).is_some_and(holds),
        TermKind::In(l) => l.iter().all(|s| konst(s).is_some_and(holds)),
        TermKind::Lower(s, incl) => konst(s).is_some_and(|v| match (op, v.sql_cmp(k)) {
            (CmpOp::Gt, Ordering::Greater) | (CmpOp::Ge, Ordering::Greater | Ordering::Equal) => true,
            (CmpOp::Gt, Ordering::Equal) => !*incl,
            (CmpOp::Ne, Ordering::Greater) => true,
            (CmpOp::Ne, Ordering::Equal) => !*incl,
            _ => false,
        }),
        TermKind::Upper(s, incl) => konst(s).is_some_and(|v| match (op, v.sql_cmp(k)) {
            (CmpOp::Lt, Ordering::Less) | (CmpOp::Le, Ordering::Less | Ordering::Equal) => true,
            (CmpOp::Lt, Ordering::Equal) => !*incl,
            (CmpOp::Ne, Ordering::Less) => true,
            (CmpOp::Ne, Ordering::Equal) => !*incl,
            _ => false,
        }),
        TermKind::IsNull | TermKind::NotNull => false,
    }
}

/// True when the query's terms imply the partial index predicate of `def`. `not_null_cols`
/// are columns known non-NULL for another reason (join keys).
pub fn implies_predicate(terms: &[Term], not_null_cols: &[usize], def: &IndexDef) -> bool {
    def.predicate.iter().all(|p| match p {
        PredTerm::IsNull { col, negated: true } => {
            not_null_cols.contains(col) || terms.iter().any(|t| t.col == *col && t.kind != TermKind::IsNull)
        }
        PredTerm::IsNull { col, negated: false } => terms.iter().any(|t| t.col == *col && t.kind == TermKind::IsNull),
        PredTerm::Cmp { col, op, value } => terms.iter().any(|t| t.col == *col && term_implies_cmp(&t.kind, *op, value)),
        PredTerm::Window { col, inclusive, ms } => terms.iter().any(|t| {
            t.col == *col
                && match &t.kind {
                    // col > now - m implies col > now - ms when m <= ms.
                    TermKind::Lower(Scalar::Now(m), incl) => *m < *ms || (*m == *ms && (!*incl || *inclusive)),
                    _ => false,
                }
        }),
    })
}

/// A rough selectivity of a conjunct (used for residual filters).
pub fn selectivity(p: &Pred) -> f64 {
    match p {
        Pred::Cmp(CmpOp::Eq, _, _) => 0.1,
        Pred::Cmp(CmpOp::Ne, _, _) => 0.9,
        Pred::Cmp(..) => 0.3,
        Pred::In { list, negated, .. } => {
            let s = (0.1 * list.len() as f64).min(0.9);
            if *negated { 1.0 - s } else { s }
        }
        Pred::Between { negated, .. } => {
            if *negated { 0.9 } else { 0.1 }
        }
        Pred::IsNull { negated, .. } => {
            if *negated { 0.9 } else { 0.1 }
        }
        Pred::And(v) => v.iter().map(selectivity).product(),
        Pred::Or(v) => v.iter().map(selectivity).sum::<f64>().min(1.0),
    }
}
