//! Statements: parse, bind and plan once, execute many times. A [`Statement`] keeps its
//! plan together with the catalog version and the table sizes it was planned for, and
//! re-plans by itself when an index is created or dropped, ANALYZE runs, or the tenant's
//! tables grew or shrank a lot. `Tenant::query`, `Tenant::prepare` and `Tenant::explain`
//! are the entry points.

use super::cost::StatsView;
use super::eval::Env;
use super::exec::{execute, RunStats, Runtime};
use super::explain::Explain;
use super::planner::{plan, Plan, PlanInput};
use super::result::{ExecStats, QueryResult};
use crate::error::{err, ErrorKind, Result};
use crate::index::stats::tenant_rows;
use crate::schema::{Table, Value};
use crate::sql::ast::{Select, Statement as Ast};
use crate::sql::bind::{bind, check_params, BoundSelect};
use crate::tenant::Tenant;
use arc_swap::ArcSwapOption;
use redb::ReadTransaction;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

enum Kind {
    Select(Arc<BoundSelect>),
    Explain { analyze: bool, sel: Arc<BoundSelect> },
    Ddl(Ast, usize),
}

struct Cached {
    version: u64,
    rows_seen: Vec<(Table, u64)>,
    plan: Arc<Plan>,
}

struct Inner {
    sql: String,
    tenant: Tenant,
    kind: Kind,
    columns: Vec<String>,
    params: usize,
    cache: ArcSwapOption<Cached>,
    plans: AtomicU64,
}

/// A prepared statement of one tenant: parsed and bound once, planned once per catalog
/// version. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Statement {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement").field("sql", &self.inner.sql).field("params", &self.inner.params).finish()
    }
}

fn bind_select(q: &Select, params: usize) -> Result<Arc<BoundSelect>> {
    Ok(Arc::new(bind(q, params)?))
}

/// True when a table's size moved enough since planning to deserve a new plan.
fn drifted(then: u64, now: u64) -> bool {
    now > then.saturating_mul(2) + 64 || now.saturating_mul(2) + 64 < then
}

impl Statement {
    pub(crate) fn prepare(tenant: &Tenant, sql: &str) -> Result<Statement> {
        let parsed = crate::sql::parse(sql)?;
        let (kind, columns) = match parsed.stmt {
            Ast::Select(q) => {
                let b = bind_select(&q, parsed.params)?;
                let cols = b.columns.clone();
                (Kind::Select(b), cols)
            }
            Ast::Explain { analyze, query } => (Kind::Explain { analyze, sel: bind_select(&query, parsed.params)? }, vec!["plan".to_string()]),
            other => (Kind::Ddl(other, parsed.params), Vec::new()),
        };
        Ok(Statement {
            inner: Arc::new(Inner {
                sql: sql.to_string(),
                tenant: tenant.clone(),
                kind,
                columns,
                params: parsed.params,
                cache: ArcSwapOption::empty(),
                plans: AtomicU64::new(0),
            }),
        })
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.inner.sql
    }

    /// Number of parameters.
    pub fn param_count(&self) -> usize {
        self.inner.params
    }

    /// Output column names.
    pub fn columns(&self) -> &[String] {
        &self.inner.columns
    }

    /// How many times the statement has been planned (1 after the first run; more after
    /// DDL, ANALYZE or large changes in table size).
    pub fn plan_count(&self) -> u64 {
        self.inner.plans.load(Ordering::Relaxed)
    }

    fn bound(&self) -> Option<&Arc<BoundSelect>> {
        match &self.inner.kind {
            Kind::Select(b) | Kind::Explain { sel: b, .. } => Some(b),
            Kind::Ddl(..) => None,
        }
    }

    /// The plan for the snapshot `txn`: the cached one while still valid.
    fn plan_for(&self, txn: &ReadTransaction) -> Result<Arc<Cached>> {
        let sel = self.bound().ok_or_else(|| err(ErrorKind::Internal, "not a query"))?;
        let engine = self.inner.tenant.engine();
        let snap = engine.inner.indexes.catalog.read(txn)?;
        if let Some(c) = self.inner.cache.load_full() {
            if c.version == snap.version {
                let mut fresh = true;
                for (t, n) in &c.rows_seen {
                    if drifted(*n, tenant_rows(txn, *t, self.inner.tenant.name())?) {
                        fresh = false;
                        break;
                    }
                }
                if fresh {
                    return Ok(c);
                }
            }
        }
        let mut stats = StatsView::new(txn, self.inner.tenant.name());
        let p = plan(sel.clone(), &PlanInput::new(&snap), &mut stats)?;
        let c = Arc::new(Cached { version: snap.version, rows_seen: stats.tenant_rows_seen(), plan: Arc::new(p) });
        self.inner.cache.store(Some(c.clone()));
        self.inner.plans.fetch_add(1, Ordering::Relaxed);
        Ok(c)
    }

    fn run(&self, params: &[Value], analyze: bool) -> Result<(Arc<Plan>, Vec<crate::schema::Row>, RunStats, u64)> {
        let start = Instant::now();
        let sel = self.bound().ok_or_else(|| err(ErrorKind::Internal, "not a query"))?;
        check_params(&sel.params, params)?;
        let engine = self.inner.tenant.engine();
        let txn = engine.read()?;
        let cached = self.plan_for(&txn)?;
        let rt = Runtime {
            txn: &txn,
            tenant: self.inner.tenant.name(),
            env: Env { params, now: engine.config().clock.now() },
            analyze,
        };
        let chosen = cached.plan.choose(&rt.env);
        let (rows, stats) = execute(&rt, chosen)?;
        let chosen = if std::ptr::eq(chosen, cached.plan.as_ref()) { cached.plan.clone() } else { Arc::new(chosen.clone()) };
        Ok((chosen, rows, stats, start.elapsed().as_nanos() as u64))
    }

    /// Runs the statement with `params`.
    pub fn query(&self, params: &[Value]) -> Result<QueryResult> {
        match &self.inner.kind {
            Kind::Select(_) => {
                let (c, rows, st, ns) = self.run(params, false)?;
                Ok(QueryResult { columns: self.inner.columns.clone(), stats: exec_stats(&c, &st, rows.len(), ns), rows })
            }
            Kind::Explain { analyze, .. } => {
                let e = self.explain(params, *analyze)?;
                let rows: Vec<crate::schema::Row> = e.lines().into_iter().map(|l| vec![Value::Text(l)]).collect();
                let stats = ExecStats { rows_returned: rows.len() as u64, ..ExecStats::default() };
                Ok(QueryResult { columns: self.inner.columns.clone(), rows, stats })
            }
            Kind::Ddl(stmt, n) => {
                if !params.is_empty() {
                    return Err(err(ErrorKind::InvalidParameter, format!("this statement takes no parameters; {} given", params.len())));
                }
                let start = Instant::now();
                let mut r = super::run_ddl(self.inner.tenant.engine(), stmt, *n)?.unwrap_or_default();
                r.stats.elapsed_ns = start.elapsed().as_nanos() as u64;
                Ok(r)
            }
        }
    }

    /// The plan of the query (run with `params` and measured when `analyze`).
    pub fn explain(&self, params: &[Value], analyze: bool) -> Result<Explain> {
        if analyze {
            let (c, rows, st, ns) = self.run(params, true)?;
            return Ok(Explain::new(&c, Some((&st, rows.len() as u64, ns))));
        }
        let sel = self.bound().ok_or_else(|| err(ErrorKind::InvalidInput, "only SELECT statements have a plan"))?;
        check_params(&sel.params, params)?;
        let engine = self.inner.tenant.engine();
        let txn = engine.read()?;
        let c = self.plan_for(&txn)?;
        let env = Env { params, now: engine.config().clock.now() };
        Ok(Explain::new(c.plan.choose(&env), None))
    }
}

fn exec_stats(p: &Plan, st: &RunStats, returned: usize, ns: u64) -> ExecStats {
    let mut tables = vec![p.outer.table.name().to_string()];
    let mut indexes = Vec::new();
    let mut index_scans = 0;
    let mut table_scans = 0;
    let mut accesses = vec![(&p.outer, st.outer)];
    if let Some(j) = &p.join {
        tables.push(j.inner.table.name().to_string());
        accesses.push((&j.inner, st.inner));
    }
    for (a, s) in accesses {
        match &a.kind {
            super::access::PathKind::Scan => table_scans += s.runs,
            super::access::PathKind::Pk => index_scans += s.seeks,
            super::access::PathKind::Index(d, _) => {
                index_scans += s.seeks;
                indexes.push(d.name.clone());
            }
        }
    }
    ExecStats {
        rows_examined: st.outer.examined + st.inner.examined,
        rows_returned: returned as u64,
        index_scans,
        table_scans,
        joins: p.join.is_some() as u64,
        elapsed_ns: ns,
        plan: p.summary.clone(),
        tables,
        indexes,
        temp_btree: p.sort || p.sel.group.as_ref().is_some_and(|g| !g.keys.is_empty()),
        peak_memory_bytes: st.peak_bytes,
    }
}

impl Tenant {
    /// Runs one statement: SELECT (rows), EXPLAIN [ANALYZE] (one column `plan`, one text
    /// line per row), or CREATE INDEX / DROP INDEX / ANALYZE (no rows).
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<QueryResult> {
        Statement::prepare(self, sql)?.query(params)
    }

    /// Parses, binds and (on first run) plans a statement for repeated use.
    pub fn prepare(&self, sql: &str) -> Result<Statement> {
        Statement::prepare(self, sql)
    }

    /// The plan of a SELECT (or of the query inside an EXPLAIN); runs it when `analyze`.
    pub fn explain(&self, sql: &str, params: &[Value], analyze: bool) -> Result<Explain> {
        Statement::prepare(self, sql)?.explain(params, analyze)
    }
}
