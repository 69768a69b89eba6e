//! The index advisor (HypoPG + Dexter for cidb). It reads the recorded workload (each
//! fingerprint's representative execution and call count), derives candidate indexes per
//! query (see `candidates`), costs every query with and without each candidate using the
//! real planner and sampled statistics, and picks greedily: the candidate saving the most
//! estimated work (per-call cost × calls) goes first, the queries it serves are then costed
//! against it, and so on while the saving is at least `min_gain` of the cost of the queries
//! it helps. It also flags `customer_id` foreign keys no index (or primary key) can search
//! and indexes no recorded statement used. Applying a recommendation is
//! `CREATE INDEX CONCURRENTLY`: an online build.

use super::candidates::{candidates, Candidate};
use super::registry::Entry;
use crate::engine::Engine;
use crate::error::{err, ErrorKind, Result};
use crate::index::def::IndexState;
use crate::plan::hypo::{parse_index_def, WhatIf};
use crate::schema::Table;
use crate::sql::ast::Statement as Ast;
use crate::sql::bind::{bind, check_params, BoundSelect};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// Advisor settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdviceOptions {
    /// A recommendation must cut the estimated cost of the queries it helps by at least this
    /// fraction (default 0.5).
    pub min_gain: f64,
    /// Fingerprints with fewer calls are ignored (default 1).
    pub min_calls: u64,
    /// The most expensive fingerprints (by total time) considered (default 200).
    pub max_queries: usize,
    /// Most recommendations (default 10).
    pub max_recommendations: usize,
    /// Partial indexes are considered for a fingerprint when at least this share of its
    /// calls ran the exact same text, constants included (default 0.9).
    pub partial_share: f64,
}

impl Default for AdviceOptions {
    fn default() -> Self {
        AdviceOptions { min_gain: 0.5, min_calls: 1, max_queries: 200, max_recommendations: 10, partial_share: 0.9 }
    }
}

/// One query a recommendation helps, with its estimated cost per call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelpedQuery {
    /// Fingerprint id (hex).
    pub fingerprint: String,
    /// Normalised statement.
    pub query: String,
    /// Recorded calls.
    pub calls: u64,
    /// Estimated cost per call without the index.
    pub cost_before: f64,
    /// Estimated cost per call with it.
    pub cost_after: f64,
    /// Plan without the index.
    pub plan_before: String,
    /// Plan with it.
    pub plan_after: String,
}

/// A proposed index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Index name.
    pub name: String,
    /// Table (SQL name).
    pub table: String,
    /// Columns in key order.
    pub columns: Vec<String>,
    /// Partial-index predicate, if partial.
    pub predicate: Option<String>,
    /// The statement that builds it online.
    pub create_sql: String,
    /// Estimated cost of the helped queries (per-call cost × calls) without the index.
    pub cost_before: f64,
    /// The same with the index.
    pub cost_after: f64,
    /// `1 - cost_after / cost_before`.
    pub gain: f64,
    /// The queries it helps, most helped first.
    pub queries: Vec<HelpedQuery>,
}

/// A `customer_id` column no index or primary key can search by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnindexedForeignKey {
    /// Table (SQL name).
    pub table: String,
    /// The column.
    pub column: String,
    /// What it refers to.
    pub references: String,
    /// An index that would serve it.
    pub create_sql: String,
}

/// An index no recorded statement used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnusedIndex {
    /// Index name.
    pub name: String,
    /// Table (SQL name).
    pub table: String,
    /// Entries it holds (all tenants): the write and space cost it has.
    pub entries: u64,
    /// UNIQUE indexes enforce a constraint even when no query reads them.
    pub unique: bool,
    /// The statement that removes it.
    pub drop_sql: String,
}

/// The advisor's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// Proposed indexes, best first.
    pub recommendations: Vec<Recommendation>,
    /// Foreign keys without a usable index.
    pub unindexed_foreign_keys: Vec<UnindexedForeignKey>,
    /// Indexes no recorded statement used (empty until some SELECT has been recorded).
    pub unused_indexes: Vec<UnusedIndex>,
    /// Recorded fingerprints the advisor could re-plan.
    pub queries_considered: usize,
}

struct Query {
    entry: Arc<Entry>,
    tenant: String,
    sel: Arc<BoundSelect>,
    calls: u64,
    base: f64,
    base_plan: String,
}

/// The workload: fingerprints with a re-plannable sample, most total time first.
fn workload(engine: &Engine, opts: &AdviceOptions) -> Vec<(Arc<Entry>, Arc<BoundSelect>, String, bool)> {
    let mut entries: Vec<(Arc<Entry>, f64)> = engine
        .monitor()
        .entries()
        .into_iter()
        .filter(|e| e.calls() >= opts.min_calls.max(1))
        .map(|e| {
            let t = e.stats().total_ms;
            (e, t)
        })
        .collect();
    entries.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.fingerprint.id.cmp(&b.0.fingerprint.id)));
    let mut out = Vec::new();
    for (e, _) in entries.into_iter().take(opts.max_queries) {
        let Some(s) = e.sample() else { continue };
        let Ok(parsed) = crate::sql::parse(&s.sql) else { continue };
        let Ast::Select(q) = parsed.stmt else { continue };
        let Ok(sel) = bind(&q, parsed.params) else { continue };
        if check_params(&sel.params, &s.params).is_err() {
            continue;
        }
        let common = e.same_text_share() >= opts.partial_share;
        out.push((e, Arc::new(sel), s.tenant.clone(), common));
    }
    out
}

/// True when an existing index (or the primary key) already has the candidate's columns
/// as a prefix with the same predicate.
fn already_served(c: &Candidate, w: &WhatIf) -> bool {
    let pk = crate::plan::access::pk_cols(c.table);
    if c.predicate.is_none() && pk.starts_with(&c.columns) {
        return true;
    }
    let Ok(def) = parse_index_def(&c.create_sql("candidate")) else { return true };
    w.catalog()
        .on_table(c.table)
        .any(|d| d.state == IndexState::Ready && d.columns.starts_with(&c.columns) && d.predicate == def.predicate)
}

fn unique_name(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(&base.to_ascii_lowercase()) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base}_{i}")).find(|n| !taken.contains(&n.to_ascii_lowercase())).unwrap_or_default()
}

fn foreign_keys(w: &WhatIf) -> Vec<UnindexedForeignKey> {
    let mut out = Vec::new();
    for t in [Table::Scores, Table::LatestScores, Table::Messages] {
        let Some(col) = t.column_index("customer_id") else { continue };
        let by_pk = crate::plan::access::pk_cols(t).first() == Some(&col);
        let by_index = w.catalog().on_table(t).any(|d| d.state == IndexState::Ready && d.columns.first() == Some(&col) && d.predicate.is_empty());
        if !by_pk && !by_index {
            out.push(UnindexedForeignKey {
                table: t.name().to_string(),
                column: "customer_id".into(),
                references: "customers.id".into(),
                create_sql: format!("CREATE INDEX CONCURRENTLY idx_{}_customer_id ON {}(customer_id)", t.name(), t.name()),
            });
        }
    }
    out
}

fn unused(engine: &Engine, w: &WhatIf, any_select: bool) -> Result<Vec<UnusedIndex>> {
    if !any_select {
        return Ok(Vec::new());
    }
    let entries: std::collections::HashMap<String, u64> = engine.indexes()?.into_iter().map(|i| (i.name, i.entries)).collect();
    Ok(w.catalog()
        .indexes
        .iter()
        .filter(|d| d.state == IndexState::Ready && engine.inner.indexes.uses(d.id) == 0)
        .map(|d| UnusedIndex {
            name: d.name.clone(),
            table: d.table.name().to_string(),
            entries: entries.get(&d.name).copied().unwrap_or(0),
            unique: d.unique,
            drop_sql: format!("DROP INDEX {}", d.name),
        })
        .collect())
}

impl Engine {
    /// The advisor's report with default options (see [`AdviceOptions`]).
    pub fn advise(&self) -> Result<Advice> {
        self.advise_with(&AdviceOptions::default())
    }

    /// The advisor's report.
    pub fn advise_with(&self, opts: &AdviceOptions) -> Result<Advice> {
        self.check_open()?;
        let mut w = WhatIf::new(self)?;
        let load = workload(self, opts);
        let any_select = !load.is_empty();
        let mut queries: Vec<Query> = Vec::new();
        let mut cands: Vec<Candidate> = Vec::new();
        for (entry, sel, tenant, common) in load {
            let Ok(base) = w.cost(&tenant, &sel, None) else { continue };
            for c in candidates(&sel, common) {
                if !cands.contains(&c) {
                    cands.push(c);
                }
            }
            let calls = entry.calls();
            queries.push(Query { entry, tenant, sel, calls, base: base.cost, base_plan: base.plan });
        }
        cands.retain(|c| !already_served(c, &w));
        // after[c][q]: the cost of q with c, when the planner would use it.
        let mut after: Vec<Vec<Option<(f64, String)>>> = Vec::with_capacity(cands.len());
        for c in &cands {
            let def = parse_index_def(&c.create_sql("hypothetical"))?;
            let mut row = Vec::with_capacity(queries.len());
            for q in &queries {
                let on_table = q.sel.sources.iter().any(|s| s.table == c.table);
                let r = if on_table { w.cost(&q.tenant, &q.sel, Some(&def)).ok().filter(|r| r.uses_index) } else { None };
                row.push(r.map(|r| (r.cost, r.plan)));
            }
            after.push(row);
        }
        let mut cur: Vec<f64> = queries.iter().map(|q| q.base).collect();
        let mut cur_plan: Vec<String> = queries.iter().map(|q| q.base_plan.clone()).collect();
        let mut taken: HashSet<String> = w.catalog().indexes.iter().map(|d| d.name.to_ascii_lowercase()).collect();
        let mut used = vec![false; cands.len()];
        let mut recs = Vec::new();
        while recs.len() < opts.max_recommendations {
            let mut best: Option<(usize, f64, f64, f64)> = None; // (cand, saving, before, after)
            for (ci, row) in after.iter().enumerate() {
                if used[ci] {
                    continue;
                }
                let (mut before, mut aft) = (0.0, 0.0);
                for (qi, a) in row.iter().enumerate() {
                    if let Some((cost, _)) = a {
                        if *cost < cur[qi] {
                            let n = queries[qi].calls as f64;
                            before += n * cur[qi];
                            aft += n * cost;
                        }
                    }
                }
                let saving = before - aft;
                let better = best.is_none_or(|b| saving > b.1 + 1e-9 || ((saving - b.1).abs() <= 1e-9 && cands[ci].columns.len() < cands[b.0].columns.len()));
                if saving > 0.0 && saving >= opts.min_gain * before && better {
                    best = Some((ci, saving, before, aft));
                }
            }
            let Some((ci, _, before, aft)) = best else { break };
            used[ci] = true;
            let c = &cands[ci];
            let name = unique_name(&c.base_name(), &taken);
            taken.insert(name.to_ascii_lowercase());
            let mut helped = Vec::new();
            for (qi, a) in after[ci].iter().enumerate() {
                let Some((cost, plan)) = a else { continue };
                if *cost >= cur[qi] {
                    continue;
                }
                let q = &queries[qi];
                helped.push(HelpedQuery {
                    fingerprint: format!("{:016x}", q.entry.fingerprint.id),
                    query: q.entry.fingerprint.text.clone(),
                    calls: q.calls,
                    cost_before: cur[qi],
                    cost_after: *cost,
                    plan_before: cur_plan[qi].clone(),
                    plan_after: plan.replace("hypothetical", &name).replace(&format!(" ({name})"), ""),
                });
                cur[qi] = *cost;
                cur_plan[qi] = plan.clone();
            }
            helped.sort_by(|a, b| ((b.cost_before - b.cost_after) * b.calls as f64).total_cmp(&((a.cost_before - a.cost_after) * a.calls as f64)));
            recs.push(Recommendation {
                name: name.clone(),
                table: c.table.name().to_string(),
                columns: c.column_names(),
                predicate: c.predicate.clone(),
                create_sql: c.create_sql(&name),
                cost_before: before,
                cost_after: aft,
                gain: if before > 0.0 { 1.0 - aft / before } else { 0.0 },
                queries: helped,
            });
        }
        Ok(Advice {
            recommendations: recs,
            unindexed_foreign_keys: foreign_keys(&w),
            unused_indexes: unused(self, &w, any_select)?,
            queries_considered: queries.len(),
        })
    }

    /// Builds a recommended index online (`CREATE INDEX CONCURRENTLY`).
    pub fn apply_recommendation(&self, r: &Recommendation) -> Result<()> {
        match crate::sql::parse(&r.create_sql)?.stmt {
            Ast::CreateIndex(_) => self.execute(&r.create_sql).map(|_| ()),
            _ => Err(err(ErrorKind::InvalidInput, format!("not a CREATE INDEX statement: {}", r.create_sql))),
        }
    }

    /// Advises, then builds every recommendation whose gain is at least `min_gain`;
    /// returns those built.
    pub fn advise_apply(&self, min_gain: f64) -> Result<Vec<Recommendation>> {
        let opts = AdviceOptions { min_gain: min_gain.max(0.0), ..Default::default() };
        let advice = self.advise_with(&opts)?;
        let mut done = Vec::new();
        for r in advice.recommendations.into_iter().filter(|r| r.gain >= min_gain) {
            self.apply_recommendation(&r)?;
            done.push(r);
        }
        Ok(done)
    }
}
