//! Statements: parse, bind and plan once, execute many times. A [`Statement`] keeps its
//! plan together with the catalog version and the table sizes it was planned for, and
//! re-plans by itself when an index is created or dropped, ANALYZE runs, or the tenant's
//! tables grew or shrank a lot. `Tenant::query`, `Tenant::prepare` and `Tenant::explain`
//! are the entry points.
//!
//! Every execution is recorded in the monitor under the statement's fingerprint: the
//! statement holds its monitor entry (and its plan the usage counters of the indexes it
//! reads), so recording is a few relaxed atomic adds, never a hash or a fingerprint.
//! SELECTs whose estimated cost is at least `CacheOptions::result_min_cost` go through the
//! query-result cache (see [`crate::cache::ResultCache`] for why they are never stale).

use super::columns::Columns;
use super::cost::StatsView;
use super::eval::Env;
use super::exec::{execute, execute_columns, RunStats, Runtime};
use super::explain::Explain;
use super::planner::{plan, Plan, PlanInput};
use super::result::{ExecStats, QueryResult};
use crate::error::{err, ErrorKind, Result};
use crate::index::stats::tenant_rows;
use crate::monitor::{fingerprint::fnv1a, Entry, Observation, SqlExec};
use crate::schema::{Row, Table, Value};
use crate::sql::ast::{Select, Statement as Ast};
use crate::sql::bind::{bind, check_params, BoundSelect, OutExpr, Pred, Scalar};
use crate::tenant::Tenant;
use arc_swap::ArcSwapOption;
use crate::storage::snapshot::Snapshot;
use redb::ReadTransaction;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

enum Kind {
    Select(Arc<BoundSelect>),
    Explain { analyze: bool, sel: Arc<BoundSelect> },
    Ddl(Box<Ast>, usize),
}

struct Cached {
    version: u64,
    rows_seen: Vec<(Table, u64)>,
    /// The engine's commit count when the table sizes were last found close to
    /// `rows_seen`: while no commit happens, sizes cannot drift and are not re-read.
    commits_checked: AtomicU64,
    plan: Arc<Plan>,
    /// Usage counters of the indexes each plan of the fallback chain reads.
    usage: Vec<Vec<Arc<AtomicU64>>>,
}

struct Inner {
    sql: String,
    tenant: Tenant,
    kind: Kind,
    columns: Vec<String>,
    params: usize,
    cache: ArcSwapOption<Cached>,
    plans: AtomicU64,
    /// The monitor entry, fetched at the first execution (statements that never run, such
    /// as those behind `Tenant::explain`, take no slot in the bounded table).
    entry: ArcSwapOption<Entry>,
    text_hash: u64,
    /// Tables a SELECT reads (the result-cache ticket).
    tables: Vec<Table>,
    /// The result depends on the clock (CURRENT_TIMESTAMP): never cached.
    uses_now: bool,
}

/// What an execution produces: rows, or the same rows column-wise in chunks, in order
/// (`query_column_chunks`; never an empty list).
enum Out {
    Rows(Vec<Row>),
    Columns(Vec<Columns>),
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Rows(r) => r.len(),
            Out::Columns(c) => c.iter().map(|c| c.rows).sum(),
        }
    }

    fn into_rows(self) -> Vec<Row> {
        match self {
            Out::Rows(r) => r,
            Out::Columns(c) => c.iter().flat_map(|c| (0..c.rows).map(|i| c.row(i))).collect(),
        }
    }

    /// The rows as column chunks (at least one).
    fn into_chunks(self, names: &[String]) -> Vec<Columns> {
        match self {
            Out::Columns(c) if !c.is_empty() => c,
            Out::Columns(_) => vec![Columns::new(names.to_vec())],
            Out::Rows(r) => {
                let mut c = Columns::new(names.to_vec());
                c.extend_rows(&r);
                vec![c]
            }
        }
    }

    /// The result-cache payload, or None when it would be over `max` bytes (checked
    /// before encoding, so a large result costs no encoding just to be refused).
    fn encode(&self, width: usize, max: usize) -> Option<Vec<u8>> {
        let bytes = match self {
            Out::Rows(r) => r.iter().map(|r| super::output::row_bytes(r) as usize).sum::<usize>(),
            Out::Columns(c) => super::rowcodec::encoded_len(c),
        };
        if bytes > max {
            return None;
        }
        Some(match self {
            Out::Rows(r) => super::rowcodec::encode_rows(r, width),
            Out::Columns(c) => super::rowcodec::encode_columns(c),
        })
    }
}

/// A finished execution: its output and statistics.
struct Done {
    out: Out,
    stats: ExecStats,
}

/// What one SELECT execution did, beyond its result (for the slow-query log).
struct RunInfo {
    plan: Arc<Plan>,
    stats: RunStats,
    rows: u64,
    ns: u64,
}

fn scalar_now(s: &Scalar) -> bool {
    matches!(s, Scalar::Now(_))
}

fn pred_now(p: &Pred) -> bool {
    match p {
        Pred::Cmp(_, a, b) => scalar_now(a) || scalar_now(b),
        Pred::In { x, list, .. } => scalar_now(x) || list.iter().any(scalar_now),
        Pred::Between { x, lo, hi, .. } => scalar_now(x) || scalar_now(lo) || scalar_now(hi),
        Pred::IsNull { x, .. } => scalar_now(x),
        Pred::And(v) | Pred::Or(v) => v.iter().any(pred_now),
    }
}

fn uses_now(sel: &BoundSelect) -> bool {
    sel.filter.iter().any(pred_now)
        || sel.outputs.iter().any(|o| matches!(o, OutExpr::Scalar(s) if scalar_now(s)))
        || sel.limit.as_ref().is_some_and(scalar_now)
        || sel.offset.as_ref().is_some_and(scalar_now)
}

fn usage_counters(engine: &crate::Engine, plan: &Plan) -> Vec<Vec<Arc<AtomicU64>>> {
    let mut out = Vec::new();
    let mut p = Some(plan);
    while let Some(q) = p {
        let mut v = Vec::new();
        for a in std::iter::once(&q.outer).chain(q.join.as_ref().map(|j| &j.inner)) {
            if let super::access::PathKind::Index(d, false) = &a.kind {
                v.push(engine.inner.indexes.usage_counter(d.id));
            }
        }
        out.push(v);
        p = q.fallback.as_deref();
    }
    out
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
    /// Parses and binds; a failure is recorded in the monitor as a failed call.
    pub(crate) fn prepare(tenant: &Tenant, sql: &str) -> Result<Statement> {
        let start = Instant::now();
        let r = Statement::build(tenant, sql);
        let m = tenant.engine().monitor();
        if r.is_err() && m.enabled() {
            let o = Observation { elapsed_ns: start.elapsed().as_nanos() as u64, ok: false, ..Default::default() };
            let x = SqlExec { tenant: tenant.name(), sql, text_hash: fnv1a(sql.as_bytes()), params: &[], replannable: false };
            m.record_sql(&m.entry_for_sql(sql), &x, &o, || None);
        }
        r
    }

    fn build(tenant: &Tenant, sql: &str) -> Result<Statement> {
        let parsed = crate::sql::parse(sql)?;
        let (kind, columns) = match parsed.stmt {
            Ast::Select(q) => {
                let b = bind_select(&q, parsed.params)?;
                let cols = b.columns.clone();
                (Kind::Select(b), cols)
            }
            Ast::Explain { analyze, query } => (Kind::Explain { analyze, sel: bind_select(&query, parsed.params)? }, vec!["plan".to_string()]),
            other => (Kind::Ddl(Box::new(other), parsed.params), Vec::new()),
        };
        let (mut tables, now) = match &kind {
            Kind::Select(b) => (b.sources.iter().map(|s| s.table).collect::<Vec<_>>(), uses_now(b)),
            _ => (Vec::new(), true),
        };
        tables.sort();
        tables.dedup();
        Ok(Statement {
            inner: Arc::new(Inner {
                sql: sql.to_string(),
                tenant: tenant.clone(),
                kind,
                columns,
                params: parsed.params,
                cache: ArcSwapOption::empty(),
                plans: AtomicU64::new(0),
                entry: ArcSwapOption::empty(),
                text_hash: fnv1a(sql.as_bytes()),
                tables,
                uses_now: now,
            }),
        })
    }

    /// The statement's fingerprint (normalised text), as the monitor records it.
    pub fn fingerprint(&self) -> String {
        match self.inner.entry.load().as_ref() {
            Some(e) => e.fingerprint.text.clone(),
            None => crate::monitor::fingerprint(&self.inner.sql).text,
        }
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

    /// The plan for the snapshot `txn`: the cached one while still valid. `fast` is the
    /// catalog version published before `txn` began, so the snapshot is at least that new;
    /// when it equals the cached plan's version the catalog is not read at all. A DDL
    /// committed but not yet published can only make that plan suboptimal (a new index it
    /// does not use) or stale (an index it reads was dropped): execution reports the latter
    /// as [`STALE_PLAN`] and [`Statement::execute_fresh`] re-plans with `fast = None`.
    fn plan_for(&self, txn: &ReadTransaction, fast: Option<u64>) -> Result<Arc<Cached>> {
        let sel = self.bound().ok_or_else(|| err(ErrorKind::Internal, "not a query"))?;
        let engine = self.inner.tenant.engine();
        let commits = engine.inner.writer.stats.commits.load(Ordering::Acquire);
        let cached = self.inner.cache.load_full();
        let fresh_sizes = |c: &Cached| -> Result<bool> {
            // Size drift only ever moves the plan's quality, not its correctness, so a
            // commit count that has not moved is reason enough to skip re-reading sizes.
            if c.commits_checked.load(Ordering::Relaxed) == commits {
                return Ok(true);
            }
            for (t, n) in &c.rows_seen {
                if drifted(*n, tenant_rows(&engine.inner.indexes.tally, *t, self.inner.tenant.name())) {
                    return Ok(false);
                }
            }
            c.commits_checked.store(commits, Ordering::Relaxed);
            Ok(true)
        };
        if let (Some(c), Some(v)) = (&cached, fast) {
            if c.version == v && fresh_sizes(c)? {
                return Ok(c.clone());
            }
        }
        let snap = engine.inner.indexes.catalog.read(txn)?;
        if let Some(c) = cached {
            if c.version == snap.version && fresh_sizes(&c)? {
                return Ok(c);
            }
        }
        let mut stats = StatsView::new(txn, &engine.inner.indexes.tally, self.inner.tenant.name());
        let p = plan(sel.clone(), &PlanInput::new(&snap), &mut stats)?;
        let usage = usage_counters(engine, &p);
        let c = Arc::new(Cached {
            version: snap.version,
            rows_seen: stats.tenant_rows_seen(),
            commits_checked: AtomicU64::new(commits),
            plan: Arc::new(p),
            usage,
        });
        self.inner.cache.store(Some(c.clone()));
        self.inner.plans.fetch_add(1, Ordering::Relaxed);
        Ok(c)
    }

    /// A snapshot and the catalog version published before it began (see `plan_for`).
    fn snapshot(&self) -> Result<(Arc<Snapshot>, u64)> {
        let engine = self.inner.tenant.engine();
        let fast = engine.inner.indexes.committed_version();
        Ok((engine.read()?, fast))
    }

    /// [`Statement::execute_on`], re-planning from the catalog once when the plan turns out
    /// to read an index the snapshot no longer has.
    fn execute_fresh(&self, txn: &Snapshot, cached: Arc<Cached>, params: &[Value], analyze: bool, count: bool, cols: bool) -> Result<(Arc<Plan>, Out, RunStats)> {
        match self.execute_on(txn, &cached, params, analyze, count, cols) {
            Err(e) if e.message() == super::exec::STALE_PLAN => {
                let cached = self.plan_for(txn, None)?;
                self.execute_on(txn, &cached, params, analyze, count, cols)
            }
            other => other,
        }
    }

    /// Executes the (chosen) plan of `cached` over `txn`; counts index usage when `count`;
    /// produces columns instead of rows when `cols`.
    fn execute_on(&self, txn: &Snapshot, cached: &Cached, params: &[Value], analyze: bool, count: bool, cols: bool) -> Result<(Arc<Plan>, Out, RunStats)> {
        let engine = self.inner.tenant.engine();
        let rt = Runtime { txn, tenant: self.inner.tenant.name(), env: Env { params, now: engine.config().clock.now() }, analyze };
        let chosen = cached.plan.choose(&rt.env);
        let (rows, stats) = match cols {
            true => execute_columns(&rt, chosen, self.inner.columns.clone()).map(|(c, s)| (Out::Columns(c), s))?,
            false => execute(&rt, chosen).map(|(r, s)| (Out::Rows(r), s))?,
        };
        if count {
            let mut p: Option<&Plan> = Some(&cached.plan);
            let mut depth = 0;
            while let Some(q) = p {
                if std::ptr::eq(q, chosen) {
                    break;
                }
                depth += 1;
                p = q.fallback.as_deref();
            }
            for c in cached.usage.get(depth).into_iter().flatten() {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        let chosen = if std::ptr::eq(chosen, cached.plan.as_ref()) { cached.plan.clone() } else { Arc::new(chosen.clone()) };
        Ok((chosen, rows, stats))
    }

    fn run(&self, params: &[Value], analyze: bool) -> Result<(Arc<Plan>, Out, RunStats, u64)> {
        let start = Instant::now();
        let sel = self.bound().ok_or_else(|| err(ErrorKind::Internal, "not a query"))?;
        check_params(&sel.params, params)?;
        let (txn, fast) = self.snapshot()?;
        let cached = self.plan_for(&txn, Some(fast))?;
        let (plan, rows, stats) = self.execute_fresh(&txn, cached, params, analyze, false, false)?;
        Ok((plan, rows, stats, start.elapsed().as_nanos() as u64))
    }

    /// A SELECT, through the result cache when its estimated cost is high enough.
    fn select(&self, params: &[Value], cols: bool) -> Result<(Done, Option<RunInfo>)> {
        let start = Instant::now();
        let sel = self.bound().ok_or_else(|| err(ErrorKind::Internal, "not a query"))?;
        check_params(&sel.params, params)?;
        let engine = self.inner.tenant.engine();
        let (txn, fast) = self.snapshot()?;
        let cached = self.plan_for(&txn, Some(fast))?;
        let opts = &engine.config().cache;
        if opts.result_cache && !self.inner.uses_now && cached.plan.est_cost >= opts.result_min_cost {
            return self.select_cached(params, txn, cached, start, cols);
        }
        let (plan, rows, st) = self.execute_fresh(&txn, cached, params, false, true, cols)?;
        Ok(self.finish(plan, rows, st, start))
    }

    fn finish(&self, plan: Arc<Plan>, out: Out, st: RunStats, start: Instant) -> (Done, Option<RunInfo>) {
        let ns = start.elapsed().as_nanos() as u64;
        let stats = exec_stats(&plan, &st, out.len(), ns);
        let info = RunInfo { plan, stats: st, rows: out.len() as u64, ns };
        (Done { out, stats }, Some(info))
    }

    /// The result-cache protocol: get; on a miss take the ticket, then a new snapshot,
    /// execute, put. Cache failures never fail the statement (it runs uncached).
    fn select_cached(&self, params: &[Value], txn: Arc<Snapshot>, cached: Arc<Cached>, start: Instant, cols: bool) -> Result<(Done, Option<RunInfo>)> {
        let engine = self.inner.tenant.engine();
        let tenant = self.inner.tenant.name();
        let rc = engine.result_cache();
        let key = super::rowcodec::statement_key(&self.inner.sql, params);
        let width = self.inner.columns.len();
        if let Ok(Some(bytes)) = rc.get(tenant, self.inner.text_hash, &key) {
            if let Some(rows) = super::rowcodec::decode_rows(&bytes, width) {
                let stats = ExecStats {
                    rows_returned: rows.len() as u64,
                    elapsed_ns: start.elapsed().as_nanos() as u64,
                    plan: cached.plan.summary.clone(),
                    tables: self.inner.tables.iter().map(|t| t.name().to_string()).collect(),
                    from_cache: true,
                    ..Default::default()
                };
                return Ok((Done { out: Out::Rows(rows), stats }, None));
            }
        }
        // The ticket must predate the snapshot the result is computed from.
        let ticket = rc.ticket(tenant, &self.inner.tables);
        drop(txn);
        let (txn, fast) = self.snapshot()?;
        let cached = self.plan_for(&txn, Some(fast))?;
        let exec_start = Instant::now();
        let (plan, rows, st) = self.execute_fresh(&txn, cached, params, false, true, cols)?;
        let took = exec_start.elapsed();
        if rc.ttl_for(took).is_some() {
            if let Some(payload) = rows.encode(width, engine.config().cache.max_value) {
                let _ = rc.put(&ticket, self.inner.text_hash, &key, took, &payload);
            }
        }
        Ok(self.finish(plan, rows, st, start))
    }

    fn exec(&self, params: &[Value], cols: bool) -> Result<(Done, Option<RunInfo>)> {
        match &self.inner.kind {
            Kind::Select(_) => self.select(params, cols),
            Kind::Explain { analyze, .. } => {
                let start = Instant::now();
                let e = self.explain(params, *analyze)?;
                let stats = ExecStats { elapsed_ns: start.elapsed().as_nanos() as u64, ..Default::default() };
                let rows: Vec<Row> = e.lines().into_iter().map(|l| vec![Value::Text(l)]).collect();
                Ok((Done { stats: ExecStats { rows_returned: rows.len() as u64, ..stats }, out: Out::Rows(rows) }, None))
            }
            Kind::Ddl(stmt, n) => {
                if !params.is_empty() {
                    return Err(err(ErrorKind::InvalidParameter, format!("this statement takes no parameters; {} given", params.len())));
                }
                let start = Instant::now();
                let mut r = super::run_ddl(self.inner.tenant.engine(), stmt, *n)?.unwrap_or_default();
                r.stats.elapsed_ns = start.elapsed().as_nanos() as u64;
                Ok((Done { out: Out::Rows(r.rows), stats: r.stats }, None))
            }
        }
    }

    /// Runs the statement with `params`, recording it in the monitor.
    pub fn query(&self, params: &[Value]) -> Result<QueryResult> {
        let d = self.query_out(params, false)?;
        Ok(QueryResult { columns: self.inner.columns.clone(), rows: d.out.into_rows(), stats: d.stats })
    }

    /// [`Statement::query`] with the rows returned column by column ([`Columns`], Arrow's
    /// layout): rows that stream out of the scan go straight into the columns, without
    /// an allocation per row or per text value. The way to export a large result.
    /// A scan that ran on several threads is joined here (a copy of every chunk after the
    /// first); [`Statement::query_column_chunks`] skips that copy.
    pub fn query_columns(&self, params: &[Value]) -> Result<Columns> {
        let chunks = self.query_column_chunks(params)?;
        let threads = chunks.len();
        Ok(super::parallel::join(chunks, &self.inner.columns, threads))
    }

    /// [`Statement::query_columns`] without joining: the rows as one or more chunks of
    /// columns (all with the same names), in order; concatenated, they are exactly the
    /// rows of `query`. A large plain scan runs on several threads and returns each
    /// thread's rows as their own chunk; everything else returns one chunk. The list is
    /// never empty (an empty result is one chunk of no rows), and the execution
    /// statistics are on the first chunk (the others' `stats` are empty). A column's
    /// values may be of a different [`ColumnData`](super::ColumnData) kind in each chunk
    /// (all NULL in one, INTEGER in another); an exporter must reconcile them.
    pub fn query_column_chunks(&self, params: &[Value]) -> Result<Vec<Columns>> {
        let d = self.query_out(params, true)?;
        let mut chunks = d.out.into_chunks(&self.inner.columns);
        chunks[0].stats = d.stats;
        Ok(chunks)
    }

    fn query_out(&self, params: &[Value], cols: bool) -> Result<Done> {
        let m = self.inner.tenant.engine().monitor();
        if !m.enabled() {
            return self.exec(params, cols).map(|(r, _)| r);
        }
        let start = Instant::now();
        let out = self.exec(params, cols);
        // A success carries its own elapsed time (measured from the same point, inside
        // `exec`); only failures need a second clock read.
        let elapsed_ns = match &out {
            Ok((r, _)) => r.stats.elapsed_ns,
            Err(_) => start.elapsed().as_nanos() as u64,
        };
        let guard = self.inner.entry.load();
        let fresh = match guard.as_deref() {
            Some(e) => m.replacement(e),
            None => Some(m.entry_for_sql(&self.inner.sql)),
        };
        if let Some(live) = &fresh {
            self.inner.entry.store(Some(live.clone()));
        }
        let Some(entry) = fresh.as_deref().or(guard.as_deref()) else { return out.map(|(r, _)| r) };
        let o = match &out {
            Ok((r, _)) => {
                let s = &r.stats;
                Observation {
                    elapsed_ns,
                    ok: true,
                    rows_examined: s.rows_examined,
                    rows_returned: s.rows_returned,
                    index_scans: s.index_scans,
                    table_scans: s.table_scans,
                    joins: s.joins,
                    peak_mem_bytes: s.peak_memory_bytes,
                }
            }
            Err(_) => Observation { elapsed_ns, ok: false, ..Default::default() },
        };
        let x = SqlExec {
            tenant: self.inner.tenant.name(),
            sql: &self.inner.sql,
            text_hash: self.inner.text_hash,
            params,
            replannable: matches!(self.inner.kind, Kind::Select(_)),
        };
        m.record_sql(entry, &x, &o, || {
            let info = out.as_ref().ok()?.1.as_ref()?;
            let mut e = Explain::new(&info.plan, Some((&info.stats, info.rows, info.ns)));
            for s in &mut e.steps {
                s.time_ns = None; // not measured per step outside EXPLAIN ANALYZE
            }
            Some(e.text())
        });
        out.map(|(r, _)| r)
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
        let c = self.plan_for(&txn, None)?;
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
        from_cache: false,
    }
}

impl Tenant {
    /// Runs one statement: SELECT (rows), EXPLAIN [ANALYZE] (one column `plan`, one text
    /// line per row), or CREATE INDEX / DROP INDEX / ANALYZE (no rows).
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<QueryResult> {
        Statement::prepare(self, sql)?.query(params)
    }

    /// [`Tenant::query`] with the rows returned column by column (see
    /// [`Statement::query_columns`]).
    pub fn query_columns(&self, sql: &str, params: &[Value]) -> Result<Columns> {
        Statement::prepare(self, sql)?.query_columns(params)
    }

    /// [`Tenant::query_columns`] as chunks, without joining them (see
    /// [`Statement::query_column_chunks`]).
    pub fn query_column_chunks(&self, sql: &str, params: &[Value]) -> Result<Vec<Columns>> {
        Statement::prepare(self, sql)?.query_column_chunks(params)
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
