//! Turning an access plan and the statement's values into byte ranges of keys. Values are
//! converted to the column's type exactly (`created_at > 1.5` becomes `created_at >= 2`;
//! `id = 2.5` matches nothing), so the ranges enforce their conjuncts without re-checking.
//! IN-lists become several seeks, sorted and de-duplicated so the output stays in key order.

use super::access::{AccessPlan, EqVals, PathKind};
use super::eval::{const_value, Env};
use crate::error::Result;
use crate::index::stats::{pk_layout, PkPart};
use crate::schema::{ColumnType, Value};
use crate::storage::keys::{prefix_end, Key};
use std::cmp::Ordering;

/// A piece of key space to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    /// One exact key.
    Point(Vec<u8>),
    /// `start <= key < end`.
    Range(Vec<u8>, Vec<u8>),
}

/// Most seeks an IN-list product may expand into.
const MAX_SEEKS: usize = 100_000;

fn eq_conv(v: &Value, ty: ColumnType) -> Option<Value> {
    match (v, ty) {
        (Value::Null, _) => None,
        (Value::Int(i), ColumnType::Real) => Some(Value::Real(*i as f64)),
        (Value::Real(r), ColumnType::Int) => {
            (r.fract() == 0.0 && (-9.2e18..=9.2e18).contains(r)).then_some(Value::Int(*r as i64))
        }
        (Value::Json(s), ColumnType::Text) => Some(Value::Text(s.clone())),
        (v, _) => Some(v.clone()),
    }
}

/// A bound converted to the column type: Some((value, inclusive)).
fn bound_conv(v: &Value, incl: bool, lower: bool, ty: ColumnType) -> Option<(Value, bool)> {
    match (v, ty) {
        (Value::Null, _) => None,
        (Value::Real(r), ColumnType::Int) => {
            // On integers: > x is > floor(x); >= x is >= ceil(x); < x is < ceil(x); <= x is <= floor(x).
            let f = if lower == incl { r.ceil() } else { r.floor() };
            Some((Value::Int(f as i64), incl))
        }
        (Value::Int(i), ColumnType::Real) => Some((Value::Real(*i as f64), incl)),
        (v, _) => Some((v.clone(), incl)),
    }
}

/// How one key column is encoded.
#[derive(Clone, Copy)]
enum Enc {
    /// Tagged nullable value (secondary indexes).
    Tagged,
    /// Raw primary-key component.
    Pk(PkPart),
}

/// Appends `v`; false when it cannot appear in such a key (so nothing matches).
fn push(k: &mut Key, enc: Enc, v: &Value) -> bool {
    match enc {
        Enc::Tagged => {
            k.value(v);
            true
        }
        Enc::Pk(PkPart::Str(_)) => match v.as_str() {
            Some(s) => {
                k.str(s);
                true
            }
            None => false,
        },
        Enc::Pk(PkPart::I64(_)) => match v {
            Value::Int(i) => {
                k.i64(*i);
                true
            }
            _ => false,
        },
        Enc::Pk(PkPart::U64(_)) => match v {
            Value::Int(i) if *i >= 0 => {
                k.u64(*i as u64);
                true
            }
            _ => false,
        },
        Enc::Pk(PkPart::Seq) => false,
    }
}

fn tighter(a: &(Value, bool), b: &(Value, bool), lower: bool) -> bool {
    match a.0.sql_cmp(&b.0) {
        Ordering::Greater => lower,
        Ordering::Less => !lower,
        Ordering::Equal => !a.1 && b.1,
    }
}

/// The key ranges `acc` reads for the tenant whose key prefix is `tenant_key`; `outer` is
/// the join value for a nested-loop probe. Empty when nothing can match.
pub fn key_ranges(
    acc: &AccessPlan,
    tenant_key: &[u8],
    env: &Env,
    outer: Option<&Value>,
) -> Result<Vec<KeyRange>> {
    let cols = acc.table.columns();
    let pk = pk_layout(acc.table);
    let enc_of = |i: usize| -> Enc {
        match acc.kind {
            PathKind::Index(..) => Enc::Tagged,
            _ => Enc::Pk(pk[i]),
        }
    };
    // Prefixes from the equality columns.
    let mut prefixes: Vec<Key> = vec![Key(tenant_key.to_vec())];
    for (i, e) in acc.eq.iter().enumerate() {
        let ty = cols[acc.key_cols[i]].ty;
        let vals: Vec<Value> = match e {
            EqVals::One(s) => eq_conv(&const_value(s, env)?, ty).into_iter().collect(),
            EqVals::List(l) => {
                let mut v = Vec::with_capacity(l.len());
                for s in l {
                    v.extend(eq_conv(&const_value(s, env)?, ty));
                }
                v
            }
            EqVals::Null => vec![Value::Null],
            EqVals::Outer(_) => outer.and_then(|v| eq_conv(v, ty)).into_iter().collect(),
        };
        if vals.is_empty() {
            return Ok(Vec::new());
        }
        if prefixes.len() * vals.len() > MAX_SEEKS {
            return Err(crate::error::err(
                crate::ErrorKind::InvalidInput,
                format!("IN lists expand to more than {MAX_SEEKS} index seeks; use fewer values"),
            ));
        }
        let mut next = Vec::with_capacity(prefixes.len() * vals.len());
        for p in &prefixes {
            for v in &vals {
                let mut k = p.clone();
                if push(&mut k, enc_of(i), v) {
                    next.push(k);
                }
            }
        }
        prefixes = next;
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
    }
    prefixes.sort();
    prefixes.dedup();
    if acc.point {
        return Ok(prefixes.into_iter().map(|k| KeyRange::Point(k.0)).collect());
    }
    let Some(range) = &acc.range else {
        return Ok(prefixes
            .into_iter()
            .map(|k| {
                let end = k.prefix_end();
                KeyRange::Range(k.0, end)
            })
            .collect());
    };
    let ri = acc.eq.len();
    let ty = cols[acc.key_cols[ri]].ty;
    let mut lo: Option<(Value, bool)> = None;
    let mut hi: Option<(Value, bool)> = None;
    for (s, incl) in &range.lower {
        let Some(b) = bound_conv(&const_value(s, env)?, *incl, true, ty) else {
            return Ok(Vec::new());
        };
        if lo.as_ref().is_none_or(|cur| tighter(&b, cur, true)) {
            lo = Some(b);
        }
    }
    for (s, incl) in &range.upper {
        let Some(b) = bound_conv(&const_value(s, env)?, *incl, false, ty) else {
            return Ok(Vec::new());
        };
        if hi.as_ref().is_none_or(|cur| tighter(&b, cur, false)) {
            hi = Some(b);
        }
    }
    let enc = enc_of(ri);
    if let Enc::Pk(PkPart::U64(_)) = enc {
        // Unsigned keys: a negative lower bound is no bound; a negative upper bound is empty.
        if lo
            .as_ref()
            .is_some_and(|(v, _)| matches!(v, Value::Int(i) if *i < 0))
        {
            lo = None;
        }
        if hi
            .as_ref()
            .is_some_and(|(v, _)| matches!(v, Value::Int(i) if *i < 0))
        {
            return Ok(Vec::new());
        }
    }
    let mut out = Vec::with_capacity(prefixes.len());
    for p in prefixes {
        let start = match &lo {
            Some((v, incl)) => {
                let mut k = p.clone();
                if !push(&mut k, enc, v) {
                    return Ok(Vec::new());
                }
                if *incl {
                    k.0
                } else {
                    k.prefix_end()
                }
            }
            None => {
                let mut k = p.clone();
                if matches!(enc, Enc::Tagged) {
                    k.0.push(0x02); // skip NULLs: they satisfy no range and no IS NOT NULL
                }
                k.0
            }
        };
        let end = match &hi {
            Some((v, incl)) => {
                let mut k = p.clone();
                if !push(&mut k, enc, v) {
                    return Ok(Vec::new());
                }
                if *incl {
                    k.prefix_end()
                } else {
                    k.0
                }
            }
            None => prefix_end(&p.0),
        };
        if start < end {
            out.push(KeyRange::Range(start, end));
        }
    }
    Ok(out)
}
