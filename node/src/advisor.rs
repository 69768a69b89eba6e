//! The index advisor in JS: `engine.advise(options?)` reads the statement monitor's recorded
//! workload and the planner's what-if costs and proposes indexes (plus foreign keys no
//! index serves and indexes no recorded statement used); `engine.adviseApply(minGain?)`
//! builds the recommendations whose gain reaches the threshold, online. Both re-plan every
//! recorded query (and `adviseApply` builds indexes), so each has a sync and an `…Async`
//! form, like `stats` and `execute`. Arguments are checked on the call: a gain is a finite
//! fraction in [0, 1], counts are non-negative integers (`CIDB_INVALID_INPUT` otherwise,
//! `CIDB_TYPE_MISMATCH` for a value of the wrong type).

use crate::convert::{count, number, object, Val};
use crate::engine::Engine;
use crate::task::{job, run_async, run_sync, Job, Op};
use cidb::monitor::{HelpedQuery as CoreHelped, UnindexedForeignKey as CoreFk, UnusedIndex as CoreUnused};
use cidb::{AdviceOptions as CoreOptions, Error, ErrorKind};
use napi::bindgen_prelude::{AsyncTask, Env, Unknown};
use napi_derive::napi;

type Result<T> = cidb::Result<T>;

/// The default least gain of `adviseApply` and `optimize` (as in `advise` and the CLI).
pub const DEFAULT_MIN_GAIN: f64 = 0.5;

/// Options of `advise`; every field is optional.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct AdviceOptions {
    /// A recommendation must cut the estimated cost of the queries it helps by at least
    /// this fraction, 0 to 1 (default 0.5).
    #[napi(ts_type = "number | null")]
    pub min_gain: Option<f64>,
    /// Fingerprints with fewer recorded calls are ignored (default 1).
    #[napi(ts_type = "number | bigint | null")]
    pub min_calls: Option<f64>,
    /// Most recommendations (default 10).
    #[napi(ts_type = "number | bigint | null")]
    pub max_recommendations: Option<f64>,
}

/// A gain threshold: a finite number in [0, 1].
pub fn gain(v: Val, what: &str) -> Result<f64> {
    let g = number(v, what)?;
    if !g.is_finite() || !(0.0..=1.0).contains(&g) {
        return Err(Error::new(ErrorKind::InvalidInput, format!("{what} is {g}; it must be a fraction from 0 to 1 (e.g. 0.5)")));
    }
    Ok(g)
}

/// An optional gain threshold (absent: [`DEFAULT_MIN_GAIN`]).
pub fn opt_gain(v: Option<&Unknown<'_>>, what: &str) -> Result<f64> {
    match v.map(Val::of).filter(|v| !v.is_absent()) {
        Some(v) => gain(v, what),
        None => Ok(DEFAULT_MIN_GAIN),
    }
}

fn read_options(v: Option<&Unknown<'_>>) -> Result<CoreOptions> {
    let mut opts = CoreOptions::default();
    let Some(v) = v.map(Val::of).filter(|v| !v.is_absent()) else { return Ok(opts) };
    let o = object(v, "options")?;
    let v = o.get("minGain", "options.minGain")?;
    if !v.is_absent() {
        opts.min_gain = gain(v, "options.minGain")?;
    }
    let v = o.get("minCalls", "options.minCalls")?;
    if !v.is_absent() {
        opts.min_calls = count(v, "options.minCalls")?;
    }
    let v = o.get("maxRecommendations", "options.maxRecommendations")?;
    if !v.is_absent() {
        opts.max_recommendations = usize::try_from(count(v, "options.maxRecommendations")?).unwrap_or(usize::MAX);
    }
    Ok(opts)
}

/// One recorded query a recommendation helps, with its estimated cost per call.
#[napi(object, object_from_js = false)]
pub struct HelpedQuery {
    /// Fingerprint id (hex), as in `monitorStats().fingerprints[].id`.
    pub fingerprint: String,
    /// The normalised statement.
    pub query: String,
    /// Recorded calls.
    pub calls: f64,
    /// Estimated cost per call without the index.
    pub cost_before: f64,
    /// Estimated cost per call with it.
    pub cost_after: f64,
    /// The plan without the index.
    pub plan_before: String,
    /// The plan with it.
    pub plan_after: String,
}

impl From<CoreHelped> for HelpedQuery {
    fn from(q: CoreHelped) -> Self {
        HelpedQuery {
            fingerprint: q.fingerprint,
            query: q.query,
            calls: q.calls as f64,
            cost_before: q.cost_before,
            cost_after: q.cost_after,
            plan_before: q.plan_before,
            plan_after: q.plan_after,
        }
    }
}

/// A proposed index.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Recommendation {
    /// Index name.
    pub name: String,
    /// Table (SQL name).
    pub table: String,
    /// Columns in key order.
    pub columns: Vec<String>,
    /// The partial-index predicate, or null for a full index.
    pub predicate: Option<String>,
    /// The statement that builds it online (`CREATE INDEX CONCURRENTLY …`); `execute` runs it.
    pub create_sql: String,
    /// Estimated cost of the helped queries (per-call cost × calls) without the index.
    pub cost_before: f64,
    /// The same with the index.
    pub cost_after: f64,
    /// `1 - costAfter / costBefore`, from 0 to 1.
    pub gain: f64,
    /// The queries it helps, most helped first.
    pub queries: Vec<HelpedQuery>,
}

impl From<cidb::Recommendation> for Recommendation {
    fn from(r: cidb::Recommendation) -> Self {
        Recommendation {
            name: r.name,
            table: r.table,
            columns: r.columns,
            predicate: r.predicate,
            create_sql: r.create_sql,
            cost_before: r.cost_before,
            cost_after: r.cost_after,
            gain: r.gain,
            queries: r.queries.into_iter().map(HelpedQuery::from).collect(),
        }
    }
}

/// A `customer_id` column no index (or primary key) can search by.
#[napi(object, object_from_js = false)]
pub struct UnindexedForeignKey {
    /// Table (SQL name).
    pub table: String,
    /// The column.
    pub column: String,
    /// What it refers to (`customers.id`).
    pub references: String,
    /// An index that would serve it.
    pub create_sql: String,
}

impl From<CoreFk> for UnindexedForeignKey {
    fn from(f: CoreFk) -> Self {
        UnindexedForeignKey { table: f.table, column: f.column, references: f.references, create_sql: f.create_sql }
    }
}

/// An index no recorded statement used.
#[napi(object, object_from_js = false)]
pub struct UnusedIndex {
    /// Index name.
    pub name: String,
    /// Table (SQL name).
    pub table: String,
    /// Entries it holds (all tenants): the write and space cost it has.
    pub entries: f64,
    /// UNIQUE indexes enforce a constraint even when no query reads them.
    pub unique: bool,
    /// The statement that removes it.
    pub drop_sql: String,
}

impl From<CoreUnused> for UnusedIndex {
    fn from(u: CoreUnused) -> Self {
        UnusedIndex { name: u.name, table: u.table, entries: u.entries as f64, unique: u.unique, drop_sql: u.drop_sql }
    }
}

/// The advisor's report.
#[napi(object, object_from_js = false)]
pub struct Advice {
    /// Proposed indexes, best first.
    pub recommendations: Vec<Recommendation>,
    /// Foreign keys without a usable index.
    pub unindexed_foreign_keys: Vec<UnindexedForeignKey>,
    /// Indexes no recorded statement used (empty until some SELECT has been recorded).
    pub unused_indexes: Vec<UnusedIndex>,
    /// Recorded fingerprints the advisor could re-plan.
    pub queries_considered: f64,
}

impl From<cidb::Advice> for Advice {
    fn from(a: cidb::Advice) -> Self {
        Advice {
            recommendations: a.recommendations.into_iter().map(Recommendation::from).collect(),
            unindexed_foreign_keys: a.unindexed_foreign_keys.into_iter().map(UnindexedForeignKey::from).collect(),
            unused_indexes: a.unused_indexes.into_iter().map(UnusedIndex::from).collect(),
            queries_considered: a.queries_considered as f64,
        }
    }
}

impl Engine {
    fn advise_job(&self, options: Option<&Unknown<'_>>) -> Result<Job<Advice>> {
        let opts = read_options(options)?;
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            Ok(engine.advise_with(&opts)?.into())
        }))
    }

    fn advise_apply_job(&self, min_gain: Option<&Unknown<'_>>) -> Result<Job<Vec<Recommendation>>> {
        let min_gain = opt_gain(min_gain, "minGain")?;
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            Ok(engine.advise_apply(min_gain)?.into_iter().map(Recommendation::from).collect())
        }))
    }
}

#[napi]
impl Engine {
    /// The index advisor's report on the statements the monitor recorded (run the workload
    /// first, through `tenant.query` / prepared statements): proposed indexes with their
    /// predicted gain and `CREATE INDEX` statement, foreign keys no index serves, and
    /// indexes nothing used. Builds nothing.
    #[napi(ts_args_type = "options?: AdviceOptions | null")]
    pub fn advise(&self, env: Env, options: Option<Unknown<'_>>) -> napi::Result<Advice> {
        run_sync(&env, || self.advise_job(options.as_ref()))
    }

    /// Promise form of `advise`.
    #[napi(ts_args_type = "options?: AdviceOptions | null", ts_return_type = "Promise<Advice>")]
    pub fn advise_async(&self, options: Option<Unknown<'_>>) -> AsyncTask<Op<Advice>> {
        run_async(|| self.advise_job(options.as_ref()))
    }

    /// Advises with `minGain` (default 0.5), then builds, online, every recommendation
    /// whose gain is at least `minGain`; returns those built.
    #[napi(ts_args_type = "minGain?: number | null", ts_return_type = "Recommendation[]")]
    pub fn advise_apply(&self, env: Env, min_gain: Option<Unknown<'_>>) -> napi::Result<Vec<Recommendation>> {
        run_sync(&env, || self.advise_apply_job(min_gain.as_ref()))
    }

    /// Promise form of `adviseApply`.
    #[napi(ts_args_type = "minGain?: number | null", ts_return_type = "Promise<Recommendation[]>")]
    pub fn advise_apply_async(&self, min_gain: Option<Unknown<'_>>) -> AsyncTask<Op<Vec<Recommendation>>> {
        run_async(|| self.advise_apply_job(min_gain.as_ref()))
    }
}
