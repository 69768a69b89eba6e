//! What-if costing for the index advisor (as HypoPG does for PostgreSQL): the real planner
//! costs a query with and without one extra index that is never built. Its statistics come
//! from a sample of the tenant's rows (up to 50,000): the share of rows a partial
//! predicate keeps and the distinct counts of each key prefix.
//!
//! [`WhatIf`] is the advisor's session: one snapshot, many queries and candidate indexes,
//! each candidate's statistics sampled once per tenant.

use super::cost::StatsView;
use super::explain::Explain;
use super::planner::{plan, PlanInput};
use crate::error::{err, ErrorKind, Result};
use crate::index::def::{IndexDef, IndexState};
use crate::index::stats::KeyStats;
use crate::storage::keys::Key;
use redb::ReadTransaction;
use std::collections::{HashMap, HashSet};
use crate::schema::Value;
use crate::sql::ast::Statement as Ast;
use crate::index::catalog::CatalogSnap;
use crate::sql::bind::{bind, check_params, BoundSelect};
use crate::tenant::Tenant;
use std::sync::Arc;

/// The planner's view of a query before and after a hypothetical index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HypotheticalCost {
    /// Estimated cost with the existing indexes.
    pub before: f64,
    /// Estimated cost with the hypothetical index added.
    pub after: f64,
    /// The chosen plan uses the hypothetical index.
    pub uses_index: bool,
    /// Plan summary before.
    pub plan_before: String,
    /// Plan summary after.
    pub plan_after: String,
}

/// Parses `CREATE [UNIQUE] INDEX ...` into a definition (not created).
pub fn parse_index_def(create_sql: &str) -> Result<IndexDef> {
    match crate::sql::parse(create_sql)?.stmt {
        Ast::CreateIndex(ci) => {
            let mut d = IndexDef::from_create(&ci, 0)?;
            d.state = IndexState::Ready;
            Ok(d)
        }
        _ => Err(err(ErrorKind::InvalidInput, "expected a CREATE INDEX statement")),
    }
}

fn summary(e: &Explain) -> String {
    e.steps.iter().map(|s| s.detail.clone()).collect::<Vec<_>>().join("; ")
}

/// Costs `sql` for `tenant` without and with the hypothetical `index`.
pub fn cost_with_hypothetical(tenant: &Tenant, sql: &str, params: &[Value], index: &IndexDef) -> Result<HypotheticalCost> {
    let parsed = crate::sql::parse(sql)?;
    let q = match parsed.stmt {
        Ast::Select(q) | Ast::Explain { query: q, .. } => q,
        _ => return Err(err(ErrorKind::InvalidInput, "only SELECT statements can be costed")),
    };
    let sel = Arc::new(bind(&q, parsed.params)?);
    check_params(&sel.params, params)?;
    let engine = tenant.engine();
    let txn = engine.read()?;
    let snap = engine.inner.indexes.catalog.read(&txn)?;
    let tally = &engine.inner.indexes.tally;
    let mut stats = StatsView::new(&txn, tally, tenant.name());
    let before = plan(sel.clone(), &PlanInput::new(&snap), &mut stats)?;
    let mut h = index.clone();
    h.id = 0;
    h.state = IndexState::Ready;
    stats.set_hypothetical(sample_stats(&txn, tally, tenant.name(), &h, engine.config().clock.now())?);
    let after = plan(sel, &PlanInput { catalog: &snap, hypothetical: Some(Arc::new(h)) }, &mut stats)?;
    let eb = Explain::new(&before, None);
    let ea = Explain::new(&after, None);
    Ok(HypotheticalCost {
        before: before.est_cost,
        after: after.est_cost,
        uses_index: ea.steps.iter().any(|s| s.detail.contains("(hypothetical)")),
        plan_before: summary(&eb),
        plan_after: summary(&ea),
    })
}

const SAMPLE: usize = 50_000;

/// Statistics the hypothetical index would have, from a sample of the tenant's rows.
fn sample_stats(txn: &ReadTransaction, tally: &crate::index::tally::Tally, tenant: &str, h: &IndexDef, now: i64) -> Result<KeyStats> {
    let table = h.table;
    let mut need = vec![false; table.columns().len()];
    for &c in &h.columns {
        need[c] = true;
    }
    for t in &h.predicate {
        need[t.col()] = true;
    }
    let mut dec = super::decode::RowDecoder::new(table, &need);
    let mut row = vec![Value::Null; table.columns().len()];
    let t = txn.open_table(crate::storage::stores::table_def(table))?;
    let start = Key::tenant(tenant);
    let end = start.prefix_end();
    let mut seen = 0u64;
    let mut covered = 0u64;
    let mut sets: Vec<HashSet<Vec<u8>>> = vec![HashSet::new(); h.columns.len()];
    let mut k = Key::new();
    for item in t.range::<&[u8]>(start.as_bytes()..end.as_slice())?.take(SAMPLE) {
        let (_, v) = item?;
        dec.decode(tenant, v.value(), &mut row)?;
        seen += 1;
        if !h.covers(&row, now) {
            continue;
        }
        covered += 1;
        k.0.clear();
        for (i, &c) in h.columns.iter().enumerate() {
            k.value(&row[c]);
            if !sets[i].contains(k.as_bytes()) {
                sets[i].insert(k.0.clone());
            }
        }
    }
    let (_, total) = crate::plan::cost::StatsView::new(txn, tally, tenant).rows(table)?;
    if seen == 0 {
        return Ok(KeyStats { entries: 0, distinct: Vec::new() });
    }
    let entries = (total as f64 * covered as f64 / seen as f64).round() as u64;
    let mut distinct = vec![1u64];
    distinct.extend(sets.iter().map(|s| s.len().max(1) as u64));
    Ok(KeyStats { entries, distinct })
}

/// One costing by [`WhatIf::cost`].
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfCost {
    /// Estimated cost of the chosen plan.
    pub cost: f64,
    /// Its one-line summary.
    pub plan: String,
    /// The chosen plan reads the hypothetical index.
    pub uses_index: bool,
}

/// A what-if session over one read snapshot.
pub struct WhatIf {
    txn: std::sync::Arc<crate::storage::snapshot::Snapshot>,
    snap: Arc<CatalogSnap>,
    tally: Arc<crate::index::tally::Tally>,
    now: i64,
    sampled: HashMap<(String, String), KeyStats>,
}

impl WhatIf {
    /// A session over the engine's current snapshot.
    pub fn new(engine: &crate::Engine) -> Result<WhatIf> {
        let txn = engine.read()?;
        let snap = engine.inner.indexes.catalog.read(&txn)?;
        Ok(WhatIf { txn, snap, tally: engine.inner.indexes.tally.clone(), now: engine.config().clock.now(), sampled: HashMap::new() })
    }

    /// The catalog of the session's snapshot.
    pub fn catalog(&self) -> &CatalogSnap {
        &self.snap
    }

    /// Costs a bound query of `tenant` as the planner would plan it now, optionally with
    /// one hypothetical index (named anything; never built).
    pub fn cost(&mut self, tenant: &str, sel: &Arc<BoundSelect>, index: Option<&IndexDef>) -> Result<WhatIfCost> {
        let mut stats = StatsView::new(&self.txn, &self.tally, tenant);
        let hypothetical = match index {
            None => None,
            Some(d) => {
                let mut h = d.clone();
                h.id = 0;
                h.state = IndexState::Ready;
                let key = (tenant.to_string(), h.create_sql());
                let st = match self.sampled.get(&key) {
                    Some(st) => st.clone(),
                    None => {
                        let st = sample_stats(&self.txn, &self.tally, tenant, &h, self.now)?;
                        self.sampled.insert(key, st.clone());
                        st
                    }
                };
                stats.set_hypothetical(st);
                Some(Arc::new(h))
            }
        };
        let p = plan(sel.clone(), &PlanInput { catalog: &self.snap, hypothetical }, &mut stats)?;
        let uses_index = std::iter::once(&p.outer)
            .chain(p.join.as_ref().map(|j| &j.inner))
            .any(|a| matches!(a.kind, super::access::PathKind::Index(_, true)));
        Ok(WhatIfCost { cost: p.est_cost, plan: p.summary.clone(), uses_index })
    }
}

impl Tenant {
    /// The planner's cost of `sql` before and after a hypothetical `CREATE INDEX` (which is
    /// parsed and checked, never built). For the index advisor.
    pub fn cost_with_hypothetical(&self, sql: &str, params: &[Value], create_index_sql: &str) -> Result<HypotheticalCost> {
        let def = parse_index_def(create_index_sql)?;
        cost_with_hypothetical(self, sql, params, &def)
    }
}
