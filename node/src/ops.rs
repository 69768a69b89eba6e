//! The operations layer in JS: `engine.health()` (a probe write, the breaker, the cache
//! tiers, sampled index checks, active alerts), `engine.optimize(minGain?)` (ANALYZE, build
//! the advisor's recommendations reaching the gain, warm the cache) and `engine.metrics()` /
//! `engine.metricsPrometheus()` (engine, cache, monitor and index-usage figures as one
//! object or as Prometheus text). Each touches storage (health writes, optimize builds
//! indexes, metrics counts rows), so each has a sync and an `…Async` form, like `stats`.

use crate::advisor::{opt_gain, Recommendation, UnindexedForeignKey, UnusedIndex};
use crate::cache::CacheStats;
use crate::engine::{BreakerStats, Engine, EngineStats};
use crate::monitor::{Alert, MonitorStats};
use crate::task::{job, run_async, run_sync, Job, Op};
use cidb::HealthStatus;
use napi::bindgen_prelude::{AsyncTask, Env, Unknown};
use napi_derive::napi;

type Result<T> = cidb::Result<T>;

/// One index checked on a random sample of its rows and entries.
#[napi(object, object_from_js = false)]
pub struct IndexSampleCheck {
    /// The index.
    pub index: String,
    /// Table rows sampled.
    pub rows_checked: f64,
    /// Index entries sampled.
    pub entries_checked: f64,
    /// Sampled rows that qualify but have no entry.
    pub missing: f64,
    /// Sampled entries whose row is gone or no longer produces that entry.
    pub extra: f64,
}

/// What `health()` found.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Health {
    /// False when storage, the breaker, the cache or an index is not right.
    pub healthy: bool,
    /// `ok`; `degraded` (works, but alerts fired within the alert window); `unhealthy`.
    #[napi(ts_type = "'ok' | 'degraded' | 'unhealthy'")]
    pub status: String,
    /// A probe write went through the writer and committed.
    pub storage_writable: bool,
    /// Why the probe failed, or null.
    pub storage_error: Option<String>,
    /// The storage circuit breaker.
    pub breaker: BreakerStats,
    /// The cache tiers are open.
    pub cache_open: bool,
    /// Sampled index checks, one per ready index.
    pub indexes: Vec<IndexSampleCheck>,
    /// Alerts fired within the alert window.
    pub active_alerts: Vec<Alert>,
    /// Every reason for not being `ok`, readable.
    pub problems: Vec<String>,
}

impl From<cidb::Health> for Health {
    fn from(h: cidb::Health) -> Self {
        Health {
            healthy: h.healthy,
            status: match h.status {
                HealthStatus::Ok => "ok",
                HealthStatus::Degraded => "degraded",
                HealthStatus::Unhealthy => "unhealthy",
            }
            .into(),
            storage_writable: h.storage_writable,
            storage_error: h.storage_error,
            breaker: h.breaker.into(),
            cache_open: h.cache_open,
            indexes: h
                .indexes
                .into_iter()
                .map(|c| IndexSampleCheck {
                    index: c.index,
                    rows_checked: c.rows_checked as f64,
                    entries_checked: c.entries_checked as f64,
                    missing: c.missing as f64,
                    extra: c.extra as f64,
                })
                .collect(),
            active_alerts: h.active_alerts.iter().map(Alert::from).collect(),
            problems: h.problems,
        }
    }
}

/// A recommendation whose build failed.
#[napi(object, object_from_js = false)]
pub struct FailedRecommendation {
    /// The recommendation.
    pub recommendation: Recommendation,
    /// Why its build failed.
    pub error: String,
}

/// What `optimize()` did.
#[napi(object, object_from_js = false)]
pub struct OptimizeReport {
    /// ANALYZE time, ms.
    pub analyze_ms: f64,
    /// Indexes built.
    pub applied: Vec<Recommendation>,
    /// Recommendations below the gain threshold (not built).
    pub skipped: Vec<Recommendation>,
    /// Builds that failed.
    pub failed: Vec<FailedRecommendation>,
    /// Foreign keys without a usable index (reported, never built automatically).
    pub unindexed_foreign_keys: Vec<UnindexedForeignKey>,
    /// Indexes no recorded statement used (reported, never dropped automatically).
    pub unused_indexes: Vec<UnusedIndex>,
    /// Cache entries loaded into memory by warming.
    pub warmed: f64,
    /// Total time, ms.
    pub elapsed_ms: f64,
}

impl From<cidb::OptimizeReport> for OptimizeReport {
    fn from(r: cidb::OptimizeReport) -> Self {
        OptimizeReport {
            analyze_ms: r.analyze_ms,
            applied: r.applied.into_iter().map(Recommendation::from).collect(),
            skipped: r.skipped.into_iter().map(Recommendation::from).collect(),
            failed: r
                .failed
                .into_iter()
                .map(|f| FailedRecommendation { recommendation: f.recommendation.into(), error: f.error })
                .collect(),
            unindexed_foreign_keys: r.unindexed_foreign_keys.into_iter().map(UnindexedForeignKey::from).collect(),
            unused_indexes: r.unused_indexes.into_iter().map(UnusedIndex::from).collect(),
            warmed: r.warmed as f64,
            elapsed_ms: r.elapsed_ms,
        }
    }
}

/// Executions that read one index.
#[napi(object, object_from_js = false)]
pub struct IndexUsage {
    /// Index name.
    pub name: String,
    /// Table (SQL name).
    pub table: String,
    /// Statement executions whose plan read the index (kept across restarts with the
    /// monitor's saved statistics).
    pub uses: f64,
}

/// Everything the engine can tell about itself.
#[napi(object, object_from_js = false)]
pub struct Metrics {
    /// Store sizes, writer counters, the breaker (as `stats()`).
    pub engine: EngineStats,
    /// The cache tiers (as `cacheStats()`).
    pub cache: CacheStats,
    /// Statement statistics, slow log, alerts (as `monitorStats()`).
    pub monitor: MonitorStats,
    /// Executions per index.
    pub index_usage: Vec<IndexUsage>,
}

impl From<cidb::Metrics> for Metrics {
    fn from(m: cidb::Metrics) -> Self {
        Metrics {
            engine: m.engine.into(),
            cache: m.cache.into(),
            monitor: m.monitor.into(),
            index_usage: m.index_usage.into_iter().map(|u| IndexUsage { name: u.name, table: u.table, uses: u.uses as f64 }).collect(),
        }
    }
}

impl Engine {
    /// A job calling `f` on this handle's engine (`CIDB_CLOSED` once the handle is closed).
    fn engine_job<T: 'static>(&self, f: impl FnOnce(&cidb::Engine) -> Result<T> + Send + 'static) -> Result<Job<T>> {
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            f(&engine)
        }))
    }

    fn optimize_job(&self, min_gain: Option<&Unknown<'_>>) -> Result<Job<OptimizeReport>> {
        let min_gain = opt_gain(min_gain, "minGain")?;
        self.engine_job(move |e| Ok(e.optimize(min_gain)?.into()))
    }
}

#[napi]
impl Engine {
    /// Whether the engine can do its job: probes storage with a real (tiny) write, reads
    /// the breaker, checks the cache tiers are open, checks every ready index on a random
    /// sample, and lists the alerts of the alert window (which make it `degraded`, not
    /// unhealthy).
    #[napi]
    pub fn health(&self, env: Env) -> napi::Result<Health> {
        run_sync(&env, || self.engine_job(|e| Ok(e.health()?.into())))
    }

    /// Promise form of `health`.
    #[napi(ts_return_type = "Promise<Health>")]
    pub fn health_async(&self) -> AsyncTask<Op<Health>> {
        run_async(|| self.engine_job(|e| Ok(e.health()?.into())))
    }

    /// What an operator would do after reading `advise()`, in one call: ANALYZE, build
    /// (online) every recommendation whose gain is at least `minGain` (default 0.5), warm
    /// the cache. The report lists what was built, skipped and failed.
    #[napi(ts_args_type = "minGain?: number | null")]
    pub fn optimize(&self, env: Env, min_gain: Option<Unknown<'_>>) -> napi::Result<OptimizeReport> {
        run_sync(&env, || self.optimize_job(min_gain.as_ref()))
    }

    /// Promise form of `optimize`.
    #[napi(ts_args_type = "minGain?: number | null", ts_return_type = "Promise<OptimizeReport>")]
    pub fn optimize_async(&self, min_gain: Option<Unknown<'_>>) -> AsyncTask<Op<OptimizeReport>> {
        run_async(|| self.optimize_job(min_gain.as_ref()))
    }

    /// Engine counters, the breaker, the cache tiers, the statement monitor and index usage
    /// in one object.
    #[napi]
    pub fn metrics(&self, env: Env) -> napi::Result<Metrics> {
        run_sync(&env, || self.engine_job(|e| Ok(e.metrics()?.into())))
    }

    /// Promise form of `metrics`.
    #[napi(ts_return_type = "Promise<Metrics>")]
    pub fn metrics_async(&self) -> AsyncTask<Op<Metrics>> {
        run_async(|| self.engine_job(|e| Ok(e.metrics()?.into())))
    }

    /// `metrics()` as Prometheus text exposition (format 0.0.4), ready to serve on a
    /// `/metrics` endpoint: every family once, `# HELP` and `# TYPE` before its samples.
    /// (`prometheus()` has the statement statistics only.)
    #[napi]
    pub fn metrics_prometheus(&self, env: Env) -> napi::Result<String> {
        run_sync(&env, || self.engine_job(|e| e.metrics_prometheus()))
    }

    /// Promise form of `metricsPrometheus`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn metrics_prometheus_async(&self) -> AsyncTask<Op<String>> {
        run_async(|| self.engine_job(|e| e.metrics_prometheus()))
    }
}
