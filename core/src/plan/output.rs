//! The end of the pipeline: rows that passed every filter are either streamed out (OFFSET
//! skipped, LIMIT stopping the scan), collected for a sort ("temp B-tree"), or folded into
//! groups with SQLite's aggregate semantics (COUNT(*) vs COUNT(col), SUM of integers stays
//! an integer and SUM of nothing is NULL, AVG is REAL, sums of reals are compensated like
//! SQLite's), then projected into the result columns.

use super::columns::{Columns, ValueRef};
use super::eval::{const_value, Env};
use crate::error::{err, ErrorKind, Result};
use crate::schema::{Row, Value};
use crate::sql::ast::AggFunc;
use crate::sql::bind::{BoundSelect, OrderKey, OutExpr};
use crate::storage::keys::Key;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Kahan–Babuška–Neumaier summation, as SQLite sums REAL values.
#[derive(Debug, Clone, Copy, Default)]
struct Kbn {
    sum: f64,
    err: f64,
}

impl Kbn {
    fn add(&mut self, r: f64) {
        let s = self.sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.err += (s - t) + r;
        } else {
            self.err += (r - t) + s;
        }
        self.sum = t;
    }
    fn value(&self) -> f64 {
        self.sum + self.err
    }
}

#[derive(Debug, Clone)]
enum Agg {
    Count(i64),
    Sum {
        int: i128,
        real: Kbn,
        is_real: bool,
        seen: bool,
    },
    Avg {
        int: i128,
        real: Kbn,
        is_real: bool,
        n: i64,
    },
    Min(Value),
    Max(Value),
}

impl Agg {
    fn new(f: AggFunc) -> Agg {
        match f {
            AggFunc::Count => Agg::Count(0),
            AggFunc::Sum => Agg::Sum {
                int: 0,
                real: Kbn::default(),
                is_real: false,
                seen: false,
            },
            AggFunc::Avg => Agg::Avg {
                int: 0,
                real: Kbn::default(),
                is_real: false,
                n: 0,
            },
            AggFunc::Min => Agg::Min(Value::Null),
            AggFunc::Max => Agg::Max(Value::Null),
        }
    }

    fn step(&mut self, v: Option<&Value>) {
        match self {
            Agg::Count(n) => {
                if v.is_none_or(|v| !v.is_null()) {
                    *n += 1;
                }
            }
            Agg::Sum {
                int,
                real,
                is_real,
                seen,
            } => match v {
                Some(Value::Int(i)) => {
                    *int += *i as i128;
                    real.add(*i as f64);
                    *seen = true;
                }
                Some(Value::Real(r)) => {
                    *is_real = true;
                    real.add(*r);
                    *seen = true;
                }
                _ => {}
            },
            Agg::Avg {
                int,
                real,
                is_real,
                n,
            } => match v {
                Some(Value::Int(i)) => {
                    *int += *i as i128;
                    real.add(*i as f64);
                    *n += 1;
                }
                Some(Value::Real(r)) => {
                    *is_real = true;
                    real.add(*r);
                    *n += 1;
                }
                _ => {}
            },
            Agg::Min(cur) => {
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    if cur.is_null() || v.sql_cmp(cur) == Ordering::Less {
                        *cur = v.clone();
                    }
                }
            }
            Agg::Max(cur) => {
                if let Some(v) = v.filter(|v| !v.is_null()) {
                    if cur.is_null() || v.sql_cmp(cur) == Ordering::Greater {
                        *cur = v.clone();
                    }
                }
            }
        }
    }

    fn finish(self) -> Result<Value> {
        Ok(match self {
            Agg::Count(n) => Value::Int(n),
            Agg::Sum { seen: false, .. } => Value::Null,
            Agg::Sum {
                is_real: true,
                real,
                ..
            } => Value::Real(real.value()),
            Agg::Sum { int, .. } => Value::Int(
                i64::try_from(int)
                    .map_err(|_| err(ErrorKind::InvalidInput, "integer overflow in SUM()"))?,
            ),
            Agg::Avg { n: 0, .. } => Value::Null,
            Agg::Avg {
                is_real: true,
                real,
                n,
                ..
            } => Value::Real(real.value() / n as f64),
            Agg::Avg { int, n, .. } => Value::Real(int as f64 / n as f64),
            Agg::Min(v) | Agg::Max(v) => v,
        })
    }
}

fn value_bytes(v: &Value) -> u64 {
    24 + match v {
        Value::Text(s) | Value::Json(s) => s.len() as u64,
        _ => 0,
    }
}

/// Bytes a row holds, roughly.
pub fn row_bytes(r: &[Value]) -> u64 {
    r.iter().map(value_bytes).sum::<u64>() + 24
}

/// Compares two rows on ORDER BY keys (`a[i]`/`b[i]` is key i).
pub fn cmp_keys(keys: &[OrderKey], a: &[Value], b: &[Value]) -> Ordering {
    for (i, k) in keys.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = x.sql_cmp(y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

thread_local! {
    /// The row buffer of this thread's last streamed result, kept empty with its capacity
    /// (see [`exact_rows`]).
    static ROWS: std::cell::Cell<Vec<Row>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Largest row buffer a thread keeps between statements (rows; 24 bytes each).
const KEEP_ROWS: usize = 4096;

/// The rows of `buf` in a vector of their exact size; `buf` is kept (emptied) for the
/// thread's next statement. Streamed rows go to a buffer that already has room, so the
/// only large allocation of a statement, its result vector, happens after its rows are
/// allocated. Had it happened first (`reserve` for LIMIT, or the vector doubling while
/// rows stream in), glibc's malloc would merge the small chunks the previous result freed
/// before serving it (`malloc_consolidate`), and the rows' allocations after it would
/// take malloc's slow path instead of reusing those chunks.
fn exact_rows(mut buf: Vec<Row>) -> Vec<Row> {
    let mut out = Vec::with_capacity(buf.len());
    out.append(&mut buf);
    if buf.capacity() <= KEEP_ROWS {
        ROWS.with(|r| r.set(buf));
    }
    out
}

/// Collects the rows a pipeline produces.
pub struct Consumer<'a> {
    sel: &'a BoundSelect,
    consts: Vec<Option<Value>>,
    sort: bool,
    skip: u64,
    take: Option<u64>,
    sorted: Vec<(Vec<Value>, Row)>,
    groups: BTreeMap<Vec<u8>, (Vec<Value>, Vec<Agg>)>,
    keybuf: Key,
    /// Rows produced so far (or collected).
    pub out: Vec<Row>,
    /// Where streamed rows go instead of `out` when the result is wanted column-wise.
    cols: Option<Columns>,
    /// Per output: its value may be moved out of the row buffer instead of cloned (see
    /// [`Consumer::move_out`]); empty when none may.
    moves: Vec<bool>,
    /// Rows streamed out so far (to `out` or `cols`).
    emitted: u64,
    /// Bytes held by sort buffers and groups.
    pub mem: u64,
    /// Peak of `mem`.
    pub peak: u64,
}

fn count(s: &Option<crate::sql::bind::Scalar>, env: &Env) -> Result<Option<i64>> {
    s.as_ref()
        .map(|s| match const_value(s, env)? {
            Value::Int(i) => Ok(i),
            v => Err(err(
                ErrorKind::TypeMismatch,
                format!("LIMIT/OFFSET must be an integer, got {} {v}", v.type_name()),
            )),
        })
        .transpose()
}

impl<'a> Consumer<'a> {
    /// A consumer for `sel`; `sort` when ORDER BY needs sorting here.
    pub fn new(sel: &'a BoundSelect, env: &Env, sort: bool) -> Result<Consumer<'a>> {
        let consts = sel
            .outputs
            .iter()
            .map(|o| match o {
                OutExpr::Scalar(s) => const_value(s, env).map(Some),
                OutExpr::Post(_) => Ok(None),
            })
            .collect::<Result<_>>()?;
        let take = count(&sel.limit, env)?.and_then(|l| (l >= 0).then_some(l as u64));
        let skip = count(&sel.offset, env)?.unwrap_or(0).max(0) as u64;
        Ok(Consumer {
            sel,
            consts,
            sort: sort || sel.group.is_some(),
            skip,
            take,
            sorted: Vec::new(),
            groups: BTreeMap::new(),
            keybuf: Key::new(),
            out: ROWS.with(|r| r.take()),
            cols: None,
            moves: Vec::new(),
            emitted: 0,
            mem: 0,
            peak: 0,
        })
    }

    /// The same consumer producing columns named `names` (see `finish_columns`), sized for
    /// about `expect` rows (an estimate; LIMIT caps it).
    pub fn into_columns(mut self, names: Vec<String>, expect: usize) -> Consumer<'a> {
        let mut c = Columns::new(names);
        c.expect_rows(self.take.map_or(expect, |t| expect.min(t as usize)));
        self.cols = Some(c);
        self
    }

    /// Reserves room for the rows that will stream out: LIMIT's count when there is one,
    /// else the estimate `expect`; both capped, so a wild figure cannot reserve much.
    pub fn expect_rows(&mut self, expect: f64) {
        if self.sort || self.sel.group.is_some() {
            return;
        }
        // A small LIMIT is the better guess: queries with one usually fill it.
        let n = match self.take {
            Some(t) => (t as usize).min(1024),
            None => expect.clamp(0.0, 4096.0) as usize,
        };
        self.out.reserve(n);
    }

    /// Rows this consumer takes at most before it stops the scan (OFFSET and LIMIT), or
    /// None when it takes every row (no LIMIT, or a sort or groups first).
    pub fn wanted(&self) -> Option<u64> {
        if self.sort || self.sel.group.is_some() {
            return None;
        }
        self.take.map(|t| t.saturating_add(self.skip))
    }

    /// True when LIMIT 0 makes reading pointless.
    pub fn done(&self) -> bool {
        self.take == Some(0) && self.sel.group.is_none()
    }

    /// Lets streamed rows take the values of row-buffer slots `slots` instead of copying
    /// them: the caller refills those slots before it pushes the next row and reads them
    /// nowhere else after a push (a single access's decoded columns; not a join's outer
    /// side, whose values serve many inner rows). A slot named by several outputs is moved
    /// only into the last. A result string is then allocated once and copied once, from
    /// the stored row into the slot, instead of copied into the slot and then cloned.
    pub fn move_out(&mut self, slots: &[usize]) {
        if self.sort || self.sel.group.is_some() || self.cols.is_some() {
            return;
        }
        let outs = &self.sel.outputs;
        self.moves = outs
            .iter()
            .enumerate()
            .map(|(i, o)| match o {
                OutExpr::Post(p) => {
                    slots.contains(p) && !outs[i + 1..].iter().any(|l| matches!(l, OutExpr::Post(q) if q == p))
                }
                OutExpr::Scalar(_) => false,
            })
            .collect();
    }

    /// [`Consumer::project`] moving the slots `moves` allows (streamed rows only).
    fn project_moving(&self, post: &mut [Value]) -> Row {
        if self.moves.is_empty() {
            return self.project(post);
        }
        let mut r = Vec::with_capacity(self.sel.outputs.len());
        for ((o, c), &mv) in self.sel.outputs.iter().zip(&self.consts).zip(&self.moves) {
            r.push(match (o, c) {
                (OutExpr::Post(p), _) if mv => std::mem::replace(&mut post[*p], Value::Null),
                (OutExpr::Post(p), _) => post[*p].clone(),
                (_, Some(v)) => v.clone(),
                _ => Value::Null,
            });
        }
        r
    }

    fn project(&self, post: &[Value]) -> Row {
        self.sel
            .outputs
            .iter()
            .zip(&self.consts)
            .map(|(o, c)| match (o, c) {
                (OutExpr::Post(p), _) => post[*p].clone(),
                (_, Some(v)) => v.clone(),
                _ => Value::Null,
            })
            .collect()
    }

    /// Takes one row of the combined layout; false when no more rows are wanted. Slots
    /// allowed by [`Consumer::move_out`] may be left NULL.
    pub fn push(&mut self, row: &mut [Value]) -> Result<bool> {
        if let Some(g) = &self.sel.group {
            self.keybuf.0.clear();
            for &k in &g.keys {
                self.keybuf.value(&row[k]);
            }
            let entry = match self.groups.get_mut(self.keybuf.as_bytes()) {
                Some(e) => e,
                None => {
                    let keys: Vec<Value> = g.keys.iter().map(|&k| row[k].clone()).collect();
                    self.mem +=
                        row_bytes(&keys) + self.keybuf.0.len() as u64 + 48 * g.aggs.len() as u64;
                    self.peak = self.peak.max(self.mem);
                    let aggs = g.aggs.iter().map(|a| Agg::new(a.func)).collect();
                    self.groups
                        .entry(self.keybuf.0.clone())
                        .or_insert((keys, aggs))
                }
            };
            for (a, spec) in entry.1.iter_mut().zip(&g.aggs) {
                a.step(spec.arg.map(|s| &row[s]));
            }
            return Ok(true);
        }
        if self.sort {
            let keys: Vec<Value> = self.sel.order.iter().map(|k| row[k.post].clone()).collect();
            let r = self.project(row);
            self.mem += row_bytes(&keys) + row_bytes(&r);
            self.peak = self.peak.max(self.mem);
            self.sorted.push((keys, r));
            return Ok(true);
        }
        if self.skip > 0 {
            self.skip -= 1;
            return Ok(true);
        }
        if self.take.is_some_and(|t| self.emitted >= t) {
            return Ok(false);
        }
        match &mut self.cols {
            // The projection of `project`, appended in place.
            Some(cols) => cols.push_row(self.sel.outputs.iter().zip(&self.consts).map(|(o, c)| match (o, c) {
                (OutExpr::Post(p), _) => ValueRef::from(&row[*p]),
                (_, Some(v)) => ValueRef::from(v),
                _ => ValueRef::Null,
            })),
            None => {
                let r = self.project_moving(row);
                self.out.push(r);
            }
        }
        self.emitted += 1;
        Ok(self.take.is_none_or(|t| self.emitted < t))
    }

    /// [`Consumer::finish`] for a consumer made with `into_columns`: the columns (rows
    /// that were sorted or grouped are appended at the end) and the peak memory.
    pub fn finish_columns(mut self) -> Result<(Columns, u64)> {
        let cols = self.cols.take();
        let (rows, peak) = self.finish()?;
        let mut cols = cols.ok_or_else(|| err(ErrorKind::Internal, "not a column-wise consumer"))?;
        cols.extend_rows(&rows);
        Ok((cols, peak))
    }

    /// Finishes groups and sorts; returns the result rows.
    pub fn finish(mut self) -> Result<(Vec<Row>, u64)> {
        if let Some(g) = &self.sel.group {
            if self.groups.is_empty() && g.keys.is_empty() {
                self.groups.insert(
                    Vec::new(),
                    (
                        Vec::new(),
                        g.aggs.iter().map(|a| Agg::new(a.func)).collect(),
                    ),
                );
            }
            let groups = std::mem::take(&mut self.groups);
            for (_, (mut keys, aggs)) in groups {
                for a in aggs {
                    keys.push(a.finish()?);
                }
                let sort_keys: Vec<Value> = self
                    .sel
                    .order
                    .iter()
                    .map(|k| keys[k.post].clone())
                    .collect();
                let r = self.project(&keys);
                self.sorted.push((sort_keys, r));
            }
        }
        if self.sort {
            let order = &self.sel.order;
            if !order.is_empty() {
                self.sorted.sort_by(|a, b| cmp_keys(order, &a.0, &b.0));
            }
            let skip = self.skip as usize;
            let it = std::mem::take(&mut self.sorted)
                .into_iter()
                .skip(skip)
                .map(|(_, r)| r);
            let rows = match self.take {
                Some(t) => it.take(t as usize).collect(),
                None => it.collect(),
            };
            exact_rows(std::mem::take(&mut self.out));
            return Ok((rows, self.peak));
        }
        Ok((exact_rows(self.out), self.peak))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_exact_and_the_buffer_is_kept_for_the_next_statement() {
        let rows: Vec<Row> = (0..100).map(|i| vec![Value::Int(i), Value::Text(format!("r{i}"))]).collect();
        let mut buf = ROWS.with(|r| r.take());
        buf.reserve(300);
        buf.extend(rows.iter().cloned());
        let out = exact_rows(buf);
        assert_eq!(out, rows);
        assert_eq!(out.capacity(), 100, "the result holds no spare room");
        let kept = ROWS.with(|r| r.take());
        assert!(kept.is_empty() && kept.capacity() >= 300, "the buffer is kept, empty");
        // A buffer grown past KEEP_ROWS is let go.
        let big: Vec<Row> = Vec::with_capacity(KEEP_ROWS + 1);
        assert!(exact_rows(big).is_empty());
        assert_eq!(ROWS.with(|r| r.take()).capacity(), 0);
    }
}
