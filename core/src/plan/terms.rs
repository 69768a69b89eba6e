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
            Pred::In {
                x,
                list,
                negated: false,
            } if list.iter().all(free) => {
                let Some(col) = own(x) else { continue };
                let kind = if list.len() == 1 {
                    TermKind::Eq(list[0].clone())
                } else {
                    TermKind::In(list.clone())
                };
                out.push(Term { conj: i, col, kind });
            }
            Pred::Between {
                x,
                lo,
                hi,
                negated: false,
            } if free(lo) && free(hi) => {
                let Some(col) = own(x) else { continue };
                out.push(Term {
                    conj: i,
                    col,
                    kind: TermKind::Lower(lo.clone(), true),
                });
                out.push(Term {
                    conj: i,
                    col,
                    kind: TermKind::Upper(hi.clone(), true),
                });
            }
            Pred::IsNull { x, negated } => {
                let Some(col) = own(x) else { continue };
                out.push(Term {
                    conj: i,
                    col,
                    kind: if *negated {
                        TermKind::NotNull
                    } else {
                        TermKind::IsNull
                    },
                });
            }
            Pred::Or(alts) => {
                // a = 1 OR a = 2 OR a IN (3, 4)  ->  a IN (1, 2, 3, 4)
                let mut col = None;
                let mut vals = Vec::new();
                let ok = alts.iter().all(|q| {
                    let (c, vs): (Option<usize>, Vec<Scalar>) = match q {
                        Pred::Cmp(CmpOp::Eq, a, b) if free(b) => (own(a), vec![b.clone()]),
                        Pred::In {
                            x,
                            list,
                            negated: false,
                        } if list.iter().all(free) => (own(x), list.clone()),
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
                    out.push(Term {
                        conj: i,
                        col,
                        kind: TermKind::In(vals),
                    });
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
            (CmpOp::Gt, Ordering::Greater) | (CmpOp::Ge, Ordering::Greater | Ordering::Equal) => {
                true
            }
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

fn statically_implied(p: &PredTerm, terms: &[Term], not_null_cols: &[usize]) -> bool {
    match p {
        PredTerm::IsNull { col, negated: true } => {
            not_null_cols.contains(col)
                || terms
                    .iter()
                    .any(|t| t.col == *col && t.kind != TermKind::IsNull)
        }
        PredTerm::IsNull {
            col,
            negated: false,
        } => terms
            .iter()
            .any(|t| t.col == *col && t.kind == TermKind::IsNull),
        PredTerm::Cmp { col, op, value } => terms
            .iter()
            .any(|t| t.col == *col && term_implies_cmp(&t.kind, *op, value)),
        PredTerm::Window { col, inclusive, ms } => terms.iter().any(|t| {
            t.col == *col
                && match &t.kind {
                    // col > now - m implies col > now - ms when m <= ms.
                    TermKind::Lower(Scalar::Now(m), incl) => {
                        *m < *ms || (*m == *ms && (!*incl || *inclusive))
                    }
                    _ => false,
                }
        }),
    }
}

/// True when the query's terms imply the partial index predicate of `def`, whatever the
/// parameters are.
pub fn implies_predicate(terms: &[Term], not_null_cols: &[usize], def: &IndexDef) -> bool {
    def.predicate
        .iter()
        .all(|p| statically_implied(p, terms, not_null_cols))
}

/// A condition checked when the statement runs: the values bound to `kind` must imply
/// `pred` (a parameter, or a constant compared with a sliding window, which moves).
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    /// The query's term (its scalars are resolved at run time).
    pub kind: TermKind,
    /// The partial-index predicate term it must imply.
    pub pred: PredTerm,
}

/// The guards under which the terms imply `def`'s predicate, when they cannot prove it
/// statically but run-time values could.
pub fn guarded_implication(
    terms: &[Term],
    not_null_cols: &[usize],
    def: &IndexDef,
) -> Option<Vec<Guard>> {
    let mut guards = Vec::new();
    for p in &def.predicate {
        if statically_implied(p, terms, not_null_cols) {
            continue;
        }
        let want_lower = match p {
            PredTerm::Cmp { op, .. } => matches!(op, CmpOp::Gt | CmpOp::Ge | CmpOp::Ne),
            PredTerm::Window { .. } => true,
            PredTerm::IsNull { .. } => return None,
        };
        let t = terms.iter().find(|t| {
            t.col == p.col()
                && match &t.kind {
                    TermKind::Eq(_) | TermKind::In(_) => true,
                    TermKind::Lower(..) => want_lower,
                    TermKind::Upper(..) => !want_lower,
                    _ => false,
                }
        })?;
        guards.push(Guard {
            kind: t.kind.clone(),
            pred: p.clone(),
        });
    }
    Some(guards)
}

/// Checks a guard with the statement's values (`resolve` turns a scalar into a value).
pub fn guard_holds(g: &Guard, now: i64, resolve: &dyn Fn(&Scalar) -> Option<Value>) -> bool {
    let c = |s: &Scalar| resolve(s).map(Scalar::Const);
    let kind = match &g.kind {
        TermKind::Eq(s) => c(s).map(TermKind::Eq),
        TermKind::In(l) => l
            .iter()
            .map(c)
            .collect::<Option<Vec<_>>>()
            .map(TermKind::In),
        TermKind::Lower(s, i) => c(s).map(|v| TermKind::Lower(v, *i)),
        TermKind::Upper(s, i) => c(s).map(|v| TermKind::Upper(v, *i)),
        other => Some(other.clone()),
    };
    let Some(kind) = kind else { return false };
    match &g.pred {
        PredTerm::Cmp { op, value, .. } => term_implies_cmp(&kind, *op, value),
        PredTerm::Window { inclusive, ms, .. } => {
            let cut = Value::Int(now.saturating_sub(*ms));
            // Rows the term allows are all > cut (>= cut for an inclusive window).
            let op = if *inclusive { CmpOp::Ge } else { CmpOp::Gt };
            term_implies_cmp(&kind, op, &cut)
        }
        PredTerm::IsNull { .. } => false,
    }
}

/// A rough selectivity of a conjunct (used for residual filters).
pub fn selectivity(p: &Pred) -> f64 {
    match p {
        Pred::Cmp(CmpOp::Eq, _, _) => 0.1,
        Pred::Cmp(CmpOp::Ne, _, _) => 0.9,
        Pred::Cmp(..) => 0.3,
        Pred::In { list, negated, .. } => {
            let s = (0.1 * list.len() as f64).min(0.9);
            if *negated {
                1.0 - s
            } else {
                s
            }
        }
        Pred::Between { negated, .. } => {
            if *negated {
                0.9
            } else {
                0.1
            }
        }
        Pred::IsNull { negated, .. } => {
            if *negated {
                0.9
            } else {
                0.1
            }
        }
        Pred::And(v) => v.iter().map(selectivity).product(),
        Pred::Or(v) => v.iter().map(selectivity).sum::<f64>().min(1.0),
    }
}
