//! Expression evaluation with SQLite's three-valued logic. Before a statement runs, its
//! parameters and `CURRENT_TIMESTAMP` are substituted ([`resolve_pred`]), so evaluation
//! only meets columns and constants and never allocates.

use crate::error::{err, ErrorKind, Result};
use crate::schema::Value;
use crate::sql::ast::CmpOp;
use crate::sql::bind::{Pred, Scalar};

/// Values a statement runs with: parameters and "now".
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// Parameter values.
    pub params: &'a [Value],
    /// The engine clock at statement start, ms.
    pub now: i64,
}

/// A scalar with parameters and time substituted.
pub fn resolve_scalar(s: &Scalar, env: &Env) -> Result<Scalar> {
    Ok(match s {
        Scalar::Param(i) => Scalar::Const(env.params.get(*i).cloned().ok_or_else(|| {
            err(
                ErrorKind::InvalidParameter,
                format!("parameter {} is missing", i + 1),
            )
        })?),
        Scalar::Now(ms) => Scalar::Const(Value::Int(env.now.saturating_sub(*ms))),
        other => other.clone(),
    })
}

/// The constant value of a column-free scalar.
pub fn const_value(s: &Scalar, env: &Env) -> Result<Value> {
    match resolve_scalar(s, env)? {
        Scalar::Const(v) => Ok(v),
        _ => Err(err(ErrorKind::Internal, "expected a constant")),
    }
}

/// A predicate with parameters and time substituted.
pub fn resolve_pred(p: &Pred, env: &Env) -> Result<Pred> {
    Ok(match p {
        Pred::Cmp(op, a, b) => Pred::Cmp(*op, resolve_scalar(a, env)?, resolve_scalar(b, env)?),
        Pred::In { x, list, negated } => Pred::In {
            x: resolve_scalar(x, env)?,
            list: list
                .iter()
                .map(|s| resolve_scalar(s, env))
                .collect::<Result<_>>()?,
            negated: *negated,
        },
        Pred::Between { x, lo, hi, negated } => Pred::Between {
            x: resolve_scalar(x, env)?,
            lo: resolve_scalar(lo, env)?,
            hi: resolve_scalar(hi, env)?,
            negated: *negated,
        },
        Pred::IsNull { x, negated } => Pred::IsNull {
            x: resolve_scalar(x, env)?,
            negated: *negated,
        },
        Pred::And(v) => Pred::And(
            v.iter()
                .map(|q| resolve_pred(q, env))
                .collect::<Result<_>>()?,
        ),
        Pred::Or(v) => Pred::Or(
            v.iter()
                .map(|q| resolve_pred(q, env))
                .collect::<Result<_>>()?,
        ),
    })
}

static NULL: Value = Value::Null;

#[inline]
fn val<'a>(s: &'a Scalar, row: &'a [Value]) -> &'a Value {
    match s {
        Scalar::Col(c) => &row[*c],
        Scalar::Const(v) => v,
        _ => &NULL, // unresolved parameters never reach evaluation
    }
}

#[inline]
fn cmp(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
    }
    Some(op.holds(a.sql_cmp(b)))
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn not3(a: Option<bool>) -> Option<bool> {
    a.map(|b| !b)
}

/// Evaluates a resolved predicate over a row: `Some(true)`, `Some(false)` or NULL (`None`).
pub fn eval(p: &Pred, row: &[Value]) -> Option<bool> {
    match p {
        Pred::Cmp(op, a, b) => cmp(*op, val(a, row), val(b, row)),
        Pred::IsNull { x, negated } => Some(val(x, row).is_null() != *negated),
        Pred::In { x, list, negated } => {
            let x = val(x, row);
            let r = if x.is_null() {
                None
            } else {
                let mut saw_null = false;
                let mut hit = false;
                for s in list {
                    match cmp(CmpOp::Eq, x, val(s, row)) {
                        Some(true) => {
                            hit = true;
                            break;
                        }
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                if hit {
                    Some(true)
                } else if saw_null {
                    None
                } else {
                    Some(false)
                }
            };
            if *negated {
                not3(r)
            } else {
                r
            }
        }
        Pred::Between { x, lo, hi, negated } => {
            let x = val(x, row);
            let r = and3(
                cmp(CmpOp::Ge, x, val(lo, row)),
                cmp(CmpOp::Le, x, val(hi, row)),
            );
            if *negated {
                not3(r)
            } else {
                r
            }
        }
        Pred::And(v) => {
            let mut acc = Some(true);
            for q in v {
                acc = and3(acc, eval(q, row));
                if acc == Some(false) {
                    break;
                }
            }
            acc
        }
        Pred::Or(v) => {
            let mut acc = Some(false);
            for q in v {
                match eval(q, row) {
                    Some(true) => return Some(true),
                    None => acc = None,
                    Some(false) => {}
                }
            }
            acc
        }
    }
}

/// True when every predicate is true for the row.
#[inline]
pub fn all_true(ps: &[Pred], row: &[Value]) -> bool {
    ps.iter().all(|p| eval(p, row) == Some(true))
}
