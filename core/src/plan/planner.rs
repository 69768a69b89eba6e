//! The planner: splits WHERE into per-table and cross-table conjuncts, enumerates access
//! paths per table, and picks by cost the access (and for a join: which table drives,
//! nested-loop probe versus hash join), accounting for sorts an index order avoids and for
//! LIMIT stopping a stream early. The plan it returns is reusable: values are bound at
//! execution, so a prepared statement plans once.

use super::access::{build, provides_order, AccessPlan, OrderCols, PathKind, SourceInfo};
use super::cost::{sort_cost, StatsView, GROUP_ROW, HASH_BUILD, HASH_PROBE, SEEK};
use super::terms::selectivity;
use crate::error::Result;
use crate::index::catalog::CatalogSnap;
use crate::index::def::IndexDef;
use crate::schema::{Table, Value};
use crate::sql::bind::{mark_pred, BoundSelect, Pred, Scalar, Slot};
use std::sync::Arc;

/// How the second table is joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMethod {
    /// For each outer row, search the inner table by the join key.
    NestedLoop,
    /// Read the inner table once into a hash table, probe it with each outer row.
    Hash,
}

/// The join step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinStep {
    /// Access to the inner table (per probe for nested loops, once for hash).
    pub inner: AccessPlan,
    /// Method.
    pub method: JoinMethod,
    /// Join-key slot of the outer table.
    pub outer_key: Slot,
    /// Join-key slot of the inner table.
    pub inner_key: Slot,
    /// Estimated rows out of the join.
    pub est_rows: f64,
}

/// A complete plan for a bound SELECT.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The query.
    pub sel: Arc<BoundSelect>,
    /// The driving table's access.
    pub outer: AccessPlan,
    /// The join, if any.
    pub join: Option<JoinStep>,
    /// Conjuncts over both tables (or none), checked after the join.
    pub residual: Vec<Pred>,
    /// ORDER BY needs a sort (false when the access order provides it).
    pub sort: bool,
    /// Estimated rows returned.
    pub est_rows: f64,
    /// Estimated total cost.
    pub est_cost: f64,
    /// The plan to run when the guards of this one fail for the bound values.
    pub fallback: Option<Box<Plan>>,
    /// One-line summary (the EXPLAIN details joined with `; `).
    pub summary: String,
    /// Slots the executor reads (see [`slots_read`]); empty until [`plan`] sets it, and
    /// then `sel.needed` is read instead.
    pub reads: Vec<bool>,
}

impl Plan {
    /// Run-time conditions of this plan's partial-index accesses.
    pub fn guards(&self) -> impl Iterator<Item = &super::terms::Guard> {
        self.outer
            .guards
            .iter()
            .chain(self.join.iter().flat_map(|j| j.inner.guards.iter()))
    }

    /// The plan to run with these values: this one, or its fallback when a guard fails.
    pub fn choose(&self, env: &super::eval::Env) -> &Plan {
        let resolve = |s: &Scalar| super::eval::const_value(s, env).ok();
        let ok = self
            .guards()
            .all(|g| super::terms::guard_holds(g, env.now, &resolve));
        match (&self.fallback, ok) {
            (Some(f), false) => f.choose(env),
            _ => self,
        }
    }
}

/// Inputs of one planning.
pub struct PlanInput<'a> {
    /// The catalog of the planning snapshot.
    pub catalog: &'a CatalogSnap,
    /// An extra, hypothetical index to consider (costed, never executed).
    pub hypothetical: Option<Arc<IndexDef>>,
}

impl<'a> PlanInput<'a> {
    /// Planning over a catalog with no hypothetical index.
    pub fn new(catalog: &'a CatalogSnap) -> PlanInput<'a> {
        PlanInput {
            catalog,
            hypothetical: None,
        }
    }
}

fn sources_of(p: &Pred, sel: &BoundSelect) -> (bool, bool) {
    let mut m = vec![false; sel.width];
    mark_pred(p, &mut m);
    let split = sel.sources.get(1).map_or(sel.width, |s| s.offset);
    (m[..split].iter().any(|b| *b), m[split..].iter().any(|b| *b))
}

/// ORDER BY keys as columns of one source, when they all belong to it.
fn order_cols(sel: &BoundSelect, si: usize) -> Option<OrderCols> {
    if sel.group.is_some() || sel.order.is_empty() {
        return None;
    }
    let s = &sel.sources[si];
    let n = s.table.columns().len();
    sel.order
        .iter()
        .map(|k| {
            (k.post >= s.offset && k.post < s.offset + n)
                .then(|| (k.post - s.offset, k.desc, k.nulls_first))
        })
        .collect()
}

/// Rows LIMIT + OFFSET can stop after (when both are known constants; a parameter counts
/// as a typical page).
fn limit_hint(sel: &BoundSelect) -> Option<f64> {
    let v = |s: &Option<Scalar>| match s {
        None => Some(0.0),
        Some(Scalar::Const(Value::Int(i))) => Some((*i).max(0) as f64),
        Some(Scalar::Param(_)) => Some(100.0),
        _ => None,
    };
    match &sel.limit {
        None => None,
        Some(Scalar::Const(Value::Int(i))) if *i < 0 => None,
        l => Some(v(l)? + v(&sel.offset)?),
    }
}

fn candidates(
    info: &SourceInfo,
    input: &PlanInput,
    outer: Option<(usize, Slot)>,
    guards: bool,
    stats: &mut StatsView,
) -> Result<Vec<AccessPlan>> {
    let mut kinds = vec![PathKind::Pk];
    for d in input.catalog.ready_on(info.table) {
        kinds.push(PathKind::Index(d.clone(), false));
    }
    if let Some(h) = &input.hypothetical {
        if h.table == info.table {
            kinds.push(PathKind::Index(h.clone(), true));
        }
    }
    kinds.push(PathKind::Scan);
    let mut out = Vec::new();
    for k in kinds {
        if let Some(a) = build(info, k, outer, guards, stats)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Cost of streaming `cost` when only `frac` of the rows are needed.
fn scaled(cost: f64, frac: f64) -> f64 {
    SEEK.min(cost) + (cost - SEEK).max(0.0) * frac
}

/// Plans a bound SELECT. When the best plan depends on run-time guards (a partial index
/// whose predicate only the bound values imply), it carries a guard-free fallback.
pub fn plan(sel: Arc<BoundSelect>, input: &PlanInput, stats: &mut StatsView) -> Result<Plan> {
    let summarize = |p: &mut Plan| {
        p.reads = slots_read(p);
        p.summary = super::explain::Explain::new(p, None)
            .steps
            .iter()
            .map(|s| s.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ");
    };
    let mut p = plan_with(sel.clone(), input, true, stats)?;
    summarize(&mut p);
    if p.guards().next().is_some() {
        let mut f = plan_with(sel, input, false, stats)?;
        summarize(&mut f);
        p.fallback = Some(Box::new(f));
    }
    Ok(p)
}

fn plan_with(
    sel: Arc<BoundSelect>,
    input: &PlanInput,
    guards: bool,
    stats: &mut StatsView,
) -> Result<Plan> {
    let mut locals: Vec<Vec<Pred>> = vec![Vec::new(); sel.sources.len()];
    let mut residual = Vec::new();
    for p in &sel.filter {
        match sources_of(p, &sel) {
            (true, false) => locals[0].push(p.clone()),
            (false, true) => locals[1].push(p.clone()),
            _ => residual.push(p.clone()),
        }
    }
    let residual_sel: f64 = residual.iter().map(selectivity).product();
    let infos: Vec<SourceInfo> = locals
        .into_iter()
        .enumerate()
        .map(|(i, l)| SourceInfo::new(&sel, i, l))
        .collect();
    let grouping = sel.group.is_some();
    let limit = if grouping { None } else { limit_hint(&sel) };
    let wants_order = !sel.order.is_empty();

    let mut best: Option<Plan> = None;
    let mut consider = |p: Plan| {
        if best.as_ref().is_none_or(|b| p.est_cost < b.est_cost) {
            best = Some(p);
        }
    };

    match &sel.join {
        None => {
            let info = &infos[0];
            let order = order_cols(&sel, 0);
            for mut acc in candidates(info, input, None, guards, stats)? {
                let rev = order.as_ref().and_then(|o| provides_order(&acc, info, o));
                let sorted = wants_order && !grouping && rev.is_none();
                acc.reverse = rev.unwrap_or(false);
                let out_rows = acc.est_rows * residual_sel;
                let mut cost = acc.cost;
                if let (Some(l), false) = (limit, sorted) {
                    cost = scaled(cost, (l / out_rows.max(1.0)).min(1.0));
                }
                if sorted {
                    cost += sort_cost(out_rows);
                }
                if grouping {
                    cost += out_rows * GROUP_ROW;
                }
                let est_rows = final_rows(&sel, out_rows, limit);
                consider(Plan {
                    sel: sel.clone(),
                    outer: acc,
                    join: None,
                    residual: residual.clone(),
                    sort: wants_order && (sorted || grouping),
                    est_rows,
                    est_cost: cost,
                    fallback: None,
                    summary: String::new(),
                    reads: Vec::new(),
                });
            }
        }
        Some(j) => {
            let customers_rows = stats.rows(Table::Customers)?.0.max(1) as f64;
            for (o, i) in [(0usize, 1usize), (1, 0)] {
                let (outer_key, inner_key) = if o == j.customers {
                    (j.id_slot, j.fk_slot)
                } else {
                    (j.fk_slot, j.id_slot)
                };
                let inner_col = inner_key - sel.sources[i].offset;
                let order = order_cols(&sel, o);
                let probes = candidates(
                    &infos[i],
                    input,
                    Some((inner_col, outer_key)),
                    guards,
                    stats,
                )?;
                let Some(probe) = probes.into_iter().min_by(|a, b| a.cost.total_cmp(&b.cost))
                else {
                    continue;
                };
                let inner_local = candidates(&infos[i], input, None, guards, stats)?;
                let Some(build_side) = inner_local.into_iter().min_by(|a, b| a.cost.total_cmp(&b.cost)) else { continue };
                let outer_paths = candidates(&infos[o], input, None, guards, stats)?;
                // One row estimate for the driving table whatever path reads it, so the
                // probe count does not favour a path for its rougher estimate: take it from
                // the path that answers the most conjuncts from index statistics (fewest
                // left to the per-row filter's default selectivities; ties: the lowest).
                let card = outer_paths
                    .iter()
                    .min_by(|a, b| a.filter.len().cmp(&b.filter.len()).then(a.est_rows.total_cmp(&b.est_rows)))
                    .map(|a| a.est_rows);
                for mut acc in outer_paths {
                    if let Some(c) = card {
                        acc.est_rows = c;
                    }
                    let rev = order.as_ref().and_then(|ord| provides_order(&acc, &infos[o], ord));
                    let sorted = wants_order && !grouping && rev.is_none();
                    acc.reverse = rev.unwrap_or(false);
                    let join_rows = acc.est_rows * build_side.est_rows / customers_rows;
                    let out_rows = join_rows * residual_sel;
                    let frac = match (limit, sorted) {
                        (Some(l), false) => (l / out_rows.max(1.0)).min(1.0),
                        _ => 1.0,
                    };
                    let mut tail = 0.0;
                    if sorted {
                        tail += sort_cost(out_rows);
                    }
                    if grouping {
                        tail += out_rows * GROUP_ROW;
                    }
                    let est_rows = final_rows(&sel, out_rows, limit);
                    let sort = wants_order && (sorted || grouping);
                    let nl = scaled(acc.cost + acc.est_rows * probe.cost, frac) + tail;
                    let hash = build_side.cost
                        + build_side.est_rows * HASH_BUILD
                        + scaled(acc.cost + acc.est_rows * HASH_PROBE, frac)
                        + tail;
                    let mut p_nl = probe.clone();
                    p_nl.est_rows = if acc.est_rows > 0.0 {
                        join_rows / acc.est_rows
                    } else {
                        0.0
                    };
                    consider(Plan {
                        sel: sel.clone(),
                        outer: acc.clone(),
                        join: Some(JoinStep {
                            inner: p_nl,
                            method: JoinMethod::NestedLoop,
                            outer_key,
                            inner_key,
                            est_rows: join_rows,
                        }),
                        residual: residual.clone(),
                        sort,
                        est_rows,
                        est_cost: nl,
                        fallback: None,
                        summary: String::new(),
                        reads: Vec::new(),
                    });
                    consider(Plan {
                        sel: sel.clone(),
                        outer: acc,
                        join: Some(JoinStep {
                            inner: build_side.clone(),
                            method: JoinMethod::Hash,
                            outer_key,
                            inner_key,
                            est_rows: join_rows,
                        }),
                        residual: residual.clone(),
                        sort,
                        est_rows,
                        est_cost: hash,
                        fallback: None,
                        summary: String::new(),
                        reads: Vec::new(),
                    });
                }
            }
        }
    }
    best.ok_or_else(|| crate::error::err(crate::ErrorKind::Internal, "no access path found"))
}

/// The slots `p`'s execution reads: outputs, ORDER BY, grouping, join keys, the residual
/// and the conjuncts each access checks row by row. That is `sel.needed` without the
/// columns only conjuncts enforced by the key ranges read (`status = ?` answered by an
/// index on status): rows fetched through the index need not decode them.
pub fn slots_read(p: &Plan) -> Vec<bool> {
    let sel = &p.sel;
    let mut r = vec![false; sel.width];
    if let Some(j) = &sel.join {
        r[j.id_slot] = true;
        r[j.fk_slot] = true;
    }
    match &sel.group {
        Some(g) => {
            g.keys.iter().for_each(|&k| r[k] = true);
            g.aggs.iter().filter_map(|a| a.arg).for_each(|s| r[s] = true);
        }
        None => {
            for o in &sel.outputs {
                if let crate::sql::bound::OutExpr::Post(s) = o {
                    r[*s] = true;
                }
            }
            sel.order.iter().for_each(|k| r[k.post] = true);
        }
    }
    let filters = p.outer.filter.iter().chain(p.join.iter().flat_map(|j| &j.inner.filter));
    for q in p.residual.iter().chain(filters) {
        mark_pred(q, &mut r);
    }
    // Never more than the binder found needed.
    r.iter_mut().zip(&sel.needed).for_each(|(a, n)| *a &= *n);
    r
}

fn final_rows(sel: &BoundSelect, rows: f64, limit: Option<f64>) -> f64 {
    let rows = match &sel.group {
        Some(g) if g.keys.is_empty() => 1.0,
        Some(g) => (rows / 2f64.powi(g.keys.len() as i32))
            .max(1.0)
            .min(rows.max(1.0)),
        None => rows,
    };
    match limit {
        Some(l) => rows.min(l),
        None => rows,
    }
}
